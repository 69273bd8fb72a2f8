package faults

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/testcluster"
)

// leaderGone reports whether, as m sees it, stream has no leader it can
// reach: none elected yet, or the elected one is on a node m has no route
// to.
func leaderGone(m *testcluster.Member, stream string) (bool, error) {
	st := m.Node().Store()
	rs, err := st.Replicas()
	if err != nil {
		return false, err
	}
	peers, err := st.ClusterPeers()
	if err != nil {
		return false, err
	}
	for _, r := range rs {
		if r.Stream == stream {
			return r.Leader == "" || (r.Leader != m.Name && !slices.Contains(peers, r.Leader)), nil
		}
	}
	return false, fmt.Errorf("%s has no replica of %s", m.Name, stream)
}

// The node leading the teachers' stream is killed. Its election takes
// seconds (the Raft election timeout), yet a steering write reads that
// stream only through the node's in-memory view: the boards of the shards
// led by the surviving nodes are steered while the teachers' stream still
// has no leader, after the view's usual freshness (0.8 s) has run out.
// The boards of the dead node's shard follow once their stream has
// elected, and every board shows its change (through the watches, whose
// consumers sit on the surviving leaders).
func TestElectionStallsOnlyItsStream(t *testing.T) {
	c := testcluster.StartCluster(t, 3)
	spread(t, c)
	cr := testcluster.NewClassroom(t, c.Origins(), 6, 5)

	boards := openBoards(t, c, cr, func(i int) int { return i % len(c.Nodes) })

	var victim, observer *testcluster.Member
	rs, err := c.Nodes[0].Node().Store().Replicas()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Stream == "KV_teachers" {
			for _, m := range c.Nodes {
				if m.Name == r.Leader {
					victim = m
				}
			}
		}
	}
	if victim == nil {
		t.Fatal("no node leads KV_teachers")
	}
	observer = c.Nodes[(victim.Index+1)%len(c.Nodes)]
	cr.Teacher = testcluster.NewClient([]string{observer.URL()}, 10*time.Second).With(cr.Token)

	// The others see the node gone when its network is cut, the first
	// thing Kill does; closing it in this process may take longer.
	killed := time.Now()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		victim.Kill()
	}()
	defer func() { <-closed }()
	// Past the view's freshness, so that only the election rule lets it
	// answer.
	poll.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if time.Since(killed) < time.Second {
			return errors.New("within the view's freshness")
		}
		return nil
	})
	gone, err := leaderGone(observer, "KV_teachers")
	if err != nil || !gone {
		// An election waits at least its 4 s timeout.
		rs, _ := observer.Node().Store().Replicas()
		peers, _ := observer.Node().Store().ClusterPeers()
		t.Fatalf("%s sees a leader of KV_teachers a second after its leader %s was killed (%v): replicas %+v, routes to %v", observer.Name, victim.Name, err, rs, peers)
	}

	var mu sync.Mutex
	acked := map[*testcluster.LiveBoard]uint64{}
	during := 0 // writes acknowledged while KV_teachers had no leader
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(t.Context(), 2*testcluster.ElectionBudget)
	defer cancel()
	for _, l := range boards {
		wg.Go(func() {
			st, err := cr.Steer(ctx, l.ID, 3)
			if err != nil {
				t.Errorf("steer %s: %v", l.ID, err)
				return
			}
			g, err := leaderGone(observer, "KV_teachers")
			mu.Lock()
			defer mu.Unlock()
			acked[l] = st.Revision
			if err == nil && g {
				during++
			}
		})
	}
	wg.Wait()
	t.Logf("%d of %d boards steered while KV_teachers had no leader; all %v after the kill", during, len(boards), time.Since(killed).Round(time.Millisecond))
	poll.CheckFor(t, testcluster.ElectionBudget, 20*time.Millisecond, func() error {
		for l, rev := range acked {
			if got := l.Latest(); got.Revision < rev {
				return fmt.Errorf("board %s shows revision %d, acknowledged %d", l.ID, got.Revision, rev)
			}
		}
		return nil
	})
	if during == 0 {
		t.Fatal("no steering write completed while KV_teachers elected: writes waited for a stream they only read")
	}
}
