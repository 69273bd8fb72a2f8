package testcluster

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Binary builds the classboard command into a temporary directory and
// returns its path, for tests that need a real process (signals, kill -9).
func Binary(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(t.TempDir(), "classboard")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/classboard")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build classboard: %v\n%s", err, out)
	}
	return bin
}
