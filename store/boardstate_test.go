package store

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/classboard/classboard"
)

// Boards paired now keep their state in the shard their id picks; a
// board paired before states were spread (no shard in its document)
// keeps its state, and its revisions, in the first bucket.
func TestBoardStateShards(t *testing.T) {
	s := openTestStore(t)
	teacher := classboard.NewContextWithAuth(context.Background(), &classboard.Auth{Teacher: &classboard.Teacher{ID: "t1", Name: "Ada"}, Device: "laptop"})
	b := s.Boards()
	pair := func() *classboard.NewBoard {
		t.Helper()
		nb, err := b.CreateBoard(context.Background(), "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Claim(teacher, classboard.Claim{ClaimToken: nb.ClaimToken, Name: "Room"}, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		return nb
	}
	shards := map[int]bool{}
	for range 12 {
		nb := pair()
		doc, _, err := b.boardDoc(teacher, nb.BoardID)
		if err != nil {
			t.Fatal(err)
		}
		if doc.StateShard != stateShardOf(nb.BoardID) {
			t.Fatalf("board paired into shard %d, its id picks %d", doc.StateShard, stateShardOf(nb.BoardID))
		}
		shards[doc.StateShard] = true
		first, err := b.State(teacher, nb.BoardID)
		if err != nil {
			t.Fatal(err)
		}
		st, err := b.SetState(teacher, nb.BoardID, first.Revision, classboard.StateUpdate{Blank: true})
		if err != nil {
			t.Fatal(err)
		}
		var stored stateDoc
		if rev, err := s.boardStates[doc.StateShard].get(teacher, stateKey(nb.BoardID), &stored); err != nil || rev != st.Revision || !stored.Blank {
			t.Fatalf("state in its shard: revision %d (want %d), blank %v, %v", rev, st.Revision, stored.Blank, err)
		}
		for i, other := range s.boardStates {
			if i != doc.StateShard {
				if _, err := other.get(teacher, stateKey(nb.BoardID), &stored); !errors.Is(err, errNotFound) {
					t.Fatalf("board of shard %d has a state in shard %d: %v", doc.StateShard, i, err)
				}
			}
		}
	}
	if len(shards) < 2 {
		t.Errorf("12 boards all in shard %v", shards)
	}

	// A board as an earlier version stored it: no shard, state in board_state.
	nb := pair()
	doc, rev, err := b.boardDoc(teacher, nb.BoardID)
	if err != nil {
		t.Fatal(err)
	}
	var legacy map[string]any
	raw, _ := json.Marshal(doc)
	json.Unmarshal(raw, &legacy)
	delete(legacy, "state_shard")
	if _, err := s.boards.update(teacher, boardKey(nb.BoardID), legacy, rev, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.boardStates[0].create(teacher, stateKey(nb.BoardID), stateDoc{V: 1, Blank: true}, 0); err != nil && !errors.Is(err, errExists) {
		t.Fatal(err)
	}
	var stored stateDoc
	oldRev, err := s.boardStates[0].get(teacher, stateKey(nb.BoardID), &stored)
	if err != nil {
		t.Fatal(err)
	}
	st, err := b.State(teacher, nb.BoardID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Revision != oldRev {
		t.Fatalf("an earlier version's board reads revision %d, its state in board_state has %d", st.Revision, oldRev)
	}
	if _, err := b.SetState(teacher, nb.BoardID, oldRev, classboard.StateUpdate{}); err != nil {
		t.Fatalf("steer an earlier version's board: %v", err)
	}
}

// A ticket names its shard; a bare token is shard 0's (tickets issued
// before they were spread); anything else is refused before any lookup.
func TestParseTicket(t *testing.T) {
	tok := "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"
	for _, tc := range []struct {
		ticket string
		shard  int
		ok     bool
	}{
		{tok, 0, true},
		{"0." + tok, 0, true},
		{"2." + tok, 2, true},
		{"3." + tok, 0, false},
		{"02." + tok, 0, false},
		{"-1." + tok, 0, false},
		{"1.", 0, false},
		{"1." + tok + "." + tok, 0, false},
	} {
		shard, got, ok := parseTicket(tc.ticket)
		if ok != tc.ok || ok && (shard != tc.shard || got != tok) {
			t.Errorf("parseTicket(%q) = %d, %q, %v; want shard %d, ok %v", tc.ticket, shard, got, ok, tc.shard, tc.ok)
		}
	}
}
