package live

import (
	"context"
	"sync"
	"time"

	"github.com/classboard/classboard"
)

// TypeActivity carries a board's activity with its live aggregate.
const TypeActivity = "activity"

// ActivityInterval is how often the feed sends a board's activity at most:
// however many pupils answer, a board gets at most five frames a second.
const ActivityInterval = 200 * time.Millisecond

// ActivityFeed sends each board's activity to its connections on this
// node, coalesced: changes mark a board, and every ActivityInterval the
// marked boards get one frame built from the node's view of the store.
// The board sees the board's view (approved answers only, no names); the
// teacher's devices the owner's.
type ActivityFeed struct {
	hub      *Hub
	src      classboard.ActivityEvents
	interval time.Duration

	mu    sync.Mutex
	dirty map[string]struct{}
}

// NewActivityFeed returns a feed of src's activities to hub's connections.
func NewActivityFeed(hub *Hub, src classboard.ActivityEvents, interval time.Duration) *ActivityFeed {
	if interval <= 0 {
		interval = ActivityInterval
	}
	return &ActivityFeed{hub: hub, src: src, interval: interval, dirty: map[string]struct{}{}}
}

// Changed marks a board's activity as changed. It never blocks.
func (f *ActivityFeed) Changed(boardID string) {
	f.mu.Lock()
	f.dirty[boardID] = struct{}{}
	f.mu.Unlock()
}

// Run follows the activities and sends the frames until ctx ends.
func (f *ActivityFeed) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { f.src.WatchActivities(ctx, f.Changed) })
	defer wg.Wait()
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f.flush()
		}
	}
}

func (f *ActivityFeed) flush() {
	f.mu.Lock()
	if len(f.dirty) == 0 {
		f.mu.Unlock()
		return
	}
	boards := f.dirty
	f.dirty = map[string]struct{}{}
	f.mu.Unlock()
	for id := range boards {
		conns := f.hub.conns(id)
		if len(conns) == 0 {
			continue
		}
		var forBoard, forOwner []byte
		for _, c := range conns {
			msg, ok := f.frame(id, c.isBoard, &forBoard, &forOwner)
			if !ok {
				break // the view is loading; it reports every board once loaded
			}
			c.offer(msg)
		}
	}
}

// frame returns the encoded activity for a board's or an owner's
// connection, building each at most once per flush; ok is false while the
// view loads.
func (f *ActivityFeed) frame(boardID string, isBoard bool, forBoard, forOwner *[]byte) ([]byte, bool) {
	dst := forOwner
	if isBoard {
		dst = forBoard
	}
	if *dst == nil {
		act, ok := f.src.Snapshot(boardID, !isBoard)
		if !ok {
			return nil, false
		}
		if act == nil {
			act = &classboard.Activity{BoardID: boardID, Status: classboard.StatusNone}
		}
		*dst = Encode(Message{Type: TypeActivity, Activity: act})
	}
	return *dst, true
}

// Offer queues the board's current activity, if it has one, on a new
// connection: a client that reconnected after a failover sees the whole
// aggregate at once.
func (f *ActivityFeed) Offer(c *Conn) {
	if act, _ := f.src.Snapshot(c.boardID, !c.isBoard); act != nil {
		c.offer(Encode(Message{Type: TypeActivity, Activity: act}))
	}
}
