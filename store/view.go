package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The node's view: an in-memory copy of the documents every steering write
// and every live connection checks (sessions, teachers, boards, and the
// owner and slide count of lessons), kept current by one KV watch per
// bucket, so that the hot path reads no document through a stream leader.
//
// The rules that keep it safe:
//   - A node's own writes and deletes go into its view as they succeed
//     (bucket.put, bucket.delete), so they take effect there at once.
//   - The view answers from memory only while it is known to be current:
//     every viewCheckInterval the node asks each stream for its last
//     sequence, and the view counts as current until viewMaxLag after the
//     last such question whose answer it had caught up with. A watch that
//     lags or restarts therefore turns the view off within viewMaxLag, and
//     every read goes to the store again: a revoked session is never
//     served from a view that missed its revocation for longer than that.
//   - Only what the view holds is taken from it. A key it does not hold
//     (a session made a moment ago on another node, a wrong token) is read
//     from the store, so a new document is never refused for being new.
//   - Each bucket's view holds at most its limit of keys (Config.ViewMaxKeys);
//     a bucket that outgrows it is dropped from the view (until its watch
//     starts again) and read from the store, with a warning in the log.
//   - A watch that fails is started again from the beginning, never
//     resumed: deleted and expired keys' markers leave the stream in time,
//     and a resumed watch would miss them.
//   - While a bucket's stream has no leader (its leader's server is gone
//     and an election runs), no write to it can be acknowledged, and its
//     leader cannot be asked. The view then counts as current as long as it
//     has applied everything this node's own replica holds, for at most
//     viewElectionGrace after the leader last vouched for it: so a steering
//     write does not wait for the election of a stream it only reads. A
//     key it lacks then is absent (a board secret is not a session), as no
//     key can be made without a leader.
const (
	viewCheckInterval = 200 * time.Millisecond
	viewMaxLag        = 800 * time.Millisecond
	// viewElectionGrace bounds answering without a leader's word: an
	// election takes 4-9 s (the Raft election timeout), a little more when
	// the JetStream meta leader died too.
	viewElectionGrace = 15 * time.Second
	// viewTombstoneTTL is how long a key this node deleted stays marked gone
	// if the watch never reports the delete (it resumed past it).
	viewTombstoneTTL = time.Minute
	// DefaultViewMaxKeys bounds each bucket's view when Config.ViewMaxKeys is 0.
	DefaultViewMaxKeys = 250_000
)

// viewAnswer says what a view lookup found.
type viewAnswer int

const (
	viewAsk viewAnswer = iota // not known here: read the store
	viewHit                   // the value, current within viewMaxLag
	// viewGone: this node deleted it, or its stream has no leader and the
	// view, holding all this node's replica holds, lacks it (nothing can be
	// made meanwhile).
	viewGone
)

// viewItem is one key's value in a view, or a mark that this node deleted it.
type viewItem[T any] struct {
	rev    uint64
	v      T
	goneAt time.Time // non-zero: deleted by this node, the watch has not said so yet
}

// viewTable mirrors one bucket. decode turns a stored value into what the
// view keeps, or says the key is not mirrored (keep false); changed, when
// set, is told of every change under the table's lock (indexes).
type viewTable[T any] struct {
	name    string
	max     int
	decode  func(key string, rev uint64, data []byte) (v T, keep bool, err error)
	changed func(key string, old, cur *T)
	cleared func() // the table dropped everything (overflow)
	log     func(msg string, args ...any)

	mu       sync.RWMutex
	items    map[string]viewItem[T]
	seen     uint64 // newest stream sequence applied
	loaded   bool   // the watch delivered the initial values
	overflow bool   // outgrew max: every read goes to the store
	verified time.Time
	// leaderVerified is the last verified question its stream's leader
	// answered (not this node's replica during an election).
	leaderVerified time.Time
	// electing: the question verified last found the stream without a
	// leader.
	electing bool
	// pendingAt and pendingSeq are a question not yet caught up with: the
	// stream's last sequence was pendingSeq at pendingAt (pendingLeader:
	// the leader said so).
	pendingAt     time.Time
	pendingSeq    uint64
	pendingLeader bool
}

// viewSource is a table as the watch and the store's writes feed it.
type viewSource interface {
	watched(e jetstream.KeyValueEntry)
	caughtUp(seq uint64)
	wrote(key string, rev uint64, data []byte)
	deleted(key string)
	verify(at time.Time, lastSeq uint64)
	verifyLeaderless(at time.Time, localSeq uint64)
	sweep(now time.Time)
	reset()
}

func newViewTable[T any](name string, max int, log func(string, ...any), decode func(string, uint64, []byte) (T, bool, error)) *viewTable[T] {
	return &viewTable[T]{name: name, max: max, decode: decode, log: log, items: map[string]viewItem[T]{}}
}

// fresh reports whether the table may answer; callers hold mu.
func (t *viewTable[T]) fresh() bool {
	return t.loaded && !t.overflow && time.Since(t.verified) < viewMaxLag
}

// get returns key's value when the view can vouch for it.
func (t *viewTable[T]) get(key string) (T, uint64, viewAnswer) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var zero T
	it, ok := t.items[key]
	switch {
	case ok && !it.goneAt.IsZero():
		return zero, 0, viewGone
	case ok && t.fresh():
		return it.v, it.rev, viewHit
	case !ok && t.electing && t.fresh():
		// A key made a moment ago on another node is not missing here:
		// no key can be made while the stream has no leader.
		return zero, 0, viewGone
	}
	return zero, 0, viewAsk
}

// await runs read (the store) for a key the table could not vouch for,
// asking the table again every leaderPoll while read waits: a read sent as
// its stream's leader died waits for the election, but the table answers
// again once this node sees the leader gone (checkView), for a key it
// lacks too. It returns the table's answer when that came first (viewHit,
// viewGone), else viewAsk and read's error.
func (t *viewTable[T]) await(ctx context.Context, key string, read func(context.Context) error) (T, uint64, viewAnswer, error) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- read(ctx) }()
	stop := func() {
		cancel()
		<-done // read returns promptly once cancelled; its results are dropped
	}
	poll := time.NewTicker(leaderPoll)
	defer poll.Stop()
	for {
		select {
		case err := <-done:
			cancel()
			var zero T
			return zero, 0, viewAsk, err
		case <-poll.C:
			if v, rev, ans := t.get(key); ans != viewAsk {
				stop()
				return v, rev, ans, nil
			}
		}
	}
}

// read runs fn under the read lock when the table is current, and reports
// whether it did.
func (t *viewTable[T]) read(fn func()) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if !t.fresh() {
		return false
	}
	fn()
	return true
}

func (t *viewTable[T]) watched(e jetstream.KeyValueEntry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seen = max(t.seen, e.Revision())
	if e.Operation() == jetstream.KeyValuePut {
		t.setLocked(e.Key(), e.Revision(), e.Value())
	} else {
		t.removeLocked(e.Key())
	}
	t.promoteLocked()
}

func (t *viewTable[T]) wrote(key string, rev uint64, data []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.setLocked(key, rev, data)
}

// setLocked stores a value unless the view has it at this revision or a
// newer one, or this node deleted the key (keys of mirrored buckets are
// never made again once deleted: ids and token hashes are not reused).
func (t *viewTable[T]) setLocked(key string, rev uint64, data []byte) {
	if t.overflow {
		return
	}
	old, had := t.items[key]
	if had && (old.rev >= rev || !old.goneAt.IsZero()) {
		return
	}
	v, keep, err := t.decode(key, rev, data)
	if err != nil {
		t.log("decode for the view", "bucket", t.name, "key", key, "err", err)
		t.removeLocked(key)
		return
	}
	if !keep {
		return
	}
	if !had && len(t.items) >= t.max {
		t.log("view outgrew its limit; this bucket is read from the store from now on", "bucket", t.name, "limit", t.max)
		t.overflow = true
		t.items = map[string]viewItem[T]{}
		if t.cleared != nil {
			t.cleared()
		}
		return
	}
	t.items[key] = viewItem[T]{rev: rev, v: v}
	if t.changed != nil {
		var prev *T
		if had {
			prev = &old.v
		}
		t.changed(key, prev, &v)
	}
}

func (t *viewTable[T]) removeLocked(key string) {
	old, had := t.items[key]
	if !had {
		return
	}
	delete(t.items, key)
	if t.changed != nil && old.goneAt.IsZero() {
		t.changed(key, &old.v, nil)
	}
}

func (t *viewTable[T]) deleted(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.overflow {
		return
	}
	t.removeLocked(key)
	t.items[key] = viewItem[T]{goneAt: time.Now()}
}

func (t *viewTable[T]) caughtUp(seq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seen = max(t.seen, seq)
	t.loaded = true
	t.promoteLocked()
}

// verify records that the stream's leader said its last sequence was
// lastSeq at at.
func (t *viewTable[T]) verify(at time.Time, lastSeq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pendingAt.IsZero() {
		t.pendingAt, t.pendingSeq, t.pendingLeader = at, lastSeq, true
	}
	t.promoteLocked()
}

// verifyLeaderless records that at at the stream had no leader and this
// node's replica ended at localSeq: nothing newer can have been
// acknowledged since the leader went. It counts only within
// viewElectionGrace of the leader's last word, and only when no question
// of the leader is still open (the view was behind when it went).
func (t *viewTable[T]) verifyLeaderless(at time.Time, localSeq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if at.Sub(t.leaderVerified) > viewElectionGrace || !t.pendingAt.IsZero() {
		return
	}
	t.pendingAt, t.pendingSeq, t.pendingLeader = at, localSeq, false
	t.promoteLocked()
}

// promoteLocked marks the view current as of the oldest open question
// once it has applied everything the stream held then.
func (t *viewTable[T]) promoteLocked() {
	if !t.loaded || t.pendingAt.IsZero() || t.seen < t.pendingSeq {
		return
	}
	t.verified, t.electing = t.pendingAt, !t.pendingLeader
	if t.pendingLeader {
		t.leaderVerified = t.pendingAt
	}
	t.pendingAt, t.pendingSeq, t.pendingLeader = time.Time{}, 0, false
}

// reset empties the table before a watch loads it again; until it has,
// the table answers nothing. It may outgrow its limit again.
func (t *viewTable[T]) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.items = map[string]viewItem[T]{}
	t.seen, t.loaded, t.overflow = 0, false, false
	t.verified, t.leaderVerified, t.electing = time.Time{}, time.Time{}, false
	t.pendingAt, t.pendingSeq, t.pendingLeader = time.Time{}, 0, false
	if t.cleared != nil {
		t.cleared()
	}
}

// sweep forgets deletion marks the watch never confirmed.
func (t *viewTable[T]) sweep(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, it := range t.items {
		if !it.goneAt.IsZero() && now.Sub(it.goneAt) > viewTombstoneTTL {
			delete(t.items, k)
		}
	}
}

// decodeJSON is a view decoder that keeps the whole document.
func decodeJSON[T any](_ string, _ uint64, data []byte) (T, bool, error) {
	var v T
	err := json.Unmarshal(data, &v)
	return v, err == nil, err
}

// runView follows every mirrored bucket and checks that the view keeps up,
// until ctx ends. Each bucket is checked on its own, so a stream whose
// leader does not answer delays no other bucket's check.
func (s *Store) runView(ctx context.Context, tables map[*bucket]viewSource) {
	var wg sync.WaitGroup
	for bk, t := range tables {
		wg.Go(func() { s.followView(ctx, bk, t) })
		wg.Go(func() {
			tick := time.NewTicker(viewCheckInterval)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					s.checkView(ctx, bk, t)
				}
			}
		})
	}
	wg.Go(func() {
		sweep := time.NewTicker(viewTombstoneTTL / 2)
		defer sweep.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-sweep.C:
				for _, t := range tables {
					t.sweep(now)
				}
			}
		}
	})
	wg.Wait()
}

// checkView asks bk's stream for its last sequence, or, while the stream
// has no leader, looks at this node's replica instead. A question sent to
// a leader that has just died is never answered: while it waits, the
// replica is looked at too, so that the view does not go stale (and send
// reads into the election) before the question times out.
func (s *Store) checkView(ctx context.Context, bk *bucket, t viewSource) {
	if local, ok := s.leaderless(bk); ok {
		t.verifyLeaderless(time.Now(), local)
		return
	}
	at := time.Now()
	ctx, cancel := context.WithTimeout(ctx, viewMaxLag)
	defer cancel()
	type answer struct {
		last uint64
		err  error
	}
	answered := make(chan answer, 1) // the asker never blocks: cancel ends it
	go func() {
		info, err := bk.stream.Info(ctx)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		answered <- answer{last: info.State.LastSeq}
	}()
	poll := time.NewTicker(leaderPoll)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return // the view goes stale and reads go to the store
		case a := <-answered:
			if a.err == nil {
				t.verify(at, a.last)
			}
			return
		case <-poll.C:
			if local, ok := s.leaderless(bk); ok {
				t.verifyLeaderless(time.Now(), local)
				return
			}
		}
	}
}

// followView runs bk's watch into t: first every current value, then each
// change. After a failure it loads everything again rather than resume:
// the markers of deleted and expired keys do not stay in a stream for
// ever, and a resumed watch would miss the ones removed meanwhile. The
// table keeps what it has until the new watch is made: while the stream
// elects a leader no watch can be made, and the table may go on answering
// (see checkView).
func (s *Store) followView(ctx context.Context, bk *bucket, t viewSource) {
	var first uint64
	s.follow(ctx, bk, watchSpec{filter: ">", begin: func(uint64) (watchFrom, error) {
		// Once the initial values are in, the view holds everything the
		// stream held before the watch began: at least what this node's
		// replica holds now, which asks no leader.
		if last, ok := s.localLastSeq(bk); ok {
			first = last
			return watchFrom{}, nil
		}
		info, err := bk.stream.Info(ctx)
		if err != nil {
			return watchFrom{}, fmt.Errorf("view: read stream state: %w", err)
		}
		first = info.State.LastSeq
		return watchFrom{}, nil
	}, started: t.reset, handle: t.watched, loaded: func() { t.caughtUp(first) }})
}

// sleepCtx waits d or until ctx ends; false when ctx ended.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
