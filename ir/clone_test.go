package ir_test

import (
	"slices"
	"testing"

	"github.com/mlc-compiler/mlc/internal/irtest"
	"github.com/mlc-compiler/mlc/ir"
)

// TestClone: the copy computes what the original does, shares no node,
// value or op with it (constants excepted), its subgraphs read the copy's
// values, and rewriting the copy leaves the original as it was.
func TestClone(t *testing.T) {
	b := irtest.New(t)
	b.In("x", ir.Float32, 2, 3)
	b.In("c", ir.Bool)
	b.Const("k", irtest.Rand(1, ir.Float32, 3))
	b.Op("a", &ir.Binary{Fn: ir.FnMul}, "x", "k")
	b.Op("r", &ir.Unary{Fn: ir.FnRelu}, "a")
	then := b.Sub("then", func(s *irtest.B) { s.Out(s.Op("t", &ir.Unary{Fn: ir.FnNeg}, "r").Name) })
	els := b.Sub("else", func(s *irtest.B) { s.Out(s.Op("e", &ir.Unary{Fn: ir.FnExp}, "a").Name) })
	b.Op("y", &ir.If{Then: then, Else: els}, "c")
	g := b.Out("y")
	before := g.Format(nil)

	c, vmap := g.Clone()
	if c.Format(nil) != before {
		t.Fatalf("the copy reads differently:\n%s\nwant\n%s", c.Format(nil), before)
	}
	irtest.Verify(t, c)
	orig := map[any]bool{}
	g.Walk(func(n *ir.Node) {
		orig[n], orig[n.Op] = true, true
		for _, v := range append(slices.Clone(n.Inputs), n.Outputs...) {
			if v != nil && v.Const == nil {
				orig[v] = true
			}
		}
	})
	c.Walk(func(n *ir.Node) {
		if orig[n] || orig[n.Op] {
			t.Errorf("%s: node or op shared with the original", n.Label())
		}
		for _, v := range append(slices.Clone(n.Inputs), n.Outputs...) {
			if orig[v] {
				t.Errorf("%s: value %q shared with the original", n.Label(), v.Name)
			}
		}
	})
	if vmap[b.V("r")] == nil || vmap[b.V("r")] == b.V("r") || vmap[b.V("k")] != nil {
		t.Errorf("vmap: r -> %v, k -> %v (want a copy of r, no entry for the constant)", vmap[b.V("r")], vmap[b.V("k")])
	}
	cif := c.Nodes[2].Op.(*ir.If)
	if got := cif.Then.Captures(); len(got) != 1 || got[0] != vmap[b.V("r")] {
		t.Errorf("the copied branch captures %v, want the copy of r", got)
	}

	// The same outputs on both branches.
	for _, cond := range []float64{0, 1} {
		in := irtest.Inputs(g)
		in[b.V("c")] = ir.FromFloats(ir.Bool, ir.Shape{}, []float64{cond})
		want := irtest.Eval(t, g, in)
		cin := ir.Env{}
		for v, x := range in {
			cin[vmap[v]] = x
		}
		irtest.SameOutputs(t, c, cin, want, 0)
	}

	// Rewrite the copy's nodes and ops in place: the original stays.
	c.Nodes[1].Op.(*ir.Unary).Fn = ir.FnAbs
	c.Nodes[0].Inputs[0], c.Nodes = c.Nodes[0].Inputs[1], c.Nodes[:2]
	cif.Then.Nodes[0].Outputs[0].Name = "renamed"
	if g.Format(nil) != before {
		t.Errorf("rewriting the copy changed the original:\n%s", g.Format(nil))
	}
}
