package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// run is one benchmark run in progress.
type run struct {
	cfg      Config
	nodes    *nodes
	api      *client
	pupilAPI *client // pupils' joins and answers
	liveHTTP *http.Client
	workers  []*worker             // load workers driving the activity's pupils; none: this process does
	crowd    atomic.Pointer[crowd] // the pupils this process drives, once the activity started
	teachers []*teacher
	boards   []*board
	started  time.Time
	phase    atomic.Pointer[string]

	teachersReady, boardsReady    atomic.Int64
	boardsConnected, connected    atomic.Int64 // ever connected; connected now
	sent, acked, delivered        atomic.Int64
	writeErrors, writeRetries     atomic.Int64
	connectErrors, reconnects     atomic.Int64
	reconnectErrors, moves        atomic.Int64
	errorsShown                   atomic.Int64
	killed                        atomic.Int32                 // index of the killed node + 1; 0 before the kill
	killedLed, stateStreams       atomic.Int32                 // board-state streams the killed node led; such streams known
	killedMeta                    atomic.Int32                 // 1: the killed node was the meta leader, 0: it was not, -1: unknown
	killedShards                  atomic.Pointer[map[int]bool] // the board-state shards the killed node led
	connectStart, connectFinished atomic.Int64                 // unix nanoseconds
	pupilRetries, answerRetries   atomic.Int64                 // pupils' live connections refused at admission, joins and answers refused with 503, tried again
}

// maxErrorsShown bounds how many individual errors go to the log.
const maxErrorsShown = 10

// Run runs the benchmark cfg describes and returns its result. Nodes it
// started are stopped before it returns.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	lim, err := raiseFileLimit()
	if err != nil {
		cfg.Log.Warn("open-file limit unchanged", "err", err)
	}
	cfg.LoadProcesses = loadProcesses(cfg, lim)
	conns := uint64(cfg.Boards)
	if cfg.Scenario == Activity {
		conns *= uint64(cfg.Pupils + 1)
	}
	if cfg.LoadProcesses == 0 {
		conns *= 2
	}
	if lim > 0 && lim < conns+1000 && !cfg.Processes && len(cfg.Targets) == 0 {
		// In-process nodes hold the node's end of every connection; the
		// harness's end too unless load workers hold it.
		cfg.Log.Warn("open-file limit may be too low for in-process nodes; use --processes", "limit", lim, "connections", conns)
	}
	r := newRun(cfg)
	r.setPhase("start", "starting the nodes")
	progressCtx, stopProgress := context.WithCancel(ctx)
	var progressWG sync.WaitGroup
	progressWG.Go(func() { r.progress(progressCtx) })
	defer func() { stopProgress(); progressWG.Wait() }()

	r.nodes, err = startNodes(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.KeepData && r.nodes.dir != "" {
		fmt.Fprintf(cfg.Progress, "bench: the nodes' data and logs are kept in %s\n", r.nodes.dir)
	}
	defer func() {
		r.setPhase("stop", "stopping the nodes")
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.nodes.close(cctx); err != nil {
			cfg.Log.Warn("stop nodes", "err", err)
		}
	}()
	defer r.api.closeIdle()
	return r.run(ctx)
}

func newRun(cfg Config) *run {
	return &run{cfg: cfg, api: newClient(15*time.Second, 0), pupilAPI: newClient(15*time.Second, pupilConnsPerNode),
		liveHTTP: newLiveClient(), started: time.Now()}
}

// setPhase names the phase in progress lines and prints what it does.
func (r *run) setPhase(name, detail string) {
	r.phase.Store(&name)
	fmt.Fprintf(r.cfg.Progress, "bench: [%6.1fs] %s: %s\n", time.Since(r.started).Seconds(), name, detail)
}

// run goes through the phases: setup, connect, steer, drain, read back.
func (r *run) run(ctx context.Context) (*Result, error) {
	r.setPhase("setup", fmt.Sprintf("%d teachers, %d boards on %d %s node(s)",
		(r.cfg.Boards+r.cfg.BoardsPerTeacher-1)/r.cfg.BoardsPerTeacher, r.cfg.Boards, len(r.nodes.urls), r.nodes.mode))
	if err := r.setup(ctx); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	before := r.settledUsage(ctx)

	// Live connections last until the end of the run.
	liveCtx, stopLive := context.WithCancel(ctx)
	var liveWG sync.WaitGroup
	defer func() { stopLive(); liveWG.Wait() }()
	if r.cfg.LoadProcesses > 0 {
		r.setPhase("connect", fmt.Sprintf("%d load workers connect %d boards (%s each)", r.cfg.LoadProcesses, len(r.boards), r.connectPlan()))
		defer func() {
			if err := r.stopWorkers(); err != nil {
				r.cfg.Log.Warn("stop load workers", "err", err)
			}
		}()
		if err := r.startWorkers(ctx, r.cfg.LoadProcesses); err != nil {
			return nil, err
		}
	} else {
		r.setPhase("connect", fmt.Sprintf("connecting %d boards (%s)", len(r.boards), r.connectPlan()))
		if err := r.connectAll(liveCtx, &liveWG); err != nil {
			return nil, err
		}
	}
	idle := r.settledUsage(ctx)
	if r.cfg.HeapProfile != "" {
		if err := writeHeapProfile(r.cfg.HeapProfile); err != nil {
			return nil, err
		}
	}

	if r.cfg.Scenario == Activity {
		if r.cfg.CPUProfile != "" {
			stop, err := startCPUProfile(r.cfg.CPUProfile)
			if err != nil {
				return nil, err
			}
			defer stop()
		}
		waited := cpuWaiting()
		answerStart := time.Now()
		act, err := r.runActivity(ctx, idle)
		if err != nil {
			return nil, err
		}
		took := time.Since(answerStart)
		end := r.usage()
		res := r.result(answerStart, took, 0, usages{before: before, idle: idle, steered: end, after: end})
		res.Activity = act
		res.CPUPressurePct = -1
		if w := cpuWaiting(); w >= 0 && waited >= 0 {
			res.CPUPressurePct = round(100 * float64(w-waited) / float64(took))
		}
		if act.AnswersLost > 0 {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%d acknowledged answers never reached their board", act.AnswersLost))
		}
		if connected := act.pupilsConnected(); connected < act.PupilsJoined {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%d of %d pupils who joined had no live connection to their room after the drain", act.PupilsJoined-connected, act.PupilsJoined))
		}
		if act.AnswerErrors > 0 {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%d pupils failed to join or answer", act.AnswerErrors))
		}
		return res, nil
	}

	r.setPhase("steer", fmt.Sprintf("steering for %v, one change per board every ~%v", r.cfg.Duration, r.cfg.Interval))
	stopProfile := func() {}
	if r.cfg.CPUProfile != "" {
		stop, err := startCPUProfile(r.cfg.CPUProfile)
		if err != nil {
			return nil, err
		}
		stopProfile = stop
		defer stop()
	}
	waitedBefore := cpuWaiting()
	steerStart := time.Now()
	steerCtx, stopSteer := context.WithTimeout(ctx, r.cfg.Duration)
	defer stopSteer()
	var steerWG sync.WaitGroup
	for _, b := range r.boards {
		steerWG.Go(func() { r.steer(steerCtx, ctx, b) })
	}
	var killWG sync.WaitGroup
	var killErr error
	if r.cfg.Scenario == Failover {
		killWG.Go(func() { killErr = r.killLater(steerCtx) })
	}
	killWG.Wait()
	steerWG.Wait()
	steerTime := time.Since(steerStart)
	stopProfile()
	steered := r.usage()
	cpuPressure := -1.0
	if w := cpuWaiting(); w >= 0 && waitedBefore >= 0 {
		cpuPressure = round(100 * float64(w-waitedBefore) / float64(steerTime))
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if killErr != nil {
		return nil, killErr
	}

	r.setPhase("drain", "waiting for updates still on their way")
	r.drain(ctx)
	after := r.usage()
	r.setPhase("read back", "reading every board's state back")
	readback, err := r.readBack(ctx)
	if err != nil {
		return nil, err
	}
	res := r.result(steerStart, steerTime, readback, usages{before: before, idle: idle, steered: steered, after: after})
	res.CPUPressurePct = cpuPressure
	return res, nil
}

// connectPlan says how the boards connect.
func (r *run) connectPlan() string {
	if r.cfg.Scenario == Herd {
		return fmt.Sprintf("herd: all within %v", r.cfg.Ramp)
	}
	return fmt.Sprintf("at most %d connecting at once", r.cfg.Concurrency)
}

// connectAll starts every board's live connection and waits until each
// had its first state, or gives up after a generous limit.
func (r *run) connectAll(ctx context.Context, wg *sync.WaitGroup) error {
	all := make(chan struct{})
	var gate chan struct{}
	var ramp time.Duration
	limit := 5*time.Minute + time.Duration(len(r.boards))*10*time.Millisecond
	if r.cfg.Scenario == Herd {
		ramp = r.cfg.Ramp
		limit += ramp
	} else {
		gate = make(chan struct{}, r.cfg.Concurrency)
	}
	start := time.Now()
	r.connectStart.Store(start.UnixNano())
	order := rand.Perm(len(r.boards)) // the herd arrives in no particular order
	for k, i := range order {
		b := r.boards[i]
		at := start.Add(ramp * time.Duration(k) / time.Duration(len(r.boards)))
		wg.Go(func() {
			if d := time.Until(at); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
			r.live(ctx, b, gate, func() {
				if r.boardsConnected.Add(1) == int64(len(r.boards)) {
					r.connectFinished.Store(time.Now().UnixNano())
					close(all)
				}
			})
		})
	}
	select {
	case <-all:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(limit):
		r.connectFinished.Store(time.Now().UnixNano())
		fmt.Fprintf(r.cfg.Progress, "bench: WARNING only %d of %d boards connected within %v; steering anyway\n",
			r.boardsConnected.Load(), len(r.boards), limit)
		return nil
	}
}

// killLater kills one node KillAfter into the steering, and makes every
// board change at once: the teachers click as the node dies, and the time
// until a board shows it is its failover time. Boards whose live
// connection was on the killed node must reconnect first; boards whose
// state's stream the node led must wait for a new leader; the others
// should not notice.
func (r *run) killLater(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(r.cfg.KillAfter):
	}
	victim, err := r.pickVictim()
	if err != nil {
		return err
	}
	on := 0
	for _, b := range r.boards {
		if int(b.liveNode.Load()) == victim {
			on++
		}
	}
	r.setPhase("kill", fmt.Sprintf("kill -9 %s (%d boards connected to it, it led %d of %d board-state streams; meta leader: %d)",
		r.nodes.names[victim], on, r.killedLed.Load(), r.stateStreams.Load(), r.killedMeta.Load()))
	at := time.Now()
	for _, b := range r.boards {
		b.markKilled(at, int(b.liveNode.Load()) == victim)
	}
	if err := r.nodes.kill(victim); err != nil {
		return err
	}
	r.killed.Store(int32(victim + 1))
	for _, b := range r.boards {
		b.requestWrite()
	}
	return nil
}

// pickVictim returns the index of the node to kill: for KillLeader the
// node leading the most board-state streams, for KillFollower the one
// leading the fewest (none, while the streams' leaders are not spread).
func (r *run) pickVictim() (int, error) {
	leads, streams := r.nodes.stateLeads()
	r.stateStreams.Store(int32(streams))
	victim := -1
	switch r.cfg.Kill {
	case KillLeader, KillFollower:
		if streams == 0 {
			return 0, fmt.Errorf("no node's log named the leader of %s; kill a node by name instead", boardStateStream)
		}
		most := 0
		for i := range leads {
			if leads[i] > leads[most] {
				most = i
			}
		}
		victim = most
		if r.cfg.Kill == KillFollower {
			victim = (most + 1) % len(leads)
			for i := range leads {
				if i != most && leads[i] < leads[victim] {
					victim = i
				}
			}
		}
	default:
		victim = slices.Index(r.nodes.names, r.cfg.Kill)
		if victim < 0 {
			return 0, fmt.Errorf("no node named %q (nodes: %v)", r.cfg.Kill, r.nodes.names)
		}
	}
	r.killedLed.Store(int32(leads[victim]))
	shards := r.nodes.ledShards(victim)
	r.killedShards.Store(&shards)
	switch meta := r.nodes.metaLeaderIndex(); {
	case meta < 0:
		r.killedMeta.Store(-1)
	case meta == victim:
		r.killedMeta.Store(1)
	}
	return victim, nil
}

// drain waits until every acknowledged update reached its board, or Drain.
func (r *run) drain(ctx context.Context) {
	deadline := time.Now().Add(r.cfg.Drain)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if r.pendingCount() == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *run) pendingCount() int {
	n := 0
	for _, b := range r.boards {
		b.mu.Lock()
		n += len(b.pending)
		b.mu.Unlock()
	}
	return n
}

// readBack reads every board's state and counts the boards whose stored
// state is older than, or differs from, their last acknowledged write: an
// acknowledged write the store lost.
func (r *run) readBack(ctx context.Context) (int, error) {
	var lost atomic.Int64
	err := r.parallel(ctx, len(r.boards), func(ctx context.Context, i int) error {
		b := r.boards[i]
		var st boardState
		var err error
		for range len(r.nodes.urls) {
			origin := b.teacher.origin.Load()
			err = r.api.call(ctx, "GET", r.nodes.urls[origin]+"/api/v1/boards/"+b.id+"/state", b.teacher.token, nil, http.StatusOK, &st)
			if err == nil {
				break
			}
			b.teacher.origin.CompareAndSwap(origin, (origin+1)%int32(len(r.nodes.urls)))
		}
		if err != nil {
			return fmt.Errorf("read back board %s: %w", b.id, err)
		}
		if acked, ok := b.checkStored(&st); !ok {
			lost.Add(1)
			r.noteError("read back", fmt.Errorf("board %s: stored revision %d, last acknowledged %d", b.id, st.Revision, acked))
		}
		return nil
	})
	return int(lost.Load()), err
}

// noteError logs the first few errors of the run; the counters keep the rest.
func (r *run) noteError(what string, err error) {
	if err == nil || r.errorsShown.Add(1) > maxErrorsShown {
		return
	}
	r.cfg.Log.Warn(what+" failed", "err", err)
}

// progress prints a line every ProgressEvery until ctx ends.
func (r *run) progress(ctx context.Context) {
	t := time.NewTicker(r.cfg.ProgressEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		phase := ""
		if p := r.phase.Load(); p != nil {
			phase = *p
		}
		if r.cfg.Scenario == Activity {
			joined, acked, open := r.pupilProgress()
			fmt.Fprintf(r.cfg.Progress, "bench: [%6.1fs] %-9s teachers %d  boards %d/%d  pupils joined %d  live %d  answers acknowledged %d\n",
				time.Since(r.started).Seconds(), phase, r.teachersReady.Load(), r.boardsReady.Load(), r.cfg.Boards, joined, open, acked)
			continue
		}
		fmt.Fprintf(r.cfg.Progress, "bench: [%6.1fs] %-9s teachers %d  boards %d/%d  connected %d  sent %d  acked %d  delivered %d  write errors %d  connect errors %d\n",
			time.Since(r.started).Seconds(), phase, r.teachersReady.Load(), r.boardsReady.Load(), r.cfg.Boards,
			r.connected.Load(), r.sent.Load(), r.acked.Load(), r.delivered.Load(), r.writeErrors.Load(), r.connectErrors.Load())
	}
}

// usage is a snapshot of what each node, and this process, used so far.
type usageSnapshot struct {
	nodes   []usage // per node, when they are processes
	self    usage
	heap    int64
	running []bool
}

// settledUsage waits until the nodes' resident memory stops moving (Go
// returns freed memory to the system in the background: the setup's
// garbage would otherwise show as memory the connections freed), then
// takes a snapshot. It waits 1 s at least (presence updates after a burst
// of connections) and 15 s at most.
func (r *run) settledUsage(ctx context.Context) usageSnapshot {
	const step, still, limit = time.Second, 2 << 20, 15 * time.Second
	prev := r.usage()
	for waited := time.Duration(0); waited < limit; waited += step {
		select {
		case <-ctx.Done():
			return prev
		case <-time.After(step):
		}
		cur := r.usage()
		moved := int64(0)
		for i := range cur.nodes {
			moved += abs(cur.nodes[i].rss - prev.nodes[i].rss)
		}
		prev = cur
		if moved < still {
			break
		}
	}
	return prev
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

func (r *run) usage() usageSnapshot {
	var s usageSnapshot
	for _, c := range r.nodes.children {
		u, err := processUsage(c.cmd.Process.Pid)
		s.nodes = append(s.nodes, u)
		s.running = append(s.running, err == nil)
	}
	s.self, _ = processUsage(os.Getpid())
	for _, w := range r.workers {
		// The harness's CPU is its load workers' too.
		if u, err := processUsage(w.cmd.Process.Pid); err == nil {
			s.self.cpu += u.cpu
		}
	}
	s.heap = liveHeap()
	return s
}
