package store

import (
	"fmt"
	"testing"
	"time"
)

// A bucket that outgrows its limit leaves the view: memory stays bounded,
// and its documents are read from the store.
func TestViewOverflowReadsStore(t *testing.T) {
	tb := newViewTable("sessions", 3, func(string, ...any) {}, decodeJSON[sessionDoc])
	tb.caughtUp(0)
	tb.verify(time.Now(), 0)
	for i := range 3 {
		tb.wrote(fmt.Sprint(i), uint64(i+1), []byte(`{"teacher_id":"t"}`))
	}
	if _, _, ans := tb.get("2"); ans != viewHit {
		t.Fatalf("answer %d within the limit, want a hit", ans)
	}
	tb.wrote("3", 4, []byte(`{"teacher_id":"t"}`))
	if n, over := tb.size(); n != 0 || !over {
		t.Fatalf("after the limit: %d keys, overflow %v", n, over)
	}
	if _, _, ans := tb.get("2"); ans != viewAsk {
		t.Fatalf("answer %d after the limit, want ask the store", ans)
	}
}

// The view answers only while a recent check of the stream found it
// caught up; a write the watch has not delivered yet keeps it from
// vouching after viewMaxLag.
func TestViewFreshness(t *testing.T) {
	tb := newViewTable("sessions", 10, func(string, ...any) {}, decodeJSON[sessionDoc])
	tb.wrote("a", 1, []byte(`{"teacher_id":"t"}`))
	if _, _, ans := tb.get("a"); ans != viewAsk {
		t.Fatal("a view that has not loaded answered")
	}
	tb.caughtUp(1)
	tb.verify(time.Now(), 1)
	if _, _, ans := tb.get("a"); ans != viewHit {
		t.Fatal("a caught-up view did not answer")
	}
	old := time.Now().Add(-viewMaxLag)
	tb.verify(old, 5) // the stream is at 5; the watch has delivered 1
	tb.mu.Lock()
	tb.verified = old
	tb.mu.Unlock()
	if _, _, ans := tb.get("a"); ans != viewAsk {
		t.Fatal("a view behind the stream for viewMaxLag still answered")
	}
}
