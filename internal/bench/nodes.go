package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/classboard/classboard/internal/password"
	"github.com/classboard/classboard/node"
)

// How the nodes under test run.
const (
	modeInProcess = "in-process"
	modeProcesses = "processes"
	modeTarget    = "target"
)

// cheapHash makes the setup's sign-ups and logins fast on in-process
// nodes: the benchmark measures steering, not argon2. Nodes run as
// processes hash with the production parameters.
var cheapHash = password.Params{MemoryKiB: 64, Time: 1, Threads: 1}

// boardStateStream is the stream behind the board_state KV bucket, and
// the prefix of the streams of its shards (KV_board_state_1, ...): the
// leader of a board's stream takes every write of the board's state.
const boardStateStream = "KV_board_state"

// nodes are the nodes under test: started here (in this process or as
// child processes) or given as targets.
type nodes struct {
	mode  string
	urls  []string
	names []string
	dir   string // work directory of started nodes; "" for targets
	keep  bool

	inProcess []*node.Node
	children  []*child

	mu           sync.Mutex
	stateLeaders map[string]string // board-state stream -> its leader's name, from the logs
	metaLeader   string            // the JetStream meta leader's name, from the logs; "" unknown
	logWarnings  map[string]int    // node name -> log lines at WARN or ERROR
}

// startNodes starts or finds the nodes of cfg and waits until every one
// answers /readyz.
func startNodes(ctx context.Context, cfg Config) (*nodes, error) {
	if len(cfg.Targets) > 0 {
		ns := &nodes{mode: modeTarget}
		for i, t := range cfg.Targets {
			ns.urls = append(ns.urls, strings.TrimRight(t, "/"))
			ns.names = append(ns.names, fmt.Sprintf("target%d", i+1))
		}
		return ns, ns.waitReady(ctx, 30*time.Second)
	}
	dir := cfg.WorkDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "classboard-bench-"); err != nil {
			return nil, fmt.Errorf("make work directory: %w", err)
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("make work directory: %w", err)
	}
	ns := &nodes{mode: modeInProcess, dir: dir, keep: cfg.KeepData}
	if cfg.Processes {
		ns.mode = modeProcesses
	}
	httpAddrs, clusterAddrs := make([]string, cfg.Nodes), make([]string, cfg.Nodes)
	for i := range cfg.Nodes {
		var err error
		if httpAddrs[i], err = freeAddr(); err != nil {
			return nil, err
		}
		if clusterAddrs[i], err = freeAddr(); err != nil {
			return nil, err
		}
		ns.urls = append(ns.urls, "http://"+httpAddrs[i])
		ns.names = append(ns.names, fmt.Sprintf("n%d", i+1))
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	secretValue := base64.RawURLEncoding.EncodeToString(secret)

	var err error
	if ns.mode == modeProcesses {
		err = ns.startChildren(ctx, cfg, httpAddrs, clusterAddrs, secretValue)
	} else {
		err = ns.startInProcess(cfg, httpAddrs, clusterAddrs, secretValue)
	}
	if err == nil {
		// A cluster elects its leaders first: up to a minute on 2 busy cores.
		err = ns.waitReady(ctx, 2*time.Minute)
	}
	if err != nil {
		ns.close(context.Background())
		return nil, err
	}
	return ns, nil
}

// trustedProxies lets the harness, on loopback, give each school its own
// client address (X-Forwarded-For): a node limits board registrations per
// address, and thousands of boards behind one address are not a school.
var trustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

func (ns *nodes) startInProcess(cfg Config, httpAddrs, clusterAddrs []string, secret string) error {
	// Nodes log warnings and errors only, to the harness's log.
	log := cfg.Log
	for i, name := range ns.names {
		nc := node.Config{Addr: httpAddrs[i], Version: "bench", PublicURLs: ns.urls, TrustedProxies: trustedProxies}
		nc.Store.NodeName = name
		nc.Store.DataDir = filepath.Join(ns.dir, name)
		nc.Store.MaxStore = 4 << 30
		nc.Store.MaxMemory = 256 << 20
		nc.Store.PasswordParams = cheapHash
		// Thousands of teachers sign up within seconds: far more than the
		// sign-ups a deployment lets everyone together make in an hour.
		nc.Store.SignUps.Global = 1 << 20
		if len(ns.names) > 1 {
			nc.Store.ClusterAddr = clusterAddrs[i]
			nc.Store.Peers = clusterAddrs
			nc.Store.ClusterSecret = secret
		}
		n, err := node.Open(nc, log.With("node", name))
		if err != nil {
			return fmt.Errorf("start node %s: %w", name, err)
		}
		ns.inProcess = append(ns.inProcess, n)
	}
	return nil
}

// child is a node running as a child process.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once the process exited and its log is read
}

func (ns *nodes) startChildren(ctx context.Context, cfg Config, httpAddrs, clusterAddrs []string, secret string) error {
	bin := cfg.Binary
	if bin == "" {
		var err error
		if bin, err = buildBinary(ctx, ns.dir); err != nil {
			return err
		}
	}
	secretFile := filepath.Join(ns.dir, "cluster-secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("write cluster secret: %w", err)
	}
	// The failover scenario needs to know which node leads each board-state
	// stream; nats-server says so at debug level only. Debug also logs
	// every request, which costs the nodes some CPU: other scenarios log
	// warnings only.
	level := "warn"
	if cfg.Scenario == Failover {
		level = "debug"
	}
	for i, name := range ns.names {
		args := []string{"serve",
			"--addr", httpAddrs[i],
			"--data", filepath.Join(ns.dir, name),
			"--node-name", name,
			"--public-urls", strings.Join(ns.urls, ","),
			"--trusted-proxies", trustedProxies[0].String(),
			"--log-level", level,
		}
		if len(ns.names) > 1 {
			args = append(args,
				"--cluster-addr", clusterAddrs[i],
				"--peers", strings.Join(clusterAddrs, ","),
				"--cluster-secret-file", secretFile)
		}
		c, err := ns.startChild(bin, name, args, cfg.NodeCPUs, cfg.Log)
		if err != nil {
			return err
		}
		ns.children = append(ns.children, c)
	}
	return nil
}

// buildBinary builds the classboard command into dir. It works from
// within the module's source tree; elsewhere pass --binary.
func buildBinary(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "classboard")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/classboard/classboard/cmd/classboard")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build classboard (run from its source tree, or pass --binary): %w\n%s", err, out)
	}
	return bin, nil
}

// startChild starts one node process; its output goes to a log file in
// the work directory and is read for leadership changes.
func (ns *nodes) startChild(bin, name string, args []string, cpus []int, log *slog.Logger) (*child, error) {
	logPath := filepath.Join(ns.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create log of %s: %w", name, err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("pipe for %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = w, w
	if err := startPinned(cmd, cpus); err != nil {
		f.Close()
		r.Close()
		w.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	w.Close() // the child holds the write end; EOF comes when it exits
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		ns.readLog(name, r, f, log)
		r.Close()
		f.Close()
		cmd.Wait() //nolint:errcheck // killed on purpose, or its log says why
	}()
	return c, nil
}

// readLog copies a child's output to its log file, counts its warnings
// and errors (passing them on to the harness's debug log), and notes
// which node leads the board-state stream.
func (ns *nodes) readLog(name string, r io.Reader, f io.Writer, log *slog.Logger) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(f, line)
		switch {
		case strings.Contains(line, "new metadata leader: "):
			_, rest, _ := strings.Cut(line, "new metadata leader: ")
			leader, _, _ := strings.Cut(rest, "/")
			ns.mu.Lock()
			ns.metaLeader = leader
			ns.mu.Unlock()
		case strings.Contains(line, "new stream leader for") && strings.Contains(line, boardStateStream):
			ns.mu.Lock()
			if ns.stateLeaders == nil {
				ns.stateLeaders = map[string]string{}
			}
			ns.stateLeaders[ledStream(line)] = name
			ns.mu.Unlock()
		case strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR"):
			ns.mu.Lock()
			if ns.logWarnings == nil {
				ns.logWarnings = map[string]int{}
			}
			ns.logWarnings[name]++
			ns.mu.Unlock()
			log.Debug(line, "node", name)
		}
	}
	io.Copy(f, r) //nolint:errcheck // an over-long line: keep the rest in the log
}

// ledStream returns the stream of nats-server's "new stream leader for
// '$G > NAME'" line.
func ledStream(line string) string {
	_, rest, _ := strings.Cut(line, "new stream leader for '")
	if _, name, ok := strings.Cut(rest, " > "); ok {
		rest = name
	}
	name, _, _ := strings.Cut(rest, "'")
	return name
}

// metaLeaderIndex returns the index of the JetStream meta leader as the
// logs said last (it creates consumers, so watches that must start again
// wait for it), or -1.
func (ns *nodes) metaLeaderIndex() int {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return slices.Index(ns.names, ns.metaLeader)
}

// stateLeads returns how many board-state streams each node leads, as the
// logs said last, and how many such streams the logs named.
func (ns *nodes) stateLeads() (leads []int, streams int) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	leads = make([]int, len(ns.names))
	for _, leader := range ns.stateLeaders {
		if i := slices.Index(ns.names, leader); i >= 0 {
			leads[i]++
		}
	}
	return leads, len(ns.stateLeaders)
}

// ledShards returns the board-state shards node i leads, as the logs said
// last: 0 for the stream KV_board_state, n for KV_board_state_n.
func (ns *nodes) ledShards(i int) map[int]bool {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	out := map[int]bool{}
	for stream, leader := range ns.stateLeaders {
		if leader != ns.names[i] {
			continue
		}
		shard := 0
		if rest, ok := strings.CutPrefix(stream, boardStateStream+"_"); ok {
			n, err := strconv.Atoi(rest)
			if err != nil {
				continue
			}
			shard = n
		}
		out[shard] = true
	}
	return out
}

// warnings returns how many warnings and errors node i logged so far.
func (ns *nodes) warnings(i int) int {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return ns.logWarnings[ns.names[i]]
}

// kill is kill -9 of the child process node i, by its PID.
func (ns *nodes) kill(i int) error {
	if ns.mode != modeProcesses {
		return errors.New("only a node run as a process can be killed")
	}
	c := ns.children[i]
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill -9 %s (pid %d): %w", c.name, c.cmd.Process.Pid, err)
	}
	<-c.done
	return nil
}

// waitReady polls every node's /readyz until all answer 200.
func (ns *nodes) waitReady(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cl := &http.Client{Timeout: 2 * time.Second}
	for i, u := range ns.urls {
		for {
			res, err := cl.Get(u + "/readyz")
			if err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					break
				}
				err = fmt.Errorf("status %d", res.StatusCode)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("node %s (%s) not ready after %v: %w", ns.names[i], u, limit, err)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

// close stops every started node: in-process ones cleanly, children
// with SIGTERM (then kill -9 after a grace period).
func (ns *nodes) close(ctx context.Context) error {
	var errs []error
	for _, n := range ns.inProcess {
		if err := n.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, c := range ns.children {
		select {
		case <-c.done:
			continue
		default:
		}
		c.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may have exited
		select {
		case <-c.done:
		case <-time.After(20 * time.Second):
			c.cmd.Process.Signal(syscall.SIGKILL) //nolint:errcheck // as above
			<-c.done
		}
	}
	if ns.dir != "" && !ns.keep {
		if err := os.RemoveAll(ns.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// freeAddr returns a loopback address nothing listens on now: nodes must
// know every node's address before they start.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
