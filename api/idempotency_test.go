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

// idempotencyServer is a server with only a real single-node store behind
// its Idempotency-Key middleware.
func idempotencyServer(t *testing.T) *Server {
	t.Helper()
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
	return New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, Services{Health: st, Idempotency: st.Idempotency()})
}

// TestIdempotentReplaysFirstAnswer runs the middleware against the real
// store: a retry with the same key and body gets the first answer and does
// not run the handler again; another body is 422; a failed first attempt
// does not block a retry.
func TestIdempotentReplaysFirstAnswer(t *testing.T) {
	s := idempotencyServer(t)

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

// A client that gave up before the answer (its request context is
// cancelled) retries with the same key, as the apps do on another node:
// the retry gets the first answer, not a 409 "still running" for as long
// as the reservation lives.
func TestIdempotentBookkeepingOutlivesTheClient(t *testing.T) {
	s := idempotencyServer(t)
	started, finished := make(chan struct{}), make(chan struct{})
	var runs atomic.Int64
	h := s.idempotent(1<<20, func(w http.ResponseWriter, r *http.Request) {
		if runs.Add(1) == 1 {
			close(started)
			<-r.Context().Done() // the client times out while this runs
		}
		writeJSON(w, http.StatusCreated, map[string]any{"created": true})
	})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /things", func(w http.ResponseWriter, r *http.Request) {
		h(w, r)
		if r.Context().Err() != nil {
			close(finished) // the bookkeeping of the abandoned request is done
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	post := func(ctx context.Context) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/things", strings.NewReader(`{"a":1}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "k1")
		return http.DefaultClient.Do(req)
	}

	ctx, giveUp := context.WithCancel(t.Context())
	go func() { <-started; giveUp() }()
	if _, err := post(ctx); err == nil {
		t.Fatal("the first request was not abandoned")
	}
	<-finished
	res, err := post(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated || res.Header.Get("Idempotent-Replayed") != "true" || runs.Load() != 1 {
		t.Fatalf("retry after the client gave up: %d (replayed %q), handler ran %d times", res.StatusCode, res.Header.Get("Idempotent-Replayed"), runs.Load())
	}
}
