package store

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/classboard/classboard"
)

// entries calls fn with every current value of the keys matching filter.
func entries[T any](ctx context.Context, b *bucket, filter string, fn func(key string, v T)) error {
	w, err := b.kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("list %s/%s: %w", b.name, filter, err)
	}
	defer w.Stop() //nolint:errcheck // a listing's watch; nothing to do about a failed stop
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("list %s/%s: %w", b.name, filter, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok || e == nil {
				return nil // nil marks the end of the current values
			}
			var v T
			if err := json.Unmarshal(e.Value(), &v); err != nil {
				return fmt.Errorf("decode %s/%s: %w", b.name, e.Key(), err)
			}
			fn(e.Key(), v)
		}
	}
}

// lastPart is the part of a key after its last dot.
func lastPart(key string) string { return key[strings.LastIndexByte(key, '.')+1:] }

// WatchActivities follows the activities buckets from their current
// values, keeping this node's view of every room, and calls fn with the
// board of each change. A node that starts rebuilds the whole view from the
// store, so no acknowledged answer is missing. A watch that fails starts
// again from scratch, not from where it stopped: the markers of deleted and
// expired keys leave the stream in time, and a resumed watch would miss
// them. Each shard's watch is its own: one restarting leaves the others'
// rooms in the view. While a shard loads, Snapshot answers not ready for
// boards it does not hold.
func (a *Activities) WatchActivities(ctx context.Context, fn func(boardID string)) {
	select {
	case <-a.s.ready:
	case <-ctx.Done():
		return
	}
	var wg sync.WaitGroup
	for shard := range activityShards {
		wg.Go(func() { a.watchShard(ctx, shard, fn) })
	}
	wg.Wait()
}

func (a *Activities) watchShard(ctx context.Context, shard int, fn func(boardID string)) {
	var before []string // the boards with an activity when the watch (re)started
	a.s.follow(ctx, a.bucket(shard), watchSpec{filter: ">", begin: func(uint64) (watchFrom, error) {
		before = a.reset(shard)
		return watchFrom{}, nil
	}, handle: func(e jetstream.KeyValueEntry) {
		if board, loaded := a.note(shard, e); board != "" && loaded {
			fn(board)
		}
	}, loaded: func() {
		// Every board gets a whole frame: those with an activity now, and
		// those whose activity went while the watch was down.
		for _, id := range append(before, a.markLoaded(shard)...) {
			fn(id)
		}
	}})
}

// reset empties a shard's view for a watch starting from scratch and
// returns the boards it had.
func (a *Activities) reset(shard int) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	ids := slices.Collect(maps.Keys(a.views[shard].acts))
	a.views[shard] = newShardView()
	return ids
}

// markLoaded notes that a shard's view holds every current value and
// returns the boards with an activity there.
func (a *Activities) markLoaded(shard int) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.views[shard].loaded = true
	return slices.Collect(maps.Keys(a.views[shard].acts))
}

// note applies one change to a shard's view and returns the board it
// touches ("" for keys the view does not keep: join codes, counters) and
// whether the view is loaded.
func (a *Activities) note(shard int, e jetstream.KeyValueEntry) (string, bool) {
	key := e.Key()
	parts := strings.Split(key, ".")
	put := e.Operation() == jetstream.KeyValuePut
	a.mu.Lock()
	defer a.mu.Unlock()
	v := a.views[shard]
	switch {
	case parts[0] == "a" && len(parts) == 2:
		board := parts[1]
		if old := v.acts[board]; old != nil {
			if !put || old.RoomID != roomOf(e) {
				delete(v.rooms, old.RoomID)
			}
			if v.codes[old.JoinCode] == board {
				delete(v.codes, old.JoinCode)
			}
		}
		if !put {
			delete(v.acts, board)
			delete(v.revs, board)
			return board, v.loaded
		}
		var doc activityDoc
		if err := json.Unmarshal(e.Value(), &doc); err != nil {
			a.s.log.Error("decode watched activity", "key", key, "err", err)
			return "", v.loaded
		}
		v.acts[board] = &doc
		v.revs[board] = e.Revision()
		if doc.JoinCode != "" {
			v.codes[doc.JoinCode] = board
		}
		return board, v.loaded
	case (parts[0] == "p" || parts[0] == "x") && len(parts) == 3:
		room, id := parts[1], parts[2]
		rv := v.rooms[room]
		if rv == nil && !put {
			return "", v.loaded // the room was dropped with its activity
		}
		if rv == nil {
			rv = &roomView{pupils: map[string]pupilDoc{}, answers: map[string]answerDoc{}}
			v.rooms[room] = rv
		}
		if parts[0] == "p" {
			return noteDoc(e, rv.pupils, id, func(d pupilDoc) string { return d.BoardID }, a), v.loaded
		}
		board := noteDoc(e, rv.answers, id, func(d answerDoc) string { return d.BoardID }, a)
		if d, ok := rv.answers[id]; ok {
			d.rev = e.Revision()
			rv.answers[id] = d
		}
		return board, v.loaded
	}
	return "", v.loaded
}

// noteDoc puts or removes one pupil or answer of a room's view and
// returns its board.
func noteDoc[T any](e jetstream.KeyValueEntry, m map[string]T, id string, board func(T) string, a *Activities) string {
	if e.Operation() != jetstream.KeyValuePut {
		old, ok := m[id]
		delete(m, id)
		if !ok {
			return ""
		}
		return board(old)
	}
	var d T
	if err := json.Unmarshal(e.Value(), &d); err != nil {
		a.s.log.Error("decode watched room entry", "key", e.Key(), "err", err)
		return ""
	}
	m[id] = d
	return board(d)
}

// roomOf returns the room of an activity entry ("" when it has none).
func roomOf(e jetstream.KeyValueEntry) string {
	var doc struct {
		RoomID string `json:"room_id"`
	}
	if e.Operation() == jetstream.KeyValuePut {
		json.Unmarshal(e.Value(), &doc) //nolint:errcheck // a bad document is logged by note
	}
	return doc.RoomID
}

// Snapshot returns the board's activity from this node's view (nil when
// it has none); ok is false while a shard that could hold it is loading.
// A board's activity lives in its state shard; should two shards hold
// one (a board's activity left where an earlier version kept every
// activity, in shard 0), the later started one is the board's.
func (a *Activities) Snapshot(boardID string, owner bool) (act *classboard.Activity, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var found *shardView
	ok = true
	for _, v := range a.views {
		doc := v.acts[boardID]
		switch {
		case !v.loaded:
			ok = false
		case doc != nil && (found == nil || doc.StartedAt.After(found.acts[boardID].StartedAt)):
			found = v
		}
	}
	if found == nil {
		return nil, ok
	}
	doc := found.acts[boardID]
	rv := found.rooms[doc.RoomID]
	if rv == nil {
		rv = &roomView{}
	}
	return doc.activity(boardID, found.revs[boardID], rv, owner), true
}

// SeatHolder returns the token hash of the pupil in a seat, as this node's
// view has it.
func (a *Activities) SeatHolder(roomID, seat string) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, v := range a.views {
		if rv := v.rooms[roomID]; rv != nil {
			if p, ok := rv.pupils[seat]; ok {
				return p.TokenHash, true
			}
		}
	}
	return "", false
}
