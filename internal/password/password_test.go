package password

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestHashVerify(t *testing.T) {
	h := NewHasher(Params{MemoryKiB: 64, Time: 1, Threads: 1}, 2)
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q does not carry its parameters", enc)
	}
	if err := h.Verify(ctx, enc, "correct horse battery"); err != nil {
		t.Fatalf("right password: %v", err)
	}
	if err := h.Verify(ctx, enc, "wrong horse battery"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("wrong password: got %v, want ErrMismatch", err)
	}
	// A hash made with other parameters still verifies: they live in the hash.
	h2 := NewHasher(DefaultParams, 1)
	if err := h2.Verify(ctx, enc, "correct horse battery"); err != nil {
		t.Fatalf("verify with other default params: %v", err)
	}
	if err := h.Verify(ctx, "$bcrypt$nope", "x"); err == nil || errors.Is(err, ErrMismatch) {
		t.Fatalf("garbage hash: got %v, want a decode error", err)
	}
}

func TestDummyCountsAsVerify(t *testing.T) {
	h := NewHasher(Params{MemoryKiB: 64, Time: 1, Threads: 1}, 1)
	before := h.Verifies()
	if err := h.VerifyDummy(context.Background(), "anything at all"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("got %v", err)
	}
	if h.Verifies() != before+1 {
		t.Fatal("dummy verification did not run a hash")
	}
}

func TestConcurrencyBoundHonoursContext(t *testing.T) {
	h := NewHasher(Params{MemoryKiB: 64, Time: 1, Threads: 1}, 1)
	h.sem <- struct{}{} // the only slot is taken
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "some password"); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled while every slot is busy", err)
	}
}
