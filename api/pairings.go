package api

import (
	"net/http"

	"github.com/classboard/classboard"
)

// createPairing claims a board by code or claim token.
func (s *Server) createPairing(w http.ResponseWriter, r *http.Request) {
	var in classboard.Claim
	if err := decode(w, r, s.cfg.MaxBodyBytes, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	b, err := s.svc.Boards.Claim(r.Context(), in, s.clientAddr(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/boards/"+b.ID)
	writeJSON(w, http.StatusCreated, b)
}

// newPairingCode gives an unpaired board a fresh code when its old one
// expired.
func (s *Server) newPairingCode(w http.ResponseWriter, r *http.Request) {
	code, err := s.svc.Boards.NewPairingCode(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.addClaimLink(r, code)
	writeJSON(w, http.StatusCreated, code)
}

// addClaimLink adds the link a phone opens to pair by scanning, and its QR
// code. The claim token goes in the URL's fragment, which browsers never
// send, so no server or proxy logs it.
func (s *Server) addClaimLink(r *http.Request, code *classboard.PairingCode) {
	code.ClaimURL = s.appBase(r) + "/pair#claim=" + code.ClaimToken
	code.ClaimQR = s.secretQR(code.ClaimURL, 320)
}

// appBase is the origin the apps are served from.
func (s *Server) appBase(r *http.Request) string {
	if len(s.cfg.UIOrigins) > 0 {
		return s.cfg.UIOrigins[0]
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
