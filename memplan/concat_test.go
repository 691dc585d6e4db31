package memplan

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/mlc-compiler/mlc/internal/irtest"
	"github.com/mlc-compiler/mlc/ir"
)

// inSlot tells whether input i of Concat node n sits at its own slice of
// the output (the plan put it there: opt.concatSlots).
func inSlot(p *Plan, n *ir.Node, i int) bool {
	if _, ok := n.Op.(*ir.Concat); !ok {
		return false
	}
	at := 0
	for _, v := range n.Inputs[:i] {
		at += v.Type.Bytes()
	}
	return p.Addr(n.Inputs[i]) == p.Addr(n.Outputs[0])+at
}

func planOf(t *testing.T, g *ir.Graph) *Plan {
	t.Helper()
	irtest.Verify(t, g)
	p, err := PlanMemory(g, noWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	checkPlanLayout(t, g, p)
	in := irtest.Inputs(g)
	irtest.SameOutputs(t, g, in, runInPlan(t, g, p, in, noWorkspace), 0)
	return p
}

// TestPlanConcatInPlace: a Concat's inputs go in place where that lowers
// (or does not raise) the bytes live at once, also an input read again
// after the Concat; an input whose buffer would have to hold the whole
// output through a busy stretch stays apart and is copied.
func TestPlanConcatInPlace(t *testing.T) {
	t.Run("tail in place, long-lived input copied", func(t *testing.T) {
		// Live KiB per step: s 1, m1 2, m2 3, m3 4, t 3, y 4, z (output).
		// t in place: step t holds s m3 y (4), the Concat s y (3). s in
		// place too would hold y through m3's step: 5.
		b := irtest.New(t)
		b.In("x", ir.Float32, 1, 4, 64)
		b.Op("s", &ir.Unary{Fn: ir.FnNeg}, "x")
		b.Op("m1", &ir.Unary{Fn: ir.FnAbs}, "x")
		b.Op("m2", &ir.Unary{Fn: ir.FnTanh}, "m1")
		b.Op("m3", &ir.Binary{Fn: ir.FnAdd}, "m1", "m2")
		b.Op("t", &ir.Unary{Fn: ir.FnNeg}, "m3")
		b.Op("y", &ir.Concat{Axis: 1}, "t", "s")
		b.Op("z", &ir.Unary{Fn: ir.FnExp}, "y")
		g := b.Out("z")
		p := planOf(t, g)
		n := b.Node("y")
		if !inSlot(p, n, 0) || inSlot(p, n, 1) {
			t.Errorf("t in place %v, s in place %v; want only t:\n%s", inSlot(p, n, 0), inSlot(p, n, 1), g.Format(p))
		}
		if p.ArenaBytes != 4*1024 {
			t.Errorf("arena %d bytes, want 4 KiB:\n%s", p.ArenaBytes, g.Format(p))
		}
	})
	t.Run("skip connection in place as a piece", func(t *testing.T) {
		// A U-Net's skip: s is written first and joined last. Folded
		// into y, s in place would hold y (2 KiB) beside m1 and m2 (4
		// KiB); apart, step y holds s, t and y (4 KiB). As a piece, s
		// sits at its slice of y over its own life and y is reserved
		// from the Concat on: 3 KiB at most (steps m2 and t).
		b := irtest.New(t)
		b.In("x", ir.Float32, 1, 4, 64)
		b.Op("s", &ir.Unary{Fn: ir.FnNeg}, "x")
		b.Op("m1", &ir.Unary{Fn: ir.FnAbs}, "x")
		b.Op("m2", &ir.Unary{Fn: ir.FnTanh}, "m1")
		b.Op("t", &ir.Unary{Fn: ir.FnExp}, "m2")
		b.Op("y", &ir.Concat{Axis: 1}, "t", "s")
		b.Op("z", &ir.Reduce{Kind: ir.ReduceSum, All: true, KeepDims: true}, "y")
		g := b.Out("z")
		p := planOf(t, g)
		n := b.Node("y")
		if !inSlot(p, n, 0) || !inSlot(p, n, 1) {
			t.Errorf("t in place %v, s in place %v; want both:\n%s", inSlot(p, n, 0), inSlot(p, n, 1), g.Format(p))
		}
		if p.ArenaBytes != 3*1024 || p.Peak != 3*1024 {
			t.Errorf("arena %d bytes, peak %d, want 3 KiB:\n%s", p.ArenaBytes, p.Peak, g.Format(p))
		}
	})
	t.Run("inputs read after the Concat", func(t *testing.T) {
		b := irtest.New(t)
		b.In("x", ir.Float32, 1, 4, 64)
		b.Op("a", &ir.Unary{Fn: ir.FnNeg}, "x")
		b.Op("b", &ir.Unary{Fn: ir.FnAbs}, "x")
		b.Op("y", &ir.Concat{Axis: -2}, "a", "b")
		b.Op("z", &ir.Unary{Fn: ir.FnExp}, "y")
		b.Op("w", &ir.Binary{Fn: ir.FnMul}, "a", "b")
		g := b.Out("z", "w")
		p := planOf(t, g)
		if n := b.Node("y"); !inSlot(p, n, 0) || !inSlot(p, n, 1) {
			t.Errorf("a and b not in place:\n%s", g.Format(p))
		}
	})
	t.Run("nested, into a graph output, views, one input twice", func(t *testing.T) {
		b := irtest.New(t)
		b.In("x", ir.Float32, 1, 4, 8)
		b.Const("flat", ir.TensorI64(ir.Shape{3}, 1, 4, 8))
		b.Op("a", &ir.Unary{Fn: ir.FnNeg}, "x")
		b.Op("av", &ir.Reshape{}, "a", "flat")
		b.Op("b", &ir.Unary{Fn: ir.FnAbs}, "x")
		b.Op("c1", &ir.Concat{Axis: 1}, "av", "b", "av")
		b.Op("d", &ir.Unary{Fn: ir.FnTanh}, "x")
		b.Op("y", &ir.Concat{Axis: 1}, "c1", "d")
		g := b.Out("y")
		p := planOf(t, g)
		c1, y := b.Node("c1"), b.Node("y")
		if !inSlot(p, c1, 0) || !inSlot(p, c1, 1) || inSlot(p, c1, 2) || !inSlot(p, y, 0) || !inSlot(p, y, 1) {
			t.Errorf("want every input in place but the second av:\n%s", g.Format(p))
		}
	})
	t.Run("strided slices are copied", func(t *testing.T) {
		b := irtest.New(t)
		b.In("x", ir.Float32, 2, 4, 8)
		b.Op("a", &ir.Unary{Fn: ir.FnNeg}, "x")
		b.Op("b", &ir.Unary{Fn: ir.FnAbs}, "x")
		b.Op("y", &ir.Concat{Axis: 1}, "a", "b")
		b.Op("z", &ir.Unary{Fn: ir.FnExp}, "y")
		g := b.Out("z")
		p := planOf(t, g)
		if n := b.Node("y"); inSlot(p, n, 0) || inSlot(p, n, 1) {
			t.Errorf("a slice that is not contiguous in place:\n%s", g.Format(p))
		}
	})
	t.Run("graph inputs and unaligned slots are copied", func(t *testing.T) {
		b := irtest.New(t)
		b.In("x", ir.Float32, 1, 3)
		b.Op("a", &ir.Unary{Fn: ir.FnNeg}, "x")
		b.Op("b", &ir.Unary{Fn: ir.FnAbs}, "x")
		b.Op("y", &ir.Concat{Axis: 1}, "x", "a", "b")
		b.Op("z", &ir.Unary{Fn: ir.FnExp}, "y")
		g := b.Out("z")
		p := planOf(t, g)
		// a would start at byte 12; b, at 24, ends where y does but
		// starts unaligned too.
		if n := b.Node("y"); inSlot(p, n, 0) || inSlot(p, n, 1) || inSlot(p, n, 2) {
			t.Errorf("graph input or unaligned slot in place:\n%s", g.Format(p))
		}
	})
}

// TestPlanConcatRandom runs random graphs with Concats (along the
// contiguous axis and a strided one, their inputs read again later, views
// between) through the plan, with and without workspaces.
func TestPlanConcatRandom(t *testing.T) {
	for _, v := range []int{0, foldedLives, asPieces} {
		onlyVariant = v
		planConcatRandom(t)
	}
	onlyVariant = 0
}

func planConcatRandom(t *testing.T) {
	took := 0
	for seed := range int64(30) {
		for _, ws := range []int{0, 48} {
			r := rand.New(rand.NewSource(seed))
			b := irtest.New(t)
			b.In("x", ir.Float32, 1, 4, 8)
			b.Const("to48", ir.TensorI64(ir.Shape{3}, 1, 4, 8))
			b.Const("to32", ir.TensorI64(ir.Shape{2}, 4, 8))
			vals := []string{"x"}
			var outs []string
			for i := range 24 {
				name := fmt.Sprintf("v%d", i)
				pick := func() string { return vals[r.Intn(len(vals))] }
				switch r.Intn(6) {
				case 0, 1:
					b.Op(name, &ir.Unary{Fn: []ir.UnaryFn{ir.FnNeg, ir.FnTanh, ir.FnAbs}[r.Intn(3)]}, pick())
				case 2:
					b.Op(name, &ir.Binary{Fn: ir.FnAdd}, pick(), pick())
				case 3, 4:
					// joined along axis 1 (in place) or 2 (strided), then
					// split back into halves that are summed
					axis := 1 + r.Intn(2)
					b.Op(name+"_cat", &ir.Concat{Axis: axis}, pick(), pick())
					b.Op(name+"_p,"+name+"_q", &ir.Split{Axis: axis, Outputs: 2}, name+"_cat")
					b.Op(name, &ir.Binary{Fn: ir.FnSub}, name+"_p", name+"_q")
				case 5:
					b.Op(name+"_flat", &ir.Reshape{}, pick(), "to32")
					b.Op(name, &ir.Reshape{}, name+"_flat", "to48")
				}
				vals = append(vals, name)
				if r.Intn(5) == 0 {
					outs = append(outs, name)
				}
			}
			g := b.Out(append(outs, vals[len(vals)-1])...)
			p := checkRandomPlan(t, g, seed, ws)
			for _, n := range g.Nodes {
				for i := range n.Inputs {
					if inSlot(p, n, i) {
						took++
					}
				}
			}
		}
	}
	if took == 0 {
		t.Error("no Concat input went in place in any graph: the test tests nothing")
	}
}
