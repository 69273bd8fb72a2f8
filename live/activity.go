package live

import (
	"container/heap"
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

// ActivityInterval is the least time between two frames of one board's
// activity on a node's connections: however many pupils answer, a board
// gets at most eight frames a second. A board quiet for an interval gets
// its next change at once; one that keeps changing gets a frame an
// interval, so an answer waits in the feed for an interval at most. Eight
// a second is still "a few" for the board's and the teacher's
// connections, and keeps that wait at half of issue 15's answer -> board
// target (p99 at most 250 ms), leaving the other half to the answer
// reaching this node's view of the store, the websocket and a busy node:
// at five a second (200 ms) the feed's wait alone was most of a p99 of
// 261-265 ms on a loaded 2-core machine (docs/benchmarks.md).
const ActivityInterval = 125 * time.Millisecond

// ActivityFeed sends each board's activity to its connections on this
// node, coalesced per board: a change to a board that got no frame for an
// interval is sent at once, a change within the interval after a frame
// waits for the interval's end, so each board keeps its own schedule (no
// burst of every board on one tick) and gets at most a frame an interval.
// Frames are built from the node's view of the store. The board sees the
// board's view (approved answers only, no names); the teacher's devices
// the owner's.
type ActivityFeed struct {
	hub      *Hub
	src      classboard.ActivityEvents
	interval time.Duration
	wake     chan struct{} // a board is due at once (capacity 1)

	mu sync.Mutex
	// boards holds the boards that got a frame within the last interval
	// or are due one, with whether they changed since their last frame;
	// due holds when the feed looks at each of them next (one entry per
	// board, soonest first): one timer for all boards, and a board that
	// stayed quiet for an interval leaves both.
	boards map[string]bool
	due    dueBoards
}

// NewActivityFeed returns a feed of src's activities to hub's connections,
// sending a board at most a frame every interval (0: ActivityInterval).
func NewActivityFeed(hub *Hub, src classboard.ActivityEvents, interval time.Duration) *ActivityFeed {
	if interval <= 0 {
		interval = ActivityInterval
	}
	return &ActivityFeed{hub: hub, src: src, interval: interval, wake: make(chan struct{}, 1), boards: map[string]bool{}}
}

// Changed marks a board's activity as changed. It never blocks.
func (f *ActivityFeed) Changed(boardID string) {
	f.mu.Lock()
	_, known := f.boards[boardID]
	f.boards[boardID] = true
	if !known {
		heap.Push(&f.due, dueBoard{at: time.Now(), id: boardID})
	}
	f.mu.Unlock()
	if !known {
		select {
		case f.wake <- struct{}{}:
		default: // Run is woken already
		}
	}
}

// Run follows the activities and sends the frames until ctx ends.
func (f *ActivityFeed) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { f.src.WatchActivities(ctx, f.Changed) })
	defer wg.Wait()
	timer := time.NewTimer(f.interval)
	defer timer.Stop()
	for {
		if next, ok := f.flush(time.Now()); ok {
			timer.Reset(time.Until(next))
		} else {
			timer.Stop()
		}
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		case <-timer.C:
		}
	}
}

// flush sends their frame to the boards due by now that changed since
// their last one, and returns when the next board is due (ok is false
// when none is).
func (f *ActivityFeed) flush(now time.Time) (next time.Time, ok bool) {
	var send []string
	f.mu.Lock()
	for len(f.due) > 0 && !f.due[0].at.After(now) {
		id := f.due[0].id
		if !f.boards[id] {
			// Quiet for an interval: its next change goes at once.
			delete(f.boards, id)
			heap.Pop(&f.due)
			continue
		}
		// Unmarked before its view is read, so a change from now on gets
		// a frame of its own: no change is coalesced away.
		f.boards[id] = false
		f.due[0].at = now.Add(f.interval)
		heap.Fix(&f.due, 0)
		send = append(send, id)
	}
	if len(f.due) > 0 {
		next, ok = f.due[0].at, true
	}
	f.mu.Unlock()
	for _, id := range send {
		f.send(id)
	}
	return next, ok
}

// send queues a board's activity on its connections here. The board's
// view (for the board and the pupils) and the owner's are each read and
// encoded at most once, however many connections follow the board: a
// class of 30 would otherwise build its aggregate 30 times a frame.
func (f *ActivityFeed) send(id string) {
	conns := f.hub.conns(id)
	if len(conns) == 0 {
		return
	}
	view := sync.OnceValues(func() (*classboard.Activity, bool) { return f.src.Snapshot(id, false) })
	forBoard := sync.OnceValues(func() ([]byte, bool) { return encodeActivity(id, view) })
	forOwner := sync.OnceValues(func() ([]byte, bool) {
		return encodeActivity(id, func() (*classboard.Activity, bool) { return f.src.Snapshot(id, true) })
	})
	var status *roomStatus // the pupils' room's, shared by the class
	for _, c := range conns {
		if c.pupil != nil {
			act, ok := view()
			if !ok {
				return // the view is loading; it reports every board once loaded
			}
			if status == nil || status.room.RoomID != c.pupil.seat.RoomID {
				status = newRoomStatus(act, c.pupil.seat.RoomID)
			}
			f.offerPupil(c, status)
			continue
		}
		frame := forOwner
		if c.isBoard {
			frame = forBoard
		}
		msg, ok := frame()
		if !ok {
			return
		}
		c.offer(msg)
	}
}

// encodeActivity returns the frame of the activity read returns (none:
// an activity with StatusNone); ok is false while the view loads.
func encodeActivity(boardID string, read func() (*classboard.Activity, bool)) ([]byte, bool) {
	act, ok := read()
	if !ok {
		return nil, false
	}
	if act == nil {
		act = &classboard.Activity{BoardID: boardID, Status: classboard.StatusNone}
	}
	return Encode(Message{Type: TypeActivity, Activity: act}), true
}

// roomStatus is what a room's pupils hear of it, built once for all of
// them.
type roomStatus struct {
	room    *classboard.Room
	current bool   // the room is the board's activity now
	key     string // compared with what a pupil heard last
	msg     []byte // the frame, encoded when first sent
}

// newRoomStatus returns the status of room roomID given the board's
// activity from the view (nil: none): a room the activity is not in has
// ended.
func newRoomStatus(act *classboard.Activity, roomID string) *roomStatus {
	room := &classboard.Room{RoomID: roomID, Status: classboard.StatusEnded}
	current := act != nil && act.RoomID == roomID && act.Status != classboard.StatusNone
	if current {
		room.Question, room.Kind, room.Status, room.Options = act.Question, act.Kind, act.Status, act.Options
		room.MaxMarkers = act.MaxMarkers
	}
	key := fmt.Sprint(room.Question, room.Kind, room.Status, room.Options, room.MaxMarkers)
	return &roomStatus{room: room, current: current, key: key}
}

func (s *roomStatus) frame() []byte {
	if s.msg == nil {
		s.msg = Encode(Message{Type: TypeRoom, Room: s.room})
	}
	return s.msg
}

// dueBoard is when the feed looks at a board next.
type dueBoard struct {
	at time.Time
	id string
}

// dueBoards is a min-heap of dueBoard by time (container/heap).
type dueBoards []dueBoard

func (d dueBoards) Len() int           { return len(d) }
func (d dueBoards) Less(i, j int) bool { return d[i].at.Before(d[j].at) }
func (d dueBoards) Swap(i, j int)      { d[i], d[j] = d[j], d[i] }
func (d *dueBoards) Push(x any)        { *d = append(*d, x.(dueBoard)) }
func (d *dueBoards) Pop() any {
	old := *d
	x := old[len(old)-1]
	*d = old[:len(old)-1]
	return x
}

// offerPupil queues a pupil's room status when it changed, or tells the
// pupil they were removed and closes the connection. While the room is the
// board's current one, the seat is the pupil's until the view shows
// another pupil there, or no one after it showed them. A room the view
// does not show as current has ended, once the view showed the pupil in
// it: before, the view may just not have caught up with a new room.
//
// status is the pupil's room's, from the board's activity in the view,
// read by the caller, which sends nothing while the view is loading: it
// reports every board once loaded.
func (f *ActivityFeed) offerPupil(c *Conn, status *roomStatus) {
	p := c.pupil
	holder, seated := f.src.SeatHolder(p.seat.RoomID, p.seat.Seat)
	c.mu.Lock()
	removed := status.current && (seated && holder != p.seat.TokenHash || !seated && p.seen)
	p.seen = p.seen || status.current && seated && holder == p.seat.TokenHash
	send := !removed && status.key != p.last && (status.current || p.seen)
	if send {
		p.last = status.key
	}
	c.mu.Unlock()
	switch {
	case removed:
		c.finish(ReasonRemoved, Encode(Message{Type: TypeRemoved}))
	case send:
		c.offer(status.frame())
	}
}

// Offer queues the board's current activity, if it has one, on a new
// connection: a client that reconnected after a failover sees the whole
// aggregate at once. A pupil's connection gets its room's status.
func (f *ActivityFeed) Offer(c *Conn) {
	if c.pupil != nil {
		if act, ok := f.src.Snapshot(c.boardID, false); ok {
			f.offerPupil(c, newRoomStatus(act, c.pupil.seat.RoomID))
		}
		return
	}
	if act, _ := f.src.Snapshot(c.boardID, !c.isBoard); act != nil {
		c.offer(Encode(Message{Type: TypeActivity, Activity: act}))
	}
}
