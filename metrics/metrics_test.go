package metrics_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/classboard/classboard/internal/testcluster"
	"github.com/classboard/classboard/metrics"
)

func TestReasonLabel(t *testing.T) {
	for _, tc := range []struct{ err, want string }{
		{"starting", "starting"},
		{"no quorum: probe write timed out", "no_quorum"},
		{"store full: nats: insufficient resources", "store_full"},
		{"store unavailable: nats: no responders", "store_unavailable"},
		{"  Shutting   Down ", "shutting_down"},
		{": nothing before the colon", "unknown"},
		{strings.Repeat("very long reason ", 10), "very_long_reason_very_long_reason_very_l"},
	} {
		if got := metrics.ReasonLabel(errors.New(tc.err)); got != tc.want {
			t.Errorf("ReasonLabel(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// What a scrape shows: requests without a pattern as "unmatched", a closed
// live connection no longer counted, the reason a node is not ready, the
// mail counters, and no outbox or store-usage series while they cannot be
// read.
func TestScrape(t *testing.T) {
	m := metrics.New(metrics.Build{Version: "v1", Commit: "abc", GoVersion: "go1"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	m.ObserveRequest("", 404, time.Millisecond)
	m.ObserveRequest("GET /api/v1/boards/{id}", 200, time.Millisecond)
	m.LiveConnected("websocket")
	m.LiveConnected("sse")()
	m.SecurityEvent("login-addr")
	m.SecurityEvent("login-addr")
	m.ObserveStoreOp("teachers", "get", time.Millisecond, true)
	m.Watch(metrics.Sources{
		Ready: func() error { return errors.New("no quorum: probe write timed out") },
		Mail:  func() metrics.MailCounts { return metrics.MailCounts{Delivered: 3, Retried: 2, Failed: 1} },
		Outbox: func(context.Context) (uint64, uint64, error) {
			return 0, 0, errors.New("store unavailable")
		},
		// An external NATS: only the disk is known.
		Usage: func() (metrics.Usage, error) {
			return metrics.Usage{StoreUsed: -1, StoreLimit: -1, DiskFree: 10, DiskSize: 100}, nil
		},
	})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	got := testcluster.Scrape(t, srv.URL)
	for _, want := range []struct {
		name   string
		labels []string
		value  float64
	}{
		{"classboard_http_requests_total", []string{"route", "unmatched", "code", "404"}, 1},
		{"classboard_http_requests_total", []string{"route", "GET /api/v1/boards/{id}", "code", "200"}, 1},
		{"classboard_live_connections", []string{"transport", "websocket"}, 1},
		{"classboard_live_connections", []string{"transport", "sse"}, 0},
		{"classboard_security_events_total", []string{"rule", "login-addr"}, 2},
		{"classboard_store_operation_errors_total", []string{"bucket", "teachers", "op", "get"}, 1},
		{"classboard_ready", nil, 0},
		{"classboard_ready_reason", []string{"reason", "no_quorum"}, 1},
		{"classboard_mail_delivered_total", nil, 3},
		{"classboard_mail_retries_total", nil, 2},
		{"classboard_mail_failed_total", nil, 1},
		{"classboard_build_info", []string{"version", "v1", "commit", "abc", "go_version", "go1"}, 1},
	} {
		if v, ok := got.Value(want.name, want.labels...); !ok || v != want.value {
			t.Errorf("%s%v = %v (present: %v), want %v", want.name, want.labels, v, ok, want.value)
		}
	}
	if _, ok := got.Value("classboard_mail_outbox_messages"); ok {
		t.Error("an outbox depth was reported although the store could not be read")
	}
	if _, ok := got.Value("classboard_store_used_bytes"); ok {
		t.Error("store usage was reported although it is unknown")
	}
	if v, _ := got.Value("classboard_data_disk_free_bytes"); v != 10 {
		t.Errorf("disk free %v, want 10", v)
	}

	// Our own metrics follow Prometheus' naming conventions.
	var families []*dto.MetricFamily
	for name, f := range got {
		if strings.HasPrefix(name, "classboard_") {
			families = append(families, f)
		}
	}
	problems, err := promlint.NewWithMetricFamilies(families).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
}

// Every classboard metric the alerting rules use exists, so renaming one
// without the rules fails here.
func TestAlertRulesUseOurMetrics(t *testing.T) {
	rules, err := os.ReadFile("../packaging/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(metrics.Build{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	m.ObserveRequest("GET /healthz", 200, time.Millisecond)
	m.SecurityEvent("login-addr")
	m.ObserveStoreOp("teachers", "get", time.Millisecond, true)
	m.Watch(metrics.Sources{
		Ready:  func() error { return nil },
		Mail:   func() metrics.MailCounts { return metrics.MailCounts{} },
		Outbox: func(context.Context) (uint64, uint64, error) { return 0, 0, nil },
		Usage: func() (metrics.Usage, error) {
			return metrics.Usage{StoreUsed: 1, StoreLimit: 2, DiskFree: 1, DiskSize: 2}, nil
		},
	})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	got := testcluster.Scrape(t, srv.URL)
	names := regexp.MustCompile(`\bclassboard_[a-z_]+\b`).FindAllString(string(rules), -1)
	if len(names) < 5 {
		t.Fatalf("found only %q in the rules", names)
	}
	for _, name := range names {
		if got[name] == nil {
			t.Errorf("the alerting rules use %s, which the metrics do not have", name)
		}
	}
}
