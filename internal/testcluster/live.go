package testcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/apitest"
)

// LiveBoard is a board's live connection kept the way the board app
// (ui/static/js/live.js) keeps it: a single-use ticket, then a websocket
// on the current origin; on a "move", a closed connection or a failed
// ticket it goes to the next origin, and after every origin failed once it
// waits a jittered moment. Each connection starts with the current state.
type LiveBoard struct {
	ID      string
	secret  string
	origins []string
	http    *http.Client

	mu        sync.Mutex
	index     int  // the origin in use or tried next
	connected bool // a connection on origins[index] is open
	latest    *classboard.BoardState
	arrived   map[uint64]liveArrival // first arrival of each revision
	moves     int                    // "move" messages received
	backwards int                    // states older than one seen before on the same connection

	stop context.CancelFunc
	done chan struct{}
}

// liveArrival is when a state first reached the board, and through which
// origin.
type liveArrival struct {
	at     time.Time
	origin int
}

// OpenLive connects the board (id, secret) starting at origins[start] and
// keeps it connected until Close or the end of the test.
func OpenLive(t testing.TB, origins []string, id, secret string, start int) *LiveBoard {
	ctx, cancel := context.WithCancel(context.Background())
	l := &LiveBoard{
		ID: id, secret: secret, origins: origins, index: start,
		http:    &http.Client{Timeout: 5 * time.Second},
		arrived: map[uint64]liveArrival{},
		stop:    cancel, done: make(chan struct{}),
	}
	go func() {
		defer close(l.done)
		l.run(ctx)
	}()
	t.Cleanup(l.Close)
	return l
}

// Close ends the connection and waits for its goroutine.
func (l *LiveBoard) Close() {
	l.stop()
	<-l.done
}

// Origin returns the index of the origin the board is connected to, or -1
// while it is not connected.
func (l *LiveBoard) Origin() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.connected {
		return -1
	}
	return l.index
}

// Latest returns the newest state the board received (nil before any).
func (l *LiveBoard) Latest() *classboard.BoardState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.latest
}

// Moves counts the "move" messages the board received.
func (l *LiveBoard) Moves() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.moves
}

// Backwards counts states that arrived after a newer one on the same
// connection: the server must never show a board an older state.
func (l *LiveBoard) Backwards() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.backwards
}

// FirstAfter returns the first state revision newer than rev to reach the
// board, when it arrived and through which origin; ok is false while none
// has.
func (l *LiveBoard) FirstAfter(rev uint64) (got uint64, at time.Time, origin int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for r, a := range l.arrived {
		if r > rev && (!ok || a.at.Before(at)) {
			got, at, origin, ok = r, a.at, a.origin, true
		}
	}
	return got, at, origin, ok
}

func (l *LiveBoard) run(ctx context.Context) {
	failed := 0
	for ctx.Err() == nil {
		l.mu.Lock()
		i := l.index
		l.mu.Unlock()
		err := l.connect(ctx, i)
		if ctx.Err() != nil {
			return
		}
		l.mu.Lock()
		l.connected = false
		l.index = (i + 1) % len(l.origins)
		l.mu.Unlock()
		if err == nil { // a connection that worked and ended (or a move)
			failed = 0
			select { // jittered, as the app: not every board at once
			case <-ctx.Done():
				return
			case <-time.After(rand.N(250 * time.Millisecond)):
			}
			continue
		}
		if failed++; failed >= len(l.origins) {
			failed = 0
			select {
			case <-ctx.Done():
				return
			case <-time.After(rand.N(time.Second) + 100*time.Millisecond):
			}
		}
	}
}

// connect opens one live connection to origin i and reads it until it
// ends. It returns nil when a connection was open and then ended.
func (l *LiveBoard) connect(ctx context.Context, i int) error {
	origin := l.origins[i]
	ticket, err := l.ticket(ctx, origin)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	url := "ws" + strings.TrimPrefix(origin, "http") + "/api/v1/boards/" + l.ID + "/live?ticket=" + ticket
	c, _, err := websocket.Dial(dctx, url, nil)
	cancel()
	if err != nil {
		return fmt.Errorf("dial %s: %w", origin, err)
	}
	defer c.CloseNow() //nolint:errcheck // ending anyway
	l.mu.Lock()
	l.connected = true
	l.mu.Unlock()
	var last uint64 // newest revision on this connection
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return nil
		}
		var m struct {
			Type  string                 `json:"type"`
			State *classboard.BoardState `json:"state"`
		}
		if err := json.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("decode live message %q: %w", data, err)
		}
		switch m.Type {
		case "move":
			l.mu.Lock()
			l.moves++
			l.mu.Unlock()
			return nil
		case "state":
			if m.State != nil {
				l.note(m.State, i, last)
				last = max(last, m.State.Revision)
			}
		}
	}
}

// note records a state received through origin i on a connection whose
// newest revision so far is last.
func (l *LiveBoard) note(st *classboard.BoardState, i int, last uint64) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if st.Revision < last {
		l.backwards++
	}
	if _, seen := l.arrived[st.Revision]; !seen {
		l.arrived[st.Revision] = liveArrival{at: now, origin: i}
	}
	if l.latest == nil || st.Revision >= l.latest.Revision {
		l.latest = st
	}
}

// ticket asks origin for a single-use live ticket with the board's secret.
func (l *LiveBoard) ticket(ctx context.Context, origin string) (string, error) {
	res, err := apitest.Send(ctx, l.http, "POST", origin+"/api/v1/live-tickets", l.secret, map[string]string{"board_id": l.ID})
	if err != nil {
		return "", fmt.Errorf("live ticket from %s: %w", origin, err)
	}
	if res.Status != http.StatusCreated {
		return "", fmt.Errorf("live ticket from %s: %d %s", origin, res.Status, res.Body)
	}
	var t struct {
		Ticket string `json:"ticket"`
	}
	if err := json.Unmarshal(res.Body, &t); err != nil {
		return "", fmt.Errorf("decode live ticket: %w", err)
	}
	return t.Ticket, nil
}
