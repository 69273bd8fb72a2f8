package testcluster

import (
	"sync"
	"time"

	"github.com/classboard/classboard/node"
)

// Clock is a clock a test moves by hand, for store.Config.Now: a test
// that needs a window to pass (a rate limit's minute, a pairing code's
// lifetime) moves the clock instead of waiting.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at now.
func NewClock(now time.Time) *Clock { return &Clock{now: now} }

// Now is the clock's time; it moves only by Add.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock forward by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// WithClock makes the node's store use c for its limits and pairing codes.
func WithClock(c *Clock) Option {
	return func(cfg *node.Config) { cfg.Store.Now = c.Now }
}
