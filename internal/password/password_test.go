package password

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
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

// A device the teacher used before gets a hash slot even when every
// ordinary slot is taken by guesses.
func TestPriorityTakesTheReservedSlot(t *testing.T) {
	h := NewHasher(Params{MemoryKiB: 64, Time: 1, Threads: 1}, 1)
	release, err := h.acquire(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := h.acquire(ctx, false); err == nil {
		t.Fatal("an ordinary hash got a slot while the only one was taken")
	}
	enc := h.encode(make([]byte, 16), "correct horse battery")
	if err := h.VerifyPriority(context.Background(), enc, "correct horse battery"); err != nil {
		t.Fatalf("priority verify while the ordinary slot is taken: %v", err)
	}
}

func TestGuessable(t *testing.T) {
	for pw, want := range map[string]bool{
		"password123": true, "qwertyuiop": true, "Summer2024!": true, "margaret1969": true,
		"hamilton2024":          true, // the e-mail's name and a year
		"correct horse battery": false, "analytical engine": false,
	} {
		if got := Guessable(pw, "margaret.hamilton@school.example") != ""; got != want {
			t.Errorf("%q: guessable %v, want %v", pw, got, want)
		}
	}
}
