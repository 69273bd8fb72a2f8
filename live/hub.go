// Package live keeps the live connections of one node: the boards and the
// teacher devices watching them. It is transport-agnostic (the api package
// speaks websocket and SSE); the hub fans each board change out to that
// board's connections without ever waiting on one of them.
package live

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/classboard/classboard"
)

// Message types sent to clients. State, paired and unpaired mirror
// classboard's event types.
const (
	TypeState    = classboard.EventState
	TypePaired   = classboard.EventPaired
	TypeUnpaired = classboard.EventUnpaired
	TypePresence = classboard.EventPresence // the board's own connection came or went (teachers only)
	TypePointer  = classboard.EventPointer  // where the teacher points (boards only)
	TypeMove     = "move"                   // this node cannot serve you: reconnect elsewhere
	TypePing     = "ping"                   // keep-alive, so clients notice a silent connection
)

// Message is one live message. Every message carries the server's clock:
// boards count timers down against it, since their own clocks drift.
type Message struct {
	Type        string                 `json:"type"`
	State       *classboard.BoardState `json:"state,omitempty"`
	TeacherName string                 `json:"teacher_name,omitempty"`
	Online      *bool                  `json:"online,omitempty"` // presence
	Activity    *classboard.Activity   `json:"activity,omitempty"`
	Room        *classboard.Room       `json:"room,omitempty"` // a pupil's room
	Pointer     *classboard.Pointer    `json:"pointer,omitempty"`
	ServerTime  time.Time              `json:"server_time"`
}

// Encode returns the JSON of m, stamped with the server's time.
func Encode(m Message) []byte {
	m.ServerTime = time.Now().UTC()
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // a Message always encodes
	}
	return b
}

// Close reasons, for transports to pick a close code.
const (
	ReasonSlow     = "slow"     // the client did not keep up with its messages
	ReasonMove     = "move"     // the node asked the client to go elsewhere
	ReasonUnpaired = "unpaired" // the board was forgotten
	ReasonGone     = "gone"     // the transport ended
)

// Config tunes a hub.
type Config struct {
	// SendBuffer is how many messages may wait for one connection; a
	// connection with a full queue is closed (it reconnects and lands on
	// the current state). Default 32.
	SendBuffer int
	// Presence, when set, is told which boards are connected here, every
	// PresenceInterval and soon after a change, and tells teachers whether
	// their board is online. The default interval, half a second, is the
	// node's heartbeat: the store counts a node silent for 2 s as gone.
	Presence         classboard.Presence
	PresenceInterval time.Duration
	Logger           *slog.Logger
	// AdmitRate is how many new live connections per second the node takes
	// in (see Admission); 0 means DefaultAdmitRatePerCPU × GOMAXPROCS.
	// AdmitBurst is how many at once (0: a tenth of a second's worth, at
	// least 10).
	AdmitRate  float64
	AdmitBurst int
	// AdmitInflight bounds connection set-ups in flight (0:
	// DefaultAdmitInflightPerCPU × GOMAXPROCS).
	AdmitInflight int
	// Metrics counts queued messages and dropped slow readers; nil counts
	// nothing.
	Metrics Metrics
}

// Metrics is what the hub counts; the node passes its metrics.
type Metrics interface {
	LiveQueued()  // a message was queued to a connection
	LiveDropped() // a connection was closed for not keeping up
}

type noMetrics struct{}

func (noMetrics) LiveQueued()  {}
func (noMetrics) LiveDropped() {}

// DefaultAdmitInflightPerCPU bounds the connection set-ups a node runs at
// once, per CPU: a set-up takes a few milliseconds on a node that gets its
// CPUs, so only a node that falls behind reaches it.
const DefaultAdmitInflightPerCPU = 32

// DefaultAdmitRatePerCPU is the default admission rate per CPU the node
// may use: a node pinned to 2 cores connected 10,000 boards at 1,236 a
// second with a 73 ms p99 (docs/benchmarks.md, "16-core machine").
const DefaultAdmitRatePerCPU = 600

// Hub holds the connections of one node.
type Hub struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	closed bool
	// boards holds each board's connections. A slice is never changed in
	// place (copy on write), so a dispatch reads it without a copy; most
	// boards have one or two connections, which a map would hold in ten
	// times the memory.
	boards map[string][]*Conn

	changed chan struct{} // the set of connected boards changed (capacity 1)
	admit   *Admission
}

// NewHub returns an empty hub.
func NewHub(cfg Config) *Hub {
	if cfg.SendBuffer <= 0 {
		cfg.SendBuffer = 32
	}
	if cfg.PresenceInterval <= 0 {
		cfg.PresenceInterval = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	if cfg.AdmitRate <= 0 {
		cfg.AdmitRate = DefaultAdmitRatePerCPU * float64(runtime.GOMAXPROCS(0))
	}
	if cfg.AdmitBurst <= 0 {
		cfg.AdmitBurst = max(10, int(cfg.AdmitRate/10))
	}
	if cfg.AdmitInflight <= 0 {
		cfg.AdmitInflight = DefaultAdmitInflightPerCPU * runtime.GOMAXPROCS(0)
	}
	return &Hub{cfg: cfg, log: cfg.Logger, boards: map[string][]*Conn{}, changed: make(chan struct{}, 1),
		admit: NewAdmission(cfg.AdmitRate, cfg.AdmitBurst, cfg.AdmitInflight)}
}

// Admit takes a new live connection in, or returns EUNAVAILABLE with the
// Retry-After its caller is booked for: call it before any work for the
// connection (the ticket is where the apps start one), and call done once
// that work is over.
func (h *Hub) Admit() (done func(), err error) {
	if ok, wait := h.admit.Admit(time.Now()); !ok {
		return nil, errBusy(wait)
	}
	return sync.OnceFunc(h.admit.Done), nil
}

// SetUp counts the set-up of a connection admitted before (it brings its
// ticket) until done is called.
func (h *Hub) SetUp() (done func()) {
	h.admit.Enter()
	return sync.OnceFunc(h.admit.Done)
}

// Conn is one live connection, as the hub sees it. Its messages wait in a
// queue that is empty (and holds no memory) while the connection is idle;
// the transport sets a wake function (SetWake), which the hub calls when
// there is something to Take, and writes from a goroutine that runs only
// while there is: an idle board costs no goroutine of its own for writing
// (docs/benchmarks.md, "Issue 17, second round").
type Conn struct {
	hub     *Hub
	boardID string
	isBoard bool

	// pupil, on a pupil's connection, is the seat it follows; such a
	// connection hears its room's status only (ActivityFeed).
	pupil *pupilConn

	mu      sync.Mutex
	queue   [][]byte
	wake    func()
	lastRev uint64 // the newest state revision queued
	reason  string
}

// ErrClosed is returned by Register once the hub is closing.
var ErrClosed = classboard.Errorf(classboard.EUNAVAILABLE, "This server is shutting down; reconnect elsewhere.")

// Register adds a connection watching boardID; isBoard says whether the
// board itself is the client (its connection makes the board online).
func (h *Hub) Register(boardID string, isBoard bool) (*Conn, error) {
	return h.register(&Conn{hub: h, boardID: boardID, isBoard: isBoard})
}

// RegisterPupil adds a pupil's connection, following their seat in a
// room of seat.BoardID's.
func (h *Hub) RegisterPupil(seat classboard.PupilSeat) (*Conn, error) {
	return h.register(&Conn{hub: h, boardID: seat.BoardID, pupil: &pupilConn{seat: seat}})
}

func (h *Hub) register(c *Conn) (*Conn, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	h.boards[c.boardID] = append(slices.Clip(h.boards[c.boardID]), c)
	if c.isBoard {
		h.notifyChanged()
	}
	return c, nil
}

func isPupil(c *Conn) bool { return c.pupil != nil }

func (h *Hub) notifyChanged() {
	select {
	case h.changed <- struct{}{}:
	default:
	}
}

func (h *Hub) unregister(c *Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	set := h.boards[c.boardID]
	if i := slices.Index(set, c); i >= 0 {
		if len(set) == 1 {
			delete(h.boards, c.boardID)
		} else {
			h.boards[c.boardID] = slices.Delete(slices.Clone(set), i, i+1)
		}
	}
	if c.isBoard {
		h.notifyChanged()
	}
}

// BoardID is the board the connection watches.
func (c *Conn) BoardID() string { return c.boardID }

// SetWake sets the function the hub calls, never while holding a lock,
// each time a message is queued or the connection ends: the transport then
// Takes what there is. It is called at once when there is something
// already.
func (c *Conn) SetWake(wake func()) {
	c.mu.Lock()
	c.wake = wake
	pending := len(c.queue) > 0 || c.reason != ""
	c.mu.Unlock()
	if pending {
		wake()
	}
}

// Take returns the queued messages, in order, and empties the queue;
// ended says the hub has ended the connection: nothing follows what Take
// returned (for ReasonSlow nothing is returned: the client did not keep
// up, and it lands on the current state when it reconnects).
func (c *Conn) Take() (msgs [][]byte, ended bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	msgs, c.queue = c.queue, nil
	if c.reason == ReasonSlow {
		msgs = nil
	}
	return msgs, c.reason != ""
}

func (c *Conn) notify() {
	c.mu.Lock()
	wake := c.wake
	c.mu.Unlock()
	if wake != nil {
		wake()
	}
}

// Reason is why the connection ended ("" while it is open).
func (c *Conn) Reason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// Close ends the connection from the transport's side and forgets it.
func (c *Conn) Close() { c.finish(ReasonGone, nil) }

// OfferState queues a state unless a state at least as new was queued
// already: the first state and the watched changes may race, and a client
// must never see a state go back.
func (c *Conn) OfferState(st *classboard.BoardState) {
	c.offerState(st.Revision, Encode(Message{Type: TypeState, State: st}))
}

func (c *Conn) offerState(rev uint64, msg []byte) {
	c.mu.Lock()
	if c.reason != "" || rev <= c.lastRev {
		c.mu.Unlock()
		return
	}
	c.lastRev = rev
	c.mu.Unlock()
	c.offer(msg)
}

// OfferPresence queues whether the board is online, for a teacher's
// connection; changes follow as they happen. Call it after Register, so
// that no change falls between the two.
func (c *Conn) OfferPresence() {
	if c.isBoard || c.hub.cfg.Presence == nil {
		return
	}
	c.offer(presenceMessage(c.hub.cfg.Presence.Online(c.boardID)))
}

func presenceMessage(online bool) []byte {
	return Encode(Message{Type: TypePresence, Online: &online})
}

// offer queues msg without waiting; a full queue closes the connection,
// so one slow client never holds up the others.
func (c *Conn) offer(msg []byte) { c.enqueue(msg, false) }

// offerLossy queues a message the next one replaces (a pointer move): past
// half the queue it is dropped, which neither ends a connection that is
// merely busy nor takes the room a state change needs.
func (c *Conn) offerLossy(msg []byte) { c.enqueue(msg, true) }

func (c *Conn) enqueue(msg []byte, lossy bool) {
	c.mu.Lock()
	if c.reason != "" || (lossy && len(c.queue) >= c.hub.cfg.SendBuffer/2) {
		c.mu.Unlock()
		return
	}
	if len(c.queue) >= c.hub.cfg.SendBuffer {
		c.mu.Unlock()
		if c.finish(ReasonSlow, nil) {
			c.hub.cfg.Metrics.LiveDropped()
		}
		return
	}
	c.queue = append(c.queue, msg)
	c.mu.Unlock()
	c.hub.cfg.Metrics.LiveQueued()
	c.notify()
}

// finish ends the connection once, queueing last (when it fits) as the
// final message. It reports whether this call ended it.
func (c *Conn) finish(reason string, last []byte) bool {
	c.mu.Lock()
	if c.reason != "" {
		c.mu.Unlock()
		return false
	}
	c.reason = reason
	if last != nil && len(c.queue) < c.hub.cfg.SendBuffer {
		c.queue = append(c.queue, last)
	}
	c.mu.Unlock()
	c.hub.unregister(c)
	c.notify()
	return true
}

// conns returns the connections of boardID (the hub's own slice: read it,
// never change it), or of every board for "".
func (h *Hub) conns(boardID string) []*Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*Conn
	if boardID != "" {
		// One board: a lookup. Every change is dispatched here, and a scan
		// of all boards cost 0.4 ms per change with 10,000 connected.
		return h.boards[boardID]
	}
	for _, set := range h.boards {
		out = append(out, set...)
	}
	return out
}

// Dispatch sends a board event to the board's connections on this node.
// It never blocks on a connection.
func (h *Hub) Dispatch(ev classboard.BoardEvent) {
	conns := h.conns(ev.BoardID)
	if len(conns) == 0 {
		return
	}
	if ev.Type != classboard.EventUnpaired && ev.Type != classboard.EventPointer && slices.ContainsFunc(conns, isPupil) {
		// A pupil hears nothing of the board but its room's status: what
		// the board shows is the teacher's business. (A copy: conns is
		// the hub's own slice. The pointer goes to boards only anyway.)
		conns = slices.DeleteFunc(slices.Clone(conns), isPupil)
	}
	switch ev.Type {
	case classboard.EventState:
		msg := Encode(Message{Type: TypeState, State: ev.State})
		for _, c := range conns {
			c.offerState(ev.State.Revision, msg)
		}
	case classboard.EventPaired:
		msg := Encode(Message{Type: TypePaired, TeacherName: ev.TeacherName})
		for _, c := range conns {
			c.offer(msg)
		}
	case classboard.EventUnpaired:
		msg := Encode(Message{Type: TypeUnpaired})
		for _, c := range conns {
			c.finish(ReasonUnpaired, msg)
		}
	case classboard.EventPresence:
		msg := presenceMessage(ev.Online)
		for _, c := range conns {
			if !c.isBoard {
				c.offer(msg)
			}
		}
	case classboard.EventPointer:
		msg := Encode(Message{Type: TypePointer, Pointer: ev.Pointer})
		for _, c := range conns {
			if c.isBoard {
				c.offerLossy(msg)
			}
		}
	}
}

// Move sends a share of this node's connections (0..1; 1 for all) a
// "move" message and closes them, so their clients reconnect to another
// node: when this node lost its quorum, or to even out the load. It
// returns how many it moved.
func (h *Hub) Move(share float64) int {
	conns := h.conns("")
	n := int(math.Ceil(share * float64(len(conns))))
	n = max(0, min(n, len(conns)))
	msg := Encode(Message{Type: TypeMove})
	for _, c := range conns[:n] { // map order: a random pick
		c.finish(ReasonMove, msg)
	}
	return n
}

// Close moves every connection away and refuses new ones; the transports
// then send the "move" and close. Call it before shutting the HTTP server
// down: hijacked connections are not closed by http.Server.Shutdown.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.Move(1)
}

// Count returns how many connections are open.
func (h *Hub) Count() int { return len(h.conns("")) }

// connectedBoards returns the boards whose own connection is here.
func (h *Hub) connectedBoards() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := []string{}
	for id, set := range h.boards {
		for _, c := range set {
			if c.isBoard {
				ids = append(ids, id)
				break
			}
		}
	}
	slices.Sort(ids)
	return ids
}

// Run publishes which boards are connected here until ctx ends: every
// PresenceInterval, and shortly after a change (changes are batched, so a
// burst of reconnects costs one write).
func (h *Hub) Run(ctx context.Context) {
	if h.cfg.Presence == nil {
		return
	}
	tick := time.NewTicker(h.cfg.PresenceInterval)
	defer tick.Stop()
	var last []string
	publish := func(force bool) {
		ids := h.connectedBoards()
		if !force && slices.Equal(ids, last) {
			return
		}
		if err := h.cfg.Presence.PublishPresence(ctx, ids); err != nil {
			if ctx.Err() == nil {
				h.log.Warn("publish presence", "err", err)
			}
			last = nil // try again at the next change or tick
			return
		}
		last = ids
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			publish(true)
		case <-h.changed:
			select { // gather the rest of a burst
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			publish(false)
		}
	}
}
