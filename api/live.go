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
	if !s.liveOrigin(w, r) {
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
	s.serveLive(w, r, conn, end)
}

// liveOrigin refuses a live connection from a page of another origin and
// says whether it may go on. Browsers send Origin on every websocket and
// cross-origin EventSource; only the apps' origins may connect. Other
// clients send none and authenticate like any API client.
func (s *Server) liveOrigin(w http.ResponseWriter, r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" && !s.allowedOrigin(o) {
		s.writeError(w, r, classboard.Errorf(classboard.EORIGIN, "Pages from this origin may not open live connections."))
		return false
	}
	return true
}

// serveLive hands a registered connection to its transport: SSE when the
// client asks for text/event-stream, a websocket otherwise.
func (s *Server) serveLive(w http.ResponseWriter, r *http.Request, conn *live.Conn, end func()) {
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

// liveStream writes one live connection's messages. It holds no goroutine
// while the connection is idle: the hub's wake (or the keep-alive timer)
// starts one that writes what is queued and ends, so an idle board costs
// its transport's reader and a timer (docs/benchmarks.md). After the hub
// ends the connection, what is queued (a final "move" or "unpaired") still
// goes out, except to a client too slow for it, and then end closes the
// transport; a failed write closes it too. The transport's reader owns
// the stream: it calls stop once the client has gone.
type liveStream struct {
	conn  *live.Conn
	write func([]byte) error // one message
	tick  func()             // after each keep-alive message; may be nil
	end   func(ended bool)   // closes the transport: ended by the hub (true) or a failed write

	mu        sync.Mutex
	running   bool // a writer goroutine runs
	stopped   bool
	keepAlive bool // a keep-alive message is due
	writers   sync.WaitGroup
	timer     *time.Timer
}

func startLiveStream(conn *live.Conn, write func([]byte) error, tick func(), end func(bool)) *liveStream {
	st := &liveStream{conn: conn, write: write, tick: tick, end: end}
	st.mu.Lock()
	st.timer = time.AfterFunc(pingInterval, st.keepAliveDue)
	st.mu.Unlock()
	conn.SetWake(st.wake)
	return st
}

func (st *liveStream) keepAliveDue() {
	st.mu.Lock()
	st.keepAlive = true
	st.mu.Unlock()
	st.wake()
}

// wake starts the writer unless it runs (it takes what was queued before
// it stops) or the stream stopped.
func (st *liveStream) wake() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.running || st.stopped {
		return
	}
	st.running = true
	st.writers.Go(st.run)
}

func (st *liveStream) run() {
	for {
		// Taken under st.mu, so a wake that finds the writer running
		// comes before this Take and its message is written.
		st.mu.Lock()
		msgs, ended := st.conn.Take()
		keepAlive := st.keepAlive
		st.keepAlive = false
		if st.stopped || (len(msgs) == 0 && !ended && !keepAlive) {
			st.running = false
			st.mu.Unlock()
			return
		}
		st.mu.Unlock()
		for _, msg := range msgs {
			if st.write(msg) != nil {
				st.end(false)
				return
			}
		}
		if ended {
			st.end(true)
			return
		}
		if keepAlive {
			if st.write(live.Encode(live.Message{Type: live.TypePing})) != nil {
				st.end(false)
				return
			}
			if st.tick != nil {
				st.tick()
			}
			st.mu.Lock()
			if !st.stopped {
				st.timer.Reset(pingInterval)
			}
			st.mu.Unlock()
		}
	}
}

// stop ends the stream once its client has gone and waits for its writer.
func (st *liveStream) stop() {
	st.mu.Lock()
	st.stopped = true
	st.timer.Stop()
	st.mu.Unlock()
	st.writers.Wait()
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
	s.liveConns.Go(func() {
		defer end()
		defer s.cfg.Metrics.LiveConnected("websocket")()
		runWebsocket(c, conn)
	})
}

// WaitLive waits until every websocket goroutine has ended. Close the hub
// first: that ends them.
func (s *Server) WaitLive() { s.liveConns.Wait() }

// runWebsocket reads the connection until it ends, while a liveStream
// writes to it. Its one goroutine is the connection's only one while it
// is idle.
func runWebsocket(c *websocket.Conn, conn *live.Conn) {
	var pings sync.WaitGroup
	var pinging atomic.Bool
	st := startLiveStream(conn, func(msg []byte) error {
		ctx, cancel := context.WithTimeout(context.Background(), liveWriteWait)
		defer cancel()
		return c.Write(ctx, websocket.MessageText, msg)
	}, func() {
		// A protocol ping every pingInterval; a client that leaves it
		// unanswered until silenceLimit is dropped. Its goroutine lives
		// only while a ping waits for its pong.
		if pinging.CompareAndSwap(false, true) {
			pings.Go(func() {
				defer pinging.Store(false)
				ctx, cancel := context.WithTimeout(context.Background(), silenceLimit-pingInterval)
				defer cancel()
				if c.Ping(ctx) != nil {
					c.CloseNow() //nolint:errcheck // the client is gone
				}
			})
		}
	}, func(ended bool) {
		switch {
		case !ended:
			c.CloseNow() //nolint:errcheck // a write failed: the client is gone
		case conn.Reason() == live.ReasonSlow:
			c.Close(websocket.StatusPolicyViolation, "too slow; reconnect") //nolint:errcheck // closing anyway
		case conn.Reason() == live.ReasonMove:
			c.Close(websocket.StatusTryAgainLater, "reconnect elsewhere") //nolint:errcheck // closing anyway
		default:
			c.Close(websocket.StatusNormalClosure, "") //nolint:errcheck // closing anyway
		}
	})
	// Clients send nothing: reading answers pings, hears pongs and notices
	// a close; a data message is refused. The read has no context of its
	// own (which would cost a goroutine's worth of memory in timers and
	// channels): closing the connection ends it.
	if _, _, err := c.Reader(context.Background()); err == nil {
		c.Close(websocket.StatusPolicyViolation, "unexpected data message") //nolint:errcheck // closing anyway
	}
	c.CloseNow() //nolint:errcheck // closed already after a clean close
	st.stop()
	pings.Wait()
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
			head := h.Clone()
			s.liveConns.Go(func() {
				defer end()
				defer s.cfg.Metrics.LiveConnected("sse")()
				runSSE(nc, brw, head, conn)
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
	defer s.cfg.Metrics.LiveConnected("sse")()
	// The handler waits here until the client goes or the stream ends.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	st := startLiveStream(conn, func(msg []byte) error {
		rc.SetWriteDeadline(time.Now().Add(liveWriteWait)) //nolint:errcheck // unsupported only in tests' recorders
		if _, err := fmt.Fprintf(w, "data: %s\n\n", msg); err != nil {
			return err
		}
		return rc.Flush()
	}, nil, func(bool) { cancel() })
	<-ctx.Done()
	st.stop()
	rc.SetWriteDeadline(time.Time{}) //nolint:errcheck // as above
}

// runSSE writes an event stream on a connection taken over from the HTTP
// server: the response head, then each message, until the hub ends the
// connection or the client goes away. The body ends with the connection
// (Connection: close), which HTTP/1.1 allows and EventSource expects.
func runSSE(nc net.Conn, brw *bufio.ReadWriter, head http.Header, conn *live.Conn) {
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
		nc.Close()
		return
	}
	st := startLiveStream(conn, func(msg []byte) error {
		return send(func() {
			bw.WriteString("data: ")
			bw.Write(msg)
			bw.WriteString("\n\n")
		})
	}, nil, func(bool) { nc.Close() })
	// The client sends nothing more; the read ends when it goes away or
	// the stream closed the connection. A byte at a time: io.Copy to
	// io.Discard would hold an 8 KiB buffer for as long as the connection.
	for {
		if _, err := brw.Reader.ReadByte(); err != nil {
			break
		}
	}
	nc.Close()
	st.stop()
}
