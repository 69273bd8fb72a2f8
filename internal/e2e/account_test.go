package e2e

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/classboard/classboard/internal/browsertest"
	"github.com/classboard/classboard/internal/testcluster"
)

// A teacher signs up, sees their name, logs out, and logs in again.
func TestBrowserSignUpLogInLogOut(t *testing.T) {
	n := testcluster.StartNode(t)
	b := browsertest.Start(t)
	p := b.NewPage()

	p.Do(chromedp.Navigate(n.URL()+"/#/signup"), chromedp.WaitVisible(chromedp.CSS("#signup-name")))
	p.Screenshot("signup-phone", browsertest.Phone)
	p.Do(
		chromedp.EmulateViewport(1280, 800),
		chromedp.SendKeys(chromedp.CSS("#signup-name"), "Ada Lovelace"),
		chromedp.SendKeys(chromedp.CSS("#signup-email"), "ada@school.example"),
		chromedp.SendKeys(chromedp.CSS("#signup-password"), "analytical engine"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#greeting")),
	)
	if got := browsertest.Get(p, chromedp.Text(chromedp.CSS("#greeting"))); got != "Hello, Ada Lovelace" {
		t.Fatalf("greeting %q", got)
	}
	p.Screenshot("home-laptop", browsertest.Laptop)

	// The session survives a reload (token in local storage).
	p.Do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#greeting")))

	p.Do(chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login-email")))

	// A wrong password shows the API's message and stays on the form.
	p.Do(
		chromedp.SendKeys(chromedp.CSS("#login-email"), "ada@school.example"),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "wrong password"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".form-error:not(:empty)")),
	)
	if got := browsertest.Get(p, chromedp.Text(chromedp.CSS(".form-error"))); got != "The e-mail address or the password is wrong." {
		t.Fatalf("error shown %q", got)
	}
	p.Do(
		browsertest.Clear("#login-password"),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "analytical engine"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#greeting")),
	)
}
