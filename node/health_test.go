package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fakeReadiness struct{ err atomic.Pointer[error] }

func (f *fakeReadiness) Ready() error {
	if p := f.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (f *fakeReadiness) set(err error) { f.err.Store(&err) }

type fakeHub struct{ moves atomic.Int64 }

func (h *fakeHub) Count() int { return 5 }
func (h *fakeHub) Move(share float64) int {
	h.moves.Add(1)
	return 5
}

// A blip shorter than the grace moves nobody; an outage longer than it
// moves every client.
func TestMoveWhenUnreadyWaitsOutBlips(t *testing.T) {
	health, hub := &fakeReadiness{}, &fakeHub{}
	health.set(nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		moveWhenUnready(ctx, health, hub, 5*time.Millisecond, 2*time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
	})
	defer func() { cancel(); wg.Wait() }()

	health.set(errors.New("no quorum: probe write timed out"))
	time.Sleep(50 * time.Millisecond) // well inside the grace
	health.set(nil)
	time.Sleep(50 * time.Millisecond)
	if n := hub.moves.Load(); n != 0 {
		t.Fatalf("a short blip moved clients %d times", n)
	}

	health.set(errors.New("no quorum: probe write timed out"))
	deadline := time.Now().Add(10 * time.Second)
	for hub.moves.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a lasting outage did not move the clients")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
