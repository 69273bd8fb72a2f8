package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Each invariant across keys is kept by ordering the writes so that a
// crash between two of them leaves only an unreachable leftover, never a
// wrong answer (docs/architecture.md). The repair sweep removes those
// leftovers. Every removal is a compare-and-set on the revision it judged,
// so a write that comes meanwhile wins, and entries younger than the grace
// period are left alone: they may belong to an operation still running.
const (
	// RepairGrace is the age below which the start-up sweep leaves an
	// entry alone: far longer than any operation (--op-timeout) runs.
	RepairGrace = 10 * time.Minute
	// repairDelay lets a node settle (elections, catching up) before its
	// first sweep; repairEvery repeats it.
	repairDelay = time.Minute
	repairEvery = 24 * time.Hour
)

// Repaired counts the leftovers a sweep mended, by kind.
type Repaired map[string]int

func (r Repaired) String() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(r)) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, r[k]))
	}
	return strings.Join(parts, ", ")
}

// The kinds of leftover, as the sweep reports them.
const (
	orphanTeacher     = "teacher without its e-mail index"
	orphanSecret      = "board secret without its board"
	orphanOwnerIndex  = "owner index entry without its board"
	orphanState       = "board state without its board"
	missingState      = "paired board without a state"
	orphanMediaBytes  = "picture bytes without a record"
	orphanMediaRecord = "picture record without its bytes"
	orphanGate        = "picture gate left by an interrupted erase"
)

// Repair sweeps the store once and returns what it mended.
func (s *Store) Repair(ctx context.Context, grace time.Duration) (Repaired, error) {
	select {
	case <-s.ready:
	default:
		return nil, errors.New("the store is not ready")
	}
	r := Repaired{}
	for _, sweep := range []func(context.Context, time.Duration, Repaired) error{
		s.repairTeachers, s.repairBoards, s.repairMedia,
	} {
		if err := sweep(ctx, grace, r); err != nil {
			return r, err
		}
	}
	return r, nil
}

// repairLoop runs the sweep shortly after start-up and then daily, until
// ctx ends.
func (s *Store) repairLoop(ctx context.Context) {
	wait := repairDelay
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = repairEvery
		r, err := s.Repair(ctx, RepairGrace)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("repair sweep stopped; it runs again tomorrow", "err", err, "mended", r.String())
		case len(r) > 0:
			s.log.Warn("repair sweep mended leftovers of interrupted writes", "mended", r.String())
		default:
			s.log.Debug("repair sweep found nothing to mend")
		}
	}
}

// old reports whether an entry is past the grace period.
func old(e jetstream.KeyValueEntry, grace time.Duration) bool {
	return time.Since(e.Created()) >= grace
}

// mend removes key at the revision judged; a newer write keeps it.
func (s *Store) mend(ctx context.Context, b *bucket, key string, rev uint64, kind string, r Repaired) error {
	err := b.delete(ctx, key, rev)
	if errors.Is(err, errRevision) {
		return nil
	}
	if err != nil {
		return err
	}
	s.log.Info("repair: removed a leftover", "kind", kind, "bucket", b.name, "key", key)
	r[kind]++
	return nil
}

// exists reports whether key holds a value.
func exists(ctx context.Context, b *bucket, key string, v any) (bool, error) {
	_, err := b.get(ctx, key, v)
	if errors.Is(err, errNotFound) {
		return false, nil
	}
	return err == nil, err
}

// eachOld calls fn with every entry of b matching filter that is past the
// grace period, decoded.
func eachOld[T any](ctx context.Context, b *bucket, filter string, grace time.Duration, fn func(key string, e jetstream.KeyValueEntry, v *T) error) error {
	keys, err := b.keys(ctx, filter)
	if err != nil {
		return err
	}
	for _, k := range keys {
		var v T
		e, err := b.entry(ctx, k, &v)
		if errors.Is(err, errNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		if !old(e, grace) {
			continue
		}
		if err := fn(k, e, &v); err != nil {
			return err
		}
	}
	return nil
}

// repairTeachers removes teacher documents that no e-mail index points
// at: a sign-up interrupted between its two writes, or the loser of two
// sign-ups with one address that died before deleting its document.
func (s *Store) repairTeachers(ctx context.Context, grace time.Duration, r Repaired) error {
	return eachOld(ctx, s.teachers, ">", grace, func(k string, e jetstream.KeyValueEntry, doc *teacherDoc) error {
		var owner string
		found, err := exists(ctx, s.emails, emailKey(doc.Email), &owner)
		if err != nil || (found && owner == doc.ID) {
			return err
		}
		return s.mend(ctx, s.teachers, k, e.Revision(), orphanTeacher, r)
	})
}

// repairBoards removes a forgotten board's secret, owner index and state
// that its tidy-up did not reach, owner index entries of pairings that
// failed halfway, and gives a paired board the state a pairing interrupted
// before its last write did not create.
func (s *Store) repairBoards(ctx context.Context, grace time.Duration, r Repaired) error {
	board := func(id string) (*boardDoc, bool, error) {
		var d boardDoc
		found, err := exists(ctx, s.boards, boardKey(id), &d)
		return &d, found, err
	}
	// mendUnless removes the entry unless its board exists and keep says
	// the entry belongs to it.
	mendUnless := func(b *bucket, k string, e jetstream.KeyValueEntry, id, kind string, keep func(*boardDoc) bool) error {
		d, found, err := board(id)
		if err != nil || (found && keep(d)) {
			return err
		}
		return s.mend(ctx, b, k, e.Revision(), kind, r)
	}
	if err := eachOld(ctx, s.boards, "s.*", grace, func(k string, e jetstream.KeyValueEntry, sd *secretDoc) error {
		return mendUnless(s.boards, k, e, sd.BoardID, orphanSecret, func(d *boardDoc) bool { return secretKey(d.SecretHash) == k })
	}); err != nil {
		return err
	}
	if err := eachOld(ctx, s.boards, "t.*.*", grace, func(k string, e jetstream.KeyValueEntry, _ *struct{}) error {
		teacher, id, _ := strings.Cut(strings.TrimPrefix(k, "t."), ".")
		return mendUnless(s.boards, k, e, id, orphanOwnerIndex, func(d *boardDoc) bool { return d.TeacherID == teacher })
	}); err != nil {
		return err
	}
	for shard, bk := range s.boardStates {
		// A state belongs to its board in the board's own shard.
		if err := eachOld(ctx, bk, ">", grace, func(k string, e jetstream.KeyValueEntry, _ *stateDoc) error {
			return mendUnless(bk, k, e, k, orphanState, func(d *boardDoc) bool { return d.StateShard == shard })
		}); err != nil {
			return err
		}
	}
	boards := Boards{s: s}
	return eachOld(ctx, s.boards, "b.*", grace, func(_ string, _ jetstream.KeyValueEntry, doc *boardDoc) error {
		if doc.TeacherID == "" {
			return nil
		}
		bk, err := boards.stateBucket(doc)
		if err != nil {
			return nil // a shard of a newer version: its nodes mend it
		}
		var st stateDoc
		found, err := exists(ctx, bk, stateKey(doc.ID), &st)
		if err != nil || found {
			return err
		}
		if _, err := boards.initialState(ctx, doc); err != nil {
			return err
		}
		s.log.Info("repair: gave a paired board its state", "board", doc.ID)
		r[missingState]++
		return nil
	})
}

// repairMedia erases picture bytes no record refers to (an erase that died
// halfway), removes records whose bytes never arrived (an upload that died
// before storing them), and finishes erases that left their gate behind.
// Erasing goes through the gate like DeleteMedia.
func (s *Store) repairMedia(ctx context.Context, grace time.Duration, r Repaired) error {
	ids := map[string]string{} // picture id -> the kind of leftover it may be
	objects, err := s.media.List(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		return fmt.Errorf("list media: %w", err)
	}
	for _, o := range objects {
		if !o.Deleted && time.Since(o.ModTime) >= grace {
			ids[o.Name] = orphanMediaBytes
		}
	}
	if err := eachOld(ctx, s.mediaRecords, "g.*", grace, func(k string, _ jetstream.KeyValueEntry, _ *gateDoc) error {
		if id := strings.TrimPrefix(k, "g."); ids[id] == "" {
			ids[id] = orphanGate
		}
		return nil
	}); err != nil {
		return err
	}
	if err := eachOld(ctx, s.mediaRecords, "r.*.*", grace, func(k string, e jetstream.KeyValueEntry, rec *mediaRecord) error {
		info, err := s.media.GetInfo(ctx, rec.ID)
		if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("look up media %s: %w", rec.ID, err)
		}
		if err == nil && !info.Deleted {
			return nil
		}
		return s.mend(ctx, s.mediaRecords, k, e.Revision(), orphanMediaRecord, r)
	}); err != nil {
		return err
	}
	m := Media{s}
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		refs, err := s.mediaRecords.keys(ctx, "r.*."+id)
		if err != nil {
			return err
		}
		if len(refs) > 0 {
			continue
		}
		if err := m.collect(ctx, id); err != nil {
			return fmt.Errorf("erase media %s: %w", id, err)
		}
		// collect leaves a gate that a live eraser holds to that eraser.
		var g gateDoc
		if held, err := exists(ctx, s.mediaRecords, gateKey(id), &g); err != nil || held {
			continue
		}
		s.log.Info("repair: erased a leftover picture", "kind", ids[id], "media", id)
		r[ids[id]]++
	}
	return nil
}
