package e2e_test

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/ir"
)

// Issue 13: Slice steps and bounds at the ends of int64 overflowed, and a
// step of -2^63 or 2^63-1 gave an empty output. The spec clamps starts and
// ends to the axis; a step as long as the axis or longer selects at most
// one element. The expected outputs are what ONNX Runtime 1.30 (onnxruntime-web)
// gives for the same models on x = [0 1 2 3 4 5 6].
func TestSliceExtremeSteps(t *testing.T) {
	const lo, hi = math.MinInt64, math.MaxInt64
	for _, tc := range []struct {
		start, end, step int64
		want             []float64
	}{
		{0, 7, lo, nil},
		{-1, lo, lo, []float64{6}},
		{6, -8, lo, []float64{6}},
		{hi, lo, lo, []float64{6}},
		{0, 7, hi, []float64{0}},
		{lo, hi, hi, []float64{0}},
		{-1, lo, -1, []float64{6, 5, 4, 3, 2, 1, 0}},
		{0, hi, 1, []float64{0, 1, 2, 3, 4, 5, 6}},
		{hi, lo, -3, []float64{6, 3, 0}},
		{lo, hi, 3, []float64{0, 3, 6}},
	} {
		t.Run(fmt.Sprintf("%d:%d:%d", tc.start, tc.end, tc.step), func(t *testing.T) {
			g := &onnxpb.GraphProto{
				Name:  proto.String("slice"),
				Input: []*onnxpb.ValueInfoProto{optest.Value("x", ir.Float32, 7)},
				Node: []*onnxpb.NodeProto{
					optest.Const("s", ir.TensorI64(nil, tc.start)), optest.Const("e", ir.TensorI64(nil, tc.end)),
					optest.Const("a", ir.TensorI64(nil, 0)), optest.Const("p", ir.TensorI64(nil, tc.step)),
					optest.Op("Slice", []string{"x", "s", "e", "a", "p"}, []string{"y"}),
				},
				Output: []*onnxpb.ValueInfoProto{optest.Untyped("y")},
			}
			out, err := runModel(t, optest.GraphModel(13, g), tensors{"x": vecF32(0, 1, 2, 3, 4, 5, 6)})
			if err != nil {
				t.Fatal(err)
			}
			y := out["y"]
			if !y.Shape.Equal(ir.Shape{len(tc.want)}) || !slices.Equal(y.Floats(), tc.want) && len(tc.want) > 0 {
				t.Errorf("y = %v%v, want [%d]%v", y.Shape, y.Floats(), len(tc.want), tc.want)
			}
		})
	}
}

// The same extreme steps with starts and ends given at run time (the
// output shape declared): the kernel clamps them the same way.
func TestSliceExtremeStepsRunTime(t *testing.T) {
	const lo, hi = math.MinInt64, math.MaxInt64
	for _, step := range []int64{lo, hi} {
		g := &onnxpb.GraphProto{
			Name:  proto.String("slice"),
			Input: []*onnxpb.ValueInfoProto{optest.Value("x", ir.Float32, 7), optest.Value("s", ir.Int64, 1), optest.Value("e", ir.Int64, 1)},
			Node: []*onnxpb.NodeProto{
				optest.Const("a", ir.TensorI64(nil, 0)), optest.Const("p", ir.TensorI64(nil, step)),
				optest.Op("Slice", []string{"x", "s", "e", "a", "p"}, []string{"y"}),
			},
			Output: []*onnxpb.ValueInfoProto{optest.Value("y", ir.Float32, 1)},
		}
		start, end, want := int64(-1), int64(lo), 6.0
		if step > 0 {
			start, end, want = lo, hi, 0
		}
		out, err := runModel(t, optest.GraphModel(13, g), tensors{"x": vecF32(0, 1, 2, 3, 4, 5, 6), "s": ir.TensorI64(nil, start), "e": ir.TensorI64(nil, end)})
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if y := out["y"].Floats(); len(y) != 1 || y[0] != want {
			t.Errorf("step %d: y = %v, want [%v]", step, y, want)
		}
	}
}
