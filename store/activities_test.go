package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/token"
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

// joinForTest seats Sam in the room of act.
func joinForTest(t *testing.T, a *Activities, act *classboard.Activity) *classboard.PupilJoin {
	t.Helper()
	j, err := a.Join(context.Background(), classboard.JoinRequest{Code: act.JoinCode, Name: "Sam"}, "192.0.2.9")
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// A pupil's token and name are in the store only as the token's hash and
// the seat's record: the token itself is in no key and no value.
func TestPupilTokenOnlyHashed(t *testing.T) {
	s := openTestStore(t)
	a, _, act := openRoomForTest(t, s)
	j := joinForTest(t, a, act)
	for _, bk := range s.activities {
		keys, err := bk.keys(context.Background(), ">")
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			e, err := bk.kv.Get(context.Background(), k)
			if err != nil {
				continue
			}
			if strings.Contains(k, j.PupilToken) || strings.Contains(string(e.Value()), j.PupilToken) {
				t.Fatalf("%s/%s holds the pupil token in the clear", bk.name, k)
			}
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
	j := joinForTest(t, a, act)
	next, err := a.SetActivity(teacher, act.BoardID, act.Revision, classboard.ActivityUpdate{Kind: classboard.KindAnswer, Status: classboard.StatusOpen})
	if err != nil {
		t.Fatal(err)
	}
	// What a missed purge leaves: the first question's answer, and one of
	// a pupil who sat here before.
	text := "left over"
	if err := roomBucket(t, s, j).set(ctx, answerKey(j.RoomID, j.PupilID), answerDoc{BoardID: act.BoardID, Question: 0,
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
	if err := roomBucket(t, s, j).set(ctx, answerKey(j.RoomID, j.PupilID), answerDoc{BoardID: act.BoardID, Question: next.Question,
		TokenHash: "someone-else", Answer: classboard.Answer{Text: &text}}, 0); err != nil {
		t.Fatal(err)
	}
	check("a former pupil's answer")
}

func mustPupil(t *testing.T, s *Store, j *classboard.PupilJoin) pupilDoc {
	t.Helper()
	var p pupilDoc
	if _, err := roomBucket(t, s, j).get(context.Background(), pupilKey(j.RoomID, j.PupilID), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// set writes v to key whatever it held (a test's way to plant a
// document).
func (b *bucket) set(ctx context.Context, key string, v any, ttl time.Duration) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s/%s: %w", b.name, key, err)
	}
	opts := []jetstream.PublishOpt{jetstream.WithMsgID(token.New())}
	if ttl > 0 {
		opts = append(opts, jetstream.WithMsgTTL(ttl))
	}
	_, err = retry(ctx, func(ctx context.Context) (*jetstream.PubAck, error) {
		return b.js.Publish(ctx, "$KV."+b.name+"."+key, data, opts...)
	})
	if err != nil {
		return fmt.Errorf("set %s/%s: %w", b.name, key, err)
	}
	return nil
}

// roomBucket is the activities bucket of the pupil's room.
func roomBucket(t *testing.T, s *Store, j *classboard.PupilJoin) *bucket {
	t.Helper()
	shard, _, _, ok := parsePupilToken(j.PupilToken)
	if !ok {
		t.Fatalf("pupil token %q is not one pupilToken makes", j.PupilToken)
	}
	return s.activities[shard]
}

// Rooms spread over the activities shards: a board's activity, join code,
// pupils and answers are in one bucket of its state shard's, the code names
// that shard, and a join finds the room whether this node's view holds it
// (the watch running) or not (read from the store).
func TestActivitiesSpreadOverShards(t *testing.T) {
	for _, watched := range []bool{false, true} {
		s := openTestStore(t)
		ctx := context.Background()
		b := s.Boards()
		a := b.Activities()
		if watched {
			wctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); a.WatchActivities(wctx, func(string) {}) }()
			t.Cleanup(func() { cancel(); <-done })
		}
		teacher := classboard.NewContextWithAuth(ctx, &classboard.Auth{Teacher: &classboard.Teacher{ID: "t1", Name: "Ada"}})
		seen := map[int]bool{}
		for i := 0; len(seen) < activityShards; i++ {
			if i == 60 {
				t.Fatalf("60 boards fell into shards %v only", seen)
			}
			nb, err := b.CreateBoard(ctx, "192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.Claim(teacher, classboard.Claim{ClaimToken: nb.ClaimToken, Name: "Room"}, "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
			var bd boardDoc
			if _, err := s.boards.get(ctx, boardKey(nb.BoardID), &bd); err != nil {
				t.Fatal(err)
			}
			shard, err := activityShard(&bd)
			if err != nil || shard%stateShards != bd.StateShard {
				t.Fatalf("a board of state shard %d has its activities in shard %d (%v)", bd.StateShard, shard, err)
			}
			seen[shard] = true
			act, err := a.SetActivity(teacher, nb.BoardID, 0, classboard.ActivityUpdate{Kind: classboard.KindMarkers, Status: classboard.StatusOpen})
			if err != nil {
				t.Fatal(err)
			}
			if codeShard(act.JoinCode) != shard {
				t.Fatalf("board of shard %d got join code %s (shard %d)", shard, act.JoinCode, codeShard(act.JoinCode))
			}
			j, err := a.Join(ctx, classboard.JoinRequest{Code: act.JoinCode, Name: "Sam"}, "192.0.2.9")
			if err != nil {
				t.Fatalf("watched %v: join: %v", watched, err)
			}
			// The second answer replaces the first: a compare-and-set on the
			// revision the view holds, or on the one read when it lags.
			for _, x := range []float64{0.25, 0.5} {
				if err := a.SetAnswer(ctx, j.RoomID, j.PupilToken, classboard.Answer{Marker: &classboard.Point{X: x, Y: x}}); err != nil {
					t.Fatal(err)
				}
			}
			for other, bk := range s.activities {
				for _, key := range []string{activityKey(nb.BoardID), joinKey(act.JoinCode), pupilKey(j.RoomID, j.PupilID), answerKey(j.RoomID, j.PupilID)} {
					_, err := bk.kv.Get(ctx, key)
					if has := err == nil; has != (other == shard) {
						t.Fatalf("board of shard %d: %s in %s: %v", shard, key, bk.name, has)
					}
				}
			}
			got, err := a.Activity(teacher, nb.BoardID)
			if err != nil || got.Aggregate.Answers != 1 || len(got.Markers) != 1 || got.Markers[0].X != 0.5 {
				t.Fatalf("activity %+v, %v; want the one marker the pupil moved", got, err)
			}
		}
	}
}

// A pupil token is worth nothing but in its room, and garbage costs no
// store read.
func TestPupilTokenParsing(t *testing.T) {
	tok := pupilToken(2, "17", "room-a")
	shard, seat, tag, ok := parsePupilToken(tok)
	if !ok || shard != 2 || seat != "17" || tag != roomTag("room-a") || tag == roomTag("room-b") {
		t.Fatalf("parse %q: %d %q %q %v", tok, shard, seat, tag, ok)
	}
	for _, bad := range []string{"", tok[:len(tok)-1], "9" + tok[1:], tok[:1] + "000" + tok[4:], tok[:4] + "zzzzzz" + tok[10:], tok[:10] + strings.Repeat("!", 43)} {
		if _, _, _, ok := parsePupilToken(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// Forgetting a board erases its activity: the join code lets nobody in, and
// no key of the class (pupils, answers, the activity) is left in the store.
func TestForgettingABoardErasesItsActivity(t *testing.T) {
	s := openTestStore(t)
	a, teacher, act := openRoomForTest(t, s)
	ctx := context.Background()
	j := joinForTest(t, a, act)
	if err := a.SetAnswer(ctx, j.RoomID, j.PupilToken, classboard.Answer{Marker: &classboard.Point{X: 0.5, Y: 0.5}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Boards().DeleteBoard(teacher, act.BoardID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Join(ctx, classboard.JoinRequest{Code: act.JoinCode, Name: "Kim"}, "192.0.2.10"); classboard.ErrorCode(err) != classboard.EUNKNOWNCODE {
		t.Fatalf("join with the forgotten board's code: %v, want %s", err, classboard.EUNKNOWNCODE)
	}
	for _, bk := range s.activities {
		keys, err := bk.keys(ctx, ">")
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) > 0 {
			t.Fatalf("%s still holds %v after the board was forgotten", bk.name, keys)
		}
	}
}
