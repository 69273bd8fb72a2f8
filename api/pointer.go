package api

import (
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/classboard/classboard"
)

// Pointer moves a node takes per board: the teacher app sends at most 20 a
// second while the teacher drags; the burst covers a press after a pause.
const (
	DefaultPointerRate  = 30
	DefaultPointerBurst = 15
)

// pointerLimits is a token bucket per board, kept in this node's memory: a
// pointer move costs no store write, so neither may its limit (a board's
// moves spread over several nodes get each node's rate; each node's cost
// stays bounded).
type pointerLimits struct {
	rate, burst float64

	mu      sync.Mutex
	buckets map[string]*pointerBucket
	swept   time.Time
}

type pointerBucket struct {
	tokens float64
	last   time.Time
}

func newPointerLimits(rate float64, burst int) *pointerLimits {
	if rate <= 0 {
		rate = DefaultPointerRate
	}
	if burst <= 0 {
		burst = DefaultPointerBurst
	}
	return &pointerLimits{rate: rate, burst: float64(burst), buckets: map[string]*pointerBucket{}}
}

// take spends one move of board at now, or returns how long until the
// next one is allowed.
func (l *pointerLimits) take(board string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b := l.buckets[board]
	if b == nil {
		b = &pointerBucket{tokens: l.burst, last: now}
		l.buckets[board] = b
	}
	if now.After(b.last) {
		b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// sweep forgets, once a minute, the boards whose bucket has filled up
// again: they are as good as new, and the map stays as small as the
// boards pointed at lately.
func (l *pointerLimits) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	for id, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, id)
		}
	}
}

// postPointer sends the teacher's pointer to the board on every node. It
// answers 204: nothing is stored, so there is nothing to return.
func (s *Server) postPointer(w http.ResponseWriter, r *http.Request) {
	var p classboard.Pointer
	if err := decode(w, r, s.cfg.MaxBodyBytes, &p); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := p.Validate(); err != nil {
		s.writeError(w, r, err)
		return
	}
	id := r.PathValue("id")
	// The owner first: nobody else may spend the board's moves.
	if _, err := s.svc.Boards.Board(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	if ok, wait := s.pointers.take(id, time.Now()); !ok {
		s.writeError(w, r, &classboard.Error{Code: classboard.ERATELIMITED, Message: "Too many pointer moves; send at most 20 a second.",
			RetryAfter: time.Duration(math.Ceil(wait.Seconds())) * time.Second, Rule: "pointer-per-board"})
		return
	}
	if err := s.svc.Pointers.Point(r.Context(), id, p); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
