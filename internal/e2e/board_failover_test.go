package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/classboard/classboard/internal/browsertest"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/testcluster"
)

// liveHolder returns the only member holding live connections, and fails
// when there is none or more than one.
func liveHolder(c *testcluster.Cluster) (*testcluster.Member, error) {
	var holder *testcluster.Member
	for _, m := range c.Nodes {
		if n := m.Node(); n != nil && n.Live().Count() > 0 {
			if holder != nil {
				return nil, fmt.Errorf("%s and %s both hold live connections", holder.Name, m.Name)
			}
			holder = m
		}
	}
	if holder == nil {
		return nil, fmt.Errorf("no node holds a live connection")
	}
	return holder, nil
}

// A board and a teacher on a three-node cluster: the node the board's live
// connection is on is killed, the teacher presses next, and the board
// shows the new slide, having moved to another node by itself.
func TestBrowserBoardSurvivesItsNode(t *testing.T) {
	c := testcluster.StartCluster(t, 3)
	b := browsertest.Start(t)
	board, teacher := b.NewPage(), b.NewPage()

	board.Do(chromedp.EmulateViewport(1920, 1080), chromedp.Navigate(c.UIURL()+"/board"))
	code := boardCode(board)
	// The board follows its live connection from the start, alone: the
	// node holding a connection now is the board's.
	var victim *testcluster.Member
	poll.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() (err error) {
		victim, err = liveHolder(c)
		return err
	})

	signUpInBrowser(teacher, c.UIURL(), "Ada Lovelace", "ada@school.example")
	token := browsertest.Get(teacher, chromedp.Evaluate[string](`localStorage.getItem('classboard.token')`))
	api := testcluster.NewClient(c.Origins(), 10*time.Second).With(token)
	res, err := api.Retry(t.Context(), "POST", "/api/v1/lessons", map[string]any{"title": "Fractions", "slides": []map[string]string{
		{"kind": "text", "title": "What is a fraction?", "body": "A part of a whole."},
		{"kind": "text", "title": "Halves and quarters", "body": "1/2 = 2/4"},
		{"kind": "text", "title": "Thirds", "body": "1/3 + 1/3 + 1/3 = 1"},
	}})
	if err != nil || res.Status != 201 {
		t.Fatalf("create lesson: %v %v", err, res)
	}
	lessonID := res.Map(t)["id"].(string)
	teacher.Do(typeCode(code)...)
	teacher.Do(
		chromedp.WaitVisible(chromedp.CSS("#link.ok")),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[any](`(() => { const s = document.getElementById('lesson'); s.value = `+strconv.Quote(lessonID)+`;
				s.dispatchEvent(new Event('change')); return null; })()`)(ctx, tg)
			return err
		}),
		// Next is enabled once the lesson is loaded (the slide number shows
		// 0 before that too).
		chromedp.WaitVisible(chromedp.CSS(`#now[data-slide="0"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#next:not([disabled])`)),
		chromedp.Click(chromedp.CSS("#next")),
	)
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="1"] .slide-frame`)))
	if victim.Node().Live().Count() == 0 {
		t.Fatalf("%s no longer holds the board's connection", victim.Name)
	}

	start := time.Now()
	victim.Kill() // returns once the node is down: it is cut off first, then closed
	// The teacher presses next as soon as the app lets them; the app
	// carries the write through the failover.
	teacher.Do(chromedp.WaitVisible(chromedp.CSS(`#now[data-slide="1"]`)), chromedp.WaitVisible(chromedp.CSS(`#next:not([disabled])`)),
		chromedp.Click(chromedp.CSS("#next")))
	ctx, cancel := context.WithTimeout(board.Ctx(), 2*testcluster.ElectionBudget)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#stage[data-slide="2"] .slide-frame`))); err != nil {
		note := browsertest.Get(teacher, chromedp.Evaluate[string](`document.getElementById('present-note').textContent + ' / teacher on slide ' + document.getElementById('now').dataset.slide`))
		t.Fatalf("the board did not show the next slide after its node was killed: %v (teacher: %s)", err, note)
	}
	t.Logf("board showed the next slide %v after its node was killed", time.Since(start).Round(time.Millisecond))
	if got := browsertest.Get(board, chromedp.Text(chromedp.CSS("#stage"))); !strings.Contains(got, "Thirds") {
		t.Fatalf("board shows %q on the third slide", got)
	}
	board.Do(chromedp.WaitVisible(chromedp.CSS(`#conn.live`)))
}
