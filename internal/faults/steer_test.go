package faults

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/classboard/classboard"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/testcluster"
)

// steering is a teacher steering every board of a classroom, one
// goroutine per board, each writing the next slide as soon as the last
// write was acknowledged (after a short pause).
type steering struct {
	cr   *testcluster.Classroom
	pace time.Duration

	mu     sync.Mutex
	acked  map[string][]classboard.BoardState // per board, in order
	took   []time.Duration                    // each acknowledged write, from sending to its answer
	failed int
}

// run steers until ctx ends. A write under way when ctx ends is finished,
// not cancelled: a cancelled write may still land, and then the last
// state would be one whose answer nobody waited for.
func (s *steering) run(ctx context.Context, t *testing.T) {
	var wg sync.WaitGroup
	for _, b := range s.cr.Boards {
		wg.Go(func() {
			for slide := 1; ctx.Err() == nil; slide++ {
				opCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*testcluster.ElectionBudget)
				sent := time.Now()
				st, err := s.cr.Steer(opCtx, b.ID, slide%s.cr.Slides)
				took := time.Since(sent)
				cancel()
				s.mu.Lock()
				switch {
				case err != nil:
					s.failed++
					t.Logf("steering failed: %v", err)
				default:
					s.acked[b.ID] = append(s.acked[b.ID], *st)
					s.took = append(s.took, took)
				}
				s.mu.Unlock()
				select {
				case <-ctx.Done():
				case <-time.After(s.pace):
				}
			}
		})
	}
	wg.Wait()
}

// startSteering starts a teacher steering every board of cr, a write
// every 200 ms per board, until stop (called at the end of the test too)
// ends it and waits for the writes under way.
func startSteering(t *testing.T, cr *testcluster.Classroom) (s *steering, stop func()) {
	s = &steering{cr: cr, pace: 200 * time.Millisecond, acked: map[string][]classboard.BoardState{}}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.run(ctx, t)
	}()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return s, stop
}

// last returns the newest acknowledged state of each board.
func (s *steering) last() map[string]classboard.BoardState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]classboard.BoardState{}
	for id, states := range s.acked {
		out[id] = states[len(states)-1]
	}
	return out
}

// busiest returns the member most boards are connected to; of equals, the
// first after the one killed last (-1: none yet), so that kills go round.
func busiest(c *testcluster.Cluster, boards []*testcluster.LiveBoard, prev int) *testcluster.Member {
	counts := make([]int, len(c.Nodes))
	for _, l := range boards {
		if o := l.Origin(); o >= 0 {
			counts[o]++
		}
	}
	best := -1
	for k := range c.Nodes {
		i := (prev + 1 + k) % len(c.Nodes)
		if best == -1 || counts[i] > counts[best] {
			best = i
		}
	}
	return c.Nodes[best]
}

// Three nodes as real processes; a teacher steers nine boards connected
// over websocket while the node most of them are on is killed with
// kill -9 and restarted. The boards of the dead node show the teacher's
// next change through another node, every acknowledged state reaches its
// board, every node agrees on it afterwards, and no steering action
// failed from the teacher's point of view.
func TestKillWhileSteering(t *testing.T) {
	c := testcluster.StartCluster(t, 3, testcluster.Processes())
	cr := testcluster.NewClassroom(t, c.Origins(), 9, 20)
	boards := openBoards(t, c, cr, func(i int) int { return i % len(c.Nodes) })

	s, stop := startSteering(t, cr)

	kills := 1
	if *soak {
		kills = 21 // enough for a p99
	}
	var waits []time.Duration // kill -9 to each affected board's next change
	prev := -1
	for k := range kills {
		// The rebalancer brings boards back to restarted nodes; wait for
		// them so that every kill hits some.
		var victim *testcluster.Member
		poll.CheckFor(t, 2*testcluster.ElectionBudget, 100*time.Millisecond, func() error {
			victim = busiest(c, boards, prev)
			if onVictim(boards, victim.Index) < 2 {
				return fmt.Errorf("no node holds two boards yet")
			}
			return nil
		})
		prev = victim.Index
		affected := map[*testcluster.LiveBoard]uint64{}
		for _, l := range boards {
			if l.Origin() == victim.Index {
				affected[l] = l.Latest().Revision
			}
		}
		killed := time.Now()
		victim.Kill()
		poll.CheckFor(t, 2*testcluster.ElectionBudget, 20*time.Millisecond, func() error {
			for l, rev := range affected {
				if _, _, _, ok := l.FirstAfter(rev); !ok {
					return fmt.Errorf("board %s has shown nothing newer than revision %d", l.ID, rev)
				}
			}
			return nil
		})
		var longest time.Duration
		for l, rev := range affected {
			_, at, origin, _ := l.FirstAfter(rev)
			if origin == victim.Index {
				t.Errorf("board %s got its next change from the killed node", l.ID)
			}
			waits = append(waits, at.Sub(killed))
			longest = max(longest, at.Sub(killed))
		}
		t.Logf("kill %d of %s: %d boards showed the next change within %v", k+1, victim.Name, len(affected), longest.Round(time.Millisecond))
		if err := victim.Start(); err != nil {
			t.Fatal(err)
		}
		c.WaitReady(c.Nodes...)
	}
	stop()

	if s.failed > 0 {
		t.Errorf("%d steering actions failed from the teacher's point of view", s.failed)
	}
	checkStates(t, c, cr, boards, s)
	t.Logf("kill -9 to the boards of the dead node showing the next change (%d boards over %d kills): p50 %v, p99 %v, max %v",
		len(waits), kills, percentile(waits, 50).Round(time.Millisecond), percentile(waits, 99).Round(time.Millisecond), percentile(waits, 100).Round(time.Millisecond))
}

// onVictim counts the boards connected to origin i.
func onVictim(boards []*testcluster.LiveBoard, i int) int {
	n := 0
	for _, l := range boards {
		if l.Origin() == i {
			n++
		}
	}
	return n
}

// checkStates asserts that nothing acknowledged was lost: each board ends
// on the last state the teacher saw acknowledged, as read through every
// node and as shown on the board, and no acknowledged revision is newer
// than it. Boards never saw a state go back.
func checkStates(t *testing.T, c *testcluster.Cluster, cr *testcluster.Classroom, boards []*testcluster.LiveBoard, s *steering) {
	t.Helper()
	final := s.last()
	lost, acked := 0, 0
	for _, l := range boards {
		want, ok := final[l.ID]
		if !ok {
			t.Errorf("no state of board %s was acknowledged", l.ID)
			continue
		}
		s.mu.Lock()
		newest := slices.MaxFunc(s.acked[l.ID], func(a, b classboard.BoardState) int { return cmp.Compare(a.Revision, b.Revision) })
		acked += len(s.acked[l.ID])
		s.mu.Unlock()
		if newest.Revision != want.Revision {
			t.Errorf("board %s: the last acknowledged state has revision %d, an earlier one %d", l.ID, want.Revision, newest.Revision)
		}
		poll.CheckFor(t, testcluster.ElectionBudget, 50*time.Millisecond, func() error {
			if got := l.Latest(); got.Revision != want.Revision || got.Slide != want.Slide {
				return fmt.Errorf("board %s shows revision %d slide %d, want %d slide %d", l.ID, got.Revision, got.Slide, want.Revision, want.Slide)
			}
			return nil
		})
		for _, origin := range c.Origins() {
			teacher := testcluster.NewClient([]string{origin}, 10*time.Second).With(cr.Token)
			res, err := teacher.Retry(t.Context(), "GET", "/api/v1/boards/"+l.ID+"/state", nil)
			if err != nil {
				t.Fatal(err)
			}
			var got classboard.BoardState
			res.JSON(t, &got)
			if got.Revision != want.Revision || got.Slide != want.Slide {
				lost++
				t.Errorf("%s says board %s is at revision %d slide %d; acknowledged last: %d slide %d", origin, l.ID, got.Revision, got.Slide, want.Revision, want.Slide)
			}
		}
		if n := l.Backwards(); n > 0 {
			t.Errorf("board %s saw %d states older than one it had", l.ID, n)
		}
	}
	t.Logf("acknowledged states: %d, lost: %d", acked, lost)
}
