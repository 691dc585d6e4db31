package memplan

import (
	"slices"
	"sort"

	"github.com/mlc-compiler/mlc/ir"
)

// Concat in place, each input keeping its own life: concatSlots folds an
// input's life into the output buffer's, so the whole output is reserved
// from the input's definition on. A U-Net's skip connection, written at
// the start of the encoder and joined at the end of the decoder, then
// holds the whole joined map (three times the skip, say) through the
// network, so concatSlots leaves it apart and the peak holds the skip
// beside the joined output. As pieces, the output buffer is reserved only
// from the Concat on, and each input in place is a piece of it at a fixed
// offset, reserved over its own life only: the placement puts the output
// and its pieces together, every piece at its offset, each clear of the
// buffers alive beside it. No step then holds more bytes than without
// the Concat in place, so every input that may go in place does; what it
// can cost is fragmentation, which is why PlanMemory places both ways and
// keeps the smaller arena.

// piece is an interval placed at rel bytes into the buffer that owns it.
type piece struct {
	iv  *interval
	rel int
}

// concatPieces puts every Concat input of g (its main graph) that may go in
// place at its slice of the output, and makes its interval a piece of the
// outermost buffer it lands in (a Concat output may itself sit in place in
// another Concat's). It returns the slots, the intervals to place (the
// owners carry their pieces) and the live intervals the peak counts: each
// owner's bytes over time, pieces outside the owner's life included.
func concatPieces(g *ir.Graph, root func(*ir.Value) *ir.Value, fixed map[*ir.Value]bool, ivs map[*ir.Value]*interval, order []*interval) (map[*ir.Value]slot, []*interval, []*interval) {
	slots := map[*ir.Value]slot{}
	for _, n := range g.Nodes {
		j := concatJoin(n, root, fixed, ivs)
		if j == nil {
			continue
		}
		for _, c := range j.rest {
			if _, taken := slots[c.r]; taken || inside(slots, j.y, c.r) {
				continue
			}
			// Another input that is c's buffer (a view of it) or lies
			// inside it (in place in an earlier Concat's output) would be
			// copied from within the output it is copied into: c stays
			// apart.
			holds := 0
			for _, x := range n.Inputs {
				if x != nil && inside(slots, root(x), c.r) {
					holds++
				}
			}
			if holds == 1 {
				slots[c.r] = slot{j.y, c.at}
			}
		}
	}
	if len(slots) == 0 {
		return nil, order, order
	}
	// owner finds the outermost buffer v is in and v's offset there.
	owner := func(v *ir.Value) (*ir.Value, int) {
		rel := 0
		for {
			s, ok := slots[v]
			if !ok {
				return v, rel
			}
			v, rel = s.parent, rel+s.off
		}
	}
	inPiece := map[*interval]bool{}
	for _, iv := range order {
		if iv.val == nil {
			continue
		}
		if _, ok := slots[iv.val]; !ok {
			continue
		}
		inPiece[iv] = true
		top, rel := owner(iv.val)
		if o := ivs[top]; o != nil && !fixed[top] {
			o.pieces = append(o.pieces, piece{iv, rel})
		}
	}
	var place, live []*interval
	for _, iv := range order {
		if inPiece[iv] {
			continue
		}
		place = append(place, iv)
		if len(iv.pieces) == 0 {
			live = append(live, iv)
		} else {
			live = append(live, unionOverTime(iv)...)
		}
	}
	return slots, place, live
}

// inside tells whether y is already (through slots) in x's buffer (y going
// into x would make a cycle).
func inside(slots map[*ir.Value]slot, y, x *ir.Value) bool {
	for v := y; ; {
		if v == x {
			return true
		}
		s, ok := slots[v]
		if !ok {
			return false
		}
		v = s.parent
	}
}

// unionOverTime describes an owner's live bytes step by step: between any
// two of its rectangles' ends, the union of the byte ranges alive.
func unionOverTime(o *interval) []*interval {
	type rect struct{ def, last, lo, hi int }
	rs := []rect{{o.def, o.last, 0, alignUp(o.size, Align)}}
	for _, p := range o.pieces {
		rs = append(rs, rect{p.iv.def, p.iv.last, p.rel, p.rel + alignUp(p.iv.size, Align)})
	}
	var cuts []int
	for _, r := range rs {
		cuts = append(cuts, r.def, r.last+1)
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	var out []*interval
	for i := 0; i+1 < len(cuts); i++ {
		a, b := cuts[i], cuts[i+1]-1
		var spans [][2]int
		for _, r := range rs {
			if r.def <= a && b <= r.last {
				spans = append(spans, [2]int{r.lo, r.hi})
			}
		}
		sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
		bytes, end := 0, 0
		for _, s := range spans {
			lo := max(s[0], end)
			if s[1] > lo {
				bytes += s[1] - lo
				end = s[1]
			}
		}
		if bytes > 0 {
			out = append(out, &interval{val: o.val, def: a, last: b, size: bytes})
		}
	}
	return out
}

// rects lists iv's own rectangle and its pieces, at offsets relative to iv.
func (iv *interval) rects() []piece {
	return append([]piece{{iv, 0}}, iv.pieces...)
}
