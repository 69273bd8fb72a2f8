package store

import (
	"context"
	"strings"
	"testing"

	"github.com/classboard/classboard"
)

// openRoomForTest pairs a board with teacher t1 and opens a markers activity on it.
func openRoomForTest(t *testing.T, s *Store) (*Activities, context.Context, *classboard.Activity) {
	t.Helper()
	ctx := context.Background()
	b := s.Boards()
	nb, err := b.CreateBoard(ctx, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	teacher := classboard.NewContextWithAuth(ctx, &classboard.Auth{Teacher: &classboard.Teacher{ID: "t1", Name: "Ada"}})
	if _, err := b.Claim(teacher, classboard.Claim{ClaimToken: nb.ClaimToken, Name: "Room"}, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	a := b.Activities()
	act, err := a.SetActivity(teacher, nb.BoardID, 0, classboard.ActivityUpdate{Kind: classboard.KindMarkers, Status: classboard.StatusOpen})
	if err != nil {
		t.Fatal(err)
	}
	return a, teacher, act
}

// A pupil's token and name are in the store only as the token's hash and
// the seat's record: the token itself is in no key and no value.
func TestPupilTokenOnlyHashed(t *testing.T) {
	s := openTestStore(t)
	a, _, act := openRoomForTest(t, s)
	j, err := a.Join(context.Background(), classboard.JoinRequest{Code: act.JoinCode, Name: "Sam"}, "192.0.2.9")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := s.activities.keys(context.Background(), ">")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		e, err := s.activities.kv.Get(context.Background(), k)
		if err != nil {
			continue
		}
		if strings.Contains(k, j.PupilToken) || strings.Contains(string(e.Value()), j.PupilToken) {
			t.Fatalf("activities/%s holds the pupil token in the clear", k)
		}
	}
}

// An answer to an earlier question that the new question's purge missed
// (it is best effort) counts nowhere: not on the board, not on the pupil's
// phone; nor does an answer whose pupil is no longer in the seat.
func TestStaleAnswersDoNotCount(t *testing.T) {
	s := openTestStore(t)
	a, teacher, act := openRoomForTest(t, s)
	ctx := context.Background()
	j, err := a.Join(ctx, classboard.JoinRequest{Code: act.JoinCode, Name: "Sam"}, "192.0.2.9")
	if err != nil {
		t.Fatal(err)
	}
	next, err := a.SetActivity(teacher, act.BoardID, act.Revision, classboard.ActivityUpdate{Kind: classboard.KindAnswer, Status: classboard.StatusOpen})
	if err != nil {
		t.Fatal(err)
	}
	// What a missed purge leaves: the first question's answer, and one of
	// a pupil who sat here before.
	text := "left over"
	if err := s.activities.set(ctx, answerKey(j.RoomID, j.PupilID), answerDoc{BoardID: act.BoardID, Question: 0,
		TokenHash: mustPupil(t, s, j).TokenHash, Answer: classboard.Answer{Text: &text}}, 0); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		room, err := a.Room(ctx, j.RoomID, j.PupilToken)
		if err != nil || room == nil || room.Answer != nil || room.Question != next.Question {
			t.Fatalf("%s: room %+v, %v; want the new question without an answer", when, room, err)
		}
		got, err := a.Activity(teacher, act.BoardID)
		if err != nil || got.Aggregate.Answers != 0 || len(got.Pending) != 0 {
			t.Fatalf("%s: aggregate %+v pending %v, %v; want no answers", when, got.Aggregate, got.Pending, err)
		}
	}
	check("an earlier question's answer")
	if err := s.activities.set(ctx, answerKey(j.RoomID, j.PupilID), answerDoc{BoardID: act.BoardID, Question: next.Question,
		TokenHash: "someone-else", Answer: classboard.Answer{Text: &text}}, 0); err != nil {
		t.Fatal(err)
	}
	check("a former pupil's answer")
}

func mustPupil(t *testing.T, s *Store, j *classboard.PupilJoin) pupilDoc {
	t.Helper()
	var p pupilDoc
	if _, err := s.activities.get(context.Background(), pupilKey(j.RoomID, j.PupilID), &p); err != nil {
		t.Fatal(err)
	}
	return p
}
