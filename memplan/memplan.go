// Package memplan fixes a module's memory at compile time: every value
// and kernel workspace gets a byte offset (Plan), activations share an
// arena by lifetime. opt.Run makes the plan after its passes; codegen reads
// it. It is its own package so that codegen depends on the plan, not on
// the optimizer.
package memplan

import (
	"fmt"
	"slices"
	"sort"

	"github.com/mlc-compiler/mlc/ir"
)

// Memory layout of a module, fixed at compile time:
//
//	[0, ScratchBytes)      the WASI entry's iovecs and messages
//	constants              weights, in data segments
//	inputs                 each at a fixed offset for the whole run
//	arena                  activations, outputs (alive to the run's end) and
//	                       kernel workspaces, reused once dead
const (
	ScratchBytes = 1024
	Align        = 16
)

// Plan gives every tensor the model touches an address in linear memory.
type Plan struct {
	Offsets     map[*ir.Value]int
	Workspace   map[*ir.Node]int // address of each node's scratch space
	Once        map[*ir.Node]bool
	OnceFlag    int         // address of the i32 that is 1 once the Once nodes ran
	DataFlag    int         // address of the i32 that is 1 once the constants are in memory
	Consts      []*ir.Value // constants to place in data segments, by address
	ConstBytes  int         // size of the constant region
	StagedBytes int         // constants only Once nodes read, placed in the arena
	FixedBytes  int         // inputs and the Once nodes' results (outputs are in the arena)
	OnceBytes   int         // of which the Once nodes' results
	ArenaStart  int
	ArenaBytes  int
	MemoryBytes int
	// Peak is the most the arena must hold at once, at node PeakStep (-1:
	// the Once nodes): the activations live there (PeakLive) and the
	// node's workspace (PeakWorkspace). ArenaBytes - Peak is what the
	// placement loses to fragmentation.
	Peak, PeakStep, PeakLive, PeakWorkspace int
}

// Addr returns v's address; it panics for values the plan does not know,
// which would be a planner bug.
func (p *Plan) Addr(v *ir.Value) int {
	off, ok := p.Offsets[v]
	if !ok {
		panic(fmt.Sprintf("memory plan has no address for %s", v))
	}
	return off
}

func alignUp(n, a int) int { return (n + a - 1) / a * a }

// maxFirstFit bounds the buffers alive together that first-fit placement
// looks between (see PlanMemory).
const maxFirstFit = 512

// interval is one buffer's life: it is written at step def and read up to
// step last (inclusive).
type interval struct {
	val       *ir.Value
	node      *ir.Node // for workspaces
	def, last int
	size      int
	off       int
	pieces    []piece // buffers in place inside this one (concatPieces)
}

// PlanMemory assigns addresses. workspace tells how many scratch bytes a
// node's kernel needs while it runs.
func PlanMemory(g *ir.Graph, workspace func(*ir.Node) int) (*Plan, error) {
	p := &Plan{Offsets: map[*ir.Value]int{}, Workspace: map[*ir.Node]int{}}

	// Constants read by the remaining nodes (and constant outputs are copied
	// by the materialize pass, so they are read by a node too).
	addr := ScratchBytes
	seen := map[*ir.Value]bool{}
	g.Walk(func(n *ir.Node) {
		// A subgraph output may be a constant the owning op copies out.
		reads := n.Inputs
		for _, sg := range n.Subgraphs() {
			reads = append(slices.Clone(reads), sg.Outputs...)
		}
		for _, v := range reads {
			if v != nil && v.Const != nil && !seen[v] {
				seen[v] = true
				p.Consts = append(p.Consts, v)
			}
		}
	})
	// A constant graph output (a folded result) is read from its data segment.
	roots := g.AliasRoots()
	root := roots.Of
	for _, v := range g.Outputs {
		if r := root(v); r.Const != nil && !seen[r] {
			seen[r] = true
			p.Consts = append(p.Consts, r)
		}
	}
	p.Once = onceNodes(g, roots)
	staged := stagedConsts(g, p.Once)
	for _, v := range p.Consts {
		if !staged[v] {
			p.Offsets[v] = addr
			addr = alignUp(addr+max(len(v.Const.Data), 1), Align)
		}
	}
	p.ConstBytes = addr - ScratchBytes

	// Graph inputs live for the whole run at fixed addresses: a host may
	// write them once and run again. Outputs are arena buffers that live
	// from their node to the end of the run (a host reads them after
	// mlc_run), as an output that aliases an activation (a Reshape of
	// it) always was: the arena's bytes are free for them once the run's
	// other buffers are dead.
	fixed := map[*ir.Value]bool{}
	fix := func(vs []*ir.Value) {
		for _, v := range vs {
			if v == nil || fixed[v] || v.Const != nil {
				continue
			}
			if _, alias := roots[v]; alias {
				continue
			}
			fixed[v] = true
			p.Offsets[v] = addr
			addr = alignUp(addr+max(v.Type.Bytes(), 1), Align)
		}
	}
	fix(g.Inputs)
	// Values the Once nodes compute keep their buffers too, next to a flag
	// that tells whether they are computed.
	onceStart := addr
	for _, n := range g.Nodes {
		if p.Once[n] {
			fix(n.Outputs)
		}
	}
	p.OnceBytes = addr - onceStart
	if len(p.Once) > 0 || len(p.Consts) > 0 {
		p.DataFlag, p.OnceFlag = addr, addr+4
		addr += Align
	}
	p.ArenaStart = addr
	p.FixedBytes = addr - ScratchBytes - p.ConstBytes

	// Live intervals of activations, with aliases folded into their roots.
	// The Once nodes run before every other node, at step -1, and so do
	// the constants only they read (staged): those sit in the arena, where
	// activations overwrite them once the first run has used them.
	ivs := map[*ir.Value]*interval{}
	var order []*interval
	end := len(g.Nodes)
	for _, v := range p.Consts {
		if staged[v] {
			iv := &interval{val: v, def: -1, last: -1, size: max(len(v.Const.Data), 1)}
			order = append(order, iv)
			p.StagedBytes += alignUp(iv.size, Align)
		}
	}
	// A lazy node's output has no buffer: its reader reads the node's
	// inputs instead, so they live until that read.
	lazy := g.LazyProducers()
	var use func(v *ir.Value, step int)
	use = func(v *ir.Value, step int) {
		if n := lazy[v]; n != nil {
			for _, x := range n.Inputs {
				if x != nil {
					use(x, step)
				}
			}
			return
		}
		r := root(v)
		if r.Const != nil || fixed[r] {
			return
		}
		if iv := ivs[r]; iv != nil {
			iv.last = max(iv.last, step)
		}
	}
	for step, n := range g.Nodes {
		for _, v := range n.ReadValues() {
			use(v, step)
		}
		// Values inside subgraphs live while their owning node runs.
		var inner []*ir.Value
		for _, sg := range n.Subgraphs() {
			inner = append(inner, subgraphValues(sg)...)
		}
		outs := append(append([]*ir.Value{}, n.Outputs...), inner...)
		for _, o := range outs {
			if o == nil || o.Const != nil || fixed[o] || lazy[o] != nil {
				continue
			}
			if r := root(o); r != o {
				continue
			}
			if ivs[o] == nil {
				iv := &interval{val: o, def: step, last: step, size: max(o.Type.Bytes(), 1)}
				ivs[o] = iv
				order = append(order, iv)
			}
		}
		if w := workspace(n); w > 0 && !n.Lazy {
			at := step
			if p.Once[n] {
				at = -1
			}
			order = append(order, &interval{node: n, def: at, last: at, size: w})
		}
		for _, sg := range n.Subgraphs() {
			sg.Walk(func(sn *ir.Node) {
				if w := workspace(sn); w > 0 {
					order = append(order, &interval{node: sn, def: step, last: step, size: w})
				}
			})
		}
	}
	for _, v := range g.Outputs {
		use(v, end)
	}
	slots, order, live, arena := arenaPlan(g, root, fixed, ivs, order, end)
	for _, iv := range order {
		for _, r := range iv.rects() {
			if r.iv.val != nil {
				p.Offsets[r.iv.val] = p.ArenaStart + r.iv.off
			} else {
				p.Workspace[r.iv.node] = p.ArenaStart + r.iv.off
			}
		}
	}
	for v := range slots {
		p.Offsets[v] = slotAddr(v, slots, p.Offsets)
	}
	for v, r := range roots {
		if off, ok := p.Offsets[r]; ok {
			p.Offsets[v] = off
		}
	}
	p.ArenaBytes = alignUp(arena, Align)
	p.peak(live, end)
	// Slack past the last buffer: SIMD kernels may load a whole vector
	// across the end of a tensor (lanes they then discard).
	p.MemoryBytes = p.ArenaStart + p.ArenaBytes + 64
	return p, nil
}

// arenaPlan places the arena's buffers twice, with Concat inputs in place
// as concatSlots chooses (folded lives) and as pieces (concatPieces), and
// keeps the smaller arena (the first on a tie). It returns the slots, the
// placed intervals, the live intervals for the peak and the arena's size.
func arenaPlan(g *ir.Graph, root func(*ir.Value) *ir.Value, fixed map[*ir.Value]bool, ivs map[*ir.Value]*interval, order []*interval, end int) (map[*ir.Value]slot, []*interval, []*interval, int) {
	ivs2, order2 := cloneIntervals(ivs, order)
	slots, order := concatSlots(g, root, fixed, ivs, order, end)
	arena := place(bySize(order), end)
	slots2, order2, live2 := concatPieces(g, root, fixed, ivs2, order2)
	if len(slots2) == 0 || onlyVariant == foldedLives {
		return slots, order, order, arena
	}
	if arena2 := place(bySize(order2), end); arena2 < arena || onlyVariant == asPieces {
		return slots2, order2, live2, arena2
	}
	return slots, order, order, arena
}

// onlyVariant makes arenaPlan take one way regardless of the arena's size,
// for tests that check each placement on its own.
var onlyVariant int

const (
	foldedLives = 1 + iota
	asPieces
)

// bySize orders buffers for greedy placement: big ones first.
func bySize(order []*interval) []*interval {
	sorted := append([]*interval{}, order...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].size > sorted[j].size })
	return sorted
}

// cloneIntervals copies the intervals so that a second plan can change
// its own.
func cloneIntervals(ivs map[*ir.Value]*interval, order []*interval) (map[*ir.Value]*interval, []*interval) {
	copies := make(map[*interval]*interval, len(order))
	order2 := make([]*interval, len(order))
	for i, iv := range order {
		c := *iv
		copies[iv], order2[i] = &c, &c
	}
	ivs2 := make(map[*ir.Value]*interval, len(ivs))
	for v, iv := range ivs {
		ivs2[v] = copies[iv]
	}
	return ivs2, order2
}

// place sets the offset of each buffer, in the order given, to the lowest
// one that does not overlap a buffer placed before it and alive at the same
// time, and returns the arena's size. Buffers live between steps -1 (before
// the first node: staged constants, Once workspaces) and last. The index
// finds the buffers alive at the same time without scanning them all; past
// maxFirstFit of them (a graph tens of thousands of nodes wide) a buffer
// goes above them all instead of into the lowest gap, which keeps planning
// near-linear. A buffer with pieces goes where it and every piece, at its
// offset, are clear.
func place(sorted []*interval, last int) int {
	placed := newPlacedIndex(last + 2) // steps -1 .. last
	arena := 0
	for _, iv := range sorted {
		off := 0
		rs := iv.rects()
		crowded := false
		for _, r := range rs {
			if placed.overlaps(r.iv.def, r.iv.last) > maxFirstFit {
				crowded = true
			}
		}
		if crowded {
			for _, r := range rs {
				off = max(off, placed.maxEnd(r.iv.def, r.iv.last)-r.rel)
			}
			off = alignUp(off, Align)
		} else {
			for moved := true; moved; {
				moved = false
				for _, r := range rs {
					for _, o := range placed.list(r.iv.def, r.iv.last) {
						lo := off + r.rel
						if lo+r.iv.size <= o.off {
							break
						}
						if o.off+o.size > lo {
							off = alignUp(o.off+o.size, Align) - r.rel
							moved = moved || len(rs) > 1
						}
					}
				}
			}
		}
		for _, r := range rs {
			r.iv.off = off + r.rel
			placed.add(r.iv)
		}
		arena = max(arena, off+iv.size)
	}
	return arena
}

// onceNodes are the nodes that compute constants at run time: nodes of the
// main graph that read only constants and values of other Once nodes,
// have no effect and do not write a graph output (a host may overwrite
// those). Folding leaves such nodes when their result would make the
// module much larger (DequantizeLinear of int8 weights, ConstantOfShape):
// mlc_run computes them on its first call only, into buffers of their own.
// roots is g.AliasRoots().
func onceNodes(g *ir.Graph, roots ir.AliasRoots) map[*ir.Node]bool {
	once := map[*ir.Node]bool{}
	known := map[*ir.Value]bool{}
	outs := map[*ir.Value]bool{}
	for _, v := range g.Outputs {
		outs[v] = true
		outs[roots.Of(v)] = true
	}
	for _, n := range g.Nodes {
		if _, ok := n.Op.(ir.Subgrapher); ok {
			continue
		}
		if _, ok := n.Op.(ir.Effect); ok {
			continue
		}
		if _, ok := n.Op.(ir.Impure); ok {
			continue
		}
		if p, ok := n.Op.(*ir.PrepareWeights); ok && p.EachRun {
			continue
		}
		ok := len(n.Inputs) > 0
		for _, v := range n.Inputs {
			if v != nil && v.Const == nil && !known[v] {
				ok = false
			}
		}
		for _, o := range n.Outputs {
			if o != nil && outs[o] {
				ok = false
			}
		}
		if !ok {
			continue
		}
		once[n] = true
		for _, o := range n.Outputs {
			if o != nil {
				known[o] = true
			}
		}
	}
	return once
}

// peak finds the step whose live buffers need the most arena bytes, with
// a running sum over the interval ends (steps -1 to end).
func (p *Plan) peak(order []*interval, end int) {
	live := make([]int, end+3)
	work := make([]int, end+3)
	for _, iv := range order {
		sz := alignUp(iv.size, Align)
		d := live
		if iv.val == nil {
			d = work
		}
		d[iv.def+1] += sz
		d[iv.last+2] -= sz
	}
	l, w := 0, 0
	p.Peak, p.PeakStep = -1, -1
	for i := 0; i < end+2; i++ {
		l += live[i]
		w += work[i]
		if l+w > p.Peak {
			p.Peak, p.PeakStep, p.PeakLive, p.PeakWorkspace = l+w, i-1, l, w
		}
	}
}

// stagedConsts are the constants that only Once nodes read: they are
// needed before the first run's activations exist, and never after.
func stagedConsts(g *ir.Graph, once map[*ir.Node]bool) map[*ir.Value]bool {
	staged := map[*ir.Value]bool{}
	for _, n := range g.Nodes {
		if once[n] {
			for _, v := range n.Inputs {
				if v != nil && v.Const != nil {
					staged[v] = true
				}
			}
		}
	}
	keep := func(v *ir.Value) {
		if v != nil {
			delete(staged, v)
		}
	}
	g.Walk(func(n *ir.Node) {
		if !once[n] {
			for _, v := range n.Inputs {
				keep(v)
			}
		}
		for _, sg := range n.Subgraphs() {
			for _, v := range sg.Outputs {
				keep(v)
			}
		}
	})
	// A view of a constant shares its bytes, which must then last.
	roots := g.AliasRoots()
	for _, r := range roots {
		keep(r)
	}
	for _, v := range g.Outputs {
		keep(roots.Of(v))
	}
	return staged
}

// subgraphValues lists every non-constant value a subgraph and its nested
// subgraphs define, their inputs included.
func subgraphValues(g *ir.Graph) []*ir.Value {
	out := append([]*ir.Value{}, g.Inputs...)
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != nil && o.Const == nil {
				out = append(out, o)
			}
		}
		for _, sg := range n.Subgraphs() {
			out = append(out, subgraphValues(sg)...)
		}
	}
	return out
}
