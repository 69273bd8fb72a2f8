package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/classboard/classboard"
)

// recordMetrics remembers what the store counted.
type recordMetrics struct {
	mu    sync.Mutex
	ops   []string // "bucket op failed"
	rules []string
}

func (m *recordMetrics) ObserveStoreOp(bucket, op string, _ time.Duration, failed bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := bucket + " " + op
	if failed {
		s += " failed"
	}
	m.ops = append(m.ops, s)
}

func (m *recordMetrics) SecurityEvent(rule string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rules = append(m.rules, rule)
}

// Bucket operations are timed, and only real failures count as errors:
// a missing key or a lost compare-and-set is the store's answer, and a
// caller that gave up is not the store's failure; a passed deadline is.
func TestBucketOperationsAreObserved(t *testing.T) {
	s := openTestStore(t)
	rec := &recordMetrics{}
	b := *s.limits
	b.metrics = rec
	ctx := context.Background()

	var d limitDoc
	if _, err := b.get(ctx, "missing", &d); err != errNotFound {
		t.Fatalf("get missing: %v", err)
	}
	if _, err := b.create(ctx, "k", limitDoc{N: 1}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := b.update(ctx, "k", limitDoc{N: 2}, 999, time.Minute); err != errRevision {
		t.Fatalf("update with a stale revision: %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := b.get(canceled, "k", &d); err == nil {
		t.Fatal("get on a canceled context succeeded")
	}
	late, cancelLate := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancelLate()
	if _, err := b.get(late, "k", &d); err == nil {
		t.Fatal("get after its deadline succeeded")
	}
	want := []string{"limits get", "limits put", "limits put", "limits get", "limits get failed"}
	if !slices.Equal(rec.ops, want) {
		t.Fatalf("observed %q, want %q", rec.ops, want)
	}
}

// The media object store is timed like the buckets; a missing object is
// an answer, not a failure.
func TestMediaOperationsAreObserved(t *testing.T) {
	s := openTestStore(t)
	rec := &recordMetrics{}
	o := observedObjects{ObjectStore: s.media.(observedObjects).ObjectStore, metrics: rec}
	ctx := context.Background()
	if _, err := o.Put(ctx, jetstream.ObjectMeta{Name: "pic"}, strings.NewReader("bytes")); err != nil {
		t.Fatal(err)
	}
	if _, err := o.GetInfo(ctx, "missing"); !errors.Is(err, jetstream.ErrObjectNotFound) {
		t.Fatalf("info of a missing object: %v", err)
	}
	if err := o.Delete(ctx, "pic"); err != nil {
		t.Fatal(err)
	}
	want := []string{"media put", "media info", "media delete"}
	if !slices.Equal(rec.ops, want) {
		t.Fatalf("observed %q, want %q", rec.ops, want)
	}
}

// A limit that answers without an error (a reset request that queues
// nothing) is counted by rule here; a per-teacher limit's error carries its
// rule to the API, which logs and counts it.
func TestSilentLimitsAreCountedByRule(t *testing.T) {
	s := openTestStore(t)
	rec := &recordMetrics{}
	s.cfg.Metrics = rec
	s.noteLimit(context.Background(), "reset-addr")
	if !slices.Equal(rec.rules, []string{"reset-addr"}) {
		t.Fatalf("counted %q", rec.rules)
	}
	if err := atLimit(2, 3, "lessons", "delete some."); err != nil {
		t.Fatalf("below the limit: %v", err)
	}
	var e *classboard.Error
	if err := atLimit(3, 3, "lessons", "delete some."); !errors.As(err, &e) || e.Code != classboard.EQUOTA || e.Rule != "teacher-lessons" {
		t.Fatalf("at the limit: %v", err)
	}
}
