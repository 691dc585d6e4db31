package opt

import (
	"testing"

	"github.com/mlc-compiler/mlc/ir"
)

// TestFoldBatchNormAfterNonConv: a BatchNormalization whose input comes
// from a one-input node (here a Cast, as widenhalf leaves after a float16
// Conv) is left alone; bnfold once read that producer's second input before
// checking that it was a Conv and panicked on unet_1024_fp16.
func TestFoldBatchNormAfterNonConv(t *testing.T) {
	x := ir.NewInput("x", ir.Type{DType: ir.Float16, Shape: ir.Shape{1, 2, 4, 4}})
	c := &ir.Value{Name: "c"}
	y := &ir.Value{Name: "y"}
	p := func(name string) *ir.Value {
		return ir.NewConst(name, ir.FromFloats(ir.Float16, ir.Shape{2}, []float64{1, 2}))
	}
	g := &ir.Graph{Inputs: []*ir.Value{x}, Outputs: []*ir.Value{y}, Nodes: []*ir.Node{
		{Name: "cast", Op: &ir.Cast{To: ir.Float16}, Inputs: []*ir.Value{x}, Outputs: []*ir.Value{c}},
		{Name: "bn", Op: &ir.BatchNorm{Epsilon: 1e-5}, Inputs: []*ir.Value{c, p("s"), p("b"), p("m"), p("v")}, Outputs: []*ir.Value{y}},
	}}
	if err := ir.InferGraph(g); err != nil {
		t.Fatal(err)
	}
	if err := foldBatchNorm(g, &Options{}); err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 2 {
		t.Fatalf("bnfold changed a BatchNormalization that follows a Cast: %d nodes left", len(g.Nodes))
	}
}
