package faults

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/testcluster"
)

// A rolling upgrade as docs/operations.md tells an IT person to do it:
// three nodes of this build, each stopped, given a build with another
// version string and started again on the same data, one after another,
// waiting for /readyz in between. A teacher steers six boards on live
// connections and another device keeps writing throughout: no request
// fails from the clients' point of view, the boards show every change,
// and nothing acknowledged is lost.
func TestRollingUpgrade(t *testing.T) {
	const next = "upgrade-test-next"
	c := testcluster.StartCluster(t, 3, testcluster.Processes())
	bin := testcluster.BinaryWithVersion(t, next)
	cr := testcluster.NewClassroom(t, c.Origins(), 6, 10)
	boards := openBoards(t, c, cr, func(i int) int { return i % len(c.Nodes) })
	signUp(t, c.Nodes[0].URL(), "writer@school.example")

	s := &steering{cr: cr, pace: 200 * time.Millisecond, acked: map[string][]classboard.BoardState{}}
	w := &writer{client: testcluster.NewClient(c.Origins(), 10*time.Second), email: "writer@school.example", pace: 50 * time.Millisecond}
	ctx, stop := context.WithCancel(t.Context())
	steered := make(chan struct{})
	written := make(chan []session)
	go func() {
		defer close(steered)
		s.run(ctx, t)
	}()
	go func() { written <- w.run(ctx, t) }()
	t.Cleanup(func() { stop(); <-steered })
	w.progress(t, 5)

	for _, m := range c.Nodes {
		m.Stop()
		m.SetBinary(bin)
		if err := m.Start(); err != nil {
			t.Fatal(err)
		}
		c.WaitReady(c.Nodes...)
		var cfg struct {
			Version string `json:"version"`
		}
		apitest.New(m.DirectURL()).Do(t, "GET", "/api/v1/config", nil).JSON(t, &cfg)
		if cfg.Version != next {
			t.Fatalf("%s runs version %q after the upgrade, want %q", m.Name, cfg.Version, next)
		}
		t.Logf("%s upgraded to %s", m.Name, cfg.Version)
		w.progress(t, 5)
	}
	// Every board follows the teacher on the upgraded cluster.
	before := s.last()
	poll.CheckFor(t, 2*testcluster.ElectionBudget, 50*time.Millisecond, func() error {
		for _, l := range boards {
			if got := l.Latest(); got == nil || got.Revision <= before[l.ID].Revision {
				return fmt.Errorf("board %s has shown nothing after revision %d", l.ID, before[l.ID].Revision)
			}
		}
		return nil
	})
	stop()
	<-steered
	acked := <-written

	if s.failed > 0 || w.failed > 0 {
		t.Errorf("requests failed from the clients' point of view: %d steering, %d writes", s.failed, w.failed)
	}
	checkStates(t, c, cr, boards, s)
	checkSessions(t, c, acked)
	for _, m := range c.Nodes {
		if status, reason := m.Readyz(); status != http.StatusOK {
			t.Errorf("%s: %d %s", m.Name, status, reason)
		}
	}
}
