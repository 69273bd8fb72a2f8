package faults

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/testcluster"
)

// One node is partitioned from the other two for 30 s: it says it cannot
// serve (503, /readyz with the reason), the other two go on taking writes,
// and after healing it catches up with nothing lost and no divergence.
func TestPartitionOneNode(t *testing.T) {
	c := testcluster.StartCluster(t, 3)
	signUp(t, c.Nodes[0].URL(), "ada@school.example")
	cut := c.Nodes[2]

	w := &writer{client: testcluster.NewClient(c.Origins(), 10*time.Second), email: "ada@school.example", pace: 50 * time.Millisecond}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan []session)
	go func() { done <- w.run(ctx, t) }()
	w.progress(t, 5)

	cut.Partition()
	start := time.Now()
	var reason string
	poll.CheckFor(t, testcluster.ElectionBudget, 50*time.Millisecond, func() error {
		var status int
		if status, reason = cut.Readyz(); status != http.StatusServiceUnavailable {
			return apitest.Errorf("%s /readyz %d", cut.Name, status)
		}
		return nil
	})
	t.Logf("partitioned node: /readyz 503 after %v (%s)", time.Since(start).Round(time.Millisecond), reason)
	if reason == "" {
		t.Error("a node that cannot serve must say why")
	}
	begin := time.Now()
	res := apitest.New(cut.URL()).Do(t, "POST", "/api/v1/sessions", map[string]string{"email": "ada@school.example", "password": password})
	if res.Status != http.StatusServiceUnavailable || res.ErrorCode() != "unavailable" {
		t.Errorf("a write to the partitioned node: %d %s, want 503 unavailable", res.Status, res.Body)
	}
	t.Logf("partitioned node answered %d in %v", res.Status, time.Since(begin).Round(time.Millisecond))
	for _, m := range c.Nodes[:2] {
		if status, reason := m.Readyz(); status != http.StatusOK {
			t.Errorf("%s in the majority: /readyz %d %s", m.Name, status, reason)
		}
	}

	// The majority keeps taking writes for the rest of the 30 s.
	duringFrom := w.count.Load()
	for time.Since(start) < 30*time.Second {
		w.progress(t, 1)
	}
	t.Logf("writes acknowledged during the partition: %d", w.count.Load()-duringFrom)

	cut.Heal()
	healed := time.Now()
	c.WaitReady(cut)
	t.Logf("healed node ready again after %v", time.Since(healed).Round(time.Millisecond))
	w.progress(t, 5)
	stop()
	acked := <-done
	if w.failed > 0 {
		t.Errorf("%d writes failed from the client's point of view", w.failed)
	}
	checkSessions(t, c, acked)
	replicasAgree(t, c)
}

// A node cut off silently (packets dropped, nothing closed, as when a
// machine dies): it notices it has lost the quorum, and a client that was
// using it times out, moves, and goes on through another node.
func TestSilentCutOff(t *testing.T) {
	c := testcluster.StartCluster(t, 3)
	signUp(t, c.Nodes[0].URL(), "ada@school.example")
	cut := c.Nodes[1]
	teacher := testcluster.NewClient(c.Origins(), 3*time.Second).StartAt(cut.Index)

	cut.CutOff()
	start := time.Now()
	res, err := teacher.Retry(t.Context(), "POST", "/api/v1/sessions", map[string]string{"email": "ada@school.example", "password": password})
	if err != nil || res.Status != http.StatusCreated {
		t.Fatalf("sign in while a node is cut off: %v %v", err, res)
	}
	t.Logf("client's first write done through another node after %v", time.Since(start).Round(time.Millisecond))
	// A stream whose leader was the cut-off node stalls writes on every node
	// until its election, so the client may time out twice; it must not
	// come back to the silent node.
	if teacher.Origin() == cut.Index || teacher.Moves() > len(c.Nodes)-1 {
		t.Errorf("client moved %d times and uses origin %d; want at most %d moves, away from %d", teacher.Moves(), teacher.Origin(), len(c.Nodes)-1, cut.Index)
	}
	var reason string
	poll.CheckFor(t, testcluster.ElectionBudget, 50*time.Millisecond, func() error {
		var status int
		if status, reason = cut.Readyz(); status != http.StatusServiceUnavailable {
			return apitest.Errorf("%s /readyz %d", cut.Name, status)
		}
		return nil
	})
	t.Logf("cut-off node: /readyz 503 after %v (%s)", time.Since(start).Round(time.Millisecond), reason)

	w := &writer{client: testcluster.NewClient(c.Origins(), 3*time.Second), email: "ada@school.example", pace: 50 * time.Millisecond}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan []session)
	go func() { done <- w.run(ctx, t) }()
	w.progress(t, 20)

	cut.Reconnect()
	c.WaitReady(cut)
	w.progress(t, 5)
	stop()
	acked := <-done
	if w.failed > 0 {
		t.Errorf("%d writes failed from the client's point of view", w.failed)
	}
	checkSessions(t, c, acked)
	replicasAgree(t, c)
}
