package store

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/classboard/classboard"
)

// view is the node's in-memory copy of the hot documents (see view.go).
type view struct {
	sessions *viewTable[sessionDoc]
	teachers *viewTable[teacherView]
	boards   *viewTable[boardDoc]
	lessons  *viewTable[*lessonEntry]
	// byTeacher indexes lessons per teacher in both list orders, and
	// counts the lessons using each of the teacher's pictures; it changes
	// only under the lessons table's lock.
	byTeacher map[string]*teacherLessons
}

// teacherView is a teacher without the password hash: nothing on the hot
// path needs it, and a copy in memory is one more place for it to leak.
type teacherView struct {
	classboard.Teacher
	SessionsNotBefore time.Time
}

// lessonEntry is what the view keeps of a lesson: its summary, its owner,
// its keys in the two list orders and the pictures it uses (each once).
type lessonEntry struct {
	teacherID        string
	summary          classboard.LessonSummary
	byUpdated, title string
	media            []string
}

// teacherLessons are one teacher's lessons, sorted by each list order, and
// how many of them use each picture (by media id), so that the picture
// library answers "used in N lessons" without reading any lesson.
type teacherLessons struct {
	byUpdated, byTitle []*lessonEntry
	mediaUse           map[string]int
}

func newView(maxKeys int, log func(string, ...any)) *view {
	if maxKeys <= 0 {
		maxKeys = DefaultViewMaxKeys
	}
	v := &view{
		sessions:  newViewTable("sessions", maxKeys, log, decodeJSON[sessionDoc]),
		teachers:  newViewTable("teachers", maxKeys, log, decodeTeacher),
		boards:    newViewTable("boards", maxKeys, log, decodeBoardKey),
		lessons:   newViewTable("lessons", maxKeys, log, decodeLesson),
		byTeacher: map[string]*teacherLessons{},
	}
	v.lessons.changed = v.lessonChanged
	v.lessons.cleared = func() { v.byTeacher = map[string]*teacherLessons{} }
	return v
}

func decodeTeacher(_ string, _ uint64, data []byte) (teacherView, bool, error) {
	var d teacherDoc
	if err := json.Unmarshal(data, &d); err != nil {
		return teacherView{}, false, err
	}
	return teacherView{Teacher: d.Teacher, SessionsNotBefore: d.SessionsNotBefore}, true, nil
}

// decodeBoardKey keeps boards ("b.") and secrets ("s."); a secret is kept
// as a boardDoc holding only the board's id. Owner index keys are not kept.
func decodeBoardKey(key string, _ uint64, data []byte) (boardDoc, bool, error) {
	switch {
	case strings.HasPrefix(key, "b."):
		var d boardDoc
		err := json.Unmarshal(data, &d)
		// Codes and claims serve pairing only, which reads the store.
		d.Code, d.ClaimHash = "", ""
		return d, err == nil, err
	case strings.HasPrefix(key, "s."):
		var d secretDoc
		err := json.Unmarshal(data, &d)
		return boardDoc{ID: d.BoardID}, err == nil, err
	}
	return boardDoc{}, false, nil
}

// lessonHead is the part of a lesson document the view decodes: of the
// slides, only their pictures.
type lessonHead struct {
	ID        string `json:"id"`
	TeacherID string `json:"teacher_id"`
	Title     string `json:"title"`
	Slides    []struct {
		MediaID string `json:"media_id"`
	} `json:"slides"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func decodeLesson(_ string, rev uint64, data []byte) (*lessonEntry, bool, error) {
	var d lessonHead
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, false, err
	}
	sum := classboard.LessonSummary{ID: d.ID, Title: d.Title, SlideCount: len(d.Slides), Revision: rev, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	var media []string
	for _, sl := range d.Slides {
		if sl.MediaID != "" && !slices.Contains(media, sl.MediaID) {
			media = append(media, sl.MediaID)
		}
	}
	return &lessonEntry{teacherID: d.TeacherID, summary: sum,
		byUpdated: lessonUpdatedKey(&sum), title: lessonTitleKey(&sum), media: media}, true, nil
}

// The two list orders' sort keys; each ends with the id, so it is unique.
func lessonUpdatedKey(s *classboard.LessonSummary) string { return newestFirst(s.UpdatedAt, s.ID) }
func lessonTitleKey(s *classboard.LessonSummary) string {
	return strings.ToLower(s.Title) + "\x00" + s.ID
}

// lessonChanged keeps byTeacher in step with the lessons table.
func (v *view) lessonChanged(_ string, old, cur **lessonEntry) {
	if old != nil {
		e := *old
		if tl := v.byTeacher[e.teacherID]; tl != nil {
			tl.byUpdated = removeSorted(tl.byUpdated, e.byUpdated, func(x *lessonEntry) string { return x.byUpdated })
			tl.byTitle = removeSorted(tl.byTitle, e.title, func(x *lessonEntry) string { return x.title })
			for _, id := range e.media {
				if tl.mediaUse[id]--; tl.mediaUse[id] <= 0 {
					delete(tl.mediaUse, id)
				}
			}
			if len(tl.byUpdated) == 0 {
				delete(v.byTeacher, e.teacherID)
			}
		}
	}
	if cur != nil {
		e := *cur
		tl := v.byTeacher[e.teacherID]
		if tl == nil {
			tl = &teacherLessons{mediaUse: map[string]int{}}
			v.byTeacher[e.teacherID] = tl
		}
		tl.byUpdated = insertSorted(tl.byUpdated, e, func(x *lessonEntry) string { return x.byUpdated })
		tl.byTitle = insertSorted(tl.byTitle, e, func(x *lessonEntry) string { return x.title })
		for _, id := range e.media {
			tl.mediaUse[id]++
		}
	}
}

func insertSorted[T any](s []T, x T, key func(T) string) []T {
	k := key(x)
	i, _ := slices.BinarySearchFunc(s, k, func(e T, k string) int { return strings.Compare(key(e), k) })
	return slices.Insert(s, i, x)
}

func removeSorted[T any](s []T, k string, key func(T) string) []T {
	i, found := slices.BinarySearchFunc(s, k, func(e T, k string) int { return strings.Compare(key(e), k) })
	if !found {
		return s
	}
	return slices.Delete(s, i, i+1)
}

// lessonPage cuts one page of a teacher's lessons from the index; false
// when the view is not current (read the store).
func (v *view) lessonPage(teacherID string, order string, limit int, after string) (*classboard.Page[*classboard.LessonSummary], bool) {
	var page *classboard.Page[*classboard.LessonSummary]
	ok := v.lessons.read(func() {
		var list []*lessonEntry
		key := func(e *lessonEntry) string { return e.byUpdated }
		if tl := v.byTeacher[teacherID]; tl != nil {
			list = tl.byUpdated
			if order == classboard.LessonsByTitle {
				list, key = tl.byTitle, func(e *lessonEntry) string { return e.title }
			}
		}
		page = pageOf(len(list), func(i int) string { return key(list[i]) }, func(i int) *classboard.LessonSummary {
			s := list[i].summary
			return &s
		}, after, limit)
	})
	return page, ok
}

// lessonCount returns how many lessons a teacher has; false when the view
// is not current.
func (v *view) lessonCount(teacherID string) (int, bool) {
	n := 0
	ok := v.lessons.read(func() {
		if tl := v.byTeacher[teacherID]; tl != nil {
			n = len(tl.byUpdated)
		}
	})
	return n, ok
}

// mediaUse sets each picture's Lessons to how many of the teacher's
// lessons use it: a map lookup per picture. It sets nothing when the view
// is not current: the counts stay unknown rather than read every lesson.
func (v *view) mediaUse(teacherID string, items []*classboard.Media) {
	v.lessons.read(func() {
		tl := v.byTeacher[teacherID]
		for _, m := range items {
			n := 0
			if tl != nil {
				n = tl.mediaUse[m.ID]
			}
			m.Lessons = &n
		}
	})
}
