package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// errConflict is a write refused with 412 whose current state is not
// what the harness wrote: with one writer per board it means a lost or
// reordered write.
var errConflict = errors.New("revision mismatch")

// steer changes the board about every Interval until steerCtx ends.
// Writes in flight then still finish (under runCtx): an update cut off
// half-way would be neither acknowledged nor refused.
func (r *run) steer(steerCtx, runCtx context.Context, b *board) {
	// The first change comes at a random moment of the first interval, so
	// the boards' changes spread evenly over time.
	wait := rand.N(r.cfg.Interval)
	for {
		t := time.NewTimer(wait)
		select {
		case <-steerCtx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-b.kick:
			t.Stop()
		}
		r.write(runCtx, b)
		wait = r.cfg.Interval/2 + rand.N(r.cfg.Interval)
	}
}

// write sends one change and records its answer.
func (r *run) write(ctx context.Context, b *board) {
	ifMatch, body := b.nextWrite(time.Now())
	r.sent.Add(1)
	sent := time.Now()
	st, err := r.putState(ctx, b, ifMatch, body)
	acked := time.Now()
	if err != nil {
		var cur *conflictError
		if errors.As(err, &cur) {
			b.resync(cur.revision)
		}
		r.writeErrors.Add(1)
		r.noteError("write", err)
		return
	}
	r.acked.Add(1)
	if b.acknowledged(st.Revision, body, sentAt{sent: sent, acked: acked}) {
		r.delivered.Add(1)
	}
}

// conflictError is a 412 with a current state the harness did not write.
type conflictError struct{ revision uint64 }

func (e *conflictError) Error() string {
	return fmt.Sprintf("%v: the board is at revision %d", errConflict, e.revision)
}

func (e *conflictError) Unwrap() error { return errConflict }

// writeDeadline bounds one change across every retry: longer than an
// election and a node's store timeout together.
const writeDeadline = 60 * time.Second

// putState writes a board's state through the teacher's node. On a
// network error, a timeout or a 503 the device moves to the next node and
// sends the same write again: it carries If-Match, so a retry is harmless,
// and a 412 whose current state is what was sent means the first attempt
// took effect (the API contract's rule).
func (r *run) putState(ctx context.Context, b *board, ifMatch uint64, body stateBody) (*boardState, error) {
	ctx, cancel := context.WithTimeout(ctx, writeDeadline)
	defer cancel()
	n := len(r.nodes.urls)
	tried := 0
	for {
		origin := int(b.teacher.origin.Load())
		url := r.nodes.urls[origin] + "/api/v1/boards/" + b.id + "/state"
		res, err := r.api.do(ctx, "PUT", url, b.teacher.token, body, "If-Match", strconv.FormatUint(ifMatch, 10))
		if err == nil {
			switch res.status {
			case http.StatusOK:
				var st boardState
				if err := json.Unmarshal(res.body, &st); err != nil {
					return nil, fmt.Errorf("decode state: %w", err)
				}
				return &st, nil
			case http.StatusPreconditionFailed:
				var e struct {
					Current boardState `json:"current"`
				}
				if err := json.Unmarshal(res.body, &e); err != nil {
					return nil, fmt.Errorf("decode 412: %w", err)
				}
				if e.Current.same(body) {
					return &e.Current, nil
				}
				return nil, &conflictError{revision: e.Current.Revision}
			case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
				err = &apiError{method: "PUT", url: url, status: res.status, body: res.body}
			default:
				return nil, &apiError{method: "PUT", url: url, status: res.status, code: errorCode(res.body), body: res.body}
			}
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("write state of board %s: %w", b.id, err)
		}
		r.writeRetries.Add(1)
		b.teacher.origin.CompareAndSwap(int32(origin), int32((origin+1)%n))
		if tried++; tried >= n {
			tried = 0
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("write state of board %s: %w", b.id, err)
			case <-time.After(100*time.Millisecond + rand.N(400*time.Millisecond)):
			}
		}
	}
}
