package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// handOverWait bounds HandOver: a step-down to a current follower takes
// milliseconds; a cluster that cannot elect in this time would not do
// better by waiting, and the node stops anyway (the engine's own shutdown
// steps down what is left).
const handOverWait = 5 * time.Second

// led is a replicated stream, or one of its consumers, led by this node.
type led struct {
	stream, consumer string   // consumer "" for the stream itself
	peers            []string // followers that are current: candidates
}

func (l led) String() string {
	if l.consumer == "" {
		return l.stream
	}
	return l.stream + "/" + l.consumer
}

// HandOver asks the other nodes to lead every stream and replicated
// consumer this node leads, spread over them, and waits until they do: on
// a planned stop, writes then go to a leader that stays, instead of
// stalling for an election after the node is gone. With an external NATS
// there is nothing of ours to hand over.
func (s *Store) HandOver(ctx context.Context) error {
	if s.srv == nil || !s.cfg.clustered() {
		return nil
	}
	select {
	case <-s.ready:
	default:
		return nil // nothing made yet, nothing led
	}
	ctx, cancel := context.WithTimeout(ctx, handOverWait)
	defer cancel()
	started := time.Now()
	list, err := s.leadHere()
	if err != nil {
		return err
	}
	var errs []error
	for i, l := range list {
		if len(l.peers) == 0 {
			errs = append(errs, fmt.Errorf("%s: no current follower to take over", l))
			continue
		}
		if err := stepDown(ctx, s.nc, l.stream, l.consumer, l.peers[i%len(l.peers)]); err != nil {
			errs = append(errs, err)
		}
	}
	for {
		left, err := s.leadHere()
		if err == nil && len(left) == 0 {
			s.log.Info("handed stream leadership over", "streams", len(list), "took", time.Since(started).Round(time.Millisecond))
			return errors.Join(errs...)
		}
		select {
		case <-ctx.Done():
			return errors.Join(append(errs, fmt.Errorf("still leading %v after %v", left, handOverWait))...)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// leadHere lists the replicated streams and consumers this node leads.
func (s *Store) leadHere() ([]led, error) {
	acc, err := s.srv.srv.JszAccount(&server.JSzOptions{Account: server.DEFAULT_GLOBAL_ACCOUNT, Streams: true, Consumer: true})
	if err != nil {
		return nil, fmt.Errorf("jetstream streams: %w", err)
	}
	var out []led
	mine := func(ci *server.ClusterInfo) ([]string, bool) {
		if ci == nil || ci.Leader != s.cfg.NodeName || len(ci.Replicas) == 0 {
			return nil, false
		}
		var peers []string
		for _, p := range ci.Replicas {
			if p.Current && !p.Offline {
				peers = append(peers, p.Name)
			}
		}
		return peers, true
	}
	for _, st := range acc.Streams {
		if s.probe != nil && st.Name == s.probe.stream {
			continue // only this node writes it, and its prober keeps it here
		}
		if peers, ok := mine(st.Cluster); ok {
			out = append(out, led{stream: st.Name, peers: peers})
		}
		for _, c := range st.Consumer {
			if peers, ok := mine(c.Cluster); ok {
				out = append(out, led{stream: st.Name, consumer: c.Name, peers: peers})
			}
		}
	}
	return out, nil
}

// stepDown asks the leader of a stream (or of its consumer, when consumer
// is not "") to hand over to the node named preferred.
func stepDown(ctx context.Context, nc *nats.Conn, stream, consumer, preferred string) error {
	subj := "$JS.API.STREAM.LEADER.STEPDOWN." + stream
	what := stream
	if consumer != "" {
		subj = "$JS.API.CONSUMER.LEADER.STEPDOWN." + stream + "." + consumer
		what += "/" + consumer
	}
	// nats.go has no field for a preferred leader; the server's API does.
	req, err := json.Marshal(map[string]any{"placement": map[string]string{"preferred": preferred}})
	if err != nil {
		return err
	}
	msg, err := nc.RequestWithContext(ctx, subj, req)
	if err != nil {
		return fmt.Errorf("move the leader of %s to %s: %w", what, preferred, err)
	}
	var res struct {
		Error *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	if json.Unmarshal(msg.Data, &res) == nil && res.Error != nil {
		return fmt.Errorf("move the leader of %s to %s: %s", what, preferred, res.Error.Description)
	}
	return nil
}

// spreadEvery is how many health probes (one a second) pass between two
// looks at where the board-state streams' leaders are.
const spreadEvery = 5

// spreadStateLeaders hands one board-state stream this node leads to a
// node that leads none, when this node leads two or more, and a tickets or
// activities stream it leads to the node leading the same shard's board
// state. State leaders pile up on the nodes that stayed while another was
// down (and fall where they fall when the streams are made); a node leading every
// board-state stream is one whose death stalls every board. Each node
// moves only its own, so nodes deciding at once do not fight.
func (s *Store) spreadStateLeaders(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	acc, err := s.srv.srv.JszAccount(&server.JSzOptions{Account: server.DEFAULT_GLOBAL_ACCOUNT, Streams: true})
	if err != nil {
		return fmt.Errorf("jetstream streams: %w", err)
	}
	leaders := map[string]*server.StreamDetail{} // stream -> its details, with a known leader
	leads := map[string]int{}                    // node -> board-state streams it leads
	for i := range acc.Streams {
		st := &acc.Streams[i]
		if st.Cluster == nil || st.Cluster.Leader == "" {
			continue
		}
		leaders[st.Name] = st
		if shardOf(st.Name, stateBucketName) >= 0 {
			leads[st.Cluster.Leader]++
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	current := func(st *server.StreamDetail, node string) bool {
		for _, p := range st.Cluster.Replicas {
			if p.Name == node {
				return p.Current && !p.Offline
			}
		}
		return false
	}
	for shard := range stateShards {
		states := leaders["KV_"+stateBucketName(shard)]
		for _, name := range []string{ticketBucketName(shard), activityBucketName(shard), activityBucketName(shard + stateShards)} {
			st := leaders["KV_"+name]
			if states == nil || st == nil || st.Cluster.Leader != s.cfg.NodeName || states.Cluster.Leader == s.cfg.NodeName {
				continue
			}
			if to := states.Cluster.Leader; current(st, to) {
				s.log.Info("handing a stream to its shard's board-state leader", "stream", st.Name, "to", to)
				return stepDown(ctx, s.nc, st.Name, "", to)
			}
		}
	}
	if leads[s.cfg.NodeName] < 2 {
		return nil
	}
	for shard := range stateShards {
		st := leaders["KV_"+stateBucketName(shard)]
		if st == nil || st.Cluster.Leader != s.cfg.NodeName {
			continue
		}
		for _, p := range st.Cluster.Replicas {
			if p.Current && !p.Offline && leads[p.Name] == 0 {
				s.log.Info("handing a board-state stream to a node that leads none", "stream", st.Name, "to", p.Name)
				return stepDown(ctx, s.nc, st.Name, "", p.Name)
			}
		}
	}
	return nil
}

// shardOf returns the shard of a stream named by name (one of the
// bucket-naming functions), or -1.
func shardOf(stream string, name func(int) string) int {
	for i := range stateShards {
		if stream == "KV_"+name(i) {
			return i
		}
	}
	return -1
}
