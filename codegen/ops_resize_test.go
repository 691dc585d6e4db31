package codegen_test

import (
	"math/rand/v2"
	"testing"

	"github.com/mlc-compiler/mlc/ir"
)

func TestResizeKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	scales := func(s ...float32) *ir.Tensor { return ir.TensorF32(ir.Shape{len(s)}, s...) }
	sizes := func(s ...int64) *ir.Tensor { return ir.TensorI64(ir.Shape{len(s)}, s...) }
	cases := []struct {
		name   string
		op     *ir.Resize
		x      *ir.Tensor
		roi    *ir.Tensor
		scales *ir.Tensor
		sizes  *ir.Tensor
	}{
		{"int32 linear", &ir.Resize{Mode: "linear", CoordMode: "half_pixel"}, randTensor(r, ir.Int32, ir.Shape{1, 2, 5, 7}, -1000, 1000), nil, scales(1, 1, 1.7, 0.6), nil},
		{"uint8 linear saturates", &ir.Resize{Mode: "cubic", CoordMode: "asymmetric", CubicA: -0.75}, randTensor(r, ir.Uint8, ir.Shape{1, 1, 6, 6}, 0, 256), nil, scales(1, 1, 2, 2), nil},
		{"int64 nearest", &ir.Resize{Mode: "nearest", CoordMode: "half_pixel", NearestMode: "round_prefer_ceil"}, randTensor(r, ir.Int64, ir.Shape{2, 3, 4}, -1e9, 1e9), nil, nil, sizes(3, 7, 9)},
		{"float16 linear", &ir.Resize{Mode: "linear", CoordMode: "align_corners"}, randTensor(r, ir.Float16, ir.Shape{1, 3, 5, 6}, -4, 4), nil, nil, sizes(1, 3, 9, 4)},
		{"float64 cubic exclude_outside", &ir.Resize{Mode: "cubic", CoordMode: "half_pixel", CubicA: -0.5, ExcludeOutside: true}, randTensor(r, ir.Float64, ir.Shape{1, 2, 6, 5}, -4, 4), nil, scales(1, 1, 1.5, 2.2), nil},
		{"wide antialias filter", &ir.Resize{Mode: "cubic", CoordMode: "half_pixel", CubicA: -0.75, Antialias: true}, randTensor(r, ir.Float32, ir.Shape{1, 2, 40, 33}, -4, 4), nil, scales(1, 1, 0.2, 0.3), nil},
		{"crop and extrapolate rows", &ir.Resize{Mode: "linear", CoordMode: "tf_crop_and_resize", Extrapolation: 7}, randTensor(r, ir.Float32, ir.Shape{1, 1, 6, 9}, -4, 4), ir.TensorF32(ir.Shape{8}, 0, 0, -0.2, 0.1, 1, 1, 1.3, 0.8), nil, sizes(1, 1, 8, 11)},
		{"keep aspect, axes", &ir.Resize{Mode: "linear", CoordMode: "pytorch_half_pixel", Axes: []int{-1, 2}, KeepAspect: "not_smaller"}, randTensor(r, ir.BFloat16, ir.Shape{2, 1, 7, 9}, -4, 4), nil, nil, sizes(4, 5)},
		{"float8e4m3fn linear", &ir.Resize{Mode: "linear", CoordMode: "half_pixel"}, randTensor(r, ir.Float8E4M3FN, ir.Shape{1, 2, 4, 5}, -4, 4), nil, scales(1, 1, 1.5, 0.8), nil},
		// 120 output columns: a call of the rows function does 136 of the
		// 200 output rows (resizeRowBytes), then one call the other 64.
		{"float32 linear, rows in two calls", &ir.Resize{Mode: "linear", CoordMode: "half_pixel"}, randTensor(r, ir.Float32, ir.Shape{1, 2, 100, 60}, -4, 4), nil, scales(1, 1, 2, 2), nil},
		{"float8e5m2 cubic", &ir.Resize{Mode: "cubic", CoordMode: "asymmetric", CubicA: -0.75}, randTensor(r, ir.Float8E5M2, ir.Shape{1, 1, 5, 5}, -4, 4), nil, scales(1, 1, 2, 2), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rtol := 1e-3
			if c.x.DType == ir.BFloat16 {
				// The kernel rounds f32 results to bfloat16, the reference
				// float64 ones: they may differ by one bfloat16 ulp (2^-8).
				rtol = 1.0 / 128
			}
			checkNode(t, c.op, 1, []*ir.Tensor{c.x, c.roi, c.scales, c.sizes}, map[int]bool{1: true, 2: true, 3: true}, rtol, 1e-5)
		})
	}
}
