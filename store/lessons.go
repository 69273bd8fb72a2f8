package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/markdown"
)

// lessonKey is "<teacherID>.<lessonID>", so that a teacher's lessons are a
// filtered key listing and another teacher's id never finds them.
func lessonKey(teacherID, id string) string { return keyPart(teacherID) + "." + keyPart(id) }

// lessonDoc is how a lesson is stored; its revision is the KV revision.
// V is the schema version (classboard.LessonSchemaVersion); readers accept
// every older version.
type lessonDoc struct {
	V         int                `json:"v"`
	ID        string             `json:"id"`
	TeacherID string             `json:"teacher_id"`
	Title     string             `json:"title"`
	Slides    []classboard.Slide `json:"slides"`
	CreatedAt time.Time          `json:"created_at"`
	UpdatedAt time.Time          `json:"updated_at"`
}

// migrate brings a document read from the store up to
// classboard.LessonSchemaVersion, in memory; it is written back in the new
// version when the teacher next saves it.
func (d *lessonDoc) migrate() {
	if d.V < 2 {
		// Version 1 showed a link in a text slide as its text only;
		// version 2 shows links. Keep what the class always saw.
		for i := range d.Slides {
			if d.Slides[i].Kind == classboard.SlideText {
				d.Slides[i].Body = markdown.UnlinkText(d.Slides[i].Body)
			}
		}
	}
	d.V = classboard.LessonSchemaVersion
}

func (d *lessonDoc) lesson(rev uint64) *classboard.Lesson {
	slides := d.Slides
	if slides == nil {
		slides = []classboard.Slide{}
	}
	return &classboard.Lesson{ID: d.ID, Title: d.Title, Slides: slides, Revision: rev, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

// Lessons implements classboard.LessonService.
type Lessons struct{ s *Store }

var _ classboard.LessonService = Lessons{}

// Lessons returns the lesson service.
func (s *Store) Lessons() Lessons { return Lessons{s} }

var errNoLesson = classboard.Errorf(classboard.ENOTFOUND, "No such lesson.")

// checkLesson validates in and returns the document it makes, refusing one
// over classboard.MaxLessonBytes.
func checkLesson(in classboard.LessonInput, doc *lessonDoc) error {
	in.Normalize()
	if err := in.Validate(); err != nil {
		return err
	}
	doc.V = classboard.LessonSchemaVersion
	doc.Title, doc.Slides = in.Title, in.Slides
	data, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode lesson: %w", err)
	}
	if len(data) > classboard.MaxLessonBytes {
		return classboard.Errorf(classboard.ETOOLARGE, "The lesson is larger than %d KiB; split it in two.", classboard.MaxLessonBytes/1024)
	}
	return nil
}

// CreateLesson stores a new lesson under a fresh UUIDv7.
func (l Lessons) CreateLesson(ctx context.Context, in classboard.LessonInput) (*classboard.Lesson, error) {
	ctx, cancel, tid, err := l.s.teacherOp(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("new lesson id: %w", err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	doc := lessonDoc{ID: id.String(), TeacherID: tid, CreatedAt: now, UpdatedAt: now}
	if err := checkLesson(in, &doc); err != nil {
		return nil, err
	}
	n, ok := l.s.view.lessonCount(tid)
	if !ok {
		if n, err = countKeys(ctx, l.s.lessons, keyPart(tid)+".*"); err != nil {
			return nil, err
		}
	}
	if err := atLimit(n, l.s.cfg.TeacherLimits.Lessons, "lessons", "delete some you no longer need."); err != nil {
		return nil, err
	}
	rev, err := l.s.lessons.create(ctx, lessonKey(tid, doc.ID), doc, 0)
	if err != nil {
		return nil, storeErr(fmt.Errorf("create lesson: %w", err))
	}
	return doc.lesson(rev), nil
}

// lessonDoc reads a teacher's lesson; any other teacher's is ENOTFOUND.
// The board state uses it to check the lesson a board is sent to.
func (s *Store) lessonDoc(ctx context.Context, teacherID, id string) (*lessonDoc, uint64, error) {
	var doc lessonDoc
	rev, err := s.lessons.get(ctx, lessonKey(teacherID, id), &doc)
	if errors.Is(err, errNotFound) {
		return nil, 0, errNoLesson
	}
	if err != nil {
		return nil, 0, storeErr(fmt.Errorf("load lesson: %w", err))
	}
	if doc.V > classboard.LessonSchemaVersion {
		// Written by a newer node during a rolling upgrade: refuse rather
		// than drop fields this node does not know on the next save.
		// 503 sends the app on to another node, an upgraded one.
		return nil, 0, fmt.Errorf("%w: lesson %s has schema version %d, newer than %d", &classboard.Error{Code: classboard.EUNAVAILABLE,
			Message: "This lesson was saved by a newer version of classboard; try again in a moment."}, id, doc.V, classboard.LessonSchemaVersion)
	}
	doc.migrate()
	return &doc, rev, nil
}

// slideCount returns how many slides a teacher's lesson has (ENOTFOUND
// for anyone else's), from the view when it can vouch for it.
func (s *Store) slideCount(ctx context.Context, teacherID, id string) (int, error) {
	e, _, ans := s.view.lessons.get(lessonKey(teacherID, id))
	switch ans {
	case viewHit:
		return e.summary.SlideCount, nil
	case viewGone:
		return 0, errNoLesson
	}
	doc, _, err := s.lessonDoc(ctx, teacherID, id)
	if err != nil {
		return 0, err
	}
	return len(doc.Slides), nil
}

// Lesson returns one of the caller's lessons.
func (l Lessons) Lesson(ctx context.Context, id string) (*classboard.Lesson, error) {
	ctx, cancel, tid, err := l.s.teacherOp(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	doc, rev, err := l.s.lessonDoc(ctx, tid, id)
	if err != nil {
		return nil, err
	}
	return doc.lesson(rev), nil
}

// Lessons lists the caller's lessons: a page cut from the node's
// per-teacher index (see view.go), which costs the same for 50 lessons as
// for 50,000; when the view is not current, from the whole list read from
// the store and sorted here.
func (l Lessons) Lessons(ctx context.Context, opts classboard.ListOptions) (*classboard.Page[*classboard.LessonSummary], error) {
	var key func(*classboard.LessonSummary) string
	switch opts.Order {
	case "", classboard.LessonsByUpdatedAt:
		key = lessonUpdatedKey
	case classboard.LessonsByTitle:
		key = lessonTitleKey
	default:
		return nil, &classboard.Error{Code: classboard.EINVALID, Message: "Unknown order.",
			Fields: map[string]string{"order": "must be updated_at or title"}}
	}
	limit, after, err := pageParams(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel, tid, err := l.s.teacherOp(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	if page, ok := l.s.view.lessonPage(tid, opts.Order, limit, after); ok {
		return page, nil
	}
	prefix := keyPart(tid) + "."
	keys, err := l.s.lessons.keys(ctx, prefix+"*")
	if err != nil {
		return nil, storeErr(err)
	}
	list := make([]*classboard.LessonSummary, 0, len(keys))
	for _, k := range keys {
		doc, rev, err := l.s.lessonDoc(ctx, tid, strings.TrimPrefix(k, prefix))
		if errors.Is(err, errNoLesson) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		list = append(list, &classboard.LessonSummary{ID: doc.ID, Title: doc.Title, SlideCount: len(doc.Slides),
			Revision: rev, CreatedAt: doc.CreatedAt, UpdatedAt: doc.UpdatedAt})
	}
	return paginate(list, key, opts)
}

// UpdateLesson replaces a lesson with a compare-and-set on its revision.
func (l Lessons) UpdateLesson(ctx context.Context, id string, ifMatch uint64, in classboard.LessonInput) (*classboard.Lesson, error) {
	ctx, cancel, tid, err := l.s.teacherOp(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	cur, rev, err := l.s.lessonDoc(ctx, tid, id)
	if err != nil {
		return nil, err
	}
	if rev != ifMatch {
		return nil, staleLesson(cur.lesson(rev))
	}
	doc := *cur
	doc.UpdatedAt = time.Now().UTC().Truncate(time.Millisecond)
	if err := checkLesson(in, &doc); err != nil {
		return nil, err
	}
	newRev, err := l.s.lessons.update(ctx, lessonKey(tid, id), doc, ifMatch, 0)
	if errors.Is(err, errRevision) {
		if cur, rev, err = l.s.lessonDoc(ctx, tid, id); err != nil {
			return nil, err
		}
		return nil, staleLesson(cur.lesson(rev))
	}
	if err != nil {
		return nil, storeErr(fmt.Errorf("update lesson: %w", err))
	}
	return doc.lesson(newRev), nil
}

func staleLesson(cur *classboard.Lesson) error {
	return &classboard.Error{Code: classboard.EREVISIONMISMATCH,
		Message: "The lesson was changed elsewhere meanwhile; this is the current version.", Current: cur}
}

// DeleteLesson deletes one of the caller's lessons, then points the
// caller's boards that showed it at no lesson (see Boards.dropLesson).
func (l Lessons) DeleteLesson(ctx context.Context, id string, ifMatch uint64) error {
	ctx, cancel, tid, err := l.s.teacherOp(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	cur, rev, err := l.s.lessonDoc(ctx, tid, id)
	if err != nil {
		return err
	}
	if ifMatch != 0 && rev != ifMatch {
		return staleLesson(cur.lesson(rev))
	}
	if err := l.s.lessons.delete(ctx, lessonKey(tid, id), rev); err != nil {
		if errors.Is(err, errRevision) {
			return classboard.Errorf(classboard.ECONFLICT, "The lesson was changed meanwhile; try again.")
		}
		return storeErr(fmt.Errorf("delete lesson: %w", err))
	}
	// The lesson is gone whatever follows; boards showing it are moved to
	// "no lesson" even when the teacher's request has ended meanwhile.
	bg, stop := context.WithTimeout(context.WithoutCancel(ctx), l.s.cfg.OpTimeout)
	defer stop()
	l.s.Boards().dropLesson(bg, tid, id, classboard.AuthFromContext(ctx).Device)
	return nil
}
