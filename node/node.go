// Package node wires one classboard node together: the store with its
// embedded NATS server, the HTTP API and the background workers. A Node is
// a value with Open and Close and no global state, so a test can run three
// in one process.
package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/classboard/classboard/api"
	"github.com/classboard/classboard/live"
	"github.com/classboard/classboard/mail"
	"github.com/classboard/classboard/metrics"
	"github.com/classboard/classboard/store"
	"github.com/classboard/classboard/ui"
)

// Config is everything a node is started with.
type Config struct {
	Addr       string // HTTP listen address; port 0 picks one
	PublicURLs []string
	UIURL      string
	TLSCert    string
	TLSKey     string

	// RedirectHTTPAddr, with TLS, is a second listen address that sends
	// plain HTTP requests to HTTPS ("" for none).
	RedirectHTTPAddr string

	TrustedProxies []netip.Prefix
	Version        string
	// Commit is the source revision the binary was built from (metrics).
	Commit string

	// MetricsAddr, when set, serves /metrics there (its own listener).
	MetricsAddr string
	// MetricsAllowRemote allows a MetricsAddr that is not loopback.
	MetricsAllowRemote bool
	// MaxLivePerSession, MaxLivePerBoard and BodyReadTimeout: see
	// api.Config (0: the API's defaults).
	MaxLivePerSession, MaxLivePerBoard int
	BodyReadTimeout                    time.Duration
	// MaxMediaBytes bounds one picture upload (0: the API's default).
	MaxMediaBytes int64
	// MaxImportBytes bounds one imported .pptx or lesson file (0: the
	// API's default).
	MaxImportBytes int64
	// PointerRate and PointerBurst: see api.Config (0: the API's
	// defaults; tests lower them).
	PointerRate  float64
	PointerBurst int
	// LiveAdmitRate is how many new live connections a second the node
	// takes in (0: live.DefaultAdmitRatePerCPU per CPU).
	LiveAdmitRate float64
	// LogEveryRequest logs every request at info level: see
	// api.Config.LogEveryRequest.
	LogEveryRequest bool

	Store store.Config
	// Mail configures delivery; without an SMTP address mail goes to the log.
	Mail mail.Config
}

// Node is one running classboard node.
type Node struct {
	cfg   Config
	log   *slog.Logger
	store *store.Store
	api   *api.Server
	live  *live.Hub
	srv   *http.Server
	ln    net.Listener
	// redirect sends plain HTTP to HTTPS (nil unless RedirectHTTPAddr).
	redirect *http.Server
	redirLn  net.Listener
	url      string
	mail     *mail.Worker

	metrics    *metrics.Metrics
	metricsURL string

	wg     sync.WaitGroup
	cancel context.CancelFunc
	// unregister forgets the record that lets local tools find the node
	// by its URL.
	unregister func()
}

// Open starts the node: the store (in the background until it has its
// buckets), then the HTTP server. It listens before it returns, so a port
// of 0 is resolved and listen errors surface at once.
func Open(cfg Config, log *slog.Logger) (*Node, error) {
	started := time.Now()
	sender, err := mail.NewSender(cfg.Mail, log)
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	var metricsLn net.Listener
	if cfg.MetricsAddr != "" {
		if metricsLn, err = listenMetrics(cfg, log); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		if metricsLn != nil {
			metricsLn.Close()
		}
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	closeListeners := func() {
		ln.Close()
		if metricsLn != nil {
			metricsLn.Close()
		}
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	n := &Node{cfg: cfg, log: log, ln: ln, url: scheme + "://" + ln.Addr().String(),
		metrics: metrics.New(metrics.Build{Version: cfg.Version, Commit: cfg.Commit, GoVersion: runtime.Version()}, log)}
	cfg.Store.Metrics = n.metrics
	resetLinks := linkBase(cfg, n.url)
	if len(cfg.PublicURLs) == 0 {
		cfg.PublicURLs = []string{n.url}
	}
	if cfg.UIURL == "" {
		cfg.UIURL = n.url
	}
	n.cfg = cfg

	n.store, err = store.Open(cfg.Store, log)
	if err != nil {
		closeListeners()
		return nil, fmt.Errorf("open store: %w", err)
	}
	n.unregister = func() {}
	if cfg.Store.NATSURL == "" {
		// Lets `classboard backup --from <this node's URL>` on this machine
		// find the data directory.
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		if n.unregister, err = store.RegisterHTTP(port, cfg.Store.DataDir); err != nil {
			log.Warn("tools cannot find this node by its URL; give them --data", "err", err)
			n.unregister = func() {}
		}
	}
	uiHandler, err := ui.NewHandler()
	if err != nil {
		n.store.Close(context.Background())
		closeListeners()
		return nil, fmt.Errorf("load apps: %w", err)
	}
	boards := n.store.Boards()
	activities := boards.Activities()
	n.live = live.NewHub(live.Config{Presence: boards, Logger: log, AdmitRate: cfg.LiveAdmitRate, Metrics: n.metrics})
	feed := live.NewActivityFeed(n.live, activities, 0)
	n.api = api.New(api.Config{
		Version:        cfg.Version,
		PublicURLs:     cfg.PublicURLs,
		UIOrigins:      appOrigins(cfg.UIURL, cfg.PublicURLs),
		TrustedProxies: cfg.TrustedProxies,
		MaxMediaBytes:  cfg.MaxMediaBytes,
		MaxImportBytes: cfg.MaxImportBytes,
		Logger:         log,
		Metrics:        n.metrics,

		LogEveryRequest:   cfg.LogEveryRequest,
		MaxLivePerSession: cfg.MaxLivePerSession,
		MaxLivePerBoard:   cfg.MaxLivePerBoard,
		BodyReadTimeout:   cfg.BodyReadTimeout,
		PointerRate:       cfg.PointerRate,
		PointerBurst:      cfg.PointerBurst,
	}, api.Services{
		Health:       n.store,
		Accounts:     n.store.Accounts(),
		SignUps:      n.store.SignUps(cfg.Mail.Addr != "", resetLinks),
		Idempotency:  n.store.Idempotency(),
		Boards:       boards,
		Lessons:      n.store.Lessons(),
		Media:        n.store.Media(),
		LiveTickets:  boards.LiveTickets(),
		Pointers:     boards,
		Activities:   activities,
		ActivityFeed: feed,
		Live:         n.live,
		UI:           uiHandler,

		PasswordResets: n.store.PasswordResets(resetLinks),
	})
	n.srv = &http.Server{
		Handler: n.api,
		// Generous: school networks are slow, but a client that sends its
		// headers byte by byte must not hold a connection for ever.
		ReadHeaderTimeout: 20 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			n.store.Close(context.Background())
			closeListeners()
			return nil, fmt.Errorf("load TLS certificate: %w", err)
		}
		n.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	if cfg.RedirectHTTPAddr != "" {
		if err := n.listenRedirect(); err != nil {
			n.store.Close(context.Background())
			ln.Close()
			return nil, err
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.wg.Add(4)
	go func() {
		defer n.wg.Done()
		// One watch per node feeds every live connection on it.
		boards.WatchBoards(ctx, n.live.Dispatch)
	}()
	go func() {
		defer n.wg.Done()
		n.live.Run(ctx)
	}()
	go func() {
		defer n.wg.Done()
		var err error
		if cfg.TLSCert != "" {
			err = n.srv.ServeTLS(ln, "", "")
		} else {
			err = n.srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "err", err)
		}
	}()
	go func() {
		defer n.wg.Done()
		if err := n.store.WaitReady(ctx); err == nil {
			log.Info("node ready", "url", n.url, "startup", time.Since(started).Round(time.Millisecond))
		}
	}()
	n.wg.Go(func() { feed.Run(ctx) })
	n.wg.Go(func() { moveWhenUnready(ctx, n.store, n.live, healthCheckInterval, moveGrace, log) })
	n.wg.Go(func() { newBalancer(n.live, n.store, n.store, balanceInterval, log).run(ctx) })
	n.startMail(ctx, sender)
	n.watchSources()
	if metricsLn != nil {
		n.startMetrics(ctx, metricsLn)
	}
	return n, nil
}

// appOrigins are the origins whose pages may call the API and open live
// connections: the apps' URL first (pairing links point there), then the
// origin of it and of every node, since every node serves the apps and a
// board whose page came from any of them must keep receiving updates.
func appOrigins(uiURL string, publicURLs []string) []string {
	out := []string{uiURL}
	for _, u := range append([]string{uiURL}, publicURLs...) {
		if p, err := url.Parse(u); err == nil && p.Scheme != "" && p.Host != "" {
			u = p.Scheme + "://" + p.Host
		}
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// How often a node checks whether it must send its live clients away
// (the store's own probe runs every second), and how often it compares its
// share of live connections with the other nodes'.
const (
	healthCheckInterval = 250 * time.Millisecond
	moveGrace           = 2 * time.Second
	balanceInterval     = 2 * time.Second
)

// URL is the node's own base URL, e.g. http://127.0.0.1:8080.
func (n *Node) URL() string { return n.url }

// Live returns the node's live connections: Move sends clients elsewhere
// (lost quorum, rebalancing).
func (n *Node) Live() *live.Hub { return n.live }

// Store returns the node's store (tests inspect it).
func (n *Node) Store() *store.Store { return n.store }

// WaitReady blocks until the node can serve reads and writes.
func (n *Node) WaitReady(ctx context.Context) error { return n.store.WaitReady(ctx) }

// Shutdown is a planned stop (SIGTERM): the node first hands the
// leadership of every stream it leads to the other nodes, so that writes
// meanwhile go to leaders that stay instead of waiting for an election
// after it is gone, then closes (Close: its live clients move first).
func (n *Node) Shutdown(ctx context.Context) error {
	if err := n.store.HandOver(ctx); err != nil {
		n.log.Warn("hand stream leadership over", "err", err)
	}
	return n.Close(ctx)
}

// Close shuts the node down gracefully: stop accepting, let in-flight
// requests finish (until ctx ends), then close the store.
func (n *Node) Close(ctx context.Context) error {
	// Live connections are hijacked or streaming: Shutdown would not end
	// them. Tell their clients to reconnect elsewhere first.
	n.live.Close()
	n.cancel()
	if n.redirect != nil {
		n.redirect.Close()
	}
	err := n.srv.Shutdown(ctx)
	if err != nil {
		n.srv.Close()
	}
	n.api.WaitLive() // the hub, closed above, ends them
	n.wg.Wait()
	n.unregister()
	if cerr := n.store.Close(ctx); err == nil {
		err = cerr
	}
	return err
}
