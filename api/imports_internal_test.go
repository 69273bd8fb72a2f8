package api

import (
	"context"
	"image/color"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/pptxtest"
	"github.com/classboard/classboard/pptx"
)

// A node runs importSlots imports at once; one more is told to come back,
// before its body is read.
func TestImportSlotsFull(t *testing.T) {
	s := New(Config{}, Services{})
	for range importSlots {
		s.imports <- struct{}{}
	}
	r := httptest.NewRequest("POST", "/api/v1/lessons/import", strings.NewReader("not read"))
	r.Header.Set("Content-Type", pptx.ContentType)
	w := httptest.NewRecorder()
	s.importLesson(w, r)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "2" || !strings.Contains(w.Body.String(), `"rate_limited"`) {
		t.Fatalf("got %d %v %s", w.Code, w.Header(), w.Body)
	}
	<-s.imports
	// With a slot free, the file is read (and this one refused).
	r = httptest.NewRequest("POST", "/api/v1/lessons/import", strings.NewReader("not a zip"))
	r.Header.Set("Content-Type", pptx.ContentType)
	w = httptest.NewRecorder()
	s.importLesson(w, r)
	if w.Code != http.StatusUnsupportedMediaType || !strings.Contains(w.Body.String(), `"unsupported_file"`) {
		t.Fatalf("with a free slot: %d %s", w.Code, w.Body)
	}
}

// fakeMedia keeps ids of stored pictures; the rest of the interface is
// not used by imports.
type fakeMedia struct {
	classboard.MediaService
	have    map[string]bool
	deleted []string
}

func (f *fakeMedia) MayReadMedia(_ context.Context, id string) error {
	if f.have[id] {
		return nil
	}
	return classboard.Errorf(classboard.ENOTFOUND, "no")
}

func (f *fakeMedia) CreateMedia(_ context.Context, in classboard.NewMedia) (*classboard.Media, error) {
	id := classboard.MediaIDOf(in.Data)
	f.have[id] = true
	return &classboard.Media{ID: id}, nil
}

func (f *fakeMedia) DeleteMedia(_ context.Context, id string) error {
	f.deleted = append(f.deleted, id)
	delete(f.have, id)
	return nil
}

type failingLessons struct{ classboard.LessonService }

func (failingLessons) CreateLesson(context.Context, classboard.LessonInput) (*classboard.Lesson, error) {
	return nil, classboard.Errorf(classboard.EUNAVAILABLE, "store down")
}

// When the lesson cannot be stored after its pictures were, the pictures
// the import added are deleted again, and a picture the teacher already
// had is kept.
func TestImportRemovesItsPicturesWhenTheLessonFails(t *testing.T) {
	old, added := pptxtest.SolidPNG(8, 8, color.RGBA{1, 2, 3, 255}), pptxtest.SolidPNG(8, 8, color.RGBA{4, 5, 6, 255})
	s := New(Config{}, Services{})
	// What the pipeline stores for each: re-encoded bytes, so ids come
	// from the processed pictures.
	oldImg, err := s.images.Process(context.Background(), old)
	if err != nil {
		t.Fatal(err)
	}
	media := &fakeMedia{have: map[string]bool{classboard.MediaIDOf(oldImg.Data): true}}
	s.svc.Media, s.svc.Lessons = media, failingLessons{}
	in := &classboard.LessonInput{Title: "x", Slides: []classboard.Slide{
		{Kind: classboard.SlideImage, MediaID: "old.png"}, {Kind: classboard.SlideImage, MediaID: "added.png"}}}
	_, err = s.storeImport(context.Background(), in, map[string][]byte{"old.png": old, "added.png": added}, true)
	if classboard.ErrorCode(err) != classboard.EUNAVAILABLE {
		t.Fatalf("got %v", err)
	}
	if len(media.deleted) != 1 || !media.have[classboard.MediaIDOf(oldImg.Data)] || len(media.have) != 1 {
		t.Fatalf("deleted %v, kept %v", media.deleted, media.have)
	}
}
