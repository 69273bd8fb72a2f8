package store_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/store"
)

// signedIn creates a teacher and a session and returns the token.
func signedIn(t *testing.T, s *store.Store, email string) string {
	t.Helper()
	ctx := context.Background()
	a := s.Accounts()
	if _, err := a.CreateTeacher(ctx, classboard.SignUp{Email: email, Password: "long enough password", Name: "T"}); err != nil {
		t.Fatal(err)
	}
	sess, err := a.Login(ctx, classboard.Login{Email: email, Password: "long enough password"}, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return sess.Token
}

// A view whose watch stopped (a watch that lags or restarts looks the
// same) stops vouching for what it holds: a session another node revoked
// meanwhile is refused, read from the store, though the stale view still
// holds it.
func TestViewBehindFallsBackToStore(t *testing.T) {
	s := store.OpenTestStore(t, store.TeacherLimits{})
	tok := signedIn(t, s, "lag@school.example")
	poll.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if ans := s.ViewSession(tok); ans != "hit" {
			return fmt.Errorf("view answer %s, want a hit", ans)
		}
		return nil
	})
	s.StopView()
	// Another node's logout: a purge this node's view is not told of.
	if err := s.PurgeSessionBehindView(tok); err != nil {
		t.Fatal(err)
	}
	poll.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		_, err := s.Accounts().Authenticate(context.Background(), tok)
		if classboard.ErrorCode(err) != classboard.EUNAUTHORIZED {
			return fmt.Errorf("revoked session: %v, want unauthorized", err)
		}
		return nil
	})
	if !s.ViewHolds(tok) {
		t.Fatal("the stopped view dropped the session: the refusal did not come from the store")
	}
}

// A node's own logout takes effect at once, before its watch says so.
func TestViewOwnDeleteAtOnce(t *testing.T) {
	s := store.OpenTestStore(t, store.TeacherLimits{})
	tok := signedIn(t, s, "own@school.example")
	s.StopView() // the watch will never report the delete
	if err := s.Accounts().Logout(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if ans := s.ViewSession(tok); ans != "gone" {
		t.Fatalf("view answer %s after this node's logout, want gone", ans)
	}
	if _, err := s.Accounts().Authenticate(context.Background(), tok); classboard.ErrorCode(err) != classboard.EUNAUTHORIZED {
		t.Fatalf("logged-out token: %v", err)
	}
}

// Listing from the view's index gives the same pages, in both orders, as
// sorting the whole list; the teacher's count drives the lesson limit.
func TestLessonIndexPagesAndLimit(t *testing.T) {
	s := store.OpenTestStore(t, store.TeacherLimits{Lessons: 25})
	ctx := classboard.NewContextWithAuth(context.Background(), &classboard.Auth{Teacher: &classboard.Teacher{ID: "teacher-1"}})
	l := s.Lessons()
	var want []*classboard.LessonSummary
	for i := range 25 {
		title := fmt.Sprintf("%c lesson %d", 'a'+rand.IntN(26), i)
		les, err := l.CreateLesson(ctx, classboard.LessonInput{Title: title, Slides: []classboard.Slide{{Kind: classboard.SlideText, Title: "x"}}})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, &classboard.LessonSummary{ID: les.ID, Title: title, SlideCount: 1, Revision: les.Revision, CreatedAt: les.CreatedAt, UpdatedAt: les.UpdatedAt})
	}
	_, err := l.CreateLesson(ctx, classboard.LessonInput{Title: "one too many", Slides: []classboard.Slide{{Kind: classboard.SlideText, Title: "x"}}})
	if classboard.ErrorCode(err) != classboard.EQUOTA {
		t.Fatalf("lesson past the limit: %v", err)
	}
	poll.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if !s.LessonViewCurrent() {
			return fmt.Errorf("view not current")
		}
		return nil
	})
	for _, order := range []string{classboard.LessonsByUpdatedAt, classboard.LessonsByTitle} {
		key := func(s *classboard.LessonSummary) string {
			return fmt.Sprintf("%019d\x00%s", math.MaxInt64-s.UpdatedAt.UnixNano(), s.ID)
		}
		if order == classboard.LessonsByTitle {
			key = func(s *classboard.LessonSummary) string { return strings.ToLower(s.Title) + "\x00" + s.ID }
		}
		sorted := slices.Clone(want)
		slices.SortFunc(sorted, func(a, b *classboard.LessonSummary) int { return strings.Compare(key(a), key(b)) })
		var got []*classboard.LessonSummary
		cursor := ""
		for {
			page, err := l.Lessons(ctx, classboard.ListOptions{Order: order, Limit: 7, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page.Items...)
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		if len(got) != len(sorted) {
			t.Fatalf("%s: %d lessons listed, want %d", order, len(got), len(sorted))
		}
		for i := range got {
			if *got[i] != *sorted[i] {
				t.Fatalf("%s: item %d is %+v, want %+v", order, i, got[i], sorted[i])
			}
		}
	}
	// Deleting one frees a place; the index forgets it at once.
	if err := l.DeleteLesson(ctx, want[0].ID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := l.CreateLesson(ctx, classboard.LessonInput{Title: "fits again", Slides: []classboard.Slide{{Kind: classboard.SlideText, Title: "x"}}}); err != nil {
		t.Fatal(err)
	}
}

// The picture library's "used in N lessons" comes from the view; when the
// view cannot vouch for itself the count is left out (unknown), never
// guessed as zero and never computed by reading every lesson.
func TestMediaUseUnknownWhenViewBehind(t *testing.T) {
	s := store.OpenTestStore(t, store.TeacherLimits{})
	ctx := classboard.NewContextWithAuth(context.Background(), &classboard.Auth{Teacher: &classboard.Teacher{ID: "teacher-1"}})
	m, err := s.Media().CreateMedia(ctx, classboard.NewMedia{Data: []byte("a picture"), ContentType: "image/png", Width: 1, Height: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lessons().CreateLesson(ctx, classboard.LessonInput{Title: "Uses it", Slides: []classboard.Slide{{Kind: classboard.SlideImage, MediaID: m.ID}}}); err != nil {
		t.Fatal(err)
	}
	use := func() string {
		list, err := s.Media().MediaList(ctx, classboard.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != 1 || list.Items[0].Lessons == nil {
			return "unknown"
		}
		return fmt.Sprint(*list.Items[0].Lessons)
	}
	poll.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if got := use(); got != "1" {
			return fmt.Errorf("lessons using the picture: %s, want 1", got)
		}
		return nil
	})
	s.StopView()
	poll.CheckFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if got := use(); got != "unknown" {
			return fmt.Errorf("with the view behind, lessons using the picture: %s, want unknown", got)
		}
		return nil
	})
}
