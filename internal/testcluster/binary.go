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
	return build(t)
}

// BinaryWithVersion builds the classboard command with its version string
// set to version, as a release build sets it: the "next release" of an
// upgrade test.
func BinaryWithVersion(t testing.TB, version string) string {
	t.Helper()
	return build(t, "-ldflags", "-X main.version="+version)
}

func build(t testing.TB, flags ...string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(t.TempDir(), "classboard")
	cmd := exec.Command("go", append(append([]string{"build", "-o", bin}, flags...), "./cmd/classboard")...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build classboard: %v\n%s", err, out)
	}
	return bin
}
