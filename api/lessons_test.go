package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/testcluster"
)

type lessonDoc struct {
	ID       string           `json:"id"`
	Title    string           `json:"title"`
	Slides   []map[string]any `json:"slides"`
	Revision uint64           `json:"revision"`
}

func sampleLesson(title string) map[string]any {
	return map[string]any{"title": title, "slides": []map[string]any{
		{"kind": "text", "title": "Photosynthesis", "body": "Plants make *sugar*.\n\n- light\n- water\n\n<script>alert(1)</script>"},
		{"kind": "link", "title": "Read more", "url": "https://en.wikipedia.org/wiki/Photosynthesis"},
	}}
}

func createLesson(t *testing.T, c *apitest.Client, token string, body any) lessonDoc {
	t.Helper()
	res := c.With(token).Do(t, "POST", "/api/v1/lessons", body)
	if res.Status != 201 {
		t.Fatalf("create lesson: %d %s", res.Status, res.Body)
	}
	var l lessonDoc
	res.JSON(t, &l)
	return l
}

func TestLessonScenarios(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	bob := teacherToken(t, c, "Bob Other", "laptop")
	tooMany := map[string]any{"title": "Long", "slides": make([]map[string]any, 201)}
	for i := range 201 {
		tooMany["slides"].([]map[string]any)[i] = map[string]any{"kind": "text", "body": "x"}
	}
	huge := map[string]any{"title": "Huge", "slides": []map[string]any{}}
	for range 120 {
		huge["slides"] = append(huge["slides"].([]map[string]any), map[string]any{"kind": "text", "body": strings.Repeat("é", 4900)})
	}
	var l lessonDoc

	apitest.Run(t, c, []apitest.Scenario{
		{Name: "list without a token", Method: "GET", Path: "/api/v1/lessons", Status: 401, Code: "unauthorized"},
		{Name: "create without a token", Method: "POST", Path: "/api/v1/lessons", Body: sampleLesson("x"), Status: 401},
		{Name: "unknown field", Method: "POST", Path: "/api/v1/lessons", Token: ada, Body: `{"title":"x","slides":[],"owner":"me"}`, Status: 400, Code: "invalid_json", Fields: []string{"owner"}},
		{Name: "unknown slide field", Method: "POST", Path: "/api/v1/lessons", Token: ada, Body: `{"title":"x","slides":[{"kind":"text","body":"a","style":"red"}]}`, Status: 400, Code: "invalid_json"},
		{Name: "every slide reason", Method: "POST", Path: "/api/v1/lessons", Token: ada, Body: map[string]any{"title": "", "slides": []map[string]any{
			{"kind": "video"}, {"kind": "text"}, {"kind": "image", "media_id": "../etc/passwd"}, {"kind": "link", "title": "x", "url": "javascript:alert(1)"},
			{"kind": "link", "title": "x", "url": "https://ok.example", "body": "stray"}, {"kind": "text", "title": strings.Repeat("t", 201)},
			{"kind": "text", "body": strings.Repeat("b", 5001)}, {"kind": "image", "media_id": strings.Repeat("a", 64), "caption": "bad\x00caption"},
		}}, Status: 400, Code: "invalid", Fields: []string{"title", "slides[0].kind", "slides[1].body", "slides[2].media_id", "slides[3].url",
			"slides[4].body", "slides[5].title", "slides[6].body", "slides[7].caption"}},
		{Name: "more than 200 slides", Method: "POST", Path: "/api/v1/lessons", Token: ada, Body: tooMany, Status: 400, Code: "invalid", Fields: []string{"slides"}},
		{Name: "document over 512 KiB", Method: "POST", Path: "/api/v1/lessons", Token: ada, Body: huge, Status: 413, Code: "too_large"},
		{Name: "create", Method: "POST", Path: "/api/v1/lessons", Token: ada, Body: sampleLesson("Plants"), Status: 201, Check: func(t *testing.T, r *apitest.Response) error {
			r.JSON(t, &l)
			switch {
			case l.ID == "" || l.Revision == 0 || r.Header.Get("ETag") != fmt.Sprintf(`"%d"`, l.Revision):
				return apitest.Errorf("id, revision or ETag missing: %s %v", r.Body, r.Header)
			case r.Header.Get("Location") != "/api/v1/lessons/"+l.ID:
				return apitest.Errorf("Location %q", r.Header.Get("Location"))
			case l.Slides[0]["html"] != "<p>Plants make <em>sugar</em>.</p>\n<ul>\n<li>light</li>\n<li>water</li>\n</ul>":
				return apitest.Errorf("rendered body %q", l.Slides[0]["html"])
			case !strings.HasPrefix(l.Slides[1]["qr"].(string), "data:image/png;base64,"):
				return apitest.Errorf("link slide without a QR code: %v", l.Slides[1])
			}
			return nil
		}},
	})
	path := "/api/v1/lessons/" + l.ID
	rev := fmt.Sprint(l.Revision)
	edited := sampleLesson("Plants, edited")

	apitest.Run(t, c, []apitest.Scenario{
		{Name: "read", Method: "GET", Path: path, Token: ada, Status: 200},
		{Name: "another teacher cannot read", Method: "GET", Path: path, Token: bob, Status: 404, Code: "not_found"},
		{Name: "another teacher cannot replace", Method: "PUT", Path: path, Token: bob, Body: edited, Headers: []string{"If-Match", rev}, Status: 404},
		{Name: "another teacher cannot delete", Method: "DELETE", Path: path, Token: bob, Status: 404},
		{Name: "unknown lesson", Method: "GET", Path: "/api/v1/lessons/nope", Token: ada, Status: 404},
		{Name: "put without If-Match", Method: "PUT", Path: path, Token: ada, Body: edited, Status: 428, Code: "if_match_required"},
		{Name: "put with a bad If-Match", Method: "PUT", Path: path, Token: ada, Body: edited, Headers: []string{"If-Match", "yesterday"}, Status: 400},
		{Name: "put with bad input changes nothing", Method: "PUT", Path: path, Token: ada, Body: map[string]any{"title": "", "slides": []any{}}, Headers: []string{"If-Match", rev}, Status: 400, Code: "invalid"},
		{Name: "put quoted", Method: "PUT", Path: path, Token: ada, Body: edited, Headers: []string{"If-Match", `"` + rev + `"`}, Status: 200},
		{Name: "stale put answers the current lesson", Method: "PUT", Path: path, Token: ada, Body: sampleLesson("Lost edit"), Headers: []string{"If-Match", rev}, Status: 412, Code: "revision_mismatch", Check: func(t *testing.T, r *apitest.Response) error {
			var e struct {
				Current lessonDoc `json:"current"`
			}
			r.JSON(t, &e)
			if e.Current.Title != "Plants, edited" || e.Current.Revision <= l.Revision || e.Current.Slides[0]["html"] == nil {
				return apitest.Errorf("current %s", r.Body)
			}
			return nil
		}},
	})

	// A lesson sent back as GET returned it (output-only fields included) is
	// accepted.
	got := c.With(ada).Do(t, "GET", path, nil)
	res := c.With(ada).Do(t, "PUT", path, got.Body, "If-Match", got.Header.Get("ETag"))
	if res.Status != 200 {
		t.Fatalf("GET-then-PUT round trip: %d %s", res.Status, res.Body)
	}
	var back lessonDoc
	res.JSON(t, &back)
	if back.Title != "Plants, edited" || len(back.Slides) != 2 || back.Slides[0]["body"] == nil {
		t.Fatalf("after round trip: %s", res.Body)
	}

	apitest.Run(t, c, []apitest.Scenario{
		{Name: "delete with a stale If-Match", Method: "DELETE", Path: path, Token: ada, Headers: []string{"If-Match", rev}, Status: 412, Code: "revision_mismatch"},
		{Name: "delete", Method: "DELETE", Path: path, Token: ada, Status: 204},
		{Name: "gone", Method: "GET", Path: path, Token: ada, Status: 404},
		{Name: "delete again", Method: "DELETE", Path: path, Token: ada, Status: 404},
	})
}

func TestLessonListOrdersAndPages(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	bob := teacherToken(t, c, "Bob Other", "laptop")
	createLesson(t, c, bob, sampleLesson("Bob's lesson"))
	titles := []string{"delta", "Alpha", "charlie", "bravo", "echo"}
	ids := map[string]string{}
	for _, title := range titles {
		ids[title] = createLesson(t, c, ada, sampleLesson(title)).ID
	}
	// Editing "bravo" makes it the most recently changed.
	got := c.With(ada).Do(t, "GET", "/api/v1/lessons/"+ids["bravo"], nil)
	if res := c.With(ada).Do(t, "PUT", "/api/v1/lessons/"+ids["bravo"], got.Body, "If-Match", got.Header.Get("ETag")); res.Status != 200 {
		t.Fatalf("edit: %d %s", res.Status, res.Body)
	}

	walk := func(query string) []string {
		var all []string
		cursor := ""
		for range 10 {
			res := c.With(ada).Do(t, "GET", "/api/v1/lessons?limit=2"+query+cursor, nil)
			var page struct {
				Items []struct {
					Title      string `json:"title"`
					SlideCount int    `json:"slide_count"`
				} `json:"items"`
				NextCursor string `json:"next_cursor"`
			}
			res.JSON(t, &page)
			for _, it := range page.Items {
				if it.SlideCount != 2 {
					t.Fatalf("slide_count %d", it.SlideCount)
				}
				all = append(all, it.Title)
			}
			if page.NextCursor == "" {
				return all
			}
			cursor = "&cursor=" + page.NextCursor
		}
		t.Fatal("no last page")
		return nil
	}
	if got, want := strings.Join(walk(""), ","), "bravo,echo,charlie,Alpha,delta"; got != want {
		t.Fatalf("by updated_at: %s, want %s", got, want)
	}
	if got, want := strings.Join(walk("&order=title"), ","), "Alpha,bravo,charlie,delta,echo"; got != want {
		t.Fatalf("by title: %s, want %s", got, want)
	}
	apitest.Run(t, c.With(ada), []apitest.Scenario{
		{Name: "unknown order", Method: "GET", Path: "/api/v1/lessons?order=size", Token: ada, Status: 400, Fields: []string{"order"}},
		{Name: "limit too large", Method: "GET", Path: "/api/v1/lessons?limit=201", Token: ada, Status: 400, Fields: []string{"limit"}},
		{Name: "limit not a number", Method: "GET", Path: "/api/v1/lessons?limit=ten", Token: ada, Status: 400, Fields: []string{"limit"}},
		{Name: "forged cursor", Method: "GET", Path: "/api/v1/lessons?cursor=%21%21", Token: ada, Status: 400, Fields: []string{"cursor"}},
	})
}

func TestLessonCreateIdempotencyKey(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	body, _ := json.Marshal(sampleLesson("Once"))
	first := c.With(ada).Do(t, "POST", "/api/v1/lessons", body, "Idempotency-Key", "k1")
	again := c.With(ada).Do(t, "POST", "/api/v1/lessons", body, "Idempotency-Key", "k1")
	if first.Status != 201 || again.Status != 201 || string(first.Body) != string(again.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("first %d %s, again %d %s", first.Status, first.Body, again.Status, again.Body)
	}
	other := c.With(ada).Do(t, "POST", "/api/v1/lessons", sampleLesson("Twice"), "Idempotency-Key", "k1")
	if other.Status != http.StatusUnprocessableEntity || other.ErrorCode() != "idempotency_key_reused" {
		t.Fatalf("reused key: %d %s", other.Status, other.Body)
	}
	var page struct {
		Items []any `json:"items"`
	}
	c.With(ada).Do(t, "GET", "/api/v1/lessons", nil).JSON(t, &page)
	if len(page.Items) != 1 {
		t.Fatalf("%d lessons, want 1", len(page.Items))
	}
}
