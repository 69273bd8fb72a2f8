package faults

import (
	"context"
	"testing"
	"time"

	"github.com/classboard/classboard/internal/testcluster"
)

// Three nodes as real processes while a teacher's device keeps writing:
// kill -9 each node in turn (the meta leader and every stream leader among
// them), then restart every node one after another. No write the client
// saw acknowledged is lost, every node knows every one of them, and no
// action failed from the client's point of view.
func TestKillAndRollingRestart(t *testing.T) {
	c := testcluster.StartCluster(t, 3, testcluster.Processes())
	signUp(t, c.Nodes[0].URL(), "ada@school.example")

	w := &writer{client: testcluster.NewClient(c.Origins(), 10*time.Second), email: "ada@school.example", pace: 20 * time.Millisecond}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan []session)
	go func() { done <- w.run(ctx, t) }()
	w.progress(t, 5)

	rounds := 1
	if *soak {
		rounds = 7 // 21 kills, enough for a p99
	}
	var kills []time.Time
	for range rounds {
		for _, m := range c.Nodes {
			kills = append(kills, time.Now())
			m.Kill()
			w.progress(t, 5)
			if err := m.Start(); err != nil {
				t.Fatal(err)
			}
			c.WaitReady(c.Nodes...)
			w.progress(t, 5)
		}
	}
	var restarts []time.Time
	for _, m := range c.Nodes {
		restarts = append(restarts, time.Now())
		m.Stop()
		w.progress(t, 5)
		if err := m.Start(); err != nil {
			t.Fatal(err)
		}
		c.WaitReady(c.Nodes...)
	}
	w.progress(t, 5)
	stop()
	acked := <-done

	if w.failed > 0 {
		t.Errorf("%d writes failed from the client's point of view", w.failed)
	}
	checkSessions(t, c, acked)
	kg, rg := gaps(kills, acked), gaps(restarts, acked)
	t.Logf("kill -9 (%d kills): next acknowledged write after p50 %v, p99 %v, max %v",
		len(kg), percentile(kg, 50).Round(time.Millisecond), percentile(kg, 99).Round(time.Millisecond), percentile(kg, 100).Round(time.Millisecond))
	t.Logf("clean stop (%d stops): next acknowledged write after p50 %v, max %v",
		len(rg), percentile(rg, 50).Round(time.Millisecond), percentile(rg, 100).Round(time.Millisecond))
	t.Logf("client moved %d times", w.client.Moves())
}
