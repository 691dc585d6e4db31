package memplan

import (
	"iter"
	"slices"
	"sort"

	"github.com/mlc-compiler/mlc/ir"
)

// Concat in place: a Concat along an axis whose outer dimensions are all 1
// (axis 1 of a batch-1 NCHW map, say) lays its inputs end to end, each one
// contiguous bytes of the output. The plan may then put an input's buffer
// at its slice of the output buffer: its producer writes there directly,
// the Concat copies nothing for it, and the input's own buffer and the
// copy are gone. The output buffer then lives from the first such input's
// definition to the last read of any of them, which can cost more than it
// saves (a U-Net skip connection would hold the whole joined map through
// the encoder), so each input is taken only when the live bytes the arena
// must hold at once do not grow, neither at the peak nor anywhere between
// the buffers' old and new lives (concatSlots).

// slot says that a buffer is the bytes of parent's buffer from off.
type slot struct {
	parent *ir.Value
	off    int
}

// concatSlots decides which Concat inputs of g (its main graph only) share
// the output's buffer, and folds their live intervals into the output's.
// ivs holds the interval of every arena buffer (by alias root) and order
// every interval (workspaces and staged constants too); fixed are the
// buffers outside the arena (graph inputs and outputs, Once results). It
// returns the slots and the intervals that remain.
//
// Two rounds over a profile of the bytes live at each step: first, while
// some merge lowers the peak, the one that lowers it most (a Concat's
// remaining inputs all at once, or its latest defined one alone); then,
// Concat by Concat, the merges that raise neither the peak nor the most
// bytes live over the steps they change (no copy, no extra memory). Taking
// the first merge that fits, in graph order, would let early Concats fill
// the headroom below a peak that a later one then removes.
func concatSlots(g *ir.Graph, root func(*ir.Value) *ir.Value, fixed map[*ir.Value]bool, ivs map[*ir.Value]*interval, order []*interval, end int) (map[*ir.Value]slot, []*interval) {
	var joins []*join
	for _, n := range g.Nodes {
		if j := concatJoin(n, root, fixed, ivs); j != nil {
			joins = append(joins, j)
		}
	}
	if len(joins) == 0 {
		return nil, order
	}
	slots := map[*ir.Value]slot{}
	// into is the interval of the buffer y's bytes are in: y's own, or
	// that of the output y went in place into; nil when that is fixed.
	into := func(y *ir.Value) *interval {
		top, _ := outermost(slots, y)
		return ivs[top]
	}
	take := func(j *join, cs []candidate) {
		in := into(j.y)
		for _, c := range cs {
			slots[c.r] = slot{j.y, c.at}
			if in != nil {
				in.def, in.last = min(in.def, c.iv.def), max(in.last, c.iv.last)
			}
			c.iv.size = -1 // dropped below
		}
		j.rest = j.rest[len(cs):]
	}
	live := newMaxTree(order, end)
	for range maxPeakMerges {
		var best *join
		var bestCands []candidate
		bestPeak := live.top[1]
		for _, j := range joins {
			for _, cs := range [][]candidate{j.rest, j.rest[:min(1, len(j.rest))]} {
				if len(cs) == 0 || best == j && len(cs) == len(bestCands) {
					continue
				}
				ch := mergeChanges(cs, into(j.y))
				live.apply(ch, 1)
				if p := live.top[1]; p < bestPeak {
					best, bestCands, bestPeak = j, cs, p
				}
				live.apply(ch, -1)
			}
		}
		if best == nil {
			break
		}
		live.apply(mergeChanges(bestCands, into(best.y)), 1)
		take(best, bestCands)
	}
	for _, j := range joins {
		if len(j.rest) > 0 && live.harmless(j.rest, into(j.y)) {
			take(j, j.rest)
		}
		for len(j.rest) > 0 && live.harmless(j.rest[:1], into(j.y)) {
			take(j, j.rest[:1])
		}
	}
	if len(slots) == 0 {
		return nil, order
	}
	kept := order[:0:0]
	for _, iv := range order {
		if iv.size >= 0 {
			kept = append(kept, iv)
		}
	}
	return slots, kept
}

// maxPeakMerges bounds the first round's merges, each a scan of every
// Concat.
const maxPeakMerges = 256

// join is a Concat whose output y has inputs that may go in place: rest,
// latest defined first (all of them at once cost least, as no input's
// buffer stays beside the output; else the later ones cost least).
type join struct {
	y    *ir.Value
	rest []candidate
}

// candidate is a Concat input's buffer r, with its live interval, that may
// go at byte at of the output.
type candidate struct {
	r  *ir.Value
	iv *interval
	at int
}

// concatJoin lists the inputs of n, if it is a Concat along an axis whose
// outer dimensions are all 1, that may share its output's buffer.
func concatJoin(n *ir.Node, root func(*ir.Value) *ir.Value, fixed map[*ir.Value]bool, ivs map[*ir.Value]*interval) *join {
	op, ok := n.Op.(*ir.Concat)
	if !ok || len(n.Outputs) == 0 || n.Outputs[0] == nil {
		return nil
	}
	y := n.Outputs[0]
	axis, err := ir.NormAxis(op.Axis, len(y.Type.Shape))
	if err != nil || y.Const != nil || y.Type.Shape[:axis].Size() != 1 || (ivs[y] == nil && !fixed[y]) {
		return nil
	}
	j := &join{y: y}
	pos := 0
	for _, x := range n.Inputs {
		size := x.Type.Bytes()
		at := pos
		pos += size
		r := root(x)
		iv := ivs[r]
		// Every slot starts and ends on the alignment the plan gives
		// buffers (the last may end where y does): kernels may store a
		// partial vector up to the next aligned address.
		if iv == nil || r == y || r.Const != nil || fixed[r] || iv.def < 0 || size == 0 || r.Type.Bytes() != size ||
			at%Align != 0 || (size%Align != 0 && at+size != y.Type.Bytes()) {
			continue
		}
		if slices.ContainsFunc(j.rest, func(c candidate) bool { return c.r == r }) {
			continue // the same buffer twice: one copy stays
		}
		j.rest = append(j.rest, candidate{r, iv, at})
	}
	if len(j.rest) == 0 {
		return nil
	}
	sort.SliceStable(j.rest, func(a, b int) bool { return j.rest[a].iv.def > j.rest[b].iv.def })
	return j
}

// slotAddr resolves v's address through the slots it sits in (a Concat
// output may itself be a slot of another Concat's output).
func slotAddr(v *ir.Value, slots map[*ir.Value]slot, offsets map[*ir.Value]int) int {
	top, rel := outermost(slots, v)
	return offsets[top] + rel
}

// enclosing yields v (at offset 0), then each buffer v lies in through
// slots, innermost first, with v's offset in it.
func enclosing(slots map[*ir.Value]slot, v *ir.Value) iter.Seq2[*ir.Value, int] {
	return func(yield func(*ir.Value, int) bool) {
		rel := 0
		for yield(v, rel) {
			s, ok := slots[v]
			if !ok {
				return
			}
			v, rel = s.parent, rel+s.off
		}
	}
}

// outermost returns the buffer v's bytes are in (v itself when it is in
// no slot) and v's offset there.
func outermost(slots map[*ir.Value]slot, v *ir.Value) (top *ir.Value, rel int) {
	for u, off := range enclosing(slots, v) {
		top, rel = u, off
	}
	return top, rel
}

// maxTree holds the arena bytes live at each step (buffers and workspaces,
// aligned as placed) in a segment tree with range add and range max.
type maxTree struct {
	size     int
	add, top []int // top[i]: max over node i's range, add[i] included
}

func newMaxTree(order []*interval, end int) *maxTree {
	size := 1
	for size < end+2 { // steps -1 .. end
		size *= 2
	}
	t := &maxTree{size: size, add: make([]int, 2*size), top: make([]int, 2*size)}
	for _, iv := range order {
		t.update(iv.def, iv.last, alignUp(iv.size, Align))
	}
	return t
}

// update adds d to the live bytes of steps a..b.
func (t *maxTree) update(a, b, d int) {
	if a <= b {
		t.rec(1, 0, t.size-1, a+1, b+1, d)
	}
}

func (t *maxTree) rec(node, lo, hi, a, b, d int) {
	if b < lo || hi < a {
		return
	}
	if a <= lo && hi <= b {
		t.add[node] += d
		t.top[node] += d
		return
	}
	mid := (lo + hi) / 2
	t.rec(2*node, lo, mid, a, b, d)
	t.rec(2*node+1, mid+1, hi, a, b, d)
	t.top[node] = t.add[node] + max(t.top[2*node], t.top[2*node+1])
}

// max is the most bytes live at once over steps a..b.
func (t *maxTree) max(a, b int) int { return t.query(1, 0, t.size-1, a+1, b+1) }

func (t *maxTree) query(node, lo, hi, a, b int) int {
	if b < lo || hi < a {
		return -1 << 62
	}
	if a <= lo && hi <= b {
		return t.top[node]
	}
	mid := (lo + hi) / 2
	return t.add[node] + max(t.query(2*node, lo, mid, a, b), t.query(2*node+1, mid+1, hi, a, b))
}

// mergeChanges are the changes to the live bytes when the candidates'
// buffers become part of buffer into (nil: a fixed buffer, outside the
// arena): each candidate's bytes go, and into's live over their lives too.
func mergeChanges(cands []candidate, into *interval) [][3]int {
	var ch [][3]int
	lo, hi := cands[0].iv.def, cands[0].iv.last
	for _, c := range cands {
		ch = append(ch, [3]int{c.iv.def, c.iv.last, -alignUp(c.iv.size, Align)})
		lo, hi = min(lo, c.iv.def), max(hi, c.iv.last)
	}
	if into != nil {
		is := alignUp(into.size, Align)
		ch = append(ch, [3]int{min(lo, into.def), into.def - 1, is}, [3]int{into.last + 1, max(hi, into.last), is})
	}
	return ch
}

// apply adds (sign 1) or takes back (sign -1) changes.
func (t *maxTree) apply(ch [][3]int, sign int) {
	for _, c := range ch {
		t.update(c[0], c[1], sign*c[2])
	}
}

// harmless applies the merge if it raises neither the peak nor the most
// bytes live over the steps it changes.
func (t *maxTree) harmless(cands []candidate, into *interval) bool {
	ch := mergeChanges(cands, into)
	lo, hi := ch[0][0], ch[0][1]
	for _, c := range ch {
		if c[0] <= c[1] {
			lo, hi = min(lo, c[0]), max(hi, c[1])
		}
	}
	peak, local := t.top[1], t.max(lo, hi)
	t.apply(ch, 1)
	if t.top[1] <= peak && t.max(lo, hi) <= local {
		return true
	}
	t.apply(ch, -1)
	return false
}
