package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"syscall"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// LocalAccessFile is the file in a running node's data directory that lets
// tools on the same machine (backup, restore, repair) reach its embedded
// NATS server. It holds the loopback client URL and the credentials made
// fresh at this start, with mode 0600: whoever can read it can already read
// the data directory itself, so it opens nothing new, and nothing is
// reachable from another machine.
const LocalAccessFile = "local-access.json"

type localAccess struct {
	URL      string `json:"url"`
	User     string `json:"user"`
	Password string `json:"password"`
	Node     string `json:"node"`
}

// writeLocalAccess publishes the credentials once the store is ready, so a
// tool that finds the file finds a node whose buckets exist.
func (s *Store) writeLocalAccess() error {
	if s.srv == nil {
		return nil
	}
	b, err := json.Marshal(localAccess{URL: s.srv.srv.ClientURL(), User: s.srv.user, Password: s.srv.password, Node: s.cfg.NodeName})
	if err != nil {
		return err
	}
	path := filepath.Join(s.cfg.DataDir, LocalAccessFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("publish %s: %w", path, err)
	}
	return nil
}

// removeLocalAccess forgets the credentials of this start (at start-up, a
// stale file from a killed process; at Close, this one).
func removeLocalAccess(dataDir string) {
	os.Remove(filepath.Join(dataDir, LocalAccessFile)) //nolint:errcheck // absent is fine
}

// Conn is a tool's connection to a node's JetStream: to a running node
// through its local access file or a NATS URL, or to a stopped single
// node's data directory through a server of its own.
type Conn struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	srv  *embedded // set when the tool started the server itself
	node string
}

// Close disconnects and, offline, stops the tool's own server.
func (c *Conn) Close(ctx context.Context) {
	c.nc.Drain() //nolint:errcheck // closing anyway
	c.nc.Close()
	if c.srv != nil {
		c.srv.shutdown(ctx)
	}
}

// ErrNoLocalNode says that no node is running on a data directory.
var ErrNoLocalNode = errors.New("no running node on this data directory")

// ConnectURL connects to a NATS server (an external NATS cluster the nodes
// use with --nats-url). The URL may carry a user and password.
func ConnectURL(url string) (*Conn, error) {
	nc, err := nats.Connect(url, nats.Name("classboard tool"))
	if err != nil {
		// The URL may carry a password: it is not repeated.
		return nil, fmt.Errorf("connect to the NATS URL: %w", err)
	}
	return newConn(nc, nil, nc.ConnectedServerName())
}

// ConnectLocal connects to the node running on dataDir through its local
// access file; ErrNoLocalNode when none runs (or it is not ready yet).
func ConnectLocal(dataDir string) (*Conn, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, LocalAccessFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoLocalNode
	}
	if err != nil {
		return nil, fmt.Errorf("read the node's local access file: %w", err)
	}
	var la localAccess
	if err := json.Unmarshal(b, &la); err != nil {
		return nil, fmt.Errorf("read the node's local access file: %w", err)
	}
	nc, err := nats.Connect(la.URL, nats.UserInfo(la.User, la.Password), nats.Name("classboard tool"), nats.MaxReconnects(0))
	if err != nil {
		// A node killed without a clean stop leaves its file behind.
		return nil, fmt.Errorf("%w (its local access file is stale: %v)", ErrNoLocalNode, err)
	}
	return newConn(nc, nil, la.Node)
}

// OpenOffline runs a server of the tool's own on a stopped single node's
// data directory (made if missing). A cluster node's data cannot be opened
// alone: its streams belong to the cluster, and the server would discard
// them as orphans once the node rejoins.
func OpenOffline(dataDir string, log *slog.Logger) (*Conn, error) {
	// The cluster's meta group keeps its log here (nats-server puts its
	// own "jetstream" under the store directory it is given).
	if _, err := os.Stat(filepath.Join(dataDir, "jetstream", "jetstream", "$SYS", "_js_", "_meta_")); err == nil {
		return nil, fmt.Errorf("%s belongs to a cluster node: run the command while the cluster runs, on any node", dataDir)
	}
	srv, err := startEmbedded(Config{NodeName: "classboard-tool", DataDir: dataDir, toolServer: true}, log)
	if err != nil {
		return nil, err
	}
	nc, err := srv.connect("classboard tool")
	if err != nil {
		srv.shutdown(context.Background())
		return nil, fmt.Errorf("connect to the data directory's server: %w", err)
	}
	c, err := newConn(nc, srv, "offline:"+dataDir)
	if err != nil {
		srv.shutdown(context.Background())
	}
	return c, err
}

func newConn(nc *nats.Conn, srv *embedded, node string) (*Conn, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return &Conn{nc: nc, js: js, srv: srv, node: node}, nil
}

// registryDir is where this user's running nodes record which data
// directory serves which HTTP port, so that a tool given a node's URL
// (`classboard backup --from http://127.0.0.1:8080`) finds the node's
// local access file. It holds paths only: the credentials stay in the data
// directory, readable by whoever may read the data.
func registryDir() (string, error) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("classboard-%d", os.Getuid()))
	if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
		dir = filepath.Join(rt, "classboard")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	// In a shared temporary directory another user could have made it
	// first, to point tools elsewhere.
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || fi.Mode().Perm() != 0o700 || !ok || int(st.Uid) != os.Getuid() {
		return "", fmt.Errorf("%s is not a private directory of this user", dir)
	}
	return dir, nil
}

type registration struct {
	DataDir string `json:"data_dir"`
}

// RegisterHTTP records that the node on dataDir serves HTTP on port; the
// returned function removes the record (unless another node took the port
// over meanwhile).
func RegisterHTTP(port, dataDir string) (func(), error) {
	dir, err := registryDir()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "http-"+port+".json")
	b, _ := json.Marshal(registration{DataDir: abs})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, err
	}
	return func() {
		if cur, err := os.ReadFile(path); err == nil && string(cur) == string(b) {
			os.Remove(path) //nolint:errcheck // best effort
		}
	}, nil
}

// DataDirForURL returns the data directory of this user's node that serves
// rawURL on this machine.
func DataDirForURL(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("--from: %w", err)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	dir, err := registryDir()
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(dir, "http-"+port+".json"))
	if err != nil {
		return "", fmt.Errorf("no classboard node of this user serves port %s on this machine (run the command on the node's machine as its user, or give its data directory with --data)", port)
	}
	var r registration
	if err := json.Unmarshal(b, &r); err != nil || r.DataDir == "" {
		return "", fmt.Errorf("read the node registry: %v", err)
	}
	return r.DataDir, nil
}
