package e2e

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/classboard/classboard/internal/browsertest"
	"github.com/classboard/classboard/internal/smtptest"
	"github.com/classboard/classboard/internal/testcluster"
)

// With SMTP, a teacher signs up, sees how strong the password is while
// typing, is asked to check the mail, opens the link, confirms, and logs
// in; the browser then remembers the device.
func TestBrowserSignUpConfirmedByMail(t *testing.T) {
	smtp := smtptest.Start(t)
	n := testcluster.StartNode(t, testcluster.WithSMTP(smtp.Addr))
	b := browsertest.Start(t)
	p := b.NewPage()

	p.Do(chromedp.Navigate(n.URL()+"/#/signup"), chromedp.WaitVisible(chromedp.CSS("#signup-name")),
		chromedp.SendKeys(chromedp.CSS("#signup-name"), "Grace Hopper"),
		chromedp.SendKeys(chromedp.CSS("#signup-email"), "grace@school.example"),
		chromedp.SendKeys(chromedp.CSS("#signup-password"), "password123"),
		chromedp.WaitVisible(chromedp.CSS("#signup-password-strength-text.weak")),
	)
	p.Screenshot("signup-weak-password-phone", browsertest.Phone)
	p.Do(browsertest.Clear("#signup-password"),
		chromedp.SendKeys(chromedp.CSS("#signup-password"), "compiler moth cobol"),
		chromedp.WaitVisible(chromedp.CSS("#signup-password-strength-text.ok")))
	p.Screenshot("signup-strong-password-laptop", browsertest.Laptop)
	p.Do(chromedp.Click(chromedp.CSS("button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#signup-sent")))
	p.Screenshot("signup-check-mail-phone", browsertest.Phone)
	p.Screenshot("signup-check-mail-board", browsertest.Board)

	base, token, err := smtp.WaitMessages(t, 1, 30*time.Second)[0].Link("confirm")
	if err != nil {
		t.Fatal(err)
	}
	p.Do(chromedp.Navigate(base+"/confirm#token="+token), chromedp.WaitVisible(chromedp.CSS("button[type=submit]")))
	p.Screenshot("confirm-phone", browsertest.Phone)
	p.Do(chromedp.Click(chromedp.CSS("button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#confirm-done")))
	p.Screenshot("confirm-done-laptop", browsertest.Laptop)
	p.Do(chromedp.Click(chromedp.CSS("#confirm-login")), chromedp.WaitVisible(chromedp.CSS("#login-email")),
		chromedp.SendKeys(chromedp.CSS("#login-email"), "grace@school.example"),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "compiler moth cobol"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#greeting")))
	if dt := browsertest.Get(p, chromedp.Evaluate[string](`localStorage.getItem('classboard.device.grace@school.example') || ''`)); len(dt) != 43 {
		t.Fatalf("device token kept: %q", dt)
	}
}
