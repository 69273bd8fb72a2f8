package e2e

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/browsertest"
	"github.com/classboard/classboard/internal/testcluster"
)

// Every view of the teacher app, the board and the pupil app passes
// axe-core's WCAG 2.x A and AA rules without a serious or critical
// violation, at phone and laptop size (the board at laptop and 1080p).
func TestBrowserAccessible(t *testing.T) {
	n := testcluster.StartNode(t)
	b := browsertest.Start(t)
	board, teacher, pupil := b.NewPage(), b.NewPage(), b.NewPage()

	for _, v := range []struct{ name, path, wait string }{
		{"login", "/#/login", "#login-email"},
		{"sign-up", "/#/signup", "#signup-name"},
		{"forgot", "/#/forgot", "#forgot-email"},
		{"reset", "/reset#token=abc", "#reset-password"},
		{"confirm", "/confirm#token=abc", "form"},
	} {
		teacher.Do(chromedp.Navigate(n.URL()+v.path), chromedp.WaitVisible(chromedp.CSS(v.wait)))
		titled(t, teacher, v.name)
		teacher.CheckAccessible(v.name)
	}
	board.Do(chromedp.Navigate(n.URL()+"/board"), chromedp.WaitVisible(chromedp.CSS("#qr")))
	board.CheckAccessible("board pairing", browsertest.Laptop, browsertest.Board)
	code := boardCode(board)

	token := signedIn(t, teacher, n.URL())
	res := apitest.New(n.URL()).With(token).Do(t, "POST", "/api/v1/lessons", map[string]any{"title": "Fractions", "slides": []map[string]string{
		{"kind": "text", "title": "What is a fraction?", "body": "A part of a whole.\n\n- one half\n- one quarter"},
		{"kind": "text", "title": "Halves and quarters", "body": "1/2 = 2/4"},
	}})
	if res.Status != 201 {
		t.Fatalf("create lesson: %d %s", res.Status, res.Body)
	}
	lessonID := res.Map(t)["id"].(string)
	for _, v := range []struct{ name, path, wait string }{
		{"home", "/#/", "#greeting"},
		{"lesson list", "/#/lessons", "#new-lesson"},
		{"editor", "/#/lessons/" + lessonID, "#lesson-title"},
		{"new lesson", "/#/lessons/new", "#lesson-title"},
		{"boards", "/#/boards", "#pair-code"},
	} {
		teacher.Do(chromedp.Navigate(n.URL()+v.path), chromedp.WaitVisible(chromedp.CSS(v.wait)))
		titled(t, teacher, v.name)
		teacher.CheckAccessible(v.name)
	}

	teacher.Do(chromedp.EmulateViewport(int64(browsertest.Laptop[0]), int64(browsertest.Laptop[1])))
	teacher.Do(chromedp.Navigate(n.URL() + "/#/"))
	teacher.Do(typeCode(code)...)
	present(teacher, lessonID)
	teacher.Do(chromedp.WaitVisible(chromedp.CSS(`#now[data-slide="0"]`)))
	titled(t, teacher, "present")
	teacher.CheckAccessible("present")
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="0"] .slide-frame`)))
	board.CheckAccessible("board slide", browsertest.Laptop, browsertest.Board)

	teacher.Do(chromedp.EmulateViewport(int64(browsertest.Laptop[0]), int64(browsertest.Laptop[1])))
	startActivity(teacher, "poll", "Yes, No", 0)
	teacher.CheckAccessible("activity panel")
	joinCode := joinCodeOnBoard(t, board, "")
	board.CheckAccessible("board activity", browsertest.Laptop, browsertest.Board)

	pupil.Do(chromedp.Navigate(n.URL()+"/join"), chromedp.WaitVisible(chromedp.CSS("#code")))
	pupil.CheckAccessible("pupil join")
	pupil.Do(chromedp.SendKeys(chromedp.CSS("#code"), joinCode), chromedp.SendKeys(chromedp.CSS("#name"), "Sam"),
		chromedp.Click(chromedp.CSS("#join-go")), chromedp.WaitVisible(chromedp.CSS(`.options button[data-choice="1"]`)))
	pupil.CheckAccessible("pupil poll")
}

// titled checks that a teacher view has one main heading and is titled
// after it, so a tab, a history entry and a screen reader say which view.
func titled(t *testing.T, p *browsertest.Page, view string) {
	t.Helper()
	got := browsertest.Get(p, chromedp.Evaluate[[]string](`(() => { const hs = document.querySelectorAll('main h1');
		return [String(hs.length), hs.length ? hs[0].textContent : '', document.title]; })()`))
	if got[0] != "1" || got[2] != got[1]+" – classboard" {
		t.Errorf("%s: %s h1 (%q), titled %q", view, got[0], got[1], got[2])
	}
}
