package codegen_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/verify"
)

// TestUnaryFunctions compares every float unary function's kernel with the
// reference on ordinary and special inputs, for each float dtype.
func TestUnaryFunctions(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	in := []float64{0, math.Copysign(0, -1), 1, -1, 0.5, -0.5, 2.5, -2.5, 3.5, 1e-6, -1e-6, 20, -20, 100, -100,
		math.Inf(1), math.Inf(-1), math.NaN()}
	for range 200 {
		in = append(in, (r.Float64()*2-1)*math.Pow(10, r.Float64()*4-2))
	}
	ops := []*ir.Unary{
		{Fn: ir.FnAbs}, {Fn: ir.FnNeg}, {Fn: ir.FnRelu}, {Fn: ir.FnSigmoid}, {Fn: ir.FnTanh}, {Fn: ir.FnExp},
		{Fn: ir.FnLog}, {Fn: ir.FnSqrt}, {Fn: ir.FnReciprocal}, {Fn: ir.FnFloor}, {Fn: ir.FnCeil}, {Fn: ir.FnRound},
		{Fn: ir.FnErf}, {Fn: ir.FnSign}, {Fn: ir.FnSoftplus}, {Fn: ir.FnSoftsign}, {Fn: ir.FnElu, Alpha: 0.7},
		{Fn: ir.FnSelu, Alpha: 1.6732632, Gamma: 1.050701}, {Fn: ir.FnCelu, Alpha: 1.5}, {Fn: ir.FnLeakyRelu, Alpha: 0.1},
		{Fn: ir.FnHardSigmoid, Alpha: 0.2, Beta: 0.5}, {Fn: ir.FnHardSwish}, {Fn: ir.FnThresholdedRelu, Alpha: 1},
		{Fn: ir.FnMish}, {Fn: ir.FnGelu}, {Fn: ir.FnGeluTanh}, {Fn: ir.FnSwish, Alpha: 1.3}, {Fn: ir.FnShrink, Alpha: 0.5, Beta: 0.2},
		{Fn: ir.FnIsNaN}, {Fn: ir.FnIsInf, Alpha: 1, Beta: 1}, {Fn: ir.FnIsInf, Alpha: 0, Beta: 1},
	}
	for _, dt := range []ir.DType{ir.Float32, ir.Float64, ir.Float16, ir.BFloat16} {
		x := ir.NewTensor(dt, ir.Shape{len(in)})
		for i, v := range in {
			x.SetFloat(i, v)
		}
		rtol := map[ir.DType]float64{ir.Float32: 2e-6, ir.Float64: 1e-12, ir.Float16: 1e-3, ir.BFloat16: 8e-3}[dt]
		for _, op := range ops {
			want, err := op.Eval([]*ir.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			for _, simd := range []bool{true, false} {
				got := runOneNode(t, op, simd, x)[0]
				// erf is an approximation good to 1.5e-7 absolute in f32.
				if msg := verify.Compare(got, want[0], rtol, 2e-7, &verify.OutputResult{}); msg != "" {
					t.Errorf("%s(alpha %g) %s simd=%v: %s", op.Fn, op.Alpha, dt, simd, msg)
				}
			}
		}
	}
}

// TestIntUnaryFunctions covers the integer forms.
func TestIntUnaryFunctions(t *testing.T) {
	for _, dt := range []ir.DType{ir.Int8, ir.Int16, ir.Int32, ir.Int64, ir.Uint8, ir.Uint32, ir.Uint64} {
		x := ir.NewTensor(dt, ir.Shape{9})
		for i, v := range []int64{0, 1, -1, 5, -7, 127, -128, 100, -100} {
			x.SetInt(i, v)
		}
		for _, fn := range []ir.UnaryFn{ir.FnAbs, ir.FnNeg, ir.FnRelu, ir.FnSign, ir.FnBitwiseNot} {
			op := &ir.Unary{Fn: fn}
			if _, err := op.Infer([]*ir.Value{ir.NewConst("x", x)}); err != nil {
				continue
			}
			want, err := op.Eval([]*ir.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			if msg := verify.Compare(runOneNode(t, op, true, x)[0], want[0], 0, 0, &verify.OutputResult{}); msg != "" {
				t.Errorf("%s %s: %s", fn, dt, msg)
			}
		}
	}
}

// TestBinaryFunctions does the same for binary functions, with broadcasting.
func TestBinaryFunctions(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	special := []float64{0, math.Copysign(0, -1), 1, -1, 2, -2, 0.5, 3, -3, math.Inf(1), math.Inf(-1), math.NaN()}
	fns := []ir.BinaryFn{ir.FnAdd, ir.FnSub, ir.FnMul, ir.FnDiv, ir.FnPow, ir.FnFmod, ir.FnMax, ir.FnMin,
		ir.FnEqual, ir.FnLess, ir.FnLessOrEqual, ir.FnGreater, ir.FnGreaterOrEqual, ir.FnPRelu, ir.FnDivOrZero}
	for _, dt := range []ir.DType{ir.Float32, ir.Float64, ir.Float16} {
		a := ir.NewTensor(dt, ir.Shape{len(special), 1, 9})
		b := ir.NewTensor(dt, ir.Shape{len(special), 9})
		for i := range a.Len() {
			v := special[i/9]
			if i%9 > 2 {
				v = (r.Float64()*2 - 1) * 5
			}
			a.SetFloat(i, v)
		}
		for i := range b.Len() {
			v := special[i/9]
			if i%9 > 4 {
				v = math.Round((r.Float64()*2-1)*40) / 8
			}
			b.SetFloat(i, v)
		}
		for _, fn := range fns {
			op := &ir.Binary{Fn: fn}
			want, err := op.Eval([]*ir.Tensor{a, b})
			if err != nil {
				t.Fatal(err)
			}
			for _, simd := range []bool{true, false} {
				got := runOneNode(t, op, simd, a, b)[0]
				rtol := map[ir.DType]float64{ir.Float32: 1e-5, ir.Float64: 1e-12, ir.Float16: 2e-3}[dt]
				if msg := verify.Compare(got, want[0], rtol, 1e-30, &verify.OutputResult{}); msg != "" {
					t.Errorf("%s %s simd=%v: %s", fn, dt, simd, msg)
				}
			}
		}
	}
	// Integer functions on every integer width.
	ifns := []ir.BinaryFn{ir.FnAdd, ir.FnSub, ir.FnMul, ir.FnDiv, ir.FnMod, ir.FnFmod, ir.FnMax, ir.FnMin, ir.FnPow,
		ir.FnBitShiftLeft, ir.FnBitShiftRight, ir.FnBitwiseAnd, ir.FnBitwiseOr, ir.FnBitwiseXor, ir.FnEqual, ir.FnLess, ir.FnGreater}
	for _, dt := range []ir.DType{ir.Int8, ir.Int16, ir.Int32, ir.Int64, ir.Uint8, ir.Uint16, ir.Uint32, ir.Uint64} {
		a, b := ir.NewTensor(dt, ir.Shape{64}), ir.NewTensor(dt, ir.Shape{64})
		for i := range 64 {
			a.SetInt(i, int64(r.IntN(200))-100)
			b.SetInt(i, int64(r.IntN(11))-5)
		}
		b.SetInt(0, 0)
		for _, fn := range ifns {
			op := &ir.Binary{Fn: fn}
			if _, err := op.Infer([]*ir.Value{ir.NewConst("a", a), ir.NewConst("b", b)}); err != nil {
				continue // not defined for this dtype
			}
			want, err := op.Eval([]*ir.Tensor{a, b})
			if err != nil {
				t.Fatal(err)
			}
			got := runOneNode(t, op, true, a, b)[0]
			if msg := verify.Compare(got, want[0], 0, 0, &verify.OutputResult{}); msg != "" {
				t.Errorf("%s %s: %s", fn, dt, msg)
			}
		}
	}
}

// TestChainClipBounds runs Clip steps of a fused chain with one bound
// infinite (an omitted ONNX bound) and both finite, on special inputs:
// NaN stays NaN and an infinite bound leaves that side alone.
func TestChainClipBounds(t *testing.T) {
	in := []float64{0, -0.75, 0.75, 3, -3, 100, -100, math.Inf(1), math.Inf(-1), math.NaN(), 1e-7, 6, 7, -1, 2, 5}
	x := ir.NewTensor(ir.Float32, ir.Shape{len(in)})
	for i, v := range in {
		x.SetFloat(i, v)
	}
	inf := float32(math.Inf(1))
	for _, steps := range [][]ir.ChainStep{
		{{Clip: true, Lo: -0.5, Hi: inf}, {Unary: &ir.Unary{Fn: ir.FnNeg}}},
		{{Clip: true, Lo: -inf, Hi: 6}, {Unary: &ir.Unary{Fn: ir.FnNeg}}},
		{{Unary: &ir.Unary{Fn: ir.FnAbs}}, {Clip: true, Lo: 0, Hi: inf}, {Clip: true, Lo: -inf, Hi: 2.5}},
	} {
		op := &ir.FusedElementwise{Steps: steps, Out: x.Type}
		want, err := op.Eval([]*ir.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		for _, simd := range []bool{true, false} {
			got := runOneNode(t, op, simd, x)[0]
			if msg := verify.Compare(got, want[0], 0, 0, &verify.OutputResult{}); msg != "" {
				t.Errorf("%v simd=%v: %s", steps, simd, msg)
			}
		}
	}
}

// TestLongRows covers rows long enough to run in chunk functions (see
// ewChunks): whole chunks, leftover groups of four and a scalar tail,
// with an operand read in full, broadcast along the row (stride 0) and a
// Clip, whose bounds stay in the node function's row loop.
func TestLongRows(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	const n = 4096*5 + 4*3 + 3
	random := func(shape ir.Shape) *ir.Tensor {
		x := ir.NewTensor(ir.Float32, shape)
		for i := range x.Len() {
			x.SetFloat(i, r.Float64()*8-4)
		}
		return x
	}
	x, y, s := random(ir.Shape{n}), random(ir.Shape{n}), random(ir.Shape{1})
	cases := []struct {
		name   string
		op     ir.Op
		inputs []*ir.Tensor
	}{
		{"Sigmoid", &ir.Unary{Fn: ir.FnSigmoid}, []*ir.Tensor{x}},
		{"Add", &ir.Binary{Fn: ir.FnAdd}, []*ir.Tensor{x, y}},
		{"Mul by a scalar", &ir.Binary{Fn: ir.FnMul}, []*ir.Tensor{x, s}},
		{"scalar minus", &ir.Binary{Fn: ir.FnSub}, []*ir.Tensor{s, x}},
		{"Clip", &ir.Clip{}, []*ir.Tensor{x, scalarF32(-1), scalarF32(2)}},
	}
	for _, c := range cases {
		want, err := c.op.Eval(c.inputs)
		if err != nil {
			t.Fatal(err)
		}
		got := runOneNode(t, c.op, true, c.inputs...)[0]
		if msg := verify.Compare(got, want[0], 2e-6, 2e-7, &verify.OutputResult{}); msg != "" {
			t.Errorf("%s: %s", c.name, msg)
		}
	}
}

func scalarF32(v float64) *ir.Tensor {
	x := ir.NewTensor(ir.Float32, ir.Shape{})
	x.SetFloat(0, v)
	return x
}
