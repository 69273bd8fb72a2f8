package store

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// presenceSubject carries every node's heartbeat: the boards whose own
// live connection it holds. Core NATS, not a stream, like the load
// reports: a heartbeat needs no stream leader, so a node's death (even the
// death of a stream leader) costs no other node's boards their presence.
const presenceSubject = "classboard.presence"

// Presence timing. Nodes send a heartbeat every half second (live.Config's
// PresenceInterval) and at once after a change; a node whose heartbeats
// stopped for presenceStale counts as gone, with its boards. So a board
// whose node was killed shows offline within presenceStale + presenceSweep
// (2.25 s) unless it reconnected elsewhere meanwhile, and a node may miss
// three heartbeats in a row (a stall on a loaded machine) before its
// boards look offline.
//
// A heartbeat carries the node's list of boards only when it changed, and
// every presenceResend (for nodes that joined since, or missed a part);
// otherwise only the list's version. A list goes in parts of presenceChunk
// boards: a node holding 100,000 boards would exceed NATS's 1 MB message
// limit in one.
const (
	presenceStale  = 2 * time.Second
	presenceSweep  = 250 * time.Millisecond
	presenceResend = 5 * time.Second
	presenceChunk  = 2000
)

// heartbeat is one node's presence message: a part of its list of boards
// (version Seq, Part of Parts), or with Parts 0 only the version, or Bye
// when it stops.
type heartbeat struct {
	Node   string   `json:"node"`
	Seq    uint64   `json:"seq"`
	Part   int      `json:"part,omitempty"`
	Parts  int      `json:"parts,omitempty"`
	Boards []string `json:"boards,omitempty"`
	Bye    bool     `json:"bye,omitempty"`
}

// presenceView is the node's one view of which boards are online anywhere,
// kept from every node's heartbeats (its own included). The store owns it,
// so every board service of the node answers alike.
type presenceView struct {
	nc   *nats.Conn
	node string
	log  *slog.Logger

	// What this node sent (publish is called from one goroutine).
	sent     []string
	sentSeq  uint64
	sentList time.Time

	mu        sync.Mutex
	nodes     map[string]nodeBoards // node -> its latest list and heartbeat
	online    map[string]int        // board -> how many nodes list it
	listeners map[int]func(boardID string, online bool)
	nextID    int
}

type nodeBoards struct {
	boards map[string]bool
	seen   time.Time
	// A list arriving in parts, complete when it has them all.
	partsSeq uint64
	parts    map[int][]string
}

func newPresenceView(nc *nats.Conn, node string, log *slog.Logger) *presenceView {
	return &presenceView{nc: nc, node: node, log: log, nodes: map[string]nodeBoards{},
		online: map[string]int{}, listeners: map[int]func(string, bool){}}
}

// run follows the heartbeats and forgets silent nodes until ctx ends.
func (p *presenceView) run(ctx context.Context) error {
	sub, err := p.nc.Subscribe(presenceSubject, func(m *nats.Msg) {
		var hb heartbeat
		if err := json.Unmarshal(m.Data, &hb); err != nil || hb.Node == "" {
			p.log.Warn("ignore malformed presence heartbeat", "err", err)
			return
		}
		p.note(hb, time.Now())
	})
	if err != nil {
		return fmt.Errorf("follow presence: %w", err)
	}
	t := time.NewTicker(presenceSweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := sub.Unsubscribe(); err != nil && !isClosed(err) {
				return fmt.Errorf("stop following presence: %w", err)
			}
			return nil
		case now := <-t.C:
			p.sweep(now)
		}
	}
}

// publish sends this node's heartbeat.
func (p *presenceView) publish(boardIDs []string) error {
	for _, hb := range p.heartbeats(boardIDs, time.Now()) {
		if err := p.send(hb); err != nil {
			return err
		}
	}
	return nil
}

// heartbeats are the messages that tell the others this node holds
// boardIDs (sorted) at now: the list in parts when it changed or is due
// again, else only its version.
func (p *presenceView) heartbeats(boardIDs []string, now time.Time) []heartbeat {
	changed := p.sentSeq == 0 || !slices.Equal(boardIDs, p.sent)
	if changed {
		p.sentSeq++
		p.sent = slices.Clone(boardIDs)
	}
	if !changed && now.Sub(p.sentList) < presenceResend {
		return []heartbeat{{Node: p.node, Seq: p.sentSeq}}
	}
	p.sentList = now
	parts := max(1, (len(boardIDs)+presenceChunk-1)/presenceChunk)
	out := make([]heartbeat, parts)
	for i := range parts {
		out[i] = heartbeat{Node: p.node, Seq: p.sentSeq, Part: i, Parts: parts,
			Boards: boardIDs[i*presenceChunk : min(len(boardIDs), (i+1)*presenceChunk)]}
	}
	return out
}

// goodbye tells the others that this node stops: they need not wait for
// its heartbeats to stop (its boards are reconnecting elsewhere already).
func (p *presenceView) goodbye() error {
	return p.send(heartbeat{Node: p.node, Bye: true})
}

func (p *presenceView) send(hb heartbeat) error {
	data, err := json.Marshal(hb)
	if err != nil {
		return err
	}
	if err := p.nc.Publish(presenceSubject, data); err != nil {
		return fmt.Errorf("publish presence: %w", err)
	}
	return nil
}

// note records a heartbeat seen at now.
func (p *presenceView) note(hb heartbeat, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if hb.Bye {
		p.replace(hb.Node, nil)
		return
	}
	nb := p.nodes[hb.Node]
	nb.seen = now
	p.nodes[hb.Node] = nb
	if hb.Parts == 0 || hb.Part < 0 || hb.Part >= hb.Parts {
		return // only the version: the node is alive
	}
	if nb.parts == nil || nb.partsSeq != hb.Seq {
		nb.parts, nb.partsSeq = map[int][]string{}, hb.Seq
	}
	nb.parts[hb.Part] = hb.Boards
	p.nodes[hb.Node] = nb
	if len(nb.parts) < hb.Parts {
		return
	}
	set := map[string]bool{}
	for _, part := range nb.parts {
		for _, id := range part {
			set[id] = true
		}
	}
	p.replace(hb.Node, set)
	p.nodes[hb.Node] = nodeBoards{boards: set, seen: now}
}

// sweep forgets the nodes silent for presenceStale.
func (p *presenceView) sweep(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for node, nb := range p.nodes {
		if now.Sub(nb.seen) > presenceStale {
			p.replace(node, nil)
			p.log.Warn("a node fell silent; its boards count as offline", "node", node)
		}
	}
}

// replace swaps node's boards for set, telling the listeners of every
// board that came online or went offline. Called with mu held.
func (p *presenceView) replace(node string, set map[string]bool) {
	old := p.nodes[node].boards
	delete(p.nodes, node)
	for id := range old {
		if set[id] {
			continue
		}
		if p.online[id]--; p.online[id] <= 0 {
			delete(p.online, id)
			p.tell(id, false)
		}
	}
	for id := range set {
		if old[id] {
			continue
		}
		if p.online[id]++; p.online[id] == 1 {
			p.tell(id, true)
		}
	}
}

func (p *presenceView) tell(id string, online bool) {
	for _, fn := range p.listeners {
		fn(id, online)
	}
}

// isOnline reports whether some node holds the board's live connection.
func (p *presenceView) isOnline(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.online[id] > 0
}

// listen calls fn for every change of a board's presence until the
// returned function is called. fn is called with the view locked: it must
// not block or call back.
func (p *presenceView) listen(fn func(boardID string, online bool)) (stop func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	id := p.nextID
	p.nextID++
	p.listeners[id] = fn
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		delete(p.listeners, id)
	}
}
