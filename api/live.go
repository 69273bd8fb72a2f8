package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/live"
)

// Keep-alive timing, generous for slow school networks: a message every
// pingInterval lets clients notice a dead connection, and a websocket
// client that leaves a ping unanswered until silenceLimit is dropped.
const (
	pingInterval  = 25 * time.Second
	silenceLimit  = 75 * time.Second
	liveWriteWait = 10 * time.Second // one message; longer means the client is too slow
)

// liveEndpoint serves GET /api/v1/boards/{id}/live: a websocket, or SSE
// for networks that break websockets (Accept: text/event-stream). The
// first message is the board's current state (once it is paired), then
// every change.
func (s *Server) liveEndpoint(w http.ResponseWriter, r *http.Request) {
	// Browsers send Origin on every websocket and cross-origin EventSource;
	// only the apps' origins may connect. Other clients send none and
	// authenticate like any API client.
	if o := r.Header.Get("Origin"); o != "" && !s.allowedOrigin(o) {
		s.writeError(w, r, classboard.Errorf(classboard.EORIGIN, "Pages from this origin may not open live connections."))
		return
	}
	id := r.PathValue("id")
	a, err := s.liveAuth(r, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := classboard.NewContextWithAuth(r.Context(), a)
	b, err := s.svc.Boards.Board(ctx, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	conn, err := s.svc.Live.Register(id, a.Teacher == nil)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer conn.Close()
	// Registered before reading the state: a change made meanwhile is
	// queued too, and OfferState keeps only the newer of the two.
	if b.Paired {
		st, err := s.svc.Boards.State(ctx, id)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		conn.OfferState(st)
	}
	if strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		s.serveSSE(w, r, conn)
		return
	}
	s.serveWebsocket(w, r, conn)
}

// liveAuth accepts a single-use ticket (browsers) or a bearer token.
func (s *Server) liveAuth(r *http.Request, boardID string) (*classboard.Auth, error) {
	t := r.URL.Query().Get("ticket")
	if t == "" {
		return s.authenticate(r, teachersOrBoards)
	}
	a, ticketBoard, err := s.svc.LiveTickets.RedeemTicket(r.Context(), t)
	if err != nil {
		return nil, err
	}
	if ticketBoard != boardID {
		return nil, classboard.Errorf(classboard.ENOTFOUND, "No such board.")
	}
	return a, nil
}

// pump writes the connection's messages with write until the hub ends it,
// the client goes away (ctx) or a write fails, with a keep-alive message
// every pingInterval. After the hub ends it, what is queued (a final
// "move" or "unpaired") still goes out, except to a client too slow for it.
func pump(ctx context.Context, conn *live.Conn, write func([]byte) error) {
	tick := time.NewTicker(pingInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case msg := <-conn.Messages():
			if write(msg) != nil {
				return
			}
		case <-tick.C:
			if write(live.Encode(live.Message{Type: live.TypePing})) != nil {
				return
			}
		case <-conn.Done():
			if conn.Reason() == live.ReasonSlow {
				return
			}
			for {
				select {
				case msg := <-conn.Messages():
					if write(msg) != nil {
						return
					}
				default:
					return
				}
			}
		}
	}
}

func (s *Server) serveWebsocket(w http.ResponseWriter, r *http.Request, conn *live.Conn) {
	// The Origin was checked above against the apps' origins, which the
	// library's own same-host check would refuse when they differ.
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept answered the client
	}
	defer c.CloseNow() //nolint:errcheck // closed already after a clean close
	// Clients send nothing; reading answers pings and notices a close.
	ctx := c.CloseRead(r.Context())

	var wg sync.WaitGroup
	pingCtx, stopPing := context.WithCancel(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		keepAlive(pingCtx, c)
	}()
	defer func() { stopPing(); wg.Wait() }()

	pump(ctx, conn, func(msg []byte) error {
		wctx, cancel := context.WithTimeout(ctx, liveWriteWait)
		defer cancel()
		return c.Write(wctx, websocket.MessageText, msg)
	})
	switch conn.Reason() {
	case live.ReasonSlow:
		c.Close(websocket.StatusPolicyViolation, "too slow; reconnect") //nolint:errcheck // closing anyway
	case live.ReasonMove:
		c.Close(websocket.StatusTryAgainLater, "reconnect elsewhere") //nolint:errcheck // closing anyway
	default:
		c.Close(websocket.StatusNormalClosure, "") //nolint:errcheck // closing anyway
	}
}

// keepAlive pings the client every pingInterval and drops a connection
// whose client stays silent until silenceLimit.
func keepAlive(ctx context.Context, c *websocket.Conn) {
	t := time.NewTicker(pingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, silenceLimit-pingInterval)
		err := c.Ping(pctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				c.CloseNow() //nolint:errcheck // the client is gone
			}
			return
		}
	}
}

// serveSSE streams the messages as server-sent events.
func (s *Server) serveSSE(w http.ResponseWriter, r *http.Request, conn *live.Conn) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // proxies must pass each event at once
	w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil {
		return
	}
	pump(r.Context(), conn, func(msg []byte) error {
		rc.SetWriteDeadline(time.Now().Add(liveWriteWait)) //nolint:errcheck // unsupported only in tests' recorders
		if _, err := fmt.Fprintf(w, "data: %s\n\n", msg); err != nil {
			return err
		}
		return rc.Flush()
	})
	rc.SetWriteDeadline(time.Time{}) //nolint:errcheck // as above
}
