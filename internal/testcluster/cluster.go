package testcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/token"
)

// Cluster is N classboard nodes forming one cluster, in this process or as
// child processes, every connection through a proxy the test controls. It
// is modelled on nats-server's createJetStreamClusterExplicit.
type Cluster struct {
	t      testing.TB
	Nodes  []*Member
	net    *network
	secret string // path of the shared secret file
	bin    string // the classboard binary, for process nodes
	opts   clusterConfig
}

type clusterConfig struct {
	processes bool
	nodeOpts  []Option // in-process nodes only
}

// ClusterOption changes how StartCluster starts the nodes.
type ClusterOption func(*clusterConfig)

// Processes runs every node as a child process of the classboard binary
// (built once per cluster), so that Kill is a real kill -9.
func Processes() ClusterOption { return func(c *clusterConfig) { c.processes = true } }

// NodeOptions changes the configuration of every in-process node (mail,
// limits).
func NodeOptions(opts ...Option) ClusterOption {
	return func(c *clusterConfig) { c.nodeOpts = append(c.nodeOpts, opts...) }
}

// StartCluster starts n nodes, waits until every one is ready (it has a
// meta leader and its probe write succeeds) and stops them when the test
// ends. Node i's API origin is Nodes[i].URL(); the apps' UI origin is
// node 0's.
func StartCluster(t testing.TB, n int, opts ...ClusterOption) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	for _, o := range opts {
		o(&c.opts)
	}
	if c.opts.processes {
		c.bin = Binary(t)
	}
	dir := t.TempDir()
	c.secret = filepath.Join(dir, "cluster-secret")
	if err := os.WriteFile(c.secret, []byte(token.New()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	httpAddrs := make([]string, n)
	clusterAddrs := make([]string, n)
	for i := range n {
		httpAddrs[i], clusterAddrs[i] = FreeAddr(t), FreeAddr(t)
	}
	c.net = newNetwork(t, httpAddrs, clusterAddrs)
	for i := range n {
		m := &Member{
			Index:       i,
			Name:        fmt.Sprintf("n%d", i+1),
			c:           c,
			dir:         filepath.Join(dir, fmt.Sprintf("n%d", i+1)),
			httpAddr:    httpAddrs[i],
			clusterAddr: clusterAddrs[i],
			peers:       c.net.peers(i, clusterAddrs[i]),
		}
		c.Nodes = append(c.Nodes, m)
	}
	// Stop every node before the proxies (registered earlier) stop.
	t.Cleanup(c.stopAll)
	for _, m := range c.Nodes {
		if err := m.Start(); err != nil {
			t.Fatal(err)
		}
	}
	c.WaitReady(c.Nodes...)
	return c
}

func (c *Cluster) secretValue() string {
	b, err := os.ReadFile(c.secret)
	if err != nil {
		c.t.Fatalf("read cluster secret: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// Origins are the API origins clients use, one per node.
func (c *Cluster) Origins() []string {
	out := make([]string, len(c.Nodes))
	for i := range c.Nodes {
		out[i] = c.net.clientURL(i)
	}
	return out
}

// ClusterAddrs are the nodes' real cluster (route) addresses, without the
// proxies: what a stranger on the network could dial.
func (c *Cluster) ClusterAddrs() []string {
	out := make([]string, len(c.Nodes))
	for i, m := range c.Nodes {
		out[i] = m.clusterAddr
	}
	return out
}

// UIURL is the origin the apps are served from (node 0's).
func (c *Cluster) UIURL() string { return c.net.clientURL(0) }

// ElectionBudget is how long a test waits for the cluster to elect leaders
// again after a fault: nats-server's Raft timers cannot be shortened by an
// embedding program, and an election took 4-9 s here.
const ElectionBudget = 30 * time.Second

// WaitReady waits until each of nodes answers 200 on /readyz.
func (c *Cluster) WaitReady(nodes ...*Member) {
	c.t.Helper()
	poll.CheckFor(c.t, 2*ElectionBudget, 100*time.Millisecond, func() error {
		for _, m := range nodes {
			if status, reason := m.Readyz(); status != http.StatusOK {
				return fmt.Errorf("%s not ready: %d %s", m.Name, status, reason)
			}
		}
		return nil
	})
}

func (c *Cluster) stopAll() {
	var wg sync.WaitGroup
	for _, m := range c.Nodes {
		wg.Go(func() { m.stop(false) })
	}
	wg.Wait()
	if c.t.Failed() {
		for _, m := range c.Nodes {
			m.dumpLog()
		}
	}
}

// Member is one node of a Cluster.
type Member struct {
	Index int
	Name  string

	c           *Cluster
	dir         string
	httpAddr    string
	clusterAddr string
	peers       []string

	mu      sync.Mutex
	running runner
	bin     string // a process node's binary when not the cluster's
}

// SetBinary makes the node's next Start run bin (process nodes only): a
// rolling upgrade replaces the binary of one stopped node at a time.
func (m *Member) SetBinary(bin string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bin = bin
}

// runner is a started node: in this process or a child process.
type runner interface {
	// kill stops the node abruptly: no leadership hand-over, no flush.
	kill()
	// stop shuts it down cleanly; planned, it first hands its stream
	// leadership over, as on SIGTERM (a process always does).
	stop(planned bool)
}

// URL is the node's API origin as clients see it (through its proxy).
func (m *Member) URL() string { return m.c.net.clientURL(m.Index) }

// DirectURL reaches the node's HTTP port without the proxy: the view of
// someone on the node's own machine.
func (m *Member) DirectURL() string { return "http://" + m.httpAddr }

// Start starts (or restarts, on the same ports and data) the node. It
// does not wait until the node is ready.
func (m *Member) Start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running != nil {
		return fmt.Errorf("%s is already running", m.Name)
	}
	var (
		r   runner
		err error
	)
	if m.c.opts.processes {
		r, err = m.startProcess()
	} else {
		r, err = m.startInProcess()
	}
	if err != nil {
		return fmt.Errorf("start %s: %w", m.Name, err)
	}
	m.running = r
	return nil
}

// Kill stops the node abruptly: kill -9 of a process; for a node in this
// process, its connections are cut before it closes, so that the others see
// a dead machine, not a clean shutdown (which hands leadership over at once
// and would make the test look better than the truth).
func (m *Member) Kill() {
	m.c.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running == nil {
		return
	}
	m.running.kill()
	m.running = nil
}

// Stop shuts the node down as on SIGTERM: it hands its stream leadership
// over, moves its live clients, then stops.
func (m *Member) Stop() {
	m.stop(true)
}

func (m *Member) stop(planned bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running == nil {
		return
	}
	m.running.stop(planned)
	m.running = nil
}

// Restart kills the node and starts it again on the same data.
func (m *Member) Restart() {
	m.c.t.Helper()
	m.Kill()
	if err := m.Start(); err != nil {
		m.c.t.Fatal(err)
	}
}

// Readyz asks the node itself (not through its proxy) whether it is ready.
func (m *Member) Readyz() (int, string) {
	cl := &http.Client{Timeout: 2 * time.Second}
	res, err := cl.Get(m.DirectURL() + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	var body struct {
		Reason string `json:"reason"`
	}
	json.NewDecoder(res.Body).Decode(&body) //nolint:errcheck // the status says enough
	return res.StatusCode, body.Reason
}

// Partition cuts the node's routes to every other node (connections are
// reset at their next byte). Clients still reach it: it must tell them it
// cannot serve.
func (m *Member) Partition() {
	m.c.t.Helper()
	if err := m.c.net.setRoutes(m.Index, false); err != nil {
		m.c.t.Fatal(err)
	}
}

// Heal undoes Partition.
func (m *Member) Heal() {
	m.c.t.Helper()
	if err := m.c.net.setRoutes(m.Index, true); err != nil {
		m.c.t.Fatal(err)
	}
}

// CutOff silences the node: every byte to and from it, on routes and from
// clients, is dropped and no connection is closed, as when a machine dies
// or its cable is pulled. New connections are accepted and then hear
// nothing.
func (m *Member) CutOff() {
	m.c.t.Helper()
	proxies := append(m.c.net.links(m.Index), m.c.net.client[m.Index])
	if err := addToxic(proxies, "cutoff", "timeout", `{"timeout": 0}`); err != nil {
		m.c.t.Fatal(err)
	}
}

// Reconnect undoes CutOff.
func (m *Member) Reconnect() {
	removeToxic(append(m.c.net.links(m.Index), m.c.net.client[m.Index]), "cutoff")
}

// AddLatency delays everything between clients and the node by d each
// way (its routes are not slowed).
func (m *Member) AddLatency(d time.Duration) {
	m.c.t.Helper()
	err := addToxic(m.c.net.client[m.Index:m.Index+1], "latency", "latency", fmt.Sprintf(`{"latency": %d}`, d.Milliseconds()))
	if err != nil {
		m.c.t.Fatal(err)
	}
}

// RemoveLatency undoes AddLatency.
func (m *Member) RemoveLatency() {
	removeToxic(m.c.net.client[m.Index:m.Index+1], "latency")
}

// cutNetwork resets every connection to and from the node and every new
// one; restoreNetwork lets traffic through again.
func (m *Member) cutNetwork() {
	m.c.net.setRoutes(m.Index, false) //nolint:errcheck // stopping cannot fail
	m.c.net.setClient(m.Index, false) //nolint:errcheck
}

func (m *Member) restoreNetwork() {
	if err := m.c.net.setRoutes(m.Index, true); err != nil {
		m.c.t.Error(err)
	}
	if err := m.c.net.setClient(m.Index, true); err != nil {
		m.c.t.Error(err)
	}
}

// stopContext bounds a clean stop in cleanup.
func stopContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 15*time.Second)
}

// DataDir is the node's data directory.
func (m *Member) DataDir() string {
	if m.c.opts.processes {
		return filepath.Join(m.dir, "data")
	}
	return m.dir
}
