package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// With --json, stdout holds exactly one JSON object with the result and
// the progress goes to stderr.
func TestJSONOnStdoutProgressOnStderr(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"--boards", "3", "--boards-per-teacher", "2", "--interval", "300ms", "--duration", "2s",
		"--work-dir", t.TempDir(), "--keep", "--json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit status %d\nstdout: %s\nstderr: %s", code, &stdout, &stderr)
	}
	dec := json.NewDecoder(&stdout)
	var res map[string]any
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout.String())
	}
	if dec.More() {
		t.Errorf("more than one JSON value on stdout")
	}
	for _, k := range []string{"scenario", "nodes", "boards", "updates_expected", "updates_delivered",
		"steer_p50_ms", "steer_p99_ms", "steer_max_ms", "connect_errors", "bytes_per_conn"} {
		if _, ok := res[k]; !ok {
			t.Errorf("result lacks %q", k)
		}
	}
	if res["updates_expected"] != res["updates_delivered"] {
		t.Errorf("expected %v updates, delivered %v", res["updates_expected"], res["updates_delivered"])
	}
	if !strings.Contains(stderr.String(), "steer: steering for 2s") {
		t.Errorf("no progress on stderr:\n%s", &stderr)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--boards", "0"},
		{"--scenario", "lunch"},
		{"--log-level", "loud"},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 || stdout.Len() > 0 {
			t.Errorf("%v: exit status %d, stdout %q; want 2 and nothing", args, code, &stdout)
		}
	}
}
