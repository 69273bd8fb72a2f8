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

	"github.com/classboard/classboard/internal/poll"
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

	// Deliberate pacing, not waiting for an outcome: the blip has to last
	// some checks (every 5 ms) and still end well inside the 2 s grace.
	health.set(errors.New("no quorum: probe write timed out"))
	time.Sleep(50 * time.Millisecond)
	health.set(nil)
	time.Sleep(50 * time.Millisecond) // pacing: some more checks after the blip
	if n := hub.moves.Load(); n != 0 {
		t.Fatalf("a short blip moved clients %d times", n)
	}

	health.set(errors.New("no quorum: probe write timed out"))
	poll.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if hub.moves.Load() == 0 {
			return errors.New("a lasting outage did not move the clients")
		}
		return nil
	})
}
