// Package api serves classboard's HTTP interface: the JSON API, the live
// endpoints, health checks and the static apps.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/imaging"
	"github.com/classboard/classboard/internal/markdown"
	"github.com/classboard/classboard/live"
)

// Config is what the API needs to know about its deployment.
type Config struct {
	Version string
	// PublicURLs are the API origins clients may use (failover list).
	PublicURLs []string
	// UIOrigins are the origins the apps are served from; CORS and the
	// live endpoints' Origin check allow exactly these.
	UIOrigins []string
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	MaxBodyBytes   int64
	// MaxMediaBytes bounds one picture upload (classboard.DefaultMaxMediaBytes when 0).
	MaxMediaBytes int64
	Logger        *slog.Logger
	// Metrics counts requests and live connections; nil counts nothing.
	Metrics Metrics
}

// Metrics is what the API counts; the node passes its metrics.
type Metrics interface {
	// ObserveRequest counts an answered request by the route pattern
	// that matched it ("" for none).
	ObserveRequest(route string, status int, d time.Duration)
	// LiveConnected counts an open live connection until closed is called.
	LiveConnected(transport string) (closed func())
}

type noMetrics struct{}

func (noMetrics) ObserveRequest(string, int, time.Duration) {}
func (noMetrics) LiveConnected(string) func()               { return func() {} }

// Health tells whether the node can serve reads and writes.
type Health interface {
	Ready() error
}

// Services are what the handlers call. Handlers talk to these interfaces,
// never to the store directly.
type Services struct {
	Health      Health
	Accounts    classboard.AccountService
	Idempotency classboard.IdempotencyStore
	Boards      classboard.BoardService
	Lessons     classboard.LessonService
	Media       classboard.MediaService
	LiveTickets classboard.LiveTickets
	// Live holds this node's live connections.
	Live *live.Hub
	// UI serves the static apps under "/".
	UI http.Handler

	// PasswordResets queues reset mail through the outbox.
	PasswordResets classboard.PasswordResetService
}

// Server is the HTTP handler of one node.
type Server struct {
	cfg     Config
	svc     Services
	log     *slog.Logger
	handler http.Handler

	markdown *markdown.Renderer // text slide bodies
	images   *imaging.Processor // uploads
	signing  signingKey         // media URL signatures
}

// New returns the handler with every route.
func New(cfg Config, svc Services) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxMediaBytes <= 0 {
		cfg.MaxMediaBytes = classboard.DefaultMaxMediaBytes
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	s := &Server{cfg: cfg, svc: svc, log: cfg.Logger,
		markdown: markdown.New(), images: imaging.New(classboard.MaxImagePixels, 2)}
	mux := http.NewServeMux()
	s.routes(mux)
	s.handler = s.withRequestID(s.withAccessLog(s.withRecover(s.withHeaders(mux))))
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// routes is the route table. Each resource's handlers live in a file of
// their own.
func (s *Server) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /api/v1/config", s.config)

	mux.HandleFunc("POST /api/v1/accounts", s.ready(s.createAccount))
	mux.HandleFunc("POST /api/v1/sessions", s.ready(s.createSession))
	mux.HandleFunc("DELETE /api/v1/sessions/current", s.teacher(s.deleteSession))
	mux.HandleFunc("GET /api/v1/me", s.teacher(s.me))
	mux.HandleFunc("POST /api/v1/password-resets", s.ready(s.idempotent(s.cfg.MaxBodyBytes, s.requestPasswordReset)))
	mux.HandleFunc("POST /api/v1/password-resets/confirm", s.ready(s.confirmPasswordReset))

	mux.HandleFunc("POST /api/v1/boards", s.ready(s.createBoard))
	mux.HandleFunc("GET /api/v1/boards", s.teacher(s.listBoards))
	mux.HandleFunc("GET /api/v1/boards/{id}", s.teacherOrBoard(s.getBoard))
	mux.HandleFunc("DELETE /api/v1/boards/{id}", s.teacherOrBoard(s.deleteBoard))
	mux.HandleFunc("POST /api/v1/boards/{id}/pairing-code", s.board(s.newPairingCode))
	mux.HandleFunc("POST /api/v1/pairings", s.teacher(s.idempotent(s.cfg.MaxBodyBytes, s.createPairing)))
	mux.HandleFunc("GET /api/v1/boards/{id}/state", s.teacherOrBoard(s.getState))
	mux.HandleFunc("PUT /api/v1/boards/{id}/state", s.teacher(s.putState))
	mux.HandleFunc("GET /api/v1/boards/{id}/lesson", s.teacherOrBoard(s.getBoardLesson))
	mux.HandleFunc("GET /api/v1/boards/{id}/live", s.ready(s.liveEndpoint))
	mux.HandleFunc("POST /api/v1/live-tickets", s.teacherOrBoard(s.createLiveTicket))

	mux.HandleFunc("GET /api/v1/lessons", s.teacher(s.listLessons))
	mux.HandleFunc("POST /api/v1/lessons", s.teacher(s.idempotent(s.cfg.MaxBodyBytes, s.createLesson)))
	mux.HandleFunc("GET /api/v1/lessons/{id}", s.teacher(s.getLesson))
	mux.HandleFunc("POST /api/v1/lessons/preview", s.teacher(s.previewSlide))
	mux.HandleFunc("PUT /api/v1/lessons/{id}", s.teacher(s.putLesson))
	mux.HandleFunc("DELETE /api/v1/lessons/{id}", s.teacher(s.deleteLesson))
	mux.HandleFunc("GET /api/v1/media", s.teacher(s.listMedia))
	mux.HandleFunc("POST /api/v1/media", s.teacher(s.idempotent(s.cfg.MaxMediaBytes, s.createMedia)))
	mux.HandleFunc("GET /api/v1/media/{id}", s.ready(s.getMedia))
	mux.HandleFunc("DELETE /api/v1/media/{id}", s.teacher(s.deleteMedia))

	mux.HandleFunc("/api/", s.notFound)
	if s.svc.UI != nil {
		mux.Handle("/", s.svc.UI)
	}
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, classboard.Errorf(classboard.ENOTFOUND, "No such resource."))
}

// ready answers 503 at once while the node cannot serve, instead of
// letting the request wait on a store that cannot answer.
func (s *Server) ready(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.svc.Health.Ready(); err != nil {
			s.writeError(w, r, &classboard.Error{Code: classboard.EUNAVAILABLE, Message: "This server cannot serve right now; try another."})
			return
		}
		h(w, r)
	}
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// teacher lets only a signed-in teacher through.
func (s *Server) teacher(h http.HandlerFunc) http.HandlerFunc {
	return s.ready(func(w http.ResponseWriter, r *http.Request) {
		tok := bearer(r)
		if tok == "" {
			s.writeError(w, r, classboard.Errorf(classboard.EUNAUTHORIZED, "Sign in first."))
			return
		}
		a, err := s.svc.Accounts.Authenticate(r.Context(), tok)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		h(w, r.WithContext(classboard.NewContextWithAuth(r.Context(), a)))
	})
}

// auth returns the caller of a request that passed teacher().
func auth(ctx context.Context) *classboard.Auth { return classboard.AuthFromContext(ctx) }
