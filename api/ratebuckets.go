package api

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/classboard/classboard"
)

// rateBuckets is a token bucket per key (a board's pointer moves, a
// pupil's live tickets), kept in this node's memory: a limit that costs no
// store write (a key's requests spread over several nodes get each node's
// rate; each node's cost stays bounded).
type rateBuckets struct {
	rate  rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	swept   time.Time
}

// newRateBuckets allows r requests a second per key, burst at once.
func newRateBuckets(r float64, burst int) *rateBuckets {
	return &rateBuckets{rate: rate.Limit(r), burst: burst, buckets: map[string]*rate.Limiter{}}
}

// allow spends one request of key at now, or returns ERATELIMITED with
// message, rule and the wait in whole seconds as Retry-After.
func (l *rateBuckets) allow(key string, now time.Time, message, rule string) error {
	if ok, wait := l.take(key, now); !ok {
		return &classboard.Error{Code: classboard.ERATELIMITED, Message: message,
			RetryAfter: time.Duration(math.Ceil(wait.Seconds())) * time.Second, Rule: rule}
	}
	return nil
}

// take spends one request of key at now, or returns how long until the
// next one is allowed.
func (l *rateBuckets) take(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	lim := l.buckets[key]
	if lim == nil {
		lim = rate.NewLimiter(l.rate, l.burst)
		l.buckets[key] = lim
	}
	r := lim.ReserveN(now, 1)
	if wait := r.DelayFrom(now); wait > 0 {
		// Refused: the request is not made, so it costs nothing.
		r.CancelAt(now)
		return false, wait
	}
	return true, 0
}

// sweep forgets, once a minute, the keys whose bucket has filled up
// again: they are as good as new, and the map stays as small as the keys
// used lately.
func (l *rateBuckets) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	for key, lim := range l.buckets {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, key)
		}
	}
}
