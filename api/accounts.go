package api

import (
	"log/slog"
	"net/http"

	"github.com/classboard/classboard"
)

func (s *Server) createAccount(w http.ResponseWriter, r *http.Request) {
	var in classboard.SignUp
	if err := decode(w, r, s.cfg.MaxBodyBytes, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := s.svc.Accounts.CreateTeacher(r.Context(), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, t)
}

func (s *Server) createSession(w http.ResponseWriter, r *http.Request) {
	var in classboard.Login
	if err := decode(w, r, s.cfg.MaxBodyBytes, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	// The slow-down is waited for here, between two store operations, so
	// that it never eats a store operation's time budget.
	delay, err := s.svc.Accounts.LoginDelay(r.Context(), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if delay > 0 {
		s.securityEvent(r, "login-account-slowdown", slog.Duration("delay", delay))
		if wait(r.Context(), delay) != nil {
			return // the client gave up
		}
	}
	sess, err := s.svc.Accounts.Login(r.Context(), in, s.clientAddr(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, sess)
}

func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.Accounts.Logout(r.Context(), bearer(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, auth(r.Context()).Teacher)
}
