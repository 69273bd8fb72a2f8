package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/testcluster"
)

// collect reads l's messages in the background until the test ends.
func (l *liveClient) collect() <-chan liveMsg {
	out := make(chan liveMsg, 256)
	go func() {
		defer close(out)
		for {
			b, err := l.next(l.t.Context())
			if err != nil {
				return
			}
			var m liveMsg
			if err := json.Unmarshal(b, &m); err == nil && m.Type != "ping" {
				out <- m
			}
		}
	}()
	return out
}

// Three nodes: the board's live connection is on the first, the teacher
// points through the third and watches on the second. The board gets
// every move as a pointer message; the teacher's connection gets none, and
// the board's state (the store's history) never changes.
func TestPointerReachesTheBoardOnAnotherNode(t *testing.T) {
	c := testcluster.StartCluster(t, 3)
	n0, n1, n2 := apitest.New(c.Nodes[0].URL()), apitest.New(c.Nodes[1].URL()), apitest.New(c.Nodes[2].URL())
	ada := teacherToken(t, n0, "Ada Lovelace", "laptop")
	b := pairBoard(t, n0, ada, "Room 1")
	statePath := "/api/v1/boards/" + b.BoardID + "/state"
	rev := int(n0.With(ada).Do(t, "GET", statePath, nil).Map(t)["revision"].(float64))

	board := mustWS(t, c.Nodes[0].URL(), b.BoardID, b.BoardSecret, "")
	teacher := mustWS(t, c.Nodes[1].URL(), b.BoardID, "", ticket(t, n1, ada, b.BoardID))
	if m := board.read(); m.Type != "state" || m.rev() != rev {
		t.Fatalf("the board's first message: %+v", m)
	}
	boardMsgs, teacherMsgs := board.collect(), teacher.collect()
	point := func(body map[string]any) {
		t.Helper()
		if res := n2.With(ada).Do(t, "POST", "/api/v1/boards/"+b.BoardID+"/pointer", body); res.Status != 204 {
			t.Fatalf("point: %d %s", res.Status, res.Body)
		}
	}
	// nextPointer returns the next pointer message the board got, skipping
	// other messages, or an error when none came within wait.
	nextPointer := func(wait time.Duration) (map[string]any, error) {
		deadline := time.After(wait)
		for {
			select {
			case m := <-boardMsgs:
				if m.Type == "pointer" {
					return m.Pointer, nil
				}
			case <-deadline:
				return nil, errors.New("no pointer message on the board")
			}
		}
	}
	// The nodes learn of each other's interest in pointer moves as they
	// start: the first moves may go before the route carries them.
	poll.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		point(map[string]any{"x": 0.1, "y": 0.2})
		_, err := nextPointer(200 * time.Millisecond)
		return err
	})
	for range len(boardMsgs) {
		<-boardMsgs // moves the poll sent before the first one landed
	}
	var worst time.Duration
	for i := range 10 {
		x := float64(i) / 10
		sent := time.Now()
		point(map[string]any{"x": x, "y": 0.5})
		p, err := nextPointer(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		worst = max(worst, time.Since(sent))
		if p["x"] != x || p["y"] != 0.5 || p["hidden"] != nil {
			t.Fatalf("move %d reached the board as %v", i, p)
		}
	}
	t.Logf("pointer move, POST on node 3 to the board's frame on node 1: slowest of 10 %v", worst)
	point(map[string]any{"hidden": true})
	if p, err := nextPointer(5 * time.Second); err != nil || p["hidden"] != true || p["x"] != nil {
		t.Fatalf("hiding reached the board as %v (%v)", p, err)
	}

	res := n1.With(ada).Do(t, "GET", statePath, nil)
	if got := int(res.Map(t)["revision"].(float64)); got != rev || strings.Contains(string(res.Body), "pointer") {
		t.Fatalf("after pointer moves the state is %s, want revision %d unchanged", res.Body, rev)
	}
	// The teacher's own connection hears a change of state, never the pointer.
	rev = steer(t, n1, ada, b.BoardID, rev, 0, true)
	deadline := time.After(15 * time.Second)
	for {
		select {
		case m := <-teacherMsgs:
			if m.Type == "pointer" {
				t.Fatalf("the teacher's connection got a pointer message: %+v", m)
			}
			if m.Type == "state" && m.rev() == rev {
				return
			}
		case <-deadline:
			t.Fatalf("the teacher's connection never got revision %d", rev)
		}
	}
}

// BenchmarkPointerLatency measures how long a teacher's pointer move takes
// from its POST on one node to the frame on the board's live connection on
// another, three nodes in one process, moves paced at 20 a second as the
// teacher app sends them (issue 13 asks for the dot within 200 ms).
//
//	go test ./api -run '^$' -bench PointerLatency -benchtime 200x
func BenchmarkPointerLatency(b *testing.B) {
	c := testcluster.StartCluster(b, 3)
	n0, n2 := apitest.New(c.Nodes[0].URL()), apitest.New(c.Nodes[2].URL())
	ada := teacherToken(b, n0, "Ada Lovelace", "laptop")
	res := n0.Do(b, "POST", "/api/v1/boards", nil)
	var nb newBoard
	res.JSON(b, &nb)
	if res := n0.With(ada).Do(b, "POST", "/api/v1/pairings", map[string]string{"code": nb.PairingCode, "name": "Room 1"}); res.Status != 201 {
		b.Fatalf("pair: %d %s", res.Status, res.Body)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(liveURL(c.Nodes[0].URL(), nb.BoardID, ""), "http"),
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + nb.BoardSecret}}})
	if err != nil {
		b.Fatal(err)
	}
	defer ws.CloseNow()
	type move struct {
		x  float64
		at time.Time
	}
	moves := make(chan move, 64)
	go func() {
		for {
			var m liveMsg
			if err := wsjson.Read(ctx, ws, &m); err != nil {
				return
			}
			if x, ok := m.Pointer["x"].(float64); ok && m.Type == "pointer" {
				moves <- move{x: x, at: time.Now()}
			}
		}
	}()
	path := "/api/v1/boards/" + nb.BoardID + "/pointer"
	// The route between the nodes carries moves once each knows the
	// others' interest: wait for the first one through.
	for arrived := false; !arrived; {
		n2.With(ada).Do(b, "POST", path, map[string]any{"x": 0, "y": 0})
		select {
		case <-moves:
			arrived = true
		case <-time.After(100 * time.Millisecond):
		}
	}
	var lat []time.Duration
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		<-tick.C
		x := float64(i%1000+1) / 1000
		sent := time.Now()
		if res := n2.With(ada).Do(b, "POST", path, map[string]any{"x": x, "y": 0.5}); res.Status != 204 {
			b.Fatalf("point: %d %s", res.Status, res.Body)
		}
		for m := range moves {
			if m.x == x {
				lat = append(lat, m.at.Sub(sent))
				break
			}
		}
	}
	b.StopTimer()
	report(b, "post-to-frame", lat)
}
