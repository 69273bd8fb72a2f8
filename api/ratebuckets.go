package api

import (
	"math"
	"sync"
	"time"

	"github.com/classboard/classboard"
)

// rateBuckets is a token bucket per key (a board's pointer moves, a
// pupil's live tickets), kept in this node's memory: a limit that costs no
// store write (a key's requests spread over several nodes get each node's
// rate; each node's cost stays bounded).
type rateBuckets struct {
	rate, burst float64

	mu      sync.Mutex
	buckets map[string]*rateBucket
	swept   time.Time
}

type rateBucket struct {
	tokens float64
	last   time.Time
}

// newRateBuckets allows rate requests a second per key, burst at once.
func newRateBuckets(rate float64, burst int) *rateBuckets {
	return &rateBuckets{rate: rate, burst: float64(burst), buckets: map[string]*rateBucket{}}
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
	b := l.buckets[key]
	if b == nil {
		b = &rateBucket{tokens: l.burst, last: now}
		l.buckets[key] = b
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

// sweep forgets, once a minute, the keys whose bucket has filled up
// again: they are as good as new, and the map stays as small as the keys
// used lately.
func (l *rateBuckets) sweep(now time.Time) {
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
