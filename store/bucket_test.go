package store

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// lostAnswer fails the first n requests with a timeout, as when a stream
// leader dies: with send, the request lands and only its answer is lost.
type lostAnswer struct {
	n    atomic.Int64
	send bool
	// busy answers the next writes after those with "duplicate message id
	// is in process", as a busy leader does to a write sent again while
	// its first attempt is still being stored.
	busy atomic.Int64
}

func (l *lostAnswer) fail() bool { return l.n.Add(-1) >= 0 }

// flakyJS and flakyKV put lostAnswer in front of the writes, the purge
// and the key listing a bucket makes.
type flakyJS struct {
	jetstream.JetStream
	lost *lostAnswer
}

func (f flakyJS) PublishMsg(ctx context.Context, m *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	if !f.lost.fail() {
		if f.lost.busy.Add(-1) >= 0 {
			return nil, &jetstream.APIError{Code: 400, ErrorCode: 10158, Description: "duplicate message id is in process"}
		}
		return f.JetStream.PublishMsg(ctx, m, opts...)
	}
	if f.lost.send {
		f.JetStream.PublishMsg(ctx, m, opts...) //nolint:errcheck // its answer is what gets lost
	}
	return nil, context.DeadlineExceeded
}

type flakyKV struct {
	jetstream.KeyValue
	lost *lostAnswer
}

func (f flakyKV) Purge(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error {
	if !f.lost.fail() {
		return f.KeyValue.Purge(ctx, key, opts...)
	}
	if f.lost.send {
		f.KeyValue.Purge(ctx, key, opts...) //nolint:errcheck // as above
	}
	return context.DeadlineExceeded
}

func (f flakyKV) ListKeysFiltered(ctx context.Context, filters ...string) (jetstream.KeyLister, error) {
	if f.lost.fail() {
		return nil, context.DeadlineExceeded
	}
	return f.KeyValue.ListKeysFiltered(ctx, filters...)
}

// Deletes and key listings go through the same retry as puts and gets: a
// first attempt that got no answer (a stream leader that just died) is
// sent again, and a compare-and-set delete whose first attempt landed is
// recognised as done, not reported as a revision mismatch.
func TestDeletesAndListingsRetry(t *testing.T) {
	s := openTestStore(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	lost := &lostAnswer{}
	bk := *s.config // a bucket no view of the node follows
	bk.js = flakyJS{bk.js, lost}
	bk.kv = flakyKV{bk.kv, lost}
	put := func(key string) uint64 {
		t.Helper()
		rev, err := bk.put(ctx, key, []byte(`{}`), 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		return rev
	}

	lost.n.Store(1)
	rev := put("t.a")
	// A write whose first attempt landed unanswered and whose second met
	// it still in process is done, once, at its first revision.
	lost.n.Store(1)
	lost.send = true
	lost.busy.Store(1)
	again := put("u.a")
	lost.send = false
	var got any
	if stored, err := bk.get(ctx, "u.a", &got); err != nil || stored != again {
		t.Fatalf("a write sent again while in process: revision %d, stored %d (%v)", again, stored, err)
	}
	put("t.b")
	lost.n.Store(1)
	if keys, err := bk.keys(ctx, "t.*"); err != nil || !slices.Equal(keys, []string{"t.a", "t.b"}) {
		t.Fatalf("listing after a lost answer: %v %v", keys, err)
	}

	lost.n.Store(1)
	lost.send = true
	if err := bk.delete(ctx, "t.a", rev); err != nil {
		t.Fatalf("compare-and-set delete whose first answer was lost: %v", err)
	}
	var v any
	if _, err := bk.get(ctx, "t.a", &v); !errors.Is(err, errNotFound) {
		t.Fatalf("deleted key reads: %v", err)
	}

	lost.n.Store(1)
	lost.send = false
	if err := bk.delete(ctx, "t.b", 0); err != nil {
		t.Fatalf("delete whose first attempt got no answer: %v", err)
	}
	if err := bk.delete(ctx, "t.b", rev); !errors.Is(err, errRevision) {
		t.Fatalf("stale compare-and-set delete: %v, want errRevision", err)
	}
}

// A write while this node sees no leader of the stream waits for one
// rather than send into the void, and lands once a leader is there; with
// none before its deadline it fails as a timeout, which the API answers
// with 503 (and the client tries another node).
func TestWriteWaitsForLeader(t *testing.T) {
	s := openTestStore(t)
	bk := s.boardStates[0]
	var looks atomic.Int64
	bk.noLeader = func() bool { return looks.Add(1) <= 3 }
	if _, err := bk.put(t.Context(), "k", []byte(`{"v":1}`), 0, 0); err != nil {
		t.Fatal(err)
	}
	if n := looks.Load(); n < 4 {
		t.Fatalf("the write looked for a leader %d times, want it to wait until one was there", n)
	}

	bk.noLeader = func() bool { return true }
	ctx, cancel := context.WithTimeout(t.Context(), 2*leaderPoll)
	defer cancel()
	if _, err := bk.put(ctx, "k2", []byte(`{"v":1}`), 0, 0); !transient(err) {
		t.Fatalf("a write without a leader until its deadline: %v, want a timeout", err)
	}
}
