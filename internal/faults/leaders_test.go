package faults

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/classboard/classboard/internal/testcluster"
)

// stateLeaders returns, as the first running node sees them, how many
// board-state streams each node leads.
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
		for _, r := range rs {
			if strings.HasPrefix(r.Stream, "KV_board_state") {
				out[r.Leader]++
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("no node is running")
}

// spread waits until each node leads one board-state stream.
func spread(t *testing.T, c *testcluster.Cluster) {
	t.Helper()
	testcluster.CheckFor(t, 2*testcluster.ElectionBudget, 200*time.Millisecond, func() error {
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

// The board-state streams' leaders sit on different nodes, so one node's
// death stalls a third of the boards; while a node is down its stream
// moves to another, and once it is back it gets one again.
func TestBoardStateLeadersSpread(t *testing.T) {
	c := testcluster.StartCluster(t, 3)
	spread(t, c)
	c.Nodes[0].Kill()
	testcluster.CheckFor(t, 2*testcluster.ElectionBudget, 200*time.Millisecond, func() error {
		leads, err := stateLeaders(c)
		if err != nil {
			return err
		}
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
