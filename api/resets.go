package api

import "net/http"

type resetRequest struct {
	Email string `json:"email"`
}

type resetConfirm struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// requestPasswordReset answers 202 at once: the mail goes through the
// outbox, and the answer is the same whether or not the e-mail has an
// account or the request was rate-limited.
func (s *Server) requestPasswordReset(w http.ResponseWriter, r *http.Request) {
	var in resetRequest
	if err := decode(w, r, s.cfg.MaxBodyBytes, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.PasswordResets.RequestReset(r.Context(), in.Email, s.clientAddr(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, struct{}{})
}

func (s *Server) confirmPasswordReset(w http.ResponseWriter, r *http.Request) {
	var in resetConfirm
	if err := decode(w, r, s.cfg.MaxBodyBytes, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.PasswordResets.ConfirmReset(r.Context(), in.Token, in.Password); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
