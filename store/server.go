package store

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/classboard/classboard/internal/token"
)

// embedded is the NATS server a node runs in its own process.
type embedded struct {
	srv      *server.Server
	lock     *os.File // held on the data directory while the server runs
	user     string
	password string
}

// startEmbedded starts nats-server with JetStream on cfg.DataDir and waits
// until it accepts connections.
func startEmbedded(cfg Config, log *slog.Logger) (*embedded, error) {
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	started := false
	defer func() {
		if !started {
			lock.Close()
		}
	}()
	// Whoever holds the lock owns the directory: an access file there is
	// a killed process's.
	removeLocalAccess(cfg.DataDir)
	e := &embedded{user: "classboard", password: token.New(), lock: lock}
	opts := &server.Options{
		ServerName: cfg.NodeName,
		// A client listener is kept (DontListen would also stop the routes
		// from starting), but only on loopback, on a random port, and with
		// credentials made fresh at every start: nobody else can connect.
		Host:     "127.0.0.1",
		Port:     server.RANDOM_PORT,
		Username: e.user,
		Password: e.password,
		NoSigs:   true, // the node handles signals
		NoLog:    false,

		JetStream: true,
		StoreDir:  filepath.Join(cfg.DataDir, "jetstream"),
		// Set explicitly: auto-sizing picked 55 GB on a test machine.
		JetStreamMaxStore:  cfg.MaxStore,
		JetStreamMaxMemory: cfg.MaxMemory,
		// The default syncs to disk every 2 minutes; Jepsen's 2025 analysis
		// of NATS 2.12.1 lost acknowledged writes that way. An fsync per
		// write costs about 0.5 ms on an R3 put, and nothing a teacher saved
		// may be lost.
		SyncAlways: !cfg.toolServer,
		// Huge pings would delay noticing a dead peer.
		PingInterval: 5 * time.Second,
		MaxPingsOut:  3,
	}
	if cfg.clustered() {
		host, portStr, err := net.SplitHostPort(cfg.ClusterAddr)
		if err != nil {
			return nil, fmt.Errorf("cluster address %q: %w", cfg.ClusterAddr, err)
		}
		port, err := strconv.Atoi(portStr)
		if err != nil {
			return nil, fmt.Errorf("cluster address %q: bad port", cfg.ClusterAddr)
		}
		opts.Cluster = server.ClusterOpts{
			Name: "classboard",
			Host: host,
			Port: port,
			// Routes authenticate with the shared secret; a node without it
			// cannot join.
			Username:  "route",
			Password:  cfg.ClusterSecret,
			Advertise: cfg.ClusterAdvertise,
		}
		for _, p := range cfg.Peers {
			if p == cfg.ClusterAddr {
				continue
			}
			opts.Routes = append(opts.Routes, &url.URL{
				Scheme: "nats",
				User:   url.UserPassword("route", cfg.ClusterSecret),
				Host:   p,
			})
		}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("configure embedded nats-server: %w", err)
	}
	srv.SetLoggerV2(&natsLogger{log: log.With("component", "nats")}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(60 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded nats-server not ready for connections after 60s")
	}
	e.srv = srv
	started = true
	return e, nil
}

// connect opens an in-process client connection: no socket, no port.
func (e *embedded) connect(name string) (*nats.Conn, error) {
	return nats.Connect("",
		nats.InProcessServer(e.srv),
		nats.UserInfo(e.user, e.password),
		nats.Name(name),
		nats.MaxReconnects(-1),
	)
}

// shutdown stops the server; JetStream flushes and closes its files.
func (e *embedded) shutdown(ctx context.Context) {
	e.srv.Shutdown()
	done := make(chan struct{})
	go func() { e.srv.WaitForShutdown(); close(done) }()
	select {
	case <-done:
		e.lock.Close()
	case <-ctx.Done():
		// The server may still write: the lock goes when it has stopped.
		go func() {
			<-done
			e.lock.Close()
		}()
	}
}

// metaHealthy reports whether JetStream's meta layer is up (meta leader known).
func (e *embedded) metaHealthy() error {
	st := e.srv.Healthz(&server.HealthzOptions{JSMetaOnly: true})
	if st.StatusCode != 0 && st.StatusCode != 200 {
		return fmt.Errorf("jetstream: %s", st.Error)
	}
	return nil
}

// natsLogger sends nats-server's log lines to slog.
type natsLogger struct{ log *slog.Logger }

// Notices are many and routine (every start prints dozens): debug level.
func (l *natsLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Warnf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.HasPrefix(msg, "Plaintext passwords detected") {
		// The client password is random per start and only on loopback.
		l.log.Debug(msg)
		return
	}
	l.log.Warn(msg)
}
func (l *natsLogger) Fatalf(format string, v ...any) { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Errorf(format string, v ...any) { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Debugf(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *natsLogger) Tracef(format string, v ...any) {}
