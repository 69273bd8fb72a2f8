package classboard

import (
	"context"
	"time"
)

// IdempotencyTTL is how long a key and its first answer are kept.
const IdempotencyTTL = 24 * time.Hour

// IdempotentResponse is the first answer to a request with an
// Idempotency-Key, replayed for every retry of it.
type IdempotentResponse struct {
	BodyHash    string `json:"body_hash"` // hash of method, route and request body
	Done        bool   `json:"done"`      // false while the first request runs
	Status      int    `json:"status,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Location    string `json:"location,omitempty"`
	Body        []byte `json:"body,omitempty"`
}

// IdempotencyStore keeps Idempotency-Key records for every node.
type IdempotencyStore interface {
	// Reserve claims key for a request whose body hashes to bodyHash.
	// It returns nil when the caller holds the key now, or the record
	// that holds it already (Done false while that request still runs).
	Reserve(ctx context.Context, key, bodyHash string) (*IdempotentResponse, error)
	// Complete stores the answer of the request that reserved key.
	Complete(ctx context.Context, key string, resp IdempotentResponse) error
	// Release gives key up after the request failed, so a retry can run.
	Release(ctx context.Context, key string) error
}
