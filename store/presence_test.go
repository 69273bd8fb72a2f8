package store

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/classboard/classboard"
)

// The view follows the nodes' heartbeats: a board is online while some
// node lists it, goes offline when the last one drops it, says goodbye or
// falls silent for presenceStale, and every change is told once.
func TestPresenceFollowsHeartbeats(t *testing.T) {
	v := newPresenceView(nil, "n1", slog.New(slog.NewTextHandler(io.Discard, nil)))
	var events []string
	stop := v.listen(func(id string, online bool) { events = append(events, fmt.Sprintf("%s %v", id, online)) })
	defer stop()
	expect := func(step string, want ...string) {
		t.Helper()
		slices.Sort(events)
		if !slices.Equal(events, want) {
			t.Fatalf("%s: events %q, want %q", step, events, want)
		}
		events = nil
	}
	t0 := time.Now()
	v.note(heartbeat{Node: "n1", Boards: []string{"a", "b"}}, t0)
	expect("first heartbeat", "a true", "b true")
	v.note(heartbeat{Node: "n2", Boards: []string{"b"}}, t0)
	v.note(heartbeat{Node: "n1", Boards: []string{"a"}}, t0.Add(time.Second))
	expect("b held by another node too")
	if !v.isOnline("a") || !v.isOnline("b") || v.isOnline("c") {
		t.Fatal("a and b are online, c is not")
	}

	v.sweep(t0.Add(presenceStale + 500*time.Millisecond))
	expect("n2 fell silent", "b false")
	v.sweep(t0.Add(time.Second + presenceStale + time.Millisecond))
	expect("n1 fell silent", "a false")

	v.note(heartbeat{Node: "n3", Boards: []string{"a"}}, t0.Add(4*time.Second))
	expect("a came back through n3", "a true")
	v.note(heartbeat{Node: "n3", Boards: []string{"a"}}, t0.Add(5*time.Second))
	expect("a heartbeat without a change")
	v.note(heartbeat{Node: "n3"}, t0.Add(5*time.Second))
	expect("n3 said goodbye", "a false")
}

// Every board service of a store shares the store's one view: a board
// online for one is online for all (each used to keep its own, so a
// second one called every board offline).
func TestPresenceIsTheStores(t *testing.T) {
	s := openTestStore(t)
	first := s.Boards()
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		first.WatchBoards(t.Context(), func(classboard.BoardEvent) {})
	}()
	t.Cleanup(func() { <-watching })
	if err := first.PublishPresence(t.Context(), []string{"b1"}); err != nil {
		t.Fatal(err)
	}
	online := func(b *Boards) bool { return b.board(t.Context(), &boardDoc{ID: "b1"}).Online }
	for deadline := time.Now().Add(10 * time.Second); !online(first); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the board never showed online")
		}
	}
	if !online(s.Boards()) {
		t.Fatal("another board service of the same store says the board is offline")
	}
}
