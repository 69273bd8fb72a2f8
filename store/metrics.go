package store

import (
	"context"
	"errors"
	"time"
)

// Metrics is what the store counts; the node passes its metrics.
type Metrics interface {
	// ObserveStoreOp records one operation on a bucket and whether it
	// failed for a reason other than the store's own answer.
	ObserveStoreOp(bucket, op string, d time.Duration, failed bool)
	// LimitRefused counts a request a limit rule refused or slowed down.
	LimitRefused(rule string)
}

// noMetrics counts nothing (a store opened without Config.Metrics).
type noMetrics struct{}

func (noMetrics) ObserveStoreOp(string, string, time.Duration, bool) {}
func (noMetrics) LimitRefused(string)                                {}

// observe records an operation on b that started at start and ended with
// *err. Not found, taken and changed-meanwhile are answers, not failures,
// and a caller that gave up (a client gone) is no failure of the store; a
// deadline that passed is.
func (b *bucket) observe(op string, start time.Time, err *error) {
	e := *err
	failed := e != nil && !errors.Is(e, errNotFound) && !errors.Is(e, errExists) && !errors.Is(e, errRevision) &&
		!errors.Is(e, context.Canceled)
	b.metrics.ObserveStoreOp(b.name, op, time.Since(start), failed)
}
