package codegen

import (
	"math/bits"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear over every
// quantized type (packed 4- and 2-bit integers and float8/float4 codes go
// through loadElemAt/storeElemAt and encodeSmallFloat, emit_subbyte.go).

// quantLoops walks x viewed as [Outer, Axis, Inner] (ir.QuantLayout): body
// sees e, the flat element index, and si, the index of its scale.
func (k *Ctx) quantLoops(l ir.QuantLayout, body func(e, si asm.Local)) {
	k.quantLoopsBy(l, 1, body, nil)
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
		k.roundTo(p)
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
			enc = k.encodeSmallFloat(out, op.Saturate, ir.RoundUp)
		}
		v := f.Local(asm.I32)
		// Float outputs are encoded here (with the saturate attribute) and
		// stored as raw codes.
		raw := out
		switch {
		case !out.IsInt() && out.Bits() == 4:
			raw = ir.Uint4
		case !out.IsInt():
			raw = ir.Uint8
		}
		var errs firstErr
		body := func(e, si asm.Local) {
			errs.check(k.loadElemAt(x.Type.DType, k.Addr(x), e))
			k.toPrecision(x.Type.DType, p)
			errs.check(k.loadElemAt(s.Type.DType, k.Addr(s), si))
			k.toPrecision(s.Type.DType, p)
			if wide {
				f.Op(wasm.OpcodeF64Div)
			} else {
				f.Op(wasm.OpcodeF32Div)
				k.roundTo(p)
			}
			if out.IsInt() {
				k.quantizeTail(ft, out, zp, si)
			} else {
				if wide {
					f.Op(wasm.OpcodeF32DemoteF64)
				}
				if out == ir.Float4E2M1 && zp != nil {
					// The reference adds float4 zero points (and skips float8 ones).
					errs.check(k.loadElemAt(zp.Type.DType, k.Addr(zp), si))
					f.Op(wasm.OpcodeF32Add)
				}
				f.Call(enc)
			}
			f.Set(v)
			errs.check(k.storeElemAt(raw, k.Addr(y), e, v))
		}
		if !k.SIMD() || !k.quantizeSIMD(n, l, p, body) {
			k.quantLoops(l, body)
		}
		return errs.err
	})

	registerKernel(func(k *Ctx, n *ir.Node, op *ir.DequantizeLinear) error {
		x, s, zp, y := n.In(0), n.In(1), n.In(2), n.Outputs[0]
		l, err := op.Layout(x.Type.Shape, s.Type.Shape)
		if err != nil {
			return err
		}
		f := k.F
		xt, out := x.Type.DType, y.Type.DType
		var errs firstErr
		body := func(e, si asm.Local) {
			k.elemOffset(out, e)
			errs.check(k.loadElemAt(xt, k.Addr(x), e))
			if !xt.IsFloat() {
				if zp != nil {
					errs.check(k.loadElemAt(xt, k.Addr(zp), si))
					f.Op(wasm.OpcodeI32Sub)
				}
				f.Op(wasm.OpcodeF32ConvertI32S)
			}
			errs.check(k.loadElemAt(s.Type.DType, k.Addr(s), si))
			f.Op(wasm.OpcodeF32Mul)
			errs.check(k.storeElem(out, uint32(k.Addr(y))))
		}
		if !k.SIMD() || !k.dequantizeSIMD(n, l, body) {
			k.quantLoops(l, body)
		}
		return errs.err
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
		k.loadElemAt(zp.Type.DType, k.Addr(zp), si)
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

// fromIntI32 converts an i32 (i32x4) to the float type of x.
func (x fx) fromIntI32() fx {
	return x.op(wasm.OpcodeF32ConvertI32S, wasm.OpcodeF64ConvertI32S, wasm.OpcodeVecF32x4ConvertI32x4S)
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
	if v := n.Out(1); v != nil {
		f.I32Const(k.Addr(v)).Get(scale).F32Store(0)
	}
	if v := n.Out(2); v != nil {
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

// quantLoopsBy is quantLoops with the inner dimension in groups of w:
// vec gets e and si of the group's first element (si advancing by w*SI),
// scalar the remaining elements one by one (none when w is 1).
func (k *Ctx) quantLoopsBy(l ir.QuantLayout, w int, vec, scalar func(e, si asm.Local)) {
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
			f.Counted(ic, l.Inner/w, func() {
				vec(e, si)
				f.AddI32(e, int32(w))
				if l.SI != 0 {
					f.AddI32(si, int32(w*l.SI))
				}
			})
			f.Counted(ic, l.Inner%w, func() {
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
	k.elemOffset(dt, e)
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
		k.loadElemAt(dt, k.Addr(v), si)
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
	k.quantLoopsBy(l, 4, func(e, si asm.Local) {
		f.Get(e).I32Const(int32(bits.TrailingZeros(uint(out.Bits() / 8)))).Op(wasm.OpcodeI32Shl) // store address
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
	k.quantLoopsBy(l, 4, func(e, si asm.Local) {
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
