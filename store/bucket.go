package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/token"
)

// Errors a bucket returns for the store's own decisions; callers turn them
// into domain errors.
var (
	errNotFound = errors.New("key not found")
	errExists   = errors.New("key exists")
	errRevision = errors.New("revision mismatch")
)

// bucketSpec describes a KV bucket the store creates at start-up.
type bucketSpec struct {
	name string
	// ttl enables per-key TTLs (Create with a TTL); such buckets keep one
	// value per key, the only setting under which per-key TTL behaves.
	ttl bool
	// maxValue bounds one value in bytes.
	maxValue int32
}

// bucket is a KV bucket holding JSON documents.
type bucket struct {
	name   string
	kv     jetstream.KeyValue
	js     jetstream.JetStream
	stream jetstream.Stream
	// view, when the node mirrors this bucket, is told of every write and
	// delete this node makes, as it succeeds.
	view    viewSource
	metrics Metrics
	// noLeader, when set, says whether this node sees no live leader of
	// the bucket's stream (see awaitLeader).
	noLeader func() bool
}

// kvStreamConfig is the stream nats.go would make for a KV bucket, except
// that direct gets are off: direct gets may be answered by any replica, and
// right after a write followers answered stale data about half the time.
// Reads through the stream leader are consistent (about 0.2 ms).
func kvStreamConfig(spec bucketSpec, replicas int) jetstream.StreamConfig {
	cfg := jetstream.StreamConfig{
		Name:              "KV_" + spec.name,
		Subjects:          []string{"$KV." + spec.name + ".>"},
		MaxMsgsPerSubject: 1,
		MaxBytes:          -1,
		MaxMsgSize:        spec.maxValue,
		MaxMsgs:           -1,
		MaxConsumers:      -1,
		Storage:           jetstream.FileStorage,
		Replicas:          replicas,
		AllowRollup:       true,
		DenyDelete:        true,
		// Message ids are kept this long to tell a retried write from
		// another one; retries end with the operation timeout.
		Duplicates:  30 * time.Second,
		Discard:     jetstream.DiscardNew,
		AllowDirect: false,
	}
	if spec.maxValue == 0 {
		cfg.MaxMsgSize = -1
	}
	if spec.ttl {
		cfg.AllowMsgTTL = true
		// Markers tell watchers that a key expired.
		cfg.SubjectDeleteMarkerTTL = time.Minute
	}
	return cfg
}

// ensureStream creates a stream or brings an existing one to cfg. Safe when
// several nodes do it at once: creating an identical stream succeeds.
func ensureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) error {
	_, err := js.CreateStream(ctx, cfg)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		_, err = js.UpdateStream(ctx, cfg)
	}
	if err != nil {
		return fmt.Errorf("ensure stream %s: %w", cfg.Name, err)
	}
	return nil
}

func openBucket(ctx context.Context, js jetstream.JetStream, spec bucketSpec, replicas int, m Metrics) (*bucket, error) {
	if err := ensureStream(ctx, js, kvStreamConfig(spec, replicas)); err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(ctx, spec.name)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", spec.name, err)
	}
	stream, err := js.Stream(ctx, "KV_"+spec.name)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", spec.name, err)
	}
	return &bucket{name: spec.name, kv: kv, js: js, stream: stream, metrics: m}, nil
}

// attemptTimeout bounds one try of a store request. A request to a stream
// leader that has just died is never answered; rather than wait out the
// whole operation timeout, the store sends it again, so that it reaches the
// new leader as soon as one is elected (4-9 s after a kill).
const attemptTimeout = 1500 * time.Millisecond

// leaderPoll is how often a request waiting for its stream's election
// looks again.
const leaderPoll = 50 * time.Millisecond

// awaitLeader waits, within ctx, while this node sees no live leader of
// the bucket's stream: a request sent then waits out its attempt
// unanswered, and the new leader would get the retry only up to an
// attempt later; one sent as the leader is elected lands at once.
func (b *bucket) awaitLeader(ctx context.Context) {
	if b.noLeader == nil {
		return
	}
	for b.noLeader() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(leaderPoll):
		}
	}
}

// retry runs fn with a per-attempt timeout until it succeeds, fails for a
// reason a retry cannot change, or ctx ends.
func retry[T any](ctx context.Context, fn func(context.Context) (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		v, err := fn(actx)
		cancel()
		if err == nil || !transient(err) || ctx.Err() != nil {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(min(time.Duration(attempt)*100*time.Millisecond, 500*time.Millisecond)):
		}
	}
}

// transient reports errors a retry may cure: no answer, or the cluster
// saying "not now" while it elects a leader.
func transient(err error) bool {
	if isStoreFull(err) {
		return false
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		clusterUnavailable(err) || inProcess(err)
}

// inProcess reports JetStream's answer to a write sent again (same message
// id) while its first attempt, unanswered within attemptTimeout on a busy
// leader, is still being stored: a later attempt gets that write's ack as
// a duplicate, or finds it stored (write), so it is worth a retry, not a
// 500.
func inProcess(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == 10158 // duplicate message id is in process
}

// get decodes the value of key into v and returns its revision.
func (b *bucket) get(ctx context.Context, key string, v any) (_ uint64, err error) {
	defer b.observe("get", time.Now(), &err)
	e, err := b.entry(ctx, key, v)
	if err != nil {
		return 0, err
	}
	return e.Revision(), nil
}

// entry is get returning the whole entry (its creation time too).
func (b *bucket) entry(ctx context.Context, key string, v any) (jetstream.KeyValueEntry, error) {
	e, err := retry(ctx, func(ctx context.Context) (jetstream.KeyValueEntry, error) {
		b.awaitLeader(ctx)
		return b.kv.Get(ctx, key)
	})
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get %s/%s: %w", b.name, key, err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return nil, fmt.Errorf("decode %s/%s: %w", b.name, key, err)
	}
	return e, nil
}

// put writes data to key if the key's last revision is still expect (0:
// the key has no entry), with a TTL when ttl > 0. Returns errRevision when
// another write came first.
func (b *bucket) put(ctx context.Context, key string, data []byte, expect uint64, ttl time.Duration) (_ uint64, err error) {
	defer b.observe("put", time.Now(), &err)
	msg := nats.NewMsg(b.subject(key))
	msg.Data = data
	opts := []jetstream.PublishOpt{jetstream.WithExpectLastSequencePerSubject(expect)}
	if ttl > 0 {
		opts = append(opts, jetstream.WithMsgTTL(ttl))
	}
	rev, err := b.write(ctx, key, msg, opts...)
	if isWrongSequence(err) {
		return 0, errRevision
	}
	if err == nil && b.view != nil {
		b.view.wrote(key, rev, data)
	}
	return rev, err
}

func (b *bucket) subject(key string) string { return "$KV." + b.name + "." + key }

// write publishes msg to key's subject, retrying attempts that got no
// answer. A retry of a compare-and-set that did land finds the key at a
// newer revision; the message id, stored with the message, tells whether
// that revision is this very write.
func (b *bucket) write(ctx context.Context, key string, msg *nats.Msg, opts ...jetstream.PublishOpt) (uint64, error) {
	id := token.New()
	opts = append(opts, jetstream.WithMsgID(id))
	sent := false
	return retry(ctx, func(ctx context.Context) (uint64, error) {
		b.awaitLeader(ctx)
		ack, err := b.js.PublishMsg(ctx, msg, opts...)
		if err == nil {
			return ack.Sequence, nil
		}
		if isWrongSequence(err) && sent {
			if last, lerr := b.last(ctx, key); lerr == nil && last.Header.Get(jetstream.MsgIDHeader) == id {
				return last.Sequence, nil
			}
		}
		sent = true
		return 0, err
	})
}

// last returns the newest message of key, markers included.
func (b *bucket) last(ctx context.Context, key string) (*jetstream.RawStreamMsg, error) {
	return b.stream.GetLastMsgForSubject(ctx, "$KV."+b.name+"."+key)
}

// create stores v under key only if key holds nothing; ttl > 0 makes the
// key expire. Returns errExists when the key is taken.
func (b *bucket) create(ctx context.Context, key string, v any, ttl time.Duration) (uint64, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode %s/%s: %w", b.name, key, err)
	}
	rev, err := b.put(ctx, key, data, 0, ttl)
	if errors.Is(err, errRevision) {
		// The key has a history; it is free if its newest entry is a
		// delete, purge or expiry marker.
		last, lerr := retry(ctx, func(ctx context.Context) (*jetstream.RawStreamMsg, error) { return b.last(ctx, key) })
		if lerr != nil || !isMarker(last) {
			return 0, errExists
		}
		if rev, err = b.put(ctx, key, data, last.Sequence, ttl); errors.Is(err, errRevision) {
			return 0, errExists
		}
	}
	if err != nil {
		return 0, fmt.Errorf("create %s/%s: %w", b.name, key, err)
	}
	return rev, nil
}

// isMarker reports whether a KV message says the key is gone.
func isMarker(m *jetstream.RawStreamMsg) bool {
	switch m.Header.Get("KV-Operation") {
	case "DEL", "PURGE":
		return true
	}
	switch m.Header.Get(jetstream.MarkerReasonHeader) {
	case "MaxAge", "Purge", "Remove":
		return true
	}
	return false
}

// update replaces the value of key if its revision is still rev; ttl > 0
// sets a new TTL (a plain KV update would drop the key's TTL). Returns
// errRevision when another write came first.
func (b *bucket) update(ctx context.Context, key string, v any, rev uint64, ttl time.Duration) (uint64, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode %s/%s: %w", b.name, key, err)
	}
	newRev, err := b.put(ctx, key, data, rev, ttl)
	if err != nil && !errors.Is(err, errRevision) {
		return 0, fmt.Errorf("update %s/%s: %w", b.name, key, err)
	}
	return newRev, err
}

// delete removes key; with rev > 0 only if its revision is still rev
// (errRevision otherwise). Deleting a missing key is not an error. It
// retries like put, so a delete sent just as a stream leader died reaches
// the new one.
func (b *bucket) delete(ctx context.Context, key string, rev uint64) (err error) {
	defer b.observe("delete", time.Now(), &err)
	// Purge, not delete: a purge leaves one marker and drops the old value,
	// which matters for secrets and for pupils' data. The headers are those
	// of the KV API's own purge.
	msg := nats.NewMsg(b.subject(key))
	msg.Header.Set("KV-Operation", "PURGE")
	msg.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
	var opts []jetstream.PublishOpt
	if rev > 0 {
		opts = append(opts, jetstream.WithExpectLastSequencePerSubject(rev))
	}
	_, err = b.write(ctx, key, msg, opts...)
	if isWrongSequence(err) {
		return errRevision
	}
	if err != nil {
		return fmt.Errorf("delete %s/%s: %w", b.name, key, err)
	}
	if b.view != nil {
		b.view.deleted(key)
	}
	return nil
}

// keys lists the keys matching a filter such as "teacher.>", retrying
// like get.
func (b *bucket) keys(ctx context.Context, filter string) (_ []string, err error) {
	defer b.observe("list", time.Now(), &err)
	keys, err := retry(ctx, func(ctx context.Context) ([]string, error) {
		lister, err := b.kv.ListKeysFiltered(ctx, filter)
		if err != nil {
			return nil, err
		}
		var keys []string
		for k := range lister.Keys() {
			keys = append(keys, k)
		}
		// The lister ends its list early, without an error, when ctx
		// ends: a cut list must not pass for the whole.
		return keys, ctx.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list %s/%s: %w", b.name, filter, err)
	}
	return keys, nil
}

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	// Replicated streams answer with the "constant" variant of the code.
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// unavailable wraps a store failure as the domain's EUNAVAILABLE, keeping
// the cause for the log.
func unavailable(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%w: %w", &classboard.Error{Code: classboard.EUNAVAILABLE, Message: "The service is not available right now; try again shortly."}, err)
}
