package bench

import (
	"sync"
	"sync/atomic"
	"time"
)

// teacher is a signed-in teacher. Its device talks to one node and moves
// to the next when that one fails, like the teacher app.
type teacher struct {
	email string
	token string
	// addr is the school's client address, sent as X-Forwarded-For when
	// its boards register: registrations are limited per address.
	addr   string
	origin atomic.Int32 // index of the node the device talks to
}

// stateBody is what a teacher writes: absolute values. Each write sets a
// timer ending at a new instant, so every write differs from the last
// and a retried write can be recognised in a 412's current state.
type stateBody struct {
	LessonID string `json:"lesson_id"`
	Slide    int    `json:"slide"`
	Blank    bool   `json:"blank"`
	Timer    *timer `json:"timer"`
}

type timer struct {
	EndsAt time.Time `json:"ends_at"`
}

// boardState is a board state as the API returns it.
type boardState struct {
	stateBody
	Revision uint64 `json:"revision"`
}

// same reports whether the stored state s is what body wrote.
func (s *boardState) same(body stateBody) bool {
	if s.Blank != body.Blank || s.LessonID != body.LessonID || s.Slide != body.Slide || (s.Timer == nil) != (body.Timer == nil) {
		return false
	}
	return s.Timer == nil || s.Timer.EndsAt.Equal(body.Timer.EndsAt)
}

// sentAt is when a write was sent and when its answer came.
type sentAt struct {
	sent, acked time.Time
}

// board is one simulated board: its credentials, its live connection and
// the bookkeeping that matches each acknowledged write with its receipt.
// A write's answer and the board's receipt race (a node may push before it
// answers), so whichever comes second completes the update.
type board struct {
	idx     int
	id      string
	secret  string
	teacher *teacher
	home    int // the node it connects to first
	// shard is the board-state shard its live tickets name (-1: none yet).
	shard atomic.Int32

	liveNode atomic.Int32         // node of its live connection; -1 while it has none
	kick     chan struct{}        // write now (the failover scenario's click)
	room     atomic.Pointer[room] // the activity scenario's room on this board

	mu         sync.Mutex
	rev        uint64    // the revision the teacher saw last: the next If-Match
	lastBody   stateBody // the last acknowledged write
	lastAcked  uint64
	lastRecv   uint64
	pending    map[uint64]sentAt    // acknowledged, not received yet
	early      map[uint64]time.Time // received, not acknowledged yet
	steer      []time.Duration      // send to receipt
	sentAt     []time.Time          // when each of steer's writes was sent
	ack        []time.Duration      // answer to receipt
	delivered  int                  // acknowledged and received
	superseded int                  // acknowledged, but a newer state reached the board first
	connected  bool                 // it had a live connection once
	connectIn  time.Duration        // from its first attempt to its first state
	killAt     time.Time            // when a node was killed; zero before
	liveKilled bool                 // its live connection was on the killed node
	failover   time.Duration        // from killAt to the receipt of a write sent after it
	failedOver bool
}

func newBoard(idx int, t *teacher, home int) *board {
	b := &board{idx: idx, teacher: t, home: home, kick: make(chan struct{}, 1),
		pending: map[uint64]sentAt{}, early: map[uint64]time.Time{}}
	b.liveNode.Store(-1)
	b.shard.Store(-1)
	return b
}

// received notes that the board got revision rev at t. It reports
// whether this completed an acknowledged update.
func (b *board) received(rev uint64, t time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lastRecv = max(b.lastRecv, rev)
	done := false
	if s, ok := b.pending[rev]; ok {
		delete(b.pending, rev)
		b.record(s, t)
		done = true
	} else if rev > b.lastAcked {
		b.early[rev] = t
	}
	// Boards show states, not commands: an older acknowledged state that
	// never arrived was replaced by this one, which the hub never sends
	// out of order.
	for r := range b.pending {
		if r < rev {
			delete(b.pending, r)
			b.superseded++
		}
	}
	return done
}

// acknowledged notes that the write sent at s.sent was answered at
// s.acked with revision rev. It reports whether the board had it already.
func (b *board) acknowledged(rev uint64, body stateBody, s sentAt) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if rev > b.lastAcked {
		b.lastAcked, b.lastBody = rev, body
	}
	b.rev = max(b.rev, rev)
	done := false
	switch t, ok := b.early[rev]; {
	case ok:
		delete(b.early, rev)
		b.record(s, t)
		done = true
	case rev < b.lastRecv:
		b.superseded++
	default:
		b.pending[rev] = s
	}
	for r := range b.early {
		if r < rev {
			delete(b.early, r)
		}
	}
	return done
}

func (b *board) record(s sentAt, t time.Time) {
	b.steer = append(b.steer, t.Sub(s.sent))
	b.sentAt = append(b.sentAt, s.sent)
	b.ack = append(b.ack, t.Sub(s.acked))
	b.delivered++
	if !b.killAt.IsZero() && !b.failedOver && !s.sent.Before(b.killAt) {
		b.failover, b.failedOver = t.Sub(b.killAt), true
	}
}

// checkStored checks the stored state st against the board's last
// acknowledged write: ok is false when the store holds an older revision,
// or that revision with other content. It returns the acknowledged revision.
func (b *board) checkStored(st *boardState) (acked uint64, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.lastAcked == 0: // never written
		return 0, true
	case st.Revision < b.lastAcked:
		return b.lastAcked, false
	case st.Revision == b.lastAcked:
		return b.lastAcked, st.same(b.lastBody)
	}
	return b.lastAcked, true
}

// nextWrite returns the If-Match of the next write and its body.
func (b *board) nextWrite(now time.Time) (uint64, stateBody) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rev, stateBody{
		Blank: !b.lastBody.Blank,
		Timer: &timer{EndsAt: now.Add(time.Hour).UTC().Truncate(time.Millisecond)},
	}
}

// resync takes the current revision after a conflicting write.
func (b *board) resync(rev uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rev = max(b.rev, rev)
}

// firstConnect records the board's first live connection; it reports
// whether this was the first.
func (b *board) firstConnect(d time.Duration) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.connected {
		return false
	}
	b.connected, b.connectIn = true, d
	return true
}

// hasConnected reports whether the board had a live connection once.
func (b *board) hasConnected() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.connected
}

// markKilled records that a node was killed at t, and whether it held
// the board's live connection.
func (b *board) markKilled(t time.Time, live bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.killAt, b.liveKilled = t, live
}

// requestWrite makes the steering loop write at once.
func (b *board) requestWrite() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}
