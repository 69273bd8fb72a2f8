package node_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/testcluster"
	"github.com/classboard/classboard/node"
)

// A node serves its metrics on their own listener only, and the counters
// move with what the node does: requests by route pattern, a live
// connection and its updates, store operations, a limit's refusal.
func TestMetricsCountWhatTheNodeDoes(t *testing.T) {
	n := testcluster.StartNode(t, func(c *node.Config) {
		c.MetricsAddr = "127.0.0.1:0"
		c.Store.Pairing.CreatesPerHour = 1 // the classroom's one board uses it up
	})
	if n.MetricsURL() == "" || strings.HasPrefix(n.MetricsURL(), n.URL()) {
		t.Fatalf("metrics URL %q must be its own listener, not %s", n.MetricsURL(), n.URL())
	}
	if res := apitest.New(n.URL()).Do(t, "GET", "/metrics", nil); strings.Contains(string(res.Body), "classboard_http_requests_total") {
		t.Fatal("the public listener serves the metrics")
	}

	origins := []string{n.URL()}
	cr := testcluster.NewClassroom(t, origins, 1, 2)
	board := cr.Boards[0]
	lb := testcluster.OpenLive(t, origins, board.ID, board.Secret, 0)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	poll.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if lb.Latest() == nil {
			return fmt.Errorf("the board has no state yet")
		}
		return nil
	})
	if _, err := cr.Steer(ctx, board.ID, 1); err != nil {
		t.Fatal(err)
	}
	poll.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if st := lb.Latest(); st.Slide != 1 {
			return fmt.Errorf("the board shows slide %d", st.Slide)
		}
		return nil
	})
	if res := apitest.New(n.URL()).Do(t, "POST", "/api/v1/boards", nil); res.Status != http.StatusTooManyRequests {
		t.Fatalf("second board from one address: %d %s", res.Status, res.Body)
	}

	m := testcluster.Scrape(t, n.MetricsURL())
	for _, want := range []struct {
		name   string
		labels []string
		min    float64
	}{
		{"classboard_http_requests_total", []string{"route", "POST /api/v1/accounts", "code", "201"}, 1},
		{"classboard_http_requests_total", []string{"route", "PUT /api/v1/boards/{id}/state", "code", "200"}, 1},
		{"classboard_http_requests_total", []string{"route", "POST /api/v1/boards", "code", "429"}, 1},
		{"classboard_http_request_duration_seconds", []string{"route", "POST /api/v1/sessions"}, 1},
		{"classboard_live_connections", []string{"transport", "websocket"}, 1},
		{"classboard_live_updates_dispatched_total", nil, 2}, // the first state, then the change
		{"classboard_live_slow_readers_dropped_total", nil, 0},
		{"classboard_store_operation_duration_seconds", []string{"bucket", "teachers", "op", "put"}, 1},
		{"classboard_store_operation_duration_seconds", []string{"bucket", "lessons", "op", "put"}, 1},
		{"classboard_security_events_total", []string{"rule", "board-create"}, 1},
		{"classboard_ready", nil, 1},
		{"classboard_ready_reason", []string{"reason", "ready"}, 1},
		{"classboard_mail_outbox_messages", nil, 0},
		{"classboard_mail_failed_messages", nil, 0},
		{"classboard_mail_delivered_total", nil, 0},
		{"classboard_mail_retries_total", nil, 0},
		{"classboard_mail_failed_total", nil, 0},
		{"classboard_build_info", []string{"version", "test"}, 1},
		{"classboard_store_used_bytes", nil, 1},
		{"classboard_store_limit_bytes", nil, 1 << 30}, // the test node's --max-store
		{"classboard_data_disk_free_bytes", nil, 1},
		{"classboard_data_disk_size_bytes", nil, 1},
		{"go_goroutines", nil, 1},
		{"process_open_fds", nil, 1},
	} {
		v, ok := m.Value(want.name, want.labels...)
		if !ok || v < want.min {
			t.Errorf("%s%v = %v (present: %v), want at least %v", want.name, want.labels, v, ok, want.min)
		}
	}
	for _, route := range m.LabelValues("classboard_http_requests_total", "route") {
		if strings.Contains(route, board.ID) {
			t.Errorf("route label %q holds a raw path", route)
		}
	}

	// A live connection counts as a request once it ends.
	lb.Close()
	poll.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		m := testcluster.Scrape(t, n.MetricsURL())
		if v, _ := m.Value("classboard_live_connections", "transport", "websocket"); v != 0 {
			return fmt.Errorf("%v websocket connections counted after the board left", v)
		}
		if v, _ := m.Value("classboard_http_requests_total", "route", "GET /api/v1/boards/{id}/live", "code", "101"); v < 1 {
			return fmt.Errorf("the ended websocket is not counted as a request")
		}
		return nil
	})
}

// A metrics address that is not loopback is refused before anything
// binds it, unless explicitly allowed.
func TestMetricsAddressMustBeLoopback(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0", "192.0.2.1:0"} {
		cfg := testcluster.NodeConfig(t.TempDir())
		cfg.MetricsAddr = addr
		n, err := node.Open(cfg, testcluster.Logger(t))
		if err == nil {
			n.Close(context.Background())
			t.Errorf("--metrics-addr %s was accepted", addr)
			continue
		}
		if !strings.Contains(err.Error(), "--metrics-allow-remote") {
			t.Errorf("--metrics-addr %s: the error does not say what to do: %v", addr, err)
		}
	}
	n := testcluster.StartNode(t, func(c *node.Config) { c.MetricsAddr = "localhost:0" })
	if !strings.HasPrefix(n.MetricsURL(), "http://127.0.0.1:") && !strings.HasPrefix(n.MetricsURL(), "http://[::1]:") {
		t.Fatalf("localhost served metrics at %q", n.MetricsURL())
	}
}

// Two nodes in one process keep separate metrics: nothing is registered
// globally (a second registration would panic), and one node's requests
// do not show in the other's.
func TestEachNodeHasItsOwnMetrics(t *testing.T) {
	withMetrics := func(c *node.Config) { c.MetricsAddr = "127.0.0.1:0" }
	a, b := testcluster.StartNode(t, withMetrics), testcluster.StartNode(t, withMetrics)
	if res := apitest.New(a.URL()).Do(t, "GET", "/api/v1/config", nil); res.Status != http.StatusOK {
		t.Fatalf("config: %d", res.Status)
	}
	route := []string{"route", "GET /api/v1/config"}
	if v, _ := testcluster.Scrape(t, a.MetricsURL()).Value("classboard_http_requests_total", route...); v != 1 {
		t.Errorf("node a counted %v requests, want 1", v)
	}
	if v, ok := testcluster.Scrape(t, b.MetricsURL()).Value("classboard_http_requests_total", route...); ok {
		t.Errorf("node b counted %v of node a's requests", v)
	}
}
