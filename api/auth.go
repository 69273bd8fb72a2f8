package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/classboard/classboard"
)

// callers says who may call a route.
type callers int

const (
	teachers         callers = iota // a signed-in teacher: a session token
	boards                          // a registered board: its secret
	teachersOrBoards                // either kind of bearer token
)

// allow lets only the given callers through, with the caller in the
// request's context (auth). It answers 503 first while the node cannot
// serve, as ready does.
func (s *Server) allow(who callers, h http.HandlerFunc) http.HandlerFunc {
	return s.ready(func(w http.ResponseWriter, r *http.Request) {
		a, err := s.authenticate(r, who)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		h(w, r.WithContext(classboard.NewContextWithAuth(r.Context(), a)))
	})
}

// authenticate returns the caller whose bearer token r carries. Session
// tokens and board secrets look alike, so for teachersOrBoards a session
// is tried first, then a board.
func (s *Server) authenticate(r *http.Request, who callers) (*classboard.Auth, error) {
	tok := bearer(r)
	if tok == "" {
		if who == boards {
			return nil, classboard.Errorf(classboard.EUNAUTHORIZED, "Send the board's secret.")
		}
		return nil, classboard.Errorf(classboard.EUNAUTHORIZED, "Sign in first.")
	}
	if who == boards {
		return s.svc.Boards.AuthenticateBoard(r.Context(), tok)
	}
	a, err := s.svc.Accounts.Authenticate(r.Context(), tok)
	if who == teachersOrBoards && classboard.ErrorCode(err) == classboard.EUNAUTHORIZED {
		a, err = s.svc.Boards.AuthenticateBoard(r.Context(), tok)
	}
	return a, err
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// auth returns the caller of a request that passed allow.
func auth(ctx context.Context) *classboard.Auth { return classboard.AuthFromContext(ctx) }
