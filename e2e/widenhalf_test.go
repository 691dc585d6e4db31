package e2e_test

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/ir"
)

// TestHalfConvWidened: a float16 Conv with constant weights, which opt's
// widenhalf pass computes in float32 between Casts (its own test is in
// opt), gives the interpreter's float16 result from the compiled kernels.
// Small integers keep every sum exact, so the result is the interpreter's
// bit for bit.
func TestHalfConvWidened(t *testing.T) {
	x := ir.FromFloats(ir.Float16, ir.Shape{1, 2, 5, 5}, seq(50, func(i int) float64 { return float64(i%7 - 3) }))
	w := ir.FromFloats(ir.Float16, ir.Shape{3, 2, 3, 3}, seq(54, func(i int) float64 { return float64(i%5-2) / 2 }))
	b := ir.FromFloats(ir.Float16, ir.Shape{3}, []float64{1, -0.5, 0.25})
	n := optest.Node{Op: "Conv", Opset: 13, Inputs: []string{"x", "w", "b"}, Outputs: []string{"y"}, Attrs: []*onnxpb.AttributeProto{optest.Ints("pads", 1, 1, 1, 1)}}
	optest.Check(t, n, map[string]*ir.Tensor{"x": x}, map[string]*ir.Tensor{"w": w, "b": b})
}

func seq(n int, f func(int) float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

// TestHalfGraphInFloat32: a float16 graph between float32 Casts computes in
// float32 by default, as ONNX Runtime does (its Cast pairs cancel), and
// rounds every node's result with --fp16 exact. 2049 is not a float16: the
// model's own Cast rounds it to 2048 (ties to even) only in exact mode, so
// Conv(w=1, b=-1) then Relu gives 2048 by default and 2047 in exact mode.
func TestHalfGraphInFloat32(t *testing.T) {
	g := &onnxpb.GraphProto{
		Name: proto.String("half"),
		Node: []*onnxpb.NodeProto{
			optest.Op("Cast", []string{"x"}, []string{"x16"}, optest.DType("to", ir.Float16)),
			optest.Op("Conv", []string{"x16", "w", "b"}, []string{"c"}),
			optest.Op("Relu", []string{"c"}, []string{"r"}),
			optest.Op("Cast", []string{"r"}, []string{"y"}, optest.DType("to", ir.Float32)),
		},
		Initializer: []*onnxpb.TensorProto{
			frontend.TensorToProto("w", ir.FromFloats(ir.Float16, ir.Shape{1, 1, 1, 1}, []float64{1})),
			frontend.TensorToProto("b", ir.FromFloats(ir.Float16, ir.Shape{1}, []float64{-1})),
		},
		Input:  []*onnxpb.ValueInfoProto{optest.Value("x", ir.Float32, 1, 1, 1, 2)},
		Output: []*onnxpb.ValueInfoProto{optest.Value("y", ir.Float32, 1, 1, 1, 2)},
	}
	model := optest.GraphModel(13, g)
	x := ir.TensorF32(ir.Shape{1, 1, 1, 2}, 2049, -3)
	for _, c := range []struct {
		fp16 string
		want float32
	}{{"", 2048}, {mlc.FP16Exact, 2047}} {
		o := mlc.DefaultOptions()
		o.FP16 = c.fp16
		res, err := mlc.Compile(model, "", o)
		if err != nil {
			t.Fatal(err)
		}
		testenv.Validate(t, res.Wasm)
		if c.fp16 == "" {
			for _, n := range res.Graph.Nodes {
				if _, ok := n.Op.(*ir.PrepareWeights); ok {
					continue // the weights stay float16 in the module
				}
				for _, v := range append(slices.Clone(n.Inputs), n.Outputs...) {
					if v != nil && v.Type.DType != ir.Float32 {
						t.Errorf("default: %s still has %s", n.Label(), v)
					}
				}
			}
		}
		out, err := hostir.Run(context.Background(), optest.Load(t, res.Wasm), tensors{"x": x})
		if err != nil {
			t.Fatal(err)
		}
		if got := out["y"].F32(); got[0] != c.want || got[1] != 0 {
			t.Errorf("fp16=%q: y = %v, want [%v 0]", c.fp16, got, c.want)
		}
	}
}
