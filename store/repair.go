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

// repairTeachers removes teacher documents that no e-mail index points
// at: a sign-up interrupted between its two writes, or the loser of two
// sign-ups with one address that died before deleting its document.
func (s *Store) repairTeachers(ctx context.Context, grace time.Duration, r Repaired) error {
	keys, err := s.teachers.keys(ctx, ">")
	if err != nil {
		return err
	}
	for _, k := range keys {
		var doc teacherDoc
		e, err := s.teachers.entry(ctx, k, &doc)
		if errors.Is(err, errNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if !old(e, grace) {
			continue
		}
		var owner string
		found, err := exists(ctx, s.emails, emailKey(doc.Email), &owner)
		if err != nil {
			return err
		}
		if !found || owner != doc.ID {
			if err := s.mend(ctx, s.teachers, k, e.Revision(), orphanTeacher, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// repairBoards removes a forgotten board's secret, owner index and state
// that its tidy-up did not reach, owner index entries of pairings that
// failed halfway, and gives a paired board the state a pairing interrupted
// before its last write did not create.
func (s *Store) repairBoards(ctx context.Context, grace time.Duration, r Repaired) error {
	boards := Boards{s: s}
	board := func(id string) (*boardDoc, bool, error) {
		var d boardDoc
		found, err := exists(ctx, s.boards, boardKey(id), &d)
		return &d, found, err
	}
	keys, err := s.boards.keys(ctx, ">")
	if err != nil {
		return err
	}
	for _, k := range keys {
		kind, rest, _ := strings.Cut(k, ".")
		var (
			e    jetstream.KeyValueEntry
			sd   secretDoc
			doc  boardDoc
			keep bool
		)
		switch kind {
		case "s":
			if e, err = s.boards.entry(ctx, k, &sd); err == nil && old(e, grace) {
				d, found, berr := board(sd.BoardID)
				keep, err = found && d.SecretHash == rest, berr
				kind = orphanSecret
			}
		case "t":
			teacher, id, _ := strings.Cut(rest, ".")
			var idx struct{}
			if e, err = s.boards.entry(ctx, k, &idx); err == nil && old(e, grace) {
				d, found, berr := board(id)
				keep, err = found && d.TeacherID == teacher, berr
				kind = orphanOwnerIndex
			}
		case "b":
			if e, err = s.boards.entry(ctx, k, &doc); err == nil && old(e, grace) && doc.TeacherID != "" {
				var st stateDoc
				found, serr := exists(ctx, s.boardState, stateKey(doc.ID), &st)
				if serr == nil && !found {
					if _, serr = boards.initialState(ctx, doc.ID); serr == nil {
						s.log.Info("repair: gave a paired board its state", "board", doc.ID)
						r[missingState]++
					}
				}
				err = serr
			}
			e = nil // a board document itself is never a leftover
		default:
			continue
		}
		if errors.Is(err, errNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if e == nil || keep || !old(e, grace) {
			continue
		}
		if err := s.mend(ctx, s.boards, k, e.Revision(), kind, r); err != nil {
			return err
		}
	}
	states, err := s.boardState.keys(ctx, ">")
	if err != nil {
		return err
	}
	for _, id := range states {
		var st stateDoc
		e, err := s.boardState.entry(ctx, id, &st)
		if errors.Is(err, errNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if !old(e, grace) {
			continue
		}
		if _, found, err := board(id); err != nil {
			return err
		} else if !found {
			if err := s.mend(ctx, s.boardState, id, e.Revision(), orphanState, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// repairMedia erases picture bytes no record refers to (an erase that died
// halfway, or an upload whose record was removed after its bytes failed),
// removes records whose bytes never arrived, and finishes erases that left
// their gate behind. Erasing goes through the gate like DeleteMedia.
func (s *Store) repairMedia(ctx context.Context, grace time.Duration, r Repaired) error {
	m := Media{s}
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
	keys, err := s.mediaRecords.keys(ctx, ">")
	if err != nil {
		return err
	}
	for _, k := range keys {
		kind, rest, _ := strings.Cut(k, ".")
		switch kind {
		case "g":
			var g gateDoc
			e, err := s.mediaRecords.entry(ctx, k, &g)
			if errors.Is(err, errNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if _, ok := ids[rest]; !ok && old(e, grace) {
				ids[rest] = orphanGate
			}
		case "r":
			_, id, _ := strings.Cut(rest, ".")
			var rec mediaRecord
			e, err := s.mediaRecords.entry(ctx, k, &rec)
			if errors.Is(err, errNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if !old(e, grace) {
				continue
			}
			info, err := s.media.GetInfo(ctx, id)
			if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
				return fmt.Errorf("look up media %s: %w", id, err)
			}
			if err != nil || info.Deleted {
				if err := s.mend(ctx, s.mediaRecords, k, e.Revision(), orphanMediaRecord, r); err != nil {
					return err
				}
			}
		}
	}
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
