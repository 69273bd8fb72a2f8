package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/password"
)

// createAccount answers 201 with the teacher when accounts are active at
// once, and 202 when a confirmation link went by mail: then the answer is
// the same whether or not the address has an account.
func (s *Server) createAccount(w http.ResponseWriter, r *http.Request) {
	var in classboard.SignUp
	if err := decode(w, r, s.cfg.MaxBodyBytes, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.svc.SignUps.SignUp(r.Context(), in, s.clientAddr(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if res.Teacher == nil {
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "confirmation_sent"})
		return
	}
	writeJSON(w, http.StatusCreated, res.Teacher)
}

// confirmAccount opens the account of a confirmation link.
func (s *Server) confirmAccount(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Token string `json:"token"`
	}
	if err := decode(w, r, s.cfg.MaxBodyBytes, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := s.svc.SignUps.ConfirmSignUp(r.Context(), in.Token)
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
	delay, err := s.svc.Accounts.LoginDelay(r.Context(), in, s.clientAddr(r))
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

// passwordStrengthBody bounds a strength request: a password of 1024
// bytes and an e-mail and a name.
const passwordStrengthBody = 4 << 10

// passwordStrength estimates a password as the teacher types it, with the
// same check sign-up and reset apply. Anyone may ask, so estimates run one
// at a time per node (each takes milliseconds of CPU); a request that
// waits longer than strengthWait answers 429.
func (s *Server) passwordStrength(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Password string `json:"password"`
		Email    string `json:"email"`
		Name     string `json:"name"`
	}
	if err := decode(w, r, passwordStrengthBody, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), strengthWait)
	defer cancel()
	select {
	case s.strength <- struct{}{}:
	case <-ctx.Done():
		s.writeError(w, r, &classboard.Error{Code: classboard.ERATELIMITED, Message: "Busy; try again.", RetryAfter: time.Second, Rule: "password-strength-busy"})
		return
	}
	defer func() { <-s.strength }()
	out := struct {
		Score  int    `json:"score"`
		OK     bool   `json:"ok"`
		Reason string `json:"reason,omitempty"`
	}{Score: password.Score(in.Password, in.Email, in.Name)}
	out.Reason = classboard.ValidatePassword(in.Password, in.Email)
	out.OK = out.Reason == ""
	writeJSON(w, http.StatusOK, out)
}

const strengthWait = 2 * time.Second
