package api_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/testcluster"
)

// mediaUse reads the picture library and returns each picture's
// "lessons" (-1 when absent).
func mediaUse(t *testing.T, c *apitest.Client, token string) map[string]int {
	t.Helper()
	var page struct {
		Items []struct {
			ID      string `json:"id"`
			Lessons *int   `json:"lessons"`
		} `json:"items"`
	}
	res := c.With(token).Do(t, "GET", "/api/v1/media?limit=200", nil)
	if res.Status != 200 {
		t.Fatalf("list media: %d %s", res.Status, res.Body)
	}
	res.JSON(t, &page)
	out := map[string]int{}
	for _, m := range page.Items {
		out[m.ID] = -1
		if m.Lessons != nil {
			out[m.ID] = *m.Lessons
		}
	}
	return out
}

func uploadPNG(t *testing.T, c *apitest.Client, token string, seed uint64) string {
	t.Helper()
	res := c.With(token).Do(t, "POST", "/api/v1/media", pngOf(t, 8, 8, seed), "Content-Type", "image/png")
	if res.Status != 201 {
		t.Fatalf("upload: %d %s", res.Status, res.Body)
	}
	return res.Map(t)["id"].(string)
}

// The picture library tells how many of the teacher's lessons use each
// picture (a lesson using it twice counts once), from the node's view;
// edits and deletes move the counts, and another teacher's lessons using
// the same bytes do not count.
func TestMediaListCountsLessonsUsingEachPicture(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	bob := teacherToken(t, c, "Bob Other", "laptop")
	leaf, tree := uploadPNG(t, c, ada, 1), uploadPNG(t, c, ada, 2)
	if got := uploadPNG(t, c, bob, 1); got != leaf {
		t.Fatalf("same bytes, different id: %s %s", got, leaf)
	}
	image := func(id string) map[string]any { return map[string]any{"kind": "image", "media_id": id} }
	createLesson(t, c, bob, map[string]any{"title": "Bob's", "slides": []any{image(leaf)}})

	check := func(want map[string]int) {
		t.Helper()
		poll.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
			if got := mediaUse(t, c, ada); fmt.Sprint(got) != fmt.Sprint(want) {
				return fmt.Errorf("lessons per picture %v, want %v", got, want)
			}
			return nil
		})
	}
	check(map[string]int{leaf: 0, tree: 0})
	one := createLesson(t, c, ada, map[string]any{"title": "Leaves", "slides": []any{image(leaf), image(leaf),
		map[string]any{"kind": "text", "body": "a tree", "media_id": tree}}})
	two := createLesson(t, c, ada, map[string]any{"title": "More leaves", "slides": []any{image(leaf)}})
	check(map[string]int{leaf: 2, tree: 1})

	res := c.With(ada).Do(t, "PUT", "/api/v1/lessons/"+one.ID, map[string]any{"title": "Leaves", "slides": []any{image(leaf)}},
		"If-Match", fmt.Sprint(one.Revision))
	if res.Status != 200 {
		t.Fatalf("edit: %d %s", res.Status, res.Body)
	}
	check(map[string]int{leaf: 2, tree: 0})
	if res := c.With(ada).Do(t, "DELETE", "/api/v1/lessons/"+two.ID, nil); res.Status != 204 {
		t.Fatalf("delete: %d %s", res.Status, res.Body)
	}
	check(map[string]int{leaf: 1, tree: 0})
	if got := mediaUse(t, c, bob); got[leaf] != 1 {
		t.Fatalf("bob's count %v", got)
	}
}

// Deleting a lesson a board shows moves the board to "no lesson" (a new
// state revision, which reaches the board live), so the board neither
// keeps the deleted lesson on screen nor asks for it after a reload.
// Boards showing another lesson are left alone.
func TestDeletingAShownLessonClearsTheBoard(t *testing.T) {
	n := testcluster.StartNode(t)
	c := apitest.New(n.URL())
	ada := teacherToken(t, c, "Ada Lovelace", "laptop")
	shown := createLesson(t, c, ada, sampleLesson("Shown"))
	other := createLesson(t, c, ada, sampleLesson("Other"))
	steer := func(b newBoard, lessonID string) uint64 {
		t.Helper()
		path := "/api/v1/boards/" + b.BoardID + "/state"
		cur := c.With(ada).Do(t, "GET", path, nil)
		res := c.With(ada).Do(t, "PUT", path, map[string]any{"lesson_id": lessonID, "slide": 1}, "If-Match", cur.Header.Get("ETag"))
		if res.Status != 200 {
			t.Fatalf("steer: %d %s", res.Status, res.Body)
		}
		return uint64(res.Map(t)["revision"].(float64))
	}
	a, b := pairBoard(t, c, ada, "Room 1"), pairBoard(t, c, ada, "Room 2")
	revA := steer(a, shown.ID)
	revB := steer(b, other.ID)

	apitest.Run(t, c, []apitest.Scenario{
		{Name: "delete the shown lesson", Method: "DELETE", Path: "/api/v1/lessons/" + shown.ID, Token: ada, Status: 204},
		{Name: "its board shows no lesson", Method: "GET", Path: "/api/v1/boards/" + a.BoardID + "/state", Token: a.BoardSecret, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			st := r.Map(t)
			if st["lesson_id"] != "" || st["slide"] != float64(0) || uint64(st["revision"].(float64)) <= revA || st["updated_by"] != "laptop" {
				return apitest.Errorf("state %s", r.Body)
			}
			return nil
		}},
		{Name: "its board's lesson is gone", Method: "GET", Path: "/api/v1/boards/" + a.BoardID + "/lesson", Token: a.BoardSecret, Status: 404, Code: "not_found"},
		{Name: "the other board keeps its lesson", Method: "GET", Path: "/api/v1/boards/" + b.BoardID + "/state", Token: b.BoardSecret, Status: 200, Check: func(t *testing.T, r *apitest.Response) error {
			st := r.Map(t)
			if st["lesson_id"] != other.ID || uint64(st["revision"].(float64)) != revB {
				return apitest.Errorf("state %s", r.Body)
			}
			return nil
		}},
	})
}
