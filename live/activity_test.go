package live

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/classboard/classboard"
)

// fakeActivities counts the snapshots the feed builds.
type fakeActivities struct {
	mu      sync.Mutex
	calls   int
	answers int               // the aggregate's answers: tells frames apart
	room    string            // the activity's room, for pupils
	status  string            // the activity's status ("": open)
	seats   map[string]string // seat -> token hash, for pupils
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
	a := &classboard.Activity{BoardID: boardID, Status: classboard.StatusOpen, RoomID: f.room, Kind: classboard.KindPoll, Aggregate: &classboard.Aggregate{Answers: f.answers}}
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

// register adds a connection watching boardID to h, or fails the test.
func register(tb testing.TB, h *Hub, boardID string, isBoard bool) *Conn {
	tb.Helper()
	c, err := h.Register(boardID, isBoard)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// seatClass seats n pupils in room r1 of board b1, in src's view, and
// connects each of them to h.
func seatClass(tb testing.TB, h *Hub, src *fakeActivities, n int) []*Conn {
	tb.Helper()
	src.room, src.seats = "r1", map[string]string{}
	var pupils []*Conn
	for i := range n {
		seat := strconv.Itoa(i + 1)
		src.seats[seat] = "token" + seat
		c, err := h.RegisterPupil(classboard.PupilSeat{BoardID: "b1", RoomID: "r1", Seat: seat, TokenHash: "token" + seat})
		if err != nil {
			tb.Fatal(err)
		}
		pupils = append(pupils, c)
	}
	return pupils
}

// However many answers arrive between two flushes, each connection gets
// one frame, the board's without names; boards without a connection here
// cost nothing.
func TestActivityFeedCoalesces(t *testing.T) {
	h := NewHub(Config{})
	src := &fakeActivities{}
	f := NewActivityFeed(h, src, 0)
	board, teacher := register(t, h, "b1", true), register(t, h, "b1", false)
	for range 500 {
		f.Changed("b1")
		f.Changed("elsewhere")
	}
	f.flush(time.Now())
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
	f.flush(time.Now())
	if n := len(queued(t, board)); n != 0 {
		t.Fatalf("%d frames without a change", n)
	}
}

// A pupil's connection hears its room's status when it changes, never the
// board's state or the class's answers, and is told and closed when the
// teacher removes the pupil; a room the view has not caught up with yet
// is not reported ended.
func TestActivityFeedPupils(t *testing.T) {
	synctest.Test(t, testActivityFeedPupils)
}

func testActivityFeedPupils(t *testing.T) {
	h := NewHub(Config{})
	src := &fakeActivities{room: "old-room"}
	f := NewActivityFeed(h, src, 0)
	// Each change comes an interval after the one before, so each is
	// sent when the test reads the queue.
	flush := func() {
		time.Sleep(ActivityInterval)
		f.flush(time.Now())
	}
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
	flush()
	got := queued(t, c)
	if len(got) != 1 || got[0].Type != TypeRoom || got[0].Room.Status != classboard.StatusOpen || got[0].Room.Kind != classboard.KindPoll || got[0].Activity != nil {
		t.Fatalf("first frames %+v; want the open room", got)
	}
	for range 3 { // answers: no change for the pupil
		f.Changed("b1")
		flush()
	}
	h.Dispatch(classboard.BoardEvent{Type: classboard.EventState, BoardID: "b1", State: &classboard.BoardState{BoardID: "b1", Revision: 9}})
	if got := queued(t, c); len(got) != 0 {
		t.Fatalf("the pupil heard %+v", got)
	}
	set("r1", classboard.StatusLocked, map[string]string{"7": "sam"})
	f.Changed("b1")
	flush()
	if got := queued(t, c); len(got) != 1 || got[0].Room.Status != classboard.StatusLocked {
		t.Fatalf("after the lock %+v", got)
	}
	set("r1", classboard.StatusLocked, map[string]string{})
	f.Changed("b1")
	flush()
	if got := queued(t, c); len(got) != 1 || got[0].Type != TypeRemoved || c.Reason() != ReasonRemoved {
		t.Fatalf("after the removal %+v, reason %q", got, c.Reason())
	}
	if h.Count() != 0 {
		t.Fatalf("%d connections after the removal", h.Count())
	}
}

// A frame reads a board's activity once for all its pupils and the board,
// however many pupils follow it, and each pupil hears the room.
func TestActivityFeedReadsOncePerBoard(t *testing.T) {
	h := NewHub(Config{})
	src := &fakeActivities{}
	f := NewActivityFeed(h, src, 0)
	pupils := seatClass(t, h, src, 30)
	board := register(t, h, "b1", true)
	f.Changed("b1")
	f.flush(time.Now())
	src.mu.Lock()
	calls := src.calls
	src.mu.Unlock()
	if calls != 1 {
		t.Fatalf("%d snapshots for 30 pupils and a board, want 1", calls)
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

// answer bumps the fake's aggregate, as a pupil's answer reaching the view
// does, and tells the feed.
func (f *fakeActivities) answer(feed *ActivityFeed, boardID string) int {
	f.mu.Lock()
	f.answers++
	n := f.answers
	f.mu.Unlock()
	feed.Changed(boardID)
	return n
}

// runFeed runs f in the test's bubble until the test ends.
func runFeed(t *testing.T, f *ActivityFeed) {
	go f.Run(t.Context())
	synctest.Wait()
}

// frameAnswers returns the answers of each activity frame queued on c.
func frameAnswers(t *testing.T, c *Conn) []int {
	t.Helper()
	answers, _ := frames(t, c)
	return answers
}

// frames returns the answers of each activity frame queued on c, and when
// each was built (the bubble's clock).
func frames(t *testing.T, c *Conn) (answers []int, built []time.Time) {
	t.Helper()
	for _, m := range queued(t, c) {
		if m.Type != TypeActivity || m.Activity.Aggregate == nil {
			t.Fatalf("unexpected frame %+v", m)
		}
		answers = append(answers, m.Activity.Aggregate.Answers)
		built = append(built, m.ServerTime)
	}
	return answers, built
}

// A change to a board that got no frame for an interval reaches the
// board's connection at once, without waiting for a tick; each board keeps
// its own schedule; a change within the interval after a frame is sent at
// the interval's end, not dropped; a board quiet for an interval is
// forgotten, and its next change goes at once again.
func TestActivityFeedSendsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHub(Config{})
		src := &fakeActivities{}
		f := NewActivityFeed(h, src, 0)
		b1, b2 := register(t, h, "b1", true), register(t, h, "b2", true)
		runFeed(t, f)
		start := time.Now()

		n := src.answer(f, "b1")
		synctest.Wait()
		if got := frameAnswers(t, b1); len(got) != 1 || got[0] != n || time.Since(start) != 0 {
			t.Fatalf("b1 got %v after %v; want [%d] at once", got, time.Since(start), n)
		}

		time.Sleep(ActivityInterval / 4)
		n = src.answer(f, "b2")
		later := src.answer(f, "b1")
		synctest.Wait()
		if got := frameAnswers(t, b2); len(got) != 1 || got[0] < n {
			t.Fatalf("b2, changed within b1's interval, got %v; want its frame at once", got)
		}
		if got := frameAnswers(t, b1); len(got) != 0 {
			t.Fatalf("b1 got %v within its interval", got)
		}
		time.Sleep(time.Until(start.Add(ActivityInterval)) - time.Millisecond)
		synctest.Wait()
		if got := frameAnswers(t, b1); len(got) != 0 {
			t.Fatalf("b1 got %v a millisecond before its interval ended", got)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got := frameAnswers(t, b1); len(got) != 1 || got[0] != later {
			t.Fatalf("b1 got %v when its interval ended; want [%d]", got, later)
		}

		time.Sleep(2 * ActivityInterval)
		f.mu.Lock()
		held := len(f.boards) + len(f.due)
		f.mu.Unlock()
		if held != 0 {
			t.Fatalf("the feed holds %d entries for quiet boards", held)
		}
		n = src.answer(f, "b1")
		synctest.Wait()
		if got := frameAnswers(t, b1); len(got) != 1 || got[0] != n {
			t.Fatalf("b1, quiet for an interval, got %v; want [%d] at once", got, n)
		}
	})
}

// A stream of changes to one board (a class answering) yields at most a
// frame an interval, ceil(duration/interval)+1 in all, and the last frame
// holds the last change: coalescing drops frames, never changes.
func TestActivityFeedCapsFrames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHub(Config{})
		src := &fakeActivities{}
		f := NewActivityFeed(h, src, 0)
		board := register(t, h, "b1", true)
		runFeed(t, f)
		const every, changes = 7 * time.Millisecond, 300
		start := time.Now()
		var got []int
		var sent []time.Time // when each frame was built
		take := func() {
			synctest.Wait()
			answers, built := frames(t, board)
			got, sent = append(got, answers...), append(sent, built...)
		}
		last := 0
		for range changes {
			last = src.answer(f, "b1")
			take()
			time.Sleep(every)
		}
		duration := time.Since(start) - every
		time.Sleep(ActivityInterval)
		take()

		limit := int(math.Ceil(float64(duration)/float64(ActivityInterval))) + 1
		if len(got) > limit {
			t.Fatalf("%d frames for %d changes over %v; want at most %d", len(got), changes, duration, limit)
		}
		for i := 1; i < len(sent); i++ {
			if gap := sent[i].Sub(sent[i-1]); gap < ActivityInterval {
				t.Fatalf("frames %d and %d %v apart; want at least %v", i-1, i, gap, ActivityInterval)
			}
			if got[i] <= got[i-1] {
				t.Fatalf("frame %d holds %d answers after %d", i, got[i], got[i-1])
			}
		}
		if len(got) == 0 || got[len(got)-1] != last {
			t.Fatalf("frames %v; the last must hold the last change (%d)", got, last)
		}
		t.Logf("%d changes over %v: %d frames (at most %d)", changes, duration, len(got), limit)
	})
}
