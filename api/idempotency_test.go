package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/store"
)

// TestIdempotentReplaysFirstAnswer runs the middleware against the real
// store: a retry with the same key and body gets the first answer and does
// not run the handler again; another body is 422; a failed first attempt
// does not block a retry.
func TestIdempotentReplaysFirstAnswer(t *testing.T) {
	st, err := store.Open(store.Config{NodeName: "t", DataDir: t.TempDir(), MaxStore: 1 << 30, MaxMemory: 64 << 20},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := st.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	s := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, Services{Health: st, Idempotency: st.Idempotency()})

	var runs atomic.Int64
	failNext := atomic.Bool{}
	h := s.idempotent(1<<20, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if failNext.Swap(false) {
			s.writeError(w, r, classboard.Errorf(classboard.EUNAVAILABLE, "try again"))
			return
		}
		n := runs.Add(1)
		writeJSON(w, http.StatusCreated, map[string]any{"run": n, "body": string(body)})
	})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /things", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c := apitest.New(srv.URL)
	post := func(key, body string) (int, string) {
		var headers []string
		if key != "" {
			headers = []string{"Idempotency-Key", key}
		}
		res := c.Do(t, "POST", "/things", body, headers...)
		return res.Status, string(res.Body)
	}

	st1, b1 := post("k1", `{"a":1}`)
	st2, b2 := post("k1", `{"a":1}`)
	if st1 != 201 || st2 != 201 || b1 != b2 || runs.Load() != 1 {
		t.Fatalf("retry: %d %s / %d %s, handler ran %d times", st1, b1, st2, b2, runs.Load())
	}
	if code, body := post("k1", `{"a":2}`); code != 422 || !strings.Contains(body, "idempotency_key_reused") {
		t.Fatalf("same key, other body: %d %s", code, body)
	}
	failNext.Store(true)
	if code, _ := post("k2", `{"b":1}`); code != 503 {
		t.Fatalf("failing first attempt: %d", code)
	}
	if code, _ := post("k2", `{"b":1}`); code != 201 || runs.Load() != 2 {
		t.Fatalf("retry after a failure: %d, runs %d", code, runs.Load())
	}
	if code, _ := post("", `{"c":1}`); code != 201 || runs.Load() != 3 {
		t.Fatal("a request without a key runs")
	}

	// Concurrent first requests with one key: exactly one runs.
	before := runs.Load()
	var wg sync.WaitGroup
	codes := make([]int, 6)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _ = post("k3", `{"d":1}`)
		}()
	}
	wg.Wait()
	if runs.Load() != before+1 {
		t.Fatalf("concurrent requests with one key ran the handler %d times (codes %v)", runs.Load()-before, codes)
	}
	for _, c := range codes {
		if c != 201 && c != 409 {
			t.Fatalf("codes %v: want 201 or 409 (still running)", codes)
		}
	}
	if code, _ := post(strings.Repeat("k", 256), `{}`); code != 400 {
		t.Fatal(fmt.Sprint("over-long key: ", code))
	}
}
