package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// loadSubject carries every node's live connection count. Core NATS, not
// a stream: a count is worth something only while it is fresh, and a node
// that cannot reach the others should drop out of their view, not linger.
const loadSubject = "classboard.load"

// LoadReport is how many live connections one node holds now.
type LoadReport struct {
	Node  string `json:"node"`
	Conns int    `json:"conns"`
}

// PublishLoad tells the other nodes how many live connections this node
// holds.
func (s *Store) PublishLoad(conns int) error {
	data, err := json.Marshal(LoadReport{Node: s.cfg.NodeName, Conns: conns})
	if err != nil {
		return err
	}
	if err := s.nc.Publish(loadSubject, data); err != nil {
		return fmt.Errorf("publish load: %w", err)
	}
	return nil
}

// WatchLoad calls fn with the other nodes' reports until ctx ends. fn is
// called from one goroutine at a time and must not block for long.
func (s *Store) WatchLoad(ctx context.Context, fn func(LoadReport)) error {
	sub, err := s.nc.Subscribe(loadSubject, func(m *nats.Msg) {
		var r LoadReport
		if err := json.Unmarshal(m.Data, &r); err != nil || r.Node == "" {
			s.log.Warn("ignore malformed load report", "err", err)
			return
		}
		if r.Node != s.cfg.NodeName {
			fn(r)
		}
	})
	if err != nil {
		return fmt.Errorf("watch load: %w", err)
	}
	<-ctx.Done()
	if err := sub.Unsubscribe(); err != nil && !isClosed(err) {
		return fmt.Errorf("stop watching load: %w", err)
	}
	return nil
}

// isClosed reports the errors of a connection the store closed already.
func isClosed(err error) bool {
	return errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrConnectionDraining) || errors.Is(err, nats.ErrBadSubscription)
}
