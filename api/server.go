// Package api serves classboard's HTTP interface: the JSON API, the live
// endpoints, health checks and the static apps.
package api

import (
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
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
	// UIOrigins are the origins whose pages may use the API (every origin
	// the apps are served from); CORS and the live endpoints' Origin check
	// allow exactly these. The first is the apps' URL, for pairing links.
	UIOrigins []string
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	MaxBodyBytes   int64
	// MaxMediaBytes bounds one picture upload (classboard.DefaultMaxMediaBytes when 0).
	MaxMediaBytes int64
	// MaxImportBytes bounds one imported file, .pptx or lesson file
	// (classboard.DefaultMaxImportBytes when 0).
	MaxImportBytes int64
	// MaxLivePerSession and MaxLivePerBoard cap this node's live
	// connections (DefaultMaxLivePerSession and DefaultMaxLivePerBoard
	// when 0).
	MaxLivePerSession, MaxLivePerBoard int
	// PointerRate and PointerBurst limit a board's pointer moves on this
	// node, per second and at once (DefaultPointerRate and
	// DefaultPointerBurst when 0).
	PointerRate  float64
	PointerBurst int
	// BodyReadTimeout is how long a request body may take to arrive, plus
	// a second per BodyMinRate bytes (DefaultBodyReadTimeout when 0).
	BodyReadTimeout time.Duration
	Logger          *slog.Logger
	// LogEveryRequest writes every request's access log line at info
	// level; without it only failed and slow requests log at info and the
	// rest at debug (see withAccessLog).
	LogEveryRequest bool
	// Metrics counts requests, live connections and security events; nil
	// counts nothing.
	Metrics Metrics
}

// Metrics is what the API counts; the node passes its metrics.
type Metrics interface {
	// ObserveRequest counts an answered request by the route pattern
	// that matched it ("" for none).
	ObserveRequest(route string, status int, d time.Duration)
	// LiveConnected counts an open live connection until closed is called.
	LiveConnected(transport string) (closed func())
	// SecurityEvent counts a refusal by a limit or check, a slowed-down
	// login or a failed guess, by rule.
	SecurityEvent(rule string)
}

type noMetrics struct{}

func (noMetrics) ObserveRequest(string, int, time.Duration) {}
func (noMetrics) LiveConnected(string) func()               { return func() {} }
func (noMetrics) SecurityEvent(string)                      {}

// Health tells whether the node can serve reads and writes.
type Health interface {
	Ready() error
}

// Services are what the handlers call. Handlers talk to these interfaces,
// never to the store directly.
type Services struct {
	Health      Health
	Accounts    classboard.AccountService
	SignUps     classboard.SignUpService
	Idempotency classboard.IdempotencyStore
	Boards      classboard.BoardService
	Lessons     classboard.LessonService
	Media       classboard.MediaService
	LiveTickets classboard.LiveTickets
	// Pointers carries the teacher's pointer to the boards.
	Pointers classboard.Pointers
	// Activities runs activities and pupils' rooms; nil turns them off.
	Activities classboard.ActivityService
	// ActivityFeed gives a new live connection its board's activity.
	ActivityFeed *live.ActivityFeed
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
	// signingKey is the media URL signing key once loaded (mediaKey).
	signingKey atomic.Pointer[[]byte]
	imports    chan struct{} // imports running (importSlots)

	liveConns sync.WaitGroup // websocket goroutines (see serveWebsocket)

	liveCounts *liveCounts
	pointers   *rateBuckets // pointer moves per board
	pupilTix   *rateBuckets // live tickets per pupil
	pupilGate  *pupilGate   // pupils' requests in flight (pupils)
	qrs        *qrCodes
	strength   chan struct{} // one password strength estimate at a time
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
	if cfg.MaxImportBytes <= 0 {
		cfg.MaxImportBytes = classboard.DefaultMaxImportBytes
	}
	if cfg.BodyReadTimeout <= 0 {
		cfg.BodyReadTimeout = DefaultBodyReadTimeout
	}
	if cfg.PointerRate <= 0 {
		cfg.PointerRate = DefaultPointerRate
	}
	if cfg.PointerBurst <= 0 {
		cfg.PointerBurst = DefaultPointerBurst
	}
	s := &Server{cfg: cfg, svc: svc, log: cfg.Logger,
		markdown: markdown.New(), images: imaging.New(classboard.MaxImagePixels, 2),
		liveCounts: newLiveCounts(cfg.MaxLivePerSession, cfg.MaxLivePerBoard), strength: make(chan struct{}, 1),
		imports: make(chan struct{}, importSlots), pointers: newRateBuckets(cfg.PointerRate, cfg.PointerBurst),
		pupilTix: newRateBuckets(pupilTicketRate, pupilTicketBurst), pupilGate: newPupilGate(0),
		qrs: newQRCodes()}
	mux := http.NewServeMux()
	s.routes(mux)
	s.handler = s.withRequestID(s.withAccessLog(s.withRecover(s.withHeaders(s.withBodyDeadline(mux)))))
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
	mux.HandleFunc("POST /api/v1/accounts/confirm", s.ready(s.confirmAccount))
	mux.HandleFunc("POST /api/v1/password-strength", s.ready(s.passwordStrength))
	mux.HandleFunc("POST /api/v1/sessions", s.ready(s.createSession))
	mux.HandleFunc("DELETE /api/v1/sessions/current", s.allow(teachers, s.deleteSession))
	mux.HandleFunc("GET /api/v1/me", s.allow(teachers, s.me))
	mux.HandleFunc("POST /api/v1/password-resets", s.ready(s.idempotent(s.cfg.MaxBodyBytes, s.requestPasswordReset)))
	mux.HandleFunc("POST /api/v1/password-resets/confirm", s.ready(s.confirmPasswordReset))

	mux.HandleFunc("POST /api/v1/boards", s.ready(s.createBoard))
	mux.HandleFunc("GET /api/v1/boards", s.allow(teachers, s.listBoards))
	mux.HandleFunc("GET /api/v1/boards/{id}", s.allow(teachersOrBoards, s.getBoard))
	mux.HandleFunc("DELETE /api/v1/boards/{id}", s.allow(teachersOrBoards, s.deleteBoard))
	mux.HandleFunc("POST /api/v1/boards/{id}/pairing-code", s.allow(boards, s.newPairingCode))
	mux.HandleFunc("POST /api/v1/pairings", s.allow(teachers, s.idempotent(s.cfg.MaxBodyBytes, s.createPairing)))
	mux.HandleFunc("GET /api/v1/boards/{id}/state", s.allow(teachersOrBoards, s.getState))
	mux.HandleFunc("PUT /api/v1/boards/{id}/state", s.allow(teachers, s.putState))
	mux.HandleFunc("POST /api/v1/boards/{id}/pointer", s.allow(teachers, s.postPointer))
	mux.HandleFunc("GET /api/v1/boards/{id}/lesson", s.allow(teachersOrBoards, s.getBoardLesson))
	mux.HandleFunc("GET /api/v1/boards/{id}/live", s.ready(s.liveEndpoint))
	mux.HandleFunc("POST /api/v1/live-tickets", s.allow(teachersOrBoards, s.createLiveTicket))

	mux.HandleFunc("GET /api/v1/lessons", s.allow(teachers, s.listLessons))
	mux.HandleFunc("POST /api/v1/lessons", s.allow(teachers, s.idempotent(s.cfg.MaxBodyBytes, s.createLesson)))
	mux.HandleFunc("GET /api/v1/lessons/{id}", s.allow(teachers, s.getLesson))
	mux.HandleFunc("POST /api/v1/lessons/import", s.allow(teachers, s.idempotent(s.cfg.MaxImportBytes, s.importLesson)))
	mux.HandleFunc("GET /api/v1/lessons/{id}/export", s.allow(teachers, s.exportLesson))
	mux.HandleFunc("POST /api/v1/lessons/preview", s.allow(teachers, s.previewSlide))
	mux.HandleFunc("PUT /api/v1/lessons/{id}", s.allow(teachers, s.putLesson))
	mux.HandleFunc("DELETE /api/v1/lessons/{id}", s.allow(teachers, s.deleteLesson))
	mux.HandleFunc("GET /api/v1/media", s.allow(teachers, s.listMedia))
	mux.HandleFunc("POST /api/v1/media", s.allow(teachers, s.idempotent(s.cfg.MaxMediaBytes, s.createMedia)))
	mux.HandleFunc("GET /api/v1/media/{id}", s.ready(s.getMedia))
	mux.HandleFunc("DELETE /api/v1/media/{id}", s.allow(teachers, s.deleteMedia))

	s.activityRoutes(mux)

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
