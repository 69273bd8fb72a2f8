package api

import (
	"encoding/base64"
	"net/http"
	"strconv"

	"github.com/classboard/classboard"
)

// createBoard registers a board page: no login, limited per address.
func (s *Server) createBoard(w http.ResponseWriter, r *http.Request) {
	nb, err := s.svc.Boards.CreateBoard(r.Context(), s.clientAddr(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.addClaimLink(r, &nb.PairingCode)
	w.Header().Set("Location", "/api/v1/boards/"+nb.BoardID)
	writeJSON(w, http.StatusCreated, nb)
}

// listBoards returns the teacher's boards, a page at a time.
func (s *Server) listBoards(w http.ResponseWriter, r *http.Request) {
	limit, offset, err := pageParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	all, err := s.svc.Boards.Boards(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page := classboard.Page[*classboard.Board]{Items: []*classboard.Board{}}
	if offset < len(all) {
		end := min(len(all), offset+limit)
		page.Items = all[offset:end]
		if end < len(all) {
			page.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
		}
	}
	writeJSON(w, http.StatusOK, page)
}

// pageParams reads ?limit= and ?cursor= of a list whose cursor is an
// offset (a teacher's boards are few and listed whole by the store).
func pageParams(r *http.Request) (limit, offset int, err error) {
	v := classboard.ValidationErrors{}
	limit = classboard.DefaultPageSize
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > classboard.MaxPageSize {
			v.Add("limit", "must be a number from 1 to 200")
		}
		limit = n
	}
	if c := r.URL.Query().Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		n, cerr := strconv.Atoi(string(b))
		if err != nil || cerr != nil || n < 0 {
			v.Add("cursor", "is not a cursor this list gave")
		}
		offset = n
	}
	return limit, offset, v.Err()
}

func (s *Server) getBoard(w http.ResponseWriter, r *http.Request) {
	b, err := s.svc.Boards.Board(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// deleteBoard unpairs and forgets a board; the watch closes its live
// connections on every node.
func (s *Server) deleteBoard(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.Boards.DeleteBoard(r.Context(), r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
