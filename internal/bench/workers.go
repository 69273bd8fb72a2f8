package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The activity scenario's pupils can be driven by load workers: child
// processes of the harness's own binary, each holding the live
// connections of a share of the rooms (its pupils' and its boards'). A
// process may hold only so many open files (20,000 on the machine these
// figures come from, not raisable without root), and 30,000 pupils hold a
// connection each. The harness sets up the teachers, boards and
// activities itself, hands each worker its boards, then its rooms with
// the moment their burst starts, and merges the raw samples they send
// back. Parent and worker speak JSON messages over the worker's stdin and
// stdout.

// workerEnv, set in a process's environment, makes it a load worker.
const workerEnv = "CLASSBOARD_BENCH_WORKER"

// IsWorker reports whether this process was started as a load worker:
// its command must then call Worker instead of running a benchmark.
func IsWorker() bool { return os.Getenv(workerEnv) != "" }

// workerMsg is one message between the harness and a worker. The harness
// sends hello (the boards), rooms (the opened activities and the burst's
// start) and lock; the worker answers connected, answered and locked, or
// error. Closing the worker's stdin ends it.
type workerMsg struct {
	Type  string
	Job   *workerJob   // hello
	Rooms []workerRoom // rooms
	At    time.Time    // rooms: when the burst starts
	// Connected is each connected board's time to its first state, and
	// ConnectErrors, Reconnects, ReconnectErrors and Moves the boards'
	// connection counters (connected).
	Connected                                         []boardConnect
	ConnectErrors, Reconnects, ReconnectErrors, Moves int64
	Part                                              *activityPart // answered, locked
	Error                                             string
	// Joined, Acked and Open are the pupils' progress (progress), sent
	// every ProgressEvery while they answer.
	Joined, Acked, Open int64
}

// workerJob is what a worker needs to drive its share.
type workerJob struct {
	URLs        []string
	Pupils      int
	Burst       time.Duration
	Drain       time.Duration
	Concurrency int
	Transport   string
	LogLevel    slog.Level
	Boards      []workerBoard
}

// workerBoard is a board with the credentials its worker connects it and
// locks its room with.
type workerBoard struct {
	Idx           int
	ID, Secret    string
	Home          int
	TeacherToken  string
	TeacherOrigin int32
}

type workerRoom struct {
	Idx  int // the board's
	Code string
	Rev  uint64
}

type boardConnect struct {
	Idx int
	In  time.Duration
}

// loadProcesses returns how many load workers the activity scenario
// needs so that no process of the harness holds more than a fifth less
// than lim descriptors (the rest for logs, pipes and the runtime): each
// pupil and each board holds a live connection in the process driving
// it, the pupils' joins and answers share pupilConnsPerNode connections a
// node, the boards' tickets Concurrency. In-process nodes hold the other
// end of every connection in this process too; workers can take only the
// harness's end. 0 means this process drives the pupils itself.
func loadProcesses(cfg Config, lim uint64) int {
	if cfg.LoadProcesses != 0 || cfg.Scenario != Activity {
		return cfg.LoadProcesses
	}
	budget := max(1000, int(min(lim, 1<<24))*4/5-cfg.Nodes*pupilConnsPerNode-cfg.Concurrency)
	need := cfg.Boards * (cfg.Pupils + 1)
	here := need
	if !cfg.Processes && len(cfg.Targets) == 0 {
		here *= 2
	}
	if here <= budget {
		return 0
	}
	return min(cfg.Boards, (need+budget-1)/budget)
}

// worker is the harness's end of a load worker.
type worker struct {
	idx, of int // it drives the rooms of the boards whose index is idx mod of
	cmd     *exec.Cmd
	in      io.WriteCloser
	enc     *json.Encoder
	replies chan workerMsg
	done    chan struct{} // closed once its stdout and stderr ended
	rooms   []workerRoom
	// joined, acked and open are its pupils' progress as it last said.
	joined, acked, open atomic.Int64
}

// startWorkers starts n load workers, hands each its share of the boards
// and waits until they connected them. The workers stop with ctx, when
// this process dies (the kernel's parent-death signal; their stdin ends
// too) or at stopWorkers.
func (r *run) startWorkers(ctx context.Context, n int) error {
	bin := r.cfg.LoadBinary
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return fmt.Errorf("find this harness's binary for its load workers: %w", err)
		}
	}
	start := time.Now()
	r.connectStart.Store(start.UnixNano())
	for k := range n {
		w, err := r.startWorker(ctx, bin, k, n)
		if err != nil {
			return err
		}
		r.workers = append(r.workers, w)
	}
	for _, w := range r.workers {
		reply, err := w.await(ctx, "connected")
		if err != nil {
			return err
		}
		for _, c := range reply.Connected {
			if c.Idx >= 0 && c.Idx < len(r.boards) && r.boards[c.Idx].firstConnect(c.In) {
				r.boardsConnected.Add(1)
			}
		}
		r.connectErrors.Add(reply.ConnectErrors)
		r.reconnects.Add(reply.Reconnects)
		r.reconnectErrors.Add(reply.ReconnectErrors)
		r.moves.Add(reply.Moves)
	}
	r.connectFinished.Store(time.Now().UnixNano())
	return nil
}

func (r *run) startWorker(ctx context.Context, bin string, k, n int) (*worker, error) {
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(), workerEnv+"=1")
	// A worker outlives no harness: the kernel kills it when the harness's
	// thread that started it dies (Linux), and it stops at the end of its
	// stdin, which the harness's death closes too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("load worker %d: %w", k, err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("load worker %d: %w", k, err)
	}
	errOut, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("load worker %d: %w", k, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start load worker %d (%s): %w", k, bin, err)
	}
	w := &worker{idx: k, of: n, cmd: cmd, in: in, enc: json.NewEncoder(in), replies: make(chan workerMsg, 4), done: make(chan struct{})}
	var readers sync.WaitGroup
	readers.Go(func() {
		defer close(w.replies)
		dec := json.NewDecoder(out)
		for {
			var m workerMsg
			if err := dec.Decode(&m); err != nil {
				return // it exited (its stderr says why)
			}
			if m.Type == "progress" {
				w.joined.Store(m.Joined)
				w.acked.Store(m.Acked)
				w.open.Store(m.Open)
				continue
			}
			w.replies <- m
		}
	})
	readers.Go(func() {
		sc := bufio.NewScanner(errOut)
		for sc.Scan() {
			fmt.Fprintf(r.cfg.Progress, "bench: worker %d: %s\n", k, sc.Text())
		}
	})
	go func() {
		readers.Wait()
		close(w.done)
	}()
	var boards []workerBoard
	for _, b := range r.boards {
		if b.idx%n == k {
			boards = append(boards, workerBoard{Idx: b.idx, ID: b.id, Secret: b.secret, Home: b.home,
				TeacherToken: b.teacher.token, TeacherOrigin: b.teacher.origin.Load()})
		}
	}
	job := &workerJob{URLs: r.nodes.urls, Pupils: r.cfg.Pupils, Burst: r.cfg.Burst, Drain: r.cfg.Drain,
		Concurrency: r.cfg.Concurrency, Transport: r.cfg.Transport, LogLevel: logLevel(r.cfg.Log), Boards: boards}
	if err := w.send(workerMsg{Type: "hello", Job: job}); err != nil {
		w.stop()
		return nil, err
	}
	return w, nil
}

// logLevel is the lowest level log writes.
func logLevel(log *slog.Logger) slog.Level {
	for _, l := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn} {
		if log.Enabled(context.Background(), l) {
			return l
		}
	}
	return slog.LevelError
}

func (w *worker) send(m workerMsg) error {
	if err := w.enc.Encode(m); err != nil {
		return fmt.Errorf("load worker %d: send %s: %w", w.idx, m.Type, err)
	}
	return nil
}

// await returns the worker's next message, which must be of type typ.
func (w *worker) await(ctx context.Context, typ string) (workerMsg, error) {
	select {
	case <-ctx.Done():
		return workerMsg{}, ctx.Err()
	case m, ok := <-w.replies:
		switch {
		case !ok:
			return m, fmt.Errorf("load worker %d exited while the harness waited for %s", w.idx, typ)
		case m.Type == "error":
			return m, fmt.Errorf("load worker %d: %s", w.idx, m.Error)
		case m.Type != typ:
			return m, fmt.Errorf("load worker %d sent %s, want %s", w.idx, m.Type, typ)
		}
		return m, nil
	}
}

// give notes the rooms of w's boards among rooms.
func (w *worker) give(rooms []*room) {
	w.rooms = nil
	for _, rm := range rooms {
		if rm.b.idx%w.of == w.idx {
			w.rooms = append(w.rooms, workerRoom{Idx: rm.b.idx, Code: rm.code, Rev: rm.rev})
		}
	}
}

func (w *worker) answer(ctx context.Context, at time.Time) (activityPart, error) {
	return w.ask(ctx, workerMsg{Type: "rooms", Rooms: w.rooms, At: at}, "answered")
}

func (w *worker) lock(ctx context.Context) (activityPart, error) {
	return w.ask(ctx, workerMsg{Type: "lock"}, "locked")
}

// ask sends m and returns the part of the reply typ.
func (w *worker) ask(ctx context.Context, m workerMsg, typ string) (activityPart, error) {
	if err := w.send(m); err != nil {
		return activityPart{}, err
	}
	reply, err := w.await(ctx, typ)
	if err != nil {
		return activityPart{}, err
	}
	if reply.Part == nil {
		return activityPart{}, fmt.Errorf("load worker %d: %s without figures", w.idx, typ)
	}
	return *reply.Part, nil
}

// stop closes the worker's stdin, which ends it, and waits for it; one
// that does not end within a while is killed.
func (w *worker) stop() error {
	w.in.Close()
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
		w.cmd.Process.Kill() //nolint:errcheck // it may have exited meanwhile
		<-w.done
	}
	if err := w.cmd.Wait(); err != nil {
		return fmt.Errorf("load worker %d: %w", w.idx, err)
	}
	return nil
}

// stopWorkers stops every load worker.
func (r *run) stopWorkers() error {
	var errs []error
	for _, w := range r.workers {
		errs = append(errs, w.stop())
	}
	return errors.Join(errs...)
}

// lockedEncoder is a JSON encoder several goroutines write through.
type lockedEncoder struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (e *lockedEncoder) Encode(v any) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.enc.Encode(v)
}

// Worker runs a load worker: it reads the harness's messages from in and
// writes its replies to out, logging to log, until in ends or ctx does.
func Worker(ctx context.Context, in io.Reader, out io.Writer, log io.Writer) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// The harness's messages are read as they come, so that the end of
	// the pipe (the harness stopped it, or died) ends the work in hand.
	// The reader stops at that end; a worker returning early for an error
	// is a process about to exit.
	msgs := make(chan workerMsg)
	go func() {
		defer close(msgs)
		dec := json.NewDecoder(in)
		for {
			var m workerMsg
			if err := dec.Decode(&m); err != nil {
				cancel(errors.New("the harness closed the pipe"))
				return
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	enc := &lockedEncoder{enc: json.NewEncoder(out)}
	next := func(typ string) (workerMsg, error) {
		select {
		case <-ctx.Done():
			return workerMsg{}, context.Cause(ctx)
		case m, ok := <-msgs:
			switch {
			case !ok:
				return m, context.Cause(ctx)
			case m.Type != typ:
				return m, fmt.Errorf("got %s, want %s", m.Type, typ)
			}
			return m, nil
		}
	}
	err := work(ctx, next, enc, log)
	if err != nil && !errors.Is(err, context.Canceled) {
		enc.Encode(workerMsg{Type: "error", Error: err.Error()}) //nolint:errcheck // the harness may be gone
	}
	return err
}

// work is a worker's life: connect its boards, drive its rooms' pupils,
// lock the rooms, then hold the connections until the harness is done.
func work(ctx context.Context, next func(string) (workerMsg, error), enc *lockedEncoder, log io.Writer) error {
	hello, err := next("hello")
	if err != nil {
		return err
	}
	job := hello.Job
	if job == nil || len(job.URLs) == 0 {
		return errors.New("hello without a job")
	}
	cfg, err := Config{Scenario: Activity, Targets: job.URLs, Boards: max(1, len(job.Boards)), Pupils: job.Pupils,
		Burst: job.Burst, Drain: job.Drain, Concurrency: job.Concurrency, Transport: job.Transport,
		Log: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: job.LogLevel}))}.withDefaults()
	if err != nil {
		return err
	}
	r := newRun(cfg)
	defer r.api.closeIdle()
	defer r.pupilAPI.closeIdle()
	r.nodes = &nodes{mode: modeTarget, urls: job.URLs, names: job.URLs}
	byIdx := map[int]*board{}
	for _, jb := range job.Boards {
		t := &teacher{token: jb.TeacherToken}
		t.origin.Store(jb.TeacherOrigin)
		b := newBoard(jb.Idx, t, jb.Home)
		b.id, b.secret = jb.ID, jb.Secret
		r.boards = append(r.boards, b)
		byIdx[jb.Idx] = b
	}
	liveCtx, stopLive := context.WithCancel(ctx)
	var liveWG sync.WaitGroup
	defer func() { stopLive(); liveWG.Wait() }()
	if err := r.connectAll(liveCtx, &liveWG); err != nil {
		return err
	}
	conn := workerMsg{Type: "connected", ConnectErrors: r.connectErrors.Load(), Reconnects: r.reconnects.Load(),
		ReconnectErrors: r.reconnectErrors.Load(), Moves: r.moves.Load()}
	for _, b := range r.boards {
		b.mu.Lock()
		if b.connected {
			conn.Connected = append(conn.Connected, boardConnect{Idx: b.idx, In: b.connectIn})
		}
		b.mu.Unlock()
	}
	if err := enc.Encode(conn); err != nil {
		return err
	}

	m, err := next("rooms")
	if err != nil {
		return err
	}
	var rooms []*room
	for _, wr := range m.Rooms {
		b, ok := byIdx[wr.Idx]
		if !ok {
			return fmt.Errorf("room of board %d, which is not this worker's", wr.Idx)
		}
		rooms = append(rooms, newRoom(b, wr.Code, wr.Rev))
	}
	c := r.newCrowd(ctx, rooms)
	defer c.close()
	// The harness prints the pupils' progress while the worker lives.
	stopProgress := make(chan struct{})
	var progress sync.WaitGroup
	defer func() { close(stopProgress); progress.Wait() }()
	progress.Go(func() {
		t := time.NewTicker(r.cfg.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
			}
			joined, acked, open := r.pupilProgress()
			enc.Encode(workerMsg{Type: "progress", Joined: joined, Acked: acked, Open: open}) //nolint:errcheck // the answer's reply reports a broken pipe
		}
	})
	part, err := c.answer(ctx, m.At)
	if err != nil {
		return err
	}
	if err := enc.Encode(workerMsg{Type: "answered", Part: &part}); err != nil {
		return err
	}
	if _, err := next("lock"); err != nil {
		return err
	}
	if part, err = c.lock(ctx); err != nil {
		return err
	}
	if err := enc.Encode(workerMsg{Type: "locked", Part: &part}); err != nil {
		return err
	}
	// The pupils stay connected until the harness has read every worker's
	// figures and closes the pipe.
	if _, err := next("end"); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}
