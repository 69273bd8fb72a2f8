package testcluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// network puts a toxiproxy proxy on every connection of a cluster, so a
// test can cut, slow or silence one node: one proxy in front of each
// node's HTTP port (the origin clients use) and one per ordered pair of
// nodes for routes (node i dials node j through route[i][j]). With a proxy
// per pair, partitioning node k cuts exactly k's links in both directions.
type network struct {
	srv    *toxiproxy.ApiServer
	client []*toxiproxy.Proxy
	route  [][]*toxiproxy.Proxy // route[i][j], nil on the diagonal
}

// newNetwork makes the proxies for nodes whose real HTTP and cluster
// addresses are given; they run until the test ends.
func newNetwork(t testing.TB, httpAddrs, clusterAddrs []string) *network {
	t.Helper()
	n := &network{srv: toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())}
	start := func(name, upstream string) *toxiproxy.Proxy {
		p := toxiproxy.NewProxy(n.srv, name, "127.0.0.1:0", upstream)
		if err := p.Start(); err != nil {
			t.Fatalf("start proxy %s: %v", name, err)
		}
		t.Cleanup(p.Stop)
		return p
	}
	for i, a := range httpAddrs {
		n.client = append(n.client, start(fmt.Sprintf("http-%d", i), a))
	}
	n.route = make([][]*toxiproxy.Proxy, len(clusterAddrs))
	for i := range clusterAddrs {
		n.route[i] = make([]*toxiproxy.Proxy, len(clusterAddrs))
		for j, a := range clusterAddrs {
			if i != j {
				n.route[i][j] = start(fmt.Sprintf("route-%d-%d", i, j), a)
			}
		}
	}
	return n
}

// clientURL is the origin clients use to reach node i.
func (n *network) clientURL(i int) string { return "http://" + n.client[i].Listen }

// peers is node i's --peers: its own cluster address and, for every other
// node, the proxy it dials that node through.
func (n *network) peers(i int, own string) []string {
	out := []string{own}
	for j, p := range n.route[i] {
		if j != i {
			out = append(out, p.Listen)
		}
	}
	return out
}

// links returns the route proxies that carry node i's routes, both ways.
func (n *network) links(i int) []*toxiproxy.Proxy {
	var out []*toxiproxy.Proxy
	for j := range n.route {
		if j != i {
			out = append(out, n.route[i][j], n.route[j][i])
		}
	}
	return out
}

// setRoutes cuts (up false) or restores node i's route links. A cut
// resets every connection as soon as anything crosses it, and every new
// one at its first byte, as a failed switch port would. The proxies keep
// listening: stopping and restarting them would give their ports away, and
// another socket on the machine could take one in between.
func (n *network) setRoutes(i int, up bool) error {
	return setLink(n.links(i), up)
}

// setClient cuts or restores the proxy in front of node i's HTTP port.
func (n *network) setClient(i int, up bool) error {
	return setLink(n.client[i:i+1], up)
}

func setLink(proxies []*toxiproxy.Proxy, up bool) error {
	removeToxic(proxies, "down")
	if up {
		return nil
	}
	return addToxic(proxies, "down", "reset_peer", `{"timeout": 0}`)
}

// addToxic adds a toxic in both directions to each proxy.
func addToxic(proxies []*toxiproxy.Proxy, name, typ, attributes string) error {
	for _, p := range proxies {
		for _, stream := range []string{"upstream", "downstream"} {
			js := fmt.Sprintf(`{"name": %q, "type": %q, "stream": %q, "attributes": %s}`, name+"-"+stream, typ, stream, attributes)
			if _, err := p.Toxics.AddToxicJson(strings.NewReader(js)); err != nil {
				return fmt.Errorf("add %s to %s: %w", typ, p.Name, err)
			}
		}
	}
	return nil
}

// removeToxic removes what addToxic added; missing toxics are ignored.
func removeToxic(proxies []*toxiproxy.Proxy, name string) {
	for _, p := range proxies {
		for _, stream := range []string{"upstream", "downstream"} {
			p.Toxics.RemoveToxic(context.Background(), name+"-"+stream) //nolint:errcheck // absent is fine
		}
	}
}

// FreeAddr returns a loopback address with a port nothing listens on now.
// Nodes need their ports before they start (every node's --peers and
// --public-urls name the others), and a restarted node must get the same.
func FreeAddr(t testing.TB) string {
	t.Helper()
	// A port from the kernel's ephemeral range (what ":0" gives) can be
	// taken between this check and the node's own bind by any outgoing
	// connection on the machine; and the tests make thousands. Ports below
	// that range are only ever taken by explicit binds: but `go test ./...`
	// runs packages as parallel processes, and two of them could pick the
	// same free port before either node binds it (a node that then fails to
	// bind its cluster port waits for a store that never comes). So each
	// pick is also reserved with a lock file held until the test ends; the
	// kernel drops the lock if the test process dies.
	dir := filepath.Join(os.TempDir(), "classboard-test-ports")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("pick a free port: %v", err)
	}
	for range 100 {
		port := 20000 + rand.IntN(12000)
		lock, err := reservePort(dir, port)
		if err != nil {
			t.Fatalf("pick a free port: %v", err)
		}
		if lock == nil {
			continue // another test process holds it
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			lock.Close()
			continue
		}
		ln.Close()
		t.Cleanup(func() { lock.Close() })
		return addr
	}
	t.Fatal("pick a free port: none free in 20000-31999")
	return ""
}

// reservePort takes port's lock file in dir without waiting; it returns
// nil (and no error) when another process holds it.
func reservePort(dir string, port int) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("reserve port %d: %w", port, err)
	}
	switch err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); {
	case err == nil:
		return f, nil
	case errors.Is(err, syscall.EWOULDBLOCK):
		f.Close()
		return nil, nil
	default:
		f.Close()
		return nil, fmt.Errorf("reserve port %d: %w", port, err)
	}
}

// deadAddr is advertised as every test node's route address. nats-server
// gossips advertised addresses and dials them once ("implicit routes"); a
// connection that bypassed the proxies would survive a partition. Port 1
// on loopback refuses connections, which keeps every route on its proxy.
const deadAddr = "127.0.0.1:1"
