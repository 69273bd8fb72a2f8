package live

import (
	"testing"
	"time"
)

// A herd takes the burst at once; everyone else is booked into the coming
// seconds, never more per second than 90 % of the rate, and told so.
func TestAdmissionSpreadsAHerd(t *testing.T) {
	a := NewAdmission(100, 10, 1_000_000)
	now := time.Unix(1_000_000, 0).Add(200 * time.Millisecond)
	admitted, perSecond := 0, map[time.Duration]int{}
	var last time.Duration
	for range 1000 {
		ok, wait := a.Admit(now)
		if ok {
			admitted++
			continue
		}
		if wait < last {
			t.Fatalf("a later caller was told to come back sooner: %v after %v", wait, last)
		}
		last = wait
		perSecond[wait]++
	}
	if admitted != 10 {
		t.Fatalf("%d admitted at once, want the burst of 10", admitted)
	}
	for wait, n := range perSecond {
		if n > 90 {
			t.Errorf("%d booked for %v from now, more than 90", n, wait)
		}
	}
	if want := 990/90 + 1; len(perSecond) != want-1 && len(perSecond) != want {
		t.Errorf("990 refused callers booked over %d seconds, want about %d", len(perSecond), want)
	}
	// The bucket refills at the rate, but never beyond its burst.
	later := now.Add(time.Second)
	admitted = 0
	for range 200 {
		if ok, _ := a.Admit(later); ok {
			admitted++
		}
	}
	if admitted != 10 {
		t.Errorf("%d admitted a second later, want the burst (10): the bucket holds no more", admitted)
	}
}

// Callers' clocks reach the bucket out of order (each reads the time before
// it gets the lock): that must neither drain the bucket nor fill it.
func TestAdmissionTimesOutOfOrder(t *testing.T) {
	a := NewAdmission(100, 10, 1_000_000)
	start := time.Unix(1_000_000, 0)
	admitted := 0
	// 10 s of callers, 1,000 a second, each pair swapped by a millisecond.
	for i := range 10_000 {
		at := start.Add(time.Duration(i) * time.Millisecond)
		if i%2 == 0 {
			at = at.Add(time.Millisecond)
		} else {
			at = at.Add(-time.Millisecond)
		}
		if ok, _ := a.Admit(at); ok {
			admitted++
		}
	}
	// The burst plus the rate over 10 s, give or take a token.
	if want := 10 + 100*10; admitted < want-2 || admitted > want+2 {
		t.Fatalf("%d admitted in 10 s at 100/s with a burst of 10, want about %d", admitted, want)
	}
}

// Set-ups in flight past the bound are refused whatever the bucket holds:
// a node that falls behind takes in only what it finishes.
func TestAdmissionBoundsSetUpsInFlight(t *testing.T) {
	a := NewAdmission(1000, 100, 3)
	now := time.Unix(1_000_000, 0)
	for range 3 {
		if ok, _ := a.Admit(now); !ok {
			t.Fatal("refused below the bound")
		}
	}
	if ok, wait := a.Admit(now); ok || wait <= 0 {
		t.Fatalf("admitted past the bound (wait %v)", wait)
	}
	a.Done()
	if ok, _ := a.Admit(now); !ok {
		t.Fatal("refused after a set-up ended")
	}
	a.Enter() // a ticket's connection
	a.Done()
	a.Done()
	if ok, _ := a.Admit(now); !ok {
		t.Fatal("refused after set-ups ended")
	}
}
