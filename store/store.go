// Package store keeps everything classboard stores in NATS JetStream: KV
// buckets for documents, an object store for media, streams for the mail
// outbox. By default it embeds nats-server, so a node needs nothing else.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/password"
)

// Config configures the store of one node.
type Config struct {
	NodeName string
	DataDir  string

	// ClusterAddr, Peers and ClusterSecret form a cluster of embedded
	// servers; empty ClusterAddr means a single node.
	ClusterAddr   string
	Peers         []string
	ClusterSecret string
	// ClusterAdvertise is the address other nodes are told to reach this
	// node's routes at (behind NAT); empty means ClusterAddr. Peers learn
	// it by gossip; they still dial the configured Peers first.
	ClusterAdvertise string

	// NATSURL points at an external NATS cluster instead of embedding one.
	NATSURL string
	// Replicas of every bucket and stream; 0 picks 3 in a cluster of three
	// or more, else 1.
	Replicas int

	MaxStore  int64 // JetStream file storage limit in bytes
	MaxMemory int64 // JetStream memory storage limit in bytes

	// ProbeInterval is how often the node checks that it can write.
	ProbeInterval time.Duration
	// OpTimeout bounds one store operation, so a request never hangs on a
	// store that cannot answer.
	OpTimeout time.Duration

	// PasswordParams and HashConcurrency tune argon2id; zero values take
	// the defaults (tests lower the cost).
	PasswordParams  password.Params
	HashConcurrency int

	// Pairing sets the board registration and pairing limits; zero fields
	// take the defaults (tests lower them).
	Pairing PairingLimits

	// Resets sets the password reset link lifetime and request limits;
	// zero fields take the defaults (tests lower them).
	Resets ResetLimits

	// SignUps sets the sign-up limits; zero fields take the defaults.
	SignUps SignUpLimits

	// Activities sets the limits of activities and their rooms; zero
	// fields take the defaults (tests lower them).
	Activities ActivityLimits

	// MediaQuota is how many bytes of pictures one teacher may keep;
	// 0 means classboard.DefaultMediaQuota.
	MediaQuota int64

	// Metrics counts store operations and limit refusals; nil counts
	// nothing.
	Metrics Metrics

	// TeacherLimits bounds the lessons, pictures and boards of one teacher.
	TeacherLimits TeacherLimits

	// ViewMaxKeys bounds how many keys of each mirrored bucket (sessions,
	// teachers, boards, lessons) the node keeps in memory (see view.go);
	// 0 means DefaultViewMaxKeys.
	ViewMaxKeys int

	// Now is the clock of the limits' windows and of pairing codes'
	// expiry; nil means time.Now. Tests set it instead of waiting for a
	// window to pass.
	Now func() time.Time

	// toolServer marks the server a tool runs on a stopped node's data
	// directory. It syncs to disk when it stops rather than at every
	// write: a restore writes every message again, and an fsync each made
	// restoring a large store take many minutes (and the engine gives up
	// on a restore chunk that takes over 5 s).
	toolServer bool
}

func (c Config) clustered() bool { return c.ClusterAddr != "" }

func (c Config) replicas() int {
	switch {
	case c.Replicas > 0:
		return c.Replicas
	case c.clustered() && len(c.Peers) >= 3:
		return 3
	case c.clustered():
		return len(c.Peers)
	}
	return 1
}

// Store is the node's connection to JetStream and the buckets in it. Its
// services (Accounts, ...) answer EUNAVAILABLE until the buckets exist.
type Store struct {
	cfg Config
	log *slog.Logger
	srv *embedded // nil with an external NATS
	// local caches what the embedded server says of its replicas.
	local  localStreams
	nc     *nats.Conn
	js     jetstream.JetStream
	hasher *password.Hasher

	ready  chan struct{} // closed once every bucket exists
	health atomic.Pointer[string]
	probes int // successful probes, counted by run's goroutine only
	// slowProbes counts probe writes in a row that timed out (run's
	// goroutine only). One slow write on a loaded machine (an fsync stall)
	// is not a lost quorum; two in a row are treated as one.
	slowProbes int

	// Buckets, set before ready is closed.
	teachers, emails, sessions, limits, idempotency *bucket
	lessons, mediaRecords                           *bucket
	config                                          *bucket // cluster-wide settings made once (the media signing key)
	boards, pairing, resets                         *bucket
	// Board states, live tickets and activities (with their rooms,
	// pupils and answers), by shard (stateBucketName): a board's writes,
	// its reconnections and its class's answers need only its shard's
	// leaders.
	boardStates, tickets [stateShards]*bucket
	activities           [activityShards]*bucket
	media                jetstream.ObjectStore
	view                 *view        // the hot documents in memory
	recent               recentCounts // limit counters read lately (countRecent)
	// stopView ends the view's watches and checks (tests use it to play a
	// watch that fell behind; Close ends them with everything else).
	stopView context.CancelFunc
	probe    *prober // this node's health stream

	// online is which boards have a live connection on some node.
	online *presenceView

	// outbox is the consumer every node's mail workers share.
	outbox jetstream.Consumer

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Open starts the embedded server (or connects to NATSURL) and returns at
// once; the buckets are made in the background, because in a cluster they
// need a quorum that may not exist yet. Ready reports when they are.
func Open(cfg Config, log *slog.Logger) (*Store, error) {
	if cfg.ProbeInterval <= 0 {
		cfg.ProbeInterval = time.Second
	}
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PasswordParams == (password.Params{}) {
		cfg.PasswordParams = password.DefaultParams
	}
	if cfg.HashConcurrency <= 0 {
		cfg.HashConcurrency = 4
	}
	cfg.TeacherLimits = cfg.TeacherLimits.withDefaults()
	if cfg.NodeName == "" {
		cfg.NodeName, _ = os.Hostname()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	s := &Store{
		cfg:    cfg,
		log:    log,
		hasher: password.NewHasher(cfg.PasswordParams, cfg.HashConcurrency),
		ready:  make(chan struct{}),
		view:   newView(cfg.ViewMaxKeys, log.Warn),
	}
	s.setHealth("starting")
	var err error
	if cfg.NATSURL != "" {
		s.nc, err = nats.Connect(cfg.NATSURL, nats.Name("classboard "+cfg.NodeName), nats.MaxReconnects(-1))
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", cfg.NATSURL, err)
		}
	} else {
		if s.srv, err = startEmbedded(cfg, log); err != nil {
			return nil, err
		}
		if s.nc, err = s.srv.connect("classboard " + cfg.NodeName); err != nil {
			s.srv.shutdown(context.Background())
			return nil, fmt.Errorf("connect to embedded nats-server: %w", err)
		}
	}
	if s.js, err = jetstream.New(s.nc); err != nil {
		s.closeConn(context.Background())
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	s.online = newPresenceView(s.nc, cfg.NodeName, log)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.run(ctx)
	}()
	s.wg.Go(func() {
		if err := s.online.run(ctx); err != nil {
			log.Error("board presence stopped", "err", err)
		}
	})
	return s, nil
}

// Close stops the background work and the server. JetStream writes are
// synced on every write, so nothing acknowledged is lost by a hard stop
// either; a clean one hands stream leadership over at once.
func (s *Store) Close(ctx context.Context) error {
	// The others need not wait for this node's heartbeats to stop: its
	// boards are reconnecting elsewhere already.
	if err := s.online.goodbye(); err != nil && !isClosed(err) {
		s.log.Warn("say goodbye to the other nodes", "err", err)
	}
	s.cancel()
	s.wg.Wait()
	if s.srv != nil {
		removeLocalAccess(s.cfg.DataDir)
	}
	s.closeConn(ctx)
	return nil
}

func (s *Store) closeConn(ctx context.Context) {
	if s.nc != nil {
		s.nc.Drain() //nolint:errcheck // closing anyway
		s.nc.Close()
	}
	if s.srv != nil {
		s.srv.shutdown(ctx)
	}
}

// slowProbesToFail is how many probe writes in a row must time out before
// the node says it has no quorum. With a probe a second and 1.5 s per
// probe, a lost quorum still shows within about 4 s.
const slowProbesToFail = 2

// healthReason is the current verdict ("" when ready).
func (s *Store) healthReason() string {
	if h := s.health.Load(); h != nil {
		return *h
	}
	return ""
}

// Ready returns nil when the node can serve reads and writes, else an
// error saying why not ("starting", "no quorum", ...).
func (s *Store) Ready() error {
	if h := s.healthReason(); h != "" {
		return errors.New(h)
	}
	return nil
}

// WaitReady blocks until the store is ready or ctx ends.
func (s *Store) WaitReady(ctx context.Context) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if err := s.Ready(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("store not ready: %w (%v)", ctx.Err(), s.Ready())
		case <-t.C:
		}
	}
}

// Hasher returns the password hasher (tests count its verifications).
func (s *Store) Hasher() *password.Hasher { return s.hasher }

func (s *Store) setHealth(reason string) {
	if old := s.health.Load(); old == nil || *old != reason {
		switch reason {
		case "":
			s.log.Info("store ready")
		case "starting":
			s.log.Info("store starting")
		default:
			s.log.Warn("store not ready", "reason", reason)
		}
	}
	s.health.Store(&reason)
}

// run creates the buckets, retrying until it can (a fresh meta leader may
// not know every peer yet), then probes health until ctx ends.
func (s *Store) run(ctx context.Context) {
	for attempt := 0; ; attempt++ {
		err := s.init(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		if attempt%10 == 0 {
			s.log.Info("waiting for the store", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
	viewCtx, stopView := context.WithCancel(ctx)
	s.stopView = stopView
	s.wg.Go(func() {
		s.runView(viewCtx, map[*bucket]viewSource{
			s.sessions: s.view.sessions, s.teachers: s.view.teachers,
			s.boards: s.view.boards, s.lessons: s.view.lessons,
		})
	})
	close(s.ready)
	if err := s.writeLocalAccess(); err != nil {
		s.log.Warn("local tools (backup, restore) cannot reach this node", "err", err)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.repairLoop(ctx)
	}()
	t := time.NewTicker(s.cfg.ProbeInterval)
	defer t.Stop()
	for {
		s.setHealth(s.check(ctx))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// check returns "" when a small write to this node's own health stream
// succeeds in time (see prober). A write is the only direct test: the engine's own health report took up to 20 s to notice a
// lost quorum, and a cut-off leader keeps answering reads for about 10 s.
func (s *Store) check(ctx context.Context) string {
	// The engine's meta-layer health is not consulted here: requests need
	// their streams, not the meta leader, and while the majority elects a
	// new meta leader (seconds after the old one died) it would turn
	// healthy nodes unready, exactly when clients need somewhere to go.
	if err := s.probe.probe(ctx); err != nil {
		// A health stream electing a leader answers "no responders" at
		// once; like a slow write it says nothing yet about the quorum,
		// so one alone does not turn a node of the majority away.
		if transient(err) {
			if s.slowProbes++; s.slowProbes < slowProbesToFail {
				return s.healthReason()
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				return "store unavailable: " + err.Error()
			}
			return "no quorum: probe write timed out"
		}
		s.slowProbes = 0
		if isStoreFull(err) {
			return "store full: " + err.Error()
		}
		return "store unavailable: " + err.Error()
	}
	s.slowProbes = 0
	s.probes++
	if s.cfg.clustered() && s.probes%10 == 1 {
		if err := s.probe.claimLeader(ctx); err != nil {
			s.log.Debug("health stream leader stays elsewhere for now", "err", err)
		}
	}
	if s.cfg.clustered() && s.probes%spreadEvery == 0 {
		if err := s.spreadStateLeaders(ctx); err != nil {
			s.log.Debug("board state leaders stay as they are for now", "err", err)
		}
	}
	return ""
}

func (s *Store) init(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// Only a cluster has a meta leader to wait for. On a single node the
	// engine's health check also fails for a stream whose creation a crash
	// interrupted, which creating it again below repairs.
	if s.srv != nil && s.cfg.clustered() {
		if err := s.srv.metaHealthy(); err != nil {
			return err
		}
	}
	r := s.cfg.replicas()
	kb := 1024
	type wanted struct {
		dst  **bucket
		spec bucketSpec
	}
	specs := []wanted{
		{&s.teachers, bucketSpec{name: "teachers", maxValue: 16 * int32(kb)}},
		{&s.emails, bucketSpec{name: "emails", maxValue: 1 * int32(kb)}},
		{&s.sessions, bucketSpec{name: "sessions", ttl: true, maxValue: 4 * int32(kb)}},
		{&s.limits, bucketSpec{name: "limits", ttl: true, maxValue: 1 * int32(kb)}},
		{&s.idempotency, bucketSpec{name: "idempotency", ttl: true, maxValue: 1024 * int32(kb)}},
		{&s.lessons, bucketSpec{name: "lessons", maxValue: 1024 * int32(kb)}},
		{&s.mediaRecords, bucketSpec{name: "media_records", maxValue: 16 * int32(kb)}},
		{&s.config, bucketSpec{name: "config", maxValue: 1 * int32(kb)}},
		{&s.boards, bucketSpec{name: "boards", ttl: true, maxValue: 16 * int32(kb)}},
		{&s.boardStates[0], bucketSpec{name: stateBucketName(0), maxValue: 16 * int32(kb)}},
		{&s.boardStates[1], bucketSpec{name: stateBucketName(1), maxValue: 16 * int32(kb)}},
		{&s.boardStates[2], bucketSpec{name: stateBucketName(2), maxValue: 16 * int32(kb)}},
		{&s.pairing, bucketSpec{name: "pairing", ttl: true, maxValue: 4 * int32(kb)}},
		{&s.tickets[0], bucketSpec{name: ticketBucketName(0), ttl: true, maxValue: 4 * int32(kb)}},
		{&s.tickets[1], bucketSpec{name: ticketBucketName(1), ttl: true, maxValue: 4 * int32(kb)}},
		{&s.tickets[2], bucketSpec{name: ticketBucketName(2), ttl: true, maxValue: 4 * int32(kb)}},
		{&s.resets, bucketSpec{name: "resets", ttl: true, maxValue: 4 * int32(kb)}},
	}
	for i := range s.activities {
		specs = append(specs, wanted{&s.activities[i], bucketSpec{name: activityBucketName(i), ttl: true, maxValue: 4 * int32(kb)}})
	}
	for _, b := range specs {
		if *b.dst != nil {
			continue // made by an earlier attempt
		}
		bk, err := openBucket(ctx, s.js, b.spec, r, s.cfg.Metrics)
		if err != nil {
			return err
		}
		if s.srv != nil {
			bk.noLeader = func() bool { _, none := s.leaderless(bk); return none }
		}
		*b.dst = bk
	}
	// A node's own writes go into its view as they succeed.
	s.sessions.view, s.teachers.view = s.view.sessions, s.view.teachers
	s.boards.view, s.lessons.view = s.view.boards, s.view.lessons
	if s.probe == nil {
		p, err := ensureProber(ctx, s.nc, s.js, s.cfg.NodeName, r)
		if err != nil {
			return err
		}
		s.probe = p
	}
	if s.outbox == nil {
		cons, err := ensureOutbox(ctx, s.js, r)
		if err != nil {
			return err
		}
		s.outbox = cons
	}
	if s.media == nil {
		obs, err := s.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:   "media",
			Storage:  jetstream.FileStorage,
			Replicas: r,
		})
		if err != nil {
			return fmt.Errorf("ensure object store media: %w", err)
		}
		s.media = observedObjects{ObjectStore: obs, metrics: s.cfg.Metrics}
	}
	return nil
}

// opContext bounds one store operation and refuses at once while the store
// is not ready, so that requests answer EUNAVAILABLE instead of hanging.
func (s *Store) opContext(ctx context.Context) (context.Context, context.CancelFunc, error) {
	select {
	case <-s.ready:
	default:
		return nil, nil, unavailable(errors.New("store is starting"))
	}
	if err := s.Ready(); err != nil {
		return nil, nil, unavailable(err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	return ctx, cancel, nil
}

// teacherOp is opContext for an operation on the signed-in teacher's own
// documents: it also returns the teacher's id, or EUNAUTHORIZED when ctx
// carries no teacher.
func (s *Store) teacherOp(ctx context.Context) (context.Context, context.CancelFunc, string, error) {
	a := classboard.AuthFromContext(ctx)
	if a == nil || a.Teacher == nil {
		return nil, nil, "", classboard.Errorf(classboard.EUNAUTHORIZED, "Sign in first.")
	}
	ctx, cancel, err := s.opContext(ctx)
	if err != nil {
		return nil, nil, "", err
	}
	return ctx, cancel, a.Teacher.ID, nil
}

// storeErr passes *classboard.Error values (the store's decisions) on as
// they are and wraps the errors that say the store cannot answer now
// (timeouts, lost connections, no leader yet, a full disk) as
// EUNAVAILABLE; anything else stays an internal error.
func storeErr(err error) error {
	var e *classboard.Error
	if err == nil || errors.As(err, &e) {
		return err
	}
	if isStoreFull(err) {
		return fmt.Errorf("%w: %w", &classboard.Error{Code: classboard.EUNAVAILABLE, Message: "The server's storage is full; tell your school's IT."}, err)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, nats.ErrNoResponders) || clusterUnavailable(err) {
		return unavailable(err)
	}
	return err
}

// clusterUnavailable reports JetStream's own "not now" answers: seen from
// the majority side while a stream elects a leader after a node was lost.
func clusterUnavailable(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case 10008, 10009, 10118: // cluster not available, not leader, stream offline
		return true
	}
	return apiErr.Code == 503
}

// isStoreFull reports whether JetStream refused a write for lack of space
// (--max-store reached, or the disk itself full).
func isStoreFull(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == 10023 || // insufficient resources
		apiErr.ErrorCode == 10047) // storage resources exceeded
}
