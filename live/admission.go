package live

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/classboard/classboard"
)

// Admission paces new live connections: a herd (a node's restart moving a
// third of a city's boards, a school's power coming back) is taken in at a
// rate the node can sustain, and everyone else is told when to come back,
// each to a different second, so that the herd returns spread out instead
// of all at once. It is a token bucket of rate per second (burst deep);
// a caller it refuses is booked into the first coming second that has
// fewer than bookFraction × rate bookings, and told that second as its
// Retry-After. The apps wait Retry-After × [0.5, 1.5) (client.js jitter):
// the returns of all booked seconds together come in at about 1.1 times
// the booking rate, so booking 90 % of the rate keeps them near the rate.
//
// The rate assumes the node gets its CPUs; when it does not (a shared
// machine), connections it admitted pile up unfinished. So it also bounds
// the connection set-ups in flight (maxInflight): past it, it refuses
// whatever the bucket holds, and so takes in only what it finishes.
type Admission struct {
	rate        float64
	burst       float64
	maxInflight int

	mu       sync.Mutex
	tokens   float64
	last     time.Time
	booked   map[int64]int // unix second -> callers told to come back then
	inflight int
}

// bookFraction is the share of each second's admissions booked for callers
// sent away; the rest is room for the spread of their returns.
const bookFraction = 0.9

// NewAdmission admits rate connections per second, burst at once, and
// at most maxInflight set-ups in flight.
func NewAdmission(rate float64, burst, maxInflight int) *Admission {
	return &Admission{rate: rate, burst: float64(burst), maxInflight: maxInflight, tokens: float64(burst), booked: map[int64]int{}}
}

// Enter counts a set-up in flight that was admitted before (a connection
// with its ticket); Done ends one that Admit or Enter counted.
func (a *Admission) Enter() { a.mu.Lock(); a.inflight++; a.mu.Unlock() }

// Done ends a set-up that Admit or Enter counted.
func (a *Admission) Done() { a.mu.Lock(); a.inflight--; a.mu.Unlock() }

// Admit takes one connection in at now (count it Done when its set-up
// ends), or says when to come back.
func (a *Admission) Admit(now time.Time) (bool, time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	// Callers read the clock before they get the lock, so times come out
	// of order: the bucket only ever moves forward (a refill clipped at the
	// burst and then taken back by an earlier time would drain it for good).
	if now.After(a.last) {
		if !a.last.IsZero() {
			a.tokens = min(a.burst, a.tokens+now.Sub(a.last).Seconds()*a.rate)
		}
		a.last = now
	}
	if a.tokens >= 1 && a.inflight < a.maxInflight {
		a.tokens--
		a.inflight++
		return true, 0
	}
	per := max(1, int(a.rate*bookFraction))
	sec := now.Unix()
	for s := range a.booked {
		if s <= sec {
			delete(a.booked, s) // bounded: at most the seconds booked ahead
		}
	}
	s := sec + 1
	for a.booked[s] >= per {
		s++
	}
	a.booked[s]++
	return false, time.Unix(s, 0).Sub(now)
}

// ErrBusy is wrapped by the refusal of a connection the node cannot take
// in yet: an answer the node gives by design, not a failure to log.
var ErrBusy = errors.New("admission: come back later")

func errBusy(retryAfter time.Duration) error {
	return fmt.Errorf("%w: %w", &classboard.Error{Code: classboard.EUNAVAILABLE, RetryAfter: time.Duration(math.Ceil(retryAfter.Seconds())) * time.Second,
		Message: "This server is connecting many boards at once; it will take this one in a moment."}, ErrBusy)
}
