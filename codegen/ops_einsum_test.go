package codegen_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/verify"
)

// checkAgainstEval runs op in Wasm (with and without SIMD) and compares
// every output with the reference interpreter.
func checkAgainstEval(t *testing.T, name string, op ir.Op, rtol float64, inputs ...*ir.Tensor) {
	t.Helper()
	want, err := op.Eval(inputs)
	if err != nil {
		t.Fatalf("%s: eval: %v", name, err)
	}
	for _, simd := range []bool{true, false} {
		got := runOneNode(t, op, simd, inputs...)
		for i := range want {
			if msg := verify.Compare(got[i], want[i], rtol, 1e-6, &verify.OutputResult{}); msg != "" {
				t.Errorf("%s simd=%v output %d: %s", name, simd, i, msg)
			}
		}
	}
}

func TestEinsum(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	cases := []struct {
		eq     string
		shapes []ir.Shape
		out    ir.Shape
	}{
		{"ij,jk->ik", []ir.Shape{{3, 4}, {4, 5}}, ir.Shape{3, 5}},
		{"ij,jk", []ir.Shape{{3, 4}, {4, 5}}, ir.Shape{3, 5}},
		{"cb,ba", []ir.Shape{{5, 3}, {3, 4}}, ir.Shape{4, 5}}, // implicit: labels sorted
		{"ii->i", []ir.Shape{{4, 4}}, ir.Shape{4}},
		{"ii", []ir.Shape{{4, 4}}, ir.Shape{}},
		{"...ii->...i", []ir.Shape{{2, 3, 3}}, ir.Shape{2, 3}},
		{"...ij,...jk->...ik", []ir.Shape{{2, 1, 3, 4}, {5, 4, 2}}, ir.Shape{2, 5, 3, 2}},
		{"b...,b...->b", []ir.Shape{{2, 3, 4}, {2, 3, 4}}, ir.Shape{2}},
		{"i,j->ij", []ir.Shape{{3}, {5}}, ir.Shape{3, 5}},
		{"ijk->", []ir.Shape{{2, 3, 4}}, ir.Shape{}},
		{"ij->ji", []ir.Shape{{3, 7}}, ir.Shape{7, 3}},
		{"bij,bjk,bkl->bil", []ir.Shape{{2, 2, 3}, {2, 3, 4}, {2, 4, 2}}, ir.Shape{2, 2, 2}},
		{"i,i->", []ir.Shape{{0}, {0}}, ir.Shape{}},
	}
	for _, dt := range []ir.DType{ir.Float32, ir.Float64, ir.Float16, ir.Int32, ir.Int64, ir.Int8} {
		for _, c := range cases {
			op, err := ir.ParseEinsum(c.eq)
			if err != nil {
				t.Fatal(err)
			}
			var in []*ir.Tensor
			var vals []*ir.Value
			for _, s := range c.shapes {
				x := randTensor(r, dt, s, -3, 3)
				in = append(in, x)
				vals = append(vals, ir.NewConst("x", x))
			}
			types, err := op.Infer(vals)
			if err != nil {
				t.Fatalf("%s: %v", c.eq, err)
			}
			if !types[0].Shape.Equal(c.out) {
				t.Errorf("%s: shape %s, want %s", c.eq, types[0].Shape, c.out)
			}
			rtol := 1e-5
			if dt == ir.Float16 {
				rtol = 4e-3
			}
			checkAgainstEval(t, c.eq+" "+dt.String(), op, rtol, in...)
		}
	}
	// The reference itself: a matrix product.
	op, _ := ir.ParseEinsum("ij,jk->ik")
	a := ir.TensorF32(ir.Shape{2, 2}, 1, 2, 3, 4)
	b := ir.TensorF32(ir.Shape{2, 2}, 5, 6, 7, 8)
	got, _ := op.Eval([]*ir.Tensor{a, b})
	if f := got[0].F32(); f[0] != 19 || f[1] != 22 || f[2] != 43 || f[3] != 50 {
		t.Errorf("ij,jk->ik = %v", f)
	}
	for _, bad := range []string{"ij,jk->il", "i.j", "ij->ii"} {
		op, err := ir.ParseEinsum(bad)
		if err == nil {
			_, err = op.Infer([]*ir.Value{ir.NewConst("a", a), ir.NewConst("b", b)})
		}
		if err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestDet(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, dt := range []ir.DType{ir.Float32, ir.Float64, ir.Float16} {
		for _, s := range []ir.Shape{{1, 1}, {3, 3}, {2, 4, 4}, {2, 3, 5, 5}} {
			checkAgainstEval(t, "Det "+dt.String()+s.String(), &ir.Det{}, 1e-4, randTensor(r, dt, s, -3, 3))
		}
	}
	// Known values: a singular matrix, and one needing a row swap.
	x := ir.TensorF32(ir.Shape{2, 3, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 0, 1, 0, 0, 0, 0, 2)
	got := runOneNode(t, &ir.Det{}, true, x)[0].F32()
	if math.Abs(float64(got[0])) > 1e-5 || got[1] != -2 {
		t.Errorf("det = %v, want [0 -2]", got)
	}
}

func TestLRN(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, dt := range []ir.DType{ir.Float32, ir.Float64, ir.Float16} {
		for _, size := range []int{1, 2, 3, 5} {
			op := &ir.LRN{Size: size, Alpha: 0.3, Beta: 0.75, Bias: 2}
			checkAgainstEval(t, "LRN "+dt.String(), op, 1e-4, randTensor(r, dt, ir.Shape{2, 6, 3, 3}, -3, 3))
		}
	}
}

func TestLosses(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, dt := range []ir.DType{ir.Float32, ir.Float64, ir.Float16} {
		for _, tdt := range []ir.DType{ir.Int32, ir.Int64} {
			for _, red := range []string{ir.LossNone, ir.LossSum, ir.LossMean} {
				x := randTensor(r, dt, ir.Shape{3, 4, 2, 5}, -3, 3)
				target := ir.NewTensor(tdt, ir.Shape{3, 2, 5})
				for i := range target.Len() {
					target.SetInt(i, int64(r.IntN(5))-1) // -1 is ignored below
				}
				w := randTensor(r, dt, ir.Shape{4}, -3, 3)
				for _, hasW := range []bool{false, true} {
					l := ir.NLLLoss{Reduction: red, HasIgnore: true, IgnoreIndex: -1}
					in := []*ir.Tensor{x, target}
					if hasW {
						in = append(in, w)
					}
					name := fmt.Sprintf("%s %s %s weight=%v", dt, tdt, red, hasW)
					rtol := 1e-5
					if dt == ir.Float16 {
						rtol = 4e-3
					}
					checkAgainstEval(t, "NLL "+name, &l, rtol, in...)
					checkAgainstEval(t, "SCE "+name, &ir.SoftmaxCrossEntropyLoss{NLLLoss: l}, rtol, in...)
				}
			}
		}
	}
	// A class index out of range that is not ignored is a run-time error.
	x := randTensor(r, ir.Float32, ir.Shape{2, 3}, -3, 3)
	if _, err := runOneNodeErr(t, &ir.NLLLoss{Reduction: ir.LossSum}, true, x, ir.TensorI64(ir.Shape{2}, 1, 3)); err == nil {
		t.Error("target 3 of 3 classes: no error")
	}
}

func TestSoftmaxKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	for _, dt := range []ir.DType{ir.Float32, ir.Float64, ir.Float16} {
		for _, s := range []ir.Shape{{3, 4}, {2, 3, 7}, {5, 19}, {2, 3}, {4, 1}} {
			for _, kind := range []ir.SoftmaxKind{ir.KindSoftmax, ir.KindLogSoftmax, ir.KindHardmax} {
				for _, axis := range []int{-1, 0} {
					x := randTensor(r, dt, s, -3, 3)
					for i := range x.Len() {
						x.SetFloat(i, x.Float(i)*20)
					}
					rtol := 1e-5
					if dt == ir.Float16 {
						rtol = 4e-3
					}
					checkAgainstEval(t, fmt.Sprintf("%s %s%s axis %d", kind, dt, s, axis), &ir.Softmax{Kind: kind, Axis: axis}, rtol, x)
				}
			}
		}
	}
}
