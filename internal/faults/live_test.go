package faults

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/classboard/classboard/internal/apitest"
	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/testcluster"
)

// openBoards connects every board of cr, board i starting at origin
// place(i), and waits until each is connected there with its state.
func openBoards(t *testing.T, c *testcluster.Cluster, cr *testcluster.Classroom, place func(i int) int) []*testcluster.LiveBoard {
	t.Helper()
	var out []*testcluster.LiveBoard
	for i, b := range cr.Boards {
		out = append(out, testcluster.OpenLive(t, c.Origins(), b.ID, b.Secret, place(i)))
	}
	poll.CheckFor(t, testcluster.ElectionBudget, 50*time.Millisecond, func() error {
		for i, l := range out {
			if l.Origin() != place(i) || l.Latest() == nil {
				return fmt.Errorf("board %d: origin %d, state %v; want origin %d with a state", i, l.Origin(), l.Latest(), place(i))
			}
		}
		return nil
	})
	return out
}

// liveCounts returns how many live connections each in-process node holds.
func liveCounts(c *testcluster.Cluster) []int {
	out := make([]int, len(c.Nodes))
	for i, m := range c.Nodes {
		if n := m.Node(); n != nil {
			out[i] = n.Live().Count()
		}
	}
	return out
}

// A node that loses its quorum sends its boards away: each gets a "move",
// reconnects to a node of the majority and shows the teacher's next
// change from there. New live connections to the cut-off node are refused
// with 503 meanwhile.
func TestPartitionedNodeMovesItsBoards(t *testing.T) {
	c := testcluster.StartCluster(t, 3)
	cut := c.Nodes[2]
	cr := testcluster.NewClassroom(t, c.Origins(), 3, 5)
	cr.Teacher.StartAt(0)
	boards := openBoards(t, c, cr, func(int) int { return cut.Index })
	if got := cut.Node().Live().Count(); got != len(boards) {
		t.Fatalf("%s holds %d live connections, want %d", cut.Name, got, len(boards))
	}

	cut.Partition()
	start := time.Now()
	poll.CheckFor(t, testcluster.ElectionBudget, 50*time.Millisecond, func() error {
		for i, l := range boards {
			if l.Moves() == 0 {
				return fmt.Errorf("board %d has not been told to move", i)
			}
			if o := l.Origin(); o == -1 || o == cut.Index {
				return fmt.Errorf("board %d is on origin %d", i, o)
			}
		}
		return nil
	})
	t.Logf("partitioned node's boards moved and reconnected after %v", time.Since(start).Round(time.Millisecond))
	if got := cut.Node().Live().Count(); got != 0 {
		t.Errorf("the partitioned node still holds %d live connections", got)
	}

	// A new live connection to the partitioned node is refused at once.
	var tk struct {
		Ticket string `json:"ticket"`
	}
	b := cr.Boards[0]
	res := apitest.New(c.Nodes[0].URL()).With(b.Secret).Do(t, "POST", "/api/v1/live-tickets", map[string]string{"board_id": b.ID})
	if res.Status != http.StatusCreated {
		t.Fatalf("live ticket: %d %s", res.Status, res.Body)
	}
	res.JSON(t, &tk)
	res = apitest.New(cut.URL()).Do(t, "GET", "/api/v1/boards/"+b.ID+"/live?ticket="+tk.Ticket, nil)
	if res.Status != http.StatusServiceUnavailable {
		t.Errorf("a live connection to the partitioned node: %d %s, want 503", res.Status, res.Body)
	}

	// The teacher's next change reaches every board through the majority.
	ctx, cancel := context.WithTimeout(t.Context(), 2*testcluster.ElectionBudget)
	defer cancel()
	for i, l := range boards {
		before := l.Latest().Revision
		st, err := cr.Steer(ctx, l.ID, 1)
		if err != nil {
			t.Fatal(err)
		}
		poll.CheckFor(t, testcluster.ElectionBudget, 50*time.Millisecond, func() error {
			rev, _, origin, ok := l.FirstAfter(before)
			if !ok || rev < st.Revision {
				return fmt.Errorf("board %d has not shown revision %d", i, st.Revision)
			}
			if origin == cut.Index {
				return fmt.Errorf("board %d got revision %d from the partitioned node", i, rev)
			}
			return nil
		})
	}
	cut.Heal()
	c.WaitReady(cut)
}

// After a node returns, the others hand it part of their live
// connections: with every board on two nodes, restarting the third ends
// with each node holding roughly a third.
func TestRebalanceAfterRestart(t *testing.T) {
	c := testcluster.StartCluster(t, 3)
	back := c.Nodes[2]
	back.Kill()
	c.WaitReady(c.Nodes[:2]...)
	const n = 30
	cr := testcluster.NewClassroom(t, c.Origins(), n, 3)
	// Placement is only a first choice here: the two live nodes balance
	// between themselves while the boards connect. What matters is that
	// every board is on one of them before the third returns.
	var boards []*testcluster.LiveBoard
	for i, b := range cr.Boards {
		boards = append(boards, testcluster.OpenLive(t, c.Origins(), b.ID, b.Secret, i%2))
	}
	poll.CheckFor(t, testcluster.ElectionBudget, 50*time.Millisecond, func() error {
		for i, l := range boards {
			if o := l.Origin(); o == back.Index || o < 0 || l.Latest() == nil {
				return fmt.Errorf("board %d: origin %d, state %v; want a live node with a state", i, o, l.Latest())
			}
		}
		return nil
	})
	t.Logf("live connections before the restart: %v", liveCounts(c))

	if err := back.Start(); err != nil {
		t.Fatal(err)
	}
	c.WaitReady(back)
	start := time.Now()
	poll.CheckFor(t, 90*time.Second, 200*time.Millisecond, func() error {
		counts := liveCounts(c)
		total := 0
		for _, k := range counts {
			total += k
		}
		for _, k := range counts {
			// 20% to 46% of the boards: near a third, with room for the
			// jitter and the tolerance that keep clients from hopping.
			if total != n || k*100 < 20*n || k*100 > 46*n {
				return fmt.Errorf("live connections per node: %v", counts)
			}
		}
		return nil
	})
	moves := 0
	for _, l := range boards {
		moves += l.Moves()
	}
	t.Logf("balanced after %v: %v, %d boards moved", time.Since(start).Round(time.Millisecond), liveCounts(c), moves)

	// Every board still follows the teacher.
	ctx, cancel := context.WithTimeout(t.Context(), 2*testcluster.ElectionBudget)
	defer cancel()
	for i, l := range boards {
		st, err := cr.Steer(ctx, l.ID, 2)
		if err != nil {
			t.Fatal(err)
		}
		poll.CheckFor(t, testcluster.ElectionBudget, 50*time.Millisecond, func() error {
			if got := l.Latest(); got.Revision < st.Revision {
				return fmt.Errorf("board %d shows revision %d, want %d", i, got.Revision, st.Revision)
			}
			return nil
		})
	}
}
