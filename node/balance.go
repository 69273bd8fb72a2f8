package node

import (
	"context"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/classboard/classboard/store"
)

// loadExchange shares every node's live connection count with the others.
type loadExchange interface {
	PublishLoad(conns int) error
	WatchLoad(ctx context.Context, fn func(store.LoadReport)) error
}

// balancer spreads live connections back over the nodes. Clients move
// away from a node that dies or loses its quorum, and nothing brings them
// back when it returns: after a rolling restart every board would sit on
// the node restarted first. Each node publishes its count every interval;
// a node holding clearly more than its fair share asks a jittered part of
// the excess to move (the hub picks which at random), never going below
// the fair share itself. The moved clients reconnect to their next origin,
// so some land on another busy node; repeated rounds converge.
type balancer struct {
	hub      mover
	health   readiness
	exchange loadExchange
	interval time.Duration
	log      *slog.Logger

	mu    sync.Mutex
	loads map[string]loadSeen // other nodes' latest reports
}

// loadSeen is one node's latest count and when it arrived.
type loadSeen struct {
	conns int
	at    time.Time
}

func newBalancer(hub mover, health readiness, exchange loadExchange, interval time.Duration, log *slog.Logger) *balancer {
	return &balancer{hub: hub, health: health, exchange: exchange, interval: interval, log: log, loads: map[string]loadSeen{}}
}

// run publishes this node's count and evens out the load until ctx ends.
func (b *balancer) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		if err := b.exchange.WatchLoad(ctx, b.note); err != nil {
			b.log.Warn("cannot see the other nodes' load; not rebalancing", "err", err)
		}
	})
	rest := false // sit out the round after a move: the counts are in flux
	for {
		// Jittered, so that the nodes do not all decide at once on the
		// same (soon outdated) counts.
		wait := time.Duration(float64(b.interval) * (0.5 + rand.Float64()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if b.health.Ready() != nil {
			// moveWhenUnready sends everyone away; publishing nothing
			// makes the others stop counting this node.
			continue
		}
		mine := b.hub.Count()
		if err := b.exchange.PublishLoad(mine); err != nil {
			b.log.Warn("publish load", "err", err)
		}
		if rest {
			rest = false
			continue
		}
		k := toMove(mine, b.others(time.Now()), rand.Float64())
		if k == 0 {
			continue
		}
		// Move rounds its share up; aim half a connection below k.
		moved := b.hub.Move((float64(k) - 0.5) / float64(mine))
		b.log.Info("rebalancing: moved live clients to other nodes", "moved", moved, "held", mine)
		rest = true
	}
}

// note records another node's report.
func (b *balancer) note(r store.LoadReport) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.loads[r.Node] = loadSeen{conns: r.Conns, at: time.Now()}
}

// others returns the counts of the nodes heard from lately, forgetting
// those that fell silent (dead, cut off or unready): they hold no clients
// that a move could send them.
func (b *balancer) others(now time.Time) []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []int
	for node, l := range b.loads {
		if now.Sub(l.at) > 3*b.interval {
			delete(b.loads, node)
			continue
		}
		out = append(out, l.conns)
	}
	return out
}

// toMove returns how many of its mine connections a node should move,
// given the other live nodes' counts and a random r in [0, 1). The fair
// share is the total over the nodes, rounded up; a node moves only when it
// holds more than a tenth (at least one) above it, so counts that differ
// by the odd connection do not keep clients hopping. It then moves a
// quarter to half of its excess, so nodes deciding on the same counts do
// not overshoot together, and never goes below the fair share.
func toMove(mine int, others []int, r float64) int {
	total := mine
	for _, c := range others {
		total += c
	}
	fair := int(math.Ceil(float64(total) / float64(len(others)+1)))
	if mine <= fair+max(1, fair/10) {
		return 0
	}
	excess := mine - fair
	return min(excess, int(math.Ceil(float64(excess)*(0.25+0.25*r))))
}
