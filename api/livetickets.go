package api

import (
	"net/http"

	"github.com/classboard/classboard"
)

type ticketRequest struct {
	BoardID string `json:"board_id"`
}

// createLiveTicket gives a browser a single-use ticket for one live
// connection: browsers cannot send headers on a WebSocket or EventSource,
// and a long-lived secret must never travel in a URL.
func (s *Server) createLiveTicket(w http.ResponseWriter, r *http.Request) {
	// A ticket starts a connection: the node admits it or says when to
	// come back (the apps wait so long, then ask again).
	done, err := s.svc.Live.Admit()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer done()
	var in ticketRequest
	if err := decode(w, r, s.cfg.MaxBodyBytes, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if in.BoardID == "" {
		s.writeError(w, r, &classboard.Error{Code: classboard.EINVALID, Message: "Say which board to watch.",
			Fields: map[string]string{"board_id": "is required"}})
		return
	}
	t, err := s.svc.LiveTickets.IssueTicket(r.Context(), in.BoardID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, t)
}
