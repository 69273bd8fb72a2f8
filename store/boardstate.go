package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/classboard/classboard"
)

func stateKey(boardID string) string { return keyPart(boardID) }

// stateShards is how many buckets board states are spread over. Each
// bucket's stream has a leader of its own, and the store keeps those
// leaders on different nodes (spreadStateLeaders): with three nodes, one
// node's death stalls the state writes of about a third of the boards
// while a new leader is elected, not of all of them.
const stateShards = 3

// stateBucketName names a shard's bucket. Shard 0 is the bucket every
// board used before states were spread, so a board paired before keeps
// its state (and its revisions) where they are.
func stateBucketName(shard int) string {
	if shard == 0 {
		return "board_state"
	}
	return fmt.Sprintf("board_state_%d", shard)
}

// stateShardOf picks the shard of a board being paired, by its id, so
// that boards spread evenly over the shards.
func stateShardOf(boardID string) int {
	h := fnv.New32a()
	h.Write([]byte(boardID))
	return int(h.Sum32() % stateShards)
}

// shard returns the board's shard, checked: a document written by a
// later version may name a shard this one does not have.
func (d *boardDoc) shard() (int, error) {
	if d.StateShard < 0 || d.StateShard >= stateShards {
		return 0, fmt.Errorf("board %s: state shard %d is unknown to this version", d.ID, d.StateShard)
	}
	return d.StateShard, nil
}

// stateBucket is the bucket holding the board's state.
func (b *Boards) stateBucket(doc *boardDoc) (*bucket, error) {
	shard, err := doc.shard()
	if err != nil {
		return nil, err
	}
	return b.s.boardStates[shard], nil
}

// stateDoc is how a board state is stored; its revision is the KV
// revision, so it is never stored in the document.
type stateDoc struct {
	V          int               `json:"v"`
	LessonID   string            `json:"lesson_id,omitempty"`
	Slide      int               `json:"slide"`
	Blank      bool              `json:"blank,omitempty"`
	BlankColor string            `json:"blank_color,omitempty"`
	Timer      *classboard.Timer `json:"timer,omitempty"`
	UpdatedAt  time.Time         `json:"updated_at"`
	UpdatedBy  string            `json:"updated_by,omitempty"`
}

func (d *stateDoc) state(boardID string, rev uint64) *classboard.BoardState {
	return &classboard.BoardState{
		BoardID: boardID, LessonID: d.LessonID, Slide: d.Slide, Blank: d.Blank, BlankColor: d.BlankColor, Timer: d.Timer,
		Revision: rev, UpdatedAt: d.UpdatedAt, UpdatedBy: d.UpdatedBy,
	}
}

// initialState creates the state of a newly paired board (no lesson,
// slide 0), or returns the one that exists: a KV create, so a retry or a
// concurrent reader never replaces a state a teacher wrote.
func (b *Boards) initialState(ctx context.Context, board *boardDoc) (*classboard.BoardState, error) {
	bk, err := b.stateBucket(board)
	if err != nil {
		return nil, err
	}
	doc := stateDoc{V: 1, UpdatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	rev, err := bk.create(ctx, stateKey(board.ID), doc, 0)
	if errors.Is(err, errExists) {
		return b.readState(ctx, board)
	}
	if err != nil {
		return nil, storeErr(fmt.Errorf("create board state: %w", err))
	}
	return doc.state(board.ID, rev), nil
}

func (b *Boards) readState(ctx context.Context, board *boardDoc) (*classboard.BoardState, error) {
	bk, err := b.stateBucket(board)
	if err != nil {
		return nil, err
	}
	var doc stateDoc
	rev, err := bk.get(ctx, stateKey(board.ID), &doc)
	if errors.Is(err, errNotFound) {
		// Pairing creates the state; a pairing interrupted before that
		// leaves none, which the first read repairs.
		return b.initialState(ctx, board)
	}
	if err != nil {
		return nil, storeErr(fmt.Errorf("load board state: %w", err))
	}
	return doc.state(board.ID, rev), nil
}

// State returns the state of a paired board for its owner or itself.
func (b *Boards) State(ctx context.Context, boardID string) (*classboard.BoardState, error) {
	ctx, cancel, err := b.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	doc, _, err := b.visibleBoard(ctx, boardID, b.viewedBoard)
	if err != nil {
		return nil, err
	}
	if doc.TeacherID == "" {
		return nil, classboard.Errorf(classboard.ENOTFOUND, "This board is not paired yet.")
	}
	return b.readState(ctx, doc)
}

// SetState replaces the state with a compare-and-set on its revision.
func (b *Boards) SetState(ctx context.Context, boardID string, ifMatch uint64, in classboard.StateUpdate) (*classboard.BoardState, error) {
	a := classboard.AuthFromContext(ctx)
	if a == nil || a.Teacher == nil {
		return nil, errNoBoard
	}
	if err := in.Validate(time.Now()); err != nil {
		return nil, err
	}
	ctx, cancel, err := b.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	board, _, err := b.visibleBoard(ctx, boardID, b.viewedBoard)
	if err != nil {
		return nil, err
	}
	if in.LessonID != "" {
		// The lesson must be the teacher's, and the slide one of its own.
		slides, err := b.s.slideCount(ctx, a.Teacher.ID, in.LessonID)
		if classboard.ErrorCode(err) == classboard.ENOTFOUND {
			return nil, &classboard.Error{Code: classboard.EINVALID, Message: "Some fields are not valid.",
				Fields: map[string]string{"lesson_id": "is not one of your lessons"}}
		}
		if err != nil {
			return nil, err
		}
		if in.Slide >= slides {
			return nil, &classboard.Error{Code: classboard.EINVALID, Message: "Some fields are not valid.",
				Fields: map[string]string{"slide": fmt.Sprintf("must be below %d, the lesson's number of slides", slides)}}
		}
	}
	// No read before the write: the compare-and-set alone decides a stale
	// If-Match, and the current state is read only to answer a mismatch.
	// Every paired board has a state with a revision, so 0 is always stale.
	if ifMatch == 0 {
		cur, err := b.readState(ctx, board)
		if err != nil {
			return nil, err
		}
		return nil, stale(cur)
	}
	doc := stateDoc{
		V: 1, LessonID: in.LessonID, Slide: in.Slide, Blank: in.Blank, BlankColor: in.BlankColor, Timer: in.Timer,
		UpdatedAt: time.Now().UTC().Truncate(time.Millisecond), UpdatedBy: a.Device,
	}
	if doc.Timer != nil {
		t := *doc.Timer
		t.EndsAt = t.EndsAt.UTC()
		doc.Timer = &t
	}
	bk, err := b.stateBucket(board)
	if err != nil {
		return nil, err
	}
	rev, err := bk.update(ctx, stateKey(boardID), doc, ifMatch, 0)
	if errors.Is(err, errRevision) {
		cur, err := b.readState(ctx, board)
		if err != nil {
			return nil, err
		}
		return nil, stale(cur)
	}
	if err != nil {
		return nil, storeErr(fmt.Errorf("store board state: %w", err))
	}
	return doc.state(boardID, rev), nil
}

// dropLesson points every board of the teacher that shows lesson id at
// no lesson, so that a deleted lesson does not stay on a board's screen
// (the live state message tells the board at once) and a reloaded board
// does not ask for a lesson that is gone. It costs a read per board of the
// teacher (at most DefaultMaxBoardsPerTeacher), not per lesson. A state
// written to the lesson while it was being deleted can slip past: the
// board then finds no lesson and says so. Failures are logged: the lesson
// is deleted either way.
func (b *Boards) dropLesson(ctx context.Context, teacherID, lessonID, device string) {
	prefix := "t." + keyPart(teacherID) + "."
	keys, err := b.s.boards.keys(ctx, prefix+"*")
	if err != nil {
		b.s.log.Warn("find boards showing a deleted lesson", "lesson", lessonID, "err", err)
		return
	}
	for _, k := range keys {
		if err := b.dropLessonFrom(ctx, strings.TrimPrefix(k, prefix), teacherID, lessonID, device); err != nil {
			b.s.log.Warn("clear a deleted lesson from a board", "lesson", lessonID, "board", strings.TrimPrefix(k, prefix), "err", err)
		}
	}
}

// dropLessonFrom clears one board's state of lessonID with a
// compare-and-set, reading again when a teacher's write came between.
func (b *Boards) dropLessonFrom(ctx context.Context, boardID, teacherID, lessonID, device string) error {
	board, _, err := b.viewedBoard(ctx, boardID)
	if classboard.ErrorCode(err) == classboard.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	if board.TeacherID != teacherID {
		return nil // a stale index entry
	}
	bk, err := b.stateBucket(board)
	if err != nil {
		return err
	}
	for range 5 {
		var cur stateDoc
		rev, err := bk.get(ctx, stateKey(boardID), &cur)
		if errors.Is(err, errNotFound) || (err == nil && cur.LessonID != lessonID) {
			return nil
		}
		if err != nil {
			return err
		}
		doc := stateDoc{V: 1, UpdatedAt: time.Now().UTC().Truncate(time.Millisecond), UpdatedBy: device}
		if _, err = bk.update(ctx, stateKey(boardID), doc, rev, 0); !errors.Is(err, errRevision) {
			return err
		}
	}
	return errors.New("the board's state kept changing")
}

func stale(cur *classboard.BoardState) error {
	return &classboard.Error{Code: classboard.EREVISIONMISMATCH,
		Message: "The board changed meanwhile; this is what it shows now.", Current: cur}
}
