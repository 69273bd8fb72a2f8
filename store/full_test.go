package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/password"
	"github.com/classboard/classboard/internal/poll"
)

// A full store (here: --max-store reached) answers EUNAVAILABLE, not an
// internal error, and the node says it is not ready, with the reason.
func TestFullStoreAnswersUnavailable(t *testing.T) {
	s, err := Open(Config{NodeName: "full", DataDir: t.TempDir(), MaxStore: 2 << 20, MaxMemory: 1 << 20,
		PasswordParams: password.Params{MemoryKiB: 64, Time: 1, Threads: 1}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	a := s.Accounts()
	name := strings.Repeat("n", 90)
	var lastErr error
	for i := 0; lastErr == nil && i < 100000; i++ {
		_, lastErr = a.CreateTeacher(context.Background(), classboard.SignUp{Email: fmt.Sprintf("t%d@school.example", i), Password: "long enough password", Name: name})
	}
	if classboard.ErrorCode(lastErr) != classboard.EUNAVAILABLE {
		t.Fatalf("a write to a full store: %v (code %s), want unavailable", lastErr, classboard.ErrorCode(lastErr))
	}
	poll.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if err := s.Ready(); err == nil || !strings.HasPrefix(err.Error(), "store full") {
			return fmt.Errorf("readiness with a full store: %v", err)
		}
		return nil
	})
}
