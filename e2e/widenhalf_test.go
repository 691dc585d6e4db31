package e2e_test

import (
	"testing"

	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/optest"
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
