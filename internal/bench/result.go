package bench

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is what a run measured. Its JSON is the --json output; times are
// milliseconds, sizes bytes.
type Result struct {
	Scenario  string  `json:"scenario"`
	Transport string  `json:"transport"`
	Nodes     int     `json:"nodes"`
	NodeMode  string  `json:"node_mode"` // in-process, processes or target
	Boards    int     `json:"boards"`
	Teachers  int     `json:"teachers"`
	IntervalS float64 `json:"interval_s"`
	DurationS float64 `json:"duration_s"`
	SteeredS  float64 `json:"steered_s"`
	Date      string  `json:"date"`

	BoardsConnected int     `json:"boards_connected"`
	ConnectErrors   int64   `json:"connect_errors"`
	ConnectS        float64 `json:"connect_s"`          // from the first attempt until every board had its first state
	ConnectRate     float64 `json:"connect_rate_per_s"` // boards connected per second over ConnectS
	ConnectP50Ms    float64 `json:"connect_p50_ms"`     // one board: ticket, handshake, first state
	ConnectP99Ms    float64 `json:"connect_p99_ms"`
	ConnectMaxMs    float64 `json:"connect_max_ms"`
	Reconnects      int64   `json:"reconnects"`
	ReconnectErrors int64   `json:"reconnect_errors"` // failed attempts of boards that had connected before
	Moves           int64   `json:"moves"`            // connections a node ended with "move" (sent elsewhere)

	UpdatesSent        int64   `json:"updates_sent"`
	UpdatesExpected    int64   `json:"updates_expected"` // acknowledged writes: each must reach its board
	UpdatesDelivered   int64   `json:"updates_delivered"`
	UpdatesSuperseded  int64   `json:"updates_superseded"`  // a newer state reached the board first (state, not commands)
	UpdatesUndelivered int64   `json:"updates_undelivered"` // neither delivered nor superseded after the drain
	UpdatesPerS        float64 `json:"updates_per_s"`
	WriteErrors        int64   `json:"write_errors"`
	WriteRetries       int64   `json:"write_retries"`

	SteerP50Ms float64 `json:"steer_p50_ms"` // teacher's write sent -> board received it
	SteerP90Ms float64 `json:"steer_p90_ms"`
	SteerP99Ms float64 `json:"steer_p99_ms"`
	SteerMaxMs float64 `json:"steer_max_ms"`
	// SteerWindows is p99 and max of steer per window of steering time,
	// by when the write was sent: a stall shows as a bad window, steady
	// slowness as every window alike.
	SteerWindows []Window `json:"steer_windows"`
	AckP50Ms     float64  `json:"ack_p50_ms"` // write answered -> board received it (negative: pushed before the answer)
	AckP90Ms     float64  `json:"ack_p90_ms"`
	AckP99Ms     float64  `json:"ack_p99_ms"`
	AckMaxMs     float64  `json:"ack_max_ms"`

	// LostUpdates are acknowledged writes that never reached their board
	// (UpdatesUndelivered) plus boards whose stored state, read back at the
	// end, is older than their last acknowledged write (ReadbackLost).
	LostUpdates  int64 `json:"lost_updates"`
	ReadbackLost int64 `json:"readback_lost"`

	// BytesPerConn is the memory one idle board connection costs: the
	// growth of the nodes' resident memory (processes) while the boards
	// connected, per board; for in-process nodes the growth of this
	// process's live heap and stacks, which also holds the harness's own
	// end of each connection. Null when the nodes are targets.
	BytesPerConn        *float64 `json:"bytes_per_conn"`
	BytesPerConnScope   string   `json:"bytes_per_conn_scope"`
	HarnessBytesPerConn float64  `json:"harness_bytes_per_conn"` // this process's live heap growth per board

	NodeStats []NodeStat `json:"node_stats"`
	// HarnessCPUSeconds is what this process used from the start of
	// connecting to the end of steering; with in-process nodes it is
	// the same figure as their NodeStat.
	HarnessCPUSeconds float64 `json:"harness_cpu_seconds"`
	// NodeCPUMsPerUpdate is the nodes' CPU time during the steering (all
	// nodes together) per delivered update, in milliseconds: what one
	// update costs the server, connection upkeep included. With in-process
	// nodes it includes the harness (NodeCPUScope says which).
	NodeCPUMsPerUpdate float64 `json:"node_cpu_ms_per_update"`
	NodeCPUScope       string  `json:"node_cpu_scope"`
	// NodeCPUs are the CPUs the node processes were pinned to (--node-cpus);
	// empty when they were not.
	NodeCPUs []int `json:"node_cpus"`
	// CPUPressurePct is the share of the steering time during which some
	// runnable task on this machine waited for a CPU (Linux PSI "some"):
	// high values mean the machine was shared or overloaded. -1: unknown.
	CPUPressurePct float64 `json:"cpu_pressure_pct"`

	FailoverBoards      int      `json:"failover_boards,omitempty"` // boards connected to the killed node
	FailoverRecovered   int      `json:"failover_recovered,omitempty"`
	FailoverP50Ms       *float64 `json:"failover_p50_ms,omitempty"` // kill -> the board received a change sent at the kill
	FailoverP99Ms       *float64 `json:"failover_p99_ms,omitempty"`
	FailoverMaxMs       *float64 `json:"failover_max_ms,omitempty"`
	KilledNode          string   `json:"killed_node,omitempty"`
	KilledLedBoardState *bool    `json:"killed_led_board_state,omitempty"` // it led a board-state stream; nil: unknown
	// KilledLedStreams of StateStreams board-state streams (as the logs
	// named their leaders) were led by the killed node.
	KilledLedStreams int `json:"killed_led_streams,omitempty"`
	StateStreams     int `json:"state_streams,omitempty"`
	// KilledMetaLeader says whether the killed node was JetStream's meta
	// leader, which creates consumers (nil: unknown).
	KilledMetaLeader *bool `json:"killed_meta_leader,omitempty"`
	// Every board changes at the kill. KillRecovered boards received that
	// change; FeltBoards (FeltShare of all) received it more than
	// feltAfter after the kill, with these delays from the kill.
	KillRecovered int      `json:"kill_recovered,omitempty"`
	FeltBoards    int      `json:"felt_boards"`
	FeltShare     float64  `json:"felt_share"`
	FeltP50Ms     *float64 `json:"felt_p50_ms,omitempty"`
	FeltP99Ms     *float64 `json:"felt_p99_ms,omitempty"`
	FeltMaxMs     *float64 `json:"felt_max_ms,omitempty"`
	// The same delays (all of them, felt or not) for the boards of the
	// shards the killed node led (their stream elects a leader: the
	// issue's "leader" target) and for the boards of the other shards
	// (their streams' leaders live: the "follower" target).
	KilledShardBoards int      `json:"killed_shard_boards,omitempty"`
	KilledShardP99Ms  *float64 `json:"killed_shard_p99_ms,omitempty"`
	KilledShardMaxMs  *float64 `json:"killed_shard_max_ms,omitempty"`
	OtherShardsBoards int      `json:"other_shards_boards,omitempty"`
	OtherShardsP50Ms  *float64 `json:"other_shards_p50_ms,omitempty"`
	OtherShardsP99Ms  *float64 `json:"other_shards_p99_ms,omitempty"`
	OtherShardsMaxMs  *float64 `json:"other_shards_max_ms,omitempty"`
	// Activity holds the activity scenario's figures.
	Activity *ActivityResult `json:"activity,omitempty"`
	Warnings []string        `json:"warnings"`
}

// Window is the steer latency of the writes sent in [StartS, StartS+width).
type Window struct {
	StartS  float64 `json:"start_s"`
	Updates int     `json:"updates"`
	P99Ms   float64 `json:"p99_ms"`
	MaxMs   float64 `json:"max_ms"`
}

// feltAfter is how late a change made at the kill may reach its board
// before the board counts as having felt the kill: beyond what a click
// takes on a healthy cluster, and what a planned restart may cost.
const feltAfter = time.Second

// windowWidth is the width of SteerWindows.
const windowWidth = 5 * time.Second

// steerWindows splits the steer latencies by when their write was sent.
func steerWindows(start time.Time, sent []time.Time, steer []time.Duration) []Window {
	var byWindow [][]time.Duration
	for i, at := range sent {
		w := max(0, int(at.Sub(start)/windowWidth))
		for len(byWindow) <= w {
			byWindow = append(byWindow, nil)
		}
		byWindow[w] = append(byWindow[w], steer[i])
	}
	out := []Window{}
	for i, ds := range byWindow {
		_, _, p99, pmax := quantiles(ds)
		out = append(out, Window{StartS: (time.Duration(i) * windowWidth).Seconds(), Updates: len(ds), P99Ms: p99, MaxMs: pmax})
	}
	return out
}

// NodeStat is what one node process used; for in-process nodes one entry
// covers the whole process, harness included.
type NodeStat struct {
	Name       string  `json:"name"`
	PID        int     `json:"pid"`
	CPUSeconds float64 `json:"cpu_seconds"` // from the start of connecting to the end of steering
	// SteerCPUSeconds is the part of CPUSeconds used while teachers steered.
	SteerCPUSeconds float64 `json:"steer_cpu_seconds"`
	RSSIdleBytes    int64   `json:"rss_idle_bytes"`
	RSSEndBytes     int64   `json:"rss_end_bytes"`
	Killed          bool    `json:"killed,omitempty"`
	// LogWarnings counts the node's log lines at WARN or ERROR (processes
	// only); they are in the node's log, kept with --keep.
	LogWarnings int `json:"log_warnings"`
}

// OK reports whether every acknowledged update reached its board, every
// board connected and nothing acknowledged was lost.
func (res *Result) OK() bool { return len(res.Warnings) == 0 }

// usages are the snapshots a run takes: before connecting, once every
// board connected (idle), at the end of the steering and after the drain.
type usages struct {
	before, idle, steered, after usageSnapshot
}

func (r *run) result(steerStart time.Time, steered time.Duration, readback int, u usages) *Result {
	res := &Result{
		Scenario: r.cfg.Scenario, Transport: r.cfg.Transport, Nodes: len(r.nodes.urls), NodeMode: r.nodes.mode,
		Boards: len(r.boards), Teachers: len(r.teachers),
		IntervalS: r.cfg.Interval.Seconds(), DurationS: r.cfg.Duration.Seconds(), SteeredS: round(steered.Seconds()),
		Date:            r.started.UTC().Format(time.RFC3339),
		BoardsConnected: int(r.boardsConnected.Load()),
		ConnectErrors:   r.connectErrors.Load(),
		Reconnects:      r.reconnects.Load(),
		ReconnectErrors: r.reconnectErrors.Load(),
		Moves:           r.moves.Load(),
		UpdatesSent:     r.sent.Load(),
		UpdatesExpected: r.acked.Load(),
		WriteErrors:     r.writeErrors.Load(),
		WriteRetries:    r.writeRetries.Load(),
		ReadbackLost:    int64(readback),
		Warnings:        []string{},
	}
	if d := time.Duration(r.connectFinished.Load() - r.connectStart.Load()); d > 0 {
		res.ConnectS = round(d.Seconds())
		res.ConnectRate = round(float64(res.BoardsConnected) / d.Seconds())
	}
	var steer, ack, connect, failover, felt, killedShard, otherShards []time.Duration
	var ledShards map[int]bool
	if m := r.killedShards.Load(); m != nil {
		ledShards = *m
	}
	var sent []time.Time
	for _, b := range r.boards {
		b.mu.Lock()
		steer = append(steer, b.steer...)
		sent = append(sent, b.sentAt...)
		ack = append(ack, b.ack...)
		if b.connected {
			connect = append(connect, b.connectIn)
		}
		res.UpdatesDelivered += int64(b.delivered)
		res.UpdatesSuperseded += int64(b.superseded)
		res.UpdatesUndelivered += int64(len(b.pending))
		if b.liveKilled {
			res.FailoverBoards++
			if b.failedOver {
				res.FailoverRecovered++
				failover = append(failover, b.failover)
			}
		}
		if b.failedOver {
			res.KillRecovered++
			if b.failover > feltAfter {
				felt = append(felt, b.failover)
			}
			if shard := int(b.shard.Load()); shard >= 0 && ledShards != nil {
				if ledShards[shard] {
					killedShard = append(killedShard, b.failover)
				} else {
					otherShards = append(otherShards, b.failover)
				}
			}
		}
		b.mu.Unlock()
	}
	res.UpdatesPerS = round(float64(res.UpdatesExpected) / steered.Seconds())
	res.SteerP50Ms, res.SteerP90Ms, res.SteerP99Ms, res.SteerMaxMs = quantiles(steer)
	res.SteerWindows = steerWindows(steerStart, sent, steer)
	res.AckP50Ms, res.AckP90Ms, res.AckP99Ms, res.AckMaxMs = quantiles(ack)
	res.ConnectP50Ms, _, res.ConnectP99Ms, res.ConnectMaxMs = quantiles(connect)
	res.LostUpdates = res.UpdatesUndelivered + res.ReadbackLost

	r.memory(res, u)

	if r.cfg.Scenario == Failover {
		if k := int(r.killed.Load()); k > 0 {
			res.KilledNode = r.nodes.names[k-1]
			res.StateStreams, res.KilledLedStreams = int(r.stateStreams.Load()), int(r.killedLed.Load())
			if res.StateStreams > 0 {
				led := res.KilledLedStreams > 0
				res.KilledLedBoardState = &led
			}
			if m := r.killedMeta.Load(); m >= 0 {
				meta := m == 1
				res.KilledMetaLeader = &meta
			}
		}
		p50, _, p99, pmax := quantiles(failover)
		res.FailoverP50Ms, res.FailoverP99Ms, res.FailoverMaxMs = &p50, &p99, &pmax
		res.FeltBoards = len(felt)
		res.FeltShare = round(float64(len(felt)) / float64(len(r.boards)))
		fp50, _, fp99, fmax := quantiles(felt)
		res.FeltP50Ms, res.FeltP99Ms, res.FeltMaxMs = &fp50, &fp99, &fmax
		if len(killedShard) > 0 {
			_, _, kp99, kmax := quantiles(killedShard)
			res.KilledShardBoards, res.KilledShardP99Ms, res.KilledShardMaxMs = len(killedShard), &kp99, &kmax
		}
		if len(otherShards) > 0 {
			op50, _, op99, omax := quantiles(otherShards)
			res.OtherShardsBoards, res.OtherShardsP50Ms, res.OtherShardsP99Ms, res.OtherShardsMaxMs = len(otherShards), &op50, &op99, &omax
		}
		if res.KilledNode != "" && res.KillRecovered < res.Boards {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%d of %d boards never received the change made at the kill",
				res.Boards-res.KillRecovered, res.Boards))
		}
	}
	if res.UpdatesUndelivered > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d acknowledged updates never reached their board", res.UpdatesUndelivered))
	}
	if res.ReadbackLost > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d boards' stored state is older than their last acknowledged write", res.ReadbackLost))
	}
	if res.BoardsConnected < res.Boards {
		res.Warnings = append(res.Warnings, fmt.Sprintf("only %d of %d boards connected", res.BoardsConnected, res.Boards))
	}
	if res.WriteErrors > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d writes failed", res.WriteErrors))
	}
	return res
}

// memory fills in the node statistics and the memory per connection.
func (r *run) memory(res *Result, u usages) {
	before, idle, after := u.before, u.idle, u.after
	boards := float64(len(r.boards))
	res.NodeCPUs = r.cfg.NodeCPUs
	steerCPU := time.Duration(0)
	perUpdate := func() float64 {
		if res.UpdatesDelivered == 0 {
			return 0
		}
		return round(float64(steerCPU) / float64(time.Millisecond) / float64(res.UpdatesDelivered))
	}
	res.HarnessBytesPerConn = round(float64(idle.heap-before.heap) / boards)
	res.HarnessCPUSeconds = round(after.self.cpu.Seconds() - before.self.cpu.Seconds())
	switch r.nodes.mode {
	case modeProcesses:
		var grown int64
		for i, c := range r.nodes.children {
			end := after.nodes[i]
			killed := !after.running[i]
			if killed {
				end = idle.nodes[i] // its last reading while it ran
			}
			res.NodeStats = append(res.NodeStats, NodeStat{
				Name: r.nodes.names[i], PID: c.cmd.Process.Pid,
				CPUSeconds:      round(end.cpu.Seconds() - before.nodes[i].cpu.Seconds()),
				SteerCPUSeconds: round(u.steered.nodes[i].cpu.Seconds() - idle.nodes[i].cpu.Seconds()),
				RSSIdleBytes:    idle.nodes[i].rss, RSSEndBytes: after.nodes[i].rss, Killed: killed,
				LogWarnings: r.nodes.warnings(i),
			})
			grown += idle.nodes[i].rss - before.nodes[i].rss
			if u.steered.running[i] {
				steerCPU += u.steered.nodes[i].cpu - idle.nodes[i].cpu
			}
		}
		res.NodeCPUMsPerUpdate = perUpdate()
		res.NodeCPUScope = "node processes during the steering, per delivered update (a killed node until its last reading)"
		v := round(float64(grown) / boards)
		res.BytesPerConn = &v
		res.BytesPerConnScope = "node processes' resident memory (VmRSS) growth while the boards connected, per board"
	case modeInProcess:
		res.NodeStats = append(res.NodeStats, NodeStat{
			Name: "harness+nodes", PID: os.Getpid(),
			CPUSeconds:      round(after.self.cpu.Seconds() - before.self.cpu.Seconds()),
			SteerCPUSeconds: round(u.steered.self.cpu.Seconds() - idle.self.cpu.Seconds()),
			RSSIdleBytes:    idle.self.rss, RSSEndBytes: after.self.rss,
		})
		steerCPU = u.steered.self.cpu - idle.self.cpu
		res.NodeCPUMsPerUpdate = perUpdate()
		res.NodeCPUScope = "in-process nodes: this whole process (nodes and harness) during the steering, per delivered update"
		v := res.HarnessBytesPerConn
		res.BytesPerConn = &v
		res.BytesPerConnScope = "in-process nodes: this process's live heap and stacks growth per board, both ends of each connection (use --processes for the node alone)"
	default:
		res.BytesPerConnScope = "unknown: the nodes are targets this harness cannot measure"
		res.NodeCPUScope = "unknown: the nodes are targets this harness cannot measure"
	}
}

// quantiles returns p50, p90, p99 and the maximum of ds in milliseconds
// (nearest rank), or zeros for none.
func quantiles(ds []time.Duration) (p50, p90, p99, pmax float64) {
	if len(ds) == 0 {
		return 0, 0, 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return ms(s[max(0, min(i, len(s)-1))])
	}
	return at(0.50), at(0.90), at(0.99), ms(s[len(s)-1])
}

func ms(d time.Duration) float64 { return round(float64(d) / float64(time.Millisecond)) }

// round keeps two decimals.
func round(f float64) float64 { return math.Round(f*100) / 100 }

// WriteTable prints the result for people.
func (res *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, v ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, v...)...) }
	row("scenario", "%s (%s), %d %s node(s), %d boards, %d teachers", res.Scenario, res.Transport, res.Nodes, res.NodeMode, res.Boards, res.Teachers)
	if res.Activity != nil {
		res.Activity.write(row)
	}
	row("connected", "%d/%d in %.2fs (%.1f/s), %d errors; later %d reconnects, %d failed attempts, %d moved by a node", res.BoardsConnected, res.Boards, res.ConnectS, res.ConnectRate, res.ConnectErrors, res.Reconnects, res.ReconnectErrors, res.Moves)
	row("connect latency", "p50 %.2f ms  p99 %.2f ms  max %.2f ms", res.ConnectP50Ms, res.ConnectP99Ms, res.ConnectMaxMs)
	// The activity scenario steers no board: its rows stand above.
	if res.Activity == nil {
		row("load", "one change per board every ~%gs for %gs (steered %gs): %.1f updates/s", res.IntervalS, res.DurationS, res.SteeredS, res.UpdatesPerS)
		row("updates", "sent %d, acknowledged (expected) %d, delivered %d, superseded %d, undelivered %d", res.UpdatesSent, res.UpdatesExpected, res.UpdatesDelivered, res.UpdatesSuperseded, res.UpdatesUndelivered)
		row("write errors", "%d (retries %d)", res.WriteErrors, res.WriteRetries)
		row("steer (sent -> board)", "p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms", res.SteerP50Ms, res.SteerP90Ms, res.SteerP99Ms, res.SteerMaxMs)
		var windows []string
		for _, w := range res.SteerWindows {
			windows = append(windows, fmt.Sprintf("%gs: %.0f", w.StartS, w.P99Ms))
		}
		row("steer p99 per 5 s (ms)", "%s", strings.Join(windows, "  "))
		row("ack (answered -> board)", "p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms", res.AckP50Ms, res.AckP90Ms, res.AckP99Ms, res.AckMaxMs)
		row("lost updates", "%d (read back: %d)", res.LostUpdates, res.ReadbackLost)
		row("node CPU per update", "%.3f ms: %s", res.NodeCPUMsPerUpdate, res.NodeCPUScope)
	}
	if res.BytesPerConn != nil {
		row("memory per connection", "%.0f bytes (%.1f KiB): %s", *res.BytesPerConn, *res.BytesPerConn/1024, res.BytesPerConnScope)
	} else {
		row("memory per connection", "%s", res.BytesPerConnScope)
	}
	row("harness", "CPU %.2f s, %.0f bytes of live heap per connection", res.HarnessCPUSeconds, res.HarnessBytesPerConn)
	for _, n := range res.NodeStats {
		killed := ""
		if n.Killed {
			killed = " (killed; CPU until its last reading)"
		}
		row("node "+n.Name, "pid %d, CPU %.2f s (steering %.2f s), RSS idle %.1f MiB, at end %.1f MiB, %d log warnings%s", n.PID, n.CPUSeconds, n.SteerCPUSeconds, float64(n.RSSIdleBytes)/(1<<20), float64(n.RSSEndBytes)/(1<<20), n.LogWarnings, killed)
	}
	pinned := "not pinned"
	if len(res.NodeCPUs) > 0 {
		pinned = fmt.Sprintf("pinned to CPUs %v", res.NodeCPUs)
	}
	row("machine", "%d CPUs; nodes %s; some task waited for a CPU %.0f%% of the steering time (PSI)", runtime.NumCPU(), pinned, res.CPUPressurePct)
	if res.Scenario == Failover {
		led := "unknown"
		if res.KilledLedBoardState != nil {
			led = fmt.Sprint(res.KilledLedStreams)
		}
		meta := "unknown"
		if res.KilledMetaLeader != nil {
			meta = fmt.Sprint(*res.KilledMetaLeader)
		}
		row("killed", "%s (led %s of %d board-state streams; meta leader: %s), %d boards were connected to it, %d received the change sent at the kill",
			res.KilledNode, led, res.StateStreams, meta, res.FailoverBoards, res.FailoverRecovered)
		row("failover (kill -> board)", "boards connected to it: p50 %.2f ms  p99 %.2f ms  max %.2f ms", deref(res.FailoverP50Ms), deref(res.FailoverP99Ms), deref(res.FailoverMaxMs))
		if res.KilledShardBoards+res.OtherShardsBoards > 0 {
			row("by shard", "the killed node's shards: %d boards, p99 %.2f ms, max %.2f ms; the other shards: %d boards, p50 %.2f ms, p99 %.2f ms, max %.2f ms",
				res.KilledShardBoards, deref(res.KilledShardP99Ms), deref(res.KilledShardMaxMs),
				res.OtherShardsBoards, deref(res.OtherShardsP50Ms), deref(res.OtherShardsP99Ms), deref(res.OtherShardsMaxMs))
		}
		row("felt the kill", "%d of %d boards (%.0f%%) got the change made at the kill later than %v: p50 %.2f ms  p99 %.2f ms  max %.2f ms; %d received it",
			res.FeltBoards, res.Boards, 100*res.FeltShare, feltAfter, deref(res.FeltP50Ms), deref(res.FeltP99Ms), deref(res.FeltMaxMs), res.KillRecovered)
	}
	if len(res.Warnings) > 0 {
		row("SHORTFALL", "%s", strings.Join(res.Warnings, "; "))
	}
	return tw.Flush()
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}
