package memplan

import "sort"

// placedIndex finds, for the memory planner, the placed buffers whose
// lives overlap a new one, in O(log n) per buffer plus the overlaps it
// lists, instead of scanning every placed buffer (quadratic on graphs of
// 100,000 nodes, issue 13). Steps run from -1 to steps-2: step -1 is
// before the first node, where the first run's staged constants and Once
// nodes' workspaces live; the trees hold step s at index s+1 (a Fenwick
// tree updated from index 0 would never advance).
//
// A buffer alive over [a, b] overlaps another alive over [d, l] exactly
// when d <= a <= l (it is alive at step a: a stabbing query on a segment
// tree over steps) or a < d <= b (it starts inside: defs counted in a
// Fenwick tree, listed through a per-step bucket).
type placedIndex struct {
	size  int           // leaves of the segment tree (a power of two)
	cover [][]*interval // segment tree: the buffers covering each node's steps wholly
	tag   []int         // segment tree: the largest end among buffers covering the node
	sub   []int         // the largest end among buffers stored in the node's subtree
	defs  []int         // Fenwick tree: placed buffers starting at each step
	lasts []int         // Fenwick tree: placed buffers ending at each step
	byDef [][]*interval // placed buffers by starting step
	n     int           // placed buffers
}

func newPlacedIndex(steps int) *placedIndex {
	size := 1
	for size < steps {
		size *= 2
	}
	return &placedIndex{
		size: size, cover: make([][]*interval, 2*size), tag: make([]int, 2*size), sub: make([]int, 2*size),
		defs: make([]int, steps+1), lasts: make([]int, steps+1), byDef: make([][]*interval, steps),
	}
}

// add records a placed buffer.
func (x *placedIndex) add(iv *interval) {
	def, last := iv.def+1, iv.last+1
	end := alignUp(iv.off+iv.size, Align)
	x.update(1, 0, x.size-1, def, last, iv, end)
	for i := def + 1; i < len(x.defs); i += i & -i {
		x.defs[i]++
	}
	for i := last + 1; i < len(x.lasts); i += i & -i {
		x.lasts[i]++
	}
	x.byDef[def] = append(x.byDef[def], iv)
	x.n++
}

func (x *placedIndex) update(node, lo, hi, a, b int, iv *interval, end int) {
	if b < lo || hi < a {
		return
	}
	x.sub[node] = max(x.sub[node], end)
	if a <= lo && hi <= b {
		x.cover[node] = append(x.cover[node], iv)
		x.tag[node] = max(x.tag[node], end)
		return
	}
	mid := (lo + hi) / 2
	x.update(2*node, lo, mid, a, b, iv, end)
	x.update(2*node+1, mid+1, hi, a, b, iv, end)
}

// prefix sums a Fenwick tree over steps 0..i.
func prefix(t []int, i int) int {
	s := 0
	for i++; i > 0; i -= i & -i {
		s += t[i]
	}
	return s
}

// overlaps counts the placed buffers alive somewhere in [a, b]: all but
// those starting after b or ending before a.
func (x *placedIndex) overlaps(a, b int) int {
	a, b = a+1, b+1
	after := x.n - prefix(x.defs, b)
	before := 0
	if a > 0 {
		before = prefix(x.lasts, a-1)
	}
	return x.n - after - before
}

// maxEnd is the largest aligned end of the placed buffers alive in [a, b].
func (x *placedIndex) maxEnd(a, b int) int { return x.query(1, 0, x.size-1, a+1, b+1) }

func (x *placedIndex) query(node, lo, hi, a, b int) int {
	if b < lo || hi < a {
		return 0
	}
	if a <= lo && hi <= b {
		return x.sub[node]
	}
	mid := (lo + hi) / 2
	return max(x.tag[node], x.query(2*node, lo, mid, a, b), x.query(2*node+1, mid+1, hi, a, b))
}

// list returns the placed buffers alive in [a, b], sorted by offset (the
// planner's first fit does not depend on the order of equal offsets).
func (x *placedIndex) list(a, b int) []*interval {
	a, b = a+1, b+1
	var out []*interval
	// Alive at step a.
	node, lo, hi := 1, 0, x.size-1
	for {
		out = append(out, x.cover[node]...)
		if lo == hi {
			break
		}
		mid := (lo + hi) / 2
		if a <= mid {
			node, hi = 2*node, mid
		} else {
			node, lo = 2*node+1, mid+1
		}
	}
	// Starting in (a, b]: walk the steps that have any, found by counting.
	for have := prefix(x.defs, a); have < prefix(x.defs, b); {
		step := x.kth(have + 1) // the step of the (have+1)-th start
		out = append(out, x.byDef[step]...)
		have += len(x.byDef[step])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].off < out[j].off })
	return out
}

// kth finds the smallest step whose prefix count of starts reaches k.
func (x *placedIndex) kth(k int) int {
	pos := 0
	for pw := 1 << 30; pw > 0; pw >>= 1 {
		if next := pos + pw; next < len(x.defs) && x.defs[next] < k {
			pos = next
			k -= x.defs[next]
		}
	}
	return pos // Fenwick index pos+1 is step pos
}
