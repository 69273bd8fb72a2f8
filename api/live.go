package api

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
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
// every change; a teacher's connection also hears whether the board is
// online, at once and on every change.
func (s *Server) liveEndpoint(w http.ResponseWriter, r *http.Request) {
	// Browsers send Origin on every websocket and cross-origin EventSource;
	// only the apps' origins may connect. Other clients send none and
	// authenticate like any API client.
	if o := r.Header.Get("Origin"); o != "" && !s.allowedOrigin(o) {
		s.writeError(w, r, classboard.Errorf(classboard.EORIGIN, "Pages from this origin may not open live connections."))
		return
	}
	id := r.PathValue("id")
	a, setUp, err := s.liveAuth(r, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// The set-up (authentication, reads, registration) counts against
	// the node's admission until the connection is handed over.
	defer setUp()
	ctx := classboard.NewContextWithAuth(r.Context(), a)
	b, err := s.svc.Boards.Board(ctx, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	session := a.SessionID
	if a.Teacher == nil {
		session = "board " + a.BoardID
	}
	release, err := s.liveCounts.acquire(session, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	conn, err := s.svc.Live.Register(id, a.Teacher == nil)
	if err != nil {
		release()
		s.writeError(w, r, err)
		return
	}
	// The connection outlives this handler (its goroutine takes it over):
	// its place in the live counts is given back when it ends.
	end := func() { conn.Close(); release() }
	// Registered before reading the state: a change made meanwhile is
	// queued too, and OfferState keeps only the newer of the two.
	if b.Paired {
		st, err := s.svc.Boards.State(ctx, id)
		if err != nil {
			end()
			s.writeError(w, r, err)
			return
		}
		conn.OfferState(st)
		if s.svc.ActivityFeed != nil {
			s.svc.ActivityFeed.Offer(conn)
		}
	}
	conn.OfferPresence()
	setUp()
	if strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		s.serveSSE(w, r, conn, end)
		return
	}
	s.serveWebsocket(w, r, conn, end)
}

// liveAuth accepts a single-use ticket (browsers) or a bearer token, and
// counts the connection's set-up in the node's admission until setUp is
// called (also after an error).
func (s *Server) liveAuth(r *http.Request, boardID string) (a *classboard.Auth, setUp func(), err error) {
	t := r.URL.Query().Get("ticket")
	if t == "" {
		// Without a ticket the connection starts here: admit it first.
		if setUp, err = s.svc.Live.Admit(); err != nil {
			return nil, func() {}, err
		}
		a, err = s.authenticate(r, teachersOrBoards)
		return a, setUp, err
	}
	setUp = s.svc.Live.SetUp()
	a, ticketBoard, err := s.svc.LiveTickets.RedeemTicket(r.Context(), t)
	if err != nil {
		return nil, setUp, err
	}
	if ticketBoard != boardID {
		return nil, setUp, classboard.Errorf(classboard.ENOTFOUND, "No such board.")
	}
	return a, setUp, nil
}

// pump writes the connection's messages with write until the hub ends it,
// the client goes away (ctx) or a write fails, with a keep-alive message
// (and a call of tick, when set) every pingInterval. After the hub ends
// it, what is queued (a final "move" or "unpaired") still goes out, except
// to a client too slow for it.
func pump(ctx context.Context, conn *live.Conn, write func([]byte) error, tick func()) {
	ticker := time.NewTicker(pingInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case msg := <-conn.Messages():
			if write(msg) != nil {
				return
			}
		case <-ticker.C:
			if write(live.Encode(live.Message{Type: live.TypePing})) != nil {
				return
			}
			if tick != nil {
				tick()
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

// serveWebsocket upgrades the request and hands the connection to a
// goroutine of its own, so that the handler returns: the HTTP server then
// drops what it keeps for a request (its 4 KiB write buffer, the
// response's 2 KiB one, the handler's deep stack), and an idle board
// connection costs a few KiB (docs/benchmarks.md). s.liveConns owns the
// goroutine; the hub ends it (Close) or the client does, and end (which
// closes conn) runs once it has.
func (s *Server) serveWebsocket(w http.ResponseWriter, r *http.Request, conn *live.Conn, end func()) {
	// The Origin was checked above against the apps' origins, which the
	// library's own same-host check would refuse when they differ.
	c, err := websocket.Accept(smallBuffers{w}, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		end()
		return // Accept answered the client
	}
	// The request's context ends when the handler returns; the values
	// (request id) stay useful.
	ctx := context.WithoutCancel(r.Context())
	s.liveConns.Go(func() {
		defer end()
		runWebsocket(ctx, c, conn)
	})
}

// WaitLive waits until every websocket goroutine has ended. Close the hub
// first: that ends them.
func (s *Server) WaitLive() { s.liveConns.Wait() }

func runWebsocket(ctx context.Context, c *websocket.Conn, conn *live.Conn) {
	var pings sync.WaitGroup
	defer pings.Wait()
	defer c.CloseNow() //nolint:errcheck // closed already after a clean close
	// Clients send nothing; reading answers pings and notices a close.
	ctx = c.CloseRead(ctx)
	var pinging atomic.Bool
	pump(ctx, conn, func(msg []byte) error {
		wctx, cancel := context.WithTimeout(ctx, liveWriteWait)
		defer cancel()
		return c.Write(wctx, websocket.MessageText, msg)
	}, func() {
		// A protocol ping every pingInterval; a client that leaves it
		// unanswered until silenceLimit is dropped. Its goroutine lives
		// only while a ping waits for its pong.
		if pinging.CompareAndSwap(false, true) {
			pings.Go(func() {
				defer pinging.Store(false)
				pctx, cancel := context.WithTimeout(ctx, silenceLimit-pingInterval)
				defer cancel()
				if c.Ping(pctx) != nil && ctx.Err() == nil {
					c.CloseNow() //nolint:errcheck // the client is gone
				}
			})
		}
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

// smallBuffers hands the websocket library small buffers for a hijacked
// connection instead of the HTTP server's 4 KiB each way: a board reads
// nothing but pongs and close frames, and a state message is a few
// hundred bytes (a longer one is written through).
type smallBuffers struct{ http.ResponseWriter }

const (
	liveReadBuffer  = 256
	liveWriteBuffer = 1024
)

func (w smallBuffers) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// Bytes the server read ahead belong to the websocket.
	var rd io.Reader = c
	if n := brw.Reader.Buffered(); n > 0 {
		ahead, _ := brw.Reader.Peek(n)
		rd = io.MultiReader(bytes.NewReader(bytes.Clone(ahead)), c)
	}
	return c, bufio.NewReadWriter(bufio.NewReaderSize(rd, liveReadBuffer), bufio.NewWriterSize(c, liveWriteBuffer)), nil
}

// serveSSE streams the messages as server-sent events. Over HTTP/1 it
// takes the connection over and writes the response itself, for the same
// reason serveWebsocket does (an idle connection holds a few KiB instead
// of the HTTP server's buffers and a handler); over HTTP/2, which cannot be
// taken over, it streams through the server. end (which closes conn) runs
// once the stream has ended.
func (s *Server) serveSSE(w http.ResponseWriter, r *http.Request, conn *live.Conn, end func()) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // proxies must pass each event at once
	if r.ProtoMajor == 1 {
		nc, brw, err := smallBuffers{w}.Hijack()
		if err == nil {
			ctx := context.WithoutCancel(r.Context())
			head := h.Clone()
			s.liveConns.Go(func() {
				defer end()
				runSSE(ctx, nc, brw, head, conn)
			})
			return
		}
		if !errors.Is(err, http.ErrNotSupported) {
			end()
			s.log.Warn("take over event stream", "err", err)
			return
		}
	}
	defer end()
	rc := http.NewResponseController(w)
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
	}, nil)
	rc.SetWriteDeadline(time.Time{}) //nolint:errcheck // as above
}

// runSSE writes an event stream on a connection taken over from the HTTP
// server: the response head, then each message, until the hub ends the
// connection or the client goes away. The body ends with the connection
// (Connection: close), which HTTP/1.1 allows and EventSource expects.
func runSSE(ctx context.Context, nc net.Conn, brw *bufio.ReadWriter, head http.Header, conn *live.Conn) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var reader sync.WaitGroup
	defer reader.Wait()
	defer nc.Close() // ends the reader
	// The client sends nothing more; its read ends when it goes away.
	reader.Go(func() {
		io.Copy(io.Discard, brw.Reader) //nolint:errcheck // any end is the end
		cancel()
	})
	bw := brw.Writer
	send := func(write func()) error {
		nc.SetWriteDeadline(time.Now().Add(liveWriteWait)) //nolint:errcheck // a failed write says the same
		write()
		return bw.Flush()
	}
	if send(func() {
		bw.WriteString("HTTP/1.1 200 OK\r\n")
		head.Write(bw) //nolint:errcheck // bufio keeps the error for Flush
		bw.WriteString("Connection: close\r\n\r\n")
	}) != nil {
		return
	}
	pump(ctx, conn, func(msg []byte) error {
		return send(func() {
			bw.WriteString("data: ")
			bw.Write(msg)
			bw.WriteString("\n\n")
		})
	}, nil)
}
