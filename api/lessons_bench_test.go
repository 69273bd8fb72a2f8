package api_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/testcluster"
)

// BenchmarkLessonsFirstPage measures GET /api/v1/lessons (the first page,
// newest first) for a teacher with 50 and with 50,000 lessons: the node
// cuts the page from its per-teacher index, so both should cost the same.
// The lessons are made through the store (HTTP would only slow the set-up).
//
//	go test ./api -run '^$' -bench LessonsFirstPage -benchtime 200x
func BenchmarkLessonsFirstPage(b *testing.B) {
	for _, lessons := range []int{50, 50_000} {
		b.Run(fmt.Sprintf("lessons=%d", lessons), func(b *testing.B) {
			n := testcluster.StartNode(b)
			c := apitest.New(n.URL())
			tok := benchToken(b, c)
			var me struct {
				ID string `json:"id"`
			}
			c.With(tok).Do(b, "GET", "/api/v1/me", nil).JSON(b, &me)
			ctx := classboard.NewContextWithAuth(context.Background(), &classboard.Auth{Teacher: &classboard.Teacher{ID: me.ID}})
			in := classboard.LessonInput{Title: "A lesson", Slides: []classboard.Slide{{Kind: classboard.SlideText, Title: "One"}}}
			var wg sync.WaitGroup
			for w := range 8 {
				wg.Go(func() {
					for i := w; i < lessons; i += 8 {
						if _, err := n.Store().Lessons().CreateLesson(ctx, in); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			cl := c.With(tok)
			b.ResetTimer()
			for range b.N {
				if res := cl.Do(b, "GET", "/api/v1/lessons", nil); res.Status != 200 {
					b.Fatalf("list: %d %s", res.Status, res.Body)
				}
			}
		})
	}
}
