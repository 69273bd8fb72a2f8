package api

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// TestAccessLogLevels checks which requests log at info: failed ones
// always, a request that succeeded in time only with LogEveryRequest,
// and nothing at all for a level the logger leaves out.
func TestAccessLogLevels(t *testing.T) {
	tests := []struct {
		name     string
		every    bool
		level    slog.Level // the logger's
		status   int
		wantLine string // "" for none
	}{
		{name: "success in time at info", level: slog.LevelInfo, status: 200},
		{name: "success in time at debug", level: slog.LevelDebug, status: 200, wantLine: "level=DEBUG"},
		{name: "success in time, every request", every: true, level: slog.LevelInfo, status: 200, wantLine: "level=INFO"},
		{name: "client error", level: slog.LevelInfo, status: 409, wantLine: "level=INFO"},
		{name: "server error", level: slog.LevelInfo, status: 503, wantLine: "level=INFO"},
		{name: "failure with the logger at warn", level: slog.LevelWarn, status: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			s := &Server{
				cfg: Config{Metrics: noMetrics{}, LogEveryRequest: tt.every},
				log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tt.level})),
			}
			h := s.withAccessLog(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
			}))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("PUT", "/api/v1/boards/b1/state?ticket=secret", nil))
			got := buf.String()
			if tt.wantLine == "" {
				if got != "" {
					t.Fatalf("logged %q, want nothing", got)
				}
				return
			}
			if !strings.Contains(got, tt.wantLine) || !strings.Contains(got, "msg=request") {
				t.Fatalf("logged %q, want a request line with %s", got, tt.wantLine)
			}
			if strings.Contains(got, "secret") {
				t.Fatalf("logged the query string: %q", got)
			}
		})
	}
}

// TestAccessLogSlowRequest: a success that took SlowRequest or longer
// logs at info, one just faster at debug.
func TestAccessLogSlowRequest(t *testing.T) {
	s := &Server{}
	if got := s.accessLogLevel(200, SlowRequest); got != slog.LevelInfo {
		t.Errorf("slow success: %v, want INFO", got)
	}
	if got := s.accessLogLevel(200, SlowRequest-time.Millisecond); got != slog.LevelDebug {
		t.Errorf("success in time: %v, want DEBUG", got)
	}
}

// BenchmarkAccessLog is the middleware's cost per request with the node's
// default logger (text, info) writing to a file, for a request that
// succeeded: with every request logged (the old default) and without.
//
//	go test ./api -run '^$' -bench AccessLog
func BenchmarkAccessLog(b *testing.B) {
	for _, every := range []bool{true, false} {
		name := "successes-at-debug"
		if every {
			name = "every-request"
		}
		b.Run(name, func(b *testing.B) {
			f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			s := &Server{cfg: Config{Metrics: noMetrics{}, LogEveryRequest: every},
				log: slog.New(slog.NewTextHandler(f, nil))}
			h := s.withAccessLog(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			r := httptest.NewRequest("PUT", "/api/v1/boards/b1/state", nil)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
}
