package codegen

import (
	"math"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// The epilogue of the fused integer ops (ir.QOut) in float32: four
// accumulators per SIMD step, where the ONNX QLinear ops requantize two at
// a time in float64 (qRequant).

// qEpiF32 finishes accumulators of C(m, n) stored at base + (m*ld + n)
// elements. The channel is the row m (convolutions) or the column n
// (matrix products); mult and add hold one float32 per channel, or one.
type qEpiF32 struct {
	k          *Ctx
	base       asm.Local
	ld         int
	out        ir.QOut
	perRow     bool
	mult, add  asm.Local // table addresses (i32)
	multN      int       // 1: one value for all channels
	addN       int
	multC      float32 // the value when multN == 1
	addC       float32
	t, u       asm.Local // v128 scratch
	ts, us, lf asm.Local // scalar scratch
	// the residual of a QConv: C(m, n)'s at res + m*ld + n (bytes)
	res   *asm.Local
	resDT ir.DType
	rZero int32
	rMult float32
	// vec8 loads a row's parameters once into mv and av
	mv, av  *asm.Local
	hoisted bool
	// tMax bounds |t| before the activation (0: unknown), from the
	// weights, the input range and the parameters
	tMax float64
}

// bound sets tMax from the largest |accumulator| (for 8-bit inputs minus
// their zero point at most 255 each, times the weights' row sums).
func (e *qEpiF32) bound(maxAcc float64, mult, add *ir.Value) {
	mm, am := 0.0, 0.0
	for _, v := range mult.Const.F32() {
		mm = max(mm, math.Abs(float64(v)))
	}
	for _, v := range add.Const.F32() {
		am = max(am, math.Abs(float64(v)))
	}
	e.tMax = maxAcc*mm + am
	if e.res != nil {
		e.tMax += 65535 * math.Abs(float64(e.rMult))
	}
}

// maxRowSum is the largest sum of magnitudes of a packed weight row.
func maxRowSum(w *ir.Tensor) float64 {
	rows, kp := w.Shape[0], w.Shape[1]
	best := 0.0
	for r := 0; r < rows; r++ {
		s := 0.0
		for c := 0; c < kp; c++ {
			s += math.Abs(float64(w.Int(r*kp + c)))
		}
		best = max(best, s)
	}
	return best
}

// setResidual makes the epilogue add f32(r - zero) * mult of residual r.
func (e *qEpiF32) setResidual(r *ir.Value, zero int32, mult float32) {
	l := e.k.F.Local(asm.I32)
	e.res, e.resDT, e.rZero, e.rMult = &l, r.Type.DType, zero, mult
}

// resAddr pushes the address of the residual of row m, column n.
func (e *qEpiF32) resAddr(m, n asm.Local) {
	f := e.k.F
	f.Get(m).I32Const(int32(e.ld)).Op(wasm.OpcodeI32Mul).Get(n).Op(wasm.OpcodeI32Add)
	if e.resDT == ir.Int16 {
		f.I32Const(1).Op(wasm.OpcodeI32Shl)
	}
	f.Get(*e.res).Op(wasm.OpcodeI32Add)
}

// residual pushes the f32x4 residual term of columns n..n+3 of row m.
func (e *qEpiF32) residual(m, n asm.Local) {
	f := e.k.F
	e.resAddr(m, n)
	switch e.resDT {
	case ir.Int16:
		f.V128Load64Zero(0)
	case ir.Int8:
		f.V128Load32Zero(0).Vec(wasm.OpcodeVecI16x8ExtendLowI8x16S)
	default:
		f.V128Load32Zero(0).Vec(wasm.OpcodeVecI16x8ExtendLowI8x16U)
	}
	f.Vec(wasm.OpcodeVecI32x4ExtendLowI16x8S).I32x4Const(e.rZero).Vec(wasm.OpcodeVecI32x4Sub)
	f.Vec(wasm.OpcodeVecF32x4ConvertI32x4S).F32x4Const(e.rMult).Vec(wasm.OpcodeVecF32x4Mul)
}

func (e *qEpiF32) residualScalar(m, n asm.Local) {
	f := e.k.F
	e.resAddr(m, n)
	e.k.loadElem(e.resDT, 0)
	f.I32Const(e.rZero).Op(wasm.OpcodeI32Sub).Op(wasm.OpcodeF32ConvertI32S).F32Const(e.rMult).Op(wasm.OpcodeF32Mul)
}

func newQEpiF32(k *Ctx, base asm.Local, ld int, out ir.QOut, perRow bool, mult, add *ir.Value) *qEpiF32 {
	f := k.F
	e := &qEpiF32{k: k, base: base, ld: ld, out: out, perRow: perRow,
		mult: f.Local(asm.I32), add: f.Local(asm.I32), multN: mult.Type.Shape.Size(), addN: add.Type.Shape.Size(),
		t: f.Local(asm.V128), u: f.Local(asm.V128), ts: f.Local(asm.F32), us: f.Local(asm.F32), lf: f.Local(asm.I32)}
	e.multC, e.addC = mult.Const.F32()[0], add.Const.F32()[0]
	f.I32Const(k.Addr(mult)).Set(e.mult)
	f.I32Const(k.Addr(add)).Set(e.add)
	return e
}

// setChannelBase moves the tables to channel c0 (the first of a group).
func (e *qEpiF32) setChannelBase(mult, add *ir.Value, c0 asm.Local) {
	f := e.k.F
	for _, x := range []struct {
		l asm.Local
		v *ir.Value
		n int
	}{{e.mult, mult, e.multN}, {e.add, add, e.addN}} {
		f.I32Const(e.k.Addr(x.v))
		if x.n > 1 {
			f.Get(c0).I32Const(2).Op(wasm.OpcodeI32Shl).Op(wasm.OpcodeI32Add)
		}
		f.Set(x.l)
	}
}

// hoist loads row m's parameters into locals that param then reads.
func (e *qEpiF32) hoist(m, n asm.Local) {
	if e.mv == nil {
		mv, av := e.k.F.Local(asm.V128), e.k.F.Local(asm.V128)
		e.mv, e.av = &mv, &av
	}
	e.param(e.mult, e.multN, e.multC, m, n)
	e.k.F.Set(*e.mv)
	e.param(e.add, e.addN, e.addC, m, n)
	e.k.F.Set(*e.av)
	e.hoisted = true
}

// param pushes the f32x4 of a channel parameter for columns n..n+3 of row m.
func (e *qEpiF32) param(tab asm.Local, count int, c float32, m, n asm.Local) {
	f := e.k.F
	if e.hoisted && count > 1 {
		if tab == e.mult {
			f.Get(*e.mv)
		} else {
			f.Get(*e.av)
		}
		return
	}
	switch {
	case count == 1:
		f.F32x4Const(c)
	case e.perRow:
		f.Get(m).I32Const(2).Op(wasm.OpcodeI32Shl).Get(tab).Op(wasm.OpcodeI32Add).V128Load32Splat(0)
	default:
		f.Get(n).I32Const(2).Op(wasm.OpcodeI32Shl).Get(tab).Op(wasm.OpcodeI32Add).V128Load(0)
	}
}

func (e *qEpiF32) paramScalar(tab asm.Local, count int, c float32, m, n asm.Local) {
	f := e.k.F
	if count == 1 {
		f.F32Const(c)
		return
	}
	i := n
	if e.perRow {
		i = m
	}
	f.Get(i).I32Const(2).Op(wasm.OpcodeI32Shl).Get(tab).Op(wasm.OpcodeI32Add).F32Load(0)
}

// finishVec turns the f32x4 t of channel parameters already applied into
// the output vector: activation, then rounding for integer outputs (an
// i32x4 of saturated values is left in t).
func (e *qEpiF32) activate() {
	f := e.k.F
	o := e.out
	if o.Leaky {
		// t < 0 ? t*alpha : t
		f.Get(e.t).F32x4Const(o.Alpha).Vec(wasm.OpcodeVecF32x4Mul)
		f.Get(e.t)
		f.Get(e.t).V128Const([16]byte{}).Vec(wasm.OpcodeVecF32x4Lt)
		f.Vec(wasm.OpcodeVecV128Bitselect).Set(e.t)
	}
	// pmax/pmin are t < lo ? lo : t and hi < t ? hi : t, as in QOut.Finish.
	if o.DType == ir.Float32 {
		if !math.IsInf(float64(o.Lo), -1) {
			f.Get(e.t).F32x4Const(o.Lo).Vec(wasm.OpcodeVecF32x4Pmax).Set(e.t)
		}
		if !math.IsInf(float64(o.Hi), 1) {
			f.Get(e.t).F32x4Const(o.Hi).Vec(wasm.OpcodeVecF32x4Pmin).Set(e.t)
		}
		return
	}
	// Integer outputs: clamping t to the range the type leaves for
	// round(t) (integer bounds commute with rounding) makes the
	// saturation unneeded, and keeps t small enough for 1.5*2^23 + t to
	// round t to even in its low bits: then round(t) + zero is one
	// integer subtraction (i32x4.trunc_sat_f32x4_s costs 6 x86
	// instructions in V8).
	// The clamps may go when the activation's bounds are the type's (ReLU,
	// ReLU6 over the output's range) and |t| is known to be small: the
	// saturating narrowing then clamps round(t) + zero the same way.
	lo, hi := e.intBounds()
	tlo, thi := ir.QuantRange(o.DType)
	small := e.tMax > 0 && e.tMax*max(1, math.Abs(float64(o.Alpha))) < 1<<21
	f.Get(e.t)
	if !small || math.RoundToEven(float64(o.Lo))+float64(o.Zero) > float64(tlo) {
		f.F32x4Const(lo).Vec(wasm.OpcodeVecF32x4Pmax)
	}
	if !small || math.RoundToEven(float64(o.Hi))+float64(o.Zero) < float64(thi) {
		f.F32x4Const(hi).Vec(wasm.OpcodeVecF32x4Pmin)
	}
	f.F32x4Const(roundMagic).Vec(wasm.OpcodeVecF32x4Add)
	f.I32x4Const(int32(math.Float32bits(roundMagic)) - o.Zero).Vec(wasm.OpcodeVecI32x4Sub).Set(e.t)
}

// roundMagic is 1.5*2^23: for |t| < 2^22, the float32 sum t + roundMagic
// holds roundEven(t) in its low mantissa bits.
const roundMagic = 12582912

// intBounds are the activation's bounds for an integer output, narrowed
// to the values whose rounding plus the zero point fits the type.
func (e *qEpiF32) intBounds() (lo, hi float32) {
	o := e.out
	tlo, thi := ir.QuantRange(o.DType)
	return max(o.Lo, float32(tlo-int64(o.Zero))), min(o.Hi, float32(thi-int64(o.Zero)))
}

// linear computes t = f32(acc)*mult + add for columns n..n+3 of row m.
func (e *qEpiF32) linear(m, n, acc asm.Local) {
	f := e.k.F
	f.Get(acc).Vec(wasm.OpcodeVecF32x4ConvertI32x4S)
	e.param(e.mult, e.multN, e.multC, m, n)
	f.Vec(wasm.OpcodeVecF32x4Mul)
	e.param(e.add, e.addN, e.addC, m, n)
	f.Vec(wasm.OpcodeVecF32x4Add)
	if e.res != nil {
		e.residual(m, n)
		f.Vec(wasm.OpcodeVecF32x4Add)
	}
	f.Set(e.t)
	e.activate()
}

func (e *qEpiF32) addr(m, n asm.Local, size int) {
	f := e.k.F
	f.Get(m).I32Const(int32(e.ld)).Op(wasm.OpcodeI32Mul).Get(n).Op(wasm.OpcodeI32Add)
	switch size {
	case 2:
		f.I32Const(1).Op(wasm.OpcodeI32Shl)
	case 4:
		f.I32Const(2).Op(wasm.OpcodeI32Shl)
	}
	f.Get(e.base).Op(wasm.OpcodeI32Add)
}

// outSize is the output's element size in bytes.
func (e *qEpiF32) outSize() int { return e.out.DType.Bits() / 8 }

// narrow packs the i32x4 on the stack (twice: a and b) into bytes.
func (e *qEpiF32) narrow() {
	f := e.k.F
	f.Vec(wasm.OpcodeVecI16x8NarrowI32x4S).Set(e.u)
	f.Get(e.u).Get(e.u)
	if e.out.DType == ir.Int8 {
		f.Vec(wasm.OpcodeVecI8x16NarrowI16x8S)
	} else {
		f.Vec(wasm.OpcodeVecI8x16NarrowI16x8U)
	}
}

func (e *qEpiF32) vec(m, n, acc asm.Local) {
	f := e.k.F
	e.linear(m, n, acc)
	if e.out.DType == ir.Float32 {
		e.addr(m, n, 4)
		f.Get(e.t).V128Store(0)
		return
	}
	e.addr(m, n, e.outSize())
	f.Get(e.t).Get(e.t)
	if e.out.DType == ir.Int16 {
		f.Vec(wasm.OpcodeVecI16x8NarrowI32x4S).V128Store64Lane(0, 0)
		return
	}
	e.narrow()
	f.V128Store32Lane(0, 0)
}

// vec8 finishes columns n..n+7 of row m from two accumulators.
func (e *qEpiF32) vec8(m, n, acc0, acc1 asm.Local) {
	f := e.k.F
	if e.out.DType == ir.Float32 {
		e.vec(m, n, acc0)
		f.Get(n).I32Const(4).Op(wasm.OpcodeI32Add).Set(e.lf)
		e.vec(m, e.lf, acc1)
		return
	}
	if e.perRow {
		// one channel: its parameters are loaded once for both halves
		e.hoist(m, n)
		defer func() { e.hoisted = false }()
	}
	e.linear(m, n, acc0)
	f.Get(e.t).Set(acc0)
	f.Get(n).I32Const(4).Op(wasm.OpcodeI32Add).Set(e.lf)
	e.linear(m, e.lf, acc1)
	e.addr(m, n, e.outSize())
	f.Get(acc0).Get(e.t)
	if e.out.DType == ir.Int16 {
		f.Vec(wasm.OpcodeVecI16x8NarrowI32x4S).V128Store(0)
		return
	}
	e.narrow()
	f.V128Store64Lane(0, 0)
}

func (e *qEpiF32) scalar(m, n, acc asm.Local) {
	f := e.k.F
	f.Get(acc).Op(wasm.OpcodeF32ConvertI32S)
	e.paramScalar(e.mult, e.multN, e.multC, m, n)
	f.Op(wasm.OpcodeF32Mul)
	e.paramScalar(e.add, e.addN, e.addC, m, n)
	f.Op(wasm.OpcodeF32Add)
	if e.res != nil {
		e.residualScalar(m, n)
		f.Op(wasm.OpcodeF32Add)
	}
	f.Set(e.ts)
	e.addr(m, n, e.outSize())
	f.Set(e.lf)
	e.finishScalar(e.lf, 0)
}

// finishScalar applies the activation to the f32 in ts and stores the
// output at p + off.
func (e *qEpiF32) finishScalar(p asm.Local, off uint32) {
	f := e.k.F
	o := e.out
	if o.Leaky {
		f.Get(e.ts).F32Const(o.Alpha).Op(wasm.OpcodeF32Mul).Get(e.ts)
		f.Get(e.ts).F32Const(0).Op(wasm.OpcodeF32Lt).Select().Set(e.ts)
	}
	if !math.IsInf(float64(o.Lo), -1) {
		// t < lo ? lo : t
		f.F32Const(o.Lo).Get(e.ts).Get(e.ts).F32Const(o.Lo).Op(wasm.OpcodeF32Lt).Select().Set(e.ts)
	}
	if !math.IsInf(float64(o.Hi), 1) {
		f.F32Const(o.Hi).Get(e.ts).F32Const(o.Hi).Get(e.ts).Op(wasm.OpcodeF32Lt).Select().Set(e.ts)
	}
	f.Get(p)
	if o.DType == ir.Float32 {
		f.Get(e.ts).F32Store(off)
		return
	}
	f.Get(e.ts).Op(wasm.OpcodeF32Nearest).F32Const(float32(o.Zero)).Op(wasm.OpcodeF32Add)
	lo, hi := ir.QuantRange(o.DType)
	f.F32Const(float32(lo)).Op(wasm.OpcodeF32Max).F32Const(float32(hi)).Op(wasm.OpcodeF32Min)
	f.Misc(wasm.OpcodeMiscI32TruncSatF32S)
	if o.DType == ir.Int16 {
		f.I32Store16(off)
	} else {
		f.I32Store8(off)
	}
}

// qadd: 16 elements per SIMD step, widened to four f32x4 per input.
func (k *Ctx) qadd(n *ir.Node, op *ir.QAdd) error {
	f := k.F
	a, b, y := n.In(0), n.In(1), n.Outputs[0]
	total := y.Type.Shape.Size()
	e := &qEpiF32{k: k, out: op.Out, t: f.Local(asm.V128), u: f.Local(asm.V128), ts: f.Local(asm.F32)}
	pa, pb, py, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(k.Addr(a)).Set(pa)
	f.I32Const(k.Addr(b)).Set(pb)
	f.I32Const(k.Addr(y)).Set(py)
	ysz := int32(y.Type.DType.Bits() / 8)
	rest := total
	if k.SIMD() && total >= 16 {
		va, vb := f.Local(asm.V128), f.Local(asm.V128)
		q := [4]asm.Local{f.Local(asm.V128), f.Local(asm.V128), f.Local(asm.V128), f.Local(asm.V128)}
		// quarter pushes f32x4 (x[4i..4i+3] - z) * mult of the 16 bytes in v.
		quarter := func(v asm.Local, dt ir.DType, z int32, mult float32, i int) {
			lo8, hi8 := wasm.OpcodeVecI16x8ExtendLowI8x16U, wasm.OpcodeVecI16x8ExtendHighI8x16U
			if dt == ir.Int8 {
				lo8, hi8 = wasm.OpcodeVecI16x8ExtendLowI8x16S, wasm.OpcodeVecI16x8ExtendHighI8x16S
			}
			f.Get(v)
			if i < 2 {
				f.Vec(lo8)
			} else {
				f.Vec(hi8)
			}
			if i%2 == 0 {
				f.Vec(wasm.OpcodeVecI32x4ExtendLowI16x8S)
			} else {
				f.Vec(wasm.OpcodeVecI32x4ExtendHighI16x8S)
			}
			f.I32x4Const(z).Vec(wasm.OpcodeVecI32x4Sub).Vec(wasm.OpcodeVecF32x4ConvertI32x4S)
			f.F32x4Const(mult).Vec(wasm.OpcodeVecF32x4Mul)
		}
		f.Counted(c, total/16, func() {
			f.Get(pa).V128Load(0).Set(va)
			f.Get(pb).V128Load(0).Set(vb)
			for i := 0; i < 4; i++ {
				quarter(va, a.Type.DType, op.AZero, op.AMult, i)
				quarter(vb, b.Type.DType, op.BZero, op.BMult, i)
				f.Vec(wasm.OpcodeVecF32x4Add).Set(e.t)
				e.activate()
				if op.Out.DType == ir.Float32 {
					f.Get(py).Get(e.t).V128Store(uint32(16 * i))
				} else {
					f.Get(e.t).Set(q[i])
				}
			}
			if op.Out.DType != ir.Float32 {
				f.Get(py)
				f.Get(q[0]).Get(q[1]).Vec(wasm.OpcodeVecI16x8NarrowI32x4S)
				f.Get(q[2]).Get(q[3]).Vec(wasm.OpcodeVecI16x8NarrowI32x4S)
				if op.Out.DType == ir.Int8 {
					f.Vec(wasm.OpcodeVecI8x16NarrowI16x8S)
				} else {
					f.Vec(wasm.OpcodeVecI8x16NarrowI16x8U)
				}
				f.V128Store(0)
			}
			f.AddI32(pa, 16)
			f.AddI32(pb, 16)
			f.AddI32(py, 16*ysz)
		})
		rest = total % 16
	}
	load := func(p asm.Local, dt ir.DType, z int32, mult float32) {
		f.Get(p)
		if dt == ir.Int8 {
			f.I32Load8S(0)
		} else {
			f.I32Load8U(0)
		}
		f.I32Const(z).Op(wasm.OpcodeI32Sub).Op(wasm.OpcodeF32ConvertI32S).F32Const(mult).Op(wasm.OpcodeF32Mul)
	}
	f.Counted(c, rest, func() {
		load(pa, a.Type.DType, op.AZero, op.AMult)
		load(pb, b.Type.DType, op.BZero, op.BMult)
		f.Op(wasm.OpcodeF32Add).Set(e.ts)
		e.finishScalar(py, 0)
		f.AddI32(pa, 1)
		f.AddI32(pb, 1)
		f.AddI32(py, ysz)
	})
	return nil
}

func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.QAdd) error { return k.qadd(n, op) })
	// QConv and QMatMul share the QLinear kernels (ops_quant_linear.go).
	registerWorkspace(func(n *ir.Node, op *ir.QConv) int {
		p, err := planQConv(n)
		if err != nil {
			return 0
		}
		return p.workspace()
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.QConv) error { return k.qconv(n) })
	registerWorkspace(func(n *ir.Node, op *ir.QMatMul) int {
		p, err := planQMatMul(n)
		if err != nil {
			return 0
		}
		return p.aBytes + p.bBytes
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.QMatMul) error { return k.qmatmul(n) })
}
