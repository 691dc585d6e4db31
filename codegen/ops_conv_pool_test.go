package codegen_test

import (
	"math/rand/v2"
	"testing"

	"github.com/mlc-compiler/mlc/ir"
)

func TestPoolKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	x := func(dt ir.DType, s ...int) *ir.Tensor { return randTensor(r, dt, ir.Shape(s), -100, 100) }
	cases := []struct {
		name string
		op   ir.Op
		nout int
		in   *ir.Tensor
	}{
		{"maxpool 3-D column-major indices", &ir.Pool{Kind: ir.PoolMax, Window: ir.Window{Kernel: []int{2, 3, 2}, Strides: []int{1, 2, 1}, Pads: []int{1, 0, 1, 0, 1, 1}}, StorageOrder: 1}, 2, x(ir.Float32, 2, 2, 4, 5, 3)},
		{"maxpool int8 ceil dilated", &ir.Pool{Kind: ir.PoolMax, Window: ir.Window{Kernel: []int{2, 2}, Strides: []int{2, 2}, Dilations: []int{2, 1}, CeilMode: true}}, 2, x(ir.Int8, 1, 3, 7, 6)},
		{"averagepool float16 ceil include pad", &ir.Pool{Kind: ir.PoolAverage, Window: ir.Window{Kernel: []int{3, 3}, Strides: []int{2, 2}, Pads: []int{1, 1, 1, 1}, CeilMode: true}, CountIncludePad: true}, 1, randTensor(r, ir.Float16, ir.Shape{1, 2, 6, 7}, -2, 2)},
		{"maxpool float32 3x3 stride 2 pad 1", &ir.Pool{Kind: ir.PoolMax, Window: ir.Window{Kernel: []int{3, 3}, Strides: []int{2, 2}, Pads: []int{1, 1, 1, 1}}}, 1, x(ir.Float32, 1, 3, 17, 19)},
		{"maxpool float32 2x2 stride 2", &ir.Pool{Kind: ir.PoolMax, Window: ir.Window{Kernel: []int{2, 2}, Strides: []int{2, 2}}}, 1, x(ir.Float32, 2, 2, 16, 24)},
		{"maxpool float32 3x3 stride 2 dilated ceil", &ir.Pool{Kind: ir.PoolMax, Window: ir.Window{Kernel: []int{3, 3}, Strides: []int{2, 2}, Dilations: []int{2, 2}, Pads: []int{2, 1, 0, 2}, CeilMode: true}}, 1, x(ir.Float32, 1, 2, 13, 15)},
		{"lppool p=3 float64", &ir.Pool{Kind: ir.PoolLp, Window: ir.Window{Kernel: []int{3}, AutoPad: "SAME_LOWER"}, P: 3}, 1, randTensor(r, ir.Float64, ir.Shape{2, 3, 8}, -2, 2)},
		{"globallppool p=1 float16", &ir.GlobalPool{Kind: ir.PoolLp, P: 1}, 1, randTensor(r, ir.Float16, ir.Shape{2, 3, 4, 5}, -2, 2)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkNode(t, c.op, c.nout, []*ir.Tensor{c.in}, nil, 2e-3, 1e-3)
		})
	}
}
