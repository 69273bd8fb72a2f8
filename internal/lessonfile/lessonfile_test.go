package lessonfile

import (
	"bytes"
	"image/color"
	"reflect"
	"testing"
	"time"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/pptxtest"
	"github.com/classboard/classboard/internal/safezip"
)

func sample(t testing.TB) ([]byte, *classboard.Lesson, []byte) {
	pic := pptxtest.SolidPNG(4, 4, color.RGBA{9, 9, 9, 255})
	id := classboard.MediaIDOf(pic)
	l := &classboard.Lesson{ID: "l1", Title: "Rivers", Revision: 7, Slides: []classboard.Slide{
		{Kind: classboard.SlideText, Title: "A", Body: "*b*", MediaID: id, Layout: classboard.LayoutBelow, Notes: "n", HTML: "<p>b</p>", Src: "/x"},
		{Kind: classboard.SlideLink, Title: "L", URL: "https://l.example", QR: "data:x"},
	}}
	var buf bytes.Buffer
	if err := Write(&buf, l, map[string]*classboard.MediaContent{id: {ID: id, ContentType: "image/png", Data: pic, ModTime: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), l, pic
}

// What Write writes, Read reads back: the slides as stored (no output
// fields, notes kept) and the pictures by id.
func TestWriteRead(t *testing.T) {
	data, l, pic := sample(t)
	a, err := safezip.Open(data, safezip.DefaultLimits())
	if err != nil || !IsLessonFile(a) {
		t.Fatalf("open: %v", err)
	}
	in, pictures, err := Read(a, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	want := []classboard.Slide{
		{Kind: classboard.SlideText, Title: "A", Body: "*b*", MediaID: l.Slides[0].MediaID, Layout: classboard.LayoutBelow, Notes: "n"},
		{Kind: classboard.SlideLink, Title: "L", URL: "https://l.example"},
	}
	if in.Title != "Rivers" || !reflect.DeepEqual(in.Slides, want) || !bytes.Equal(pictures[l.Slides[0].MediaID], pic) || len(pictures) != 1 {
		t.Fatalf("read %+v, %d pictures", in, len(pictures))
	}
	if _, _, err := Read(a, 10); classboard.ErrorCode(err) != classboard.EFILETOOLARGE {
		t.Fatalf("a picture over the limit: %v", err)
	}
}

// Read never panics and answers only client errors on any input.
func FuzzRead(f *testing.F) {
	data, _, _ := sample(f)
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := safezip.Open(data, safezip.DefaultLimits())
		if err != nil {
			return
		}
		if _, _, err := Read(a, 1<<20); err != nil && classboard.ErrorCode(err) == classboard.EINTERNAL {
			t.Fatalf("internal error: %v", err)
		}
	})
}
