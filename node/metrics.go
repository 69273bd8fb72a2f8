package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/classboard/classboard/metrics"
)

// listenMetrics opens the metrics listener, refusing an address that is
// not loopback unless cfg.MetricsAllowRemote says otherwise: the metrics
// tell anyone who can read them how the school uses the system and when
// it is weak, and they have no authentication of their own.
func listenMetrics(cfg Config, log *slog.Logger) (net.Listener, error) {
	host, _, err := net.SplitHostPort(cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	// An address is judged before binding; a name only once it is bound
	// ("localhost" binds loopback).
	if ip, perr := netip.ParseAddr(host); (host == "" || (perr == nil && !ip.IsLoopback())) && !cfg.MetricsAllowRemote {
		return nil, errRemoteMetrics(cfg.MetricsAddr)
	}
	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", cfg.MetricsAddr, err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		if !cfg.MetricsAllowRemote {
			ln.Close()
			return nil, errRemoteMetrics(cfg.MetricsAddr)
		}
		log.Warn("metrics served on a non-loopback address: anyone who can reach it can read them", "metrics_addr", ln.Addr().String())
	}
	return ln, nil
}

func errRemoteMetrics(addr string) error {
	return fmt.Errorf("metrics: %s is not a loopback address; metrics have no authentication, so serve them on 127.0.0.1 or [::1], or set --metrics-allow-remote to serve them there anyway (behind a firewall)", addr)
}

// startMetrics serves /metrics on its own listener (never the public one)
// until ctx ends.
func (n *Node) startMetrics(ctx context.Context, ln net.Listener) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", n.metrics.Handler())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelWarn),
	}
	n.metricsURL = "http://" + ln.Addr().String() + "/metrics"
	n.log.Info("serving metrics", "url", n.metricsURL)
	n.wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("metrics server stopped", "err", err)
		}
	})
	n.wg.Go(func() {
		<-ctx.Done()
		// Nothing long-lived is served here: no need to wait for requests.
		srv.Close()
	})
}

// watchSources has the metrics read readiness, mail and storage at every
// scrape.
func (n *Node) watchSources() {
	n.metrics.Watch(metrics.Sources{
		Ready: n.store.Ready,
		Mail: func() metrics.MailCounts {
			st := n.mail.Stats()
			return metrics.MailCounts{Delivered: st.Delivered, Retried: st.Retried, Failed: st.Failed}
		},
		Outbox: n.store.Outbox().Counts,
		Usage: func() (metrics.Usage, error) {
			u, err := n.store.Usage()
			return metrics.Usage{StoreUsed: u.StoreUsed, StoreLimit: u.StoreLimit, DiskFree: u.DiskFree, DiskSize: u.DiskSize}, err
		},
	})
}

// MetricsURL is where this node serves /metrics ("" when --metrics-addr
// is not set).
func (n *Node) MetricsURL() string { return n.metricsURL }

// Metrics returns the node's metrics (tests read them).
func (n *Node) Metrics() *metrics.Metrics { return n.metrics }
