package memplan

import (
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
		// held counts, for each buffer, the inputs of n that are it (a
		// view of it) or lie inside it (in place in an earlier Concat's
		// output). An input held by another would be copied from within
		// the output it is copied into: it stays apart.
		held := map[*ir.Value]int{}
		for _, x := range n.Inputs {
			if x == nil {
				continue
			}
			for v := range enclosing(slots, root(x)) {
				held[v]++
			}
		}
		for _, c := range j.rest {
			if _, taken := slots[c.r]; !taken && held[c.r] == 1 && !inside(slots, j.y, c.r) {
				slots[c.r] = slot{j.y, c.at}
			}
		}
	}
	if len(slots) == 0 {
		return nil, order, order
	}
	inPiece := map[*interval]bool{}
	var live []*interval
	for _, iv := range order {
		if iv.val == nil {
			continue
		}
		if _, ok := slots[iv.val]; !ok {
			continue
		}
		inPiece[iv] = true
		top, rel := outermost(slots, iv.val)
		o := ivs[top]
		if o == nil || fixed[top] {
			continue
		}
		o.pieces = append(o.pieces, piece{iv, rel})
		// The piece's bytes count where none of the buffers it lies in
		// is alive (siblings never share bytes).
		var outer [][2]int
		for v := range enclosing(slots, iv.val) {
			if a := ivs[v]; v != iv.val && a != nil {
				outer = append(outer, [2]int{a.def, a.last})
			}
		}
		for _, span := range outside(iv.def, iv.last, outer) {
			live = append(live, &interval{val: iv.val, def: span[0], last: span[1], size: iv.size})
		}
	}
	var place []*interval
	for _, iv := range order {
		if !inPiece[iv] {
			place = append(place, iv)
			live = append(live, iv)
		}
	}
	return slots, place, live
}

// inside tells whether y is already (through slots) in x's buffer (y going
// into x would make a cycle).
func inside(slots map[*ir.Value]slot, y, x *ir.Value) bool {
	for v := range enclosing(slots, y) {
		if v == x {
			return true
		}
	}
	return false
}

// outside returns the parts of steps [def, last] that none of the spans
// covers.
func outside(def, last int, spans [][2]int) [][2]int {
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	var out [][2]int
	at := def
	for _, s := range spans {
		if s[0] > at {
			out = append(out, [2]int{at, min(s[0]-1, last)})
		}
		at = max(at, s[1]+1)
		if at > last {
			return out
		}
	}
	if at <= last {
		out = append(out, [2]int{at, last})
	}
	return out
}

// rects lists iv's own rectangle and its pieces, at offsets relative to iv.
func (iv *interval) rects() []piece {
	return append([]piece{{iv, 0}}, iv.pieces...)
}
