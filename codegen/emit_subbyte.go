package codegen

import (
	"encoding/binary"
	"math"
	"math/bits"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// The float8 and float4 formats and the sub-byte types (int4, uint4, int2,
// uint2, float4e2m1; packed low bits first). Decoding goes through a lookup
// table of float32 values per code; encoding uses bit arithmetic that
// matches ir's table search (round to nearest even, then the ONNX Cast
// saturate rules).

// isSmallFloat8 reports the byte-sized float8 types.
func isSmallFloat8(dt ir.DType) bool {
	switch dt {
	case ir.Float8E4M3FN, ir.Float8E4M3FNUZ, ir.Float8E5M2, ir.Float8E5M2FNUZ, ir.Float8E8M0:
		return true
	}
	return false
}

// decodeSmallFloat turns the code (i32) on the stack into its f32 value.
func (k *Ctx) decodeSmallFloat(dt ir.DType) {
	vals := ir.SmallFloatDecodeTable(dt)
	data := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
	}
	addr := k.Table("decode_"+dt.String(), data)
	k.F.I32Const(2).Op(wasm.OpcodeI32Shl).F32Load(uint32(addr))
}

// encodeSmallFloat returns a helper (f32) -> i32 code for a float narrower
// than float32: float16 and bfloat16 round to nearest even; the float8 and
// float4 types follow Cast's saturate rules, e8m0 also its round_mode.
func (k *Ctx) encodeSmallFloat(dt ir.DType, saturate bool, mode ir.RoundMode) uint32 {
	switch dt {
	case ir.Float16:
		return k.f32ToF16()
	case ir.BFloat16:
		return k.f32ToBF16()
	case ir.Float8E8M0:
		return k.encodeE8M0(saturate, mode)
	}
	fm := ir.SmallFloatFormatOf(dt)
	if fm.Bits == 4 {
		saturate = true // float4 has neither infinity nor NaN
	}
	name := "f32_to_" + dt.String()
	if saturate {
		name += "_sat"
	}
	return k.Helper(name, []wasm.ValueType{asm.F32}, []wasm.ValueType{asm.I32}, func(f *asm.Func) {
		b, sign, a, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		f.Get(f.Param(0)).Op(wasm.OpcodeI32ReinterpretF32).Set(b)
		f.Get(b).I32Const(31).Op(wasm.OpcodeI32ShrU).I32Const(int32(fm.Bits - 1)).Op(wasm.OpcodeI32Shl).Set(sign)
		f.Get(b).I32Const(0x7fffffff).Op(wasm.OpcodeI32And).Set(a)
		nan := func() {
			f.I32Const(int32(fm.NaNCode))
			if fm.SignedNaN {
				f.Get(sign).Op(wasm.OpcodeI32Or)
			}
			f.Return()
		}
		f.Get(a).I32Const(0x7f800000).Op(wasm.OpcodeI32GtU).If()
		nan()
		f.End()
		m := fm.ManBits
		minNormal := int32(127+1-fm.Bias) << 23
		f.Get(a).I32Const(minNormal).Op(wasm.OpcodeI32LtU).If()
		// Subnormal in the target: count its smallest steps, rounding to even.
		f.Get(a).Op(wasm.OpcodeF32ReinterpretI32).F32Const(float32(math.Ldexp(1, fm.Bias-1+m))).Op(wasm.OpcodeF32Mul)
		f.Op(wasm.OpcodeF32Nearest).Misc(wasm.OpcodeMiscI32TruncSatF32U).Set(c)
		f.Else()
		// Normal: rebias the exponent, then round the mantissa to m bits.
		drop := int32(23 - m)
		f.Get(a).I32Const(int32(127-fm.Bias) << 23).Op(wasm.OpcodeI32Sub).Set(c)
		f.Get(c).I32Const(1<<(drop-1) - 1).Op(wasm.OpcodeI32Add)
		f.Get(c).I32Const(drop).Op(wasm.OpcodeI32ShrU).I32Const(1).Op(wasm.OpcodeI32And).Op(wasm.OpcodeI32Add)
		f.I32Const(drop).Op(wasm.OpcodeI32ShrU).Set(c)
		f.End()
		// Rounded beyond the largest finite value.
		f.Get(c).I32Const(int32(fm.MaxCode)).Op(wasm.OpcodeI32GtU).If()
		switch {
		case saturate:
			f.I32Const(int32(fm.MaxCode)).Set(c)
		case fm.InfCode != 0:
			f.I32Const(int32(fm.InfCode)).Set(c)
		default:
			nan()
		}
		f.End()
		if fm.UnsignedZero {
			f.Get(sign).I32Const(0).Get(c).Select().Set(sign)
		}
		f.Get(sign).Get(c).Op(wasm.OpcodeI32Or)
	})
}

// encodeE8M0 is ir.EncodeE8M0: the float32 exponent field, rounded by the
// mantissa according to mode; NaN and infinities give the NaN code 0xff.
func (k *Ctx) encodeE8M0(saturate bool, mode ir.RoundMode) uint32 {
	name := "f32_to_e8m0_" + mode.String()
	if saturate {
		name += "_sat"
	}
	return k.Helper(name, []wasm.ValueType{asm.F32}, []wasm.ValueType{asm.I32}, func(f *asm.Func) {
		b, e := f.Local(asm.I32), f.Local(asm.I32)
		f.Get(f.Param(0)).Op(wasm.OpcodeI32ReinterpretF32).Set(b)
		f.Get(b).I32Const(23).Op(wasm.OpcodeI32ShrU).I32Const(0xff).Op(wasm.OpcodeI32And).Set(e)
		f.Get(e).I32Const(0xff).Op(wasm.OpcodeI32Eq).If().I32Const(0xff).Return().End()
		f.Get(e)
		switch mode {
		case ir.RoundDown:
			return
		case ir.RoundUp:
			f.Get(b).I32Const(0x7fffff).Op(wasm.OpcodeI32And).I32Const(0).Op(wasm.OpcodeI32Ne)
		case ir.RoundNearest:
			// guard bit and (any lower bit or a non-zero exponent)
			f.Get(b).I32Const(0x400000).Op(wasm.OpcodeI32And).I32Const(0).Op(wasm.OpcodeI32Ne)
			f.Get(b).I32Const(0x3fffff).Op(wasm.OpcodeI32And).I32Const(0).Op(wasm.OpcodeI32Ne)
			f.Get(e).I32Const(0).Op(wasm.OpcodeI32Ne).Op(wasm.OpcodeI32Or)
			f.Op(wasm.OpcodeI32And)
		}
		if saturate {
			f.Get(e).I32Const(0xfe).Op(wasm.OpcodeI32Ne).Op(wasm.OpcodeI32And)
		}
		f.Op(wasm.OpcodeI32Add)
	})
}

// f64ToF32Odd is ir.F64ToF32RoundOdd: float64 sources round to odd float32
// first so that the float32 encoders round them only once.
func (k *Ctx) f64ToF32Odd() uint32 {
	return k.Helper("f64_to_f32_odd", []wasm.ValueType{asm.F64}, []wasm.ValueType{asm.F32}, func(f *asm.Func) {
		x := f.Param(0)
		r, b := f.Local(asm.F32), f.Local(asm.I32)
		f.Get(x).Op(wasm.OpcodeF32DemoteF64).Set(r)
		// exact, or NaN
		f.Get(r).Op(wasm.OpcodeF64PromoteF32).Get(x).Op(wasm.OpcodeF64Eq)
		f.Get(x).Get(x).Op(wasm.OpcodeF64Ne).Op(wasm.OpcodeI32Or)
		f.If().Get(r).Return().End()
		// beyond float32: the largest finite value, whose mantissa is odd
		f.Get(r).Op(wasm.OpcodeF32Abs).F32Const(float32(math.Inf(1))).Op(wasm.OpcodeF32Eq)
		f.If().F32Const(math.MaxFloat32).Get(r).Op(wasm.OpcodeF32Copysign).Return().End()
		f.Get(r).Op(wasm.OpcodeI32ReinterpretF32).Set(b)
		// rounded away from zero: step the magnitude back
		f.Get(b).I32Const(1).Op(wasm.OpcodeI32Sub).Get(b)
		f.Get(r).Op(wasm.OpcodeF64PromoteF32).Op(wasm.OpcodeF64Abs).Get(x).Op(wasm.OpcodeF64Abs).Op(wasm.OpcodeF64Gt)
		f.Select().I32Const(1).Op(wasm.OpcodeI32Or).Op(wasm.OpcodeF32ReinterpretI32)
	})
}

// subBytePerByte is how many elements of a sub-byte type share a byte.
func subBytePerByte(dt ir.DType) int { return 8 / dt.Bits() }

// elemOffset pushes the byte offset of element idx (an i32 local) of a
// tensor of byte-sized dtype dt.
func (k *Ctx) elemOffset(dt ir.DType, idx asm.Local) {
	f := k.F
	f.Get(idx)
	if sz := dt.Bits() / 8; sz > 1 {
		f.I32Const(int32(bits.TrailingZeros(uint(sz)))).Op(wasm.OpcodeI32Shl)
	}
}

// loadElemAt loads element idx (an i32 local) of the dtype-dt tensor at
// base and leaves it as its compute type. It serves every dtype; sub-byte
// elements are extracted from their byte.
func (k *Ctx) loadElemAt(dt ir.DType, base int32, idx asm.Local) error {
	f := k.F
	nb := dt.Bits()
	if nb >= 8 {
		k.elemOffset(dt, idx)
		return k.loadElem(dt, uint32(base))
	}
	per := subBytePerByte(dt)
	f.Get(idx).I32Const(int32(bits.TrailingZeros(uint(per)))).Op(wasm.OpcodeI32ShrU).I32Load8U(uint32(base))
	f.Get(idx).I32Const(int32(per - 1)).Op(wasm.OpcodeI32And).I32Const(int32(bits.TrailingZeros(uint(nb)))).Op(wasm.OpcodeI32Shl)
	f.Op(wasm.OpcodeI32ShrU).I32Const(1<<nb - 1).Op(wasm.OpcodeI32And)
	switch {
	case dt == ir.Float4E2M1:
		k.decodeSmallFloat(dt)
	case dt.IsSigned():
		f.I32Const(int32(32 - nb)).Op(wasm.OpcodeI32Shl).I32Const(int32(32 - nb)).Op(wasm.OpcodeI32ShrS)
	}
	return nil
}

// storeElemAt stores the compute-type value in local val as element idx of
// the dtype-dt tensor at base. Sub-byte elements are merged into their byte
// (the other elements sharing it are kept).
func (k *Ctx) storeElemAt(dt ir.DType, base int32, idx, val asm.Local) error {
	f := k.F
	nb := dt.Bits()
	if nb >= 8 {
		k.elemOffset(dt, idx)
		f.Get(val)
		return k.storeElem(dt, uint32(base))
	}
	per := subBytePerByte(dt)
	mask := int32(1<<nb - 1)
	addr, sh := f.Local(asm.I32), f.Local(asm.I32)
	f.Get(idx).I32Const(int32(bits.TrailingZeros(uint(per)))).Op(wasm.OpcodeI32ShrU).Set(addr)
	f.Get(idx).I32Const(int32(per - 1)).Op(wasm.OpcodeI32And).I32Const(int32(bits.TrailingZeros(uint(nb)))).Op(wasm.OpcodeI32Shl).Set(sh)
	f.Get(addr)
	// old byte without this element's bits
	f.Get(addr).I32Load8U(uint32(base)).I32Const(mask).Get(sh).Op(wasm.OpcodeI32Shl).I32Const(-1).Op(wasm.OpcodeI32Xor).Op(wasm.OpcodeI32And)
	f.Get(val)
	if dt == ir.Float4E2M1 {
		f.Call(k.encodeSmallFloat(dt, true, ir.RoundUp))
	}
	f.I32Const(mask).Op(wasm.OpcodeI32And).Get(sh).Op(wasm.OpcodeI32Shl).Op(wasm.OpcodeI32Or)
	f.I32Store8(uint32(base))
	return nil
}
