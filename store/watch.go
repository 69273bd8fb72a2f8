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

// WatchBoards follows the boards bucket and the board-state buckets with
// one KV watch each for the whole node, the boards' presence and the
// teachers' pointers, and calls fn for every change.
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
	follow := func(bk *bucket, filter string, handle func(jetstream.KeyValueEntry)) {
		wg.Go(func() {
			b.s.follow(ctx, bk, filter, func(next uint64) ([]jetstream.WatchOpt, error) {
				if next > 0 { // after a failure: no change is skipped
					return []jetstream.WatchOpt{jetstream.ResumeFromRevision(next)}, nil
				}
				return []jetstream.WatchOpt{jetstream.UpdatesOnly()}, nil
			}, handle, nil)
		})
	}
	for _, bk := range b.s.boardStates {
		follow(bk, ">", func(e jetstream.KeyValueEntry) {
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
	}
	follow(b.s.boards, "b.*", func(e jetstream.KeyValueEntry) {
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
	wg.Go(func() {
		if err := b.watchPointers(ctx, fn); err != nil {
			b.s.log.Error("pointers stopped", "err", err)
		}
	})
	stop := b.s.online.listen(func(id string, online bool) {
		fn(classboard.BoardEvent{Type: classboard.EventPresence, BoardID: id, Online: online})
	})
	defer stop()
	wg.Wait()
}

// stallAfter is how long a watch may deliver nothing while changes its
// stream holds wait, before it is started again: its consumer lives on one
// node, which may have died, and the client library notices only after
// missing two heartbeats (10 s).
const stallAfter = 1500 * time.Millisecond

// follow runs one KV watch until ctx ends, starting it again after a
// failure, or when it stalls (filter ">" only: then this node's replica of
// the stream says what it should have delivered). begin gives each watch's
// options from the revision after the last one seen (0 before any); it may
// fail, and the watch is tried again a second later. loaded, when set, is
// called each time a watch has delivered the values it started with.
func (s *Store) follow(ctx context.Context, bk *bucket, filter string, begin func(next uint64) ([]jetstream.WatchOpt, error),
	handle func(jetstream.KeyValueEntry), loaded func()) {
	var next uint64
	var check <-chan time.Time // nil: no stall check
	if filter == ">" {
		t := time.NewTicker(stallAfter / 3)
		defer t.Stop()
		check = t.C
	}
	for ctx.Err() == nil {
		// What the stream held before: a watch of updates only skips it.
		delivered, _ := s.localLastSeq(bk)
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
		if next > 0 {
			delivered = next - 1
		}
		var behind time.Time // since when nothing came while the stream held more
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
				next, delivered, behind = e.Revision()+1, e.Revision(), time.Time{}
				handle(e)
			case now := <-check:
				last, ok := s.localLastSeq(bk)
				switch {
				case !ok || last <= delivered:
					behind = time.Time{}
				case behind.IsZero():
					behind = now
				case now.Sub(behind) > stallAfter:
					s.log.Warn("bucket watch stalled; starting it again", "bucket", bk.name, "delivered", delivered, "stored", last)
					if next == 0 {
						next = delivered + 1
					}
					break read
				}
			}
		}
		if err := w.Stop(); err != nil && ctx.Err() == nil {
			s.log.Warn("stop bucket watch", "bucket", bk.name, "err", err)
		}
	}
}

// PublishPresence tells every node (this one included) which boards have
// their live connection here: a heartbeat, sent every PresenceInterval.
func (b *Boards) PublishPresence(_ context.Context, boardIDs []string) error {
	return b.s.online.publish(boardIDs)
}

// Online reports whether some node holds the board's live connection.
func (b *Boards) Online(id string) bool { return b.s.online.isOnline(id) }
