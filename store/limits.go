package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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

// hit adds one to scope/subject's counter and returns the new count. The
// increment is a compare-and-set, so concurrent hits on several nodes all
// count.
func (s *Store) hit(ctx context.Context, scope, subject string, window time.Duration) (int, error) {
	now := s.cfg.Now()
	key, end := limitKey(scope, subject, window, now)
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
