package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// securityEvent logs a refusal by a limit or check, a slowed-down login or
// a failed pairing at WARN under the rule's name, with the client's
// address. Every such event goes through here, so that one place counts
// them.
func (s *Server) securityEvent(r *http.Request, rule string, attrs ...slog.Attr) {
	s.log.LogAttrs(r.Context(), slog.LevelWarn, "security event", append([]slog.Attr{
		slog.String("rule", rule),
		slog.String("request_id", requestID(r.Context())),
		slog.String("client", s.clientAddr(r)),
		slog.String("path", r.URL.Path),
	}, attrs...)...)
}

// wait sleeps for d unless ctx ends first.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
