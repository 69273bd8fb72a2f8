package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/classboard/classboard/internal/testcluster"
	"github.com/classboard/classboard/node"
)

// testConfig is a small run: enough to go through every phase, quick
// enough for every `go test`. Tests check counts and keys, never timings.
func testConfig(t *testing.T) Config {
	cfg := Config{
		Boards:           5,
		BoardsPerTeacher: 2,
		Interval:         300 * time.Millisecond,
		Duration:         3 * time.Second,
		Ramp:             time.Second,
		Concurrency:      4,
		WorkDir:          t.TempDir(),
		KeepData:         true, // t.TempDir removes it
		Log:              slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if os.Getenv("CLASSBOARD_TEST_LOG") != "" {
		cfg.Progress = os.Stderr
		cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return cfg
}

func runBench(t *testing.T, cfg Config) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

// checkDelivered fails unless updates were sent and every acknowledged
// one reached its board.
func checkDelivered(t *testing.T, res *Result) {
	t.Helper()
	if res.UpdatesExpected == 0 {
		t.Fatalf("no update was acknowledged: %+v", res)
	}
	if res.UpdatesDelivered+res.UpdatesSuperseded != res.UpdatesExpected || res.LostUpdates != 0 {
		t.Errorf("expected %d updates, delivered %d, superseded %d, lost %d", res.UpdatesExpected, res.UpdatesDelivered, res.UpdatesSuperseded, res.LostUpdates)
	}
	if res.UpdatesDelivered == 0 || res.SteerMaxMs <= 0 {
		t.Errorf("no update timed: delivered %d, steer max %v ms", res.UpdatesDelivered, res.SteerMaxMs)
	}
	if res.BoardsConnected != res.Boards || res.WriteErrors != 0 {
		t.Errorf("connected %d/%d boards, %d write errors", res.BoardsConnected, res.Boards, res.WriteErrors)
	}
	if !res.OK() {
		t.Errorf("warnings: %v", res.Warnings)
	}
}

// checkKeys fails unless the JSON result has every key the issue names.
func checkKeys(t *testing.T, res *Result, keys ...string) {
	t.Helper()
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range append([]string{"scenario", "nodes", "boards", "updates_expected", "updates_delivered",
		"steer_p50_ms", "steer_p99_ms", "steer_max_ms", "connect_errors", "bytes_per_conn"}, keys...) {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON result lacks %q: %s", k, b)
		}
	}
}

func TestSteadyOverWebsocket(t *testing.T) {
	res := runBench(t, testConfig(t))
	checkDelivered(t, res)
	if res.ConnectErrors != 0 {
		t.Errorf("%d connect errors on a single node", res.ConnectErrors)
	}
	checkKeys(t, res, "node_cpu_ms_per_update", "node_cpus")
	if res.NodeCPUMsPerUpdate <= 0 || res.NodeStats[0].SteerCPUSeconds <= 0 {
		t.Errorf("no CPU per update: %v ms, steering CPU %v s", res.NodeCPUMsPerUpdate, res.NodeStats[0].SteerCPUSeconds)
	}
	if res.Scenario != Steady || res.Nodes != 1 || res.Boards != 5 || res.Teachers != 3 || res.NodeMode != modeInProcess {
		t.Errorf("result describes another run: %+v", res)
	}
	if res.BytesPerConn == nil || len(res.NodeStats) != 1 {
		t.Errorf("no memory or node figures: %+v", res)
	}
	var table strings.Builder
	if err := res.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "steer (sent -> board)") || strings.Contains(table.String(), "SHORTFALL") {
		t.Errorf("table:\n%s", table.String())
	}
}

func TestHerdOverSSE(t *testing.T) {
	cfg := testConfig(t)
	cfg.Scenario, cfg.Transport = Herd, SSE
	res := runBench(t, cfg)
	checkDelivered(t, res)
	checkKeys(t, res)
	if res.Transport != SSE || res.ConnectRate <= 0 {
		t.Errorf("transport %s, connect rate %v", res.Transport, res.ConnectRate)
	}
}

// Against running nodes (--target), which trust the harness's address as
// a proxy, the harness measures without starting anything; it cannot see
// the nodes' memory and says so.
func TestTarget(t *testing.T) {
	n := testcluster.StartNode(t, func(c *node.Config) { c.TrustedProxies = trustedProxies })
	cfg := testConfig(t)
	cfg.Targets = []string{n.URL()}
	res := runBench(t, cfg)
	checkDelivered(t, res)
	checkKeys(t, res)
	if res.NodeMode != modeTarget || res.BytesPerConn != nil || len(res.NodeStats) != 0 {
		t.Errorf("mode %s, bytes per connection %v, node stats %v", res.NodeMode, res.BytesPerConn, res.NodeStats)
	}
}

// The failover scenario kills the node leading the most board-state
// streams with kill -9: every board must receive the change its teacher
// made at that moment, and no acknowledged write may be lost.
func TestFailoverKillsTheLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a three-process cluster through an election")
	}
	cfg := testConfig(t)
	cfg.Scenario, cfg.Nodes, cfg.Boards = Failover, 3, 6
	cfg.Interval, cfg.Duration, cfg.KillAfter = time.Second, 25*time.Second, 3*time.Second
	cfg.Drain = 30 * time.Second
	res := runBench(t, cfg)
	checkDelivered(t, res)
	checkKeys(t, res, "failover_p99_ms", "lost_updates", "felt_share", "felt_boards", "kill_recovered")
	if res.NodeMode != modeProcesses || res.KilledNode == "" || res.KilledLedBoardState == nil || !*res.KilledLedBoardState {
		t.Errorf("killed %q (led: %v) in mode %s", res.KilledNode, res.KilledLedBoardState, res.NodeMode)
	}
	if res.FailoverBoards == 0 || res.FailoverRecovered != res.FailoverBoards || res.KillRecovered != res.Boards {
		t.Errorf("%d of %d boards of the killed node, %d of %d boards in all received the change made at the kill",
			res.FailoverRecovered, res.FailoverBoards, res.KillRecovered, res.Boards)
	}
	// Every board's delay counts in its shard's figures: the killed node's
	// shards or the others.
	if n := res.KilledShardBoards + res.OtherShardsBoards; n != res.KillRecovered || res.OtherShardsBoards == 0 {
		t.Errorf("by shard: %d boards of the killed node's shards, %d of the others; %d received the change",
			res.KilledShardBoards, res.OtherShardsBoards, res.KillRecovered)
	}
	if len(res.NodeStats) != 3 {
		t.Errorf("node stats: %+v", res.NodeStats)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no boards", Config{}, "boards must be at least 1"},
		{"unknown scenario", Config{Boards: 1, Scenario: "lunch"}, "unknown scenario"},
		{"unknown transport", Config{Boards: 1, Transport: "pigeon"}, "unknown transport"},
		{"failover alone", Config{Boards: 1, Scenario: Failover}, "at least 3 nodes"},
		{"failover on targets", Config{Boards: 1, Scenario: Failover, Targets: []string{"http://a", "http://b", "http://c"}}, "cannot use --target"},
		{"too many boards per teacher", Config{Boards: 1, BoardsPerTeacher: 61}, "from 1 to 60"},
		{"pinned in-process nodes", Config{Boards: 1, NodeCPUs: []int{0}}, "--processes"},
		{"no such CPU", Config{Boards: 1, Processes: true, NodeCPUs: []int{-1}}, "not a CPU number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cfg.withDefaults()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// The activity scenario: every pupil's two answers are acknowledged,
// every final answer reaches its board, and every pupil hears the lock on
// its live connection.
func TestActivityScenario(t *testing.T) {
	cfg := testConfig(t)
	cfg.Scenario = Activity
	cfg.Boards, cfg.Pupils, cfg.Burst = 3, 4, 300*time.Millisecond
	res := runBench(t, cfg)
	a := res.Activity
	if a == nil || a.PupilsJoined != 12 || a.AnswersAcked != 24 || a.AnswersLost != 0 || a.AnswerErrors != 0 || !res.OK() {
		t.Fatalf("activity result %+v, warnings %v", a, res.Warnings)
	}
	if a.ShownMaxMs == 0 || a.FramesPerSecond == 0 {
		t.Fatalf("no answer timed or no frame counted: %+v", a)
	}
	// Every pupil held a live connection and heard the lock on it.
	if len(a.PupilConns) != 1 || a.PupilConns[0] != 12 || a.LockedHeard != 12 || a.PupilBytesPerConn == nil {
		t.Fatalf("pupil connections %v, %d heard the lock, memory %v", a.PupilConns, a.LockedHeard, a.PupilBytesPerConn)
	}
}

// A node started pinned runs on the chosen CPUs only, and the harness's
// own threads keep theirs.
func TestStartPinned(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := startPinned(cmd, []int{0}); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }() //nolint:errcheck // killed on purpose
	if got := cpusAllowed(t, cmd.Process.Pid); got != "0" {
		t.Errorf("child may run on CPUs %q, want 0", got)
	}
	if runtime.NumCPU() > 1 {
		if got := cpusAllowed(t, os.Getpid()); got == "0" {
			t.Errorf("the harness was left pinned to CPU 0")
		}
	}
}

func cpusAllowed(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no Cpus_allowed_list for %d", pid)
	return ""
}
