package store

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// A second process on a data directory in use is refused, and leaves the
// running node's local access file alone.
func TestDataDirectoryIsLocked(t *testing.T) {
	dir := t.TempDir()
	openTestStoreAt(t, dir)
	if _, err := os.Stat(filepath.Join(dir, LocalAccessFile)); err != nil {
		t.Fatalf("the running node's local access file: %v", err)
	}
	if _, err := OpenOffline(dir, slog.New(slog.NewTextHandler(io.Discard, nil))); !errors.Is(err, ErrDataDirInUse) {
		t.Errorf("a tool opened a data directory in use: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, LocalAccessFile)); err != nil {
		t.Errorf("the refused tool removed the node's local access file: %v", err)
	}
}
