package live

import (
	"sync/atomic"
	"testing"
)

type countMetrics struct{ queued, dropped atomic.Int64 }

func (m *countMetrics) LiveQueued()  { m.queued.Add(1) }
func (m *countMetrics) LiveDropped() { m.dropped.Add(1) }

// The hub counts each message it queues, and a slow reader it drops once.
func TestHubCountsQueuedAndDropped(t *testing.T) {
	m := &countMetrics{}
	h := NewHub(Config{SendBuffer: 2, Metrics: m})
	slow, err := h.Register("b", true)
	if err != nil {
		t.Fatal(err)
	}
	for rev := uint64(1); rev <= 5; rev++ {
		h.Dispatch(stateEvent("b", rev))
	}
	if slow.Reason() != ReasonSlow {
		t.Fatalf("the reader that read nothing was closed for %q", slow.Reason())
	}
	if q, d := m.queued.Load(), m.dropped.Load(); q != 2 || d != 1 {
		t.Fatalf("queued %d, dropped %d; want 2 and 1", q, d)
	}
}
