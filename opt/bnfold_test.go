package opt

import (
	"math"
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

// TestFoldBatchNormHalf: a float16 Conv+BatchNormalization folds into
// float16 weights as ONNX Runtime's ConvBNFusion computes them, each step
// in float32 rounded to float16; with FP16Exact it is left alone (the BN
// then rounds the Conv's float16 result).
func TestFoldBatchNormHalf(t *testing.T) {
	h := func(name string, shape ir.Shape, v ...float64) *ir.Value {
		return ir.NewConst(name, ir.FromFloats(ir.Float16, shape, v))
	}
	build := func() (*ir.Graph, *ir.Node) {
		x := ir.NewInput("x", ir.Type{DType: ir.Float16, Shape: ir.Shape{1, 1, 2, 2}})
		c, y := &ir.Value{Name: "c"}, &ir.Value{Name: "y"}
		conv := &ir.Node{Name: "conv", Op: &ir.Conv{Group: 1}, Inputs: []*ir.Value{x, h("w", ir.Shape{2, 1, 1, 1}, 0.3, 7), h("b", ir.Shape{2}, 1, -2)}, Outputs: []*ir.Value{c}}
		bn := &ir.Node{Name: "bn", Op: &ir.BatchNorm{Epsilon: 1e-5},
			Inputs:  []*ir.Value{c, h("s", ir.Shape{2}, 0.7, 1.3), h("beta", ir.Shape{2}, 0.1, 0.2), h("m", ir.Shape{2}, 0.0003, 0.5), h("v", ir.Shape{2}, 0.1, 3)},
			Outputs: []*ir.Value{y}}
		g := &ir.Graph{Inputs: []*ir.Value{x}, Outputs: []*ir.Value{y}, Nodes: []*ir.Node{conv, bn}}
		if err := ir.InferGraph(g); err != nil {
			t.Fatal(err)
		}
		return g, conv
	}
	g, conv := build()
	if err := foldBatchNorm(g, &Options{}); err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 1 || conv.In(1).Type.DType != ir.Float16 || conv.In(2).Type.DType != ir.Float16 {
		t.Fatalf("want one Conv with float16 weights, got %d nodes, weights %s", len(g.Nodes), conv.In(1).Type)
	}
	r := ir.RoundHalf
	f := func(v float64) float32 { return r(float32(v)) }
	w, b, s, beta, m, v := []float32{f(0.3), 7}, []float32{1, -2}, []float32{f(0.7), f(1.3)}, []float32{f(0.1), f(0.2)}, []float32{f(0.0003), 0.5}, []float32{f(0.1), 3}
	for i := range 2 {
		sc := r(s[i] / r(float32(math.Sqrt(float64(r(v[i]+1e-5))))))
		wantW, wantB := r(w[i]*sc), r(r(r(b[i]-m[i])*sc)+beta[i])
		if got := float32(conv.In(1).Const.Float(i)); got != wantW {
			t.Errorf("w[%d] = %v, want %v", i, got, wantW)
		}
		if got := float32(conv.In(2).Const.Float(i)); got != wantB {
			t.Errorf("b[%d] = %v, want %v", i, got, wantB)
		}
	}
	g, _ = build()
	if err := foldBatchNorm(g, &Options{FP16: FP16Exact}); err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 2 {
		t.Errorf("FP16Exact folded a float16 BatchNormalization")
	}
}
