package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/testcluster"
)

// readActivity reads live messages until an activity message passes ok.
func (l *liveClient) readActivity(ok func(*activity) bool) *activity {
	l.t.Helper()
	for {
		if m := l.read(); m.Type == "activity" && m.Activity != nil && ok(m.Activity) {
			return m.Activity
		}
	}
}

// Pupils answer on two nodes; the board (on a third) and the teacher get
// the aggregate over their live connections, the board without names.
// Then the node most pupils used dies: a board connecting anew to a
// surviving node gets every acknowledged answer in its first frame.
func TestActivityLiveAcrossNodes(t *testing.T) {
	c := testcluster.StartCluster(t, 3)
	n0, n1, n2 := apitest.New(c.Nodes[0].URL()), apitest.New(c.Nodes[1].URL()), apitest.New(c.Nodes[2].URL())
	ada := teacherToken(t, n0, "Ada Lovelace", "laptop")
	b := pairBoard(t, n0, ada, "Room 1")
	act := setActivity(t, n0, ada, b.BoardID, map[string]any{"kind": "markers", "slide": 0, "status": "open"})

	board := mustWS(t, c.Nodes[0].URL(), b.BoardID, b.BoardSecret, "")
	teacher := mustWS(t, c.Nodes[1].URL(), b.BoardID, "", ticket(t, n1, ada, b.BoardID))
	const pupils = 6
	for i := range pupils {
		api := n2 // the node most pupils use
		if i%3 == 0 {
			api = n1
		}
		p := joinRoom(t, api, act.JoinCode, fmt.Sprintf("Pupil %d", i))
		res := api.With(p.Token).Do(t, "PUT", "/api/v1/rooms/"+p.RoomID+"/answer", map[string]any{"marker": map[string]float64{"x": float64(i) / 10, "y": 0.5}})
		if res.Status != 200 {
			t.Fatalf("answer %d: %d %s", i, res.Status, res.Body)
		}
	}
	all := func(a *activity) bool {
		return a.Aggregate != nil && a.Aggregate.Answers == pupils && len(a.Aggregate.Markers) == pupils
	}
	onBoard := board.readActivity(all)
	if onBoard.Pupils != nil || onBoard.Pending != nil || onBoard.Aggregate.Pupils != pupils {
		t.Fatalf("the board's frame: %+v", onBoard)
	}
	if got := teacher.readActivity(all); len(got.Pupils) != pupils || !strings.HasPrefix(got.Pupils[0].Name, "Pupil") {
		t.Fatalf("the teacher's frame: %+v", got)
	}

	c.Nodes[2].Kill()
	// The board's reconnection lands on a surviving node (node 0's view
	// was fed by the store, not by the dead node).
	var again *liveClient
	poll.CheckFor(t, 30*time.Second, 200*time.Millisecond, func() error {
		l, _, err := dialWS(t, c.Nodes[0].URL(), b.BoardID, b.BoardSecret, "")
		again = l
		return err
	})
	if got := again.readActivity(func(*activity) bool { return true }); !all(got) {
		t.Fatalf("after the node's death the board shows %+v", got.Aggregate)
	}
}
