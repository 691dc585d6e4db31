package opt

import (
	"testing"

	"github.com/mlc-compiler/mlc/ir"
)

// TestInlineIf: an If whose condition is constant only after folding (the
// frontend inlines those constant at import) becomes the branch it takes,
// even when the other branch has another shape.
func TestInlineIf(t *testing.T) {
	x := ir.NewInput("x", ir.Type{DType: ir.Float32, Shape: ir.Shape{3}})
	three := ir.NewConst("three", ir.TensorI64(ir.Shape{}, 3))
	size, cond := &ir.Value{Name: "size"}, &ir.Value{Name: "cond"}
	tOut, eOut, y := &ir.Value{Name: "t"}, &ir.Value{Name: "e"}, &ir.Value{Name: "y"}
	then := &ir.Graph{Nodes: []*ir.Node{{Op: &ir.Binary{Fn: ir.FnAdd}, Inputs: []*ir.Value{x, x}, Outputs: []*ir.Value{tOut}}}, Outputs: []*ir.Value{tOut}}
	els := &ir.Graph{Nodes: []*ir.Node{{Op: &ir.Concat{Axis: 0}, Inputs: []*ir.Value{x, x}, Outputs: []*ir.Value{eOut}}}, Outputs: []*ir.Value{eOut}}
	g := &ir.Graph{
		Inputs: []*ir.Value{x},
		Nodes: []*ir.Node{
			{Op: &ir.Size{}, Inputs: []*ir.Value{x}, Outputs: []*ir.Value{size}},
			{Op: &ir.Binary{Fn: ir.FnEqual}, Inputs: []*ir.Value{size, three}, Outputs: []*ir.Value{cond}},
			{Op: &ir.If{Then: then, Else: els}, Inputs: []*ir.Value{cond}, Outputs: []*ir.Value{y}},
		},
		Outputs: []*ir.Value{y},
	}
	if _, err := Run(g, Options{Level: 2}); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, n := range g.Nodes {
		ops = append(ops, n.Op.OpType())
	}
	if len(ops) != 2 || ops[0] != "Add" || ops[1] != "Identity" {
		t.Fatalf("nodes after inlining: %v, want [Add Identity]", ops)
	}
	if g.Outputs[0] != y || !y.Type.Shape.Equal(ir.Shape{3}) {
		t.Fatalf("output %s, want y float32[3]", g.Outputs[0])
	}
}
