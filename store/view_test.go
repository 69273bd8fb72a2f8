package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
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

// A watch that starts again loads the bucket from scratch: what the old
// watch left behind (a key deleted meanwhile, whose marker may be gone)
// is forgotten, and the table answers nothing until the load is in.
func TestViewResetForgets(t *testing.T) {
	tb := newViewTable("sessions", 10, func(string, ...any) {}, decodeJSON[sessionDoc])
	tb.caughtUp(1)
	tb.verify(time.Now(), 1)
	tb.wrote("a", 1, []byte(`{"teacher_id":"t"}`))
	tb.reset()
	if n, _ := tb.size(); n != 0 {
		t.Fatalf("%d keys after a reset", n)
	}
	if _, _, ans := tb.get("a"); ans != viewAsk {
		t.Fatalf("answer %d before the load, want ask the store", ans)
	}
}

// While a bucket's stream has no leader, the view goes on answering as
// long as it has applied everything this node's replica holds, and only
// within viewElectionGrace of the leader's last word; a replica holding
// more than the view, or a question of the leader left open, stops it.
func TestViewDuringElection(t *testing.T) {
	stale := func(tb *viewTable[sessionDoc]) {
		tb.mu.Lock()
		tb.verified = time.Now().Add(-viewMaxLag)
		tb.mu.Unlock()
	}
	newTable := func() *viewTable[sessionDoc] {
		tb := newViewTable("sessions", 10, func(string, ...any) {}, decodeJSON[sessionDoc])
		tb.watched(&watchEntry{key: "a", rev: 3, value: []byte(`{"teacher_id":"t"}`), op: jetstream.KeyValuePut})
		tb.caughtUp(3)
		tb.verify(time.Now(), 3)
		stale(tb)
		return tb
	}

	tb := newTable()
	if _, _, ans := tb.get("b"); ans != viewAsk {
		t.Fatalf("answer %d for a key the view lacks with a leader, want ask the store", ans)
	}
	tb.verifyLeaderless(time.Now(), 3)
	if _, _, ans := tb.get("a"); ans != viewHit {
		t.Fatalf("answer %d during an election with nothing missing, want a hit", ans)
	}
	if _, _, ans := tb.get("b"); ans != viewGone {
		t.Fatalf("answer %d for a key the view lacks during an election, want gone: none can be made", ans)
	}
	tb.verify(time.Now(), 3) // the new leader
	if _, _, ans := tb.get("b"); ans != viewAsk {
		t.Fatalf("answer %d for a key the view lacks after the election, want ask the store", ans)
	}

	tb = newTable()
	tb.verifyLeaderless(time.Now(), 4) // the replica holds a write the watch did not deliver
	if _, _, ans := tb.get("a"); ans != viewAsk {
		t.Fatalf("answer %d with the replica ahead of the view, want ask the store", ans)
	}

	tb = newTable()
	tb.verifyLeaderless(time.Now().Add(viewElectionGrace+time.Second), 3)
	if _, _, ans := tb.get("a"); ans != viewAsk {
		t.Fatalf("answer %d after the grace, want ask the store", ans)
	}

	tb = newTable()
	tb.verify(time.Now(), 5) // the leader said 5 before it went; the view has 3
	tb.verifyLeaderless(time.Now(), 3)
	if _, _, ans := tb.get("a"); ans != viewAsk {
		t.Fatalf("answer %d behind the leader's last word, want ask the store", ans)
	}
}

// A store read for a key the view lacks, sent as its stream's leader died,
// stops waiting for the election once the view sees the leader gone and
// can answer; with a leader, the store's answer counts.
func TestViewAwaitAnswersDuringElection(t *testing.T) {
	tb := newViewTable("sessions", 10, func(string, ...any) {}, decodeJSON[sessionDoc])
	tb.caughtUp(3)
	tb.verify(time.Now(), 3)
	cancelled := make(chan struct{})
	_, _, ans, err := tb.await(t.Context(), "b", func(ctx context.Context) error {
		tb.verifyLeaderless(time.Now(), 3) // the leader is seen gone after the read left
		<-ctx.Done()                       // and the store does not answer during the election
		close(cancelled)
		return ctx.Err()
	})
	if ans != viewGone || err != nil {
		t.Fatalf("answer %d, %v during the election, want gone", ans, err)
	}
	select {
	case <-cancelled:
	default:
		t.Fatal("the store read was left running")
	}

	tb.verify(time.Now(), 3) // a leader again
	_, _, ans, err = tb.await(t.Context(), "b", func(context.Context) error { return errNotFound })
	if ans != viewAsk || !errors.Is(err, errNotFound) {
		t.Fatalf("answer %d, %v with a leader, want the store's not found", ans, err)
	}
}

// BenchmarkViewMemory reports what one key costs the view (heap bytes per
// key, after a collection) for the biggest documents it keeps: a session
// and a lesson head with its index entries. The figures bound the view's
// memory: DefaultViewMaxKeys keys per bucket at most.
func BenchmarkViewMemory(b *testing.B) {
	const keys = 100_000
	session := []byte(`{"v":1,"teacher_id":"01a22eaf-fc51-77d4-8cab-cddc6bc5639c","device":"Ada's laptop in room 12","created_at":"2026-11-30T23:00:15.057Z","idle_until":"2026-12-30T23:00:15.057Z","expires_at":"2027-02-28T23:00:15.057Z"}`)
	for _, tc := range []struct {
		name string
		fill func(*view, int)
	}{
		{"session", func(v *view, i int) { v.sessions.wrote(fmt.Sprintf("%064d", i), uint64(i+1), session) }},
		{"lesson", func(v *view, i int) {
			doc := fmt.Sprintf(`{"v":1,"id":"01a22eaf-fc51-77d4-8cab-%012d","teacher_id":"01a22eaf-fc51-77d4-8cab-%012d","title":"Fractions and decimals, lesson %d of the autumn term","slides":[{},{},{}],"created_at":"2026-11-30T23:00:15.057Z","updated_at":"2026-11-30T23:00:15.057Z"}`, i, i%500, i)
			v.lessons.wrote(fmt.Sprintf("t%d.l%d", i%500, i), uint64(i+1), []byte(doc))
		}},
		// Three slides with a picture each (of the teacher's 20): the
		// per-picture use counts and each head's media ids.
		{"lesson-3-pictures", func(v *view, i int) {
			pic := func(k int) string { return fmt.Sprintf(`{"kind":"image","media_id":"%064d"}`, (i+k)%20) }
			doc := fmt.Sprintf(`{"v":1,"id":"01a22eaf-fc51-77d4-8cab-%012d","teacher_id":"01a22eaf-fc51-77d4-8cab-%012d","title":"Fractions and decimals, lesson %d of the autumn term","slides":[%s,%s,%s],"created_at":"2026-11-30T23:00:15.057Z","updated_at":"2026-11-30T23:00:15.057Z"}`, i, i%500, i, pic(0), pic(1), pic(2))
			v.lessons.wrote(fmt.Sprintf("t%d.l%d", i%500, i), uint64(i+1), []byte(doc))
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				before := heapInUse()
				v := newView(keys, func(string, ...any) {})
				for i := range keys {
					tc.fill(v, i)
				}
				b.ReportMetric(float64(heapInUse()-before)/keys, "bytes/key")
				runtime.KeepAlive(v)
			}
		})
	}
}

func heapInUse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

// size returns how many keys the table holds and whether it overflowed.
func (t *viewTable[T]) size() (int, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.items), t.overflow
}
