package faults

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/testcluster"
)

// presenceWatch is a teacher's live connection to one node, recording
// when each presence message arrived.
type presenceWatch struct {
	mu     sync.Mutex
	online *bool     // the latest presence heard; nil before any
	at     time.Time // when it arrived
}

// watchPresence opens a teacher's live connection of boardID on origin
// and follows its presence messages until the test ends.
func watchPresence(t *testing.T, origin, token, boardID string) *presenceWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dctx, dcancel := context.WithTimeout(ctx, 15*time.Second)
	defer dcancel()
	c, _, err := websocket.Dial(dctx, "ws"+strings.TrimPrefix(origin, "http")+"/api/v1/boards/"+boardID+"/live",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		cancel()
		t.Fatalf("teacher's live connection to %s: %v", origin, err)
	}
	w := &presenceWatch{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			var m struct {
				Type   string `json:"type"`
				Online *bool  `json:"online"`
			}
			if wsjson.Read(ctx, c, &m) != nil {
				return // gone, or not our JSON
			}
			if m.Type == "presence" && m.Online != nil {
				w.mu.Lock()
				w.online, w.at = m.Online, time.Now()
				w.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { cancel(); c.CloseNow(); <-done })
	return w
}

// is returns when the watch last heard online, or an error while it has not.
func (w *presenceWatch) is(online bool) (time.Time, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.online == nil || *w.online != online {
		return time.Time{}, fmt.Errorf("the teacher has not heard online=%v (latest %v)", online, w.online)
	}
	return w.at, nil
}

// The teacher's live connections, on every surviving node, hear that the
// board went offline when the node holding the board's connection is
// killed with kill -9, and that it is back when it reconnects; GET
// /api/v1/boards agrees. The board may reconnect only to the node that
// dies, so that its absence lasts. Delays are logged.
func TestPresenceAfterKill(t *testing.T) {
	c := testcluster.StartCluster(t, 3, testcluster.Processes())
	cr := testcluster.NewClassroom(t, c.Origins(), 1, 3)
	b := cr.Boards[0]
	victim := c.Nodes[1]
	board := testcluster.OpenLive(t, []string{victim.URL()}, b.ID, b.Secret, 0)
	watchers := []*presenceWatch{
		watchPresence(t, c.Nodes[0].URL(), cr.Token, b.ID),
		watchPresence(t, c.Nodes[2].URL(), cr.Token, b.ID),
	}
	heard := func(online bool, since time.Time) {
		t.Helper()
		poll.CheckFor(t, testcluster.ElectionBudget, 20*time.Millisecond, func() error {
			for i, w := range watchers {
				if _, err := w.is(online); err != nil {
					return fmt.Errorf("watcher %d: %w", i, err)
				}
			}
			return nil
		})
		for i, w := range watchers {
			at, _ := w.is(online)
			t.Logf("watcher %d heard online=%v %v after the board's connection changed", i, online, max(0, at.Sub(since)).Round(time.Millisecond))
		}
		for _, m := range []*testcluster.Member{c.Nodes[0], c.Nodes[2]} {
			res, err := testcluster.NewClient([]string{m.URL()}, 10*time.Second).With(cr.Token).Retry(t.Context(), "GET", "/api/v1/boards", nil)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(res.Body), fmt.Sprintf(`"online":%v`, online)) {
				t.Errorf("%s lists the board as not online=%v: %s", m.Name, online, res.Body)
			}
		}
	}
	poll.CheckFor(t, testcluster.ElectionBudget, 20*time.Millisecond, func() error {
		if board.Origin() != 0 {
			return fmt.Errorf("the board is not connected yet")
		}
		return nil
	})
	heard(true, time.Now())

	killed := time.Now()
	victim.Kill()
	heard(false, killed)

	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	var back time.Time
	poll.CheckFor(t, 2*testcluster.ElectionBudget, 20*time.Millisecond, func() error {
		if board.Origin() != 0 {
			return fmt.Errorf("the board has not reconnected yet")
		}
		back = time.Now()
		return nil
	})
	heard(true, back)
}
