package codegen_test

import (
	"math/rand/v2"
	"testing"

	"github.com/mlc-compiler/mlc/ir"
)

func TestConvTransposeKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, dt := range []ir.DType{ir.Float64, ir.Float16} {
		op := &ir.ConvTranspose{Window: ir.Window{Strides: []int{2, 1}, Pads: []int{1, 0, 0, 1}, Dilations: []int{1, 2}}, Group: 2, OutputPadding: []int{1, 0}}
		x := randTensor(r, dt, ir.Shape{2, 4, 3, 5}, -1, 1)
		w := randTensor(r, dt, ir.Shape{4, 3, 3, 2}, -1, 1)
		b := randTensor(r, dt, ir.Shape{6}, -1, 1)
		t.Run(dt.String(), func(t *testing.T) {
			checkNode(t, op, 1, []*ir.Tensor{x, w, b}, map[int]bool{1: true, 2: true}, 1e-2, 1e-3)
		})
	}
}
