package memplan

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/mlc-compiler/mlc/internal/irtest"
	"github.com/mlc-compiler/mlc/ir"
)

// runInPlan executes g through the memory plan as a module would: one
// flat memory, constants copied to their addresses, every node reading its
// inputs from and writing its outputs to the plan's addresses (a view
// writes nothing: it must find its input's bytes at its own address), and
// each node's workspace filled with garbage while it runs; the Once nodes
// run first, as mlc_run's first call runs them. A plan that
// lets two live buffers (or a workspace and a live buffer) share bytes
// makes the outputs differ from the interpreter's; one that puts a node's
// output over its input fails at once.
func runInPlan(t *testing.T, g *ir.Graph, p *Plan, in ir.Env, workspace func(*ir.Node) int) []*ir.Tensor {
	t.Helper()
	mem := make([]byte, p.MemoryBytes)
	rnd := rand.New(rand.NewSource(7))
	rnd.Read(mem)
	store := func(v *ir.Value, x *ir.Tensor) {
		copy(mem[p.Addr(v):], x.Data)
	}
	load := func(v *ir.Value) *ir.Tensor {
		if v.Const != nil && v.Const.DType == ir.String {
			return v.Const
		}
		a := p.Addr(v)
		n := v.Type.Bytes()
		if a < 0 || a+n > len(mem) {
			t.Fatalf("%q at %d+%d is outside memory (%d bytes)", v.Name, a, n, len(mem))
		}
		return &ir.Tensor{Type: v.Type, Data: append([]byte(nil), mem[a:a+n]...)}
	}
	for _, v := range p.Consts {
		store(v, v.Const)
	}
	for _, v := range g.Inputs {
		store(v, in[v])
	}
	order := make([]*ir.Node, 0, len(g.Nodes))
	for _, once := range []bool{true, false} {
		for _, n := range g.Nodes {
			if p.Once[n] == once {
				order = append(order, n)
			}
		}
	}
	for _, n := range order {
		ins := make([]*ir.Tensor, len(n.Inputs))
		for i, v := range n.Inputs {
			if v != nil {
				ins[i] = load(v)
			}
		}
		// The kernel may use its workspace as it likes, before and after
		// it writes its outputs.
		scribble := func() {
			if size := workspace(n); size > 0 {
				w, ok := p.Workspace[n]
				if !ok || w < p.ArenaStart || w+size > p.MemoryBytes {
					t.Fatalf("%s: workspace of %d bytes at %d (placed: %v)", n.Label(), size, w, ok)
				}
				rnd.Read(mem[w : w+size])
			}
		}
		scribble()
		if _, view := n.Op.(ir.Aliaser); view {
			if p.Addr(n.Outputs[0]) != p.Addr(n.Inputs[0]) {
				t.Fatalf("%s: a view at %d of a buffer at %d", n.Label(), p.Addr(n.Outputs[0]), p.Addr(n.Inputs[0]))
			}
			continue
		}
		// Kernels read their inputs while they write their outputs.
		for _, o := range n.Outputs {
			for _, v := range n.Inputs {
				// (a Concat input may sit at its own slice of the output)
				if o != nil && v != nil && v.Const == nil && overlap(p, o, v) && !inSlot(p, n, slices.Index(n.Inputs, v)) {
					t.Fatalf("%s writes %q over its input %q:\n%s", n.Label(), o.Name, v.Name, g.Format(p))
				}
			}
		}
		out, err := n.Op.Eval(ins)
		if err != nil {
			t.Fatalf("%s: %v", n.Label(), err)
		}
		for i, v := range n.Outputs {
			if v != nil {
				store(v, out[i])
			}
		}
		scribble()
	}
	var outs []*ir.Tensor
	for _, v := range g.Outputs {
		outs = append(outs, load(v))
	}
	return outs
}

// onlyOnceRead: every reader of v is a Once node.
func onlyOnceRead(g *ir.Graph, p *Plan, v *ir.Value) bool {
	ok := true
	g.Walk(func(n *ir.Node) {
		for _, in := range n.Inputs {
			if in == v && !p.Once[n] {
				ok = false
			}
		}
	})
	return ok
}

// checkPlanLayout checks the plan's static promises: every value a node
// touches has an address, 16-byte aligned, inside memory; constants lie in
// the constant region after the scratch area, above it graph inputs and
// outputs, then the arena.
func checkPlanLayout(t *testing.T, g *ir.Graph, p *Plan) {
	t.Helper()
	g.Walk(func(n *ir.Node) {
		for _, v := range append(append([]*ir.Value{}, n.Inputs...), n.Outputs...) {
			if v == nil {
				continue
			}
			a, ok := p.Offsets[v]
			if !ok {
				t.Errorf("%s: %q has no address", n.Label(), v.Name)
				continue
			}
			if a%Align != 0 || a < ScratchBytes || a+v.Type.Bytes() > p.MemoryBytes {
				t.Errorf("%s: %q at %d (%d bytes): misaligned or outside [%d, %d)", n.Label(), v.Name, a, v.Type.Bytes(), ScratchBytes, p.MemoryBytes)
			}
			// (a constant only Once nodes read is staged in the arena)
			if v.Const != nil && a >= ScratchBytes+p.ConstBytes && (a < p.ArenaStart || !onlyOnceRead(g, p, v)) {
				t.Errorf("constant %q at %d, past the constant region", v.Name, a)
			}
		}
	})
	roots := g.AliasRoots()
	for _, v := range append(append([]*ir.Value{}, g.Inputs...), g.Outputs...) {
		// (a view of a constant is read where the constant is)
		if a, ok := p.Offsets[v]; !ok || roots.Of(v).Const == nil && a < ScratchBytes+p.ConstBytes {
			t.Errorf("graph input or output %q at %d (placed: %v)", v.Name, a, ok)
		}
	}
	if p.ArenaStart+p.ArenaBytes > p.MemoryBytes || p.ArenaStart%Align != 0 {
		t.Errorf("arena [%d, +%d) in memory of %d bytes", p.ArenaStart, p.ArenaBytes, p.MemoryBytes)
	}
}

// randomGraph is a DAG of n elementwise and movement nodes over a few
// inputs, each reading one or two earlier values of its shape, some
// through views, some kept to the end: many overlapping lifetimes.
func randomGraph(t *testing.T, seed int64, n int) *ir.Graph {
	r := rand.New(rand.NewSource(seed))
	b := irtest.New(t)
	shapes := []ir.Shape{{4, 8}, {2, 16}, {3, 5, 2}}
	var vals []string
	b.In("x", ir.Float32, 4, 8)
	b.In("y", ir.Float32, 4, 8)
	vals = append(vals, "x", "y")
	b.Const("c", irtest.Rand(1, ir.Float32, 4, 8))
	vals = append(vals, "c")
	b.Const("to16", ir.TensorI64(ir.Shape{2}, 2, 16))
	b.Const("to48", ir.TensorI64(ir.Shape{2}, 4, 8))
	_ = shapes
	unary := []ir.UnaryFn{ir.FnNeg, ir.FnAbs, ir.FnTanh, ir.FnExp}
	binary := []ir.BinaryFn{ir.FnAdd, ir.FnSub, ir.FnMul, ir.FnMax}
	var outs []string
	for i := range n {
		name := fmt.Sprintf("v%d", i)
		pick := func() string { return vals[r.Intn(len(vals))] }
		switch r.Intn(5) {
		case 0, 1:
			b.Op(name, &ir.Unary{Fn: unary[r.Intn(len(unary))]}, pick())
		case 2, 3:
			b.Op(name, &ir.Binary{Fn: binary[r.Intn(len(binary))]}, pick(), pick())
		case 4:
			// a view there and back: the planner must keep the root alive
			// while the view is read
			mid := name + "_flat"
			b.Op(mid, &ir.Reshape{}, pick(), "to16")
			b.Op(name, &ir.Reshape{}, mid, "to48")
		}
		vals = append(vals, name)
		if r.Intn(6) == 0 {
			outs = append(outs, name)
		}
	}
	outs = append(outs, vals[len(vals)-1])
	return b.Out(outs...)
}

// TestPlanMemory runs random graphs through the plan (no pass runs: the
// plan alone is under test) and compares with the interpreter, with and
// without workspaces.
func TestPlanMemory(t *testing.T) {
	for seed := range int64(20) {
		for _, ws := range []int{0, 48} {
			checkRandomPlan(t, randomGraph(t, seed, 30), seed, ws)
		}
	}
}

// checkRandomPlan plans g with ws bytes of workspace for every Binary node,
// checks the layout and runs g through the plan against the interpreter.
func checkRandomPlan(t *testing.T, g *ir.Graph, seed int64, ws int) *Plan {
	t.Helper()
	in := irtest.Inputs(g)
	want := irtest.Eval(t, g, in)
	workspace := func(n *ir.Node) int {
		if _, ok := n.Op.(*ir.Binary); ok {
			return ws
		}
		return 0
	}
	p, err := PlanMemory(g, workspace)
	if err != nil {
		t.Fatal(err)
	}
	checkPlanLayout(t, g, p)
	got := runInPlan(t, g, p, in, workspace)
	for i := range want {
		if msg := irtest.Compare(got[i], want[i], 0); msg != "" {
			t.Fatalf("seed %d, workspace %d: output %q: %s\n%s", seed, ws, g.Outputs[i].Name, msg, g.Format(p))
		}
	}
	return p
}

// TestPlanReusesMemory: a chain of n equal buffers needs two arena slots,
// not n: a buffer is free once its last reader ran.
func TestPlanReusesMemory(t *testing.T) {
	b := irtest.New(t)
	b.In("x", ir.Float32, 256)
	prev := "x"
	for i := range 10 {
		prev = b.Op(fmt.Sprintf("v%d", i), &ir.Unary{Fn: ir.FnNeg}, prev).Name
	}
	g := b.Out(prev)
	p, err := PlanMemory(g, noWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	if p.ArenaBytes != 2*1024 {
		t.Errorf("arena of %d bytes for a chain of 1 KiB buffers, want 2 KiB:\n%s", p.ArenaBytes, g.Format(p))
	}
	in := irtest.Inputs(g)
	irtest.SameOutputs(t, g, in, runInPlan(t, g, p, in, noWorkspace), 0)
}

// TestPlanOnceNodes: nodes that compute from constants only run once
// (ir.Unfolded keeps DequantizeLinear of weights as such a node); their
// outputs get buffers of their own, outside the arena, next to the flag,
// and a node writing a graph output is never one of them.
func TestPlanOnceNodes(t *testing.T) {
	b := irtest.New(t)
	b.In("x", ir.Float32, 4)
	b.Const("q", ir.FromFloats(ir.Int8, ir.Shape{4}, []float64{1, -2, 3, -4}))
	b.Const("s", ir.ScalarF32(0.5))
	b.Op("w", &ir.DequantizeLinear{}, "q", "s")
	b.Op("w2", &ir.Unary{Fn: ir.FnNeg}, "w")
	b.Op("y", &ir.Binary{Fn: ir.FnMul}, "x", "w2")
	b.Op("wout", &ir.DequantizeLinear{}, "q", "s")
	g := b.Out("y", "wout")
	p, err := PlanMemory(g, noWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	once := map[string]bool{}
	for n := range p.Once {
		once[n.Outputs[0].Name] = true
	}
	if !once["w"] || !once["w2"] || once["y"] || once["wout"] || len(once) != 2 {
		t.Errorf("once nodes %v, want w and w2", once)
	}
	for _, name := range []string{"w", "w2"} {
		if a := p.Addr(b.V(name)); a >= p.ArenaStart {
			t.Errorf("%s at %d, in the arena (from %d): the next run would find it overwritten", name, a, p.ArenaStart)
		}
	}
	if p.OnceFlag < ScratchBytes || p.OnceFlag >= p.ArenaStart {
		t.Errorf("once flag at %d, outside [%d, %d)", p.OnceFlag, ScratchBytes, p.ArenaStart)
	}
	checkPlanLayout(t, g, p)
	in := irtest.Inputs(g)
	irtest.SameOutputs(t, g, in, runInPlan(t, g, p, in, noWorkspace), 0)
	if note := p.NodeNote(b.Node("w")); note != "once" {
		t.Errorf("NodeNote %q, want once", note)
	}
}

// TestPlanSubgraph: values inside a Loop body get addresses that do not
// collide with what is live around the loop, and captured values live
// while the loop runs.
func TestPlanSubgraph(t *testing.T) {
	b := irtest.New(t)
	b.In("x", ir.Float32, 8)
	b.Const("trips", ir.TensorI64(ir.Shape{}, 3))
	b.Const("yes", ir.FromFloats(ir.Bool, ir.Shape{}, []float64{1}))
	b.Op("a", &ir.Unary{Fn: ir.FnNeg}, "x")
	b.Op("keep", &ir.Unary{Fn: ir.FnAbs}, "x")
	body := b.Sub("body", func(s *irtest.B) {
		s.SubIn("i")
		s.SubIn("c")
		s.SubIn("acc")
		s.Raw("next", &ir.Binary{Fn: ir.FnAdd}, "acc", "a")
		s.Raw("cond", &ir.Identity{}, "c")
		s.Out("cond", "next")
	})
	b.Op("sum", &ir.Loop{Body: body, ScanLen: -1}, "trips", "yes", "x")
	b.Op("y", &ir.Binary{Fn: ir.FnAdd}, "sum", "keep")
	g := b.Out("y")
	irtest.Verify(t, g)
	p, err := PlanMemory(g, noWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	checkPlanLayout(t, g, p)
	// Everything the loop body writes must be apart from what is live
	// across the loop: a (captured), keep (read after it), x.
	live := []*ir.Value{b.V("a"), b.V("keep"), b.V("x")}
	body.Walk(func(n *ir.Node) {
		for _, o := range n.Outputs {
			for _, l := range live {
				if overlap(p, o, l) {
					t.Errorf("body value %q [%d,+%d) overlaps %q [%d,+%d)", o.Name, p.Addr(o), o.Type.Bytes(), l.Name, p.Addr(l), l.Type.Bytes())
				}
			}
		}
	})
}

func overlap(p *Plan, a, b *ir.Value) bool {
	x, y := p.Addr(a), p.Addr(b)
	return x < y+b.Type.Bytes() && y < x+a.Type.Bytes()
}

func noWorkspace(*ir.Node) int { return 0 }
