package codegen

import (
	"math"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Pooling over N spatial dimensions, with bounds checked per tap so that
// padding, dilation and ceil mode need no special cases.

func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Pool) error {
		x := n.Inputs[0]
		g, err := op.Geometry(x.Type.Shape)
		if err != nil {
			return err
		}
		dt := x.Type.DType
		ct, err := computeType(dt)
		if err != nil {
			return err
		}
		if op.Kind != ir.PoolMax && ct != asm.F32 && ct != asm.F64 {
			return ir.NotSupportedf("%s on %s", op.OpType(), dt)
		}
		if maxPoolSIMDFits(k, n, op, g) {
			return k.maxPoolSIMD(n, g)
		}
		return k.pool(n, op, g, ct)
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.GlobalPool) error {
		return k.globalPool(n, op)
	})
}

func (k *Ctx) pool(n *ir.Node, op *ir.Pool, g *ir.Geometry, ct wasm.ValueType) error {
	f := k.F
	x, y := n.Inputs[0], n.Outputs[0]
	var idxOut *ir.Value
	if len(n.Outputs) > 1 {
		idxOut = n.Out(1)
	}
	dt := x.Type.DType
	sz := int32(elemBytes(dt))
	nd := len(g.In)
	planes := x.Type.Shape[0] * x.Type.Shape[1]
	inSize := ir.Shape(g.In).Size()
	inStr := ir.Shape(g.In).Strides()
	float := ct == asm.F32 || ct == asm.F64
	xf := fxFor(f, ct, false)
	outSize := ir.Shape(g.Out).Size()
	taps := ir.Shape(g.Kernel).Size()
	var err error
	k.Parallel(planes, float64(outSize*taps)*nsPerScalar, func(s Span) {
		plane, xPlane, yPtr, iPtr := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		acc := f.Local(ct)
		cnt := f.Local(asm.I32)
		best := f.Local(asm.I32) // flat index within the plane of the max
		oc := make([]asm.Local, nd)
		base := make([]asm.Local, nd)
		coord := make([]asm.Local, nd)
		for d := range oc {
			oc[d], base[d], coord[d] = f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		}
		s.Lo()
		f.Set(plane)
		s.Base(k.Addr(y), int32(outSize)*sz)
		f.Set(yPtr)
		if idxOut != nil {
			s.Base(k.Addr(idxOut), int32(outSize)*8)
			f.Set(iPtr)
		}
		pc := f.Local(asm.I32)
		s.Counted(pc, func() {
			f.Get(plane).I32Const(int32(inSize) * sz).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(x)).Op(wasm.OpcodeI32Add).Set(xPlane)
			var outLevel func(d int)
			outLevel = func(d int) {
				if d == nd {
					// init
					switch {
					case op.Kind == ir.PoolMax && float:
						constOf(f, ct, math.Inf(-1))
					case op.Kind == ir.PoolMax:
						intConst(f, ct, minIntOf(dt))
					default:
						constOf(f, ct, 0)
					}
					f.Set(acc)
					f.SetI32(cnt, 0)
					f.SetI32(best, -1)
					k.poolTaps(op, g, dt, ct, xPlane, base, coord, inStr, acc, cnt, best)
					if err != nil {
						return
					}
					f.Get(yPtr)
					switch op.Kind {
					case ir.PoolAverage:
						xf.get(acc)
						f.Get(cnt)
						convert(f, asm.I32, ct, false)
						xf.div()
					case ir.PoolLp:
						t := f.Local(ct)
						xf.log(acc).c(1 / float64(op.P)).mul().set(t)
						xf.exp(t)
						// 0 stays 0 (log would give -inf, exp 0 too: fine)
					default:
						f.Get(acc)
					}
					if e := k.storeElem(dt, 0); e != nil {
						err = e
					}
					f.AddI32(yPtr, sz)
					if idxOut != nil {
						k.emitPoolIndex(op, g, plane, best, iPtr)
						f.AddI32(iPtr, 8)
					}
					return
				}
				c := f.Local(asm.I32)
				f.SetI32(oc[d], 0)
				f.Counted(c, g.Out[d], func() {
					f.Get(oc[d]).I32Const(int32(g.Strides[d])).Op(wasm.OpcodeI32Mul).I32Const(int32(g.PadBegin[d])).Op(wasm.OpcodeI32Sub).Set(base[d])
					outLevel(d + 1)
					f.AddI32(oc[d], 1)
				})
			}
			outLevel(0)
			f.AddI32(plane, 1)
		})
	})
	return err
}

func minIntOf(dt ir.DType) int64 {
	switch dt {
	case ir.Int8:
		return math.MinInt8
	case ir.Int16:
		return math.MinInt16
	case ir.Int32:
		return math.MinInt32
	case ir.Int64:
		return math.MinInt64
	}
	return 0
}

// poolTaps accumulates the window of one output position.
func (k *Ctx) poolTaps(op *ir.Pool, g *ir.Geometry, dt ir.DType, ct wasm.ValueType, xPlane asm.Local, base, coord []asm.Local, inStr []int, acc, cnt, best asm.Local) {
	f := k.F
	nd := len(g.In)
	sz := int32(elemBytes(dt))
	float := ct == asm.F32 || ct == asm.F64
	xf := fxFor(f, ct, false)
	lin := f.Local(asm.I32)
	v := f.Local(ct)
	var tap func(d int)
	tap = func(d int) {
		if d == nd {
			// inside the input?
			f.I32Const(1)
			for e := 0; e < nd; e++ {
				f.Get(coord[e]).I32Const(int32(g.In[e])).Op(wasm.OpcodeI32LtU).Op(wasm.OpcodeI32And)
			}
			f.If()
			f.SetI32(lin, 0)
			for e := 0; e < nd; e++ {
				f.Get(lin).Get(coord[e]).I32Const(int32(inStr[e])).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(lin)
			}
			f.Get(lin).I32Const(sz).Op(wasm.OpcodeI32Mul).Get(xPlane).Op(wasm.OpcodeI32Add)
			k.loadElem(dt, 0)
			f.Set(v)
			switch op.Kind {
			case ir.PoolMax:
				// strictly greater keeps the first max; NaN propagates
				if float {
					xf.get(v).get(acc).gt().get(v).get(v).ne().f.Op(wasm.OpcodeI32Or)
					f.Get(best).I32Const(0).Op(wasm.OpcodeI32LtS).Op(wasm.OpcodeI32Or)
				} else {
					f.Get(v).Get(acc).Op(iop(ct, map[bool]wasm.Opcode{true: wasm.OpcodeI32GtU, false: wasm.OpcodeI32GtS}[dt.IsUnsigned()], map[bool]wasm.Opcode{true: wasm.OpcodeI64GtU, false: wasm.OpcodeI64GtS}[dt.IsUnsigned()]))
					f.Get(best).I32Const(0).Op(wasm.OpcodeI32LtS).Op(wasm.OpcodeI32Or)
				}
				f.If().Get(v).Set(acc).Get(lin).Set(best).End()
			case ir.PoolAverage:
				xf.get(acc).get(v).add().set(acc)
			case ir.PoolLp:
				t := f.Local(ct)
				xf.get(v).abs().set(t)
				if op.P == 2 {
					xf.get(acc).get(t).get(t).mul().add().set(acc)
				} else {
					l := f.Local(ct)
					xf.log(t).c(float64(op.P)).mul().set(l)
					xf.get(acc).exp(l).add().set(acc)
				}
			}
			f.AddI32(cnt, 1)
			if op.CountIncludePad {
				f.Else()
				// inside the explicit padding counts too
				f.I32Const(1)
				for e := 0; e < nd; e++ {
					f.Get(coord[e]).I32Const(int32(g.PadBegin[e])).Op(wasm.OpcodeI32Add).I32Const(int32(g.In[e] + g.PadBegin[e] + g.PadEnd[e])).Op(wasm.OpcodeI32LtU).Op(wasm.OpcodeI32And)
				}
				f.If().AddI32(cnt, 1).End()
			}
			f.End()
			return
		}
		c := f.Local(asm.I32)
		f.Get(base[d]).Set(coord[d])
		f.Counted(c, g.Kernel[d], func() {
			tap(d + 1)
			f.AddI32(coord[d], int32(g.Dilations[d]))
		})
	}
	tap(0)
}

// emitPoolIndex stores MaxPool's int64 index of the max: flat over the
// whole input, row-major (storage_order 0) or column-major within the plane.
func (k *Ctx) emitPoolIndex(op *ir.Pool, g *ir.Geometry, plane, best, iPtr asm.Local) {
	f := k.F
	inSize := int32(ir.Shape(g.In).Size())
	f.Get(iPtr)
	if nd := len(g.In); op.StorageOrder == 1 && nd >= 2 {
		// peel the row-major coordinates off from the innermost one and
		// weigh them column-major: sum p_d * prod_{e<d} In[e]
		rem, col := f.Local(asm.I32), f.Local(asm.I32)
		f.Get(best).Set(rem)
		f.SetI32(col, 0)
		for d := nd - 1; d >= 0; d-- {
			colStr := int32(ir.Shape(g.In[:d]).Size())
			f.Get(col).Get(rem).I32Const(int32(g.In[d])).Op(wasm.OpcodeI32RemU).I32Const(colStr).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(col)
			f.Get(rem).I32Const(int32(g.In[d])).Op(wasm.OpcodeI32DivU).Set(rem)
		}
		f.Get(col)
	} else {
		f.Get(best)
	}
	f.Get(plane).I32Const(inSize).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
	f.Op(wasm.OpcodeI64ExtendI32S).I64Store(0)
}

func (k *Ctx) globalPool(n *ir.Node, op *ir.GlobalPool) error {
	f := k.F
	x, y := n.Inputs[0], n.Outputs[0]
	dt := x.Type.DType
	ct, err := computeType(dt)
	if err != nil {
		return err
	}
	if ct != asm.F32 && ct != asm.F64 {
		return ir.NotSupportedf("%s on %s", op.OpType(), dt)
	}
	planes := x.Type.Shape[0] * x.Type.Shape[1]
	inner := x.Type.Shape[2:].Size()
	sz := int32(elemBytes(dt))
	xf := fxFor(f, ct, false)
	vec := dt == ir.Float32 && k.SIMD() && inner >= 8 && op.Kind != ir.PoolLp
	unitNs := float64(inner) * nsPerScalar
	if vec {
		unitNs = float64(inner) * nsPerLaneOp / 4
	}
	var err2 error
	k.Parallel(planes, unitNs, func(s Span) {
		px, py := f.Local(asm.I32), f.Local(asm.I32)
		acc := f.Local(ct)
		v := f.Local(ct)
		s.Base(k.Addr(x), int32(inner)*sz)
		f.Set(px)
		s.Base(k.Addr(y), sz)
		f.Set(py)
		vacc := f.Local(asm.V128)
		pc, ic := f.Local(asm.I32), f.Local(asm.I32)
		s.Counted(pc, func() {
			init := 0.0
			if op.Kind == ir.PoolMax {
				init = math.Inf(-1)
			}
			constOf(f, ct, init)
			f.Set(acc)
			rest := inner
			if vec {
				vx := fxFor(f, ct, true)
				vx.c(init).set(vacc)
				f.Counted(ic, inner/4, func() {
					vx.get(vacc).f.Get(px).V128Load(0)
					if op.Kind == ir.PoolMax {
						vx.max()
					} else {
						vx.add()
					}
					vx.set(vacc)
					f.AddI32(px, 16)
				})
				for l := byte(0); l < 4; l++ {
					xf.get(acc).f.Get(vacc).Lane(wasm.OpcodeVecF32x4ExtractLane, l)
					if op.Kind == ir.PoolMax {
						xf.max()
					} else {
						xf.add()
					}
					xf.set(acc)
				}
				rest = inner % 4
			}
			f.Counted(ic, rest, func() {
				f.Get(px)
				if e := k.loadElem(dt, 0); e != nil {
					err2 = e
				}
				f.Set(v)
				switch op.Kind {
				case ir.PoolMax:
					xf.get(acc).get(v).max().set(acc)
				case ir.PoolAverage:
					xf.get(acc).get(v).add().set(acc)
				case ir.PoolLp:
					t := f.Local(ct)
					xf.get(v).abs().set(t)
					l := f.Local(ct)
					xf.log(t).c(float64(op.P)).mul().set(l)
					xf.get(acc).exp(l).add().set(acc)
				}
				f.AddI32(px, sz)
			})
			f.Get(py)
			switch op.Kind {
			case ir.PoolAverage:
				xf.get(acc).c(float64(inner)).div()
			case ir.PoolLp:
				l := f.Local(ct)
				xf.log(acc).c(1 / float64(op.P)).mul().set(l)
				xf.exp(l)
			default:
				f.Get(acc)
			}
			k.storeElem(dt, 0)
			f.AddI32(py, sz)
		})
	})
	return err2
}
