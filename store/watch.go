package store

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/classboard/classboard"
)

// WatchBoards follows the boards, board_state and presence buckets with
// one KV watch each for the whole node and calls fn for every change.
// A KV watch reads the stream, so it sees only writes the stream took: a
// core subscription on "$KV.>" would also see writes the stream rejected
// (a failed If-Match). After a failure a watch resumes at the revision
// after the last one it saw, so no change is skipped. fn may be called
// from several goroutines at once and must not block.
func (b *Boards) WatchBoards(ctx context.Context, fn func(classboard.BoardEvent)) {
	select {
	case <-b.s.ready:
	case <-ctx.Done():
		return
	}
	var wg sync.WaitGroup
	follow := func(bk *bucket, filter string, initial bool, handle func(jetstream.KeyValueEntry)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.s.follow(ctx, bk, filter, func(next uint64) ([]jetstream.WatchOpt, error) {
				switch {
				case next > 0: // after a failure: no change is skipped
					return []jetstream.WatchOpt{jetstream.ResumeFromRevision(next)}, nil
				case initial:
					return nil, nil
				}
				return []jetstream.WatchOpt{jetstream.UpdatesOnly()}, nil
			}, handle, nil)
		}()
	}
	follow(b.s.boardState, ">", false, func(e jetstream.KeyValueEntry) {
		if e.Operation() != jetstream.KeyValuePut {
			return // forgetting a board is told by the boards bucket
		}
		var doc stateDoc
		if err := json.Unmarshal(e.Value(), &doc); err != nil {
			b.s.log.Error("decode watched board state", "key", e.Key(), "err", err)
			return
		}
		fn(classboard.BoardEvent{Type: classboard.EventState, BoardID: e.Key(), State: doc.state(e.Key(), e.Revision())})
	})
	follow(b.s.boards, "b.*", false, func(e jetstream.KeyValueEntry) {
		id := strings.TrimPrefix(e.Key(), "b.")
		if e.Operation() != jetstream.KeyValuePut {
			// Forgotten, or an unpaired board expired.
			fn(classboard.BoardEvent{Type: classboard.EventUnpaired, BoardID: id})
			return
		}
		var doc boardDoc
		if err := json.Unmarshal(e.Value(), &doc); err != nil {
			b.s.log.Error("decode watched board", "key", e.Key(), "err", err)
			return
		}
		if doc.TeacherID != "" {
			fn(classboard.BoardEvent{Type: classboard.EventPaired, BoardID: id, TeacherName: doc.TeacherName})
		}
	})
	// Presence starts from every node's current entry, then follows.
	follow(b.s.presence, "node.*", true, b.notePresence)
	wg.Wait()
}

// follow runs one KV watch until ctx ends, starting it again after a
// failure. begin gives each watch's options from the revision after the
// last one seen (0 before any); it may fail, and the watch is tried again
// a second later. loaded, when set, is called each time a watch has
// delivered the values it started with.
func (s *Store) follow(ctx context.Context, bk *bucket, filter string, begin func(next uint64) ([]jetstream.WatchOpt, error),
	handle func(jetstream.KeyValueEntry), loaded func()) {
	var next uint64
	for ctx.Err() == nil {
		var w jetstream.KeyWatcher
		opts, err := begin(next)
		if err == nil {
			w, err = bk.kv.Watch(ctx, filter, opts...)
		}
		if err != nil {
			s.log.Warn("watch bucket", "bucket", bk.name, "err", err)
			if !sleepCtx(ctx, time.Second) {
				return
			}
			continue
		}
	read:
		for {
			select {
			case <-ctx.Done():
				break read
			case e, ok := <-w.Updates():
				if !ok {
					break read
				}
				if e == nil { // the end of the initial values
					if loaded != nil {
						loaded()
					}
					continue
				}
				next = e.Revision() + 1
				handle(e)
			}
		}
		if err := w.Stop(); err != nil && ctx.Err() == nil {
			s.log.Warn("stop bucket watch", "bucket", bk.name, "err", err)
		}
	}
}

// presenceTTL is how long a node's presence entry lives unless refreshed:
// a node that died stops counting its boards as online after this.
const presenceTTL = 90 * time.Second

// presenceDoc lists the boards connected to one node.
type presenceDoc struct {
	Boards []string  `json:"boards"`
	At     time.Time `json:"at"`
}

// PublishPresence records the boards connected to this node. The entry
// expires unless published again within presenceTTL.
func (b *Boards) PublishPresence(ctx context.Context, boardIDs []string) error {
	ctx, cancel, err := b.s.opContext(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	data, err := json.Marshal(presenceDoc{Boards: boardIDs, At: time.Now().UTC()})
	if err != nil {
		return err
	}
	_, err = b.s.js.Publish(ctx, "$KV."+b.s.presence.name+".node."+keyPart(b.s.cfg.NodeName), data, jetstream.WithMsgTTL(presenceTTL))
	return storeErr(err)
}

func (b *Boards) notePresence(e jetstream.KeyValueEntry) {
	node := strings.TrimPrefix(e.Key(), "node.")
	var doc presenceDoc
	if e.Operation() == jetstream.KeyValuePut {
		if err := json.Unmarshal(e.Value(), &doc); err != nil {
			b.s.log.Error("decode presence", "key", e.Key(), "err", err)
			return
		}
	}
	set := make(map[string]bool, len(doc.Boards))
	for _, id := range doc.Boards {
		set[id] = true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(set) == 0 {
		delete(b.presence, node)
	} else {
		b.presence[node] = set
	}
}

// online reports whether some node has a live connection of the board.
func (b *Boards) online(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, set := range b.presence {
		if set[id] {
			return true
		}
	}
	return false
}
