package codegen_test

import (
	"math/rand/v2"
	"testing"

	"github.com/mlc-compiler/mlc/ir"
)

func TestNormalizationKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x := func(dt ir.DType, s ...int) *ir.Tensor { return randTensor(r, dt, ir.Shape(s), -3, 3) }
	consts := map[int]bool{1: true, 2: true, 3: true, 4: true}
	cases := []struct {
		name string
		op   ir.Op
		nout int
		in   []*ir.Tensor
	}{
		{"layernorm broadcast scale float16", &ir.LayerNorm{Axis: 1, Epsilon: 1e-3, Stash: ir.Float32}, 3, []*ir.Tensor{x(ir.Float16, 2, 3, 5), x(ir.Float16, 1, 5), x(ir.Float16, 3, 1)}},
		{"layernorm float32 rows of 37", &ir.LayerNorm{Axis: -1, Epsilon: 1e-5, Stash: ir.Float32}, 3, []*ir.Tensor{x(ir.Float32, 3, 37), x(ir.Float32, 37), x(ir.Float32, 37)}},
		{"layernorm double stash", &ir.LayerNorm{Axis: 0, Epsilon: 1e-5, Stash: ir.Float64}, 3, []*ir.Tensor{x(ir.Float64, 4, 6), x(ir.Float64, 4, 6), nil}},
		{"rms float32 x, float16 scale", &ir.LayerNorm{Axis: -2, Epsilon: 1e-5, Stash: ir.Float32, RMS: true}, 1, []*ir.Tensor{x(ir.Float32, 2, 4, 9), x(ir.Float16, 9)}},
		{"instancenorm float16", &ir.InstanceNorm{Epsilon: 1e-5}, 1, []*ir.Tensor{x(ir.Float16, 2, 3, 4, 5), x(ir.Float16, 3), x(ir.Float16, 3)}},
		{"groupnorm opset 18", &ir.GroupNorm{Groups: 2, Epsilon: 1e-5, Stash: ir.Float32, PerGroupAffine: true}, 1, []*ir.Tensor{x(ir.Float32, 2, 4, 3, 3), x(ir.Float32, 2), x(ir.Float32, 2)}},
		{"groupnorm opset 21 float64", &ir.GroupNorm{Groups: 3, Epsilon: 1e-5, Stash: ir.Float64}, 1, []*ir.Tensor{x(ir.Float64, 2, 6, 7), x(ir.Float64, 6), x(ir.Float64, 6)}},
		{"batchnorm training, five outputs", &ir.BatchNormTraining{Epsilon: 1e-5, Momentum: 0.8}, 5, []*ir.Tensor{x(ir.Float32, 3, 2, 6, 5), x(ir.Float32, 2), x(ir.Float32, 2), x(ir.Float32, 2), randTensor(r, ir.Float32, ir.Shape{2}, 0.5, 2)}},
		{"batchnorm training float64", &ir.BatchNormTraining{Epsilon: 1e-5, Momentum: 0.9}, 3, []*ir.Tensor{x(ir.Float64, 2, 3, 7), x(ir.Float64, 3), x(ir.Float64, 3), x(ir.Float64, 3), randTensor(r, ir.Float64, ir.Shape{3}, 0.5, 2)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkNode(t, c.op, c.nout, c.in, consts, 2e-3, 1e-3)
		})
	}
}
