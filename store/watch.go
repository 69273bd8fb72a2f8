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
			b.s.follow(ctx, bk, watchSpec{filter: filter, handle: handle, begin: func(next uint64) (watchFrom, error) {
				// After a failure: no change is skipped.
				return watchFrom{updatesOnly: true, startSeq: next}, nil
			}})
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
// stream holds wait, before it is started again. A watch's consumer lives
// on its stream's leader (directwatch.go) and falls silent when that
// server goes; this catches the rest (a consumer left on a server that
// handed its leadership over).
const stallAfter = 1500 * time.Millisecond

// A watch started again soon after its last start is given more time
// before the next restart for silence or a stall: patience doubles the
// first thresholds (stallAfter, watchSilence) per quick restart, up to
// maxPatience times, and falls back to them once a watch has run for
// watchSettled. Why: a restart makes a consumer on the leader and (for the
// view) reloads a whole bucket, while the view falls back to the store's
// leaders; on a CPU-starved node whose watches are alive but behind, each
// restart added that load and the next one came sooner (issue 17: 20
// restarts in 15 s, then 10 s of store timeouts). A dead consumer's
// server is still caught at the first thresholds: a watch that ran for a
// while uses them, and at any patience a new leader elected after its
// server died is followed within stallAfter/3 (the leader check below).
const (
	maxPatience  = 8
	watchSettled = 20 * time.Second
)

// patience scales a watch's restart thresholds.
type patience struct {
	scale int // 1, 2, 4 ... maxPatience
}

// restarted records that a watch which ran for ran is started again, and
// returns the next watch's scale.
func (p *patience) restarted(ran time.Duration) int {
	switch {
	case ran >= watchSettled:
		p.scale = 1
	case p.scale < maxPatience:
		p.scale *= 2
	}
	return p.scale
}

// watchRetry is the pause before making a watch again after a failed
// create: during an election nobody answers, and the watch should start
// as soon as a leader is there.
const watchRetry = 250 * time.Millisecond

// watchSpec is what follow runs: begin gives each watch's start from the
// revision after the last one seen (0 before any); it may fail, and the
// watch is tried again. started, when set, is called once a watch is made,
// before its first entry. loaded, when set, is called each time a watch has
// delivered the values it started with.
type watchSpec struct {
	filter  string
	begin   func(next uint64) (watchFrom, error)
	started func()
	handle  func(jetstream.KeyValueEntry)
	loaded  func()
}

// follow runs one bucket watch until ctx ends, starting it again after a
// failure, when its consumer's server went, or when it stalls (filter ">"
// only: then this node's replica of the stream says what it should have
// delivered).
func (s *Store) follow(ctx context.Context, bk *bucket, spec watchSpec) {
	var next uint64
	check := time.NewTicker(stallAfter / 3)
	defer check.Stop()
	wait := patience{scale: 1}
	scale := wait.scale
	clock := checkClock{period: stallAfter / 3, prev: time.Now()}
	for ctx.Err() == nil {
		if _, none := s.leaderless(bk); none {
			// Nobody would answer a create: wait for the election, and
			// make the watch as soon as a leader is there.
			if !sleepCtx(ctx, leaderPoll) {
				return
			}
			continue
		}
		// What the stream held before: a watch of updates only skips it.
		delivered, known := s.localLastSeq(bk)
		var w *kvWatch
		from, err := spec.begin(next)
		if err == nil {
			from.silence = time.Duration(scale) * watchSilence
			w, err = s.watchBucket(ctx, bk, spec.filter, from)
		}
		if err != nil {
			s.log.Warn("watch bucket", "bucket", bk.name, "err", err)
			if !sleepCtx(ctx, watchRetry) {
				return
			}
			continue
		}
		if spec.started != nil {
			spec.started()
		}
		if next > 0 {
			delivered = next - 1
		}
		madeAt, stall := time.Now(), time.Duration(scale)*stallAfter
		var behind time.Time // since when nothing came while the stream held more
	read:
		for {
			select {
			case <-ctx.Done():
				break read
			case <-w.Ended():
				scale = wait.restarted(time.Since(madeAt))
				s.log.Warn("bucket watch ended (its server went or a message was missed); starting it again", "bucket", bk.name, "why", w.Why(), "patience", scale)
				if next == 0 && known {
					// Nothing delivered yet: the next watch starts after
					// what the stream held when this one began, not at
					// its own start, which would skip the writes between.
					next = delivered + 1
				}
				break read
			case e := <-w.Updates():
				if e == nil { // the end of the initial values
					if spec.loaded != nil {
						spec.loaded()
					}
					continue
				}
				next, delivered, behind = e.Revision()+1, e.Revision(), time.Time{}
				spec.handle(e)
			case <-check.C:
				// The time read, not the tick's: a tick waits in its
				// channel while the node cannot run.
				now := time.Now()
				if paused := clock.paused(now); paused > 0 && !behind.IsZero() {
					behind = behind.Add(paused) // not the watch's stall
				}
				st, ok := s.localStream(bk)
				if !ok {
					continue
				}
				if leader := s.liveLeader(st); leader != "" && w.server != "" && leader != w.server {
					// The leadership moved (a hand-over, the spreading of the
					// board-state leaders): follow it, so that this watch
					// dies only with its stream's leader.
					s.log.Info("bucket watch follows its stream's new leader", "bucket", bk.name, "from", w.server, "to", leader)
					if next == 0 {
						next = delivered + 1
					}
					break read
				}
				// A stall is a watch that handed nothing over while its
				// stream held more: one that delivers slowly resets it with
				// each entry, and messages received and not yet handed
				// over say its consumer is there and this node is slow.
				switch last := st.State.LastSeq; {
				case spec.filter != ">" || last <= delivered || w.queued():
					behind = time.Time{}
				case behind.IsZero():
					behind = now
				case now.Sub(behind) > stall:
					scale = wait.restarted(now.Sub(madeAt))
					s.log.Warn("bucket watch stalled; starting it again", "bucket", bk.name, "delivered", delivered, "stored", last, "patience", scale)
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
