// Package testcluster starts classboard nodes for tests: in this process
// (several at once, no global state) and, for faults that need a real
// process, as child processes.
package testcluster

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/classboard/classboard/internal/password"
	"github.com/classboard/classboard/node"
)

// Option changes a node's configuration before it starts.
type Option func(*node.Config)

// cheapHash makes password hashing fast in tests; production parameters
// are tested in internal/password.
var cheapHash = password.Params{MemoryKiB: 64, Time: 1, Threads: 1}

// Logger returns a logger for tests: quiet unless CLASSBOARD_TEST_LOG is set.
func Logger(t testing.TB) *slog.Logger {
	if os.Getenv("CLASSBOARD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// NodeConfig is the configuration of a single test node on loopback with
// its data in dir.
func NodeConfig(dir string) node.Config {
	cfg := node.Config{Addr: "127.0.0.1:0", Version: "test"}
	cfg.Store.NodeName = "n1"
	cfg.Store.DataDir = dir
	cfg.Store.MaxStore = 1 << 30
	cfg.Store.MaxMemory = 64 << 20
	cfg.Store.PasswordParams = cheapHash
	return cfg
}

// StartNode starts one node in this process, waits until it is ready, and
// closes it when the test ends.
func StartNode(t testing.TB, opts ...Option) *node.Node {
	t.Helper()
	return StartNodeAt(t, t.TempDir(), opts...)
}

// StartNodeAt is StartNode on a given data directory (restart tests).
func StartNodeAt(t testing.TB, dir string, opts ...Option) *node.Node {
	t.Helper()
	cfg := NodeConfig(dir)
	for _, o := range opts {
		o(&cfg)
	}
	n, err := node.Open(cfg, Logger(t))
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Close(ctx)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		t.Fatalf("node not ready: %v", err)
	}
	return n
}
