package live

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/classboard/classboard"
)

// fakeActivities counts the snapshots the feed builds.
type fakeActivities struct {
	mu    sync.Mutex
	calls int
}

func (f *fakeActivities) WatchActivities(ctx context.Context, fn func(string)) { <-ctx.Done() }

func (f *fakeActivities) Snapshot(boardID string, owner bool) (*classboard.Activity, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	a := &classboard.Activity{BoardID: boardID, Status: classboard.StatusOpen, Aggregate: &classboard.Aggregate{Answers: f.calls}}
	if owner {
		a.Pupils = []classboard.Pupil{{ID: "1", Name: "Sam"}}
	}
	return a, true
}

func queued(t *testing.T, c *Conn) []Message {
	t.Helper()
	var out []Message
	msgs, _ := c.Take()
	for _, b := range msgs {
		var m Message
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// However many answers arrive between two flushes, each connection gets
// one frame, the board's without names; boards without a connection here
// cost nothing.
func TestActivityFeedCoalesces(t *testing.T) {
	h := NewHub(Config{})
	src := &fakeActivities{}
	f := NewActivityFeed(h, src, 0)
	board, err := h.Register("b1", true)
	if err != nil {
		t.Fatal(err)
	}
	teacher, err := h.Register("b1", false)
	if err != nil {
		t.Fatal(err)
	}
	for range 500 {
		f.Changed("b1")
		f.Changed("elsewhere")
	}
	f.flush()
	bm, tm := queued(t, board), queued(t, teacher)
	if len(bm) != 1 || len(tm) != 1 || bm[0].Type != TypeActivity {
		t.Fatalf("board got %d frames, teacher %d; want one each", len(bm), len(tm))
	}
	if bm[0].Activity.Pupils != nil || len(tm[0].Activity.Pupils) != 1 {
		t.Fatalf("board frame %+v, teacher frame %+v", bm[0].Activity, tm[0].Activity)
	}
	if src.calls != 2 {
		t.Fatalf("%d snapshots built, want 2 (one per view, none for a board not here)", src.calls)
	}
	f.flush()
	if n := len(queued(t, board)); n != 0 {
		t.Fatalf("%d frames without a change", n)
	}
}
