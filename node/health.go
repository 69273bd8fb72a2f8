package node

import (
	"context"
	"log/slog"
	"time"
)

// readiness is what the node's health watch reads: the store's own verdict
// (nil when this node can read and write).
type readiness interface {
	Ready() error
}

// mover sends live clients to another node.
type mover interface {
	Count() int
	Move(share float64) int
}

// moveWhenUnready sends every live client of the node elsewhere while the
// node cannot serve (no quorum, store unavailable or full) and checks
// again every interval until ctx ends. A board kept on a node without a
// quorum would miss every change the teacher makes through the majority;
// told to move, it reconnects to a node that can serve it and lands on the
// current state. New live connections are refused meanwhile by the API's
// readiness gate; moving on every check also catches one that slipped in
// just as the node turned unready.
//
// Clients move only once the node has been unready for grace: a node that
// recovers within a moment (one slow probe on a loaded machine) should not
// send thousands of boards reconnecting at once.
func moveWhenUnready(ctx context.Context, health readiness, hub mover, interval, grace time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var wasReady, lost bool
	var unreadySince time.Time
	for {
		err := health.Ready()
		switch {
		case err == nil:
			if lost && !wasReady {
				log.Info("node can serve live clients again")
			}
			wasReady = true
			unreadySince = time.Time{}
		default:
			if unreadySince.IsZero() {
				unreadySince = time.Now()
			}
			if time.Since(unreadySince) < grace {
				break
			}
			if wasReady {
				log.Warn("node cannot serve; moving live clients away", "reason", err)
				lost = true
			}
			wasReady = false
			if hub.Count() > 0 {
				log.Info("moved live clients to another node", "count", hub.Move(1), "reason", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
