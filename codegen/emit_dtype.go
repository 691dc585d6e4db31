package codegen

import (
	"fmt"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// How each dtype lives in Wasm: its storage width and the value type it is
// computed in. float16, bfloat16, float8 and float4 compute as f32; the small
// integer types (int4, int2 included) and bool as i32 (sign- or zero-extended
// on load, wrapped on store). Sub-byte types have no byte address per
// element: loadElemAt and storeElemAt (emit_subbyte.go) reach them by index.

// computeType is the Wasm value type elements of dt are computed in.
func computeType(dt ir.DType) (wasm.ValueType, error) {
	switch dt {
	case ir.Float32, ir.Float16, ir.BFloat16, ir.Float8E4M3FN, ir.Float8E4M3FNUZ, ir.Float8E5M2,
		ir.Float8E5M2FNUZ, ir.Float8E8M0, ir.Float4E2M1:
		return asm.F32, nil
	case ir.Float64:
		return asm.F64, nil
	case ir.Int64, ir.Uint64:
		return asm.I64, nil
	case ir.Int8, ir.Int16, ir.Int32, ir.Uint8, ir.Uint16, ir.Uint32, ir.Bool, ir.Int4, ir.Uint4, ir.Int2, ir.Uint2:
		return asm.I32, nil
	}
	return 0, ir.NotSupportedf("dtype %s in this kernel", dt)
}

// elemBytes is the storage size of one element (byte-sized types only).
func elemBytes(dt ir.DType) int { return dt.Bits() / 8 }

// loadElem loads one element from the address on the stack (plus off) and
// leaves it as its compute type.
func (k *Ctx) loadElem(dt ir.DType, off uint32) error {
	f := k.F
	switch dt {
	case ir.Float32:
		f.F32Load(off)
	case ir.Float64:
		f.F64Load(off)
	case ir.Int64, ir.Uint64:
		f.I64Load(off)
	case ir.Int32, ir.Uint32:
		f.I32Load(off)
	case ir.Int16:
		f.I32Load16S(off)
	case ir.Uint16:
		f.I32Load16U(off)
	case ir.Int8:
		f.I32Load8S(off)
	case ir.Uint8, ir.Bool:
		f.I32Load8U(off)
	case ir.Float16:
		f.I32Load16U(off).Call(k.f16ToF32())
	case ir.BFloat16:
		f.I32Load16U(off).I32Const(16).Op(wasm.OpcodeI32Shl).Op(wasm.OpcodeF32ReinterpretI32)
	case ir.Float8E4M3FN, ir.Float8E4M3FNUZ, ir.Float8E5M2, ir.Float8E5M2FNUZ, ir.Float8E8M0:
		f.I32Load8U(off)
		k.decodeSmallFloat(dt)
	default:
		return ir.NotSupportedf("loading %s by byte address", dt)
	}
	return nil
}

// storeElem stores the compute-type value on the stack to the address
// below it (plus off).
func (k *Ctx) storeElem(dt ir.DType, off uint32) error {
	f := k.F
	switch dt {
	case ir.Float32:
		f.F32Store(off)
	case ir.Float64:
		f.F64Store(off)
	case ir.Int64, ir.Uint64:
		f.I64Store(off)
	case ir.Int32, ir.Uint32:
		f.I32Store(off)
	case ir.Int16, ir.Uint16:
		f.I32Store16(off)
	case ir.Int8, ir.Uint8, ir.Bool:
		f.I32Store8(off)
	case ir.Float16:
		f.Call(k.f32ToF16()).I32Store16(off)
	case ir.BFloat16:
		f.Call(k.f32ToBF16()).I32Store16(off)
	case ir.Float8E4M3FN, ir.Float8E4M3FNUZ, ir.Float8E5M2, ir.Float8E5M2FNUZ, ir.Float8E8M0:
		// Cast's defaults: saturate, and round up for e8m0.
		f.Call(k.encodeSmallFloat(dt, true, ir.RoundUp)).I32Store8(off)
	default:
		return ir.NotSupportedf("storing %s by byte address", dt)
	}
	return nil
}

// f16ToF32 decodes half-precision bits: shift the exponent and mantissa into
// place and rescale by 2^112, which also handles subnormals; infinities and
// NaNs get the full exponent.
func (k *Ctx) f16ToF32() uint32 {
	return k.Helper("f16_to_f32", []wasm.ValueType{asm.I32}, []wasm.ValueType{asm.F32}, func(f *asm.Func) {
		h := f.Param(0)
		b := f.Local(asm.I32)
		f.Get(h).I32Const(0x7fff).Op(wasm.OpcodeI32And).I32Const(13).Op(wasm.OpcodeI32Shl).Set(b)
		// finite: reinterpret(b) * 2^112
		f.Get(b).Op(wasm.OpcodeF32ReinterpretI32).F32Const(5.192296858534828e33).Op(wasm.OpcodeF32Mul).Op(wasm.OpcodeI32ReinterpretF32)
		// inf/nan: b | 0x7f800000
		f.Get(b).I32Const(0x7f800000).Op(wasm.OpcodeI32Or)
		f.Get(h).I32Const(0x7c00).Op(wasm.OpcodeI32And).I32Const(0x7c00).Op(wasm.OpcodeI32Ne)
		f.Select()
		f.Get(h).I32Const(0x8000).Op(wasm.OpcodeI32And).I32Const(16).Op(wasm.OpcodeI32Shl).Op(wasm.OpcodeI32Or)
		f.Op(wasm.OpcodeF32ReinterpretI32)
	})
}

// f32ToF16 rounds to nearest even (the same algorithm as ir.F32ToF16).
func (k *Ctx) f32ToF16() uint32 {
	return k.Helper("f32_to_f16", []wasm.ValueType{asm.F32}, []wasm.ValueType{asm.I32}, func(f *asm.Func) {
		b, sign, exp, man, e, h, rem, shift, half := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		f.Get(f.Param(0)).Op(wasm.OpcodeI32ReinterpretF32).Set(b)
		f.Get(b).I32Const(16).Op(wasm.OpcodeI32ShrU).I32Const(0x8000).Op(wasm.OpcodeI32And).Set(sign)
		f.Get(b).I32Const(23).Op(wasm.OpcodeI32ShrU).I32Const(0xff).Op(wasm.OpcodeI32And).Set(exp)
		f.Get(b).I32Const(0x7fffff).Op(wasm.OpcodeI32And).Set(man)
		// Inf and NaN.
		f.Get(exp).I32Const(0xff).Op(wasm.OpcodeI32Eq).If()
		f.Get(sign).I32Const(0x7e00).I32Const(0x7c00).Get(man).Select().Op(wasm.OpcodeI32Or).Return()
		f.End()
		f.Get(exp).I32Const(127 - 15).Op(wasm.OpcodeI32Sub).Set(e)
		// Overflow to infinity.
		f.Get(e).I32Const(0x1f).Op(wasm.OpcodeI32GeS).If()
		f.Get(sign).I32Const(0x7c00).Op(wasm.OpcodeI32Or).Return()
		f.End()
		// Subnormal or zero.
		f.Get(e).I32Const(0).Op(wasm.OpcodeI32LeS).If()
		f.Get(e).I32Const(-10).Op(wasm.OpcodeI32LtS).If()
		f.Get(sign).Return()
		f.End()
		f.Get(man).I32Const(0x800000).Op(wasm.OpcodeI32Or).Set(man)
		f.I32Const(14).Get(e).Op(wasm.OpcodeI32Sub).Set(shift)
		f.Get(man).Get(shift).Op(wasm.OpcodeI32ShrU).Set(h)
		f.I32Const(1).Get(shift).Op(wasm.OpcodeI32Shl).I32Const(1).Op(wasm.OpcodeI32Sub).Get(man).Op(wasm.OpcodeI32And).Set(rem)
		f.I32Const(1).Get(shift).I32Const(1).Op(wasm.OpcodeI32Sub).Op(wasm.OpcodeI32Shl).Set(half)
		roundUp(f, h, rem, half)
		f.Get(sign).Get(h).Op(wasm.OpcodeI32Or).Return()
		f.End()
		f.Get(e).I32Const(10).Op(wasm.OpcodeI32Shl).Get(man).I32Const(13).Op(wasm.OpcodeI32ShrU).Op(wasm.OpcodeI32Or).Set(h)
		f.Get(man).I32Const(0x1fff).Op(wasm.OpcodeI32And).Set(rem)
		f.I32Const(0x1000).Set(half)
		roundUp(f, h, rem, half)
		f.Get(sign).Get(h).Op(wasm.OpcodeI32Or)
	})
}

// roundUp: h++ when rem > half, or rem == half and h is odd.
func roundUp(f *asm.Func, h, rem, half asm.Local) {
	f.Get(rem).Get(half).Op(wasm.OpcodeI32GtU)
	f.Get(rem).Get(half).Op(wasm.OpcodeI32Eq).Get(h).I32Const(1).Op(wasm.OpcodeI32And).Op(wasm.OpcodeI32And)
	f.Op(wasm.OpcodeI32Or).Get(h).Op(wasm.OpcodeI32Add).Set(h)
}

// f32ToBF16 rounds to nearest even; NaN stays a quiet NaN.
func (k *Ctx) f32ToBF16() uint32 {
	return k.Helper("f32_to_bf16", []wasm.ValueType{asm.F32}, []wasm.ValueType{asm.I32}, func(f *asm.Func) {
		b := f.Local(asm.I32)
		f.Get(f.Param(0)).Op(wasm.OpcodeI32ReinterpretF32).Set(b)
		f.Get(b).I32Const(16).Op(wasm.OpcodeI32ShrU).I32Const(0x40).Op(wasm.OpcodeI32Or)
		f.Get(b).I32Const(0x7fff).Op(wasm.OpcodeI32Add).Get(b).I32Const(16).Op(wasm.OpcodeI32ShrU).I32Const(1).Op(wasm.OpcodeI32And).Op(wasm.OpcodeI32Add).I32Const(16).Op(wasm.OpcodeI32ShrU)
		f.Get(f.Param(0)).Get(f.Param(0)).Op(wasm.OpcodeF32Ne) // NaN?
		f.Select()
	})
}

// constOf pushes v as a constant of compute type t.
func constOf(f *asm.Func, t wasm.ValueType, v float64) {
	switch t {
	case asm.F32:
		f.F32Const(float32(v))
	case asm.F64:
		f.F64Const(v)
	case asm.I32:
		f.I32Const(int32(int64(v)))
	case asm.I64:
		f.I64Const(int64(v))
	default:
		panic(fmt.Sprintf("constOf %v", t))
	}
}

// loadAs loads an element of dt from the address on the stack and
// converts it to the Wasm type ct.
func (k *Ctx) loadAs(dt ir.DType, off uint32, ct wasm.ValueType) error {
	if err := k.loadElem(dt, off); err != nil {
		return err
	}
	from, err := computeType(dt)
	if err != nil {
		return err
	}
	convert(k.F, from, ct, dt.IsUnsigned())
	return nil
}

// storeAs stores the value of Wasm type ct on the stack as an element of
// dt at the address below it (plus off): loadAs's counterpart.
func (k *Ctx) storeAs(dt ir.DType, off uint32, ct wasm.ValueType) error {
	to, err := computeType(dt)
	if err != nil {
		return err
	}
	convert(k.F, ct, to, dt.IsUnsigned())
	return k.storeElem(dt, off)
}

// roundTo rounds the f32 on the stack to float16 or bfloat16 precision
// (and back), so that running sums round at every step as in the element
// type.
func (k *Ctx) roundTo(dt ir.DType) {
	f := k.F
	switch dt {
	case ir.Float16:
		f.Call(k.f32ToF16()).Call(k.f16ToF32())
	case ir.BFloat16:
		f.Call(k.f32ToBF16()).I32Const(16).Op(wasm.OpcodeI32Shl).Op(wasm.OpcodeF32ReinterpretI32)
	}
}
