package opt

import (
	"testing"

	"github.com/mlc-compiler/mlc/internal/irtest"
	"github.com/mlc-compiler/mlc/ir"
)

// TestWidenHalf (--fp16 exact): float16 Conv, MatMul and Gemm with constant weights, in
// the graph and in a subgraph, compute in float32 between Casts; one whose
// weights are a run-time input stays float16. Small integers keep every
// sum exact, so the outputs are the float16 ops' bit for bit (moved here
// from the end-to-end tests: it tests this pass).
func TestWidenHalf(t *testing.T) {
	small := func(seed int64, dims ...int) *ir.Tensor {
		r := irtest.Rand(seed, ir.Int8, dims...)
		return r.Convert(ir.Float16)
	}
	b := irtest.New(t)
	b.In("x", ir.Float16, 1, 2, 5, 5)
	b.In("a", ir.Float16, 3, 4)
	b.In("bw", ir.Float16, 4, 2)
	b.In("cond", ir.Bool)
	b.Const("w", small(1, 3, 2, 3, 3))
	b.Const("cb", small(2, 3))
	b.Const("mw", small(3, 4, 2))
	b.Const("gw", small(4, 2, 4))
	b.Op("conv", &ir.Conv{Window: ir.Window{Pads: []int{1, 1, 1, 1}}, Group: 1}, "x", "w", "cb")
	b.Op("mm", &ir.MatMul{}, "a", "mw")
	b.Op("gemm", &ir.Gemm{Alpha: 1, Beta: 1, TransB: true}, "a", "gw")
	b.Op("dyn", &ir.MatMul{}, "a", "bw")
	then := b.Sub("then", func(s *irtest.B) { s.Out(s.Op("inner", &ir.MatMul{}, "a", "mw").Name) })
	els := b.Sub("else", func(s *irtest.B) { s.Out("dyn") })
	b.Op("branch", &ir.If{Then: then, Else: els}, "cond")
	g := b.Out("conv", "mm", "gemm", "branch")
	in := irtest.Inputs(g)
	for v, x := range in {
		if v.Type.DType == ir.Float16 {
			in[v] = irtest.Rand(9, ir.Int8, x.Shape...).Convert(ir.Float16)
		}
	}
	in[b.V("cond")] = ir.FromFloats(ir.Bool, ir.Shape{}, []float64{1})
	want := irtest.Eval(t, g, in)
	if err := widenHalf(g, &Options{FP16: FP16Exact}); err != nil {
		t.Fatal(err)
	}
	irtest.Verify(t, g)
	half := 0
	g.Walk(func(n *ir.Node) {
		switch n.Op.(type) {
		case *ir.Conv, *ir.MatMul, *ir.Gemm:
			if n.In(0).Type.DType == ir.Float16 {
				half++
				if n.Outputs[0] != b.V("dyn") {
					t.Errorf("%s stayed a float16 op", n.Label())
				}
			}
		}
	})
	if half != 1 {
		t.Errorf("%d float16 products remain, want 1 (the one with run-time weights)", half)
	}
	irtest.SameOutputs(t, g, in, want, 0)
}

// TestWidenHalfKeepsInputChecks: the check that a float16 input equals the
// value a module was specialized on (--input-value) compares the input's
// own bytes, so it keeps reading the graph input, not its float32 twin: the
// metadata's fixed_inputs names that input.
func TestWidenHalfKeepsInputChecks(t *testing.T) {
	b := irtest.New(t)
	b.In("x", ir.Float16, 2)
	b.Const("v", ir.FromFloats(ir.Float16, ir.Shape{2}, []float64{1, 2}))
	b.Op("r", &ir.Unary{Fn: ir.FnRelu}, "x")
	g := b.Out("r")
	check := &ir.Node{Name: "check", Op: &ir.CheckEqual{}, Inputs: []*ir.Value{b.V("x"), b.V("v")}} // no outputs
	g.Nodes = append([]*ir.Node{check}, g.Nodes...)
	if err := widenHalf(g, &Options{}); err != nil {
		t.Fatal(err)
	}
	irtest.Verify(t, g)
	g.Walk(func(n *ir.Node) {
		if _, ok := n.Op.(*ir.CheckEqual); ok && n.Inputs[0] != b.V("x") {
			t.Errorf("the input check reads %s, want the graph input x", n.Inputs[0])
		}
	})
}
