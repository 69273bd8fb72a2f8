package faults

import (
	"testing"
	"time"

	"github.com/classboard/classboard/internal/testcluster"
)

// A rolling restart, as an upgrade does it, while a teacher steers six
// boards: each node in turn gets SIGTERM (it hands the leadership of its
// streams to the others and moves its live clients before it stops), is
// started again and rejoins before the next. No write fails, nothing
// acknowledged is lost, every board ends on its last acknowledged state;
// the write delays are logged.
func TestRollingRestartWhileSteering(t *testing.T) {
	c := testcluster.StartCluster(t, 3, testcluster.Processes())
	cr := testcluster.NewClassroom(t, c.Origins(), 6, 20)
	boards := openBoards(t, c, cr, func(i int) int { return i % len(c.Nodes) })

	s, stop := startSteering(t, cr)

	for _, m := range c.Nodes {
		began := time.Now()
		m.Stop()
		stopped := time.Since(began)
		if err := m.Start(); err != nil {
			t.Fatal(err)
		}
		c.WaitReady(c.Nodes...)
		t.Logf("%s: stopped in %v, back and ready after %v", m.Name, stopped.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	}
	stop()

	if s.failed > 0 {
		t.Errorf("%d steering writes failed from the teacher's point of view", s.failed)
	}
	checkStates(t, c, cr, boards, s)
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Logf("write delay over %d acknowledged writes during a rolling restart: p50 %v, p99 %v, max %v", len(s.took),
		percentile(s.took, 50).Round(time.Millisecond), percentile(s.took, 99).Round(time.Millisecond), percentile(s.took, 100).Round(time.Millisecond))
}
