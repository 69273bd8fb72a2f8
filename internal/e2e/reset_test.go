package e2e

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/classboard/classboard/internal/browsertest"
	"github.com/classboard/classboard/internal/smtptest"
	"github.com/classboard/classboard/internal/testcluster"
)

// A teacher who forgot the password asks for a link, opens it from the
// mail, chooses a new password and logs in with it.
func TestBrowserPasswordReset(t *testing.T) {
	smtp := smtptest.Start(t)
	n := testcluster.StartNode(t, testcluster.WithSMTP(smtp.Addr))
	testcluster.CreateTeacher(t, n, "ada@school.example", "analytical engine", "Ada Lovelace")
	b := browsertest.Start(t)
	p := b.NewPage()

	p.Do(chromedp.Navigate(n.URL()+"/#/login"), chromedp.WaitVisible(chromedp.CSS("#login-email")),
		chromedp.Click(chromedp.CSS(`a[href="#/forgot"]`)), chromedp.WaitVisible(chromedp.CSS("#forgot-email")))
	p.Screenshot("forgot-phone", browsertest.Phone)
	p.Do(
		chromedp.SendKeys(chromedp.CSS("#forgot-email"), "ada@school.example"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#forgot-sent")),
	)

	msg := smtp.WaitMessages(t, 1, 30*time.Second)[0]
	base, token, err := msg.ResetLink()
	if err != nil {
		t.Fatal(err)
	}
	p.Do(chromedp.Navigate(base+"/reset#token="+token), chromedp.WaitVisible(chromedp.CSS("#reset-password")))
	p.Screenshot("reset-phone", browsertest.Phone)

	// A too short password shows the API's reason and keeps the link usable.
	p.Do(
		chromedp.SendKeys(chromedp.CSS("#reset-password"), "short"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".field-error")),
		browsertest.Clear("#reset-password"),
		chromedp.SendKeys(chromedp.CSS("#reset-password"), "a new password"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#reset-done")),
		chromedp.Click(chromedp.CSS("#reset-login")),
		chromedp.WaitVisible(chromedp.CSS("#login-email")),
		chromedp.SendKeys(chromedp.CSS("#login-email"), "ada@school.example"),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "a new password"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#greeting")),
	)
}
