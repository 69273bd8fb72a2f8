package bench

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// point is a marker as the API sends it.
type point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// activityMessage is the part of an "activity" live message the harness reads.
type activityMessage struct {
	Markers []point `json:"markers"`
}

// room is one board's activity: every pupil taps a marker of their own
// (so the board's frames tell which answers they hold), then moves it.
type room struct {
	b    *board
	code string
	rev  uint64 // the activity's revision when it opened

	lockedAt atomic.Int64 // UnixNano when the teacher sent the lock

	mu    sync.Mutex
	acked map[point]time.Time // acknowledged, not on the board yet
	early map[point]time.Time // on the board before its answer came back
	final map[point]bool      // each pupil's last acknowledged marker
	// tried maps a final marker to the change that replaced it without an
	// answer (a timeout or 503): such a change may have been stored
	// all the same, and then the board rightly shows it instead.
	tried  map[point]point
	shown  []time.Duration // answer acknowledged -> board shows it
	frames int
	last   map[point]bool // the markers of the newest frame
}

// noteFrame records a frame the board received at t.
func (rm *room) noteFrame(a *activityMessage, t time.Time) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	rm.frames++
	rm.last = map[point]bool{}
	for _, m := range a.Markers {
		rm.last[m] = true
		if at, ok := rm.acked[m]; ok {
			rm.shown = append(rm.shown, t.Sub(at))
			delete(rm.acked, m)
		} else if _, ok := rm.early[m]; !ok {
			rm.early[m] = t
		}
	}
}

// noteAck records that the answer m was acknowledged at t, replacing prev.
func (rm *room) noteAck(m, prev point, t time.Time) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	delete(rm.final, prev)
	delete(rm.acked, prev) // a replaced answer need not reach the board
	rm.final[m] = true
	if seen, ok := rm.early[m]; ok {
		rm.shown = append(rm.shown, seen.Sub(t))
		delete(rm.early, m)
		return
	}
	rm.acked[m] = t
}

// noteFailed records that changing prev to m got no acknowledgement.
func (rm *room) noteFailed(m, prev point) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	rm.tried[prev] = m
}

// missing is how many final answers the board's newest frame lacks.
func (rm *room) missing() int {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	n := 0
	for m := range rm.final {
		if t, ok := rm.tried[m]; !rm.last[m] && (!ok || !rm.last[t]) {
			n++
		}
	}
	return n
}

// ActivityResult is the activity scenario's part of a Result.
type ActivityResult struct {
	Rooms         int     `json:"rooms"`
	PupilsPerRoom int     `json:"pupils_per_room"`
	PupilsJoined  int64   `json:"pupils_joined"`
	AnswersAcked  int64   `json:"answers_acked"`
	AnswerErrors  int64   `json:"answer_errors"`
	AnswersLost   int     `json:"answers_lost"` // final answers the board never showed
	ShownP50Ms    float64 `json:"shown_p50_ms"` // answer acknowledged -> the board's frame holds it
	ShownP99Ms    float64 `json:"shown_p99_ms"`
	ShownMaxMs    float64 `json:"shown_max_ms"`
	// FramesPerSecond is activity frames per room per second over the
	// answering time (the burst and the changes).
	FramesPerSecond float64 `json:"frames_per_s_per_room"`
	AnswerSeconds   float64 `json:"answering_s"`
	// PupilConns is the pupils' live connections open per node once every
	// pupil answered; PupilBytesPerConn what the nodes (and, in-process,
	// the harness's end) grew by per pupil connection meanwhile.
	PupilConns        []int64  `json:"pupil_conns_per_node"`
	PupilBytesPerConn *float64 `json:"pupil_bytes_per_conn,omitempty"`
	PupilBytesScope   string   `json:"pupil_bytes_scope"`
	// LockedP50Ms and LockedP99Ms: the teacher's lock sent -> the pupil's
	// phone hears it on its live connection; LockedHeard of how many
	// connected pupils.
	LockedP50Ms float64 `json:"locked_p50_ms"`
	LockedP99Ms float64 `json:"locked_p99_ms"`
	LockedHeard int64   `json:"locked_heard"`
	// PupilConnectRetries counts pupils' live connections a node refused
	// at its admission rate (503) and the harness tried again.
	PupilConnectRetries int64 `json:"pupil_connect_retries"`
	// PupilReconnects counts pupils' live connections that ended (a node
	// moved them elsewhere) and were opened again on the next node.
	PupilReconnects int64 `json:"pupil_reconnects"`
	// AnswerRetries counts joins, answers (and locks) a node answered 503
	// and the harness sent again, as the pupil app does.
	AnswerRetries int64 `json:"answer_retries"`
	// LoadProcesses is how many load workers drove the pupils (0: the
	// harness's own process); WorkerPupilsJoined the pupils each had join.
	LoadProcesses int `json:"load_processes"`
	// ErrorKinds counts the pupils' errors by what failed: "join: 500",
	// "answer: timeout" (no answer within the client's 15 s), ...
	ErrorKinds         map[string]int64 `json:"pupil_error_kinds,omitempty"`
	WorkerPupilsJoined []int64          `json:"worker_pupils_joined,omitempty"`
}

// runActivity opens one markers activity per board; every pupil joins
// within a burst of cfg.Burst, opens a live connection to its room on the
// node it joined at, as the pupil app does, answers within the next burst,
// then changes the answer within the one after. Once the boards show every
// answer, the harness counts the pupils' connections per node and what
// the nodes grew by since idle (before the activity), then locks every
// room and times how soon each pupil hears it. The pupils are driven by
// this process or, split by room, by the load workers (r.workers), which
// hold their rooms' boards too: each times its answers against its own
// boards' frames, and the figures are merged from their raw samples.
func (r *run) runActivity(ctx context.Context, idle usageSnapshot) (*ActivityResult, error) {
	rooms := make([]*room, len(r.boards))
	r.setPhase("activity", fmt.Sprintf("opening %d rooms, %d pupils each", len(rooms), r.cfg.Pupils))
	err := r.parallel(ctx, len(r.boards), func(ctx context.Context, i int) error {
		b := r.boards[i]
		var act struct {
			JoinCode string `json:"join_code"`
			Revision uint64 `json:"revision"`
		}
		origin := r.nodes.urls[b.teacher.origin.Load()]
		if err := r.api.call(ctx, "PUT", origin+"/api/v1/boards/"+b.id+"/activity", b.teacher.token,
			map[string]any{"kind": "markers", "slide": 0, "status": "open"}, http.StatusOK, &act, "If-Match", "0"); err != nil {
			return fmt.Errorf("open activity: %w", err)
		}
		rooms[i] = newRoom(b, act.JoinCode, act.Revision)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var drivers []pupilDriver
	if len(r.workers) == 0 {
		c := r.newCrowd(ctx, rooms)
		defer c.close()
		drivers = []pupilDriver{c}
	} else {
		for _, w := range r.workers {
			drivers = append(drivers, w)
		}
	}
	// Every driver starts its pupils' burst at the same moment, with time
	// to hand the workers their rooms first.
	at := time.Now().Add(time.Second)
	for _, w := range r.workers {
		w.give(rooms)
	}
	if len(r.workers) > 0 {
		r.setPhase("answer", fmt.Sprintf("%d load workers drive the pupils and time their rooms' boards", len(r.workers)))
	}
	answered, err := eachDriver(ctx, drivers, func(ctx context.Context, d pupilDriver) (activityPart, error) { return d.answer(ctx, at) })
	if err != nil {
		return nil, err
	}
	res := &ActivityResult{Rooms: len(rooms), PupilsPerRoom: r.cfg.Pupils, LoadProcesses: len(r.workers)}
	answered.fill(res, len(rooms))
	if len(r.workers) > 0 {
		res.WorkerPupilsJoined = answered.joinedBy
	}
	r.pupilMemory(res, idle, r.settledUsage(ctx), res.pupilsConnected())
	if r.cfg.beforeLock != nil {
		r.cfg.beforeLock(r.nodes)
	}
	r.setPhase("lock", "the teachers lock every room; the pupils hear it")
	locked, err := eachDriver(ctx, drivers, func(ctx context.Context, d pupilDriver) (activityPart, error) { return d.lock(ctx) })
	if err != nil {
		return nil, err
	}
	res.LockedP50Ms, _, res.LockedP99Ms, _ = quantiles(locked.Locked)
	res.LockedHeard = locked.Heard
	res.PupilConnectRetries, res.AnswerRetries, res.PupilReconnects = locked.PupilRetries, locked.AnswerRetries, locked.Reconnects
	return res, nil
}

// pupilsConnected is how many pupils held a live connection once every
// pupil answered, over all nodes.
func (a *ActivityResult) pupilsConnected() int64 {
	var n int64
	for _, c := range a.PupilConns {
		n += c
	}
	return n
}

func newRoom(b *board, code string, rev uint64) *room {
	rm := &room{b: b, code: code, rev: rev, acked: map[point]time.Time{}, early: map[point]time.Time{}, final: map[point]bool{}, tried: map[point]point{}}
	b.room.Store(rm)
	return rm
}

// pupilDriver drives the pupils of some rooms: this process's crowd, or
// a load worker's.
type pupilDriver interface {
	// answer has every pupil join at, or within a burst after, at, follow
	// its room live and answer twice; it returns once the rooms' boards
	// show every final answer, or after the drain.
	answer(ctx context.Context, at time.Time) (activityPart, error)
	// lock locks every room and returns once every connected pupil heard
	// it, or after the drain.
	lock(ctx context.Context) (activityPart, error)
}

// activityPart is what one driver measured, raw, so that parts add up:
// latencies are every sample, not quantiles (a p99 of p99s is no p99).
type activityPart struct {
	Joined       int64           `json:"joined"`
	Acked        int64           `json:"acked"`
	Errors       int64           `json:"errors"`
	Lost         int             `json:"lost"`
	Shown        []time.Duration `json:"shown"` // answer acknowledged -> board shows it
	Frames       int             `json:"frames"`
	Answering    time.Duration   `json:"answering"`
	PupilConns   []int64         `json:"pupil_conns"` // open per node once every pupil answered
	Locked       []time.Duration `json:"locked"`      // lock sent -> pupil heard it
	Heard        int64           `json:"heard"`
	Reconnects   int64           `json:"reconnects"`    // pupils' live connections opened again, over the whole run
	PupilRetries int64           `json:"pupil_retries"` // counted over the whole run
	// AnswerRetries counts joins, answers and locks sent again over the whole run.
	AnswerRetries int64   `json:"answer_retries"`
	joinedBy      []int64 // Joined of each part added, in order
	// ErrorKinds counts the pupils' errors by what failed (errorKind).
	ErrorKinds map[string]int64 `json:"error_kinds,omitempty"`
}

// errorKind names what failed in a pupil's error, for counting: the step
// ("join", "answer") and the status, or "timeout".
func errorKind(err error) string {
	step, _, _ := strings.Cut(err.Error(), ":")
	var ae *apiError
	var ne net.Error
	switch {
	case errors.As(err, &ae):
		return fmt.Sprintf("%s: %d", step, ae.status)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return step + ": timeout"
	}
	return step + ": other"
}

// add adds o to p: counts and samples summed, the answering time the
// longest (every driver started at the same moment).
func (p *activityPart) add(o activityPart) {
	p.joinedBy = append(p.joinedBy, o.Joined)
	p.Joined += o.Joined
	p.Acked += o.Acked
	p.Errors += o.Errors
	p.Lost += o.Lost
	p.Shown = append(p.Shown, o.Shown...)
	p.Frames += o.Frames
	p.Answering = max(p.Answering, o.Answering)
	for len(p.PupilConns) < len(o.PupilConns) {
		p.PupilConns = append(p.PupilConns, 0)
	}
	for i, n := range o.PupilConns {
		p.PupilConns[i] += n
	}
	p.Locked = append(p.Locked, o.Locked...)
	p.Heard += o.Heard
	p.Reconnects += o.Reconnects
	for k, n := range o.ErrorKinds {
		if p.ErrorKinds == nil {
			p.ErrorKinds = map[string]int64{}
		}
		p.ErrorKinds[k] += n
	}
	p.PupilRetries += o.PupilRetries
	p.AnswerRetries += o.AnswerRetries
}

// fill puts the answering figures of p into res.
func (p *activityPart) fill(res *ActivityResult, rooms int) {
	res.PupilsJoined, res.AnswersAcked, res.AnswerErrors, res.AnswersLost = p.Joined, p.Acked, p.Errors, p.Lost
	res.ShownP50Ms, _, res.ShownP99Ms, res.ShownMaxMs = quantiles(p.Shown)
	res.AnswerSeconds = round(p.Answering.Seconds())
	if p.Answering > 0 {
		res.FramesPerSecond = round(float64(p.Frames) / float64(rooms) / p.Answering.Seconds())
	}
	res.PupilConns = p.PupilConns
	res.ErrorKinds = p.ErrorKinds
}

// eachDriver runs f on every driver at once and adds up their parts.
func eachDriver(ctx context.Context, drivers []pupilDriver, f func(context.Context, pupilDriver) (activityPart, error)) (activityPart, error) {
	parts := make([]activityPart, len(drivers))
	errs := make([]error, len(drivers))
	var wg sync.WaitGroup
	for i, d := range drivers {
		wg.Go(func() { parts[i], errs[i] = f(ctx, d) })
	}
	wg.Wait()
	var sum activityPart
	for _, p := range parts {
		sum.add(p)
	}
	return sum, errors.Join(errs...)
}

// crowd is the pupils of some rooms, driven by this process; their live
// connections last until close.
type crowd struct {
	r         *run
	rooms     []*room
	pl        *pupilLive
	liveCtx   context.Context
	stopLive  context.CancelFunc
	connected int64 // pupils connected once every pupil answered
	// joined and acked count pupils joined and answers acknowledged so
	// far, for the progress lines.
	joined, acked atomic.Int64
}

func (r *run) newCrowd(ctx context.Context, rooms []*room) *crowd {
	liveCtx, stopLive := context.WithCancel(ctx)
	c := &crowd{r: r, rooms: rooms, pl: &pupilLive{conns: make([]atomic.Int64, len(r.nodes.urls))}, liveCtx: liveCtx, stopLive: stopLive}
	r.crowd.Store(c)
	return c
}

// pupilProgress returns the pupils joined, answers acknowledged and
// pupils' live connections open so far, this process's and its load
// workers' (as they last said).
func (r *run) pupilProgress() (joined, acked, open int64) {
	if c := r.crowd.Load(); c != nil {
		joined, acked, open = c.joined.Load(), c.acked.Load(), c.open()
	}
	for _, w := range r.workers {
		joined += w.joined.Load()
		acked += w.acked.Load()
		open += w.open.Load()
	}
	return joined, acked, open
}

// open is how many of the pupils' live connections are open.
func (c *crowd) open() int64 {
	n := int64(0)
	for i := range c.pl.conns {
		n += c.pl.conns[i].Load()
	}
	return n
}

// close ends the pupils' live connections and waits for their readers.
func (c *crowd) close() {
	c.stopLive()
	c.pl.wg.Wait()
}

func (c *crowd) answer(ctx context.Context, at time.Time) (activityPart, error) {
	r := c.r
	select {
	case <-ctx.Done():
		return activityPart{}, ctx.Err()
	case <-time.After(time.Until(at)):
	}
	joined, acked := &c.joined, &c.acked
	var errs atomic.Int64
	var kindsMu sync.Mutex
	kinds := map[string]int64{}
	start := time.Now()
	var wg sync.WaitGroup
	for _, rm := range c.rooms {
		for j := range r.cfg.Pupils {
			wg.Go(func() {
				if err := r.pupil(ctx, c.liveCtx, c.pl, rm, rm.b.idx, j, joined, acked); err != nil {
					if errs.Add(1) <= maxErrorsShown {
						r.cfg.Log.Warn("pupil", "room", rm.b.idx, "pupil", j, "err", err)
					}
					kindsMu.Lock()
					kinds[errorKind(err)]++
					kindsMu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	p := activityPart{Answering: time.Since(start), ErrorKinds: kinds}
	r.setPhase("drain", "waiting for the boards to show every final answer")
	deadline := time.Now().Add(r.cfg.Drain)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		lost := 0
		for _, rm := range c.rooms {
			lost += rm.missing()
		}
		if lost == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Pupils still waiting for their node's admission are connected
	// before they are counted and hear the lock.
	for time.Now().Before(deadline) && ctx.Err() == nil && c.open()+c.pl.failed.Load() < joined.Load() {
		time.Sleep(50 * time.Millisecond)
	}
	for _, rm := range c.rooms {
		p.Lost += rm.missing()
		rm.mu.Lock()
		p.Shown = append(p.Shown, rm.shown...)
		p.Frames += rm.frames
		rm.mu.Unlock()
	}
	p.Joined, p.Acked, p.Errors = joined.Load(), acked.Load(), errs.Load()+c.pl.failed.Load()
	if n := c.pl.failed.Load(); n > 0 {
		kinds["live: refused"] += n
	}
	for i := range c.pl.conns {
		p.PupilConns = append(p.PupilConns, c.pl.conns[i].Load())
		c.connected += c.pl.conns[i].Load()
	}
	return p, ctx.Err()
}

func (c *crowd) lock(ctx context.Context) (activityPart, error) {
	r := c.r
	if err := r.lockRooms(ctx, c.rooms); err != nil {
		return activityPart{}, err
	}
	deadline := time.Now().Add(r.cfg.Drain)
	for time.Now().Before(deadline) && ctx.Err() == nil && c.pl.heard.Load() < c.connected {
		time.Sleep(50 * time.Millisecond)
	}
	p := activityPart{Heard: c.pl.heard.Load(), PupilRetries: r.pupilRetries.Load(), AnswerRetries: r.answerRetries.Load(), Reconnects: c.pl.reconnects.Load()}
	c.pl.mu.Lock()
	p.Locked = slices.Clone(c.pl.locked)
	c.pl.mu.Unlock()
	return p, ctx.Err()
}

// pupilLive is what the pupils' live connections have seen.
type pupilLive struct {
	wg    sync.WaitGroup
	conns []atomic.Int64 // open, per node
	heard atomic.Int64   // pupils that heard their room locked
	// failed counts pupils whose live connection a node refused other
	// than at its admission rate.
	failed atomic.Int64
	// reconnects counts pupils' live connections opened again after one
	// ended (a node moved them).
	reconnects atomic.Int64

	mu     sync.Mutex
	locked []time.Duration // lock acknowledged -> heard
}

// lockRooms locks every room, as its teacher would; a lock that fails is
// logged, and its pupils hear nothing.
func (r *run) lockRooms(ctx context.Context, rooms []*room) error {
	return r.parallel(ctx, len(rooms), func(ctx context.Context, i int) error {
		rm := rooms[i]
		origin := r.nodes.urls[rm.b.teacher.origin.Load()]
		rm.lockedAt.Store(time.Now().UnixNano())
		err := r.put(ctx, r.api, origin+"/api/v1/boards/"+rm.b.id+"/activity", rm.b.teacher.token,
			map[string]any{"kind": "markers", "slide": 0, "status": "locked"}, "If-Match", strconv.FormatUint(rm.rev, 10))
		if err != nil && ctx.Err() == nil {
			r.cfg.Log.Warn("lock room", "room", rm.b.idx, "err", err)
			return nil
		}
		return err
	})
}

// pupilMemory fills in what a pupil's connection cost, from the usage
// when the boards were idle (before the activity) to now.
func (r *run) pupilMemory(res *ActivityResult, idle, now usageSnapshot, conns int64) {
	if conns == 0 {
		res.PupilBytesScope = "no pupil connected"
		return
	}
	var grown int64
	switch r.nodes.mode {
	case modeProcesses:
		for i := range now.nodes {
			grown += now.nodes[i].rss - idle.nodes[i].rss
		}
		res.PupilBytesScope = "node processes' resident memory (VmRSS) growth since the boards were idle, per pupil connection; it holds the rooms' stored pupils and answers in the node's view too"
	case modeInProcess:
		grown = now.heap - idle.heap
		res.PupilBytesScope = "in-process nodes: this process's live heap and stacks growth since the boards were idle, per pupil connection, both ends of each connection and the rooms' pupils and answers in the node's view (use --processes for the node alone)"
		if len(r.workers) > 0 {
			res.PupilBytesScope = "in-process nodes: this process's live heap and stacks growth since the boards were idle, per pupil connection: the node's end (the load workers hold the pupils') and the rooms' pupils and answers in the node's view"
		}
	default:
		res.PupilBytesScope = "unknown: the nodes are targets this harness cannot measure"
		return
	}
	v := round(float64(grown) / float64(conns))
	res.PupilBytesPerConn = &v
}

// followRoom holds a pupil's live connection to the room until ctx ends,
// as the pupil app does beside its answers, starting on node: it counts
// the connection on its node and notes when the pupil hears the room
// locked. A node admitting connections at its rate answers 503 with the
// Retry-After it booked the pupil for: the app comes back then (live.js),
// or after a backoff without one, for as long as the page is open; any
// other refusal ends it, counted in pl.failed. A connection that ends (a
// node sending its clients elsewhere with "move", to even out its load)
// is opened again on the next node after a short random wait, as the
// app does, counted in pl.reconnects.
func (r *run) followRoom(ctx context.Context, pl *pupilLive, rm *room, node int, roomID, token string) {
	heard := false
	for attempt := 0; ; attempt++ {
		url := r.nodes.urls[node] + "/api/v1/rooms/" + roomID + "/live"
		dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		c, res, err := websocket.Dial(dctx, "ws"+strings.TrimPrefix(url, "http"), &websocket.DialOptions{
			HTTPClient: r.liveHTTP, HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
		cancel()
		if ctx.Err() != nil {
			if err == nil {
				c.CloseNow() //nolint:errcheck // the run is over
			}
			return
		}
		var wait time.Duration
		switch {
		case err == nil:
			attempt = -1
			pl.conns[node].Add(1)
			r.readRoom(ctx, c, pl, rm, &heard)
			pl.conns[node].Add(-1)
			if ctx.Err() != nil {
				return
			}
			pl.reconnects.Add(1)
			node = (node + 1) % len(r.nodes.urls)
			wait = rand.N(backoffMin)
		case res == nil || res.StatusCode != http.StatusServiceUnavailable:
			if pl.failed.Add(1) <= maxErrorsShown {
				r.cfg.Log.Warn("pupil live", "room", rm.b.idx, "err", err)
			}
			return
		default:
			r.pupilRetries.Add(1)
			wait = rand.N(min(backoffMax, backoffMin<<min(attempt, 10)))
			if ra, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && ra > 0 {
				wait = time.Duration(ra)*time.Second + rand.N(time.Second)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// readRoom reads a pupil's live connection until it ends, noting the
// first time the pupil hears its room locked.
func (r *run) readRoom(ctx context.Context, c *websocket.Conn, pl *pupilLive, rm *room, heard *bool) {
	defer c.CloseNow() //nolint:errcheck // closing anyway
	for {
		var m struct {
			Type string `json:"type"`
			Room *struct {
				Status string `json:"status"`
			} `json:"room"`
		}
		if wsjson.Read(ctx, c, &m) != nil {
			return // gone, or not our JSON
		}
		if m.Type == "move" {
			return
		}
		if m.Type != "room" || m.Room == nil || m.Room.Status != "locked" || *heard {
			continue
		}
		*heard = true
		pl.mu.Lock()
		pl.locked = append(pl.locked, time.Since(time.Unix(0, rm.lockedAt.Load())))
		pl.mu.Unlock()
		pl.heard.Add(1)
	}
}

// pupil joins room rm, follows it live (from then on, beside its
// answers, as the app does), and answers twice, each within a burst.
func (r *run) pupil(ctx, liveCtx context.Context, pl *pupilLive, rm *room, ri, j int, joined, acked *atomic.Int64) error {
	// Each room's pupils share their school's address, as a class does.
	addr := fmt.Sprintf("10.88.%d.%d", ri>>8, ri&0xff)
	node := (ri + j) % len(r.nodes.urls)
	base := r.nodes.urls[node]
	var p struct {
		RoomID string `json:"room_id"`
		Token  string `json:"pupil_token"`
	}
	// A class joins over a few seconds too, not at one instant.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(rand.N(r.cfg.Burst)):
	}
	// A node too busy to take a join (503) added nobody: the app sends it
	// again after Retry-After, as the pupil would press Join again.
	if err := r.again(ctx, func() error {
		return r.pupilAPI.call(ctx, "POST", base+"/api/v1/rooms/join", "", map[string]string{"code": rm.code, "name": fmt.Sprintf("Pupil %d", j)},
			http.StatusCreated, &p, "X-Forwarded-For", addr)
	}); err != nil {
		return fmt.Errorf("join: %w", err)
	}
	joined.Add(1)
	pl.wg.Go(func() { r.followRoom(liveCtx, pl, rm, node, p.RoomID, p.Token) })
	x := float64(j+1) / float64(r.cfg.Pupils+1)
	prev := point{X: -1}
	for _, y := range []float64{0.25, 0.75} {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(rand.N(r.cfg.Burst)):
		}
		m := point{X: x, Y: y}
		if err := r.put(ctx, r.pupilAPI, base+"/api/v1/rooms/"+p.RoomID+"/answer", p.Token, map[string]any{"marker": m}); err != nil {
			rm.noteFailed(m, prev)
			return fmt.Errorf("answer: %w", err)
		}
		rm.noteAck(m, prev, time.Now())
		acked.Add(1)
		prev = m
	}
	return nil
}

// put sends a PUT as the apps do with retry: true (a pupil's answer, a
// teacher's lock), sent again after a 503 (again).
func (r *run) put(ctx context.Context, c *client, url, token string, body any, headers ...string) error {
	return r.again(ctx, func() error { return c.call(ctx, "PUT", url, token, body, http.StatusOK, nil, headers...) })
}

// againAttempts bounds how often again sends a request: the app keeps
// trying while the page is open, the harness gives up after about half a
// minute of a node's Retry-After (1-3 s when it sheds pupils).
const againAttempts = 16

// again runs send until it is not answered 503, waiting Retry-After (plus
// up to a second, as the app's jitter spreads it) or a backoff between
// tries, counted in answerRetries.
func (r *run) again(ctx context.Context, send func() error) error {
	for attempt := 0; ; attempt++ {
		err := send()
		var ae *apiError
		if err == nil || !errors.As(err, &ae) || ae.status != http.StatusServiceUnavailable || attempt == againAttempts-1 {
			return err
		}
		r.answerRetries.Add(1)
		wait := rand.N(min(backoffMax, backoffMin<<attempt))
		if ae.retryAfter > 0 {
			wait = ae.retryAfter + rand.N(time.Second)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// writeActivity prints the activity scenario's figures.
func (a *ActivityResult) write(row func(k, format string, v ...any)) {
	row("rooms", "%d rooms x %d pupils: %d joined, %d answers acknowledged (%d joins, answers or locks sent again after a 503), %d pupil errors", a.Rooms, a.PupilsPerRoom, a.PupilsJoined, a.AnswersAcked, a.AnswerRetries, a.AnswerErrors)
	if a.LoadProcesses > 0 {
		row("load workers", "%d processes drove the pupils; joined per worker: %v", a.LoadProcesses, a.WorkerPupilsJoined)
	}
	if len(a.ErrorKinds) > 0 {
		var kinds []string
		for _, k := range slices.Sorted(maps.Keys(a.ErrorKinds)) {
			kinds = append(kinds, fmt.Sprintf("%s %d", k, a.ErrorKinds[k]))
		}
		row("pupil errors", "%s", strings.Join(kinds, ", "))
	}
	row("answer -> board", "p50 %.2f ms  p99 %.2f ms  max %.2f ms", a.ShownP50Ms, a.ShownP99Ms, a.ShownMaxMs)
	row("answers lost", "%d", a.AnswersLost)
	row("board frames", "%.2f per second per room over %.1f s of answering", a.FramesPerSecond, a.AnswerSeconds)
	row("pupil connections", "%v per node (%d refused at a node's admission rate and tried again; %d ended, moved by a node, and opened again)", a.PupilConns, a.PupilConnectRetries, a.PupilReconnects)
	if a.PupilBytesPerConn != nil {
		row("memory per pupil", "%.0f bytes (%.1f KiB): %s", *a.PupilBytesPerConn, *a.PupilBytesPerConn/1024, a.PupilBytesScope)
	} else {
		row("memory per pupil", "%s", a.PupilBytesScope)
	}
	row("lock sent -> pupil", "p50 %.2f ms  p99 %.2f ms: %d pupils heard their room locked", a.LockedP50Ms, a.LockedP99Ms, a.LockedHeard)
}
