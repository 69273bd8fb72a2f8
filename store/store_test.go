package store

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/classboard/classboard/internal/password"
)

// openTestStore opens a single-node store on a temporary directory with a
// cheap password hash, and waits until it is ready.
func openTestStore(t testing.TB) *Store {
	t.Helper()
	return openTestStoreAt(t, t.TempDir())
}

func openTestStoreAt(t testing.TB, dir string) *Store {
	t.Helper()
	return openTestStoreLogging(t, dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// openTestStoreLogging is openTestStoreAt logging to log.
func openTestStoreLogging(t testing.TB, dir string, log *slog.Logger) *Store {
	t.Helper()
	s, err := Open(Config{
		NodeName:       "test",
		DataDir:        dir,
		MaxStore:       1 << 30,
		MaxMemory:      64 << 20,
		PasswordParams: password.Params{MemoryKiB: 64, Time: 1, Threads: 1},
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}
