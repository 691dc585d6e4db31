package codegen_test

import (
	"math/rand/v2"
	"testing"

	"github.com/mlc-compiler/mlc/ir"
)

func TestSamplingKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	x := func(dt ir.DType, s ...int) *ir.Tensor { return randTensor(r, dt, ir.Shape(s), -3, 3) }
	grid := func(dt ir.DType, s ...int) *ir.Tensor { return randTensor(r, dt, ir.Shape(s), -1.4, 1.4) }
	rois := ir.TensorF32(ir.Shape{3, 4}, 0.5, 1, 6.2, 4.8, -3, -2, 2.5, 9, 7, 1, 7.5, 1.2).Convert(ir.Float64)
	cases := []struct {
		name   string
		op     ir.Op
		in     []*ir.Tensor
		consts map[int]bool
	}{
		{"gridsample cubic reflection float16", &ir.GridSample{Mode: "cubic", Padding: "reflection"}, []*ir.Tensor{x(ir.Float16, 1, 2, 5, 6), grid(ir.Float16, 1, 3, 4, 2)}, nil},
		{"gridsample 3-D cubic border float64", &ir.GridSample{Mode: "cubic", Padding: "border", AlignCorners: true}, []*ir.Tensor{x(ir.Float64, 2, 2, 3, 4, 5), grid(ir.Float64, 2, 2, 3, 2, 3)}, nil},
		{"gridsample 1-D nearest reflection", &ir.GridSample{Mode: "nearest", Padding: "reflection", AlignCorners: true}, []*ir.Tensor{x(ir.Float32, 2, 3, 7), grid(ir.Float32, 2, 9, 1)}, nil},
		{"affinegrid 3-D with a size-1 axis", &ir.AffineGrid{AlignCorners: true}, []*ir.Tensor{x(ir.Float64, 2, 3, 4), ir.TensorI64(ir.Shape{5}, 2, 1, 1, 3, 4)}, map[int]bool{1: true}},
		{"roialign max float64", &ir.RoiAlign{Mode: "max", OutH: 2, OutW: 3, SamplingRatio: 2, SpatialScale: 0.5, HalfPixel: true}, []*ir.Tensor{x(ir.Float64, 2, 3, 6, 7), rois, ir.TensorI64(ir.Shape{3}, 1, 0, 1)}, nil},
		{"roialign avg adaptive", &ir.RoiAlign{Mode: "avg", OutH: 3, OutW: 2, SpatialScale: 1}, []*ir.Tensor{x(ir.Float32, 2, 2, 9, 8), rois.Convert(ir.Float32), ir.TensorI64(ir.Shape{3}, 0, 1, 1)}, nil},
		{"deformconv 1-D float64 no mask", &ir.DeformConv{Window: ir.Window{Strides: []int{2}, Pads: []int{1, 2}, Dilations: []int{2}}, Group: 2, OffsetGroup: 2}, []*ir.Tensor{x(ir.Float64, 2, 4, 9), x(ir.Float64, 6, 2, 3), x(ir.Float64, 2, 6, 4), x(ir.Float64, 6), nil}, map[int]bool{1: true, 3: true}},
		{"deformconv 3-D with mask", &ir.DeformConv{Window: ir.Window{Pads: []int{0, 1, 0, 0, 0, 1}}, Group: 1, OffsetGroup: 1}, []*ir.Tensor{x(ir.Float32, 1, 2, 3, 4, 3), x(ir.Float32, 3, 2, 2, 2, 2), x(ir.Float32, 1, 24, 2, 4, 3), nil, randTensor(r, ir.Float32, ir.Shape{1, 8, 2, 4, 3}, 0, 1)}, map[int]bool{1: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkNode(t, c.op, 1, c.in, c.consts, 2e-3, 1e-4)
		})
	}
}
