package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Limits are kept in the store, not in each node's memory: a limit kept per
// node would multiply with the number of nodes.

// limitDoc is one fixed-window counter.
type limitDoc struct {
	N int `json:"n"`
}

// limitKey names the counter of scope/subject in the window containing now.
// subject is hashed: it may be an e-mail or an address.
func limitKey(scope, subject string, window time.Duration, now time.Time) (string, time.Time) {
	start := now.Truncate(window)
	return fmt.Sprintf("%s.%s.%d", scope, hashKey(subject), start.Unix()), start.Add(window)
}

// count returns how many hits scope/subject has in the current window and
// how long until the window ends.
func (s *Store) count(ctx context.Context, scope, subject string, window time.Duration) (int, time.Duration, error) {
	now := s.cfg.Now()
	key, end := limitKey(scope, subject, window, now)
	var d limitDoc
	if _, err := s.limits.get(ctx, key, &d); err != nil && !errors.Is(err, errNotFound) {
		return 0, 0, err
	}
	return d.N, end.Sub(now), nil
}

// recentCounts keeps the counters this node read or hit lately, for
// countRecent.
type recentCounts struct {
	mu sync.Mutex
	m  map[string]recentCount
	// reading holds a channel per counter being read, closed when the
	// read is done: a class joining at once waits for one read.
	reading map[string]chan struct{}
}

type recentCount struct {
	n  int
	at time.Time
}

// maxRecentCounts bounds the counters a node remembers: one per address
// that joined lately; beyond it the oldest are forgotten (read again).
const maxRecentCounts = 10_000

// lookup returns the remembered count of key if it is fresh, else a
// channel to wait on while another caller reads it, else (nil, false):
// the caller reads it and calls done.
func (r *recentCounts) lookup(key string, maxAge time.Duration, now time.Time) (int, bool, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.m[key]; ok && now.Sub(c.at) < maxAge {
		return c.n, true, nil
	}
	if ch := r.reading[key]; ch != nil {
		return 0, false, ch
	}
	if r.reading == nil {
		r.reading = map[string]chan struct{}{}
	}
	r.reading[key] = make(chan struct{})
	return 0, false, nil
}

// done ends a read lookup asked the caller for.
func (r *recentCounts) done(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	close(r.reading[key])
	delete(r.reading, key)
}

func (r *recentCounts) put(key string, n int, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]recentCount{}
	}
	if len(r.m) >= maxRecentCounts {
		for k, c := range r.m {
			if now.Sub(c.at) >= time.Second || len(r.m) >= maxRecentCounts {
				delete(r.m, k)
			}
		}
	}
	if c, ok := r.m[key]; !ok || n >= c.n {
		r.m[key] = recentCount{n: n, at: now}
	}
}

// countRecent is count, from this node's memory when it read or hit the
// counter less than maxAge ago: for counters read on every request of a
// burst, where counting another node's hits up to maxAge late is fine.
// Callers asking at once share one read.
func (s *Store) countRecent(ctx context.Context, scope, subject string, window, maxAge time.Duration) (int, time.Duration, error) {
	for {
		now := s.cfg.Now()
		key, end := limitKey(scope, subject, window, now)
		n, ok, wait := s.recent.lookup(key, maxAge, now)
		switch {
		case ok:
			return n, end.Sub(now), nil
		case wait != nil:
			select {
			case <-wait:
				continue // read by another caller (or failed: read again)
			case <-ctx.Done():
				return 0, 0, ctx.Err()
			}
		}
		n, left, err := s.count(ctx, scope, subject, window)
		if err == nil {
			s.recent.put(key, n, now)
		}
		s.recent.done(key)
		return n, left, err
	}
}

// hit adds one to scope/subject's counter and returns the new count. The
// increment is a compare-and-set, so concurrent hits on several nodes all
// count.
func (s *Store) hit(ctx context.Context, scope, subject string, window time.Duration) (n int, err error) {
	now := s.cfg.Now()
	key, end := limitKey(scope, subject, window, now)
	defer func() {
		if err == nil {
			s.recent.put(key, n, now)
		}
	}()
	ttl := end.Sub(now) + time.Second
	for attempt := range 30 {
		if attempt > 0 {
			// Many boards of one school booting at once all count
			// against one address: spread the retries out.
			select {
			case <-time.After(rand.N(time.Duration(attempt) * 2 * time.Millisecond)):
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
		var d limitDoc
		rev, err := s.limits.get(ctx, key, &d)
		switch {
		case errors.Is(err, errNotFound):
			if _, err = s.limits.create(ctx, key, limitDoc{N: 1}, ttl); err == nil {
				return 1, nil
			}
		case err == nil:
			d.N++
			if _, err = s.limits.update(ctx, key, d, rev, ttl); err == nil {
				return d.N, nil
			}
		}
		if !errors.Is(err, errExists) && !errors.Is(err, errRevision) {
			return 0, err
		}
	}
	return 0, unavailable(fmt.Errorf("count %s: too much contention", scope))
}

// noteLimit logs and counts a limit that acted without an error to carry
// its rule to the API (which logs and counts those): a reset request that
// queues nothing, since a 429 there would tell whether the e-mail has an
// account.
func (s *Store) noteLimit(ctx context.Context, rule string) {
	s.log.LogAttrs(ctx, slog.LevelWarn, "security event", slog.String("rule", rule))
	s.cfg.Metrics.SecurityEvent(rule)
}
