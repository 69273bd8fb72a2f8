package store

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats-server/v2/server"
)

// Usage is how full this node's storage is.
type Usage struct {
	// StoreUsed and StoreLimit are the embedded server's JetStream file
	// storage and its limit (--max-store), in bytes; both -1 with an
	// external NATS, whose servers report their own.
	StoreUsed, StoreLimit int64
	// DiskFree and DiskSize are the data directory's file system, in
	// bytes: JetStream stops writing when either it or the limit is full.
	DiskFree, DiskSize uint64
}

// Usage reports this node's storage use. It reads local counters only and
// never waits on the cluster.
func (s *Store) Usage() (Usage, error) {
	u := Usage{StoreUsed: -1, StoreLimit: -1}
	if s.srv != nil {
		v, err := s.srv.srv.Varz(&server.VarzOptions{})
		if err != nil {
			return u, fmt.Errorf("storage usage: %w", err)
		}
		if v.JetStream.Stats == nil || v.JetStream.Config == nil {
			return u, errors.New("storage usage: JetStream is not running")
		}
		u.StoreUsed, u.StoreLimit = int64(v.JetStream.Stats.Store), v.JetStream.Config.MaxStore
	}
	free, size, err := diskSpace(s.cfg.DataDir)
	if err != nil {
		return u, fmt.Errorf("storage usage: %w", err)
	}
	u.DiskFree, u.DiskSize = free, size
	return u, nil
}
