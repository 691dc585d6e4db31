package codegen

import (
	"math"
	"math/big"
	"sync"

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

// atLeast and atMost clamp v (stack: v, bound) as ONNX Runtime's Clip
// does (std::max(v, lo), std::min(v, hi)): v < lo ? lo : v and
// hi < v ? hi : v. A NaN v stays NaN. For vectors they are one
// f32x4.pmax/pmin, where V8 lowers f32x4.max/min to NaN-handling
// sequences (a Clip epilogue on a 144x56x56 depthwise: 0.50 -> 0.30 ms).
func (x fx) atLeast() fx {
	if x.vec {
		x.f.Vec(wasm.OpcodeVecF32x4Pmax)
		return x
	}
	b, v := x.local(), x.local()
	x.set(b).set(v)
	return x.get(b).get(v).get(v).get(b).lt().sel()
}

func (x fx) atMost() fx {
	if x.vec {
		x.f.Vec(wasm.OpcodeVecF32x4Pmin)
		return x
	}
	b, v := x.local(), x.local()
	x.set(b).set(v)
	return x.get(b).get(v).get(b).get(v).lt().sel()
}

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
	t, n, r := x.local(), x.local(), x.local()
	hi, terms := x.expReduce(in, t, n, r)
	x.horner(r, taylorExp(terms))
	// 2^(n-1) * 2 keeps the exponent field in range at n = 128 (f32).
	x.get(n).toInt().ic(x.bias() - 1).iadd().ishl(x.mantBits()).fromBits().mul().c(2).mul()
	x.c(math.Inf(1)).get(in).c(hi).gt().sel0()
	return x
}

// expReduce is exp's and expm1's range reduction: t = in limited to
// where e^in is finite, n = round(t/ln2) and r = t - n*ln2 (ln2 in two
// parts). It returns the upper limit and the Taylor terms for e^r.
func (x fx) expReduce(in, t, n, r asm.Local) (hi float64, terms int) {
	lo, hi := -87.33654475, 88.72283905
	terms = 8
	if x.f64 {
		lo, hi, terms = -708.3964185322641, 709.782712893384, 14
	}
	x.get(in).c(lo).max().c(hi).min().tee(t)
	x.c(math.Log2E).mul().nearest().set(n)
	x.get(t).get(n).c(0.693145751953125).mul().sub().get(n).c(1.428606820309417232e-06).mul().sub().set(r)
	return hi, terms
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
	t, n, r, s := x.local(), x.local(), x.local(), x.local()
	hi, terms := x.expReduce(in, t, n, r)
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
	if !x.f64 {
		return x.tanhF32(in)
	}
	a, em := x.local(), x.local()
	x.get(in).abs().c(2).mul().c(40).min().set(a) // tanh(20) is 1 in f64 too
	x.expm1(a).tee(em).get(em).c(2).add().div().set(a)
	return x.copySign(a, in)
}

// sigmoid(x) = 1 / (1 + e^-x).
func (x fx) sigmoid(in asm.Local) fx {
	if !x.f64 {
		return x.sigmoidF32(in)
	}
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

// log1p is log(1+u), accurate near 0: log(w) * u/(w-1) with w = 1+u
// corrects the rounding of w.
func (x fx) log1p(u asm.Local) fx {
	w, r := x.local(), x.local()
	x.get(u).c(1).add().set(w)
	x.log(w).get(u).get(w).c(1).sub().div().mul().set(r)
	x.get(r).get(u).get(w).c(1).eq().sel0()
	x.c(math.Inf(1)).get(w).c(math.Inf(1)).eq().sel0()
	return x
}

// Trigonometric functions. Arguments reduce to r = x - n*pi/2 with
// |r| <= pi/4 and the quadrant n mod 4; sin and cos of r are Taylor
// polynomials. Moderate arguments use a Cody-Waite three-part pi/2 (exact
// products for n < 2^12 in f32, 2^20 in f64); larger ones go through a
// Payne-Hanek reduction in f64 with 2/pi to 1200 bits (trigBig), so that
// sin(1e30) is as accurate as sin(1).

// trigFn selects the function.
type trigFn int

const (
	trigSin trigFn = iota
	trigCos
	trigTan
)

// trigTables holds the constants derived from pi at high precision.
type trigTables struct {
	split32, split64 [3]float64 // Cody-Waite parts of pi/2
	chunks           []float64  // 2/pi in 24-bit integer chunks, most significant first
}

// Limits of the Cody-Waite reductions (|x| below them).
const (
	trigLimit32 = 4096
	trigLimit64 = 1e6
)

var trigConsts = sync.OnceValue(func() trigTables {
	const prec = 1400
	pi := machinPi(prec)
	pio2 := new(big.Float).SetPrec(prec).Quo(pi, big.NewFloat(2))
	split := func(bits1, bits2 uint) [3]float64 {
		rest := new(big.Float).SetPrec(prec).Set(pio2)
		var out [3]float64
		for i, b := range []uint{bits1, bits2, 53} {
			part := new(big.Float).SetMode(big.ToZero).SetPrec(b).Set(rest)
			out[i], _ = part.Float64()
			rest.Sub(rest, part)
		}
		return out
	}
	t := trigTables{split32: split(12, 12), split64: split(33, 33)}
	t.split32[2] = float64(float32(t.split32[2]))
	frac := new(big.Float).SetPrec(prec).Quo(big.NewFloat(2), pi)
	for range 52 {
		frac.Mul(frac, big.NewFloat(1<<24))
		whole, _ := frac.Int(nil)
		t.chunks = append(t.chunks, float64(whole.Int64()))
		frac.Sub(frac, new(big.Float).SetInt(whole))
	}
	return t
})

// machinPi is pi = 16 atan(1/5) - 4 atan(1/239) to prec bits.
func machinPi(prec uint) *big.Float {
	atanInv := func(n int64) *big.Float {
		term := new(big.Float).SetPrec(prec).Quo(big.NewFloat(1), new(big.Float).SetInt64(n))
		sum := new(big.Float).SetPrec(prec).Set(term)
		n2 := new(big.Float).SetInt64(n * n)
		for k := int64(1); term.MantExp(nil) > -int(prec)-8; k++ {
			term.Quo(term, n2)
			t := new(big.Float).SetPrec(prec).Quo(term, new(big.Float).SetInt64(2*k+1))
			if k%2 == 1 {
				sum.Sub(sum, t)
			} else {
				sum.Add(sum, t)
			}
		}
		return sum
	}
	a := atanInv(5)
	a.Mul(a, big.NewFloat(16))
	b := atanInv(239)
	b.Mul(b, big.NewFloat(4))
	return a.Sub(a, b)
}

// taylorSinCos are the coefficients of sin(r)/r and cos(r) in r^2.
func (x fx) taylorSinCos() (s, c []float64) {
	n := 5
	if x.f64 {
		n = 10
	}
	fact := 1.0
	for i := 0; i < 2*n; i++ {
		if i > 0 {
			fact *= float64(i)
		}
		sign := 1.0
		if (i/2)%2 == 1 {
			sign = -1
		}
		if i%2 == 0 {
			c = append(c, sign/fact)
		} else {
			s = append(s, sign/fact)
		}
	}
	return s, c
}

// oddCond pushes the condition "q is odd" for the integer local q.
func (x fx) oddCond(q asm.Local) fx {
	f := x.f
	switch {
	case x.vec:
		f.Get(q).I32Const(31).Vec(wasm.OpcodeVecI32x4Shl).I32Const(31).Vec(wasm.OpcodeVecI32x4ShrS)
	case x.f64:
		f.Get(q).I64Const(1).Op(wasm.OpcodeI64And).Op(wasm.OpcodeI32WrapI64)
	default:
		f.Get(q).I32Const(1).Op(wasm.OpcodeI32And)
	}
	return x
}

// quadrantSin pushes sin(q*pi/2 + r) for |r| <= pi/4 (tan for fn trigTan).
func (x fx) quadrantSin(r, q asm.Local, fn trigFn) fx {
	z, s, c := x.local(), x.local(), x.local()
	sc, cc := x.taylorSinCos()
	x.get(r).get(r).mul().set(z)
	x.horner(z, sc).get(r).mul().set(s)
	x.horner(z, cc).set(c)
	if fn == trigTan {
		// tan has period pi: odd quadrants give -cos/sin.
		return x.get(c).neg().get(s).div().get(s).get(c).div().oddCond(q).sel()
	}
	x.get(c).get(s).oddCond(q).sel()
	// Quadrants 2 and 3 negate: flip the sign bit with bit 1 of q.
	signShift := 30
	if x.f64 {
		signShift = 62
	}
	x.toBits().f.Get(q)
	return x.ic(2).iand().ishl(signShift).ixor().fromBits()
}

// trigFast reduces with Cody-Waite (valid below the shape's limit).
func (x fx) trigFast(in asm.Local, fn trigFn) fx {
	t := trigConsts()
	sp := t.split64
	if !x.f64 {
		sp = t.split32
	}
	n, r, q := x.local(), x.local(), x.ilocal()
	x.get(in).c(2 / math.Pi).mul().nearest().set(n)
	x.get(in).get(n).c(sp[0]).mul().sub().get(n).c(sp[1]).mul().sub().get(n).c(sp[2]).mul().sub().set(r)
	x.get(n).toInt().f.Set(q)
	if fn == trigCos {
		x.f.Get(q)
		x.ic(1).iadd().f.Set(q)
	}
	return x.quadrantSin(r, q, fn)
}

// trig pushes sin, cos or tan of in; big is the index of the f64
// large-argument helper (Ctx.trigBig). float32 scalars compute in f64.
func (x fx) trig(in asm.Local, fn trigFn, big uint32) fx {
	f := x.f
	switch {
	case !x.vec && !x.f64:
		d := f.Local(asm.F64)
		f.Get(in).Op(wasm.OpcodeF64PromoteF32).Set(d)
		fx{f: f, f64: true}.trig(d, fn, big)
		f.Op(wasm.OpcodeF32DemoteF64)
		return x
	case x.f64:
		x.get(in).abs().c(trigLimit64).lt()
		f.IfT(asm.F64)
		x.trigFast(in, fn)
		f.Else()
		f.Get(in).Call(big)
		f.End()
		return x
	}
	res := x.local()
	x.trigFast(in, fn).set(res)
	x.get(in).abs().c(trigLimit32).gt()
	f.Vec(wasm.OpcodeVecV128AnyTrue).If()
	t := f.Local(asm.F32)
	for lane := byte(0); lane < 4; lane++ {
		f.Get(in).Lane(wasm.OpcodeVecF32x4ExtractLane, lane).Set(t)
		f.Get(t).Op(wasm.OpcodeF32Abs).F32Const(trigLimit32).Op(wasm.OpcodeF32Gt).If()
		f.Get(res).Get(t).Op(wasm.OpcodeF64PromoteF32).Call(big).Op(wasm.OpcodeF32DemoteF64)
		f.Lane(wasm.OpcodeVecF32x4ReplaceLane, lane).Set(res)
		f.End()
	}
	f.End()
	return x.get(res)
}

// trigBig is the f64 helper computing fn for any argument through a
// Payne-Hanek reduction: x = m*2^E (m a 53-bit integer in three 24-bit
// pieces) times 2/pi in 24-bit chunks c_k gives levels
// q_L = sum_i m_i*c_(L+i) of weight 2^(E-24(L+1)); levels of weight 4 or
// more vanish mod 4, the next two are taken mod 4 exactly, and the rest are
// added from large to small after removing the nearest integer n.
func (k *Ctx) trigBig(fn trigFn) uint32 {
	name := [...]string{"sin_big", "cos_big", "tan_big"}[fn]
	chunk := k.pio2Chunk()
	f64 := []wasm.ValueType{asm.F64}
	return k.Helper(name, f64, f64, func(h *asm.Func) {
		x := fx{f: h, f64: true}
		in := h.Param(0)
		bits, mant := h.Local(asm.I64), h.Local(asm.I64)
		e, ls := h.Local(asm.I32), h.Local(asm.I32)
		h.Get(in).Op(wasm.OpcodeI64ReinterpretF64).Set(bits)
		h.Get(bits).I64Const(52).Op(wasm.OpcodeI64ShrU).Op(wasm.OpcodeI32WrapI64).I32Const(0x7ff).Op(wasm.OpcodeI32And).Set(e)
		// Infinities and NaN give NaN.
		h.Get(e).I32Const(0x7ff).Op(wasm.OpcodeI32Eq).If().Get(in).Get(in).Op(wasm.OpcodeF64Sub).Return().End()
		h.Get(e).I32Const(1075).Op(wasm.OpcodeI32Sub).Set(e)
		h.Get(bits).I64Const(1<<52 - 1).Op(wasm.OpcodeI64And).I64Const(1 << 52).Op(wasm.OpcodeI64Or).Set(mant)
		m := make([]asm.Local, 3)
		for i := range m {
			m[i] = h.Local(asm.F64)
			h.Get(mant).I64Const(int64(24 * i)).Op(wasm.OpcodeI64ShrU).I64Const(0xffffff).Op(wasm.OpcodeI64And)
			h.Op(wasm.OpcodeF64ConvertI64U).Set(m[i])
		}
		// First level that matters: E - 24(L+1) <= 1, L >= -2. Callers pass
		// |x| > 4096, so E > -41 and the division below is of a positive.
		h.Get(e).I32Const(70).Op(wasm.OpcodeI32Add).I32Const(24).Op(wasm.OpcodeI32DivS).I32Const(3).Op(wasm.OpcodeI32Sub).Set(ls)
		h.I32Const(-2).Get(ls).Get(ls).I32Const(-2).Op(wasm.OpcodeI32LtS).Select().Set(ls)
		const levels = 8
		c := make([]asm.Local, levels+2)
		for i := range c {
			c[i] = h.Local(asm.F64)
			h.Get(ls).I32Const(int32(i)).Op(wasm.OpcodeI32Add).Call(chunk).Set(c[i])
		}
		// scale = 2^(E - 24(ls+1)), then divided by 2^24 per level.
		scale := h.Local(asm.F64)
		h.Get(e).Get(ls).I32Const(1).Op(wasm.OpcodeI32Add).I32Const(24).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Sub)
		h.I32Const(1023).Op(wasm.OpcodeI32Add).Op(wasm.OpcodeI64ExtendI32S).I64Const(52).Op(wasm.OpcodeI64Shl).Op(wasm.OpcodeF64ReinterpretI64).Set(scale)
		t := make([]asm.Local, levels)
		for j := range t {
			t[j] = h.Local(asm.F64)
			x.get(m[0]).get(c[j]).mul().get(m[1]).get(c[j+1]).mul().add().get(m[2]).get(c[j+2]).mul().add()
			x.get(scale).mul().set(t[j])
			x.get(scale).c(1.0 / (1 << 24)).mul().set(scale)
		}
		for j := 0; j < 3; j++ { // exact mod 4
			x.get(t[j]).get(t[j]).c(0.25).mul().floor().c(4).mul().sub().set(t[j])
		}
		a, n, r, q := h.Local(asm.F64), h.Local(asm.F64), h.Local(asm.F64), h.Local(asm.I64)
		x.get(t[0]).get(t[1]).add().set(a)
		x.get(a).get(t[2]).add().nearest().set(n)
		x.get(a).get(n).sub()
		for j := 2; j < levels; j++ {
			x.get(t[j]).add()
		}
		x.c(math.Pi / 2).mul().set(r)
		x.get(n).toInt().f.Set(q)
		if fn == trigCos {
			h.Get(q).I64Const(1).Op(wasm.OpcodeI64Add).Set(q)
		}
		x.quadrantSin(r, q, fn)
		// The reduction used |x|: sin and tan are odd.
		if fn != trigCos {
			x.set(r).get(r).get(r).neg().get(in).c(0).lt().sel0()
		}
	})
}

// pio2Chunk is the helper returning 24-bit chunk i of 2/pi (0 outside).
func (k *Ctx) pio2Chunk() uint32 {
	return k.Helper("pio2_chunk", []wasm.ValueType{asm.I32}, []wasm.ValueType{asm.F64}, func(h *asm.Func) {
		res := h.Local(asm.F64)
		for i, c := range trigConsts().chunks {
			h.F64Const(c).Get(res).Get(h.Param(0)).I32Const(int32(i)).Op(wasm.OpcodeI32Eq).Select().Set(res)
		}
		h.Get(res)
	})
}

// atan: |x| > 1 uses pi/2 - atan(1/|x|); two halvings
// tan(a/2) = t/(1+sqrt(1+t^2)) bring t below tan(pi/16) for the series.
func (x fx) atan(in asm.Local) fx {
	a, t, z, inv := x.local(), x.local(), x.local(), x.f.Local(x.condType())
	x.get(in).abs().set(a)
	x.get(a).c(1).gt().f.Set(inv)
	x.c(1).get(a).div().get(a).f.Get(inv)
	x.sel().set(t)
	for range 2 {
		x.get(t).get(t).get(t).mul().c(1).add().sqrt().c(1).add().div().set(t)
	}
	terms := 6
	if x.f64 {
		terms = 13
	}
	coef := make([]float64, terms)
	for i := range coef {
		coef[i] = 1 / float64(2*i+1)
		if i%2 == 1 {
			coef[i] = -coef[i]
		}
	}
	x.get(t).get(t).mul().set(z)
	x.horner(z, coef).get(t).mul().c(4).mul().set(t)
	x.c(math.Pi / 2).get(t).sub().get(t).f.Get(inv)
	x.sel().set(t)
	return x.copySign(t, in)
}

// asin(x) = atan(x / sqrt((1-x)(1+x))).
func (x fx) asin(in asm.Local) fx {
	a, t := x.local(), x.local()
	x.get(in).abs().set(a)
	x.get(a).c(1).get(a).sub().c(1).get(a).add().mul().sqrt().div().set(t)
	x.atan(t).set(t)
	return x.copySign(t, in)
}

// acos(x) = 2 atan(sqrt((1-x)/(1+x))), accurate at both ends.
func (x fx) acos(in asm.Local) fx {
	t := x.local()
	x.c(1).get(in).sub().c(1).get(in).add().div().sqrt().set(t)
	return x.atan(t).c(2).mul()
}

// hyperbolicBig is where e^-|x| no longer matters next to e^|x|.
func (x fx) hyperbolicBig() float64 {
	if x.f64 {
		return 19
	}
	return 9
}

// sinh: (em + em/(em+1))/2 with em = expm1(|x|) for small |x|, and
// e*e/2 with e = exp(|x|/2) beyond (no overflow before sinh itself does).
func (x fx) sinh(in asm.Local) fx {
	a, em, h, r := x.local(), x.local(), x.local(), x.local()
	x.get(in).abs().set(a)
	x.expm1(a).set(em)
	x.get(em).get(em).get(em).c(1).add().div().add().c(0.5).mul().set(r)
	x.get(a).c(0.5).mul().set(h)
	x.exp(h).set(h)
	x.get(r).get(h).c(0.5).mul().get(h).mul().get(a).c(x.hyperbolicBig()).gt().sel0().set(r)
	return x.copySign(r, in)
}

// cosh: (e + 1/e)/2, or e*e/2 with e = exp(|x|/2) for large |x|.
func (x fx) cosh(in asm.Local) fx {
	a, e, h := x.local(), x.local(), x.local()
	x.get(in).abs().set(a)
	x.exp(a).set(e)
	x.get(a).c(0.5).mul().set(h)
	x.exp(h).set(h)
	x.get(e).c(1).get(e).div().add().c(0.5).mul()
	return x.get(h).c(0.5).mul().get(h).mul().get(a).c(x.hyperbolicBig()).gt().sel0()
}

// asinhBig is where sqrt(x^2+1) = |x| to the shape's precision.
func (x fx) asinhBig() float64 {
	if x.f64 {
		return 1 << 28
	}
	return 1 << 12
}

// asinh(x) = log1p(a + a^2/(1+sqrt(1+a^2))), or log(a) + ln 2 for large a.
func (x fx) asinh(in asm.Local) fx {
	a, u, r := x.local(), x.local(), x.local()
	x.get(in).abs().set(a)
	x.get(a).get(a).get(a).mul().get(a).get(a).mul().c(1).add().sqrt().c(1).add().div().add().set(u)
	x.log1p(u).set(r)
	x.get(r).log(a).c(math.Ln2).add().get(a).c(x.asinhBig()).gt().sel0().set(r)
	return x.copySign(r, in)
}

// acosh(x) = log1p(t + sqrt(t(x+1))) with t = x-1, or log(x) + ln 2.
func (x fx) acosh(in asm.Local) fx {
	t, u := x.local(), x.local()
	x.get(in).c(1).sub().set(t)
	x.get(t).get(t).get(in).c(1).add().mul().sqrt().add().set(u)
	x.log1p(u)
	x.log(in).c(math.Ln2).add().get(in).c(x.asinhBig()).gt().sel0()
	return x.c(math.NaN()).get(in).c(1).lt().sel0()
}

// atanh(x) = log1p(2a/(1-a))/2 with the sign of x.
func (x fx) atanh(in asm.Local) fx {
	a, u := x.local(), x.local()
	x.get(in).abs().set(a)
	x.get(a).c(2).mul().c(1).get(a).sub().div().set(u)
	x.log1p(u).c(0.5).mul().set(u)
	return x.copySign(u, in)
}
