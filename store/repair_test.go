package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/token"
)

// TestRepairMendsEveryLeftover makes each leftover a crash between two
// writes can leave (docs/architecture.md) next to healthy data, and checks
// that the sweep mends exactly the leftovers, and only once they are past
// the grace period.
func TestRepairMendsEveryLeftover(t *testing.T) {
	s := openTestStore(t)
	ctx := t.Context()
	must := func(_ uint64, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// Healthy data: a teacher with a picture and a paired board.
	ada, err := s.Accounts().CreateTeacher(ctx, classboard.SignUp{Email: "ada@school.example", Password: "correct horse battery", Name: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	asAda := classboard.NewContextWithAuth(ctx, &classboard.Auth{Teacher: ada})
	pic, err := s.Media().CreateMedia(asAda, classboard.NewMedia{Data: []byte("a picture"), ContentType: "image/png", Width: 1, Height: 1})
	if err != nil {
		t.Fatal(err)
	}
	boards := s.Boards()
	paired, err := boards.CreateBoard(ctx, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := boards.Claim(asAda, classboard.Claim{Code: paired.Code, Name: "Room 1"}, "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	unpaired, err := boards.CreateBoard(ctx, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}

	// A sign-up that died between the teacher document and its e-mail
	// index, and a sign-up that lost the e-mail to another and died
	// before deleting its document.
	must(s.teachers.create(ctx, "ghost", teacherDoc{V: 1, Teacher: classboard.Teacher{ID: "ghost", Email: "ghost@school.example"}}, 0))
	must(s.teachers.create(ctx, "loser", teacherDoc{V: 1, Teacher: classboard.Teacher{ID: "loser", Email: "ada@school.example"}}, 0))
	// A forgotten board whose tidy-up died: its secret, owner index and
	// state are left.
	must(s.boards.create(ctx, secretKey(token.Hash(token.New())), secretDoc{BoardID: "forgotten"}, 0))
	must(s.boards.create(ctx, ownerKey(ada.ID, "forgotten"), struct{}{}, 0))
	must(s.boardStates[0].create(ctx, stateKey("forgotten"), stateDoc{V: 1}, 0))
	// A pairing that failed after its owner index: the board names no
	// teacher.
	must(s.boards.create(ctx, ownerKey(ada.ID, unpaired.BoardID), struct{}{}, 0))
	// A pairing interrupted before the state: the board has none.
	var pairedDoc boardDoc
	if _, err := s.boards.get(ctx, boardKey(paired.BoardID), &pairedDoc); err != nil {
		t.Fatal(err)
	}
	pairedState := s.boardStates[pairedDoc.StateShard]
	if err := pairedState.delete(ctx, stateKey(paired.BoardID), 0); err != nil {
		t.Fatal(err)
	}
	// An erase that died after removing the last record: the bytes stay.
	if _, err := s.media.PutBytes(ctx, mediaID("orphan bytes"), []byte("orphan bytes")); err != nil {
		t.Fatal(err)
	}
	// An upload that died after its record, before the bytes.
	must(s.mediaRecords.create(ctx, recordKey(ada.ID, mediaID("never stored")), mediaRecord{V: 1, ID: mediaID("never stored"), TeacherID: ada.ID, Size: 12}, 0))
	// An erase that died after marking the gate: mark, bytes and gate stay.
	if _, err := s.media.PutBytes(ctx, mediaID("half erased"), []byte("half erased")); err != nil {
		t.Fatal(err)
	}
	must(s.mediaRecords.create(ctx, gateKey(mediaID("half erased")), gateDoc{State: gateDeleting, Since: time.Now().Add(-time.Hour)}, 0))
	// An erase that died after deleting the bytes, before removing its gate.
	must(s.mediaRecords.create(ctx, gateKey(mediaID("erased")), gateDoc{State: gateDeleting, Since: time.Now().Add(-time.Hour)}, 0))

	young, err := s.Repair(ctx, time.Hour)
	if err != nil || len(young) > 0 {
		t.Fatalf("within the grace period the sweep mended %v (%v); want nothing", young, err)
	}
	got, err := s.Repair(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := Repaired{
		orphanTeacher:     2,
		orphanSecret:      1,
		orphanOwnerIndex:  2,
		orphanState:       1,
		missingState:      1,
		orphanMediaBytes:  2, // one with its gate marked
		orphanMediaRecord: 1,
		orphanGate:        1,
	}
	if !maps.Equal(got, want) {
		t.Errorf("mended %v\nwant    %v", got, want)
	}
	if again, err := s.Repair(ctx, 0); err != nil || len(again) > 0 {
		t.Errorf("a second sweep mended %v (%v); want nothing", again, err)
	}

	// The leftovers are gone...
	for _, k := range []string{"ghost", "loser"} {
		if _, _, err := s.teacherDoc(ctx, k); classboard.ErrorCode(err) != classboard.ENOTFOUND {
			t.Errorf("teacher %s: %v", k, err)
		}
	}
	for _, id := range []string{mediaID("orphan bytes"), mediaID("half erased")} {
		if _, err := s.media.GetInfo(ctx, id); err == nil {
			t.Errorf("bytes %s survive", id)
		}
	}
	for _, id := range []string{mediaID("half erased"), mediaID("erased")} {
		var g gateDoc
		if _, err := s.mediaRecords.get(ctx, gateKey(id), &g); !errors.Is(err, errNotFound) {
			t.Errorf("gate %s survives: %v", id, err)
		}
	}
	// ...and the healthy data is whole.
	if _, err := s.Accounts().Login(ctx, classboard.Login{Email: "ada@school.example", Password: "correct horse battery"}, "10.0.0.1"); err != nil {
		t.Errorf("ada cannot sign in: %v", err)
	}
	if c, err := s.Media().MediaContent(asAda, pic.ID); err != nil || string(c.Data) != "a picture" {
		t.Errorf("ada's picture: %v", err)
	}
	list, err := boards.Boards(asAda)
	if err != nil || len(list) != 1 || list[0].ID != paired.BoardID {
		t.Errorf("ada's boards: %v %v", list, err)
	}
	if _, err := boards.AuthenticateBoard(ctx, paired.BoardSecret); err != nil {
		t.Errorf("the paired board's secret: %v", err)
	}
	if _, err := boards.AuthenticateBoard(ctx, unpaired.BoardSecret); err != nil {
		t.Errorf("the unpaired board's secret: %v", err)
	}
	var st stateDoc
	if _, err := pairedState.get(ctx, stateKey(paired.BoardID), &st); err != nil {
		t.Errorf("the paired board's state: %v", err)
	}
	if _, err := s.boardStates[0].get(ctx, stateKey("forgotten"), &st); !errors.Is(err, errNotFound) {
		t.Errorf("the forgotten board's state: %v", err)
	}
}

func mediaID(data string) string {
	sum := sha256.Sum256([]byte(data))
	return hex.EncodeToString(sum[:])
}
