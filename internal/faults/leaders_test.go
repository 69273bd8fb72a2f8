package faults

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/classboard/classboard/internal/poll"
	"github.com/classboard/classboard/internal/testcluster"
)

// stateLeaders returns, as the first running node sees them, how many
// board-state streams each node leads, and an error when a shard's
// tickets stream has another leader than its board-state stream.
func stateLeaders(c *testcluster.Cluster) (map[string]int, error) {
	for _, m := range c.Nodes {
		n := m.Node()
		if n == nil {
			continue
		}
		rs, err := n.Store().Replicas()
		if err != nil {
			return nil, err
		}
		out := map[string]int{}
		leader := map[string]string{}
		for _, r := range rs {
			leader[r.Stream] = r.Leader
			if strings.HasPrefix(r.Stream, "KV_board_state") {
				out[r.Leader]++
			}
		}
		for _, shard := range []string{"", "_1", "_2"} {
			if a, b := leader["KV_board_state"+shard], leader["KV_tickets"+shard]; a != b {
				return out, fmt.Errorf("shard %q: board state led by %s, tickets by %s", shard, a, b)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("no node is running")
}

// spread waits until each node leads one board-state stream, and the
// same shard's tickets stream.
func spread(t *testing.T, c *testcluster.Cluster) {
	t.Helper()
	poll.CheckFor(t, 2*testcluster.ElectionBudget, 200*time.Millisecond, func() error {
		leads, err := stateLeaders(c)
		if err != nil {
			return err
		}
		for _, m := range c.Nodes {
			if leads[m.Name] != 1 {
				return fmt.Errorf("board-state stream leaders: %v", leads)
			}
		}
		return nil
	})
}

// The board-state streams' leaders sit on different nodes, each with its
// shard's tickets, so one node's death stalls the writes and reconnections
// of a third of the boards; while a node is down its streams move to
// another, and once it is back it gets a shard again.
func TestBoardStateLeadersSpread(t *testing.T) {
	c := testcluster.StartCluster(t, 3)
	spread(t, c)
	c.Nodes[0].Kill()
	poll.CheckFor(t, 2*testcluster.ElectionBudget, 200*time.Millisecond, func() error {
		leads, _ := stateLeaders(c)
		if leads[c.Nodes[1].Name]+leads[c.Nodes[2].Name] != 3 {
			return fmt.Errorf("board-state stream leaders without %s: %v", c.Nodes[0].Name, leads)
		}
		return nil
	})
	if err := c.Nodes[0].Start(); err != nil {
		t.Fatal(err)
	}
	c.WaitReady(c.Nodes...)
	spread(t, c)
}
