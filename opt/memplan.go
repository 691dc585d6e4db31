package opt

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
//	inputs, outputs        each at a fixed offset for the whole run
//	arena                  activations and kernel workspaces, reused once dead
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
	Consts      []*ir.Value // constants to place in data segments, by address
	ConstBytes  int         // size of the constant region
	ArenaStart  int
	ArenaBytes  int
	MemoryBytes int
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
		for _, sg := range subgraphsOf(n) {
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
	for _, v := range p.Consts {
		p.Offsets[v] = addr
		addr = alignUp(addr+max(len(v.Const.Data), 1), Align)
	}
	p.ConstBytes = addr - ScratchBytes

	// Graph inputs and outputs live for the whole run at fixed addresses.
	// An output that aliases another buffer (a Reshape of an activation)
	// shares that buffer, which then lives to the end.
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
	fix(g.Outputs)
	// Values the Once nodes compute keep their buffers too, next to a flag
	// that tells whether they are computed.
	p.Once = onceNodes(g, roots)
	for _, n := range g.Nodes {
		if p.Once[n] {
			fix(n.Outputs)
		}
	}
	if len(p.Once) > 0 {
		p.OnceFlag = addr
		addr += Align
	}
	p.ArenaStart = addr

	// Live intervals of activations, with aliases folded into their roots.
	ivs := map[*ir.Value]*interval{}
	var order []*interval
	end := len(g.Nodes)
	use := func(v *ir.Value, step int) {
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
		for _, sg := range subgraphsOf(n) {
			inner = append(inner, subgraphValues(sg)...)
		}
		outs := append(append([]*ir.Value{}, n.Outputs...), inner...)
		for _, o := range outs {
			if o == nil || o.Const != nil || fixed[o] {
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
		if w := workspace(n); w > 0 {
			order = append(order, &interval{node: n, def: step, last: step, size: w})
		}
		for _, sg := range subgraphsOf(n) {
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

	// Greedy by size: place big buffers first at the lowest offset that does
	// not overlap a placed buffer alive at the same time.
	sorted := append([]*interval{}, order...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].size > sorted[j].size })
	// placed finds the buffers alive at the same time without scanning
	// them all; past maxFirstFit of them (a graph tens of thousands of
	// nodes wide) the buffer goes above them all instead of into the
	// lowest gap, which keeps planning near-linear.
	placed := newPlacedIndex(end + 1)
	arena := 0
	for _, iv := range sorted {
		off := 0
		if placed.overlaps(iv.def, iv.last) > maxFirstFit {
			off = placed.maxEnd(iv.def, iv.last)
		} else {
			for _, o := range placed.list(iv.def, iv.last) {
				if off+iv.size <= o.off {
					break
				}
				off = max(off, alignUp(o.off+o.size, Align))
			}
		}
		iv.off = off
		placed.add(iv)
		arena = max(arena, off+iv.size)
	}
	for _, iv := range order {
		if iv.val != nil {
			p.Offsets[iv.val] = p.ArenaStart + iv.off
		} else {
			p.Workspace[iv.node] = p.ArenaStart + iv.off
		}
	}
	for v, r := range roots {
		if off, ok := p.Offsets[r]; ok {
			p.Offsets[v] = off
		}
	}
	p.ArenaBytes = alignUp(arena, Align)
	// Slack past the last buffer: SIMD kernels may load a whole vector
	// across the end of a tensor (lanes they then discard).
	p.MemoryBytes = p.ArenaStart + p.ArenaBytes + 64
	return p, nil
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

func subgraphsOf(n *ir.Node) []*ir.Graph {
	if s, ok := n.Op.(ir.Subgrapher); ok {
		return s.Subgraphs()
	}
	return nil
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
		for _, sg := range subgraphsOf(n) {
			out = append(out, subgraphValues(sg)...)
		}
	}
	return out
}
