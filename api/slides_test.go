package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/testcluster"
)

// Text slides with a picture and a layout, links in text, and speaker
// notes: validated, rendered, and notes never reach a board.
func TestRicherSlides(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	up := c.With(ada).Do(t, "POST", "/api/v1/media", pngOf(t, 40, 30, 1), "Content-Type", "image/png")
	if up.Status != 201 {
		t.Fatalf("upload: %d %s", up.Status, up.Body)
	}
	pic := up.Map(t)["id"].(string)
	const secret = "Ask Sam about the field trip"

	apitest.Run(t, c, []apitest.Scenario{
		{Name: "every new field's reason", Method: "POST", Path: "/api/v1/lessons", Token: ada, Body: map[string]any{"title": "x", "slides": []map[string]any{
			{"kind": "text", "body": "a", "layout": "beside"},
			{"kind": "text", "body": "a", "media_id": pic, "layout": "around"},
			{"kind": "text", "body": "a", "media_id": "not-an-id"},
			{"kind": "text", "body": "a", "notes": strings.Repeat("n", 5001)},
			{"kind": "image", "media_id": pic, "layout": "below"},
			{"kind": "link", "title": "x", "url": "https://ok.example", "notes": "bad\x00notes"},
		}}, Status: 400, Code: "invalid", Fields: []string{"slides[0].layout", "slides[1].layout", "slides[2].media_id",
			"slides[3].notes", "slides[4].layout", "slides[5].notes"}},
	})

	l := createLesson(t, c, ada, map[string]any{"title": "Rivers", "slides": []map[string]any{
		{"kind": "text", "title": "The Rhine", "body": "Flows *north*; see [the atlas](https://atlas.example/rhine).", "media_id": pic, "notes": secret},
		{"kind": "text", "title": "Quiz", "body": "Open it now:\n\n[the quiz](https://quiz.example/r)", "media_id": pic, "layout": "below"},
		{"kind": "text", "title": "Quiz again", "body": "[the quiz](https://quiz.example/r)", "notes": secret},
		{"kind": "image", "media_id": pic, "notes": secret},
	}})
	s := l.Slides
	switch {
	case s[0]["layout"] != "beside" || s[1]["layout"] != "below":
		t.Fatalf("layouts %v %v, want the default beside and below", s[0]["layout"], s[1]["layout"])
	case s[0]["html"] != `<p>Flows <em>north</em>; see <a href="https://atlas.example/rhine">the atlas</a>.</p>`:
		t.Fatalf("html %q", s[0]["html"])
	case s[0]["src"] == nil || !strings.Contains(s[0]["src"].(string), pic+"?exp="):
		t.Fatalf("text slide picture without a signed URL: %v", s[0])
	case s[0]["qr"] != nil || s[1]["qr"] != nil:
		t.Fatal("a link inside a sentence, or on a slide with a picture, got a QR code")
	case s[2]["qr"] == nil || !strings.HasPrefix(s[2]["qr"].(string), "data:image/png;base64,"):
		t.Fatalf("a slide that is only a link has no QR code: %v", s[2])
	case s[0]["notes"] != secret || s[3]["notes"] != secret:
		t.Fatalf("the teacher's copy lost its notes: %v", s)
	}

	// On a board the lesson has no notes, for the board and for the owner
	// reading the board's copy; live messages never carry them.
	b := pairBoard(t, c, ada, "Room 4")
	live := mustWS(t, n.URL(), b.BoardID, b.BoardSecret, "")
	first := live.read()
	st := c.With(ada).Do(t, "PUT", "/api/v1/boards/"+b.BoardID+"/state", map[string]any{"lesson_id": l.ID, "slide": 0},
		"If-Match", fmt.Sprint(first.rev()))
	if st.Status != 200 {
		t.Fatalf("steer: %d %s", st.Status, st.Body)
	}
	for _, token := range []string{b.BoardSecret, ada} {
		res := c.With(token).Do(t, "GET", "/api/v1/boards/"+b.BoardID+"/lesson", nil)
		if res.Status != 200 || strings.Contains(string(res.Body), secret) || strings.Contains(string(res.Body), `"notes"`) {
			t.Fatalf("board lesson: %d %s", res.Status, res.Body)
		}
		if !strings.Contains(string(res.Body), "atlas.example") {
			t.Fatalf("board lesson lost its text: %s", res.Body)
		}
	}
	m := live.readUntilRev(int(st.Map(t)["revision"].(float64)))
	if strings.Contains(fmt.Sprint(m), secret) {
		t.Fatalf("live message carries notes: %v", m)
	}
}
