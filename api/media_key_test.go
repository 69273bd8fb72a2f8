package api

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/classboard/classboard"
)

// slowKey is a media service whose signing key stays unloadable until
// release is closed (a store that cannot answer), or until the caller
// gives up.
type slowKey struct {
	classboard.MediaService
	release chan struct{}
}

func (k slowKey) MediaSigningKey(ctx context.Context) ([]byte, error) {
	select {
	case <-k.release:
		return []byte("a key of thirty-two bytes, made up"), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// A request waiting for the signing key holds nothing another request
// needs, and each gives up with its own context.
func TestSignedMediaURLFollowsTheRequest(t *testing.T) {
	key := slowKey{release: make(chan struct{})}
	s := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, Services{Media: key})
	const id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

	waiting, stopWaiting := context.WithCancel(context.Background())
	defer stopWaiting()
	first := make(chan string, 1)
	go func() { first <- s.signedMediaURL(waiting, id) }()

	// While the first request waits on the store, a second one whose
	// client went away answers at once, unsigned.
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan string, 1)
	go func() { done <- s.signedMediaURL(gone, id) }()
	select {
	case u := <-done:
		if u != "/api/v1/media/"+id {
			t.Fatalf("without a key: %q, want the unsigned path", u)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a request whose client went away waited for another request's store call")
	}

	close(key.release)
	if u := <-first; !strings.Contains(u, "&sig=") {
		t.Fatalf("once the key loads: %q, want a signed URL", u)
	}
	if u := s.signedMediaURL(gone, id); !strings.Contains(u, "&sig=") {
		t.Fatalf("with the key loaded, even a finished request's URL is signed: %q", u)
	}
}
