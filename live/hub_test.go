package live

import (
	"encoding/json"
	"runtime"
	"sync"
	"testing"

	"github.com/classboard/classboard"
)

func stateEvent(board string, rev uint64) classboard.BoardEvent {
	return classboard.BoardEvent{Type: classboard.EventState, BoardID: board,
		State: &classboard.BoardState{BoardID: board, Slide: int(rev), Revision: rev}}
}

// drain takes a connection's messages as a transport does, woken by the
// hub, until the hub ends it, and returns the state revisions it got.
func drain(c *Conn) []uint64 {
	woken := make(chan struct{}, 1)
	c.SetWake(func() {
		select {
		case woken <- struct{}{}:
		default:
		}
	})
	var revs []uint64
	for range woken {
		msgs, ended := c.Take()
		for _, b := range msgs {
			var m Message
			if err := json.Unmarshal(b, &m); err == nil && m.Type == TypeState {
				revs = append(revs, m.State.Revision)
			}
		}
		if ended {
			return revs
		}
	}
	return revs
}

// A connection whose reader is stuck is closed once its buffer is full;
// every other connection still gets every update, in order.
func TestStuckReaderDoesNotHoldUpOthers(t *testing.T) {
	h := NewHub(Config{SendBuffer: 8})
	stuck, err := h.Register("b", true)
	if err != nil {
		t.Fatal(err)
	}
	const readers, updates = 9, 500
	got := make([][]uint64, readers)
	var wg sync.WaitGroup
	for i := range readers {
		c, err := h.Register("b", false)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = drain(c)
		}()
	}
	for rev := uint64(1); rev <= updates; rev++ {
		h.Dispatch(stateEvent("b", rev))
		if rev%4 == 0 {
			// Let the readers catch up within their buffer: the test is
			// about the stuck one, not about readers racing the dispatcher.
			waitEmpty(t, h, stuck)
		}
	}
	if stuck.Reason() != ReasonSlow {
		t.Fatalf("stuck connection closed for %q", stuck.Reason())
	}
	h.Close()
	wg.Wait()
	for i, revs := range got {
		if len(revs) != updates {
			t.Fatalf("reader %d got %d of %d updates", i, len(revs), updates)
		}
		for j, r := range revs {
			if r != uint64(j+1) {
				t.Fatalf("reader %d: update %d has revision %d", i, j, r)
			}
		}
	}
}

// waitEmpty waits until every connection but skip has read its queue.
func waitEmpty(t *testing.T, h *Hub, skip *Conn) {
	t.Helper()
	for {
		busy := false
		for _, c := range h.conns("") {
			c.mu.Lock()
			if c != skip && len(c.queue) > 0 {
				busy = true
			}
			c.mu.Unlock()
		}
		if !busy {
			return
		}
		runtime.Gosched()
	}
}

func TestOfferStateNeverGoesBack(t *testing.T) {
	h := NewHub(Config{})
	c, _ := h.Register("b", true)
	c.OfferState(&classboard.BoardState{BoardID: "b", Revision: 5})
	h.Dispatch(stateEvent("b", 4)) // a change older than the first state
	h.Dispatch(stateEvent("b", 5)) // the same one again
	h.Dispatch(stateEvent("b", 6))
	c.Close()
	if revs := drain(c); len(revs) != 2 || revs[0] != 5 || revs[1] != 6 {
		t.Fatalf("revisions %v, want [5 6]", revs)
	}
}

func TestMoveAndUnpaired(t *testing.T) {
	h := NewHub(Config{})
	var conns []*Conn
	for range 10 {
		c, _ := h.Register("a", false)
		conns = append(conns, c)
	}
	other, _ := h.Register("z", true)
	if n := h.Move(0.5); n != 6 { // half of 11, rounded up
		t.Fatalf("moved %d", n)
	}
	moved := 0
	for _, c := range append(conns, other) {
		msgs, ended := c.Take()
		if !ended {
			continue
		}
		var m Message
		json.Unmarshal(msgs[0], &m)
		if len(msgs) != 1 || c.Reason() != ReasonMove || m.Type != TypeMove || m.ServerTime.IsZero() {
			t.Fatalf("moved connection: reason %q, messages %d, first %+v", c.Reason(), len(msgs), m)
		}
		moved++
	}
	if moved != 6 || h.Count() != 5 {
		t.Fatalf("moved %d, left %d", moved, h.Count())
	}
	h.Dispatch(classboard.BoardEvent{Type: classboard.EventUnpaired, BoardID: "a"})
	h.Dispatch(classboard.BoardEvent{Type: classboard.EventUnpaired, BoardID: "z"})
	if h.Count() != 0 {
		t.Fatalf("%d connections left after unpairing", h.Count())
	}
	h.Close()
	if _, err := h.Register("a", true); err != ErrClosed {
		t.Fatalf("register after close: %v", err)
	}
}

// A pointer move goes to the board's own connection only, and a board that
// does not read its messages loses pointer moves, never its connection or
// the room its next state needs.
func TestPointerGoesToTheBoardAndIsDroppedWhenBusy(t *testing.T) {
	h := NewHub(Config{SendBuffer: 8})
	board, err := h.Register("b", true)
	if err != nil {
		t.Fatal(err)
	}
	teacher, err := h.Register("b", false)
	if err != nil {
		t.Fatal(err)
	}
	x, y := 0.25, 0.75
	for range 50 {
		h.Dispatch(classboard.BoardEvent{Type: classboard.EventPointer, BoardID: "b", Pointer: &classboard.Pointer{X: &x, Y: &y}})
	}
	if msgs, _ := teacher.Take(); len(msgs) != 0 {
		t.Fatalf("the teacher's connection got %d pointer messages", len(msgs))
	}
	h.Dispatch(stateEvent("b", 1))
	msgs, ended := board.Take()
	if ended {
		t.Fatalf("the busy board was closed (%s)", board.Reason())
	}
	if len(msgs) != 5 {
		t.Fatalf("the board queued %d messages for 50 pointer moves and a state, want 4 (half its buffer) and the state", len(msgs))
	}
	var m Message
	if err := json.Unmarshal(msgs[0], &m); err != nil || m.Type != TypePointer || *m.Pointer.X != x || *m.Pointer.Y != y {
		t.Fatalf("first message %+v (%v)", m, err)
	}
	if err := json.Unmarshal(msgs[4], &m); err != nil || m.Type != TypeState {
		t.Fatalf("last message %+v (%v)", m, err)
	}
}
