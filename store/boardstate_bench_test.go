package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/classboard/classboard"
)

// Hot paths of the store, for benchstat: a board state write (read,
// compare, KV update with an fsync) and a lesson read.
//
//	go test ./store -run '^$' -bench 'SetState|LessonRead' -count 10 | tee new.txt
//	benchstat old.txt new.txt

// benchTeacher signs a teacher up and returns a context acting for it.
func benchTeacher(b *testing.B, s *Store) context.Context {
	b.Helper()
	ctx := context.Background()
	t, err := s.Accounts().CreateTeacher(ctx, classboard.SignUp{Email: "bench@school.example", Password: "benchmark password", Name: "Bench"})
	if err != nil {
		b.Fatal(err)
	}
	return classboard.NewContextWithAuth(ctx, &classboard.Auth{Teacher: t, Device: "bench"})
}

// benchBoard registers a board and pairs it with the teacher of ctx.
func benchBoard(b *testing.B, s *Store, ctx context.Context) (*Boards, string, uint64) {
	b.Helper()
	boards := s.Boards()
	nb, err := boards.CreateBoard(context.Background(), "192.0.2.1")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := boards.Claim(ctx, classboard.Claim{Code: nb.Code, Name: "Room 1"}, "192.0.2.1"); err != nil {
		b.Fatal(err)
	}
	st, err := boards.State(ctx, nb.BoardID)
	if err != nil {
		b.Fatal(err)
	}
	return boards, nb.BoardID, st.Revision
}

// BenchmarkSetState is one teacher's click: a board state replaced with
// If-Match, as PUT /api/v1/boards/{id}/state does it (without HTTP).
func BenchmarkSetState(b *testing.B) {
	s := openTestStore(b)
	ctx := benchTeacher(b, s)
	boards, id, rev := benchBoard(b, s, ctx)
	ends := time.Now().Add(time.Hour)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		st, err := boards.SetState(ctx, id, rev, classboard.StateUpdate{Blank: i%2 == 0, Timer: &classboard.Timer{EndsAt: ends.Add(time.Duration(i) * time.Millisecond)}})
		if err != nil {
			b.Fatal(err)
		}
		rev = st.Revision
	}
}

// BenchmarkLessonRead reads a 40-slide lesson, as the board does after
// each change of lesson.
func BenchmarkLessonRead(b *testing.B) {
	s := openTestStore(b)
	ctx := benchTeacher(b, s)
	in := classboard.LessonInput{Title: "Photosynthesis"}
	for i := range 40 {
		in.Slides = append(in.Slides, classboard.Slide{Kind: "text", Title: fmt.Sprintf("Slide %d", i+1), Body: strings.Repeat("Light, water and carbon dioxide. ", 10)})
	}
	l, err := s.Lessons().CreateLesson(ctx, in)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Lessons().Lesson(ctx, l.ID); err != nil {
			b.Fatal(err)
		}
	}
}
