package store

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Boards of one school booting at once all count against one address:
// every concurrent hit is counted, and none fails for contention.
func TestConcurrentHitsAllCount(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			if _, err := s.hit(ctx, "burst", "10.1.2.3", time.Hour); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent hit: %v", err)
	}
	if got, _, err := s.count(ctx, "burst", "10.1.2.3", time.Hour); err != nil || got != n {
		t.Fatalf("count %d (%v), want %d", got, err, n)
	}
}
