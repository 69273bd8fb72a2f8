package node

import "testing"

// A node moves part of what it holds above its fair share, never so much
// that it drops below it, and leaves small differences alone.
func TestToMove(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mine     int
		others   []int
		min, max int // over r in [0, 1)
	}{
		{"alone", 30, nil, 0, 0},
		{"a node came back empty", 15, []int{15, 0}, 2, 3},
		{"everything here", 30, []int{0, 0}, 5, 10},
		{"fair", 10, []int{10, 10}, 0, 0},
		{"one above the rounded-up share", 12, []int{10, 9}, 0, 0},
		{"below the share", 5, []int{20, 5}, 0, 0},
		{"just above the slack", 13, []int{10, 7}, 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []float64{0, 0.5, 0.999} {
				got := toMove(tc.mine, tc.others, r)
				if got < tc.min || got > tc.max {
					t.Errorf("toMove(%d, %v, %v) = %d, want %d..%d", tc.mine, tc.others, r, got, tc.min, tc.max)
				}
				total := tc.mine
				for _, c := range tc.others {
					total += c
				}
				if fair := (total + len(tc.others)) / (len(tc.others) + 1); got > 0 && tc.mine-got < fair {
					t.Errorf("toMove(%d, %v, %v) = %d leaves the node below its fair share %d", tc.mine, tc.others, r, got, fair)
				}
			}
		})
	}
}
