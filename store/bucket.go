package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/classboard/classboard"
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
	name string
	kv   jetstream.KeyValue
	js   jetstream.JetStream
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
		Duplicates:        2 * time.Minute,
		Discard:           jetstream.DiscardNew,
		AllowDirect:       false,
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

func openBucket(ctx context.Context, js jetstream.JetStream, spec bucketSpec, replicas int) (*bucket, error) {
	if err := ensureStream(ctx, js, kvStreamConfig(spec, replicas)); err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(ctx, spec.name)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", spec.name, err)
	}
	return &bucket{name: spec.name, kv: kv, js: js}, nil
}

// get decodes the value of key into v and returns its revision.
func (b *bucket) get(ctx context.Context, key string, v any) (uint64, error) {
	e, err := b.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, errNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("get %s/%s: %w", b.name, key, err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return 0, fmt.Errorf("decode %s/%s: %w", b.name, key, err)
	}
	return e.Revision(), nil
}

// create stores v under key only if key holds nothing; ttl > 0 makes the
// key expire. Returns errExists when the key is taken.
func (b *bucket) create(ctx context.Context, key string, v any, ttl time.Duration) (uint64, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode %s/%s: %w", b.name, key, err)
	}
	var opts []jetstream.KVCreateOpt
	if ttl > 0 {
		opts = append(opts, jetstream.KeyTTL(ttl))
	}
	rev, err := b.kv.Create(ctx, key, data, opts...)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, errExists
	}
	if err != nil {
		return 0, fmt.Errorf("create %s/%s: %w", b.name, key, err)
	}
	return rev, nil
}

// update replaces the value of key if its revision is still rev. ttl > 0
// sets a new TTL: a plain KV update would drop the key's TTL, so the write
// goes through a publish carrying both the expectation and the TTL.
// Returns errRevision when another write came first.
func (b *bucket) update(ctx context.Context, key string, v any, rev uint64, ttl time.Duration) (uint64, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode %s/%s: %w", b.name, key, err)
	}
	if ttl <= 0 {
		newRev, err := b.kv.Update(ctx, key, data, rev)
		if isWrongSequence(err) {
			return 0, errRevision
		}
		if err != nil {
			return 0, fmt.Errorf("update %s/%s: %w", b.name, key, err)
		}
		return newRev, nil
	}
	ack, err := b.js.Publish(ctx, "$KV."+b.name+"."+key, data,
		jetstream.WithExpectLastSequencePerSubject(rev), jetstream.WithMsgTTL(ttl))
	if isWrongSequence(err) {
		return 0, errRevision
	}
	if err != nil {
		return 0, fmt.Errorf("update %s/%s: %w", b.name, key, err)
	}
	return ack.Sequence, nil
}

// delete removes key; with rev > 0 only if its revision is still rev
// (errRevision otherwise). Deleting a missing key is not an error.
func (b *bucket) delete(ctx context.Context, key string, rev uint64) error {
	var opts []jetstream.KVDeleteOpt
	if rev > 0 {
		opts = append(opts, jetstream.LastRevision(rev))
	}
	// Purge, not delete: a purge leaves one marker and drops the old value,
	// which matters for secrets and for pupils' data.
	err := b.kv.Purge(ctx, key, opts...)
	if isWrongSequence(err) {
		return errRevision
	}
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete %s/%s: %w", b.name, key, err)
	}
	return nil
}

// keys lists the keys matching a filter such as "teacher.>".
func (b *bucket) keys(ctx context.Context, filter string) ([]string, error) {
	lister, err := b.kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("list %s/%s: %w", b.name, filter, err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
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
