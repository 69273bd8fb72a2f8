package api_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/pptxtest"
	"github.com/classboard/classboard/internal/testcluster"
	"github.com/classboard/classboard/node"
)

const pptxType = "application/vnd.openxmlformats-officedocument.presentationml.presentation"

// deckWithPictures is a small presentation: a title slide, a slide with
// bullets, a picture and notes, and a picture-only slide.
func deckWithPictures(t testing.TB) []byte {
	return pptxtest.Build(pptxtest.Deck{Title: "Volcanoes", Slides: []pptxtest.Slide{
		{Shapes: []pptxtest.Shape{{Kind: "title", Paras: []pptxtest.Para{pptxtest.Text("Volcanoes")}}}},
		{Notes: "Show the video first.", Shapes: []pptxtest.Shape{
			{Kind: "title", Paras: []pptxtest.Para{pptxtest.Text("How they form")}},
			{Kind: "body", Paras: []pptxtest.Para{{Runs: []pptxtest.Run{{Text: "Magma "}, {Text: "rises", Bold: true}}}, {Level: 1, Runs: []pptxtest.Run{{Text: "slowly"}}}}},
			{Kind: "picture", Top: 3000000, Picture: pngOf(t, 60, 40, 7)},
		}},
		{Shapes: []pptxtest.Shape{{Kind: "picture", Picture: pngOf(t, 50, 40, 8)}}},
	}})
}

// countOf returns how many lessons and pictures a teacher has.
func countOf(t *testing.T, c *apitest.Client, token string) (lessons, pictures int) {
	t.Helper()
	var page struct {
		Items []any `json:"items"`
	}
	c.With(token).Do(t, "GET", "/api/v1/lessons", nil).JSON(t, &page)
	lessons = len(page.Items)
	c.With(token).Do(t, "GET", "/api/v1/media", nil).JSON(t, &page)
	return lessons, len(page.Items)
}

// rezip returns a zip of the given name/content pairs.
func rezip(t testing.TB, files ...string) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for i := 0; i < len(files); i += 2 {
		w, _ := zw.Create(files[i])
		w.Write([]byte(files[i+1]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// deckWithSlide is a valid deck whose first slide's XML is replaced.
func deckWithSlide(t testing.TB, slideXML string) []byte {
	deck := deckWithPictures(t)
	zr, err := zip.NewReader(bytes.NewReader(deck), int64(len(deck)))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		if f.Name == "ppt/slides/slide1.xml" {
			b = []byte(slideXML)
		}
		files = append(files, f.Name, string(b))
	}
	return rezip(t, files...)
}

func withImportLimit(n int64) testcluster.Option {
	return func(cfg *node.Config) { cfg.MaxImportBytes = n }
}

// Every refusal of an import is a clear 4xx, and none stores anything.
func TestImportRefusals(t *testing.T) {
	n := testcluster.StartNode(t, withImportLimit(2<<20), withMediaLimits(1<<20, 30<<10))
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	zeros := rezip(t, "lesson.json", "{}", "media/bomb.png", strings.Repeat("\x00", 3<<20))
	tooMany := pptxtest.Deck{}
	for range 201 {
		tooMany.Slides = append(tooMany.Slides, pptxtest.Slide{Shapes: []pptxtest.Shape{{Kind: "title", Paras: []pptxtest.Para{pptxtest.Text("x")}}}})
	}
	bigPictures := pptxtest.Deck{Slides: []pptxtest.Slide{{Shapes: []pptxtest.Shape{
		{Kind: "picture", Picture: pngOf(t, 90, 90, 1)}, {Kind: "picture", Top: 10, Picture: pngOf(t, 90, 90, 2)}}}}}
	lessonJSON := func(v any) []byte { b, _ := json.Marshal(v); return rezip(t, "lesson.json", string(b)) }
	pp := []string{"Content-Type", pptxType}
	zp := []string{"Content-Type", "application/zip"}

	apitest.Run(t, c, []apitest.Scenario{
		{Name: "without a token", Method: "POST", Path: "/api/v1/lessons/import", Body: deckWithPictures(t), Headers: pp, Status: 401},
		{Name: "another content type", Method: "POST", Path: "/api/v1/lessons/import", Token: ada, Body: "%PDF-1.7", Headers: []string{"Content-Type", "application/pdf"}, Status: 415, Code: "unsupported_file"},
		{Name: "not a zip", Method: "POST", Path: "/api/v1/lessons/import", Token: ada, Body: "just text", Headers: pp, Status: 415, Code: "unsupported_file"},
		{Name: "a zip that is not a presentation", Method: "POST", Path: "/api/v1/lessons/import", Token: ada, Body: rezip(t, "a.txt", "a"), Headers: pp, Status: 415, Code: "unsupported_file"},
		{Name: "a zip that is not a lesson file", Method: "POST", Path: "/api/v1/lessons/import", Token: ada, Body: rezip(t, "a.txt", "a"), Headers: zp, Status: 415, Code: "unsupported_file"},
		{Name: "over the size limit", Method: "POST", Path: "/api/v1/lessons/import", Token: ada, Body: make([]byte, 2<<20+1), Headers: pp, Status: 413, Code: "too_large"},
		{Name: "zip bomb by ratio", Method: "POST", Path: "/api/v1/lessons/import", Token: ada, Body: zeros, Headers: zp, Status: 413, Code: "file_too_large"},
		{Name: "path traversal", Method: "POST", Path: "/api/v1/lessons/import", Token: ada, Body: rezip(t, "lesson.json", "{}", "../../evil", "x"), Headers: zp, Status: 400, Code: "invalid_file"},
		{Name: "entity expansion", Method: "POST", Path: "/api/v1/lessons/import", Token: ada, Headers: pp, Status: 400, Code: "invalid_file",
			Body: deckWithSlide(t, `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><p:sld xmlns:p="p">&b;</p:sld>`)},
		{Name: "deep nesting", Method: "POST", Path: "/api/v1/lessons/import", Token: ada, Headers: pp, Status: 400, Code: "invalid_file",
			Body: deckWithSlide(t, `<p:sld xmlns:p="p">`+strings.Repeat("<p:grpSp>", 100)+strings.Repeat("</p:grpSp>", 100)+`</p:sld>`)},
		{Name: "more slides than a lesson holds", Method: "POST", Path: "/api/v1/lessons/import", Token: ada, Body: pptxtest.Build(tooMany), Headers: pp, Status: 400, Code: "invalid", Fields: []string{"slides"}},
		{Name: "pictures over the quota", Method: "POST", Path: "/api/v1/lessons/import", Token: ada, Body: pptxtest.Build(bigPictures), Headers: pp, Status: 413, Code: "quota_exceeded"},
		{Name: "lesson file of a newer version", Method: "POST", Path: "/api/v1/lessons/import", Token: ada, Headers: zp, Status: 400, Code: "invalid_file",
			Body: lessonJSON(map[string]any{"format": "classboard-lesson", "version": 99, "title": "x", "slides": []any{}, "pictures": map[string]string{}})},
		{Name: "lesson file with unknown fields", Method: "POST", Path: "/api/v1/lessons/import", Token: ada, Headers: zp, Status: 400, Code: "invalid_file",
			Body: lessonJSON(map[string]any{"format": "classboard-lesson", "version": 2, "title": "x", "slides": []any{}, "script": "x"})},
		{Name: "lesson file with a picture outside media/", Method: "POST", Path: "/api/v1/lessons/import", Token: ada, Headers: zp, Status: 400, Code: "invalid_file",
			Body: lessonJSON(map[string]any{"format": "classboard-lesson", "version": 2, "title": "x", "slides": []any{}, "pictures": map[string]string{strings.Repeat("a", 64): "lesson.json"}})},
		{Name: "lesson file with a bad slide", Method: "POST", Path: "/api/v1/lessons/import", Token: ada, Headers: zp, Status: 400, Code: "invalid",
			Body: lessonJSON(map[string]any{"format": "classboard-lesson", "version": 2, "title": "x", "slides": []any{map[string]string{"kind": "link", "title": "x", "url": "javascript:alert(1)"}}})},
		{Name: "lesson file picture that is not a picture", Method: "POST", Path: "/api/v1/lessons/import", Token: ada, Headers: zp, Status: 400, Code: "invalid_file",
			Body: rezip(t, "lesson.json", `{"format":"classboard-lesson","version":2,"title":"x","slides":[{"kind":"image","media_id":"`+strings.Repeat("b", 64)+`"}],"pictures":{"`+strings.Repeat("b", 64)+`":"media/`+strings.Repeat("b", 64)+`.png"}}`,
				"media/"+strings.Repeat("b", 64)+".png", "<svg onload=alert(1)>")},
	})
	if l, p := countOf(t, c, ada); l != 0 || p != 0 {
		t.Fatalf("refused imports stored %d lessons and %d pictures", l, p)
	}
}

// A presentation imports as slides with their text, pictures and notes.
func TestImportPPTX(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	res := c.With(ada).Do(t, "POST", "/api/v1/lessons/import?title=Geography+7B", deckWithPictures(t), "Content-Type", pptxType, "Idempotency-Key", "k1")
	if res.Status != 201 {
		t.Fatalf("import: %d %s", res.Status, res.Body)
	}
	var l lessonDoc
	res.JSON(t, &l)
	s := l.Slides
	switch {
	case l.Title != "Geography 7B" || len(s) != 3:
		t.Fatalf("lesson %q with %d slides: %s", l.Title, len(s), res.Body)
	case s[0]["kind"] != "text" || s[0]["title"] != "Volcanoes":
		t.Fatalf("slide 1: %v", s[0])
	case s[1]["body"] != "- Magma **rises**\n  - slowly" || s[1]["media_id"] == nil || s[1]["layout"] != "beside" || s[1]["notes"] != "Show the video first.":
		t.Fatalf("slide 2: %v", s[1])
	case s[1]["html"] != "<ul>\n<li>Magma <strong>rises</strong>\n<ul>\n<li>slowly</li>\n</ul>\n</li>\n</ul>":
		t.Fatalf("slide 2 html %q", s[1]["html"])
	case s[2]["kind"] != "image" || s[2]["src"] == nil:
		t.Fatalf("slide 3: %v", s[2])
	}
	// The pictures went through the media pipeline: they are the
	// teacher's uploads now.
	if _, pictures := countOf(t, c, ada); pictures != 2 {
		t.Fatalf("%d pictures stored, want 2", pictures)
	}
	again := c.With(ada).Do(t, "POST", "/api/v1/lessons/import?title=Geography+7B", deckWithPictures(t), "Content-Type", pptxType, "Idempotency-Key", "k1")
	if again.Status != 201 || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry: %d %v", again.Status, again.Header)
	}
	if lessons, _ := countOf(t, c, ada); lessons != 1 {
		t.Fatalf("a retried import made %d lessons", lessons)
	}
}

// A lesson exported by one teacher imports for another the same, with the
// pictures stored again under the importer's quota; a picture the owner
// deleted stays a placeholder.
func TestExportImportRoundTrip(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	bob := teacherToken(t, c, "Bob Other", "laptop")
	pic := func(seed uint64) string {
		return upload(t, c, ada, pngOf(t, 30, 20, seed), "image/png").Map(t)["id"].(string)
	}
	p1, p2, gone := pic(1), pic(2), pic(3)
	orig := createLesson(t, c, ada, map[string]any{"title": "Rivers", "slides": []map[string]any{
		{"kind": "text", "title": "The Rhine", "body": "Flows *north*; [atlas](https://atlas.example)", "media_id": p1, "layout": "below", "notes": "Mention Basel."},
		{"kind": "image", "media_id": p2, "caption": "Delta", "notes": "Point at the sea."},
		{"kind": "image", "media_id": gone},
		{"kind": "link", "title": "Quiz", "url": "https://quiz.example/r"},
	}})
	if res := c.With(ada).Do(t, "DELETE", "/api/v1/media/"+gone, nil); res.Status != 204 {
		t.Fatalf("delete picture: %d", res.Status)
	}

	apitest.Run(t, c, []apitest.Scenario{
		{Name: "export without a token", Method: "GET", Path: "/api/v1/lessons/" + orig.ID + "/export", Status: 401},
		{Name: "another teacher cannot export", Method: "GET", Path: "/api/v1/lessons/" + orig.ID + "/export", Token: bob, Status: 404, Code: "not_found"},
	})
	res := c.With(ada).Do(t, "GET", "/api/v1/lessons/"+orig.ID+"/export", nil)
	if res.Status != 200 || res.Header.Get("Content-Type") != "application/zip" || !strings.Contains(res.Header.Get("Content-Disposition"), `filename=Rivers.classboard.zip`) {
		t.Fatalf("export: %d %v", res.Status, res.Header)
	}
	zr, err := zip.NewReader(bytes.NewReader(res.Body), int64(len(res.Body)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if len(names) != 3 || !strings.Contains(fmt.Sprint(names), "lesson.json") {
		t.Fatalf("file holds %v, want lesson.json and two pictures", names)
	}

	for _, who := range []struct{ name, token string }{{"the same teacher", ada}, {"another teacher", bob}} {
		t.Run(who.name, func(t *testing.T) {
			imp := c.With(who.token).Do(t, "POST", "/api/v1/lessons/import", res.Body, "Content-Type", "application/zip")
			if imp.Status != 201 {
				t.Fatalf("import: %d %s", imp.Status, imp.Body)
			}
			var got lessonDoc
			imp.JSON(t, &got)
			if got.ID == orig.ID || got.Title != orig.Title || len(got.Slides) != len(orig.Slides) {
				t.Fatalf("imported %s", imp.Body)
			}
			for i := range orig.Slides {
				for _, f := range []string{"kind", "title", "body", "layout", "caption", "url", "notes", "html", "media_id"} {
					if fmt.Sprint(got.Slides[i][f]) != fmt.Sprint(orig.Slides[i][f]) {
						t.Errorf("slide %d %s: %v, exported %v", i, f, got.Slides[i][f], orig.Slides[i][f])
					}
				}
			}
			// The pictures are the importer's: shown with signed URLs; the
			// deleted one a placeholder.
			if got.Slides[0]["src"] == nil || got.Slides[1]["src"] == nil || got.Slides[2]["src"] != nil {
				t.Fatalf("pictures: %v", got.Slides[:3])
			}
		})
	}
	if _, pictures := countOf(t, c, bob); pictures != 2 {
		t.Fatalf("bob has %d pictures, want the 2 imported", pictures)
	}
}

// A failure after pictures were stored removes them again, but never a
// picture the teacher had before the import.
func TestImportFailureRemovesItsPictures(t *testing.T) {
	n := testcluster.StartNode(t, withMediaLimits(1<<20, 50<<10))
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	mine := pngOf(t, 60, 60, 11) // about 11 KiB of noise
	if res := upload(t, c, ada, mine, "image/png"); res.Status != 201 {
		t.Fatalf("upload: %d %s", res.Status, res.Body)
	}
	deck := pptxtest.Build(pptxtest.Deck{Slides: []pptxtest.Slide{{Shapes: []pptxtest.Shape{
		{Kind: "picture", Picture: mine},
		{Kind: "picture", Top: 1, Picture: pngOf(t, 60, 60, 12)},
		{Kind: "picture", Top: 2, Picture: pngOf(t, 60, 60, 13)},
		{Kind: "picture", Top: 3, Picture: pngOf(t, 60, 60, 14)},
		{Kind: "picture", Top: 4, Picture: pngOf(t, 60, 60, 15)},
	}}}})
	res := c.With(ada).Do(t, "POST", "/api/v1/lessons/import", deck, "Content-Type", pptxType)
	if res.Status != 413 || res.ErrorCode() != "quota_exceeded" {
		t.Fatalf("import: %d %s", res.Status, res.Body)
	}
	if lessons, pictures := countOf(t, c, ada); lessons != 0 || pictures != 1 {
		t.Fatalf("after a failed import: %d lessons, %d pictures; want 0 and the 1 from before", lessons, pictures)
	}
}
