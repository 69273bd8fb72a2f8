package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

type requestIDKey struct{}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// withRequestID gives each request an id, sent back as X-Request-Id and
// written with every log line about it.
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 9)
		rand.Read(b)
		id := base64.RawURLEncoding.EncodeToString(b)
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// recorder passes a response through and notes its status and size; with
// body set it keeps a copy of the body too (idempotent replays).
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	body   *bytes.Buffer
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.body != nil {
		w.body.Write(b)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and Hijack (SSE, websocket).
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// SlowRequest is how long a request may take before its access log line
// is written at info level even when it succeeded.
const SlowRequest = time.Second

// withAccessLog logs one line per request and counts it in the metrics.
// A request that failed (4xx, 5xx) or took SlowRequest or longer logs at
// info; one that succeeded in time logs at debug unless
// Config.LogEveryRequest, so that steering (thousands of writes a second
// on a busy node) does not cost a blocking write to the log for each.
// Nothing is formatted for a level the logger leaves out.
// It logs the path only: query strings may carry a live ticket or a media
// signature. The metrics take the route pattern the mux matched (set on
// this very request, which the handlers below pass on unchanged), never
// the path, so that a caller cannot make up new series.
func (s *Server) withAccessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &recorder{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		d := time.Since(start)
		s.cfg.Metrics.ObserveRequest(r.Pattern, sw.status, d)
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			return
		}
		level := s.accessLogLevel(sw.status, d)
		if !s.log.Enabled(r.Context(), level) {
			return
		}
		s.log.LogAttrs(r.Context(), level, "request",
			slog.String("request_id", requestID(r.Context())),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Int64("bytes", sw.bytes),
			slog.Duration("duration", d),
			slog.String("client", s.clientAddr(r)),
		)
	})
}

// accessLogLevel is the level of a request's access log line.
func (s *Server) accessLogLevel(status int, d time.Duration) slog.Level {
	if s.cfg.LogEveryRequest || status >= 400 || d >= SlowRequest {
		return slog.LevelInfo
	}
	return slog.LevelDebug
}

// withRecover turns a panic in a handler into a 500 and a log line, so one
// bad request cannot take the node down.
func (s *Server) withRecover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.writeError(w, r, fmt.Errorf("panic: %v\n%s", v, debug.Stack()))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// withHeaders sets security headers and CORS on every response.
func (s *Server) withHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if s.overTLS(r) {
			// A year; not includeSubDomains, which would bind a school's
			// other sites too.
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if strings.HasPrefix(r.URL.Path, "/api/") {
			h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; sandbox")
			h.Set("Cache-Control", "no-store")
		} else {
			h.Set("Content-Security-Policy", s.uiCSP())
		}
		if origin := r.Header.Get("Origin"); origin != "" && s.allowedOrigin(origin) {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "ETag, Retry-After, X-Request-Id")
			h.Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			s.preflight(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// overTLS reports whether the client reached us over TLS: directly, or
// through a trusted proxy that says so.
func (s *Server) overTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && s.trusted(addr) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// Body read limits: a body must arrive within DefaultBodyReadTimeout plus
// a second per BodyMinRate bytes it announces, so that a client trickling
// a byte every few seconds cannot hold a connection and a handler for ever.
const (
	DefaultBodyReadTimeout = 30 * time.Second
	BodyMinRate            = 16 << 10 // bytes per second: a slow school uplink
)

// withBodyDeadline sets a read deadline for the request body and lifts it
// once the body is read, so that the connection's own idle handling
// takes over again.
func (s *Server) withBodyDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		size := r.ContentLength
		if size < 0 {
			size = s.cfg.MaxMediaBytes // chunked: allow for the largest body
		}
		rc := http.NewResponseController(w)
		d := s.cfg.BodyReadTimeout + time.Duration(size/BodyMinRate)*time.Second
		if rc.SetReadDeadline(time.Now().Add(d)) == nil {
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the read deadline at the end of the body.
type deadlineBody struct {
	io.ReadCloser
	rc *http.ResponseController
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.rc.SetReadDeadline(time.Time{}) //nolint:errcheck // set once above, so supported
	}
	return n, err
}

// uiCSP allows scripts only from the page's own origin (no inline script)
// and connections to the API origins.
func (s *Server) uiCSP() string {
	connect := []string{"'self'"}
	img := []string{"'self'", "data:", "blob:"}
	for _, u := range s.cfg.PublicURLs {
		connect = append(connect, u, wsURL(u))
		img = append(img, u)
	}
	return "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; " +
		"connect-src " + strings.Join(connect, " ") + "; img-src " + strings.Join(img, " ")
}

func wsURL(u string) string {
	if rest, ok := strings.CutPrefix(u, "https://"); ok {
		return "wss://" + rest
	}
	return "ws://" + strings.TrimPrefix(u, "http://")
}

func (s *Server) allowedOrigin(origin string) bool {
	return slices.Contains(s.cfg.UIOrigins, origin)
}

// preflight answers CORS preflight requests from the UI origins.
func (s *Server) preflight(w http.ResponseWriter, r *http.Request) {
	if !s.allowedOrigin(r.Header.Get("Origin")) || r.Header.Get("Access-Control-Request-Method") == "" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
	h.Set("Access-Control-Allow-Headers", "Authorization, If-Match, Idempotency-Key, Content-Type")
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

// clientAddr is the address limits are counted against: the peer, or, when
// the peer is a trusted proxy, the last address in X-Forwarded-For that is
// not a trusted proxy itself.
func (s *Server) clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || !s.trusted(addr) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		addr = hop.Unmap()
		if !s.trusted(addr) {
			break
		}
	}
	return addr.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}
