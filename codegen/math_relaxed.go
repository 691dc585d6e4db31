package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
)

// Relaxed SIMD (mlc compile --relaxed-simd, opt-in): the multiply-adds of
// the GEMM micro-kernel (and so of convolutions and Winograd's products),
// GEMV, depthwise convolution and attention become f32x4.relaxed_madd,
// which an engine may run as one fused multiply-add (rounding once) or as
// a multiply and an add. Results then differ in the last bits between
// engines and from the plain module, within the usual tolerances.

// opRelaxedMadd is f32x4.relaxed_madd (a*b + c) after the 0xfd prefix.
const opRelaxedMadd = 0x105

// madd emits acc = a*b + acc on f32x4 locals.
func (k *Ctx) madd(h *asm.Func, acc, a, b asm.Local) {
	k.maddOf(h, acc, func() { h.Get(a) }, func() { h.Get(b) })
}

// maddOf is madd with a and b pushed by the given emitters.
func (k *Ctx) maddOf(h *asm.Func, acc asm.Local, a, b func()) {
	if k.md.opts.RelaxedSIMD {
		a()
		b()
		h.Get(acc).VecOp(opRelaxedMadd).Set(acc)
		return
	}
	h.Get(acc)
	a()
	b()
	h.Vec(wasm.OpcodeVecF32x4Mul).Vec(wasm.OpcodeVecF32x4Add).Set(acc)
}
