package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/live"
)

// streamRecorder is a transport for liveStream: it records what is written and
// how the stream ended, and fails writes once failAfter are done.
type streamRecorder struct {
	mu        sync.Mutex
	types     []string
	ends      []bool
	failAfter int
}

func (r *streamRecorder) write(msg []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failAfter >= 0 && len(r.types) >= r.failAfter {
		return errors.New("client gone")
	}
	var m live.Message
	if err := json.Unmarshal(msg, &m); err != nil {
		return err
	}
	r.types = append(r.types, m.Type)
	return nil
}

func (r *streamRecorder) end(ended bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ends = append(r.ends, ended)
}

func (r *streamRecorder) state() (types []string, ends []bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.types...), append([]bool(nil), r.ends...)
}

func idle(st *liveStream) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.running {
		return errors.New("the writer still runs")
	}
	return nil
}

// An idle stream holds no goroutine: the writer starts for what is queued,
// writes it in order and ends; the next change starts it again.
func TestLiveStreamWritesOnlyWhileThereIsSomething(t *testing.T) {
	hub := live.NewHub(live.Config{})
	conn, err := hub.Register("b", true)
	if err != nil {
		t.Fatal(err)
	}
	conn.OfferState(&classboard.BoardState{BoardID: "b", Revision: 1}) // queued before the stream starts
	rec := &streamRecorder{failAfter: -1}
	st := startLiveStream(conn, rec.write, nil, rec.end)
	for rev := uint64(2); rev <= 3; rev++ {
		poll.CheckFor(t, 5*time.Second, time.Millisecond, func() error {
			if types, _ := rec.state(); len(types) != int(rev-1) {
				return fmt.Errorf("written %v", types)
			}
			return idle(st)
		})
		hub.Dispatch(classboard.BoardEvent{Type: classboard.EventState, BoardID: "b",
			State: &classboard.BoardState{BoardID: "b", Revision: rev}})
	}
	hub.Move(1)
	poll.CheckFor(t, 5*time.Second, time.Millisecond, func() error {
		types, ends := rec.state()
		if fmt.Sprint(types) != "[state state state move]" || fmt.Sprint(ends) != "[true]" {
			return fmt.Errorf("written %v, ended %v", types, ends)
		}
		return nil
	})
	st.stop()
}

// A failed write ends the transport once and nothing more is written; a
// stopped stream writes nothing.
func TestLiveStreamFailedWrite(t *testing.T) {
	hub := live.NewHub(live.Config{})
	conn, err := hub.Register("b", true)
	if err != nil {
		t.Fatal(err)
	}
	rec := &streamRecorder{failAfter: 1}
	st := startLiveStream(conn, rec.write, nil, rec.end)
	for rev := uint64(1); rev <= 3; rev++ {
		conn.OfferState(&classboard.BoardState{BoardID: "b", Revision: rev})
	}
	poll.CheckFor(t, 5*time.Second, time.Millisecond, func() error {
		if types, ends := rec.state(); fmt.Sprint(types) != "[state]" || fmt.Sprint(ends) != "[false]" {
			return fmt.Errorf("written %v, ended %v", types, ends)
		}
		return nil
	})
	st.stop()
	conn.Close()
	if types, ends := rec.state(); len(types) != 1 || len(ends) != 1 {
		t.Fatalf("after stop: written %v, ended %v", types, ends)
	}
}

// lockedRecorder is a response writer that streams can write to while the
// test reads what has arrived.
type lockedRecorder struct {
	mu     sync.Mutex
	header http.Header
	body   strings.Builder
}

func (w *lockedRecorder) Header() http.Header { return w.header }
func (w *lockedRecorder) WriteHeader(int)     {}
func (w *lockedRecorder) Flush()              {}

func (w *lockedRecorder) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.body.Write(b)
}

func (w *lockedRecorder) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.body.String()
}

// An event stream that cannot be taken over (HTTP/2) is written through the
// server by the same stream: the state at once, then the final move, and
// the handler returns once the hub ended the connection.
func TestEventStreamThroughTheServer(t *testing.T) {
	hub := live.NewHub(live.Config{})
	conn, err := hub.Register("b", true)
	if err != nil {
		t.Fatal(err)
	}
	conn.OfferState(&classboard.BoardState{BoardID: "b", Revision: 1})
	s := &Server{cfg: Config{Metrics: noMetrics{}}}
	w := &lockedRecorder{header: http.Header{}}
	r := httptest.NewRequest(http.MethodGet, "/api/v1/boards/b/live", nil)
	r.ProtoMajor, r.ProtoMinor = 2, 0
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		s.serveSSE(w, r, conn, conn.Close)
	}()
	poll.CheckFor(t, 5*time.Second, time.Millisecond, func() error {
		if !strings.Contains(w.String(), `data: {"type":"state"`) {
			return fmt.Errorf("body %q", w.String())
		}
		return nil
	})
	hub.Move(1)
	poll.CheckFor(t, 10*time.Second, time.Millisecond, func() error {
		select {
		case <-returned:
			return nil
		default:
			return errors.New("the handler still waits after the hub ended the connection")
		}
	})
	if body := w.String(); !strings.Contains(body, `data: {"type":"move"`) || w.header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("body %q, header %v", body, w.header)
	}
}
