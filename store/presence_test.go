package store

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/poll"
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
	list := func(node string, at time.Duration, ids ...string) {
		v.note(heartbeat{Node: node, Seq: uint64(at), Parts: 1, Boards: ids}, t0.Add(at))
	}
	list("n1", 0, "a", "b")
	expect("first heartbeat", "a true", "b true")
	list("n2", 0, "b")
	list("n1", time.Second, "a")
	expect("b held by another node too")
	if !v.isOnline("a") || !v.isOnline("b") || v.isOnline("c") {
		t.Fatal("a and b are online, c is not")
	}
	v.note(heartbeat{Node: "n2", Seq: 0}, t0.Add(2*time.Second)) // no list: alive
	v.sweep(t0.Add(2*time.Second + presenceStale))
	expect("n1 fell silent, n2 lives on its bare heartbeat", "a false")
	v.sweep(t0.Add(2*time.Second + presenceStale + time.Millisecond))
	expect("n2 fell silent", "b false")

	list("n3", 5*time.Second, "a")
	expect("a came back through n3", "a true")
	list("n3", 6*time.Second)
	expect("n3 holds no board now", "a false")
	v.note(heartbeat{Node: "n3", Seq: 7, Part: 1, Parts: 2, Boards: []string{"b"}}, t0.Add(7*time.Second))
	expect("half a list")
	v.note(heartbeat{Node: "n3", Seq: 7, Part: 0, Parts: 2, Boards: []string{"a"}}, t0.Add(7*time.Second))
	expect("the whole list", "a true", "b true")
	v.note(heartbeat{Node: "n3", Bye: true}, t0.Add(8*time.Second))
	expect("n3 said goodbye", "a false", "b false")
}

// A node sends its list when it changed, and every presenceResend, in
// parts of presenceChunk; otherwise only the list's version.
func TestPresenceHeartbeats(t *testing.T) {
	v := newPresenceView(nil, "n1", slog.New(slog.NewTextHandler(io.Discard, nil)))
	ids := make([]string, presenceChunk+1)
	for i := range ids {
		ids[i] = fmt.Sprintf("b%05d", i)
	}
	t0 := time.Now()
	shape := func(hbs []heartbeat) string {
		var parts []string
		for _, hb := range hbs {
			parts = append(parts, fmt.Sprintf("seq %d part %d/%d: %d", hb.Seq, hb.Part, hb.Parts, len(hb.Boards)))
		}
		return strings.Join(parts, ", ")
	}
	for _, step := range []struct {
		at   time.Duration
		ids  []string
		want string
	}{
		{0, nil, "seq 1 part 0/1: 0"},
		{time.Second, nil, "seq 1 part 0/0: 0"},
		{2 * time.Second, ids[:1], "seq 2 part 0/1: 1"},
		{3 * time.Second, ids, fmt.Sprintf("seq 3 part 0/2: %d, seq 3 part 1/2: 1", presenceChunk)},
		{4 * time.Second, ids, "seq 3 part 0/0: 0"},
		{3*time.Second + presenceResend, ids, fmt.Sprintf("seq 3 part 0/2: %d, seq 3 part 1/2: 1", presenceChunk)},
	} {
		if got := shape(v.heartbeats(step.ids, t0.Add(step.at))); got != step.want {
			t.Errorf("at %v with %d boards: %s, want %s", step.at, len(step.ids), got, step.want)
		}
	}
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
	poll.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if !online(first) {
			return errors.New("the board is not online yet")
		}
		return nil
	})
	if !online(s.Boards()) {
		t.Fatal("another board service of the same store says the board is offline")
	}
}
