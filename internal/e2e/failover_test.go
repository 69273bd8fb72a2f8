package e2e

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/classboard/classboard/internal/browsertest"
	"github.com/classboard/classboard/internal/testcluster"
)

// clientResult is what the scripts below report about the page's client.
type clientResult struct {
	Origin  string   `json:"origin"`
	Origins []string `json:"origins"`
	Stored  []string `json:"stored"`
	Error   string   `json:"error"`
	Moves   int      `json:"moves"`
}

// appModule is a script expression for the URL of one of the app's modules
// (its path under static/js), beside the page's own module at its hashed
// URL.
func appModule(name string) string {
	return "new URL(" + strconv.Quote("./"+name) + ", document.querySelector('script[type=module]').src).href"
}

// clientScript runs body with c, a fresh client of the app's own module
// (origins from local storage), starting at origin index start.
func clientScript(start int, body string) string {
	return fmt.Sprintf(`(async () => {
		const { Client } = await import(`+appModule("client.js")+`);
		const c = new Client();
		if (!localStorage.getItem('classboard.origins')) await c.init();
		c.index = %d;
		let moves = 0;
		c.onEvent((ev) => { if (ev.type === 'origin') moves++; });
		let error = '';
		try { %s } catch (e) { error = e.message; }
		return { origin: c.origin(), origins: c.origins, moves, error,
			stored: JSON.parse(localStorage.getItem('classboard.origins')) };
	})()`, start, body)
}

func runClient(t *testing.T, p *browsertest.Page, start int, body string) clientResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.Ctx(), 90*time.Second)
	defer cancel()
	r, err := chromedp.Run(ctx, chromedp.Evaluate[clientResult](clientScript(start, body), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The apps are served from one origin and call the API through others:
// the page works through another node (CORS), stays with a slow node
// instead of hopping, and keeps working when the node that served it dies.
func TestBrowserFailover(t *testing.T) {
	c := testcluster.StartCluster(t, 3)
	origins := c.Origins()
	b := browsertest.Start(t)
	p := b.NewPage()
	p.Do(chromedp.Navigate(c.UIURL()+"/#/signup"), chromedp.WaitVisible(chromedp.CSS("#signup-name")))

	t.Run("through another origin", func(t *testing.T) {
		r := runClient(t, p, 1, `await c.request('POST', '/api/v1/accounts', { body: { email: 'grace@school.example', password: 'a long password', name: 'Grace' }, auth: false });`)
		if r.Error != "" || r.Origin != origins[1] || r.Moves != 0 {
			t.Fatalf("sign up through %s from a page of %s: %+v", origins[1], c.UIURL(), r)
		}
		if !slices.Equal(r.Stored, origins) {
			t.Fatalf("origins kept in local storage %v, want %v", r.Stored, origins)
		}
	})

	t.Run("a slow origin is kept", func(t *testing.T) {
		slow := c.Nodes[2]
		slow.AddLatency(5 * time.Second) // 10 s more per request and answer
		defer slow.RemoveLatency()
		start := time.Now()
		r := runClient(t, p, 2, `for (let i = 0; i < 2; i++) await c.request('GET', '/api/v1/config');`)
		if r.Error != "" || r.Origin != origins[2] || r.Moves != 0 {
			t.Fatalf("the client left a slow origin: %+v", r)
		}
		t.Logf("two requests with 10 s added latency took %v without hopping", time.Since(start).Round(time.Millisecond))
	})

	t.Run("the page's origin dies", func(t *testing.T) {
		p.Do(
			chromedp.SendKeys(chromedp.CSS("#signup-name"), "Ada Lovelace"),
			chromedp.SendKeys(chromedp.CSS("#signup-email"), "ada@school.example"),
			chromedp.SendKeys(chromedp.CSS("#signup-password"), "analytical engine"),
			chromedp.Click(chromedp.CSS("button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS("#greeting")),
			chromedp.Click(chromedp.CSS("#logout")),
			chromedp.WaitVisible(chromedp.CSS("#login-email")),
		)
		c.Nodes[0].Kill()
		start := time.Now()
		r := runClient(t, p, 0, `await c.request('GET', '/api/v1/config');`)
		if r.Error != "" || r.Origin == origins[0] || r.Moves != 1 {
			t.Fatalf("after the page's origin died: %+v", r)
		}
		// The app itself, loaded from the dead node, signs in through another.
		p.Do(
			chromedp.SendKeys(chromedp.CSS("#login-email"), "ada@school.example"),
			chromedp.SendKeys(chromedp.CSS("#login-password"), "analytical engine"),
			chromedp.Click(chromedp.CSS("button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS("#greeting")),
		)
		t.Logf("signed in %v after the page's origin was killed", time.Since(start).Round(time.Millisecond))
	})
}
