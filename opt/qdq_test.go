package opt

import (
	"slices"
	"testing"

	"github.com/mlc-compiler/mlc/internal/irtest"
	"github.com/mlc-compiler/mlc/ir"
)

// TestFusedOutput: what the quantizer asks the qdq pass about a float
// graph: a Conv takes its bias Add, a residual Add and the Relu, and reads
// its input and the residual; nodes already taken are not taken twice; an
// Add of two activations takes its activations; a MatMul of two run-time
// operands is not a candidate.
func TestFusedOutput(t *testing.T) {
	b := irtest.New(t)
	b.In("x", ir.Float32, 1, 2, 4, 4)
	b.In("r", ir.Float32, 1, 2, 4, 4)
	b.In("m", ir.Float32, 4, 4)
	b.Const("w", irtest.Rand(1, ir.Float32, 2, 2, 3, 3))
	b.Const("chan", irtest.Rand(2, ir.Float32, 1, 2, 1, 1))
	b.Op("conv", &ir.Conv{Window: ir.Window{Pads: []int{1, 1, 1, 1}}, Group: 1}, "x", "w")
	b.Op("biased", &ir.Binary{Fn: ir.FnAdd}, "conv", "chan")
	b.Op("res", &ir.Binary{Fn: ir.FnAdd}, "biased", "r")
	b.Op("relu", &ir.Unary{Fn: ir.FnRelu}, "res")
	b.Op("sum", &ir.Binary{Fn: ir.FnAdd}, "relu", "x")
	b.Op("act", &ir.Unary{Fn: ir.FnRelu}, "sum")
	b.Op("mm", &ir.MatMul{}, "m", "m")
	g := b.Out("act", "mm")

	out, folded, reads := FusedOutput(g, b.Node("conv"), nil)
	names := func(ns []*ir.Node) (s []string) {
		for _, n := range ns {
			s = append(s, n.Name)
		}
		return s
	}
	if out != b.V("relu") || !slices.Equal(names(folded), []string{"biased", "res", "relu"}) || !slices.Equal(reads, []*ir.Value{b.V("x"), b.V("r")}) {
		t.Errorf("Conv: out %v, folded %v, reads %v", out, names(folded), reads)
	}
	// With the Relu taken by another op, the Conv stops before it.
	out, folded, _ = FusedOutput(g, b.Node("conv"), map[*ir.Node]bool{b.Node("relu"): true})
	if out != b.V("res") || len(folded) != 2 {
		t.Errorf("Conv with Relu taken: out %v, folded %v", out, names(folded))
	}
	out, folded, reads = FusedOutput(g, b.Node("sum"), nil)
	if out != b.V("act") || !slices.Equal(names(folded), []string{"act"}) || len(reads) != 2 {
		t.Errorf("Add: out %v, folded %v, reads %v", out, names(folded), reads)
	}
	if out, _, _ := FusedOutput(g, b.Node("mm"), nil); out != nil {
		t.Errorf("MatMul of run-time operands: out %v, want none", out)
	}
}
