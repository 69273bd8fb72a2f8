package store

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// healthStreamPrefix starts the name of every node's health stream.
const healthStreamPrefix = "HEALTH_"

// prober answers "is this node on the majority side?" with a write. Each
// node has a health stream of its own, replicated like every other, whose
// leader it keeps on itself: a write to it then succeeds exactly when this
// node reaches a majority of the replicas. A shared probe stream would not
// do: when its leader died, every node failed its probe until a new leader
// was elected (4-9 s), and the whole cluster said 503 at once.
type prober struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	node    string
	stream  string
	subject string
}

// ensureProber creates the node's health stream (idempotent).
func ensureProber(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, node string, replicas int) (*prober, error) {
	key := keyPart(node)
	p := &prober{nc: nc, js: js, node: node, stream: healthStreamPrefix + key, subject: "classboard.health." + key}
	err := ensureStream(ctx, js, jetstream.StreamConfig{
		Name:              p.stream,
		Subjects:          []string{p.subject},
		MaxMsgsPerSubject: 1,
		MaxMsgs:           -1,
		MaxBytes:          -1,
		MaxMsgSize:        1024,
		Storage:           jetstream.FileStorage,
		Replicas:          replicas,
		Discard:           jetstream.DiscardOld,
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// probe writes once with a short timeout.
func (p *prober) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	_, err := p.js.Publish(ctx, p.subject, []byte(time.Now().UTC().Format(time.RFC3339Nano)))
	return err
}

// claimLeader asks the health stream's leader to hand over to this node
// when it is elsewhere (leadership moves away while a node is down).
// Moving it costs this node's stream a moment, and no other.
func (p *prober) claimLeader(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := p.js.Stream(ctx, p.stream)
	if err != nil {
		return fmt.Errorf("health stream: %w", err)
	}
	info := s.CachedInfo()
	if info.Cluster == nil || info.Cluster.Leader == p.node || info.Cluster.Leader == "" {
		return nil
	}
	return stepDown(ctx, p.nc, p.stream, "", p.node)
}
