package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/classboard/classboard"
)

func (s *Server) listLessons(w http.ResponseWriter, r *http.Request) {
	opts, err := listOptions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.svc.Lessons.Lessons(r.Context(), opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) createLesson(w http.ResponseWriter, r *http.Request) {
	var in classboard.LessonInput
	if err := decode(w, r, s.cfg.MaxBodyBytes, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	l, err := s.svc.Lessons.CreateLesson(r.Context(), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/lessons/"+l.ID)
	s.writeLesson(w, r, http.StatusCreated, l)
}

func (s *Server) getLesson(w http.ResponseWriter, r *http.Request) {
	l, err := s.svc.Lessons.Lesson(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeLesson(w, r, http.StatusOK, l)
}

// putLesson replaces a lesson; If-Match is required, and a stale one
// answers 412 with the current lesson, rendered like any other.
func (s *Server) putLesson(w http.ResponseWriter, r *http.Request) {
	rev, err := ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in classboard.LessonInput
	if err := decode(w, r, s.cfg.MaxBodyBytes, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	l, err := s.svc.Lessons.UpdateLesson(r.Context(), r.PathValue("id"), rev, in)
	if err != nil {
		s.writeError(w, r, s.renderCurrent(r.Context(), err))
		return
	}
	s.writeLesson(w, r, http.StatusOK, l)
}

func (s *Server) deleteLesson(w http.ResponseWriter, r *http.Request) {
	var rev uint64
	if r.Header.Get("If-Match") != "" {
		var err error
		if rev, err = ifMatch(r); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if err := s.svc.Lessons.DeleteLesson(r.Context(), r.PathValue("id"), rev); err != nil {
		s.writeError(w, r, s.renderCurrent(r.Context(), err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) writeLesson(w http.ResponseWriter, r *http.Request, status int, l *classboard.Lesson) {
	w.Header().Set("ETag", etag(l.Revision))
	writeJSON(w, status, s.renderLesson(r.Context(), l))
}

// previewSlide renders one slide exactly as lessons render it, storing
// nothing: the editor's preview is what the board will show.
func (s *Server) previewSlide(w http.ResponseWriter, r *http.Request) {
	var sl classboard.Slide
	if err := decode(w, r, s.cfg.MaxBodyBytes, &sl); err != nil {
		s.writeError(w, r, err)
		return
	}
	in := classboard.LessonInput{Title: "preview", Slides: []classboard.Slide{sl}}
	in.Normalize()
	if err := in.Validate(); err != nil {
		s.writeError(w, r, err)
		return
	}
	l := s.renderLesson(r.Context(), &classboard.Lesson{Slides: in.Slides})
	writeJSON(w, http.StatusOK, l.Slides[0])
}

// renderCurrent renders the lesson a revision mismatch carries, so a
// client compares it with what it sent in the same shape.
func (s *Server) renderCurrent(ctx context.Context, err error) error {
	var e *classboard.Error
	if errors.As(err, &e) {
		if l, ok := e.Current.(*classboard.Lesson); ok {
			s.renderLesson(ctx, l)
		}
	}
	return err
}

// renderLesson adds the output-only fields of each slide, in place: a text
// slide's body as sanitized HTML (and the QR code of its featured link),
// a slide's picture as a signed URL, a link slide's QR code. The teacher's
// preview and the board both show these, so the preview is what the board
// shows. A signed URL is a capability, so it is made only for media the
// caller in ctx may read: a deleted picture, or one that is not the
// caller's, gets none and shows as a placeholder.
func (s *Server) renderLesson(ctx context.Context, l *classboard.Lesson) *classboard.Lesson {
	for i := range l.Slides {
		sl := &l.Slides[i]
		switch sl.Kind {
		case classboard.SlideText:
			sl.HTML = s.markdown.Render(sl.Body)
			if sl.MediaID != "" {
				sl.Src = s.readableMediaURL(ctx, sl.MediaID)
			} else if link := s.markdown.FeaturedLink(sl.Body); link != "" {
				sl.QR = s.qr(link, 512)
			}
		case classboard.SlideImage:
			sl.Src = s.readableMediaURL(ctx, sl.MediaID)
		case classboard.SlideLink:
			sl.QR = s.qr(sl.URL, 512)
		}
	}
	return l
}

// readableMediaURL returns a signed URL of a picture the caller in ctx may
// read, or "".
func (s *Server) readableMediaURL(ctx context.Context, id string) string {
	switch err := s.svc.Media.MayReadMedia(ctx, id); classboard.ErrorCode(err) {
	case "":
		return s.signedMediaURL(ctx, id)
	case classboard.ENOTFOUND:
	default:
		s.log.Warn("check media of a slide", "request_id", requestID(ctx), "err", err)
	}
	return ""
}
