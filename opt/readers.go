package opt

import "github.com/mlc-compiler/mlc/ir"

// readers answers what fusion asks of g.Uses() (does one node alone read
// v, and which) and stays true as nodes merge, so that fusing a chain of
// N nodes costs O(N) instead of recomputing every value's readers after
// each merge (issue 13: a 100,000-node chain did not compile in a minute).
// It also moves a merged node to the slot of the node it absorbed without
// searching the node list.
type readers struct {
	count map[*ir.Value]int      // distinct nodes reading the value
	one   map[*ir.Value]*ir.Node // its reader when count is 1
	pos   map[*ir.Node]int       // each node's index in g.Nodes
	g     *ir.Graph
}

func newReaders(g *ir.Graph) *readers {
	r := &readers{count: map[*ir.Value]int{}, one: map[*ir.Value]*ir.Node{}, pos: make(map[*ir.Node]int, len(g.Nodes)), g: g}
	for i, n := range g.Nodes {
		r.pos[n] = i
		for _, v := range n.ReadValues() {
			if r.one[v] != n { // a node reading v twice lists it in a row
				r.count[v]++
				r.one[v] = n
			}
		}
	}
	return r
}

// only returns the single node reading v, or nil.
func (r *readers) only(v *ir.Value) *ir.Node {
	if r.count[v] != 1 {
		return nil
	}
	return r.one[v]
}

// absorb records that n took in u, which read y (n's output before) and
// uReads (u.ReadValues() before the merge); nRead holds what n read before
// the merge. n moves to u's slot (where everything it now reads exists)
// and its own slot becomes nil: compact drops those at the end.
func (r *readers) absorb(n, u *ir.Node, y *ir.Value, uReads []*ir.Value, nRead map[*ir.Value]bool) {
	delete(r.count, y)
	delete(r.one, y)
	for _, v := range uReads {
		if v == y {
			continue
		}
		if nRead[v] {
			r.count[v]-- // n and u read it: now n alone of the two
		}
		r.one[v] = n // the reader left when one remains
	}
	i := r.pos[n]
	r.g.Nodes[r.pos[u]] = n
	r.pos[n] = r.pos[u]
	r.g.Nodes[i] = nil
	delete(r.pos, u)
}

// compact removes the slots absorb emptied.
func (r *readers) compact() {
	kept := r.g.Nodes[:0]
	for _, n := range r.g.Nodes {
		if n != nil {
			kept = append(kept, n)
		}
	}
	clear(r.g.Nodes[len(kept):])
	r.g.Nodes = kept
}

// readSet is the set of values n reads.
func readSet(n *ir.Node) map[*ir.Value]bool {
	m := map[*ir.Value]bool{}
	for _, v := range n.ReadValues() {
		m[v] = true
	}
	return m
}
