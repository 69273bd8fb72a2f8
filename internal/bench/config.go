// Package bench is classboard's load and failover benchmark: it starts
// nodes (or uses running ones), pairs boards through the public API, opens
// one live connection per board and steers them like teachers do, timing
// every update from the teacher's write to the board's receipt. It talks
// to the nodes only through the HTTP API, as real clients do.
package bench

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"
)

// Scenarios.
const (
	Steady   = "steady"   // teachers steer their boards for the duration: a school morning
	Herd     = "herd"     // every board connects within the ramp: 8:30
	Failover = "failover" // steady, and one node is killed with kill -9 part-way through
	Activity = "activity" // every board runs an activity: its pupils answer in a burst, then change their answer
)

// Transports of the live connection.
const (
	Websocket = "websocket"
	SSE       = "sse"
)

// Which node the failover scenario kills, besides a node's name.
const (
	KillLeader   = "leader"   // the node leading the board-state stream
	KillFollower = "follower" // a node that does not lead it
)

// Config is one benchmark run.
type Config struct {
	Scenario string
	// Nodes to start (ignored with Targets).
	Nodes int
	// Targets are the base URLs of running nodes; empty starts nodes.
	Targets []string
	// Processes runs the started nodes as child processes of the
	// classboard binary, so each can be measured alone and killed.
	Processes bool
	// Binary is the classboard binary for Processes; empty builds it.
	Binary string
	// NodeCPUs pins the node processes to these CPUs (Linux affinity, as
	// taskset does), so that a small node can be measured on a big machine
	// apart from the load generator; empty leaves them unpinned.
	NodeCPUs []int

	Boards           int
	BoardsPerTeacher int
	// Interval is the mean time between two changes of one board; each
	// wait is drawn uniformly from [Interval/2, 3*Interval/2).
	Interval time.Duration
	// Duration is how long teachers steer after every board connected.
	Duration time.Duration
	// Ramp spreads the herd's connections over this time.
	Ramp      time.Duration
	Transport string
	// Kill names the node the failover scenario kills: KillLeader,
	// KillFollower or a node name (n1, n2, ...); KillAfter is when, from
	// the start of steering (default a third of Duration).
	Kill      string
	KillAfter time.Duration
	// Pupils per board in the activity scenario (default 30), who answer
	// within Burst (default 3 s) and change their answer within the next.
	Pupils int
	Burst  time.Duration
	// LoadProcesses is how many load workers (child processes of
	// LoadBinary) drive the activity's pupils, each a share of the rooms;
	// 0 (default) as many as this machine's open-file limit needs, none
	// when this process can hold every connection itself.
	LoadProcesses int
	// LoadBinary is the harness's binary, run as the load workers; empty:
	// this process's own. Its main must call Worker when IsWorker.
	LoadBinary string
	// Concurrency bounds setup requests and (outside the herd) connection
	// attempts in flight.
	Concurrency int
	// Drain is how long to wait after steering for deliveries still on
	// their way before counting an update as undelivered.
	Drain time.Duration
	// CPUProfile, when set, is a file to write a CPU profile of this
	// process to, taken while teachers steer: with in-process nodes it
	// shows where the nodes (and the harness) spend their time.
	CPUProfile string
	// HeapProfile, when set, is a file to write a heap profile of this
	// process to once every board connected: with in-process nodes it
	// shows what an idle connection holds, on both ends.
	HeapProfile string
	// KeepData keeps the started nodes' data and logs (in WorkDir).
	KeepData bool
	WorkDir  string

	// Progress receives a line every ProgressEvery; Log receives notes.
	// Both are written from several goroutines: Progress must be safe for
	// concurrent use.
	Progress      io.Writer
	ProgressEvery time.Duration
	Log           *slog.Logger

	// beforeLock, when set (tests), runs after the activity's answers and
	// before the rooms are locked: a failure to inject there.
	beforeLock func(*nodes)
}

// withDefaults fills in what was left zero and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.Scenario == "" {
		c.Scenario = Steady
	}
	if c.Nodes == 0 {
		c.Nodes = 1
	}
	if len(c.Targets) > 0 {
		c.Nodes = len(c.Targets)
	}
	if c.BoardsPerTeacher == 0 {
		c.BoardsPerTeacher = 10
	}
	if c.Interval == 0 {
		c.Interval = 20 * time.Second
	}
	if c.Duration == 0 {
		c.Duration = 60 * time.Second
	}
	if c.Ramp == 0 {
		c.Ramp = 30 * time.Second
	}
	if c.Transport == "" {
		c.Transport = Websocket
	}
	if c.Kill == "" {
		c.Kill = KillLeader
	}
	if c.KillAfter == 0 {
		c.KillAfter = c.Duration / 3
	}
	if c.Concurrency == 0 {
		c.Concurrency = 32
	}
	if c.Pupils == 0 {
		c.Pupils = 30
	}
	if c.Burst == 0 {
		c.Burst = 3 * time.Second
	}
	if c.Drain == 0 {
		c.Drain = 10 * time.Second
	}
	if c.ProgressEvery == 0 {
		c.ProgressEvery = 2 * time.Second
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Scenario == Failover && len(c.Targets) == 0 {
		// Only a process can be killed with kill -9 and measured alone.
		c.Processes = true
	}

	var errs []error
	if !slices.Contains([]string{Steady, Herd, Failover, Activity}, c.Scenario) {
		errs = append(errs, fmt.Errorf("unknown scenario %q (steady, herd, failover or activity)", c.Scenario))
	}
	if c.Pupils < 1 || c.Pupils > 60 || c.Burst <= 0 {
		errs = append(errs, errors.New("pupils must be from 1 to 60 (a room's limit) and the burst positive"))
	}
	if !slices.Contains([]string{Websocket, SSE}, c.Transport) {
		errs = append(errs, fmt.Errorf("unknown transport %q (websocket or sse)", c.Transport))
	}
	if c.Nodes < 1 {
		errs = append(errs, errors.New("nodes must be at least 1"))
	}
	if c.Boards < 1 {
		errs = append(errs, errors.New("boards must be at least 1"))
	}
	// A school behind one address may register 60 boards an hour; the
	// harness gives each teacher's boards their own address.
	if c.BoardsPerTeacher < 1 || c.BoardsPerTeacher > 60 {
		errs = append(errs, errors.New("boards per teacher must be from 1 to 60"))
	}
	if c.Interval <= 0 || c.Duration <= 0 || c.Ramp <= 0 || c.Drain <= 0 {
		errs = append(errs, errors.New("interval, duration, ramp and drain must be positive"))
	}
	if len(c.NodeCPUs) > 0 && !c.Processes {
		errs = append(errs, errors.New("node CPUs can be chosen only for nodes run as processes (--processes)"))
	}
	for _, cpu := range c.NodeCPUs {
		// The kernel refuses CPUs the machine lacks when the node starts.
		if cpu < 0 {
			errs = append(errs, fmt.Errorf("node CPU %d is not a CPU number", cpu))
		}
	}
	if c.LoadProcesses < 0 || c.LoadProcesses > c.Boards {
		errs = append(errs, errors.New("load processes must be from 0 (as many as needed) to the boards: each drives the pupils of some rooms"))
	}
	if c.LoadProcesses > 0 && c.Scenario != Activity {
		errs = append(errs, errors.New("load processes drive the activity scenario's pupils only"))
	}
	if c.Concurrency < 1 {
		errs = append(errs, errors.New("concurrency must be at least 1"))
	}
	if c.Scenario == Failover {
		switch {
		case len(c.Targets) > 0:
			errs = append(errs, errors.New("failover kills a node it started: it cannot use --target"))
		case c.Nodes < 3:
			errs = append(errs, errors.New("failover needs at least 3 nodes: a smaller cluster has no quorum without one"))
		case c.KillAfter <= 0 || c.KillAfter >= c.Duration:
			errs = append(errs, errors.New("the kill must come within the duration"))
		}
	}
	return c, errors.Join(errs...)
}
