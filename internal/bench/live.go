package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// liveMessage is the part of a live message the harness reads.
type liveMessage struct {
	Type  string `json:"type"`
	State *struct {
		Revision uint64 `json:"revision"`
	} `json:"state"`
	Activity *activityMessage `json:"activity"`
}

// newLiveClient returns the HTTP client live connections are dialled
// with: no overall timeout (a connection lasts the whole run), bounded
// dialling.
func newLiveClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ResponseHeaderTimeout: 10 * time.Second,
		MaxIdleConnsPerHost:   -1, // every live connection is its own
	}}
}

// errMove ends a connection whose node said "move".
var errMove = errors.New("the node asked the board to move")

// Reconnect backoff of the board app (ui/static/js/live.js): full jitter,
// growing from backoffMin to backoffMax, reset by a connection that opened.
const (
	backoffMin = 500 * time.Millisecond
	backoffMax = 20 * time.Second
)

// live keeps the board's live connection until ctx ends, as the board app
// does: after a connection ends or fails it moves to the next node and
// waits a random time below a cap that doubles with each failure in a
// row (below backoffMin after a "move"). gate is held during the first
// attempt (it bounds connection attempts in flight), and first is called
// once the board has its first state.
func (r *run) live(ctx context.Context, b *board, gate chan struct{}, first func()) {
	if gate != nil {
		select {
		case gate <- struct{}{}:
		case <-ctx.Done():
			return
		}
	}
	start := time.Now() // the board's connect time starts with its first attempt
	release := func() {
		if gate != nil {
			<-gate
			gate = nil
		}
	}
	defer release()

	origin, attempt := b.home, 0
	for ctx.Err() == nil {
		got, err := r.connect(ctx, b, origin, func() {
			if b.firstConnect(time.Since(start)) {
				release()
				first()
			}
		})
		if ctx.Err() != nil {
			return
		}
		release()
		switch {
		case errors.Is(err, errMove):
			// The node sent the board elsewhere (no quorum, or spreading
			// its load): not a failure.
			attempt = 0
			r.moves.Add(1)
		case got:
			attempt = 0
			r.reconnects.Add(1)
		case !b.hasConnected():
			r.connectErrors.Add(1)
			r.noteError("connect", err)
		default:
			r.reconnectErrors.Add(1)
			r.noteError("reconnect", err)
		}
		origin = (origin + 1) % len(r.nodes.urls)
		var pause time.Duration
		var busy *apiError
		switch {
		case errors.As(err, &busy) && busy.status == http.StatusServiceUnavailable && busy.retryAfter > 0:
			// The node said when to come back (admission, an election): the
			// app waits that long, jittered by half, without growing its backoff.
			pause = busy.retryAfter/2 + rand.N(busy.retryAfter)
		case errors.Is(err, errMove):
			pause = rand.N(backoffMin)
		default:
			pause = rand.N(min(backoffMax, backoffMin<<min(attempt, 10)))
			attempt++
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
	}
}

// connect opens one live connection to node origin with a fresh ticket
// and reads it until it ends. got says whether a state arrived.
func (r *run) connect(ctx context.Context, b *board, origin int, onState func()) (got bool, err error) {
	base := r.nodes.urls[origin]
	var t struct {
		Ticket string `json:"ticket"`
	}
	tctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = r.api.call(tctx, "POST", base+"/api/v1/live-tickets", b.secret, map[string]string{"board_id": b.id}, http.StatusCreated, &t)
	cancel()
	if err != nil {
		return false, fmt.Errorf("live ticket: %w", err)
	}
	// A ticket is "<shard>.<token>": the shard of the board's state.
	if shard, _, ok := strings.Cut(t.Ticket, "."); ok {
		if n, err := strconv.Atoi(shard); err == nil {
			b.shard.Store(int32(n))
		}
	}
	url := base + "/api/v1/boards/" + b.id + "/live?ticket=" + t.Ticket
	handle := func(data []byte) error {
		now := time.Now()
		var m liveMessage
		if err := json.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("decode live message %q: %w", data, err)
		}
		switch m.Type {
		case "state":
			if m.State == nil {
				return fmt.Errorf("state message without a state: %s", data)
			}
			if !got {
				got = true
				b.liveNode.Store(int32(origin))
				r.connected.Add(1)
				onState()
			}
			if b.received(m.State.Revision, now) {
				r.delivered.Add(1)
			}
		case "activity":
			if rm := b.room.Load(); rm != nil && m.Activity != nil {
				rm.noteFrame(m.Activity, now)
			}
		case "move":
			return errMove
		case "unpaired":
			return errors.New("the board was unpaired")
		}
		return nil
	}
	defer func() {
		if got {
			b.liveNode.Store(-1)
			r.connected.Add(-1)
		}
	}()
	if r.cfg.Transport == SSE {
		return got, r.readSSE(ctx, url, handle)
	}
	return got, r.readWebsocket(ctx, url, handle)
}

func (r *run) readWebsocket(ctx context.Context, url string, handle func([]byte) error) error {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	c, _, err := websocket.Dial(dctx, "ws"+strings.TrimPrefix(url, "http"), &websocket.DialOptions{HTTPClient: r.liveHTTP})
	cancel()
	if err != nil {
		return fmt.Errorf("dial websocket: %w", err)
	}
	defer c.CloseNow() //nolint:errcheck // closing anyway
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return fmt.Errorf("read websocket: %w", err)
		}
		if err := handle(data); err != nil {
			return err
		}
	}
}

func (r *run) readSSE(ctx context.Context, url string, handle func([]byte) error) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	res, err := r.liveHTTP.Do(req)
	if err != nil {
		return fmt.Errorf("open event stream: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("open event stream: status %d", res.StatusCode)
	}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if data, ok := bytes.CutPrefix(sc.Bytes(), []byte("data: ")); ok {
			if err := handle(data); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read event stream: %w", err)
	}
	return errors.New("event stream ended")
}
