package live

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"

	"github.com/classboard/classboard"
)

// fakeActivities counts the snapshots the feed builds.
type fakeActivities struct {
	mu     sync.Mutex
	calls  int
	room   string            // the activity's room, for pupils
	status string            // the activity's status ("": open)
	seats  map[string]string // seat -> token hash, for pupils
}

func (f *fakeActivities) SeatHolder(roomID, seat string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.seats[seat]
	return h, ok && roomID == f.room
}

func (f *fakeActivities) WatchActivities(ctx context.Context, fn func(string)) { <-ctx.Done() }

func (f *fakeActivities) Snapshot(boardID string, owner bool) (*classboard.Activity, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	a := &classboard.Activity{BoardID: boardID, Status: classboard.StatusOpen, RoomID: f.room, Kind: classboard.KindPoll, Aggregate: &classboard.Aggregate{Answers: f.calls}}
	if f.status != "" {
		a.Status = f.status
	}
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

// A pupil's connection hears its room's status when it changes, never the
// board's state or the class's answers, and is told and closed when the
// teacher removes the pupil; a room the view has not caught up with yet
// is not reported ended.
func TestActivityFeedPupils(t *testing.T) {
	h := NewHub(Config{})
	src := &fakeActivities{room: "old-room"}
	f := NewActivityFeed(h, src, 0)
	c, err := h.RegisterPupil(classboard.PupilSeat{BoardID: "b1", RoomID: "r1", Seat: "7", TokenHash: "sam"})
	if err != nil {
		t.Fatal(err)
	}
	if h.Count() != 1 {
		t.Fatalf("%d connections, want the pupil's", h.Count())
	}
	set := func(room, status string, seats map[string]string) {
		src.mu.Lock()
		defer src.mu.Unlock()
		src.room, src.status, src.seats = room, status, seats
	}
	f.Offer(c)
	if got := queued(t, c); len(got) != 0 {
		t.Fatalf("a view behind the pupil's new room sent %+v", got)
	}
	set("r1", "", map[string]string{"7": "sam"})
	f.Changed("b1")
	f.flush()
	got := queued(t, c)
	if len(got) != 1 || got[0].Type != TypeRoom || got[0].Room.Status != classboard.StatusOpen || got[0].Room.Kind != classboard.KindPoll || got[0].Activity != nil {
		t.Fatalf("first frames %+v; want the open room", got)
	}
	for range 3 { // answers: no change for the pupil
		f.Changed("b1")
		f.flush()
	}
	h.Dispatch(classboard.BoardEvent{Type: classboard.EventState, BoardID: "b1", State: &classboard.BoardState{BoardID: "b1", Revision: 9}})
	if got := queued(t, c); len(got) != 0 {
		t.Fatalf("the pupil heard %+v", got)
	}
	set("r1", classboard.StatusLocked, map[string]string{"7": "sam"})
	f.Changed("b1")
	f.flush()
	if got := queued(t, c); len(got) != 1 || got[0].Room.Status != classboard.StatusLocked {
		t.Fatalf("after the lock %+v", got)
	}
	set("r1", classboard.StatusLocked, map[string]string{})
	f.Changed("b1")
	f.flush()
	if got := queued(t, c); len(got) != 1 || got[0].Type != TypeRemoved || c.Reason() != ReasonRemoved {
		t.Fatalf("after the removal %+v, reason %q", got, c.Reason())
	}
	if h.Count() != 0 {
		t.Fatalf("%d connections after the removal", h.Count())
	}
}

// A flush reads a board's activity once for all its pupils (and once for
// the board), however many pupils follow it, and each pupil hears the room.
func TestActivityFeedReadsOncePerBoard(t *testing.T) {
	h := NewHub(Config{})
	src := &fakeActivities{room: "r1", seats: map[string]string{}}
	f := NewActivityFeed(h, src, 0)
	var pupils []*Conn
	for i := range 30 {
		seat := strconv.Itoa(i + 1)
		src.seats[seat] = "token" + seat
		c, err := h.RegisterPupil(classboard.PupilSeat{BoardID: "b1", RoomID: "r1", Seat: seat, TokenHash: "token" + seat})
		if err != nil {
			t.Fatal(err)
		}
		pupils = append(pupils, c)
	}
	board, err := h.Register("b1", true)
	if err != nil {
		t.Fatal(err)
	}
	f.Changed("b1")
	f.flush()
	src.mu.Lock()
	calls := src.calls
	src.mu.Unlock()
	if calls != 2 {
		t.Fatalf("%d snapshots for 30 pupils and a board, want 2", calls)
	}
	for i, c := range pupils {
		if got := queued(t, c); len(got) != 1 || got[0].Type != TypeRoom || got[0].Room.Status != classboard.StatusOpen {
			t.Fatalf("pupil %d heard %+v", i+1, got)
		}
	}
	if got := queued(t, board); len(got) != 1 || got[0].Type != TypeActivity {
		t.Fatalf("the board heard %+v", got)
	}
}
