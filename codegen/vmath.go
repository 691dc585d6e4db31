package codegen

import (
	"math"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
)

// fx emits floating-point arithmetic in one of three shapes (scalar f32,
// scalar f64, or f32x4 lanes), so that each math function is written once
// and yields all three.
type fx struct {
	f   *asm.Func
	f64 bool
	vec bool
}

func fxFor(f *asm.Func, t wasm.ValueType, vec bool) fx { return fx{f: f, f64: t == asm.F64, vec: vec} }

// vt is the Wasm type of a value in this shape.
func (x fx) vt() wasm.ValueType {
	switch {
	case x.vec:
		return asm.V128
	case x.f64:
		return asm.F64
	}
	return asm.F32
}

// it is the Wasm type of the matching integer (bit pattern) values.
func (x fx) it() wasm.ValueType {
	switch {
	case x.vec:
		return asm.V128
	case x.f64:
		return asm.I64
	}
	return asm.I32
}

func (x fx) local() asm.Local  { return x.f.Local(x.vt()) }
func (x fx) ilocal() asm.Local { return x.f.Local(x.it()) }

func (x fx) op(s32, s64 wasm.Opcode, v wasm.OpcodeVec) fx {
	switch {
	case x.vec:
		x.f.Vec(v)
	case x.f64:
		x.f.Op(s64)
	default:
		x.f.Op(s32)
	}
	return x
}

func (x fx) add() fx { return x.op(wasm.OpcodeF32Add, wasm.OpcodeF64Add, wasm.OpcodeVecF32x4Add) }
func (x fx) sub() fx { return x.op(wasm.OpcodeF32Sub, wasm.OpcodeF64Sub, wasm.OpcodeVecF32x4Sub) }
func (x fx) mul() fx { return x.op(wasm.OpcodeF32Mul, wasm.OpcodeF64Mul, wasm.OpcodeVecF32x4Mul) }
func (x fx) div() fx { return x.op(wasm.OpcodeF32Div, wasm.OpcodeF64Div, wasm.OpcodeVecF32x4Div) }
func (x fx) min() fx { return x.op(wasm.OpcodeF32Min, wasm.OpcodeF64Min, wasm.OpcodeVecF32x4Min) }
func (x fx) max() fx { return x.op(wasm.OpcodeF32Max, wasm.OpcodeF64Max, wasm.OpcodeVecF32x4Max) }
func (x fx) neg() fx { return x.op(wasm.OpcodeF32Neg, wasm.OpcodeF64Neg, wasm.OpcodeVecF32x4Neg) }
func (x fx) abs() fx { return x.op(wasm.OpcodeF32Abs, wasm.OpcodeF64Abs, wasm.OpcodeVecF32x4Abs) }
func (x fx) sqrt() fx {
	return x.op(wasm.OpcodeF32Sqrt, wasm.OpcodeF64Sqrt, wasm.OpcodeVecF32x4Sqrt)
}
func (x fx) floor() fx {
	return x.op(wasm.OpcodeF32Floor, wasm.OpcodeF64Floor, wasm.OpcodeVecF32x4Floor)
}
func (x fx) ceil() fx { return x.op(wasm.OpcodeF32Ceil, wasm.OpcodeF64Ceil, wasm.OpcodeVecF32x4Ceil) }
func (x fx) trunc() fx {
	return x.op(wasm.OpcodeF32Trunc, wasm.OpcodeF64Trunc, wasm.OpcodeVecF32x4Trunc)
}
func (x fx) nearest() fx {
	return x.op(wasm.OpcodeF32Nearest, wasm.OpcodeF64Nearest, wasm.OpcodeVecF32x4Nearest)
}

// Comparisons leave a condition: i32 0/1 for scalars, a lane mask for vectors.
func (x fx) lt() fx { return x.op(wasm.OpcodeF32Lt, wasm.OpcodeF64Lt, wasm.OpcodeVecF32x4Lt) }
func (x fx) le() fx { return x.op(wasm.OpcodeF32Le, wasm.OpcodeF64Le, wasm.OpcodeVecF32x4Le) }
func (x fx) gt() fx { return x.op(wasm.OpcodeF32Gt, wasm.OpcodeF64Gt, wasm.OpcodeVecF32x4Gt) }
func (x fx) ge() fx { return x.op(wasm.OpcodeF32Ge, wasm.OpcodeF64Ge, wasm.OpcodeVecF32x4Ge) }
func (x fx) eq() fx { return x.op(wasm.OpcodeF32Eq, wasm.OpcodeF64Eq, wasm.OpcodeVecF32x4Eq) }
func (x fx) ne() fx { return x.op(wasm.OpcodeF32Ne, wasm.OpcodeF64Ne, wasm.OpcodeVecF32x4Ne) }

// sel picks a where the condition holds, else b: stack a, b, cond.
func (x fx) sel() fx {
	if x.vec {
		x.f.Vec(wasm.OpcodeVecV128Bitselect)
	} else {
		x.f.Select()
	}
	return x
}

// c pushes a constant (splat across lanes).
func (x fx) c(v float64) fx {
	switch {
	case x.vec:
		x.f.F32x4Const(float32(v))
	case x.f64:
		x.f.F64Const(v)
	default:
		x.f.F32Const(float32(v))
	}
	return x
}

func (x fx) get(l asm.Local) fx { x.f.Get(l); return x }
func (x fx) set(l asm.Local) fx { x.f.Set(l); return x }
func (x fx) tee(l asm.Local) fx { x.f.Tee(l); return x }

// horner evaluates sum c[i]*r^i for the value in local r.
func (x fx) horner(r asm.Local, c []float64) fx {
	x.c(c[len(c)-1])
	for i := len(c) - 2; i >= 0; i-- {
		x.get(r).mul().c(c[i]).add()
	}
	return x
}

// Bit-level helpers on the integer view of the shape.
func (x fx) toBits() fx {
	switch {
	case x.vec:
	case x.f64:
		x.f.Op(wasm.OpcodeI64ReinterpretF64)
	default:
		x.f.Op(wasm.OpcodeI32ReinterpretF32)
	}
	return x
}

func (x fx) fromBits() fx {
	switch {
	case x.vec:
	case x.f64:
		x.f.Op(wasm.OpcodeF64ReinterpretI64)
	default:
		x.f.Op(wasm.OpcodeF32ReinterpretI32)
	}
	return x
}

// toInt truncates (saturating) to the same-width integer.
func (x fx) toInt() fx {
	switch {
	case x.vec:
		x.f.Vec(wasm.OpcodeVecI32x4TruncSatF32x4S)
	case x.f64:
		x.f.Misc(wasm.OpcodeMiscI64TruncSatF64S)
	default:
		x.f.Misc(wasm.OpcodeMiscI32TruncSatF32S)
	}
	return x
}

func (x fx) fromInt() fx {
	switch {
	case x.vec:
		x.f.Vec(wasm.OpcodeVecF32x4ConvertI32x4S)
	case x.f64:
		x.f.Op(wasm.OpcodeF64ConvertI64S)
	default:
		x.f.Op(wasm.OpcodeF32ConvertI32S)
	}
	return x
}

func (x fx) ic(v int64) fx {
	switch {
	case x.vec:
		x.f.I32x4Const(int32(v))
	case x.f64:
		x.f.I64Const(v)
	default:
		x.f.I32Const(int32(v))
	}
	return x
}

func (x fx) iop(s32, s64 wasm.Opcode, v wasm.OpcodeVec) fx {
	switch {
	case x.vec:
		x.f.Vec(v)
	case x.f64:
		x.f.Op(s64)
	default:
		x.f.Op(s32)
	}
	return x
}

func (x fx) iadd() fx { return x.iop(wasm.OpcodeI32Add, wasm.OpcodeI64Add, wasm.OpcodeVecI32x4Add) }
func (x fx) isub() fx { return x.iop(wasm.OpcodeI32Sub, wasm.OpcodeI64Sub, wasm.OpcodeVecI32x4Sub) }
func (x fx) iand() fx {
	return x.iop(wasm.OpcodeI32And, wasm.OpcodeI64And, wasm.OpcodeVecV128And)
}
func (x fx) ior() fx { return x.iop(wasm.OpcodeI32Or, wasm.OpcodeI64Or, wasm.OpcodeVecV128Or) }
func (x fx) ixor() fx {
	return x.iop(wasm.OpcodeI32Xor, wasm.OpcodeI64Xor, wasm.OpcodeVecV128Xor)
}

// ishl shifts left by a constant count.
func (x fx) ishl(n int) fx {
	switch {
	case x.vec:
		x.f.I32Const(int32(n)).Vec(wasm.OpcodeVecI32x4Shl)
	case x.f64:
		x.f.I64Const(int64(n)).Op(wasm.OpcodeI64Shl)
	default:
		x.f.I32Const(int32(n)).Op(wasm.OpcodeI32Shl)
	}
	return x
}

func (x fx) ishrS(n int) fx {
	switch {
	case x.vec:
		x.f.I32Const(int32(n)).Vec(wasm.OpcodeVecI32x4ShrS)
	case x.f64:
		x.f.I64Const(int64(n)).Op(wasm.OpcodeI64ShrS)
	default:
		x.f.I32Const(int32(n)).Op(wasm.OpcodeI32ShrS)
	}
	return x
}

// Floating-point format constants of the shape.
func (x fx) mantBits() int {
	if x.f64 {
		return 52
	}
	return 23
}

func (x fx) bias() int64 {
	if x.f64 {
		return 1023
	}
	return 127
}

// signMask is the sign bit of the shape's bit pattern.
func (x fx) signMask() int64 {
	if x.f64 {
		return math.MinInt64
	}
	return -0x80000000
}

// copySign pushes |a| with the sign of b, for values in locals.
func (x fx) copySign(a, b asm.Local) fx {
	x.get(a).abs().toBits()
	x.get(b).toBits().ic(x.signMask()).iand()
	return x.ior().fromBits()
}

// Math functions. Each leaves f(in) on the stack, computing in the shape's
// precision; f32 results are within a few ulp, f64 results to about 1e-15.

// exp: exp(x) = 2^n * e^r with n = round(x/ln2) and |r| <= ln2/2.
func (x fx) exp(in asm.Local) fx {
	lo, hi := -87.33654475, 88.72283905
	terms := 8
	if x.f64 {
		lo, hi, terms = -708.3964185322641, 709.782712893384, 14
	}
	t, n, r := x.local(), x.local(), x.local()
	x.get(in).c(lo).max().c(hi).min().tee(t)
	x.c(math.Log2E).mul().nearest().set(n)
	x.get(t).get(n).c(0.693145751953125).mul().sub().get(n).c(1.428606820309417232e-06).mul().sub().set(r)
	x.horner(r, taylorExp(terms))
	// 2^(n-1) * 2 keeps the exponent field in range at n = 128 (f32).
	x.get(n).toInt().ic(x.bias() - 1).iadd().ishl(x.mantBits()).fromBits().mul().c(2).mul()
	x.c(math.Inf(1)).get(in).c(hi).gt().sel0()
	return x
}

// sel0 is sel with the operands pushed in the order value, alt, cond where
// the value on the stack under alt is the default: stack (v, alt, cond) ->
// cond ? alt : v.
func (x fx) sel0() fx {
	// stack: v alt cond -> want cond ? alt : v. select(a,b,c) = c ? a : b.
	c := x.f.Local(x.condType())
	alt := x.local()
	v := x.local()
	x.f.Set(c)
	x.set(alt).set(v)
	x.get(alt).get(v).f.Get(c)
	return x.sel()
}

func (x fx) condType() wasm.ValueType {
	if x.vec {
		return asm.V128
	}
	return asm.I32
}

func taylorExp(n int) []float64 {
	c := make([]float64, n)
	f := 1.0
	for i := range c {
		if i > 0 {
			f *= float64(i)
		}
		c[i] = 1 / f
	}
	return c
}

// expm1 is e^x - 1, accurate near 0: 2^n*(1+q) - 1 = 2^n*q + (2^n - 1).
func (x fx) expm1(in asm.Local) fx {
	lo, hi := -87.33654475, 88.72283905
	terms := 8
	if x.f64 {
		lo, hi, terms = -708.3964185322641, 709.782712893384, 14
	}
	t, n, r, s := x.local(), x.local(), x.local(), x.local()
	x.get(in).c(lo).max().c(hi).min().tee(t)
	x.c(math.Log2E).mul().nearest().set(n)
	x.get(t).get(n).c(0.693145751953125).mul().sub().get(n).c(1.428606820309417232e-06).mul().sub().set(r)
	x.get(n).toInt().ic(x.bias() - 1).iadd().ishl(x.mantBits()).fromBits().c(2).mul().set(s) // 2^n
	q := taylorExp(terms)[1:]                                                                // (e^r - 1)/r
	x.horner(r, q).get(r).mul()                                                              // q(r) = e^r - 1
	x.get(s).mul().get(s).c(1).sub().add()
	x.c(math.Inf(1)).get(in).c(hi).gt().sel0()
	return x
}

// log: x = m * 2^e with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(s),
// s = (m-1)/(m+1).
func (x fx) log(in asm.Local) fx {
	terms := 6
	tiny, scale := 1.1754943508222875e-38, 8388608.0 // rescale subnormals by 2^23
	if x.f64 {
		terms, tiny, scale = 13, 2.2250738585072014e-308, 4503599627370496.0
	}
	v, e, m, s, s2, adj := x.local(), x.local(), x.local(), x.local(), x.local(), x.local()
	// Subnormals: multiply by 2^k first and subtract k*ln2 at the end.
	x.get(in).c(scale).mul().get(in).get(in).c(tiny).lt().sel().set(v)
	x.c(-math.Log(scale)).c(0).get(in).c(tiny).lt().sel().set(adj)
	// Exponent and mantissa, with the mantissa moved to [sqrt(1/2), sqrt(2)).
	ib := x.ilocal()
	x.get(v).toBits().f.Set(ib)
	off := int64(0x3f3504f3) // bits of sqrt(1/2) in f32
	if x.f64 {
		off = 0x3fe6a09e667f3bcd
	}
	x.get(ib).ic(off).isub()
	ie := x.ilocal()
	x.ishrS(x.mantBits()).f.Set(ie)
	// m = bits - (e << mant)
	x.get(ib).f.Get(ie)
	x.ishl(x.mantBits()).isub().fromBits().set(m)
	x.f.Get(ie)
	x.fromInt().set(e)
	x.get(m).c(1).sub().get(m).c(1).add().div().tee(s).get(s).mul().set(s2)
	c := make([]float64, terms)
	for i := range c {
		c[i] = 2 / float64(2*i+1)
	}
	x.horner(s2, c).get(s).mul()
	x.get(e).c(math.Ln2).mul().add().get(adj).add()
	// Special cases: x < 0 or NaN -> NaN, 0 -> -inf, +inf -> +inf.
	x.c(math.Inf(1)).get(in).c(math.Inf(1)).eq().sel0()
	x.c(math.Inf(-1)).get(in).c(0).eq().sel0()
	x.c(math.NaN()).get(in).c(0).ge().condNot().sel0()
	return x
}

// condNot inverts a condition.
func (x fx) condNot() fx {
	if x.vec {
		x.f.Vec(wasm.OpcodeVecV128Not)
	} else {
		x.f.Op(wasm.OpcodeI32Eqz)
	}
	return x
}

// tanh(x) = sign(x) * em/(em+2) with em = expm1(2|x|).
func (x fx) tanh(in asm.Local) fx {
	a, em := x.local(), x.local()
	x.get(in).abs().c(2).mul().c(40).min().set(a) // tanh(20) is 1 in f64 too
	x.expm1(a).tee(em).get(em).c(2).add().div().set(a)
	return x.copySign(a, in)
}

// sigmoid(x) = 1 / (1 + e^-x).
func (x fx) sigmoid(in asm.Local) fx {
	t := x.local()
	x.get(in).neg().set(t)
	x.c(1).exp(t).c(1).add().div()
	return x
}

// erf: a series around 0 for |x| < 1 and Abramowitz-Stegun 7.1.26
// (absolute error 1.5e-7) beyond; f64 uses the series up to |x| < 2.5 and
// the continued fraction of erfc beyond.
func (x fx) erf(in asm.Local) fx {
	a, a2, t, small := x.local(), x.local(), x.local(), x.local()
	x.get(in).abs().tee(a).get(a).mul().set(a2)
	// Series: 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)).
	nTerms, cut := 12, 1.0
	if x.f64 {
		nTerms, cut = 40, 2.5
	}
	c := make([]float64, nTerms)
	fact := 1.0
	for n := range c {
		if n > 0 {
			fact *= float64(n)
		}
		c[n] = 2 / math.SqrtPi * math.Pow(-1, float64(n)) / (fact * float64(2*n+1))
	}
	x.horner(a2, c).get(a).mul().set(small)
	if x.f64 {
		// erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...))))
		cf := x.local()
		x.get(a).set(cf)
		for k := 60; k >= 1; k-- {
			x.c(float64(k) / 2).get(cf).div().get(a).add().set(cf)
		}
		na := x.local()
		x.get(a2).neg().set(na)
		x.c(1).exp(na).c(1 / math.SqrtPi).mul().get(cf).div().sub().set(t)
	} else {
		x.c(1).get(a).c(0.3275911).mul().c(1).add().div().set(t)
		na := x.local()
		x.get(a2).neg().set(na)
		x.c(1).horner(t, []float64{0, 0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429}).exp(na).mul().sub().set(t)
	}
	x.get(t).get(small).get(a).c(cut).lt().sel0().set(t)
	return x.copySign(t, in)
}
