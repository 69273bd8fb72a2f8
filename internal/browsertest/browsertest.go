// Package browsertest starts headless Chromium for tests with chromedp.
// Each page gets its own browser context (its own local storage), so a
// board and a teacher can share one browser process in one test.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// Browser is one Chromium process.
type Browser struct {
	t   testing.TB
	ctx context.Context
}

// Sizes tests take screenshots at.
var (
	Phone  = [2]int{390, 844}
	Laptop = [2]int{1366, 768}
	Board  = [2]int{1920, 1080}
)

// chromiumPath finds Debian's Chromium. In CI (CI=true) a missing browser
// fails the test: a skipped browser test proves nothing.
func chromiumPath(t testing.TB) string {
	for _, p := range []string{"/usr/lib/chromium/chromium", "/usr/bin/chromium"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed (apt-get install -y chromium)")
	}
	t.Skip("chromium is not installed; CI installs it")
	return ""
}

// Start starts a browser that lives until the test ends.
func Start(t testing.TB) *Browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // tests run as root
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.WindowSize(Laptop[0], Laptop[1]),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	// The first Do ties the browser's life to this long-lived context.
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() { cancel(); cancelAlloc() })
	return &Browser{t: t, ctx: ctx}
}

// Page is one tab in a browser context of its own.
type Page struct {
	t   testing.TB
	ctx context.Context
}

// NewPage opens a tab with its own storage.
func (b *Browser) NewPage() *Page {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		b.t.Fatalf("open page: %v", err)
	}
	b.t.Cleanup(cancel)
	return &Page{t: b.t, ctx: ctx}
}

// Ctx is the page's long-lived context, for chromedp calls of one's own.
func (p *Page) Ctx() context.Context { return p.ctx }

// Do runs actions with a timeout, failing the test on error.
func (p *Page) Do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := p.DoErr(30*time.Second, actions...); err != nil {
		p.t.Fatal(err)
	}
}

// DoErr runs actions with a timeout and returns the error.
func (p *Page) DoErr(timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// Get runs one action that returns a value, failing the test on error.
func Get[T any](p *Page, action chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		p.t.Fatal(err)
	}
	return v
}

// Screenshot saves a full-page PNG at the given size into
// $CLASSBOARD_SCREENSHOTS (when set) for people to look at.
func (p *Page) Screenshot(name string, size [2]int) {
	p.t.Helper()
	dir := os.Getenv("CLASSBOARD_SCREENSHOTS")
	if dir == "" {
		return
	}
	// Deliberate pacing: the page lays out and finishes its transitions
	// at the new size; the picture is for people, nothing is checked.
	p.Do(chromedp.EmulateViewport(int64(size[0]), int64(size[1])), chromedp.Sleep(300*time.Millisecond))
	buf := Get(p, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// Clear empties an input field, as a person selecting all and deleting would.
func Clear(selector string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Evaluate[any](`(() => { const el = document.querySelector(`+strconv.Quote(selector)+`);
			el.value = ''; el.dispatchEvent(new Event('input', {bubbles: true})); return null; })()`)(ctx, t)
		return chromedp.Void{}, err
	}
}

// Languages makes the page's browser ask for the languages in accept (an
// Accept-Language value such as "nl-NL,nl;q=0.9"): navigator.languages and
// the header both say so, as a browser set up in that language does.
func (p *Page) Languages(accept string) {
	p.t.Helper()
	ua := Get(p, chromedp.Evaluate[string](`navigator.userAgent`))
	if _, err := chromedp.Call(p.ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua, AcceptLanguage: accept}); err != nil {
		p.t.Fatal(err)
	}
}
