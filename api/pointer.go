package api

import (
	"net/http"
	"time"

	"github.com/classboard/classboard"
)

// Pointer moves a node takes per board: the teacher app sends at most 20 a
// second while the teacher drags; the burst covers a press after a pause.
const (
	DefaultPointerRate  = 30
	DefaultPointerBurst = 15
)

// postPointer sends the teacher's pointer to the board on every node. It
// answers 204: nothing is stored, so there is nothing to return.
func (s *Server) postPointer(w http.ResponseWriter, r *http.Request) {
	var p classboard.Pointer
	if err := decode(w, r, s.cfg.MaxBodyBytes, &p); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := p.Validate(); err != nil {
		s.writeError(w, r, err)
		return
	}
	id := r.PathValue("id")
	// The owner first: nobody else may spend the board's moves.
	if _, err := s.svc.Boards.Board(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.pointers.allow(id, time.Now(), "Too many pointer moves; send at most 20 a second.", "pointer-per-board"); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.Pointers.Point(r.Context(), id, p); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
