package codegen_test

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/mlc-compiler/mlc/codegen"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/tune"
)

// TestDepthwiseInPlaceBits: the depthwise Conv reading its source in place
// gives the bits of the bordered copy's kernel (the same taps in the same
// order, zero where a window overhangs), over strides, asymmetric pads,
// dilations, kernel sizes, widths that leave 1-3 outputs in the last group
// and maps of one row or column; and both are within tolerance of the
// reference Conv.
func TestDepthwiseInPlaceBits(t *testing.T) {
	type geo struct {
		N, C, H, W, kh, kw int
		strides, dils      [2]int
		pads               [4]int // top, left, bottom, right
	}
	cases := []geo{
		{1, 3, 7, 7, 3, 3, [2]int{1, 1}, [2]int{1, 1}, [4]int{1, 1, 1, 1}},
		{1, 3, 14, 14, 3, 3, [2]int{1, 1}, [2]int{1, 1}, [4]int{1, 1, 1, 1}},
		{2, 5, 9, 10, 3, 3, [2]int{1, 1}, [2]int{1, 1}, [4]int{1, 1, 1, 1}},
		{1, 2, 1, 1, 3, 3, [2]int{1, 1}, [2]int{1, 1}, [4]int{1, 1, 1, 1}},
		{1, 2, 2, 3, 3, 3, [2]int{1, 1}, [2]int{1, 1}, [4]int{1, 1, 1, 1}},
		{1, 4, 17, 21, 3, 3, [2]int{1, 1}, [2]int{1, 1}, [4]int{1, 1, 1, 1}},
		{1, 4, 14, 14, 3, 3, [2]int{2, 2}, [2]int{1, 1}, [4]int{1, 1, 1, 1}},
		{1, 4, 7, 7, 3, 3, [2]int{2, 2}, [2]int{1, 1}, [4]int{1, 1, 1, 1}},
		{1, 4, 13, 11, 3, 3, [2]int{2, 2}, [2]int{1, 1}, [4]int{1, 1, 1, 1}},
		{1, 4, 30, 34, 3, 3, [2]int{2, 2}, [2]int{1, 1}, [4]int{1, 1, 1, 1}},
		{1, 4, 2, 9, 3, 3, [2]int{2, 2}, [2]int{1, 1}, [4]int{1, 1, 1, 1}},
		{1, 4, 16, 16, 3, 3, [2]int{2, 2}, [2]int{1, 1}, [4]int{0, 0, 1, 1}}, // TF's SAME
		{1, 4, 15, 15, 3, 3, [2]int{2, 2}, [2]int{1, 1}, [4]int{1, 1, 1, 1}},
		{1, 4, 16, 17, 3, 3, [2]int{2, 2}, [2]int{1, 1}, [4]int{0, 0, 0, 0}},
		{1, 3, 19, 18, 5, 5, [2]int{2, 2}, [2]int{1, 1}, [4]int{2, 2, 2, 2}},
		{1, 3, 19, 18, 5, 5, [2]int{1, 1}, [2]int{1, 1}, [4]int{2, 2, 2, 2}},
		{1, 3, 23, 22, 7, 7, [2]int{1, 1}, [2]int{1, 1}, [4]int{3, 3, 3, 3}},
		{1, 3, 23, 22, 7, 7, [2]int{2, 2}, [2]int{1, 1}, [4]int{3, 3, 3, 3}},
		{1, 3, 15, 13, 3, 3, [2]int{2, 2}, [2]int{2, 2}, [4]int{2, 2, 2, 2}},
		{1, 3, 15, 13, 3, 3, [2]int{1, 1}, [2]int{2, 2}, [4]int{2, 2, 2, 2}},
		{1, 3, 12, 12, 3, 3, [2]int{1, 2}, [2]int{1, 1}, [4]int{1, 1, 1, 1}},
		{1, 3, 12, 12, 3, 3, [2]int{2, 1}, [2]int{1, 1}, [4]int{1, 1, 1, 1}},
		{1, 3, 12, 13, 3, 3, [2]int{3, 2}, [2]int{1, 1}, [4]int{1, 0, 2, 2}},
		{1, 3, 9, 11, 1, 3, [2]int{1, 2}, [2]int{1, 1}, [4]int{0, 1, 0, 1}},
		{1, 3, 9, 11, 3, 1, [2]int{1, 1}, [2]int{1, 1}, [4]int{1, 0, 1, 0}},
		{1, 3, 6, 6, 3, 3, [2]int{1, 1}, [2]int{1, 1}, [4]int{4, 4, 4, 4}}, // padding past every tap
		{1, 3, 8, 8, 3, 3, [2]int{1, 1}, [2]int{4, 4}, [4]int{4, 4, 4, 4}},
		{1, 3, 1, 20, 3, 3, [2]int{1, 1}, [2]int{1, 1}, [4]int{1, 1, 1, 1}},
		{1, 3, 20, 1, 3, 3, [2]int{2, 2}, [2]int{1, 1}, [4]int{1, 1, 1, 1}},
	}
	ctx, rt := testRuntime(t)
	defer codegen.SetDepthwiseBordered(false)
	for _, c := range cases {
		for _, tn := range []string{tune.V8, tune.Wazero} {
			name := fmt.Sprintf("%+v/%s", c, tn)
			r := rand.New(rand.NewSource(int64(c.C*1000 + c.H*10 + c.W)))
			x := ir.NewInput("x", ir.Type{DType: ir.Float32, Shape: ir.Shape{c.N, c.C, c.H, c.W}})
			w := randomConst("w", ir.Shape{c.C, 1, c.kh, c.kw}, r.Int63())
			b := randomConst("b", ir.Shape{c.C}, r.Int63())
			op := &ir.Conv{Window: ir.Window{Pads: []int{c.pads[0], c.pads[1], c.pads[2], c.pads[3]}, Strides: c.strides[:], Dilations: c.dils[:]}, Group: c.C}
			g0, err := op.Geometry(x.Type.Shape, w.Type.Shape)
			if err != nil {
				t.Fatal(err)
			}
			res := ir.NewInput("r", ir.Type{DType: ir.Float32, Shape: ir.Shape{c.N, c.C, g0.Out[0], g0.Out[1]}})
			y, s, z := &ir.Value{Name: "y"}, &ir.Value{Name: "s"}, &ir.Value{Name: "z"}
			g := &ir.Graph{Inputs: []*ir.Value{x, res}, Outputs: []*ir.Value{z}, Nodes: []*ir.Node{
				{Name: "conv", Op: op, Inputs: []*ir.Value{x, w, b}, Outputs: []*ir.Value{y}},
				{Op: &ir.Binary{Fn: ir.FnAdd}, Inputs: []*ir.Value{y, res}, Outputs: []*ir.Value{s}},
				{Op: &ir.Clip{}, Inputs: []*ir.Value{s, ir.NewConst("lo", ir.ScalarF32(0)), ir.NewConst("hi", ir.ScalarF32(6))}, Outputs: []*ir.Value{z}},
			}}
			formsSameBits(ctx, t, rt, g, r, tn, name, "the Conv, Add and Clip", [2]string{"bordered", "in place"},
				func(inPlace bool) { codegen.SetDepthwiseBordered(!inPlace) }, 1e-5)
		}
	}
}
