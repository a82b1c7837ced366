package placement

import (
	"slices"
	"testing"
)

func TestChoose(t *testing.T) {
	node := func(id string, idle, used, budget int) Node {
		return Node{ID: id, Idle: idle, UsedMB: used, BudgetMB: budget}
	}
	for _, tc := range []struct {
		name  string
		self  Node
		peers []Node
		need  int
		want  int
		why   Reason
	}{
		{"idle here wins over idle elsewhere", node("a", 1, 900, 1000), []Node{node("b", 3, 0, 1000)}, 128, -1, Here},
		{"idle elsewhere wins over room here", node("a", 0, 0, 1000), []Node{node("b", 0, 0, 1000), node("c", 1, 900, 1000)}, 128, 1, Warm},
		{"most idle, then least loaded", node("a", 0, 0, 1000), []Node{node("b", 1, 0, 1000), node("c", 2, 800, 1000), node("d", 2, 500, 1000)}, 128, 2, Warm},
		{"alone", node("a", 0, 0, 1000), nil, 128, -1, Here},
		{"here among the least loaded", node("a", 0, 300, 1000), []Node{node("b", 0, 250, 1000), node("c", 0, 600, 1000)}, 128, -1, Here},
		{"here within the slack", node("a", 0, 340, 1000), []Node{node("b", 0, 250, 1000)}, 128, -1, Here},
		{"another is clearly less loaded", node("a", 0, 700, 1000), []Node{node("b", 0, 600, 1000), node("c", 0, 100, 1000)}, 128, 1, Load},
		{"no room here", node("a", 0, 950, 1000), []Node{node("b", 0, 950, 1000), node("c", 0, 960, 1000)}, 128, -1, Here},
		{"full here, room there", node("a", 0, 950, 1000), []Node{node("b", 0, 950, 1000), node("c", 0, 800, 1000)}, 128, 1, Load},
		{"loaded peers without room are not chosen", node("a", 0, 500, 1000), []Node{node("b", 0, 100, 150)}, 128, -1, Here},
		{"budgets compared as fractions", node("a", 0, 500, 1000), []Node{node("b", 0, 1000, 4000)}, 128, 0, Load},
		{"a node reporting no budget is never chosen for load", node("a", 0, 0, 0), []Node{node("b", 0, 0, 0)}, 128, -1, Here},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := Choose(tc.self, tc.peers, tc.need)
			if got != tc.want || why != tc.why {
				t.Fatalf("Choose = %d (%s), want %d (%s)", got, why, tc.want, tc.why)
			}
		})
	}
}

func TestRank(t *testing.T) {
	nodes := []Node{{ID: "a", UsedMB: 500, BudgetMB: 1000}, {ID: "b", Idle: 1, UsedMB: 900, BudgetMB: 1000},
		{ID: "c", UsedMB: 100, BudgetMB: 1000}, {ID: "d", UsedMB: 100, BudgetMB: 1000}}
	idx := []int{0, 1, 2, 3}
	Rank(nodes, idx)
	if want := []int{1, 2, 3, 0}; !slices.Equal(idx, want) {
		t.Fatalf("Rank = %v, want %v", idx, want)
	}
}

// TestShare: the shares of a limit over the members add up to it, differ
// by at most one, rotate with the name, and a node alone (or not among
// the members) admits the whole limit.
func TestShare(t *testing.T) {
	members := []string{"n1", "n2", "n3"}
	for _, limit := range []int{0, 1, 2, 3, 4, 10, 1000} {
		for _, name := range []string{"", "f", "another-function"} {
			sum, lo, hi := 0, limit, 0
			for _, m := range members {
				s := Share(limit, name, members, m)
				sum += s
				lo, hi = min(lo, s), max(hi, s)
			}
			if sum != limit || hi-lo > 1 {
				t.Errorf("Share(%d, %q) over 3 nodes: sum %d, spread %d..%d", limit, name, sum, lo, hi)
			}
		}
	}
	// Two nodes take reserved concurrency 2 of three; which two depends
	// on the function.
	holders := map[string]bool{}
	for _, name := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		for _, m := range members {
			if Share(2, name, members, m) == 0 {
				holders[m] = true
			}
		}
	}
	if len(holders) < 2 {
		t.Errorf("the node without a share of 2 is always one of %v: the extra share does not rotate", holders)
	}
	if s := Share(7, "f", []string{"n1"}, "n1"); s != 7 {
		t.Errorf("alone: share %d, want 7", s)
	}
	if s := Share(7, "f", members, "n4"); s != 7 {
		t.Errorf("not a member: share %d, want 7", s)
	}
	if s := Share(-1, "f", members, "n1"); s != 0 {
		t.Errorf("negative limit: share %d, want 0", s)
	}
}

// TestZoneShare: provisioned concurrency smaller than the cluster lands in
// distinct zones; the shares add up to the count.
func TestZoneShare(t *testing.T) {
	members := []Member{{"n1", "a"}, {"n2", "a"}, {"n3", "b"}, {"n4", "b"}, {"n5", "c"}, {"n6", "c"}}
	for _, name := range []string{"f:1", "g:live", "h:2", "another:prod"} {
		for count := range 13 {
			sum := 0
			zones := map[string]int{}
			for _, m := range members {
				s := ZoneShare(count, name, members, m.ID)
				sum += s
				zones[m.Zone] += s
			}
			if sum != count {
				t.Errorf("%s, %d: shares add up to %d", name, count, sum)
			}
			lo, hi := count, 0
			for _, z := range []string{"a", "b", "c"} {
				lo, hi = min(lo, zones[z]), max(hi, zones[z])
			}
			if hi-lo > 1 {
				t.Errorf("%s, %d: per zone %v, want them within one of each other", name, count, zones)
			}
		}
	}
	if s := ZoneShare(4, "f", members, "n9"); s != 4 {
		t.Errorf("not a member: %d, want 4", s)
	}
	if s := ZoneShare(4, "f", members[:1], "n1"); s != 4 {
		t.Errorf("alone: %d, want 4", s)
	}
}
