package node_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/classboard/classboard/internal/testcluster"
	"github.com/classboard/classboard/node"
)

// Every node serves the apps, so a page may come from any node's origin,
// not only from --ui-url: each of them may call the API (CORS) and open a
// live connection that then carries the teacher's changes. Other origins
// may not.
func TestPagesFromEveryNodeMayUseTheAPI(t *testing.T) {
	n := testcluster.StartNode(t, func(c *node.Config) {
		c.UIURL = "https://ui.school.example"
		c.PublicURLs = []string{"https://a.school.example", "https://b.school.example:8443/classboard"}
	})
	cr := testcluster.NewClassroom(t, []string{n.URL()}, 1, 3)
	board := cr.Boards[0]

	for _, tc := range []struct {
		origin string
		allow  bool
	}{
		{"https://ui.school.example", true},
		{"https://a.school.example", true},
		{"https://b.school.example:8443", true},
		{"https://evil.example", false},
	} {
		req, _ := http.NewRequest("OPTIONS", n.URL()+"/api/v1/boards/"+board.ID+"/state", nil)
		req.Header.Set("Origin", tc.origin)
		req.Header.Set("Access-Control-Request-Method", "PUT")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got := res.Header.Get("Access-Control-Allow-Origin") == tc.origin; got != tc.allow {
			t.Errorf("preflight from %s: allowed %v, want %v", tc.origin, got, tc.allow)
		}

		ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
		c, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(n.URL(), "http")+"/api/v1/boards/"+board.ID+"/live",
			&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {tc.origin}, "Authorization": {"Bearer " + board.Secret}}})
		if !tc.allow {
			cancel()
			if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
				t.Errorf("live connection from %s: want 403, got %v %v", tc.origin, res, err)
			}
			continue
		}
		if err != nil {
			cancel()
			t.Fatalf("live connection from %s: %v", tc.origin, err)
		}
		first := readState(ctx, t, c)
		st, err := cr.Steer(ctx, board.ID, (first+1)%cr.Slides)
		if err != nil {
			t.Fatal(err)
		}
		if got := readState(ctx, t, c); got != st.Slide {
			t.Errorf("board page from %s shows slide %d, teacher sent %d", tc.origin, got, st.Slide)
		}
		c.CloseNow()
		cancel()
	}
}

// readState reads live messages until a state arrives and returns its slide.
func readState(ctx context.Context, t *testing.T, c *websocket.Conn) int {
	t.Helper()
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read live message: %v", err)
		}
		var m struct {
			Type  string `json:"type"`
			State *struct {
				Slide int `json:"slide"`
			} `json:"state"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if m.Type == "state" && m.State != nil {
			return m.State.Slide
		}
	}
}
