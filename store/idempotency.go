package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/classboard/classboard"
)

// pendingTTL bounds how long a reservation whose request died (a node
// crash mid-request) blocks retries with the same key.
const pendingTTL = time.Minute

// Idempotency implements classboard.IdempotencyStore. A reservation is a KV
// create, so of two concurrent requests with one key, on any nodes, exactly
// one runs.
type Idempotency struct{ s *Store }

var _ classboard.IdempotencyStore = Idempotency{}

// Idempotency returns the Idempotency-Key store.
func (s *Store) Idempotency() Idempotency { return Idempotency{s} }

// Reserve claims key, or returns the record holding it.
func (i Idempotency) Reserve(ctx context.Context, key, bodyHash string) (*classboard.IdempotentResponse, error) {
	ctx, cancel, err := i.s.opContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	k := hashKey(key)
	_, err = i.s.idempotency.create(ctx, k, classboard.IdempotentResponse{BodyHash: bodyHash}, pendingTTL)
	if err == nil {
		return nil, nil
	}
	if !errors.Is(err, errExists) {
		return nil, storeErr(fmt.Errorf("reserve idempotency key: %w", err))
	}
	var rec classboard.IdempotentResponse
	if _, err := i.s.idempotency.get(ctx, k, &rec); err != nil {
		if errors.Is(err, errNotFound) { // expired between the two calls
			return &classboard.IdempotentResponse{BodyHash: bodyHash}, nil
		}
		return nil, storeErr(fmt.Errorf("load idempotency key: %w", err))
	}
	return &rec, nil
}

// Complete stores the first answer for a day.
func (i Idempotency) Complete(ctx context.Context, key string, resp classboard.IdempotentResponse) error {
	ctx, cancel, err := i.s.opContext(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	k := hashKey(key)
	var rec classboard.IdempotentResponse
	rev, err := i.s.idempotency.get(ctx, k, &rec)
	if err != nil {
		return storeErr(fmt.Errorf("load idempotency key: %w", err))
	}
	resp.Done = true
	if _, err := i.s.idempotency.update(ctx, k, resp, rev, classboard.IdempotencyTTL); err != nil {
		return storeErr(fmt.Errorf("complete idempotency key: %w", err))
	}
	return nil
}

// Release deletes a reservation.
func (i Idempotency) Release(ctx context.Context, key string) error {
	ctx, cancel, err := i.s.opContext(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	return storeErr(i.s.idempotency.delete(ctx, hashKey(key), 0))
}
