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
// one KV watch each for the whole node, and the boards' presence, and calls fn for
// every change.
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
		wg.Go(func() { b.follow(ctx, bk, filter, handle) })
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
	stop := b.s.online.listen(func(id string, online bool) {
		fn(classboard.BoardEvent{Type: classboard.EventPresence, BoardID: id, Online: online})
	})
	defer stop()
	wg.Wait()
}

// stallAfter is how long a watch may leave changes its stream holds
// undelivered before it is started again: its consumer lives on one node,
// which may have died, and the client library notices only after missing
// two heartbeats (10 s).
const stallAfter = 1500 * time.Millisecond

// follow runs one KV watch of the changes from now on until ctx ends,
// starting it again after a failure, or when it stalls (filter ">" only:
// then this node's replica of the stream says what it should have
// delivered), from the revision after the last one seen.
func (b *Boards) follow(ctx context.Context, bk *bucket, filter string, handle func(jetstream.KeyValueEntry)) {
	var next uint64
	var check <-chan time.Time // nil: no stall check
	if filter == ">" {
		t := time.NewTicker(stallAfter / 3)
		defer t.Stop()
		check = t.C
	}
	for ctx.Err() == nil {
		opts := []jetstream.WatchOpt{jetstream.UpdatesOnly()}
		if next > 0 {
			opts = []jetstream.WatchOpt{jetstream.ResumeFromRevision(next)}
		}
		delivered, _ := b.s.localLastSeq(bk) // what UpdatesOnly skips
		w, err := bk.kv.Watch(ctx, filter, opts...)
		if err != nil {
			b.s.log.Warn("watch bucket", "bucket", bk.name, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
				continue
			}
		}
		if next > 0 {
			delivered = next - 1
		}
		var behind time.Time // since when the stream holds more than was delivered
	read:
		for {
			select {
			case <-ctx.Done():
				break read
			case e, ok := <-w.Updates():
				if !ok {
					break read
				}
				if e == nil {
					continue // the end of the initial values
				}
				next, delivered = e.Revision()+1, e.Revision()
				handle(e)
			case now := <-check:
				last, ok := b.s.localLastSeq(bk)
				switch {
				case !ok || last <= delivered:
					behind = time.Time{}
				case behind.IsZero():
					behind = now
				case now.Sub(behind) > stallAfter:
					b.s.log.Warn("bucket watch stalled; starting it again", "bucket", bk.name, "delivered", delivered, "stored", last)
					if next == 0 {
						next = delivered + 1
					}
					break read
				}
			}
		}
		if err := w.Stop(); err != nil && ctx.Err() == nil {
			b.s.log.Warn("stop bucket watch", "bucket", bk.name, "err", err)
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
