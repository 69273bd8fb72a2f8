package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/token"
)

// set writes v to key whatever it held, with a TTL when ttl > 0. A retried
// attempt carries the same message id, so a write that did land is not
// stored twice.
func (b *bucket) set(ctx context.Context, key string, v any, ttl time.Duration) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s/%s: %w", b.name, key, err)
	}
	opts := []jetstream.PublishOpt{jetstream.WithMsgID(token.New())}
	if ttl > 0 {
		opts = append(opts, jetstream.WithMsgTTL(ttl))
	}
	_, err = retry(ctx, func(ctx context.Context) (*jetstream.PubAck, error) {
		return b.js.Publish(ctx, "$KV."+b.name+"."+key, data, opts...)
	})
	if err != nil {
		return fmt.Errorf("set %s/%s: %w", b.name, key, err)
	}
	return nil
}

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

// WatchActivities follows the activities bucket from its current values,
// keeping this node's view of every room, and calls fn with the board of
// each change. A node that starts rebuilds the whole view from the store,
// so no acknowledged answer is missing. A watch that fails starts again
// from scratch, not from where it stopped: the markers of deleted and
// expired keys leave the stream in time, and a resumed watch would miss
// them. While it loads, Snapshot answers not ready.
func (a *Activities) WatchActivities(ctx context.Context, fn func(boardID string)) {
	select {
	case <-a.s.ready:
	case <-ctx.Done():
		return
	}
	var before []string // the boards with an activity when the watch (re)started
	a.s.follow(ctx, a.s.activities, watchSpec{filter: ">", begin: func(uint64) (watchFrom, error) {
		before = a.reset()
		return watchFrom{}, nil
	}, handle: func(e jetstream.KeyValueEntry) {
		if board := a.note(e); board != "" && a.isLoaded() {
			fn(board)
		}
	}, loaded: func() {
		// Every board gets a whole frame: those with an activity now, and
		// those whose activity went while the watch was down.
		for _, id := range append(before, a.markLoaded()...) {
			fn(id)
		}
	}})
}

// reset empties the view for a watch starting from scratch and returns
// the boards it had.
func (a *Activities) reset() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	ids := make([]string, 0, len(a.acts))
	for id := range a.acts {
		ids = append(ids, id)
	}
	a.acts, a.revs, a.rooms, a.loaded = map[string]*activityDoc{}, map[string]uint64{}, map[string]*roomView{}, false
	return ids
}

// markLoaded notes that the view holds every current value and returns
// the boards with an activity.
func (a *Activities) markLoaded() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.loaded = true
	ids := make([]string, 0, len(a.acts))
	for id := range a.acts {
		ids = append(ids, id)
	}
	return ids
}

func (a *Activities) isLoaded() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.loaded
}

// note applies one change to the view and returns the board it touches
// ("" for keys the view does not keep: join codes, tokens, counters).
func (a *Activities) note(e jetstream.KeyValueEntry) string {
	key := e.Key()
	parts := strings.Split(key, ".")
	put := e.Operation() == jetstream.KeyValuePut
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case parts[0] == "a" && len(parts) == 2:
		board := parts[1]
		if old := a.acts[board]; old != nil && (!put || old.RoomID != roomOf(e)) {
			delete(a.rooms, old.RoomID)
		}
		if !put {
			delete(a.acts, board)
			delete(a.revs, board)
			return board
		}
		var doc activityDoc
		if err := json.Unmarshal(e.Value(), &doc); err != nil {
			a.s.log.Error("decode watched activity", "key", key, "err", err)
			return ""
		}
		a.acts[board] = &doc
		a.revs[board] = e.Revision()
		return board
	case (parts[0] == "p" || parts[0] == "x") && len(parts) == 3:
		room, id := parts[1], parts[2]
		rv := a.rooms[room]
		if rv == nil && !put {
			return "" // the room was dropped with its activity
		}
		if rv == nil {
			rv = &roomView{pupils: map[string]pupilDoc{}, answers: map[string]answerDoc{}}
			a.rooms[room] = rv
		}
		if parts[0] == "p" {
			return noteDoc(e, rv.pupils, id, func(d pupilDoc) string { return d.BoardID }, a)
		}
		return noteDoc(e, rv.answers, id, func(d answerDoc) string { return d.BoardID }, a)
	}
	return ""
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
// it has none); ok is false while the view is loading.
func (a *Activities) Snapshot(boardID string, owner bool) (act *classboard.Activity, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.loaded {
		return nil, false
	}
	doc := a.acts[boardID]
	if doc == nil {
		return nil, true
	}
	rv := a.rooms[doc.RoomID]
	if rv == nil {
		rv = &roomView{}
	}
	return doc.activity(boardID, a.revs[boardID], rv, owner), true
}
