package opt

import (
	"math"
	"math/rand"
	"testing"

	"github.com/mlc-compiler/mlc/codegen"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/tune"
)

func randConst(name string, shape ir.Shape, r *rand.Rand) *ir.Value {
	t := ir.NewTensor(ir.Float32, shape)
	for i := range t.F32() {
		t.F32()[i] = r.Float32() - 0.5
	}
	return ir.NewConst(name, t)
}

// residualBlock is Conv -> BatchNormalization -> Add(x) -> Relu, then
// Conv -> Clip, and a MatMul -> Add(bias) -> Sigmoid -> Mul.
func residualBlock(r *rand.Rand) (*ir.Graph, *ir.Value) {
	x := ir.NewInput("x", ir.Type{DType: ir.Float32, Shape: ir.Shape{1, 8, 14, 14}})
	conv := func(name string, in *ir.Value) (*ir.Node, *ir.Value) {
		y := &ir.Value{Name: name}
		op := &ir.Conv{Window: ir.Window{Pads: []int{1, 1, 1, 1}}, Group: 1}
		return &ir.Node{Name: name, Op: op, Inputs: []*ir.Value{in, randConst(name+"_w", ir.Shape{8, 8, 3, 3}, r), randConst(name+"_b", ir.Shape{8}, r)}, Outputs: []*ir.Value{y}}, y
	}
	c1, y1 := conv("c1", x)
	bnY := &ir.Value{Name: "bn"}
	scale := randConst("s", ir.Shape{8}, r)
	vr := ir.NewConst("v", ir.TensorF32(ir.Shape{8}, 1, 2, 0.5, 1.5, 1, 1, 3, 0.25))
	bn := &ir.Node{Op: &ir.BatchNorm{Epsilon: 1e-5}, Inputs: []*ir.Value{y1, scale, randConst("bb", ir.Shape{8}, r), randConst("m", ir.Shape{8}, r), vr}, Outputs: []*ir.Value{bnY}}
	addY, reluY := &ir.Value{Name: "add"}, &ir.Value{Name: "relu"}
	add := &ir.Node{Op: &ir.Binary{Fn: ir.FnAdd}, Inputs: []*ir.Value{bnY, x}, Outputs: []*ir.Value{addY}}
	relu := &ir.Node{Op: &ir.Unary{Fn: ir.FnRelu}, Inputs: []*ir.Value{addY}, Outputs: []*ir.Value{reluY}}
	c2, y2 := conv("c2", reluY)
	clipY := &ir.Value{Name: "clip"}
	clip := &ir.Node{Op: &ir.Clip{}, Inputs: []*ir.Value{y2, ir.NewConst("lo", ir.ScalarF32(0)), ir.NewConst("hi", ir.ScalarF32(6))}, Outputs: []*ir.Value{clipY}}
	shapeC := ir.NewConst("shape", ir.TensorI64(ir.Shape{2}, 8, 196))
	flatY := &ir.Value{Name: "flat"}
	flat := &ir.Node{Op: &ir.Reshape{}, Inputs: []*ir.Value{clipY, shapeC}, Outputs: []*ir.Value{flatY}}
	mmY, biasY, sigY, outY := &ir.Value{Name: "mm"}, &ir.Value{Name: "biased"}, &ir.Value{Name: "sig"}, &ir.Value{Name: "out"}
	mm := &ir.Node{Op: &ir.MatMul{}, Inputs: []*ir.Value{flatY, randConst("w3", ir.Shape{196, 12}, r)}, Outputs: []*ir.Value{mmY}}
	bias := &ir.Node{Op: &ir.Binary{Fn: ir.FnAdd}, Inputs: []*ir.Value{mmY, randConst("b3", ir.Shape{12}, r)}, Outputs: []*ir.Value{biasY}}
	sig := &ir.Node{Op: &ir.Unary{Fn: ir.FnSigmoid}, Inputs: []*ir.Value{biasY}, Outputs: []*ir.Value{sigY}}
	mul := &ir.Node{Op: &ir.Binary{Fn: ir.FnMul}, Inputs: []*ir.Value{sigY, randConst("g", ir.Shape{12}, r)}, Outputs: []*ir.Value{outY}}
	g := &ir.Graph{Inputs: []*ir.Value{x}, Outputs: []*ir.Value{outY}, Nodes: []*ir.Node{c1, bn, add, relu, c2, clip, flat, mm, bias, sig, mul}}
	return g, x
}

// TestFusionKeepsSemantics runs the optimizer (every tune's weight layout)
// and checks that the reference interpreter gives the same outputs before
// and after: BN folding, epilogue fusion, prepacking (and its unpacking in
// the fused ops' Eval) and chain fusion must not change the math.
func TestFusionKeepsSemantics(t *testing.T) {
	for _, tune := range []string{tune.V8, tune.Wazero} {
		r := rand.New(rand.NewSource(1))
		g, x := residualBlock(r)
		if err := ir.InferGraph(g); err != nil {
			t.Fatal(err)
		}
		in := ir.NewTensor(ir.Float32, x.Type.Shape)
		for i := range in.F32() {
			in.F32()[i] = r.Float32()*2 - 1
		}
		want, err := ir.Run(g, ir.Env{x: in})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Run(g, Options{Level: 2, SIMD: true, ConvWeights: codegen.ConvWeightsFunc(tune)}); err != nil {
			t.Fatal(err)
		}
		ops := map[string]bool{}
		kernels := 0
		for _, n := range g.Nodes {
			ops[n.Op.OpType()] = true
			if _, prep := n.Op.(*ir.PrepareWeights); !prep {
				kernels++
			}
		}
		for _, op := range []string{"Conv+Add+Relu", "Conv+Clip(0,6)", "MatMul+Sigmoid", "Mul"} {
			if !ops[op] {
				t.Errorf("%s: no %s node after fusion: %v", tune, op, ops)
			}
		}
		if kernels != 5 { // two convs, the Reshape view, the MatMul, the Mul (and weight preparation)
			t.Errorf("%s: %d nodes after fusion, want 5: %v", tune, kernels, ops)
		}
		got, err := ir.Run(g, ir.Env{x: in})
		if err != nil {
			t.Fatal(err)
		}
		w, o := want[0].F32(), got[0].F32()
		for i := range w {
			if math.Abs(float64(w[i]-o[i])) > 1e-5 {
				t.Fatalf("%s: output %d is %g, want %g", tune, i, o[i], w[i])
			}
		}
	}
}
