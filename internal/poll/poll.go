// Package poll holds CheckFor, the one way tests wait for an outcome. It
// imports nothing of classboard, so every package's tests can use it.
package poll

import (
	"testing"
	"time"
)

// CheckFor polls f every sleep until it returns nil, failing the test with
// f's last error after total. Tests poll for an outcome; they never sleep
// and hope.
func CheckFor(t testing.TB, total, sleep time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(sleep)
	}
	t.Fatalf("still failing after %v: %v", total, err)
}
