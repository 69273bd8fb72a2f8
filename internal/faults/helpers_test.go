package faults

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/testcluster"
	"github.com/classboard/classboard/store"
)

var soak = flag.Bool("classboard.soak", false, "run the long soak variants of the fault tests")

const password = "correct horse battery"

// signUp creates a teacher through the given origin and returns the e-mail.
func signUp(t *testing.T, origin, email string) {
	t.Helper()
	res := apitest.New(origin).Do(t, "POST", "/api/v1/accounts", map[string]string{"email": email, "password": password, "name": "Ada"})
	if res.Status != http.StatusCreated {
		t.Fatalf("sign up through %s: %d %s", origin, res.Status, res.Body)
	}
}

// session is one acknowledged write: a session created through the API.
type session struct {
	token string
	at    time.Time
}

// writer creates sessions through a failover client until ctx ends; every
// session it got a 201 for is an acknowledged write.
type writer struct {
	client *testcluster.Client
	email  string
	pace   time.Duration // pause between writes
	count  atomic.Int64  // acknowledged so far
	failed int
}

// progress waits until the writer has n more acknowledged writes than
// when it was called.
func (w *writer) progress(t *testing.T, n int64) {
	t.Helper()
	from := w.count.Load()
	poll.CheckFor(t, 2*testcluster.ElectionBudget, 50*time.Millisecond, func() error {
		if got := w.count.Load() - from; got < n {
			return fmt.Errorf("%d of %d writes acknowledged", got, n)
		}
		return nil
	})
}

// run writes until ctx ends. A request the client could not get through
// even after backing off is counted as failed (the teacher would have seen
// an error).
func (w *writer) run(ctx context.Context, t *testing.T) []session {
	var out []session
	for ctx.Err() == nil {
		opCtx, cancel := context.WithTimeout(ctx, 2*testcluster.ElectionBudget)
		res, err := w.client.Retry(opCtx, "POST", "/api/v1/sessions", map[string]string{"email": w.email, "password": password})
		cancel()
		switch {
		case ctx.Err() != nil:
		case err != nil:
			w.failed++
			t.Logf("write failed: %v", err)
		case res.Status != http.StatusCreated:
			w.failed++
			t.Logf("write refused: %d %s", res.Status, res.Body)
		default:
			var s struct {
				Token string `json:"token"`
			}
			res.JSON(t, &s)
			out = append(out, session{token: s.Token, at: time.Now()})
			w.count.Add(1)
		}
		select {
		case <-ctx.Done():
		case <-time.After(w.pace):
		}
	}
	return out
}

// checkSessions asserts that every acknowledged session works on every
// node: nothing acknowledged was lost.
func checkSessions(t *testing.T, c *testcluster.Cluster, acked []session) {
	t.Helper()
	lost := 0
	for _, m := range c.Nodes {
		cl := apitest.New(m.URL())
		for _, s := range acked {
			// A node may still be settling after the fault (a 503 says
			// "not now", not "unknown"): ask again until it answers.
			var res *apitest.Response
			poll.CheckFor(t, testcluster.ElectionBudget, 100*time.Millisecond, func() error {
				if res = cl.With(s.token).Do(t, "GET", "/api/v1/me", nil); res.Status == http.StatusServiceUnavailable {
					return fmt.Errorf("%s still settling: %s", m.Name, res.Body)
				}
				return nil
			})
			if res.Status != http.StatusOK {
				lost++
				t.Errorf("session acknowledged at %s unknown to %s: %d %s", s.at.Format(time.StampMilli), m.Name, res.Status, res.Body)
			}
		}
	}
	t.Logf("acknowledged writes: %d, lost: %d", len(acked), lost)
}

// gaps returns, for each instant in kills, how long after it the next
// acknowledged write came.
func gaps(kills []time.Time, acked []session) []time.Duration {
	var out []time.Duration
	for _, k := range kills {
		for _, s := range acked {
			if s.at.After(k) {
				out = append(out, s.at.Sub(k))
				break
			}
		}
	}
	return out
}

// percentile returns the p-th percentile (0-100) of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

// replicasAgree waits until every in-process node holds the same copy of
// every stream.
func replicasAgree(t *testing.T, c *testcluster.Cluster) {
	t.Helper()
	poll.CheckFor(t, testcluster.ElectionBudget, 200*time.Millisecond, func() error {
		var first []store.Replica
		for i, m := range c.Nodes {
			n := m.Node()
			if n == nil {
				return fmt.Errorf("%s is not running in this process", m.Name)
			}
			rs, err := n.Store().Replicas()
			if err != nil {
				return err
			}
			for j := range rs {
				rs[j].Leader = "" // followers may not know the leader yet
			}
			if i == 0 {
				first = rs
				continue
			}
			if !slices.Equal(first, rs) {
				return fmt.Errorf("replicas differ:\n%s %v\n%s %v", c.Nodes[0].Name, first, m.Name, rs)
			}
		}
		return nil
	})
}
