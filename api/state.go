package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/classboard/classboard"
)

// etag is the ETag of a revision.
func etag(rev uint64) string { return `"` + strconv.FormatUint(rev, 10) + `"` }

// ifMatch reads If-Match as a revision, bare or quoted. A missing header
// is 428: a write without the revision it replaces could undo another's.
func ifMatch(r *http.Request) (uint64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" {
		return 0, classboard.Errorf(classboard.EPRECONDITION, "Send If-Match with the revision you are replacing.")
	}
	h = strings.Trim(strings.TrimPrefix(h, "W/"), `"`)
	rev, err := strconv.ParseUint(h, 10, 64)
	if err != nil {
		return 0, &classboard.Error{Code: classboard.EINVALID, Message: "If-Match must be a revision.",
			Fields: map[string]string{"If-Match": "is not a revision"}}
	}
	return rev, nil
}

func (s *Server) getState(w http.ResponseWriter, r *http.Request) {
	st, err := s.svc.Boards.State(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(st.Revision))
	writeJSON(w, http.StatusOK, st)
}

// putState replaces a board's state: absolute values, If-Match required,
// and the writer recorded from the session's device label.
func (s *Server) putState(w http.ResponseWriter, r *http.Request) {
	rev, err := ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in classboard.StateUpdate
	if err := decode(w, r, s.cfg.MaxBodyBytes, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := s.svc.Boards.SetState(r.Context(), r.PathValue("id"), rev, in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(st.Revision))
	writeJSON(w, http.StatusOK, st)
}

// getBoardLesson returns the lesson a board shows, rendered like the
// teacher's preview (signed media URLs), for the owner or the board.
func (s *Server) getBoardLesson(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	st, err := s.svc.Boards.State(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if st.LessonID == "" {
		s.writeError(w, r, classboard.Errorf(classboard.ENOTFOUND, "The board shows no lesson."))
		return
	}
	b, err := s.svc.Boards.Board(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// The lesson is the owner's: read it as the owner, also for the board.
	owner := classboard.NewContextWithAuth(r.Context(), &classboard.Auth{Teacher: &classboard.Teacher{ID: b.TeacherID}})
	l, err := s.svc.Lessons.Lesson(owner, st.LessonID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// Speaker notes are the teacher's alone: the board's copy has none,
	// also when the owner asks for it.
	for i := range l.Slides {
		l.Slides[i].Notes = ""
	}
	w.Header().Set("ETag", etag(l.Revision))
	writeJSON(w, http.StatusOK, s.renderLesson(owner, l))
}
