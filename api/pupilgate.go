package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"time"

	"github.com/classboard/classboard"
)

// pupilRequestsPerCPU bounds the pupils' requests (join, reading the
// room, answering, live tickets) a node works on at once, per CPU. A
// class's burst is thousands of these a second, each a few store
// operations; a node that takes them all in works on each more slowly
// than its client waits (1,000 rooms x 30 pupils within 3 s on 3 nodes of
// a shared 2-core machine: joins and answers timed out after 15 s, about
// half of them having reached a node that then worked on them for nobody,
// docs/benchmarks.md). Past the bound a pupil is told at once to come
// back, which costs the node almost nothing. Most of a request's time is
// spent waiting for the store, not on a CPU, so the bound is a multiple
// of the CPUs, chosen by measuring (docs/benchmarks.md, "Pupils' requests
// shed"): at 64 per CPU that flood had no timeout and an answer -> board
// p99 under a second, and 300 rooms joining and answering within 3 s on
// one node still met their target, some pupils sent back for a second or
// two; at 256 per CPU that node never shed, but the flood timed out as
// before; at 32 per CPU the flood did no better than at 64.
const pupilRequestsPerCPU = 64

// pupilRetryMin and pupilRetrySpread make a shed request's Retry-After,
// whole seconds from pupilRetryMin to pupilRetryMin+pupilRetrySpread-1: a
// flood told the same second would come back as the same flood. The
// apps spread it further (client.js jitter).
const (
	pupilRetryMin    = 1
	pupilRetrySpread = 3
)

// errShed is wrapped by a pupil's request the node refused because it
// has as many in flight as it takes: an answer by design, not a failure to
// log.
var errShed = errors.New("pupil requests: come back later")

// pupilGate is a counting semaphore over the pupils' requests in flight
// on this node. It never waits: a full gate refuses.
type pupilGate struct {
	slots chan struct{}
}

// newPupilGate lets n requests in at once; 0 means pupilRequestsPerCPU
// per CPU.
func newPupilGate(n int) *pupilGate {
	if n <= 0 {
		n = pupilRequestsPerCPU * runtime.GOMAXPROCS(0)
	}
	return &pupilGate{slots: make(chan struct{}, n)}
}

// enter takes a slot and returns its release, or returns EUNAVAILABLE
// (wrapping errShed) with a spread Retry-After when every slot is taken.
func (g *pupilGate) enter() (release func(), err error) {
	select {
	case g.slots <- struct{}{}:
		return func() { <-g.slots }, nil
	default:
		wait := time.Duration(pupilRetryMin+rand.IntN(pupilRetrySpread)) * time.Second
		return nil, fmt.Errorf("%w: %w", &classboard.Error{Code: classboard.EUNAVAILABLE, RetryAfter: wait,
			Message: "This server is busy with many pupils at once; try again in a moment."}, errShed)
	}
}

// pupils wraps a pupil's endpoint in the node's pupil gate, inside ready:
// a request past the bound is answered 503 at once and does no store work.
// The body (at most MaxBodyBytes) is read before a slot is taken, so that
// a client sending it slowly holds no slot while it trickles in.
// Teachers' and boards' routes never pass here.
func (s *Server) pupils(h http.HandlerFunc) http.HandlerFunc {
	return s.ready(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
			if err != nil {
				s.writeError(w, r, decodeError(err, s.cfg.MaxBodyBytes))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		release, err := s.pupilGate.enter()
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		defer release()
		h(w, r)
	})
}
