package live

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/classboard/classboard"
)

// TypeActivity carries a board's activity with its live aggregate.
const TypeActivity = "activity"

// A pupil's connection hears its room's status (TypeRoom: the question,
// its kind, options and status, never an answer) when it changes, and
// TypeRemoved before it is closed when the teacher removed the pupil.
const (
	TypeRoom    = "room"
	TypeRemoved = "removed"
	// ReasonRemoved closes a removed pupil's connection.
	ReasonRemoved = "removed"
)

// pupilConn is what the feed keeps of a pupil's connection.
type pupilConn struct {
	seat classboard.PupilSeat
	// Used by the feed's goroutine (and Offer before the connection is
	// handed to it) under the connection's mutex.
	seen bool   // the view has shown the pupil in the seat
	last string // the room status last queued
}

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
		// The board's activity for its pupils, read once for all of
		// them: a class of 30 would build its aggregate 30 times a flush.
		var forPupils *classboard.Activity
		pupilsRead, pupilsOK := false, false
		for _, c := range conns {
			if c.pupil != nil {
				if !pupilsRead {
					forPupils, pupilsOK = f.src.Snapshot(id, false)
					pupilsRead = true
				}
				if pupilsOK {
					f.offerPupil(c, forPupils)
				}
				continue
			}
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

// offerPupil queues a pupil's room status when it changed, or tells the
// pupil they were removed and closes the connection. While the room is the
// board's current one, the seat is the pupil's until the view shows
// another pupil there, or no one after it showed them. A room the view
// does not show as current has ended, once the view showed the pupil in
// it: before, the view may just not have caught up with a new room.
//
// act is the board's activity from the view (nil: none), read by the
// caller, which sends nothing while the view is loading: it reports every
// board once loaded.
func (f *ActivityFeed) offerPupil(c *Conn, act *classboard.Activity) {
	p := c.pupil
	room := &classboard.Room{RoomID: p.seat.RoomID, Status: classboard.StatusEnded}
	current := act != nil && act.RoomID == p.seat.RoomID && act.Status != classboard.StatusNone
	if current {
		room.Question, room.Kind, room.Status, room.Options = act.Question, act.Kind, act.Status, act.Options
		room.MaxMarkers = act.MaxMarkers
	}
	holder, seated := f.src.SeatHolder(p.seat.RoomID, p.seat.Seat)
	key := fmt.Sprint(room.Question, room.Kind, room.Status, room.Options, room.MaxMarkers)
	c.mu.Lock()
	removed := current && (seated && holder != p.seat.TokenHash || !seated && p.seen)
	p.seen = p.seen || current && seated && holder == p.seat.TokenHash
	send := !removed && key != p.last && (current || p.seen)
	if send {
		p.last = key
	}
	c.mu.Unlock()
	switch {
	case removed:
		c.finish(ReasonRemoved, Encode(Message{Type: TypeRemoved}))
	case send:
		c.offer(Encode(Message{Type: TypeRoom, Room: room}))
	}
}

// Offer queues the board's current activity, if it has one, on a new
// connection: a client that reconnected after a failover sees the whole
// aggregate at once. A pupil's connection gets its room's status.
func (f *ActivityFeed) Offer(c *Conn) {
	if c.pupil != nil {
		if act, ok := f.src.Snapshot(c.boardID, false); ok {
			f.offerPupil(c, act)
		}
		return
	}
	if act, _ := f.src.Snapshot(c.boardID, !c.isBoard); act != nil {
		c.offer(Encode(Message{Type: TypeActivity, Activity: act}))
	}
}
