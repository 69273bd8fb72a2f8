package store

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Metrics is what the store counts; the node passes its metrics.
type Metrics interface {
	// ObserveStoreOp records one operation on a bucket and whether it
	// failed for a reason other than the store's own answer.
	ObserveStoreOp(bucket, op string, d time.Duration, failed bool)
	// SecurityEvent counts, by rule, a limit that acted without an error
	// to carry the rule to the API.
	SecurityEvent(rule string)
}

// noMetrics counts nothing (a store opened without Config.Metrics).
type noMetrics struct{}

func (noMetrics) ObserveStoreOp(string, string, time.Duration, bool) {}
func (noMetrics) SecurityEvent(string)                               {}

// observe records an operation on b that started at start and ended with
// *err.
func (b *bucket) observe(op string, start time.Time, err *error) {
	observeOp(b.metrics, b.name, op, start, *err)
}

// observeOp records one store operation. Not found, taken and
// changed-meanwhile are answers, not failures, and a caller that gave up
// (a client gone) is no failure of the store; a deadline that passed is.
func observeOp(m Metrics, bucket, op string, start time.Time, err error) {
	failed := err != nil && !errors.Is(err, errNotFound) && !errors.Is(err, errExists) && !errors.Is(err, errRevision) &&
		!errors.Is(err, jetstream.ErrObjectNotFound) && !errors.Is(err, context.Canceled)
	m.ObserveStoreOp(bucket, op, time.Since(start), failed)
}

// observedObjects times the media object store's operations; the bucket
// label is "media". Reading an object's bytes happens after Get returns and
// is not part of the time.
type observedObjects struct {
	jetstream.ObjectStore
	metrics Metrics
}

func (o observedObjects) observe(op string, start time.Time, err *error) {
	observeOp(o.metrics, "media", op, start, *err)
}

func (o observedObjects) Put(ctx context.Context, meta jetstream.ObjectMeta, r io.Reader) (info *jetstream.ObjectInfo, err error) {
	defer o.observe("put", time.Now(), &err)
	return o.ObjectStore.Put(ctx, meta, r)
}

func (o observedObjects) Get(ctx context.Context, name string, opts ...jetstream.GetObjectOpt) (res jetstream.ObjectResult, err error) {
	defer o.observe("get", time.Now(), &err)
	return o.ObjectStore.Get(ctx, name, opts...)
}

func (o observedObjects) GetInfo(ctx context.Context, name string, opts ...jetstream.GetObjectInfoOpt) (info *jetstream.ObjectInfo, err error) {
	defer o.observe("info", time.Now(), &err)
	return o.ObjectStore.GetInfo(ctx, name, opts...)
}

func (o observedObjects) Delete(ctx context.Context, name string) (err error) {
	defer o.observe("delete", time.Now(), &err)
	return o.ObjectStore.Delete(ctx, name)
}
