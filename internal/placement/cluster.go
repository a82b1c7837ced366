package placement

import (
	"hash/fnv"
	"slices"
	"strings"
)

// Cluster placement: which node of a cluster an invocation goes to, and
// what share of a concurrency limit each node admits. Both are pure
// functions of what the nodes last told each other (soft state), so every
// node computes the same shares from the same membership, and a choice is
// a hint the chosen node may find out of date.

// Node is one node of a cluster as the others last heard of it.
type Node struct {
	ID string
	// Idle is the number of idle sandboxes of the invocation's version.
	Idle int
	// UsedMB and BudgetMB are the node's memory budget and what its
	// sandboxes hold of it.
	UsedMB, BudgetMB int
}

// fits reports whether a new sandbox of needMB fits the node's budget
// now (without evicting).
func (n *Node) fits(needMB int) bool { return n.UsedMB+needMB <= n.BudgetMB }

// load is the node's used fraction of its budget, 1 when it has none.
func (n *Node) load() float64 {
	if n.BudgetMB <= 0 {
		return 1
	}
	return float64(n.UsedMB) / float64(n.BudgetMB)
}

// LoadSlack is how much more loaded (as a fraction of its budget) than the
// least loaded node this node may be and still start a sandbox itself: a
// forward costs about 100 µs, a cold start tens of milliseconds, so near
// ties stay here and bursts do not herd onto one node between two reports.
const LoadSlack = 0.10

// Reason is why Choose chose a node.
type Reason int

const (
	// Here: this node (an idle sandbox, or among the least loaded).
	Here Reason = iota
	// Warm: another node reported an idle sandbox of the version.
	Warm
	// Load: another node is less loaded and has room.
	Load
)

var reasonNames = [...]string{Here: "here", Warm: "warm", Load: "load"}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "Reason(?)"
}

// Choose picks the node an invocation of a version whose new sandbox takes
// needMB goes to: self when it reports an idle sandbox of the version; else
// the other node reporting the most idle ones (the least loaded of equals);
// else self when it has room and is within LoadSlack of the least loaded
// node with room; else that least loaded node. When no node has room it
// chooses self, whose worker then says so. It returns the index in peers,
// or -1 for self, and why.
func Choose(self Node, peers []Node, needMB int) (int, Reason) {
	if self.Idle > 0 {
		return -1, Here
	}
	warm := -1
	for i := range peers {
		p := &peers[i]
		if p.Idle == 0 {
			continue
		}
		if warm < 0 || p.Idle > peers[warm].Idle || (p.Idle == peers[warm].Idle && better(p, &peers[warm])) {
			warm = i
		}
	}
	if warm >= 0 {
		return warm, Warm
	}
	least := -1
	for i := range peers {
		p := &peers[i]
		if p.fits(needMB) && (least < 0 || better(p, &peers[least])) {
			least = i
		}
	}
	switch {
	case least < 0:
		return -1, Here
	case self.fits(needMB) && self.load() <= peers[least].load()+LoadSlack:
		return -1, Here
	}
	return least, Load
}

// better reports whether a is less loaded than b, ids breaking ties.
func better(a, b *Node) bool {
	la, lb := a.load(), b.load()
	if la != lb {
		return la < lb
	}
	return a.ID < b.ID
}

// Share is the part of a concurrency limit that node self admits among
// members, the live nodes of the cluster: floor(limit/n), plus one for
// limit mod n of them, so that the shares add up to the limit. Which nodes
// get the extra one rotates with the limit's name (a function, or "" for
// the account's unreserved pool), so that many small reservations do not
// all land on the first node. members must be sorted and hold self; a node
// that is not among them (alone, or not yet heard of by itself) admits
// the whole limit.
func Share(limit int, name string, members []string, self string) int {
	n := len(members)
	i, ok := slices.BinarySearch(members, self)
	if n <= 1 || !ok || limit <= 0 {
		return max(limit, 0)
	}
	return shareAt(limit, name, i, n)
}

// shareAt is the share of limit of the node at index i of n.
func shareAt(limit int, name string, i, n int) int {
	h := fnv.New32a()
	h.Write([]byte(name))
	rank := (i + int(h.Sum32()%uint32(n))) % n
	s := limit / n
	if rank < limit%n {
		s++
	}
	return s
}

// Member is a live node of a cluster and its zone ("" when none).
type Member struct {
	ID, Zone string
}

// ZoneShare is Share for provisioned concurrency: the members are ordered
// so that neighbours are in different zones (each zone's nodes by id,
// taken from the zones in turn), so the nodes that hold the extra ones of
// a count smaller than the cluster are in as many zones as they can be.
// members may come in any order; a node not among them keeps the whole
// count.
func ZoneShare(count int, name string, members []Member, self string) int {
	n := len(members)
	if n <= 1 || count <= 0 {
		return max(count, 0)
	}
	ms := slices.Clone(members)
	slices.SortFunc(ms, func(a, b Member) int {
		if a.Zone != b.Zone {
			return strings.Compare(a.Zone, b.Zone)
		}
		return strings.Compare(a.ID, b.ID)
	})
	// Round-robin over the zones: the k-th node of every zone comes
	// before the (k+1)-th of any.
	type ranked struct {
		id        string
		nth, zone int
	}
	order := make([]ranked, 0, n)
	zone, nth := 0, 0
	for i, m := range ms {
		if i > 0 && m.Zone != ms[i-1].Zone {
			zone, nth = zone+1, 0
		}
		order = append(order, ranked{id: m.ID, nth: nth, zone: zone})
		nth++
	}
	slices.SortStableFunc(order, func(a, b ranked) int {
		if a.nth != b.nth {
			return a.nth - b.nth
		}
		return a.zone - b.zone
	})
	for i, o := range order {
		if o.id == self {
			return shareAt(count, name, i, n)
		}
	}
	return count
}

// Rank orders idx, indexes of nodes, as Choose prefers them: the most
// idle sandboxes of the version first, then the least loaded, then by id.
func Rank(nodes []Node, idx []int) {
	slices.SortFunc(idx, func(a, b int) int {
		na, nb := &nodes[a], &nodes[b]
		switch {
		case na.Idle != nb.Idle:
			return nb.Idle - na.Idle
		case better(na, nb):
			return -1
		case better(nb, na):
			return 1
		}
		return 0
	})
}
