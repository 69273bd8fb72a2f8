package store

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/markdown"
)

// A lesson stored by version 1 reads as the current version and renders
// as version 1 showed it: links in text were shown as their text, so
// they stay text. v1Shown is what version 1 rendered for the fixture's
// text slides.
func TestLessonSchemaV1MigratesOnRead(t *testing.T) {
	s := openTestStore(t)
	raw, err := os.ReadFile("testdata/lesson-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc lessonDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.lessons.create(ctx, lessonKey(doc.TeacherID, doc.ID), json.RawMessage(raw), 0); err != nil {
		t.Fatal(err)
	}
	teacher := classboard.NewContextWithAuth(ctx, &classboard.Auth{Teacher: &classboard.Teacher{ID: doc.TeacherID}})
	l, err := s.Lessons().Lesson(teacher, doc.ID)
	if err != nil {
		t.Fatal(err)
	}
	v1Shown := []string{
		"<p>Rain falls on <em>hills</em>.</p>\n<ul>\n<li>springs</li>\n<li>lakes</li>\n</ul>\n<p>Read the atlas at home.</p>",
		"<p>Only a link</p>",
	}
	md := markdown.New()
	for i, want := range v1Shown {
		if got := md.Render(l.Slides[i].Body); got != want {
			t.Errorf("slide %d renders %q, version 1 showed %q", i, got, want)
		}
		if got := md.FeaturedLink(l.Slides[i].Body); got != "" {
			t.Errorf("slide %d features link %q; version 1 showed no QR code", i, got)
		}
	}
	if l.Slides[2].MediaID != doc.Slides[2].MediaID || l.Slides[2].Caption != "The Rhine" || l.Slides[3].URL != "https://quiz.example/rivers" {
		t.Fatalf("other slides changed: %+v", l.Slides[2:])
	}

	// Saved again, it is stored in the current version and reads the same.
	in := classboard.LessonInput{Title: l.Title, Slides: l.Slides}
	in.Slides[2].MediaID = ""
	in.Slides = append(in.Slides[:2], in.Slides[3])
	up, err := s.Lessons().UpdateLesson(teacher, doc.ID, l.Revision, in)
	if err != nil {
		t.Fatal(err)
	}
	var stored lessonDoc
	if _, err := s.lessons.get(ctx, lessonKey(doc.TeacherID, doc.ID), &stored); err != nil {
		t.Fatal(err)
	}
	if stored.V != classboard.LessonSchemaVersion || stored.Slides[0].Body != up.Slides[0].Body {
		t.Fatalf("stored v%d %q", stored.V, stored.Slides[0].Body)
	}
}

// A lesson written by a newer version (a rolling upgrade) is refused, not
// read with fields dropped that the next save would lose.
func TestLessonSchemaNewerIsRefused(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	doc := lessonDoc{V: classboard.LessonSchemaVersion + 1, ID: "l1", TeacherID: "t1", Title: "From the future"}
	if _, err := s.lessons.create(ctx, lessonKey("t1", "l1"), doc, 0); err != nil {
		t.Fatal(err)
	}
	teacher := classboard.NewContextWithAuth(ctx, &classboard.Auth{Teacher: &classboard.Teacher{ID: "t1"}})
	// 503: the app tries another node, an upgraded one.
	if _, err := s.Lessons().Lesson(teacher, "l1"); classboard.ErrorCode(err) != classboard.EUNAVAILABLE {
		t.Fatalf("got %v, want %s", err, classboard.EUNAVAILABLE)
	}
	if _, err := s.Lessons().UpdateLesson(teacher, "l1", 1, classboard.LessonInput{Title: "Now", Slides: []classboard.Slide{{Kind: classboard.SlideText, Title: "Now"}}}); classboard.ErrorCode(err) != classboard.EUNAVAILABLE {
		t.Fatalf("saving over it: %v, want %s", err, classboard.EUNAVAILABLE)
	}
}
