package api

import (
	"net/http"
	"slices"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is 200 when this node can serve reads and writes, else 503 with
// the reason, so a load balancer or a client can move on.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.Health.Ready(); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

type configResponse struct {
	APIOrigins []string `json:"api_origins"`
	Version    string   `json:"version"`
}

// config tells the apps which origins they may fail over between.
func (s *Server) config(w http.ResponseWriter, r *http.Request) {
	origins := slices.Clone(s.cfg.PublicURLs)
	if origins == nil {
		origins = []string{}
	}
	writeJSON(w, http.StatusOK, configResponse{APIOrigins: origins, Version: s.cfg.Version})
}
