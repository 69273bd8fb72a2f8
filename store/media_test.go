package store

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/classboard/classboard"
)

func asTeacher(id string) context.Context {
	return classboard.NewContextWithAuth(context.Background(), &classboard.Auth{Teacher: &classboard.Teacher{ID: id}})
}

// Erasing a picture while another teacher uploads the same one must never
// leave a record whose bytes are gone; erasing the last record must remove
// the bytes.
func TestMediaDeleteRacesUploadOfSamePicture(t *testing.T) {
	s := openTestStore(t)
	m := s.Media()
	alice, bob := asTeacher("alice"), asTeacher("bob")
	for i := range 25 {
		in := classboard.NewMedia{Data: []byte(fmt.Sprintf("picture %d", i)), ContentType: "image/png", Width: 1, Height: 1}
		first, err := m.CreateMedia(alice, in)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var delErr, upErr error
		wg.Add(2)
		go func() { defer wg.Done(); delErr = m.DeleteMedia(alice, first.ID) }()
		go func() { defer wg.Done(); _, upErr = m.CreateMedia(bob, in) }()
		wg.Wait()
		if delErr != nil || upErr != nil {
			t.Fatalf("round %d: delete %v, upload %v", i, delErr, upErr)
		}
		if err := m.MayReadMedia(alice, first.ID); classboard.ErrorCode(err) != classboard.ENOTFOUND {
			t.Fatalf("round %d: alice still reads her deleted picture: %v", i, err)
		}
		if err := m.MayReadMedia(bob, first.ID); err != nil {
			t.Fatalf("round %d: bob's record: %v", i, err)
		}
		if c, err := m.MediaContent(bob, first.ID); err != nil || string(c.Data) != string(in.Data) {
			t.Fatalf("round %d: bob's record lost its bytes: %v", i, err)
		}
		if err := m.DeleteMedia(bob, first.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := m.MediaContent(bob, first.ID); classboard.ErrorCode(err) != classboard.ENOTFOUND {
			t.Fatalf("round %d: bytes survive the last delete: %v", i, err)
		}
	}
}

func TestMediaSharedBytesAndQuotaAccounting(t *testing.T) {
	s := openTestStore(t)
	m := s.Media()
	alice, bob := asTeacher("alice"), asTeacher("bob")
	in := classboard.NewMedia{Data: []byte("same picture"), ContentType: "image/png", Width: 1, Height: 1}
	a1, _ := m.CreateMedia(alice, in)
	a2, _ := m.CreateMedia(alice, in) // twice: one record
	b1, err := m.CreateMedia(bob, in)
	if err != nil || a1.ID != a2.ID || a1.ID != b1.ID {
		t.Fatalf("ids %v %v %v: %v", a1, a2, b1, err)
	}
	list, err := m.MediaList(alice, classboard.ListOptions{})
	if err != nil || len(list.Items) != 1 || list.Used != int64(len(in.Data)) || list.Quota != classboard.DefaultMediaQuota {
		t.Fatalf("alice's list %+v: %v", list, err)
	}
	if err := m.DeleteMedia(alice, a1.ID); err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteMedia(alice, a1.ID); classboard.ErrorCode(err) != classboard.ENOTFOUND {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := m.MediaContent(bob, b1.ID); err != nil {
		t.Fatalf("bob's picture went with alice's record: %v", err)
	}
	k1, err1 := m.MediaSigningKey(context.Background())
	k2, err2 := s.Media().MediaSigningKey(context.Background())
	if err1 != nil || err2 != nil || len(k1) != 32 || string(k1) != string(k2) {
		t.Fatalf("signing keys %x %x: %v %v", k1, k2, err1, err2)
	}
}
