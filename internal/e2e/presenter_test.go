package e2e

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/classboard/classboard/internal/browsertest"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/testcluster"
)

// box is an element's place in the viewport.
type box struct {
	X, Y, W, H float64
}

func rectOf(p *browsertest.Page, selector string) box {
	return browsertest.Get(p, chromedp.Evaluate[box](`(() => { const r = document.querySelector(`+strconv.Quote(selector)+`).getBoundingClientRect();
		return { X: r.left, Y: r.top, W: r.width, H: r.height }; })()`))
}

// at is the point x, y (0..1) of b.
func (b box) at(x, y float64) (float64, float64) { return b.X + x*b.W, b.Y + y*b.H }

// pointerLog records, in each page, when the teacher's pointer moved
// (window.moves: pointerdown and pointermove on the current slide) and when the board's
// dot changed (window.dots), on the one clock both pages share.
func pointerLog(teacher, board *browsertest.Page) {
	teacher.Do(evalVoid(`window.moves = []; const c = document.getElementById('current');
		for (const type of ['pointerdown', 'pointermove']) c.addEventListener(type, () => window.moves.push(Date.now()));`))
	board.Do(evalVoid(`window.dots = []; const d = document.getElementById('pointer');
		new MutationObserver(() => window.dots.push({ at: Date.now(), hidden: d.hidden, x: Number(d.dataset.x), y: Number(d.dataset.y) }))
			.observe(d, { attributes: true });`))
}

type dotChange struct {
	At     int64   `json:"at"`
	Hidden bool    `json:"hidden"`
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
}

// dotAt waits until the board's dot shows at x, y (within a hundredth) and
// returns how long after the teacher's last move before it the board
// drew it.
func dotAt(t *testing.T, teacher, board *browsertest.Page, x, y float64) time.Duration {
	t.Helper()
	var seen dotChange
	poll.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		dots := browsertest.Get(board, chromedp.Evaluate[[]dotChange](`window.dots`))
		for _, d := range dots {
			if !d.Hidden && math.Abs(d.X-x) < 0.01 && math.Abs(d.Y-y) < 0.01 {
				seen = d
				return nil
			}
		}
		return fmt.Errorf("the board's dot went %v, never to %.2f,%.2f", dots, x, y)
	})
	moves := browsertest.Get(teacher, chromedp.Evaluate[[]int64](`window.moves`))
	if len(moves) == 0 {
		t.Fatal("the teacher's page saw no pointer move")
	}
	return time.Duration(seen.At-moves[len(moves)-1]) * time.Millisecond
}

// boardDotPlace is where the board draws its dot, as a share of the slide
// on screen.
func boardDotPlace(p *browsertest.Page) (float64, float64) {
	pos := browsertest.Get(p, chromedp.Evaluate[[]float64](`(() => { const s = document.querySelector('#stage .slide').getBoundingClientRect();
		const d = document.getElementById('pointer').getBoundingClientRect();
		return [(d.left + d.width / 2 - s.left) / s.width, (d.top + d.height / 2 - s.top) / s.height]; })()`))
	return pos[0], pos[1]
}

func mouse(typ input.DispatchMouseEventType, x, y float64) chromedp.Action[chromedp.Void] {
	return chromedp.MouseEvent(typ, x, y, chromedp.ButtonLeft)
}

// Three nodes: the board's page and live connection are on the first, the
// teacher's on the second. The teacher drags on the current slide with the
// mouse and a dot follows on the board; letting go hides it. It keeps
// working with the third node down. The delays are logged (the issue asks
// for the dot within 200 ms); nothing of it is stored.
func TestBrowserPointerFollowsTheTeacher(t *testing.T) {
	c := testcluster.StartCluster(t, 3)
	b := browsertest.Start(t)
	board, teacher := b.NewPage(), b.NewPage()
	boardNode, teacherNode := c.Nodes[0], c.Nodes[1]
	presenting(t, board, teacher, boardNode.URL(), teacherNode.URL(), c.Origins(), 4)
	if got := liveOrigin(t, board); got != boardNode.URL() {
		t.Fatalf("the board's live connection is on %s, want %s", got, boardNode.URL())
	}
	teacher.Do(chromedp.EmulateViewport(int64(laptop1366[0]), int64(laptop1366[1])), chromedp.WaitVisible(chromedp.CSS(`#current[data-slide="0"] .slide`)))
	rev := boardRevision(t, board)
	pointerLog(teacher, board)

	var delays []time.Duration
	drag := func(label string) {
		slide := rectOf(teacher, "#current")
		x, y := slide.at(0.25, 0.5)
		teacher.Do(mouse(chromedp.MousePressed, x, y))
		delays = append(delays, dotAt(t, teacher, board, 0.25, 0.5))
		for i := 1; i <= 10; i++ {
			x, y := slide.at(0.25+0.05*float64(i), 0.5-0.02*float64(i))
			teacher.Do(mouse(chromedp.MouseMoved, x, y))
		}
		delays = append(delays, dotAt(t, teacher, board, 0.75, 0.3))
		// The dot sits where the teacher points, on the board's own slide.
		poll.CheckFor(t, 5*time.Second, 20*time.Millisecond, func() error {
			if px, py := boardDotPlace(board); math.Abs(px-0.75) > 0.02 || math.Abs(py-0.3) > 0.02 {
				return fmt.Errorf("the dot is at %.3f,%.3f of the board's slide, want 0.75,0.30", px, py)
			}
			return nil
		})
		board.Screenshot("board-pointer-"+label, browsertest.Board)
		teacher.Screenshot("present-pointer-"+label+"-laptop", laptop1366)
		teacher.Do(mouse(chromedp.MouseReleased, x, y))
		board.Do(chromedp.WaitNotVisible(chromedp.CSS("#pointer")))
		t.Logf("pointer, %s: the board drew the dot %v after the teacher's press and %v after the last move (issue 13 asks for 200 ms)",
			label, delays[len(delays)-2], delays[len(delays)-1])
	}
	drag("three-nodes")

	c.Nodes[2].Kill()
	board.Do(evalVoid(`window.dots = []`))
	teacher.Do(evalVoid(`window.moves = []`))
	drag("node-down")
	teacher.Screenshot("present-node-down-phone", browsertest.Phone)
	teacher.Do(chromedp.EmulateViewport(int64(laptop1366[0]), int64(laptop1366[1])))

	if got := boardRevision(t, board); got != rev {
		t.Fatalf("pointer moves changed the board's state: revision %d, was %d", got, rev)
	}
}

// The presenter's tools reach the board: a custom timer length, pause
// (the board's timer stands still), +1 min on a paused timer, resume, a
// white blank screen; the speaker notes show to the teacher and never
// reach the board, neither in its lesson nor in a live frame.
func TestBrowserPresenterTimerBlankAndNotes(t *testing.T) {
	n := testcluster.StartNode(t)
	b := browsertest.Start(t)
	board, teacher := b.NewPage(), b.NewPage()
	_, token := presenting(t, board, teacher, n.URL(), n.URL(), []string{n.URL()}, 3)

	// The board's live frames from now on.
	frames := chromedp.Events(board.Ctx(), network.WebSocketFrameReceived)
	if _, err := chromedp.Call(board.Ctx(), network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	done := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		defer close(done)
		for ev, err := range frames {
			if err != nil {
				return
			}
			select {
			case <-stop:
				return
			default:
			}
			got = append(got, string(ev.Response.PayloadData))
		}
	}()

	const secret = "Ask who saw a fox this week."
	api := testcluster.NewClient([]string{n.URL()}, 10*time.Second).With(token)
	res, err := api.Retry(t.Context(), "POST", "/api/v1/lessons", map[string]any{"title": "Foxes", "slides": []map[string]string{
		{"kind": "text", "title": "Foxes", "body": "Where do they live?", "notes": secret},
		{"kind": "text", "title": "Dens", "body": "Under the ground."},
	}})
	if err != nil || res.Status != 201 {
		t.Fatalf("create lesson: %v %v", err, res)
	}
	foxes := res.Map(t)["id"].(string)
	// The lesson picker lists the lessons there were when the view opened.
	teacher.Do(chromedp.EmulateViewport(int64(laptop1366[0]), int64(laptop1366[1])), chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("#link.ok")), pickLesson(foxes),
		chromedp.WaitVisible(chromedp.CSS(`#current .slide-title`)), chromedp.WaitVisible(chromedp.CSS("#speaker-notes")))
	if notes := browsertest.Get(teacher, chromedp.Text(chromedp.CSS("#speaker-notes"))); notes != secret {
		t.Fatalf("the presenter shows notes %q", notes)
	}
	if next := browsertest.Get(teacher, chromedp.Text(chromedp.CSS("#next-preview .slide-title"))); next != "Dens" {
		t.Fatalf("the next slide shows %q", next)
	}
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#stage .slide-title`)))
	lesson := browsertest.Get(board, chromedp.Evaluate[string](`(async () => { const c = JSON.parse(localStorage.getItem('classboard.board'));
		const r = await fetch('/api/v1/boards/' + c.board_id + '/lesson', { headers: { Authorization: 'Bearer ' + c.board_secret } });
		return r.status + ' ' + await r.text(); })()`, chromedp.EvalAwaitPromise))
	if !strings.HasPrefix(lesson, "200 ") || !strings.Contains(lesson, "Foxes") || strings.Contains(lesson, secret) || strings.Contains(lesson, `"notes"`) {
		t.Fatalf("the board's lesson: %s", lesson)
	}

	// A timer of 7 minutes, a length no preset has.
	teacher.Do(browsertest.Clear("#timer-minutes"), chromedp.SendKeys(chromedp.CSS("#timer-minutes"), "7"), chromedp.Click(chromedp.CSS("#timer-start")))
	boardTimer := func() string { return browsertest.Get(board, chromedp.Text(chromedp.CSS("#timer"))) }
	board.Do(chromedp.WaitVisible(chromedp.CSS("#timer")))
	poll.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if tm := boardTimer(); !strings.HasPrefix(tm, "7:00") && !strings.HasPrefix(tm, "6:5") {
			return fmt.Errorf("the board's timer shows %q, want about 7:00", tm)
		}
		return nil
	})
	teacher.Do(chromedp.Click(chromedp.CSS("#timer-pause")))
	board.Do(chromedp.WaitVisible(chromedp.CSS("#timer.paused")))
	paused := boardTimer()
	teacher.Do(chromedp.Click(chromedp.CSS("#timer-add")))
	min, sec, _ := strings.Cut(paused, ":")
	m, _ := strconv.Atoi(min)
	want := fmt.Sprintf("%d:%s", m+1, sec)
	poll.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if tm := boardTimer(); tm != want {
			return fmt.Errorf("after +1 min the paused timer shows %q, want %q", tm, want)
		}
		return nil
	})
	teacher.Do(chromedp.WaitVisible(chromedp.CSS("#timer-left.paused")))
	if tl := browsertest.Get(teacher, chromedp.Text(chromedp.CSS("#timer-left"))); tl != want {
		t.Fatalf("the presenter's timer shows %q, the board %q", tl, want)
	}
	board.Screenshot("board-timer-paused", browsertest.Board)
	teacher.Screenshot("present-timer-paused-laptop", laptop1366)
	teacher.CheckAccessible("presenter with notes and a paused timer", browsertest.Phone, laptop1366)
	board.CheckAccessible("board with a paused timer", browsertest.Board)
	teacher.Do(chromedp.Click(chromedp.CSS("#timer-pause")))
	board.Do(chromedp.WaitVisible(chromedp.CSS("#timer:not(.paused)")))
	poll.CheckFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		if tm := boardTimer(); tm == want {
			return fmt.Errorf("the resumed timer stands at %q", tm)
		}
		return nil
	})

	// White blank, then the slide again.
	teacher.Do(chromedp.Click(chromedp.CSS("#blank-white")))
	board.Do(chromedp.WaitVisible(chromedp.CSS("#blank.white")))
	if bg := browsertest.Get(board, chromedp.Evaluate[string](`getComputedStyle(document.getElementById('blank')).backgroundColor`)); bg != "rgb(255, 255, 255)" {
		t.Fatalf("the white blank screen is %s", bg)
	}
	board.Screenshot("board-blank-white", browsertest.Board)
	teacher.CheckAccessible("presenter with a white blank screen", laptop1366)
	teacher.Screenshot("present-blank-white-laptop", laptop1366)
	teacher.Do(chromedp.Click(chromedp.CSS("#blank-white")))
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#stage .slide-title`)))

	close(stop)
	for _, f := range got {
		if strings.Contains(f, secret) || strings.Contains(f, `"notes"`) {
			t.Fatalf("a live frame to the board carries the notes: %s", f)
		}
	}
	if len(got) < 5 {
		t.Fatalf("only %d live frames reached the board while it was steered: %v", len(got), got)
	}
}

// On a phone (a touch screen, in Dutch) the current slide is in view above
// the big Prev and Next buttons, the buttons carry no keyboard hints,
// nothing runs off the screen sideways, and a finger on the slide points
// on the board.
func TestBrowserPresenterOnAPhone(t *testing.T) {
	n := testcluster.StartNode(t)
	b := browsertest.Start(t)
	board, teacher := b.NewPage(), b.NewPage()
	presenting(t, board, teacher, n.URL(), n.URL(), []string{n.URL()}, 14)
	phone := chromedp.EmulateViewport(int64(browsertest.Phone[0]), int64(browsertest.Phone[1]), chromedp.EmulateMobile, chromedp.EmulateTouch)
	teacher.Do(phone, evalVoid(`localStorage.setItem('classboard.lang', 'nl')`), chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(`#current[data-slide="0"] .slide`)))
	current, prev, next := rectOf(teacher, "#current"), rectOf(teacher, "#prev"), rectOf(teacher, "#next")
	if current.H < 150 || current.Y+current.H > prev.Y || prev.Y+prev.H > float64(browsertest.Phone[1]) || next.Y != prev.Y {
		t.Fatalf("on a phone the slide is at %+v and the buttons at %+v, %+v: want the slide above both, all on the first screen", current, prev, next)
	}
	if blank, white := browsertest.Get(teacher, chromedp.Text(chromedp.CSS("#blank-toggle"))), browsertest.Get(teacher, chromedp.Text(chromedp.CSS("#blank-white"))); blank != "Zwart" || white != "Wit" {
		t.Fatalf("the blank buttons on a Dutch touch screen say %q and %q", blank, white)
	}
	if w := browsertest.Get(teacher, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > browsertest.Phone[0] {
		t.Fatalf("the page is %d px wide on a %d px phone", w, browsertest.Phone[0])
	}
	strip := rectOf(teacher, "#strip")
	if strip.X < 0 || strip.X+strip.W > float64(browsertest.Phone[0]) {
		t.Fatalf("the slide strip runs off the screen: %+v", strip)
	}

	teacher.Do(press("next", 1, 0))
	settled(board, teacher, 1)
	teacher.Screenshot("present-phone", browsertest.Phone)

	pointerLog(teacher, board)
	touch := func(typ input.DispatchTouchEventType, x, y float64) {
		t.Helper()
		var points []*input.TouchPoint
		if typ != input.DispatchTouchEventTypeTouchEnd {
			points = []*input.TouchPoint{{X: x, Y: y}}
		}
		if _, err := chromedp.Call(teacher.Ctx(), input.DispatchTouchEvent, input.DispatchTouchEventParams{Type: typ, TouchPoints: points}); err != nil {
			t.Fatal(err)
		}
	}
	x, y := current.at(0.5, 0.5)
	touch(input.DispatchTouchEventTypeTouchStart, x, y)
	first := dotAt(t, teacher, board, 0.5, 0.5)
	x, y = current.at(0.2, 0.8)
	touch(input.DispatchTouchEventTypeTouchMove, x, y)
	moved := dotAt(t, teacher, board, 0.2, 0.8)
	teacher.Screenshot("present-pointer-phone", browsertest.Phone)
	touch(input.DispatchTouchEventTypeTouchEnd, 0, 0)
	board.Do(chromedp.WaitNotVisible(chromedp.CSS("#pointer")))
	t.Logf("pointer by touch: the board drew the dot %v after the touch and %v after the move (issue 13 asks for 200 ms)", first, moved)

	// A teacher who leaves the view while pointing takes the dot along.
	touch(input.DispatchTouchEventTypeTouchStart, x, y)
	board.Do(chromedp.WaitVisible(chromedp.CSS("#pointer")))
	teacher.Do(evalVoid(`location.hash = '#/boards'`))
	board.Do(chromedp.WaitNotVisible(chromedp.CSS("#pointer")))
}
