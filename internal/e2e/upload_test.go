package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/classboard/classboard/internal/browsertest"
	"github.com/classboard/classboard/internal/testcluster"
	"github.com/classboard/classboard/node"
)

// uploadResult is what the script below reports about two uploads.
type uploadResult struct {
	AbortName  string  `json:"abort_name"`
	Status     int     `json:"status"`
	Code       string  `json:"code"`
	RetryAfter float64 `json:"retry_after"`
}

// The upload path (XMLHttpRequest, for its progress events) behaves as
// the fetch path does: an aborted signal stops it, and an error answer
// keeps its Retry-After.
func TestBrowserUploadAbortAndRetryAfter(t *testing.T) {
	// One board registration an hour: the second answers 429 with
	// Retry-After, whatever body it carries.
	n := testcluster.StartNode(t, func(cfg *node.Config) { cfg.Store.Pairing.CreatesPerHour = 1 })
	b := browsertest.Start(t)
	p := b.NewPage()
	p.Do(chromedp.Navigate(n.URL()+"/"), chromedp.WaitVisible(chromedp.CSS("#login-email")))

	ctx, cancel := context.WithTimeout(p.Ctx(), 30*time.Second)
	defer cancel()
	r, err := chromedp.Run(ctx, chromedp.Evaluate[uploadResult](`(async () => {
		const { Client } = await import(`+appModule("client.js")+`);
		const c = new Client();
		const upload = (signal) => c.request('POST', '/api/v1/boards', {
			body: new Blob(['a picture'], { type: 'image/png' }), onProgress: () => {}, auth: false, signal });
		const out = {};
		try { await upload(AbortSignal.abort()); } catch (e) { out.abort_name = e.name; }
		await upload();
		try { await upload(); } catch (e) { out.status = e.status; out.code = e.code; out.retry_after = e.retryAfter; }
		return out;
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if r.AbortName != "AbortError" {
		t.Errorf("an aborted upload ended with %q, want AbortError", r.AbortName)
	}
	if r.Status != 429 || r.Code != "rate_limited" || r.RetryAfter <= 0 {
		t.Errorf("a refused upload: %+v, want 429 rate_limited with its Retry-After", r)
	}
}
