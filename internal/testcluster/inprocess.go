package testcluster

import (
	"github.com/classboard/classboard/node"
)

// inProcess is a node running in the test's own process.
type inProcess struct {
	m *Member
	n *node.Node
}

func (m *Member) nodeConfig() node.Config {
	cfg := NodeConfig(m.dir)
	cfg.Addr = m.httpAddr
	cfg.PublicURLs = m.c.Origins()
	cfg.UIURL = m.c.UIURL()
	cfg.Store.NodeName = m.Name
	cfg.Store.ClusterAddr = m.clusterAddr
	cfg.Store.Peers = m.peers
	cfg.Store.ClusterAdvertise = deadAddr
	cfg.Store.ClusterSecret = m.c.secretValue()
	for _, o := range m.c.opts.nodeOpts {
		o(&cfg)
	}
	return cfg
}

func (m *Member) startInProcess() (runner, error) {
	n, err := node.Open(m.nodeConfig(), Logger(m.c.t).With("node", m.Name))
	if err != nil {
		return nil, err
	}
	return &inProcess{m: m, n: n}, nil
}

// Node is the running in-process node, or nil (stopped, or a process).
func (m *Member) Node() *node.Node {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.running.(*inProcess); ok {
		return r.n
	}
	return nil
}

// kill cuts the node off first, so that nothing it does while closing
// reaches the others, then closes it and opens the proxies again (to
// clients the machine is up and refuses connections).
func (r *inProcess) kill() {
	r.m.cutNetwork()
	ctx, cancel := stopContext()
	defer cancel()
	r.n.Close(ctx) //nolint:errcheck // it is being killed
	r.m.restoreNetwork()
}

func (r *inProcess) stop(planned bool) {
	ctx, cancel := stopContext()
	defer cancel()
	stop := r.n.Close
	if planned {
		stop = r.n.Shutdown
	}
	if err := stop(ctx); err != nil {
		r.m.c.t.Errorf("close %s: %v", r.m.Name, err)
	}
}
