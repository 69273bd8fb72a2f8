package e2e

import (
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/browsertest"
	"github.com/classboard/classboard/internal/testcluster"
	"github.com/classboard/classboard/node"
)

// text reads an element's text.
func text(p *browsertest.Page, selector string) string {
	return browsertest.Get(p, chromedp.Text(chromedp.CSS(selector)))
}

// loginIn starts a node and a browser asking for the languages langs
// (Accept-Language), opens the login page and checks that its heading
// says heading.
func loginIn(t *testing.T, langs, heading string) (*node.Node, *browsertest.Browser, *browsertest.Page) {
	t.Helper()
	n := testcluster.StartNode(t)
	b := browsertest.Start(t)
	p := b.NewPage()
	p.Languages(langs)
	p.Do(chromedp.Navigate(n.URL()+"/#/login"), chromedp.WaitVisible(chromedp.CSS("#login-email")))
	if got := text(p, "h1"); got != heading {
		t.Fatalf("a browser asking for %s sees %q, want %q", langs, got, heading)
	}
	return n, b, p
}

// pairingInDutch checks that the board's pairing screen speaks Dutch.
func pairingInDutch(t *testing.T, board *browsertest.Page) {
	t.Helper()
	if got := text(board, ".pair-lead"); got != "Ga op je laptop of telefoon naar" {
		t.Fatalf("the Dutch pairing screen says %q", got)
	}
}

// A teacher with an English browser switches the app to Dutch: every view
// speaks Dutch, API errors and field reasons too (not the API's English
// message), and it stays Dutch after a reload.
func TestBrowserLanguageSwitch(t *testing.T) {
	n, b, p := loginIn(t, "en-GB,en;q=0.9", "Log in")
	p.Screenshot("login-en-phone", browsertest.Phone)
	p.Do(chromedp.Click(chromedp.CSS("#lang-switch")), chromedp.WaitVisible(chromedp.CSS(`html[lang="nl"] #login-email`)))
	if got := text(p, "h1"); got != "Inloggen" {
		t.Fatalf("after switching to Dutch the login says %q", got)
	}
	if got := browsertest.Get(p, chromedp.Evaluate[string](`document.title`)); got != "Inloggen – classboard" {
		t.Fatalf("title %q", got)
	}
	p.Screenshot("login-nl-phone", browsertest.Phone)
	p.Screenshot("login-nl-laptop", browsertest.Laptop)

	// An API error in Dutch: the code's message, not the API's English one.
	p.Do(
		chromedp.SendKeys(chromedp.CSS("#login-email"), "ada@school.example"),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "wrong password"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".form-error:not(:empty)")),
	)
	if got := text(p, ".form-error"); got != "Het e-mailadres of het wachtwoord klopt niet." {
		t.Fatalf("a wrong password in Dutch shows %q", got)
	}

	// Field reasons in Dutch, with their numbers, under the field they are about.
	p.Do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`html[lang="nl"] #login-email`)))
	p.Do(chromedp.Navigate(n.URL()+"/#/signup"), chromedp.WaitVisible(chromedp.CSS("#signup-name")),
		chromedp.SendKeys(chromedp.CSS("#signup-email"), "not an address"),
		chromedp.SendKeys(chromedp.CSS("#signup-password"), "short"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#signup-password-error")))
	for sel, want := range map[string]string{
		"#signup-name-error":     "Je naam is verplicht.",
		"#signup-email-error":    "E-mailadres is geen e-mailadres.",
		"#signup-password-error": "Wachtwoord is korter dan 10 tekens.",
		".form-error":            "Niet alles wat je hebt ingevuld klopt. Kijk bij de opmerkingen onder de velden.",
	} {
		if got := text(p, sel); got != want {
			t.Errorf("%s says %q, want %q", sel, got, want)
		}
	}
	if got := browsertest.Get(p, chromedp.Evaluate[string](`document.getElementById('signup-password').getAttribute('aria-describedby')`)); got != "signup-password-hint signup-password-error" {
		t.Errorf("the password field is described by %q", got)
	}
	p.Screenshot("signup-errors-nl-phone", browsertest.Phone)
	p.Screenshot("signup-errors-nl-laptop", browsertest.Laptop)
	p.Screenshot("signup-errors-nl-1080p", browsertest.Board)
	p.CheckAccessible("sign-up with errors in Dutch")

	// Back to English, remembered the same way.
	p.Do(chromedp.Click(chromedp.CSS("#lang-switch")), chromedp.WaitVisible(chromedp.CSS(`html[lang="en"] #signup-name`)))
	if got := text(p, "h1"); got != "Create an account" {
		t.Fatalf("after switching back the sign-up says %q", got)
	}

	// A board picks its language on the pairing screen, and keeps it.
	board := b.NewPage()
	board.Languages("en-GB,en;q=0.9")
	board.Do(chromedp.EmulateViewport(int64(browsertest.Board[0]), int64(browsertest.Board[1])),
		chromedp.Navigate(n.URL()+"/board"), chromedp.WaitVisible(chromedp.CSS("#code")))
	board.Screenshot("board-pairing-en-1080p", browsertest.Board)
	board.Do(chromedp.Click(chromedp.CSS("#lang-switch")), chromedp.WaitVisible(chromedp.CSS(`html[lang="nl"] #code`)))
	board.Do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`html[lang="nl"] #code`)))
	pairingInDutch(t, board)
	board.Screenshot("board-pairing-nl-1080p", browsertest.Board)
	board.Screenshot("board-pairing-nl-laptop", browsertest.Laptop)
}

// A teacher whose browser is set to Dutch sees the teacher app in Dutch
// from the first page, without choosing; so does a pupil.
func TestBrowserDutchBrowserSeesDutch(t *testing.T) {
	n, _, p := loginIn(t, "nl-NL,nl;q=0.9,en;q=0.8", "Inloggen")
	if got := text(p, "#lang-switch"); got != "English" {
		t.Fatalf("the switch offers %q", got)
	}
	p.Do(chromedp.Navigate(n.URL()+"/join"), chromedp.WaitVisible(chromedp.CSS("#code")))
	if got := browsertest.Get(p, chromedp.Evaluate[string](`document.documentElement.lang`)); got != "nl" {
		t.Fatalf("the pupil app speaks %q", got)
	}

	// Signed in: the header keeps to one line on a phone ("Uitloggen" is
	// longer than "Log out"), and dates are written the Dutch way.
	token := signedIn(t, p, n.URL())
	if res := apitest.New(n.URL()).With(token).Do(t, "POST", "/api/v1/lessons", map[string]any{"title": "Breuken",
		"slides": []map[string]string{{"kind": "text", "title": "Wat is een breuk?"}}}); res.Status != 201 {
		t.Fatalf("create lesson: %d %s", res.Status, res.Body)
	}
	p.Do(chromedp.EmulateViewport(int64(browsertest.Phone[0]), int64(browsertest.Phone[1])),
		chromedp.Navigate(n.URL()+"/#/lessons"), chromedp.WaitVisible(chromedp.CSS("#logout")))
	if got := text(p, "#logout"); got != "Uitloggen" {
		t.Fatalf("log out says %q", got)
	}
	if h := browsertest.Get(p, chromedp.Evaluate[float64](`document.querySelector('.topbar').getBoundingClientRect().height`)); h > 60 {
		t.Errorf("the phone's header is %.0f px tall: it wraps", h)
	}
	today := browsertest.Get(p, chromedp.Evaluate[string](`new Intl.DateTimeFormat('nl-NL', { dateStyle: 'medium' }).format(new Date())`))
	browsertest.Get(p, chromedp.Poll[bool](`document.body.textContent.includes(`+strconv.Quote(today)+`)`))
	p.Screenshot("lessons-nl-phone", browsertest.Phone)
	p.Screenshot("lessons-nl-laptop", browsertest.Laptop)
	p.Screenshot("lessons-nl-1080p", browsertest.Board)
	p.CheckAccessible("lesson list in Dutch")
}
