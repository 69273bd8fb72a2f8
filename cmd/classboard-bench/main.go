// Command classboard-bench measures classboard under a school's load: how
// fast a teacher's change reaches the board, how many boards a node
// carries, and how long a node's death is felt. It starts its own nodes
// (in this process, or as child processes with --processes) or uses
// running ones (--target), pairs boards through the API, opens one live
// connection per board and runs a scenario: steady, herd, failover or
// activity (pupils answering on every board).
//
// The activity scenario may drive its pupils from load workers: this
// binary started again as child processes (--load-processes), each
// holding a share of the rooms' connections, as one process may hold only
// so many open files.
//
// Progress goes to stderr; the result to stdout, as a table or, with
// --json, as one JSON object. The exit status is 1 when an acknowledged
// update did not reach its board, a board never connected or a write
// failed; 2 when the run could not be made.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/classboard/classboard/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if bench.IsWorker() {
		// The harness started this process to drive some of its pupils.
		if err := bench.Worker(ctx, os.Stdin, os.Stdout, os.Stderr); err != nil && ctx.Err() == nil {
			fmt.Fprintln(os.Stderr, "classboard-bench worker:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command without its process: it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, out, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "classboard-bench:", err)
		return 2
	}
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "classboard-bench:", err)
		return 2
	}
	if out.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(res)
	} else {
		err = res.WriteTable(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "classboard-bench: write result:", err)
		return 2
	}
	if !res.OK() {
		fmt.Fprintln(stderr, "classboard-bench: SHORTFALL:", strings.Join(res.Warnings, "; "))
		return 1
	}
	return 0
}

// output says how the command reports, besides the run's configuration.
type output struct {
	json bool
}

func parseFlags(args []string, stderr io.Writer) (bench.Config, output, error) {
	var cfg bench.Config
	var targets, logLevel string
	var out output
	fs := flag.NewFlagSet("classboard-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: classboard-bench [flags]\n\nScenarios: steady (default), herd, failover (runs nodes as processes and kills one with kill -9), activity (--boards rooms x --pupils).\n\nFlags:")
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.Scenario, "scenario", bench.Steady, "steady, herd, failover or activity")
	fs.IntVar(&cfg.Pupils, "pupils", 30, "activity: pupils per board (room), 1-60")
	fs.IntVar(&cfg.LoadProcesses, "load-processes", 0, "activity: drive the pupils from this many worker processes of this binary, each holding a share of the rooms' connections (default 0: as many as the open-file limit needs)")
	fs.DurationVar(&cfg.Burst, "burst", 0, "activity: every pupil answers within this time, then changes the answer within it again (default 3s)")
	fs.IntVar(&cfg.Nodes, "nodes", 1, "nodes to start (1, or 3 and more for a cluster)")
	fs.StringVar(&targets, "target", "", "base URLs of running nodes, comma-separated, instead of starting nodes (they need --trusted-proxies covering this machine)")
	fs.BoolVar(&cfg.Processes, "processes", false, "run the nodes as child processes (measured alone for CPU and memory); failover always does")
	fs.StringVar(&cfg.Binary, "binary", "", "classboard binary for --processes (default: go build it from the source tree)")
	fs.Func("node-cpus", "pin the node processes to these CPUs, comma-separated (e.g. 0,1; needs --processes); run the harness apart with taskset", func(v string) error {
		for f := range strings.SplitSeq(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return fmt.Errorf("%q is not a CPU number", f)
			}
			cfg.NodeCPUs = append(cfg.NodeCPUs, n)
		}
		return nil
	})
	fs.IntVar(&cfg.Boards, "boards", 100, "boards to pair and connect")
	fs.IntVar(&cfg.BoardsPerTeacher, "boards-per-teacher", 10, "boards each teacher steers (1-60: one school address each)")
	fs.DurationVar(&cfg.Interval, "interval", 0, "mean time between two changes of a board, jittered ±50% (default 20s)")
	fs.DurationVar(&cfg.Duration, "duration", 0, "how long teachers steer once every board connected (default 60s)")
	fs.DurationVar(&cfg.Ramp, "ramp", 0, "herd: connect every board within this time (default 30s)")
	fs.StringVar(&cfg.Transport, "transport", bench.Websocket, "live transport: websocket or sse")
	fs.StringVar(&cfg.Kill, "kill", bench.KillLeader, "failover: the node to kill: leader (of the board-state stream), follower, or a node name (n1, n2, ...)")
	fs.DurationVar(&cfg.KillAfter, "kill-after", 0, "failover: kill this long into the steering (default a third of --duration)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 32, "setup requests and connection attempts in flight (the herd ignores it when connecting)")
	fs.DurationVar(&cfg.Drain, "drain", 0, "after steering, wait this long at most for updates on their way (default 10s)")
	fs.BoolVar(&cfg.KeepData, "keep", false, "keep the started nodes' data and logs; their directory is printed")
	fs.StringVar(&cfg.WorkDir, "work-dir", "", "directory for the started nodes' data and logs (default: a new temporary one)")
	fs.BoolVar(&out.json, "json", false, "print the result as one JSON object")
	fs.StringVar(&cfg.HeapProfile, "memprofile", "", "write a heap profile of this process (harness and in-process nodes) to this file once every board connected")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of this process during the steering or the activity (harness and in-process nodes) to this file")
	fs.StringVar(&logLevel, "log-level", "warn", "harness and in-process nodes' log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return cfg, out, err
	}
	if fs.NArg() > 0 {
		return cfg, out, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, t := range strings.Split(targets, ",") {
		if t = strings.TrimSpace(t); t != "" {
			cfg.Targets = append(cfg.Targets, t)
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return cfg, out, fmt.Errorf("--log-level: %w", err)
	}
	// Progress lines and log lines come from several goroutines; one lock
	// keeps them whole (and the writer need not be safe itself).
	errw := &lockedWriter{w: stderr}
	cfg.Log = slog.New(slog.NewTextHandler(errw, &slog.HandlerOptions{Level: level}))
	cfg.Progress = errw
	return cfg, out, nil
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
