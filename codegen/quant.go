package codegen

import (
	"fmt"
	"math"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear, and the
// element access they need for every quantized type: packed 4- and 2-bit
// integers and the float8/float4 codes (decoded and encoded here with the
// same rounding and saturation as ir's conversions).

// quantLoops walks x viewed as [Outer, Axis, Inner] (ir.QuantLayout): body
// sees e, the flat element index, and si, the index of its scale.
func (k *Ctx) quantLoops(l ir.QuantLayout, body func(e, si asm.Local)) {
	f := k.F
	e, si, sOuter := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.SetI32(e, 0)
	f.SetI32(sOuter, 0)
	oc := f.Local(asm.I32)
	f.Counted(oc, l.Outer, func() {
		a := f.Local(asm.I32)
		f.Repeat(a, l.Axis, func() {
			f.Get(sOuter)
			if l.SA != 0 {
				f.Get(a)
				if l.Block > 1 {
					f.I32Const(int32(l.Block)).Op(wasm.OpcodeI32DivU)
				}
				f.I32Const(int32(l.SA)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
			}
			f.Set(si)
			ic := f.Local(asm.I32)
			f.Counted(ic, l.Inner, func() {
				body(e, si)
				f.AddI32(e, 1)
				if l.SI != 0 {
					f.AddI32(si, int32(l.SI))
				}
			})
		})
		if l.SO != 0 {
			f.AddI32(sOuter, int32(l.SO))
		}
	})
}

func log2(n int) int32 {
	s := int32(0)
	for 1<<s < n {
		s++
	}
	return s
}

// isSmallFloat reports the float types decoded through smallFloatDecode.
func isSmallFloat(dt ir.DType) bool {
	switch dt {
	case ir.Float8E4M3FN, ir.Float8E4M3FNUZ, ir.Float8E5M2, ir.Float8E5M2FNUZ, ir.Float8E8M0, ir.Float4E2M1:
		return true
	}
	return false
}

// loadQ pushes element idx of a tensor of dt at base: i32 for integer
// types (sign- or zero-extended), f32 for float types.
func (k *Ctx) loadQ(dt ir.DType, base int32, idx asm.Local) error {
	f := k.F
	bits := dt.Bits()
	if bits < 8 {
		per := 8 / bits
		f.Get(idx).I32Const(log2(per)).Op(wasm.OpcodeI32ShrU).I32Load8U(uint32(base))
		f.Get(idx).I32Const(int32(per - 1)).Op(wasm.OpcodeI32And).I32Const(log2(bits)).Op(wasm.OpcodeI32Shl)
		f.Op(wasm.OpcodeI32ShrU)
		if dt.IsSigned() {
			f.I32Const(int32(32 - bits)).Op(wasm.OpcodeI32Shl).I32Const(int32(32 - bits)).Op(wasm.OpcodeI32ShrS)
		} else {
			f.I32Const(1<<bits - 1).Op(wasm.OpcodeI32And)
		}
		if dt.IsFloat() {
			f.Call(k.smallFloatDecode(dt))
		}
		return nil
	}
	f.Get(idx)
	if b := bits / 8; b > 1 {
		f.I32Const(log2(b)).Op(wasm.OpcodeI32Shl)
	}
	if isSmallFloat(dt) {
		f.I32Load8U(uint32(base)).Call(k.smallFloatDecode(dt))
		return nil
	}
	return k.loadElem(dt, uint32(base))
}

// storeQ stores the i32 in v (an integer, or the bits of a float8/float4
// code) as element idx of a tensor of dt at base. Packed types are
// read-modified-written a byte at a time.
func (k *Ctx) storeQ(dt ir.DType, base int32, idx, v asm.Local) error {
	f := k.F
	bits := dt.Bits()
	if bits < 8 {
		per := 8 / bits
		mask := int32(1<<bits - 1)
		addr, sh := f.Local(asm.I32), f.Local(asm.I32)
		f.Get(idx).I32Const(log2(per)).Op(wasm.OpcodeI32ShrU).Set(addr)
		f.Get(idx).I32Const(int32(per - 1)).Op(wasm.OpcodeI32And).I32Const(log2(bits)).Op(wasm.OpcodeI32Shl).Set(sh)
		f.Get(addr)
		f.Get(addr).I32Load8U(uint32(base))
		f.I32Const(mask).Get(sh).Op(wasm.OpcodeI32Shl).I32Const(-1).Op(wasm.OpcodeI32Xor).Op(wasm.OpcodeI32And)
		f.Get(v).I32Const(mask).Op(wasm.OpcodeI32And).Get(sh).Op(wasm.OpcodeI32Shl).Op(wasm.OpcodeI32Or)
		f.I32Store8(uint32(base))
		return nil
	}
	f.Get(idx)
	if b := bits / 8; b > 1 {
		f.I32Const(log2(b)).Op(wasm.OpcodeI32Shl)
	}
	f.Get(v)
	switch bits {
	case 8:
		f.I32Store8(uint32(base))
	case 16:
		f.I32Store16(uint32(base))
	case 32:
		f.I32Store(uint32(base))
	default:
		return ir.NotSupportedf("storing %s", dt)
	}
	return nil
}

// smallFloat describes a float8/float4 encoding.
type smallFloat struct {
	bits, man, bias int
	maxCode         int32 // largest finite positive code
	nanCode         int32 // -1: no NaN (float4)
	infCode         int32 // 0: no infinity
	fnuz            bool  // NaN is the negative-zero code, no -0
}

func smallFloatFormat(dt ir.DType) (smallFloat, bool) {
	switch dt {
	case ir.Float8E4M3FN:
		return smallFloat{bits: 8, man: 3, bias: 7, maxCode: 0x7e, nanCode: 0x7f}, true
	case ir.Float8E4M3FNUZ:
		return smallFloat{bits: 8, man: 3, bias: 8, maxCode: 0x7f, nanCode: 0x80, fnuz: true}, true
	case ir.Float8E5M2:
		return smallFloat{bits: 8, man: 2, bias: 15, maxCode: 0x7b, nanCode: 0x7d, infCode: 0x7c}, true
	case ir.Float8E5M2FNUZ:
		return smallFloat{bits: 8, man: 2, bias: 16, maxCode: 0x7f, nanCode: 0x80, fnuz: true}, true
	case ir.Float4E2M1:
		return smallFloat{bits: 4, man: 1, bias: 1, maxCode: 7, nanCode: -1}, true
	}
	return smallFloat{}, false
}

// smallFloatDecode returns a helper turning a float8/float4 code into f32.
// The magnitude bits shifted into an f32's mantissa position and scaled by
// 2^(127-bias) give normal and subnormal values alike.
func (k *Ctx) smallFloatDecode(dt ir.DType) uint32 {
	return k.Helper(dt.String()+"_to_f32", []wasm.ValueType{asm.I32}, []wasm.ValueType{asm.F32}, func(f *asm.Func) {
		c := f.Param(0)
		const nan = 0x7fc00000
		if dt == ir.Float8E8M0 {
			// 2^(c-127): the code is the f32 exponent; 0 is 2^-127 and 0xff NaN.
			f.I32Const(nan)
			f.Get(c).I32Const(23).Op(wasm.OpcodeI32Shl).I32Const(0x00400000).Get(c).Select()
			f.Get(c).I32Const(0xff).Op(wasm.OpcodeI32Eq).Select()
			f.Op(wasm.OpcodeF32ReinterpretI32)
			return
		}
		s, _ := smallFloatFormat(dt)
		magMask := int32(1)<<(s.bits-1) - 1
		mag, r := f.Local(asm.I32), f.Local(asm.I32)
		f.Get(c).I32Const(magMask).Op(wasm.OpcodeI32And).Set(mag)
		f.Get(mag).I32Const(int32(23 - s.man)).Op(wasm.OpcodeI32Shl).Op(wasm.OpcodeF32ReinterpretI32)
		f.F32Const(float32(math.Ldexp(1, 127-s.bias))).Op(wasm.OpcodeF32Mul).Op(wasm.OpcodeI32ReinterpretF32).Set(r)
		if s.infCode != 0 {
			// e5m2: the top exponent holds infinities and NaNs.
			f.Get(mag).I32Const(int32(23 - s.man)).Op(wasm.OpcodeI32Shl).I32Const(0x7f800000).Op(wasm.OpcodeI32Or)
			f.Get(r)
			f.Get(mag).I32Const(s.infCode).Op(wasm.OpcodeI32GeU).Select().Set(r)
		}
		f.Get(r).Get(c).I32Const(int32(s.bits - 1)).Op(wasm.OpcodeI32ShrU).I32Const(31).Op(wasm.OpcodeI32Shl).Op(wasm.OpcodeI32Or).Set(r)
		switch {
		case s.fnuz:
			// NaN is the code of negative zero.
			f.I32Const(nan).Get(r).Get(c).I32Const(s.nanCode).Op(wasm.OpcodeI32Eq).Select().Set(r)
		case s.nanCode >= 0 && s.infCode == 0:
			// e4m3fn: S.1111.111 is NaN.
			f.I32Const(nan).Get(r).Get(mag).I32Const(magMask).Op(wasm.OpcodeI32Eq).Select().Set(r)
		}
		f.Get(r).Op(wasm.OpcodeF32ReinterpretI32)
	})
}

// smallFloatEncode returns a helper rounding an f32 to a float8/float4
// code, nearest even, as ir.Float64ToSmallFloat does: values beyond the
// largest finite one saturate (saturate or float4), or become infinity
// (e5m2) or NaN.
func (k *Ctx) smallFloatEncode(dt ir.DType, saturate bool) (uint32, error) {
	s, ok := smallFloatFormat(dt)
	if !ok {
		return 0, ir.NotSupportedf("converting to %s", dt)
	}
	name := fmt.Sprintf("f32_to_%s", dt)
	if saturate {
		name += "_sat"
	}
	return k.Helper(name, []wasm.ValueType{asm.F32}, []wasm.ValueType{asm.I32}, func(f *asm.Func) {
		b, a, sign, code := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		f.Get(f.Param(0)).Op(wasm.OpcodeI32ReinterpretF32).Tee(b)
		f.I32Const(0x7fffffff).Op(wasm.OpcodeI32And).Set(a)
		f.Get(b).I32Const(31).Op(wasm.OpcodeI32ShrU).I32Const(int32(s.bits - 1)).Op(wasm.OpcodeI32Shl).Set(sign)
		// NaN
		f.Get(a).I32Const(0x7f800000).Op(wasm.OpcodeI32GtU).If()
		f.I32Const(max(s.nanCode, 0)).Return()
		f.End()
		minNormal := math.Ldexp(1, 1-s.bias)
		f.Get(a).Op(wasm.OpcodeF32ReinterpretI32).F32Const(float32(minNormal)).Op(wasm.OpcodeF32Lt).If()
		// Subnormal range: the code is the value in units of the smallest
		// subnormal, rounded half to even.
		f.Get(a).Op(wasm.OpcodeF32ReinterpretI32).F32Const(float32(math.Ldexp(1, s.bias-1+s.man))).Op(wasm.OpcodeF32Mul)
		f.Op(wasm.OpcodeF32Nearest).Misc(wasm.OpcodeMiscI32TruncSatF32S).Set(code)
		f.Else()
		// Normal: round the f32 mantissa to man bits (the carry may bump
		// the exponent), then rebias.
		sh := int32(23 - s.man)
		f.Get(a).I32Const(1<<(sh-1) - 1).Op(wasm.OpcodeI32Add)
		f.Get(a).I32Const(sh).Op(wasm.OpcodeI32ShrU).I32Const(1).Op(wasm.OpcodeI32And).Op(wasm.OpcodeI32Add)
		f.I32Const(sh).Op(wasm.OpcodeI32ShrU)
		f.I32Const(int32(127-s.bias) << s.man).Op(wasm.OpcodeI32Sub).Set(code)
		f.End()
		f.Get(code).I32Const(s.maxCode).Op(wasm.OpcodeI32GtU).If()
		switch {
		case saturate || s.nanCode < 0:
			f.I32Const(s.maxCode).Set(code)
		case s.infCode != 0:
			f.I32Const(s.infCode).Set(code)
		case s.fnuz:
			f.I32Const(s.nanCode).Return()
		default:
			f.I32Const(s.nanCode).Set(code)
		}
		f.End()
		if s.fnuz {
			// no negative zero
			f.Get(sign).I32Const(0).Get(code).Select().Set(sign)
		}
		f.Get(sign).Get(code).Op(wasm.OpcodeI32Or)
	}), nil
}

// roundF32To rounds the f32 on the stack to float16 or bfloat16 precision
// (numpy keeps intermediate results of those types rounded).
func (k *Ctx) roundF32To(dt ir.DType) {
	f := k.F
	switch dt {
	case ir.Float16:
		f.Call(k.f32ToF16()).Call(k.f16ToF32())
	case ir.BFloat16:
		f.Call(k.f32ToBF16()).I32Const(16).Op(wasm.OpcodeI32Shl).Op(wasm.OpcodeF32ReinterpretI32)
	}
}

// toPrecision converts a loaded value of dt (i32 for int32, else f32) to
// division type p's Wasm type (f64 for float64, else f32), rounded to p.
func (k *Ctx) toPrecision(dt, p ir.DType) {
	f := k.F
	if p == ir.Float64 {
		if dt == ir.Int32 {
			f.Op(wasm.OpcodeF64ConvertI32S)
		} else {
			f.Op(wasm.OpcodeF64PromoteF32)
		}
		return
	}
	if dt == ir.Int32 {
		f.Op(wasm.OpcodeF32ConvertI32S)
	}
	if dt != p {
		k.roundF32To(p)
	}
}

func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.QuantizeLinear) error {
		x, s, zp, y := n.In(0), n.In(1), n.In(2), n.Outputs[0]
		l, err := op.Layout(x.Type.Shape, s.Type.Shape)
		if err != nil {
			return err
		}
		out := y.Type.DType
		p := op.DivType(x.Type.DType, s.Type.DType)
		f := k.F
		wide := p == ir.Float64
		ft := asm.F32
		if wide {
			ft = asm.F64
		}
		var enc uint32
		if !out.IsInt() {
			if enc, err = k.smallFloatEncode(out, op.Saturate); err != nil {
				return err
			}
		}
		v := f.Local(asm.I32)
		var errs []error
		try := func(err error) {
			if err != nil {
				errs = append(errs, err)
			}
		}
		body := func(e, si asm.Local) {
			try(k.loadQ(x.Type.DType, k.Addr(x), e))
			k.toPrecision(x.Type.DType, p)
			try(k.loadQ(s.Type.DType, k.Addr(s), si))
			k.toPrecision(s.Type.DType, p)
			if wide {
				f.Op(wasm.OpcodeF64Div)
			} else {
				f.Op(wasm.OpcodeF32Div)
				k.roundF32To(p)
			}
			if out.IsInt() {
				k.quantizeTail(ft, out, zp, si)
			} else {
				if wide {
					f.Op(wasm.OpcodeF32DemoteF64)
				}
				if out == ir.Float4E2M1 && zp != nil {
					// The reference adds float4 zero points (and skips float8 ones).
					try(k.loadQ(zp.Type.DType, k.Addr(zp), si))
					f.Op(wasm.OpcodeF32Add)
				}
				f.Call(enc)
			}
			f.Set(v)
			try(k.storeQ(out, k.Addr(y), e, v))
		}
		if !k.SIMD() || !k.quantizeSIMD(n, l, p, body) {
			k.quantLoops(l, body)
		}
		if len(errs) > 0 {
			return errs[0]
		}
		return nil
	})

	registerKernel(func(k *Ctx, n *ir.Node, op *ir.DequantizeLinear) error {
		x, s, zp, y := n.In(0), n.In(1), n.In(2), n.Outputs[0]
		l, err := op.Layout(x.Type.Shape, s.Type.Shape)
		if err != nil {
			return err
		}
		f := k.F
		xt, out := x.Type.DType, y.Type.DType
		var errs []error
		try := func(err error) {
			if err != nil {
				errs = append(errs, err)
			}
		}
		body := func(e, si asm.Local) {
			f.Get(e)
			if b := out.Bits() / 8; b > 1 {
				f.I32Const(log2(b)).Op(wasm.OpcodeI32Shl)
			}
			try(k.loadQ(xt, k.Addr(x), e))
			if !xt.IsFloat() {
				if zp != nil {
					try(k.loadQ(xt, k.Addr(zp), si))
					f.Op(wasm.OpcodeI32Sub)
				}
				f.Op(wasm.OpcodeF32ConvertI32S)
			}
			try(k.loadQ(s.Type.DType, k.Addr(s), si))
			f.Op(wasm.OpcodeF32Mul)
			try(k.storeElem(out, uint32(k.Addr(y))))
		}
		if !k.SIMD() || !k.dequantizeSIMD(n, l, body) {
			k.quantLoops(l, body)
		}
		if len(errs) > 0 {
			return errs[0]
		}
		return nil
	})

	registerKernel(func(k *Ctx, n *ir.Node, op *ir.DynamicQuantizeLinear) error {
		return k.dynamicQuantize(n)
	})
}

// quantizeTail turns the quotient on the stack (f32, or f64 when ft is F64)
// into the saturated integer of dt: round half to even, add the zero point
// (element si of zp, if any), clamp, truncate.
func (k *Ctx) quantizeTail(ft wasm.ValueType, dt ir.DType, zp *ir.Value, si asm.Local) {
	f := k.F
	x := fxFor(f, ft, false)
	x.nearest()
	if zp != nil {
		k.loadQ(zp.Type.DType, k.Addr(zp), si)
		x.fromIntI32()
		x.add()
	}
	lo, hi := ir.QuantRange(dt)
	x.c(float64(lo)).max().c(float64(hi)).min()
	if ft == asm.F64 {
		f.Misc(wasm.OpcodeMiscI32TruncSatF64S)
	} else {
		f.Misc(wasm.OpcodeMiscI32TruncSatF32S)
	}
}

// fromIntI32 converts an i32 to the scalar float type of x.
func (x fx) fromIntI32() fx {
	if x.f64 {
		x.f.Op(wasm.OpcodeF64ConvertI32S)
	} else {
		x.f.Op(wasm.OpcodeF32ConvertI32S)
	}
	return x
}

// dynamicQuantize computes x's range, the scale and zero point from it, and
// quantizes x with them, all in float32 as the reference does.
func (k *Ctx) dynamicQuantize(n *ir.Node) error {
	f := k.F
	x := n.In(0)
	size := x.Type.Shape.Size()
	lo, hi, scale, zp := f.Local(asm.F32), f.Local(asm.F32), f.Local(asm.F32), f.Local(asm.F32)
	p, c := f.Local(asm.I32), f.Local(asm.I32)
	f.F32Const(0).Set(lo)
	f.F32Const(0).Set(hi)
	f.I32Const(k.Addr(x)).Set(p)
	rest := size
	if k.SIMD() && size >= 8 {
		vlo, vhi := f.Local(asm.V128), f.Local(asm.V128)
		f.V128Const([16]byte{}).Set(vlo)
		f.V128Const([16]byte{}).Set(vhi)
		f.Counted(c, size/4, func() {
			f.Get(vlo).Get(p).V128Load(0).Vec(wasm.OpcodeVecF32x4Min).Set(vlo)
			f.Get(vhi).Get(p).V128Load(0).Vec(wasm.OpcodeVecF32x4Max).Set(vhi)
			f.AddI32(p, 16)
		})
		for lane := byte(0); lane < 4; lane++ {
			f.Get(lo).Get(vlo).Lane(wasm.OpcodeVecF32x4ExtractLane, lane).Op(wasm.OpcodeF32Min).Set(lo)
			f.Get(hi).Get(vhi).Lane(wasm.OpcodeVecF32x4ExtractLane, lane).Op(wasm.OpcodeF32Max).Set(hi)
		}
		rest = size % 4
	}
	f.Counted(c, rest, func() {
		f.Get(lo).Get(p).F32Load(0).Op(wasm.OpcodeF32Min).Set(lo)
		f.Get(hi).Get(p).F32Load(0).Op(wasm.OpcodeF32Max).Set(hi)
		f.AddI32(p, 4)
	})
	// scale = hi == lo ? 1 : (hi - lo) / 255
	f.F32Const(1).Get(hi).Get(lo).Op(wasm.OpcodeF32Sub).F32Const(255).Op(wasm.OpcodeF32Div)
	f.Get(hi).Get(lo).Op(wasm.OpcodeF32Eq).Select().Set(scale)
	// zp = nearest(max(0, min(255, 0 - lo/scale)))
	f.F32Const(0).Get(lo).Get(scale).Op(wasm.OpcodeF32Div).Op(wasm.OpcodeF32Sub)
	f.F32Const(255).Op(wasm.OpcodeF32Min).F32Const(0).Op(wasm.OpcodeF32Max).Op(wasm.OpcodeF32Nearest).Set(zp)
	if v := n.Outputs[1]; v != nil {
		f.I32Const(k.Addr(v)).Get(scale).F32Store(0)
	}
	if v := n.Outputs[2]; v != nil {
		f.I32Const(k.Addr(v)).Get(zp).Misc(wasm.OpcodeMiscI32TruncSatF32U).I32Store8(0)
	}
	y := n.Outputs[0]
	if y == nil {
		return nil
	}
	f.I32Const(k.Addr(x)).Set(p)
	q := f.Local(asm.I32)
	f.I32Const(k.Addr(y)).Set(q)
	rest = size
	if k.SIMD() && size >= 16 {
		vs, vz := f.Local(asm.V128), f.Local(asm.V128)
		f.Get(scale).Vec(wasm.OpcodeVecF32x4Splat).Set(vs)
		f.Get(zp).Vec(wasm.OpcodeVecF32x4Splat).Set(vz)
		quant4 := func(off uint32) {
			f.Get(p).V128Load(off).Get(vs).Vec(wasm.OpcodeVecF32x4Div).Vec(wasm.OpcodeVecF32x4Nearest)
			f.Get(vz).Vec(wasm.OpcodeVecF32x4Add).Vec(wasm.OpcodeVecI32x4TruncSatF32x4S)
		}
		f.Counted(c, size/16, func() {
			// 16 floats -> 4 x i32x4 -> 2 x i16x8 -> i8x16, saturating
			// unsigned: the clamp to [0, 255] comes with the narrowing.
			f.Get(q)
			quant4(0)
			quant4(16)
			f.Vec(wasm.OpcodeVecI16x8NarrowI32x4S)
			quant4(32)
			quant4(48)
			f.Vec(wasm.OpcodeVecI16x8NarrowI32x4S)
			f.Vec(wasm.OpcodeVecI8x16NarrowI16x8U)
			f.V128Store(0)
			f.AddI32(p, 64)
			f.AddI32(q, 16)
		})
		rest = size % 16
	}
	f.Counted(c, rest, func() {
		f.Get(q)
		f.Get(p).F32Load(0).Get(scale).Op(wasm.OpcodeF32Div).Op(wasm.OpcodeF32Nearest).Get(zp).Op(wasm.OpcodeF32Add)
		f.F32Const(0).Op(wasm.OpcodeF32Max).F32Const(255).Op(wasm.OpcodeF32Min)
		f.Misc(wasm.OpcodeMiscI32TruncSatF32U).I32Store8(0)
		f.AddI32(p, 4)
		f.AddI32(q, 1)
	})
	return nil
}

// quantLoopsVec is quantLoops with the inner dimension in groups of 4:
// vec gets e and si of the group's first element (si advancing by 4*SI),
// scalar the remaining elements one by one.
func (k *Ctx) quantLoopsVec(l ir.QuantLayout, vec, scalar func(e, si asm.Local)) {
	f := k.F
	e, si, sOuter := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.SetI32(e, 0)
	f.SetI32(sOuter, 0)
	oc := f.Local(asm.I32)
	f.Counted(oc, l.Outer, func() {
		a := f.Local(asm.I32)
		f.Repeat(a, l.Axis, func() {
			f.Get(sOuter)
			if l.SA != 0 {
				f.Get(a)
				if l.Block > 1 {
					f.I32Const(int32(l.Block)).Op(wasm.OpcodeI32DivU)
				}
				f.I32Const(int32(l.SA)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
			}
			f.Set(si)
			ic := f.Local(asm.I32)
			f.Counted(ic, l.Inner/4, func() {
				vec(e, si)
				f.AddI32(e, 4)
				if l.SI != 0 {
					f.AddI32(si, int32(4*l.SI))
				}
			})
			f.Counted(ic, l.Inner%4, func() {
				scalar(e, si)
				f.AddI32(e, 1)
				if l.SI != 0 {
					f.AddI32(si, int32(l.SI))
				}
			})
		})
		if l.SO != 0 {
			f.AddI32(sOuter, int32(l.SO))
		}
	})
}

// load4Ints pushes elements e..e+3 of an 8-, 16- or 32-bit integer tensor
// at base as i32x4.
func (k *Ctx) load4Ints(dt ir.DType, base int32, e asm.Local) {
	f := k.F
	f.Get(e)
	if b := dt.Bits() / 8; b > 1 {
		f.I32Const(log2(b)).Op(wasm.OpcodeI32Shl)
	}
	switch dt {
	case ir.Int8:
		f.V128Load32Zero(uint32(base)).Vec(wasm.OpcodeVecI16x8ExtendLowI8x16S).Vec(wasm.OpcodeVecI32x4ExtendLowI16x8S)
	case ir.Uint8:
		f.V128Load32Zero(uint32(base)).Vec(wasm.OpcodeVecI16x8ExtendLowI8x16U).Vec(wasm.OpcodeVecI32x4ExtendLowI16x8U)
	case ir.Int16:
		f.V128Load64Zero(uint32(base)).Vec(wasm.OpcodeVecI32x4ExtendLowI16x8S)
	case ir.Uint16:
		f.V128Load64Zero(uint32(base)).Vec(wasm.OpcodeVecI32x4ExtendLowI16x8U)
	default:
		f.V128Load(uint32(base))
	}
}

// quantVecParams pushes the scale (f32x4) or zero point (i32x4) of a
// group: one value splatted (SI = 0) or 4 consecutive ones.
func (k *Ctx) quantVecParam(v *ir.Value, l ir.QuantLayout, si asm.Local) {
	f := k.F
	dt := v.Type.DType
	if l.SI == 0 {
		k.loadQ(dt, k.Addr(v), si)
		if dt == ir.Float32 {
			f.Vec(wasm.OpcodeVecF32x4Splat)
		} else {
			f.Vec(wasm.OpcodeVecI32x4Splat)
		}
		return
	}
	k.load4Ints(dt, k.Addr(v), si) // float32 scales load as 4 lanes alike
}

// quantizeSIMD handles float32 x and scales to 8- and 16-bit integers, 4
// elements at a time: divide, round half to even, add the zero point,
// truncate, and narrow with saturation (which is the clamp).
func (k *Ctx) quantizeSIMD(n *ir.Node, l ir.QuantLayout, p ir.DType, scalar func(e, si asm.Local)) bool {
	x, s, zp, y := n.In(0), n.In(1), n.In(2), n.Outputs[0]
	out := y.Type.DType
	if x.Type.DType != ir.Float32 || s.Type.DType != ir.Float32 || p != ir.Float32 || l.SI > 1 {
		return false
	}
	switch out {
	case ir.Int8, ir.Uint8, ir.Int16, ir.Uint16:
	default:
		return false
	}
	f := k.F
	k.quantLoopsVec(l, func(e, si asm.Local) {
		f.Get(e).I32Const(log2(out.Bits() / 8)).Op(wasm.OpcodeI32Shl) // store address
		f.Get(e).I32Const(2).Op(wasm.OpcodeI32Shl).V128Load(uint32(k.Addr(x)))
		k.quantVecParam(s, l, si)
		f.Vec(wasm.OpcodeVecF32x4Div).Vec(wasm.OpcodeVecF32x4Nearest)
		if zp != nil {
			k.quantVecParam(zp, l, si)
			f.Vec(wasm.OpcodeVecF32x4ConvertI32x4S).Vec(wasm.OpcodeVecF32x4Add)
		}
		f.Vec(wasm.OpcodeVecI32x4TruncSatF32x4S)
		v := f.Local(asm.V128)
		f.Set(v)
		narrow := wasm.OpcodeVecI16x8NarrowI32x4S
		if out == ir.Uint16 {
			narrow = wasm.OpcodeVecI16x8NarrowI32x4U
		}
		f.Get(v).Get(v).Vec(narrow)
		switch out {
		case ir.Int8, ir.Uint8:
			f.Set(v)
			narrow = wasm.OpcodeVecI8x16NarrowI16x8S
			if out == ir.Uint8 {
				narrow = wasm.OpcodeVecI8x16NarrowI16x8U
			}
			f.Get(v).Get(v).Vec(narrow)
			f.Lane(wasm.OpcodeVecI32x4ExtractLane, 0).I32Store(uint32(k.Addr(y)))
		default:
			f.Lane(wasm.OpcodeVecI64x2ExtractLane, 0).I64Store(uint32(k.Addr(y)))
		}
	}, scalar)
	return true
}

// dequantizeSIMD handles 8-, 16- and 32-bit integers to float32, 4
// elements at a time.
func (k *Ctx) dequantizeSIMD(n *ir.Node, l ir.QuantLayout, scalar func(e, si asm.Local)) bool {
	x, s, zp, y := n.In(0), n.In(1), n.In(2), n.Outputs[0]
	switch x.Type.DType {
	case ir.Int8, ir.Uint8, ir.Int16, ir.Uint16, ir.Int32:
	default:
		return false
	}
	if s.Type.DType != ir.Float32 || y.Type.DType != ir.Float32 || l.SI > 1 {
		return false
	}
	f := k.F
	k.quantLoopsVec(l, func(e, si asm.Local) {
		f.Get(e).I32Const(2).Op(wasm.OpcodeI32Shl) // store address
		k.load4Ints(x.Type.DType, k.Addr(x), e)
		if zp != nil {
			k.quantVecParam(zp, l, si)
			f.Vec(wasm.OpcodeVecI32x4Sub)
		}
		f.Vec(wasm.OpcodeVecF32x4ConvertI32x4S)
		k.quantVecParam(s, l, si)
		f.Vec(wasm.OpcodeVecF32x4Mul)
		f.V128Store(uint32(k.Addr(y)))
	}, scalar)
	return true
}
