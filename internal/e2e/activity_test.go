package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/classboard/classboard/internal/browsertest"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/testcluster"
)

// run evaluates a script for its effect.
func run(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Evaluate[any](expr)(ctx, tg)
		return chromedp.Void{}, err
	}
}

func js[T any](p *browsertest.Page, expr string) T {
	return browsertest.Get(p, chromedp.Evaluate[T](expr))
}

// startActivity chooses an option of the teacher's activity form, with
// the markers per pupil (markers: 1 to 5), and starts it.
func startActivity(p *browsertest.Page, kind, options string, markers int) {
	p.Do(chromedp.WaitVisible(chromedp.CSS("#activity-start")),
		run(`(() => { const s = document.getElementById('activity-kind'); s.value = `+strconv.Quote(kind)+`;
			s.dispatchEvent(new Event('change')); document.getElementById('activity-options').value = `+strconv.Quote(options)+`;
			document.getElementById('activity-max-markers').value = '`+strconv.Itoa(max(1, markers))+`'; return null; })()`),
		chromedp.Click(chromedp.CSS("#activity-start")),
		chromedp.WaitVisible(chromedp.CSS(`#activity-panel[data-status="open"] #activity-status`)))
}

// showAs picks how the board shows the answers, on the teacher's panel.
func showAs(p *browsertest.Page, display string) {
	p.Do(chromedp.WaitVisible(chromedp.CSS("#activity-show-as")),
		run(`(() => { const s = document.getElementById('activity-show-as'); s.value = `+strconv.Quote(display)+`;
			s.dispatchEvent(new Event('change')); return null; })()`))
}

// answered waits until the pupil's phone says the answer was stored.
func answered(p *browsertest.Page, actions ...chromedp.Action[chromedp.Void]) {
	p.Do(append(actions, chromedp.WaitVisible(chromedp.CSS("#saved[data-ok]")))...)
}

func joinCodeOnBoard(t *testing.T, p *browsertest.Page, not string) string {
	var code string
	poll.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		code = js[string](p, `(() => { const el = document.getElementById('join-code'); return el ? el.textContent.replace(/ /g, '') : ''; })()`)
		if len(code) != 6 || code == not {
			return fmt.Errorf("board shows join code %q", code)
		}
		return nil
	})
	return code
}

// The "Done when" of issue 15: a board, a teacher and three pupils (phone
// size) on three nodes. Pupils join by code and by QR, tap markers and
// answer a poll, the board shows them live; the teacher moderates a short
// answer, locks, reveals and ends; then the node the pupils use is killed
// during a poll, and every answer a phone saw acknowledged is on the board.
func TestBrowserClassActivity(t *testing.T) {
	c := testcluster.StartCluster(t, 3)
	br := browsertest.Start(t)
	board, teacher := br.NewPage(), br.NewPage()
	pupils := []*browsertest.Page{br.NewPage(), br.NewPage(), br.NewPage()}
	names := []string{"Sam", "Kim", "Lee"}
	// The pupils' phones start at the origin that served the page, node 1's
	// (the UI origin), and stay there while it answers: it is the one killed.
	victim := c.Nodes[0]

	board.Do(chromedp.EmulateViewport(1920, 1080), chromedp.Navigate(c.UIURL()+"/board"))
	code := boardCode(board)
	signUpInBrowser(teacher, c.UIURL(), "Ada Lovelace", "ada@school.example")
	teacher.Do(chromedp.EmulateViewport(1366, 768))

	// The lesson's one slide is a picture: the pupils tap on it, and the
	// board draws their markers over it.
	token := js[string](teacher, `localStorage.getItem('classboard.token')`)
	api := testcluster.NewClient(c.Origins(), 10*time.Second).With(token)
	leaf, err := os.ReadFile(leafPNG(t))
	if err != nil {
		t.Fatal(err)
	}
	res, err := api.Retry(t.Context(), "POST", "/api/v1/media", leaf, "Content-Type", "image/png")
	if err != nil || res.Status != 201 {
		t.Fatalf("upload: %v %v", err, res)
	}
	res, err = api.Retry(t.Context(), "POST", "/api/v1/lessons", map[string]any{"title": "Leaves", "slides": []map[string]string{
		{"kind": "image", "media_id": res.Map(t)["id"].(string), "caption": "Where is the dark stripe?"},
	}})
	if err != nil || res.Status != 201 {
		t.Fatalf("create lesson: %v %v", err, res)
	}
	teacher.Do(typeCode(code)...)
	teacher.Do(run(`(() => { const s = document.getElementById('lesson'); s.value = ` + strconv.Quote(res.Map(t)["id"].(string)) + `;
		s.dispatchEvent(new Event('change')); return null; })()`))
	board.Do(chromedp.WaitVisible(chromedp.CSS("#stage .slide-frame img")))

	// Tap on the picture, up to two markers each: two pupils join by
	// typing the code, one by the QR.
	startActivity(teacher, "markers", "", 2)
	board.Do(chromedp.WaitVisible(chromedp.CSS("#join-qr")))
	joinCode := joinCodeOnBoard(t, board, "")
	joinURL := js[string](board, `document.getElementById('join-qr').dataset.joinUrl`)
	if !strings.HasSuffix(joinURL, "/join#code="+joinCode) {
		t.Fatalf("the QR code links to %q", joinURL)
	}
	board.Screenshot("activity-board-join", browsertest.Board)
	for i, p := range pupils {
		p.Do(chromedp.EmulateViewport(int64(browsertest.Phone[0]), int64(browsertest.Phone[1])))
		if i == 1 {
			p.Do(chromedp.Navigate(joinURL), chromedp.WaitVisible(chromedp.CSS("#name")))
			if got := js[string](p, `document.getElementById('code').value`); got != joinCode {
				t.Fatalf("the QR link fills in code %q, want %q", got, joinCode)
			}
		} else {
			p.Do(chromedp.Navigate(c.UIURL()+"/join"), chromedp.WaitVisible(chromedp.CSS("#code")),
				chromedp.SendKeys(chromedp.CSS("#code"), joinCode))
		}
		if i == 0 {
			p.Screenshot("activity-pupil-join", browsertest.Phone)
		}
		p.Do(chromedp.SendKeys(chromedp.CSS("#name"), names[i]), chromedp.Click(chromedp.CSS("#join-go")),
			chromedp.WaitVisible(chromedp.CSS("#tap.with-picture img")))
		browsertest.Get(p, chromedp.Poll[bool](`document.querySelector('#tap img').complete`))
		answered(p, chromedp.Click(chromedp.CSS("#tap")))
	}
	pupils[0].Screenshot("activity-pupil-markers", browsertest.Phone)
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#activity-count[data-answers="3"]`)))
	// Each pupil tapped the middle of the picture; the board draws the
	// markers there, over its own copy of the picture.
	middle := `(d) => Math.abs(parseFloat(d.style.left) - 50) < 2 && Math.abs(parseFloat(d.style.top) - 50) < 2`
	if n := js[int](board, `[...document.querySelectorAll('#markers:not([hidden]) .dot')].filter(`+middle+`).length`); n != 3 {
		t.Fatalf("the board shows %d markers in the middle of the picture, want 3", n)
	}
	board.Screenshot("activity-board-markers", browsertest.Board)
	// A second marker (top left quarter): the phone shows both, the board
	// four dots; a third would move the first.
	answered(pupils[0], run(`(() => { const a = document.getElementById('tap'), r = a.getBoundingClientRect();
		a.dispatchEvent(new MouseEvent('click', { bubbles: true, clientX: r.left + r.width / 4, clientY: r.top + r.height / 4 })); return null; })()`))
	pupils[0].Do(chromedp.WaitVisible(chromedp.CSS(`#tap[data-placed="2"]`)))
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#activity-count[data-answers="3"]`)))
	poll.CheckFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		if n := js[int](board, `document.querySelectorAll('#markers:not([hidden]) .dot').length`); n != 4 {
			return fmt.Errorf("the board shows %d markers, want 4", n)
		}
		return nil
	})
	pupils[0].Screenshot("activity-pupil-two-markers", browsertest.Phone)
	// As a heat map: it glows where the three tapped, not in a corner.
	showAs(teacher, "heatmap")
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#markers[data-display="heatmap"] canvas.heat`)))
	glow := `((x, y) => { const c = document.querySelector('#markers canvas.heat');
		return c.getContext('2d').getImageData(Math.floor(c.width * x), Math.floor(c.height * y), 1, 1).data[3]; })`
	if mid, corner := js[int](board, glow+`(0.5, 0.5)`), js[int](board, glow+`(0.98, 0.98)`); mid == 0 || corner != 0 {
		t.Fatalf("the heat map's alpha is %d in the middle and %d in a corner", mid, corner)
	}
	board.Screenshot("activity-board-heatmap", browsertest.Board)

	// A poll: the pupils stay in the room; bars grow on the board.
	startActivity(teacher, "poll", "Yes, No", 0)
	for i, p := range pupils {
		answered(p, chromedp.WaitVisible(chromedp.CSS(`.options button[data-choice="1"]`)),
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`.options button[data-choice="%d"]`, min(i, 1)))))
	}
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#bars .bar-row:nth-child(1)[data-count="1"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#bars .bar-row:nth-child(2)[data-count="2"]`)))
	if !js[bool](board, `document.getElementById('markers').hidden`) {
		t.Fatal("the last question's markers are still on the board")
	}
	pupils[2].Screenshot("activity-pupil-poll", browsertest.Phone)
	board.Screenshot("activity-board-poll", browsertest.Board)

	// A short answer reaches the board only once the teacher approves it.
	startActivity(teacher, "answer", "", 0)
	answered(pupils[0], chromedp.WaitVisible(chromedp.CSS("#answer")),
		chromedp.SendKeys(chromedp.CSS("#answer"), "Paris"), chromedp.Click(chromedp.CSS("#send")))
	teacher.Do(chromedp.WaitVisible(chromedp.CSS("#pending .approve")))
	if dup := js[[]string](teacher, duplicateIDs); len(dup) > 0 {
		t.Fatalf("the present view with answers to approve uses ids twice: %q", dup)
	}
	teacher.Screenshot("activity-teacher-moderate", [2]int{1366, 768})
	if n := js[int](board, `document.querySelectorAll('#approved li').length`); n != 0 {
		t.Fatalf("the board shows %d unapproved answers", n)
	}
	teacher.Do(chromedp.Click(chromedp.CSS("#pending .approve")))
	board.Do(chromedp.WaitVisible(chromedp.CSS("#approved li")))
	if got := js[string](board, `document.getElementById('approved').textContent`); got != "Paris" {
		t.Fatalf("the board shows %q", got)
	}
	board.Screenshot("activity-board-answers", browsertest.Board)
	// As a word cloud.
	showAs(teacher, "cloud")
	board.Do(chromedp.WaitVisible(chromedp.CSS("#cloud li")))
	if got := js[string](board, `document.getElementById('cloud').textContent`); got != "Paris" {
		t.Fatalf("the word cloud shows %q", got)
	}
	board.Screenshot("activity-board-cloud", browsertest.Board)
	teacher.Screenshot("activity-teacher-phone", browsertest.Phone)
	teacher.Do(chromedp.EmulateViewport(1366, 768))

	// Lock: no more answers; reveal; end: the board hides the activity.
	teacher.Do(chromedp.Click(chromedp.CSS("#activity-lock")), chromedp.WaitVisible(chromedp.CSS(`#activity-panel[data-status="locked"]`)))
	pupils[1].Do(chromedp.WaitVisible(chromedp.CSS(`#join[data-status="locked"] #answer[disabled]`)))
	teacher.Do(chromedp.Click(chromedp.CSS("#activity-reveal")), chromedp.WaitVisible(chromedp.CSS(`#activity-panel[data-status="revealed"]`)))
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#activity[data-status="revealed"]`)))
	teacher.Do(chromedp.Click(chromedp.CSS("#activity-end")), chromedp.WaitVisible(chromedp.CSS(`#activity-panel[data-status="ended"]`)))
	board.Do(chromedp.WaitNotVisible(chromedp.CSS("#activity")))
	for _, p := range pupils {
		p.Do(chromedp.WaitVisible(chromedp.CSS(`#join[data-status="ended"]`)))
	}

	// A new poll (a new room and code); the pupils' node dies during it.
	startActivity(teacher, "poll", "A, B", 0)
	second := joinCodeOnBoard(t, board, joinCode)
	for i, p := range pupils {
		p.Do(chromedp.Click(chromedp.CSS(`#join[data-status="ended"] button.primary`)), chromedp.WaitVisible(chromedp.CSS("#code")),
			chromedp.SendKeys(chromedp.CSS("#code"), second), chromedp.SendKeys(chromedp.CSS("#name"), names[i]),
			chromedp.Click(chromedp.CSS("#join-go")))
		answered(p, chromedp.WaitVisible(chromedp.CSS(`.options button[data-choice="0"]`)), chromedp.Click(chromedp.CSS(`.options button[data-choice="0"]`)))
	}
	for _, p := range pupils {
		if keys := js[string](p, `Object.keys(localStorage).join(',')`); keys != "classboard.pupil" {
			t.Fatalf("a pupil's phone keeps %q; want the pupil token only", keys)
		}
	}
	victim.Kill()
	// Every pupil changes the answer; each phone's client moves on to a
	// surviving node, and the board ends up with all three changes.
	for _, p := range pupils {
		answered(p, chromedp.Click(chromedp.CSS(`.options button[data-choice="1"]`)))
	}
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#bars .bar-row:nth-child(1)[data-count="0"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#bars .bar-row:nth-child(2)[data-count="3"]`)))
	board.Screenshot("activity-board-laptop", [2]int{1366, 768})
	pupils[0].Screenshot("activity-pupil-laptop", [2]int{1366, 768})
}

// Forgetting a board erases its activity with it; a pupil's phone that
// follows the room says the activity has ended instead of going quiet.
func TestBrowserPupilSeesForgottenBoardsActivityEnd(t *testing.T) {
	n, cr, boardID, joinCode := openPoll(t)

	pupil := browsertest.Start(t).NewPage()
	pupil.Do(chromedp.EmulateViewport(int64(browsertest.Phone[0]), int64(browsertest.Phone[1])),
		chromedp.Navigate(n.URL()+"/join#code="+joinCode), chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "Sam"), chromedp.Click(chromedp.CSS("#join-go")),
		chromedp.WaitVisible(chromedp.CSS(`#join[data-status="open"] [data-choice="0"]`)),
		// The phone must be following the room when the board goes, or it
		// learns of it only when it asks again (as a removed pupil).
		chromedp.WaitVisible(chromedp.CSS(`#join[data-live="live"]`)))

	res, err := cr.Teacher.Retry(t.Context(), "DELETE", "/api/v1/boards/"+boardID, nil)
	if err != nil || res.Status != 204 {
		t.Fatalf("forget the board: %v %v", err, res)
	}
	pupil.Do(chromedp.WaitVisible(chromedp.CSS(`#join[data-status="ended"] #status`)))
	pupil.Screenshot("activity-pupil-board-forgotten", browsertest.Phone)
}
