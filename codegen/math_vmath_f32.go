package codegen

import (
	"math"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
)

// float32 sigmoid and tanh (scalar and f32x4) from e^u computed only
// where it is a normal float32, so that neither needs f32x4.min/max,
// nearest or i32x4.trunc_sat_f32x4_s, which V8 lowers to several
// instructions each (lstm_classifier's gates took 30 of 92 us). Both are
// within 3 ulp (relative 2e-7) of the exact values, see
// TestSigmoidTanhF32; tanh near +-1 within 1.5 ulp of 1.

// expMagic rounds a float32 below 2^22 in magnitude to an integer n when
// added, leaving n+127 in the low mantissa bits: shifted left by 23, the
// bits are 2^n.
const expMagic = 12583039 // 0x1.8000FEp23

// Coefficients of p(t) ~ (e^t - 1)/t on [-ln2/2, ln2/2], least squares in
// p's relative error.
var expm1Coeffs = []float64{1.0000000125482404, 0.4999999738221626, 0.16666487235431549, 0.041667317627385896, 0.008371135012599677, 0.0013880987307137009}

// expParts sets s = 2^n, t and p with e^u = s + s*t*p for u = v, or u = -v
// when neg, with v in a local (s is valid while n >= -127 and n <= 127,
// u in (-127.5 ln2, 127.5 ln2)).
func (x fx) expParts(v asm.Local, neg bool) (s, t, p asm.Local) {
	n := x.local()
	s, t, p = x.local(), x.local(), x.local()
	sign := 1.0
	if neg {
		sign = -1
	}
	x.get(v).c(sign * math.Log2E).mul().c(expMagic).add().tee(n)
	x.toBits().ishl(23).fromBits().set(s)
	x.get(n).c(expMagic).sub().set(n)
	x.get(n).c(-0.693145751953125).mul().get(v)
	if neg {
		x.sub()
	} else {
		x.add()
	}
	x.get(n).c(-1.428606820309417232e-06).mul().add().set(t)
	x.horner(t, expm1Coeffs).set(p)
	return s, t, p
}

// clamp pushes v limited to [lo, hi], NaN kept (f32x4.pmin and pmax are
// one instruction each, min and max several).
func (x fx) clamp(v asm.Local, lo, hi float64) fx {
	if x.vec {
		x.get(v).c(lo).f.Vec(wasm.OpcodeVecF32x4Pmax)
		x.c(hi).f.Vec(wasm.OpcodeVecF32x4Pmin)
		return x
	}
	t := x.local()
	x.c(lo).get(v).get(v).c(lo).lt().sel().set(t)
	return x.c(hi).get(t).get(t).c(hi).gt().sel()
}

// sigmoidF32: 1/(1 + e^-x), x limited to [-88.37, 87.68] where e^-x stays
// a normal float32 (the results there are 0 and 1 within 3e-39).
func (x fx) sigmoidF32(in asm.Local) fx {
	v := x.local()
	x.clamp(in, -88.37, 87.68).set(v)
	s, t, p := x.expParts(v, true)
	x.c(1)
	x.get(t).get(s).mul().get(p).mul().get(s).add().c(1).add()
	return x.div()
}

// tanhF32: with e = e^-2|x| = s + s*t*p, tanh|x| = (1-e)/(1+e), the
// numerator computed as -(s*(t*p) + (s-1)) below |x| = 0.5 so that it keeps
// its relative precision near 0; |x| is capped at 10, where tanh is 1 in
// float32.
func (x fx) tanhF32(in asm.Local) fx {
	z, u, stp, e := x.local(), x.local(), x.local(), x.local()
	x.get(in).abs().set(z)
	if x.vec {
		x.get(z).c(10).f.Vec(wasm.OpcodeVecF32x4Pmin)
	} else {
		x.c(10).get(z).get(z).c(10).gt().sel()
	}
	x.c(-2).mul().set(u)
	s, t, p := x.expParts(u, false)
	x.get(s).get(t).get(p).mul().mul().tee(stp).get(s).add().set(e)
	x.get(stp).get(s).c(1).sub().add().neg()
	x.c(1).get(e).sub()
	x.get(z).c(0.5).lt().sel()
	x.c(1).get(e).add().div().set(e)
	return x.copySign(e, in)
}
