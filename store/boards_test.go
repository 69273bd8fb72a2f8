package store

import (
	"context"
	"strings"
	"testing"

	"github.com/classboard/classboard"
)

// Secrets and claim tokens are kept only as hashes: nothing in the boards
// or pairing buckets contains them, before or after pairing.
func TestBoardSecretsStoredAsHashes(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	b := s.Boards()
	nb, err := b.CreateBoard(ctx, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		for _, bk := range []*bucket{s.boards, s.pairing} {
			keys, err := bk.keys(ctx, ">")
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				e, err := bk.kv.Get(ctx, k)
				if err != nil {
					continue // expired or deleted meanwhile
				}
				for _, secret := range []string{nb.BoardSecret, nb.ClaimToken} {
					if strings.Contains(k, secret) || strings.Contains(string(e.Value()), secret) {
						t.Fatalf("%s: %s/%s holds a secret in the clear", when, bk.name, k)
					}
				}
			}
		}
	}
	check("unpaired")
	teacher := classboard.NewContextWithAuth(ctx, &classboard.Auth{Teacher: &classboard.Teacher{ID: "t1", Name: "Ada"}})
	if _, err := b.Claim(teacher, classboard.Claim{ClaimToken: nb.ClaimToken, Name: "Room"}, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	check("paired")
	if a, err := b.AuthenticateBoard(ctx, nb.BoardSecret); err != nil || a.BoardID != nb.BoardID {
		t.Fatalf("authenticate: %v %v", a, err)
	}
}
