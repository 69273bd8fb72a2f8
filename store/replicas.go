package store

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Replica is this node's own copy of one stream: what a follower holds may
// lag behind the leader for a moment, and after a fault it must catch up.
type Replica struct {
	Stream   string
	Msgs     uint64
	FirstSeq uint64
	LastSeq  uint64
	Leader   string // the stream leader's node name, as this node sees it
}

// errExternal is returned by the inspection methods when the node uses an
// external NATS: there is no local replica to look at.
var errExternal = errors.New("the node uses an external NATS server")

// Replicas returns this node's local copy of every stream, sorted by name.
// Operators and fault tests compare them across nodes: replicas agree when
// every node reports the same sequences.
func (s *Store) Replicas() ([]Replica, error) {
	if s.srv == nil {
		return nil, errExternal
	}
	acc, err := s.srv.srv.JszAccount(&server.JSzOptions{Account: server.DEFAULT_GLOBAL_ACCOUNT, Streams: true})
	if err != nil {
		return nil, fmt.Errorf("jetstream streams: %w", err)
	}
	out := make([]Replica, 0, len(acc.Streams))
	for _, st := range acc.Streams {
		r := Replica{Stream: st.Name, Msgs: st.State.Msgs, FirstSeq: st.State.FirstSeq, LastSeq: st.State.LastSeq}
		if st.Cluster != nil {
			r.Leader = st.Cluster.Leader
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Replica) int { return cmp.Compare(a.Stream, b.Stream) })
	return out, nil
}

// ClusterPeers returns the names of the nodes this node has a route to.
func (s *Store) ClusterPeers() ([]string, error) {
	if s.srv == nil {
		return nil, errExternal
	}
	return routeNames(s.srv)
}

// routeNames returns the sorted names of the servers e has a route to.
func routeNames(e *embedded) ([]string, error) {
	rz, err := e.srv.Routez(nil)
	if err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	var names []string
	for _, r := range rz.Routes {
		if !slices.Contains(names, r.RemoteName) {
			names = append(names, r.RemoteName)
		}
	}
	slices.Sort(names)
	return names, nil
}

// localLastSeq returns the last sequence of this node's replica of a
// bucket's stream, without asking its leader; ok is false with an
// external NATS or before the stream is known here.
func (s *Store) localLastSeq(bk *bucket) (last uint64, ok bool) {
	st, ok := s.localStream(bk)
	if !ok {
		return 0, false
	}
	return st.State.LastSeq, true
}

// leaderless reports whether, as this node sees it, bk's stream has no
// leader: none is elected, or the elected one is on a server this node
// has no route to (killed: its routes closed at once, while the Raft
// election waits its timeout). local is this node's replica's last
// sequence then.
func (s *Store) leaderless(bk *bucket) (local uint64, ok bool) {
	st, found := s.localStream(bk)
	if !found || st.Cluster == nil || s.liveLeader(st) != "" {
		return 0, false
	}
	return st.State.LastSeq, true
}

// liveLeader returns the server name of st's leader, "" when it has none
// or this node has no route to it.
func (s *Store) liveLeader(st server.StreamDetail) string {
	if st.Cluster == nil {
		return ""
	}
	switch leader := st.Cluster.Leader; leader {
	case "", s.srv.srv.Name():
		return leader
	default:
		if _, peers, ok := s.local.get(s.srv); ok && !slices.Contains(peers, leader) {
			return ""
		}
		return leader
	}
}

// localStream returns this node's replica of bk's stream.
func (s *Store) localStream(bk *bucket) (server.StreamDetail, bool) {
	if s.srv == nil {
		return server.StreamDetail{}, false
	}
	streams, _, ok := s.local.get(s.srv)
	if !ok {
		return server.StreamDetail{}, false
	}
	st, found := streams["KV_"+bk.name]
	return st, found
}

// localMaxAge is how long the embedded server's account of its replicas
// and routes is reused: every watch, view check and waiting write looks.
const localMaxAge = 50 * time.Millisecond

// localStreams is a short-lived copy of the embedded server's replicas
// and routes.
type localStreams struct {
	mu      sync.Mutex
	at      time.Time
	streams map[string]server.StreamDetail
	peers   []string
}

func (l *localStreams) get(e *embedded) (map[string]server.StreamDetail, []string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.at) < localMaxAge {
		return l.streams, l.peers, true
	}
	acc, err := e.srv.JszAccount(&server.JSzOptions{Account: server.DEFAULT_GLOBAL_ACCOUNT, Streams: true})
	if err != nil {
		return nil, nil, false
	}
	peers, err := routeNames(e)
	if err != nil {
		return nil, nil, false
	}
	l.streams = make(map[string]server.StreamDetail, len(acc.Streams))
	for _, st := range acc.Streams {
		l.streams[st.Name] = st
	}
	l.peers, l.at = peers, time.Now()
	return l.streams, l.peers, true
}
