package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Ordering and scans: ArgMax, ArgMin, TopK, CumSum, CumProd.

func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.ArgExtreme) error {
		return k.argExtreme(n, op)
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.TopK) error {
		return k.topK(n, op)
	})
	registerWorkspace(func(n *ir.Node, op *ir.TopK) int {
		// the ranked positions of one row: k int32s
		out := n.Outputs[0]
		if out == nil {
			out = n.Outputs[1]
		}
		axis, _ := ir.NormAxis(op.Axis, len(out.Type.Shape))
		return 4 * out.Type.Shape[axis]
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Cumulative) error {
		return k.cumulative(n, op)
	})
}

// ranks leaves 1 on the stack when v ranks before w: it is greater (or
// smaller), or, with nanFirst, NaN while w is not; without nanFirst NaN
// ranks after every number. v and w hold dt's compute type.
func (k *Ctx) ranks(dt ir.DType, greater, nanFirst bool, v, w asm.Local) {
	f := k.F
	ct, _ := computeType(dt)
	if ct == asm.F32 || ct == asm.F64 {
		x := fxFor(f, ct, false)
		if greater {
			x.get(v).get(w).gt()
		} else {
			x.get(v).get(w).lt()
		}
		if nanFirst {
			x.get(v).get(v).ne().get(w).get(w).eq()
		} else {
			x.get(v).get(v).eq().get(w).get(w).ne()
		}
		f.Op(wasm.OpcodeI32And).Op(wasm.OpcodeI32Or)
		return
	}
	f.Get(v).Get(w)
	if greater {
		f.Op(intCompareOp(dt, wasm.OpcodeI32GtS, wasm.OpcodeI32GtU, wasm.OpcodeI64GtS, wasm.OpcodeI64GtU))
	} else {
		f.Op(intCompareOp(dt, wasm.OpcodeI32LtS, wasm.OpcodeI32LtU, wasm.OpcodeI64LtS, wasm.OpcodeI64LtU))
	}
}

// sameValue leaves 1 when v equals w (NaN equals NaN).
func (k *Ctx) sameValue(dt ir.DType, v, w asm.Local) {
	f := k.F
	ct, _ := computeType(dt)
	if ct == asm.F32 || ct == asm.F64 {
		x := fxFor(f, ct, false)
		x.get(v).get(w).eq()
		x.get(v).get(v).ne().get(w).get(w).ne()
		f.Op(wasm.OpcodeI32And).Op(wasm.OpcodeI32Or)
		return
	}
	f.Get(v).Get(w).Op(iop(ct, wasm.OpcodeI32Eq, wasm.OpcodeI64Eq))
}

func orderable(op string, dt ir.DType) (wasm.ValueType, error) {
	if dt == ir.Bool {
		return 0, ir.NotSupportedf("%s of bool", op)
	}
	return computeType(dt)
}

func (k *Ctx) argExtreme(n *ir.Node, op *ir.ArgExtreme) error {
	f := k.F
	x, y := n.Inputs[0], n.Outputs[0]
	dt := x.Type.DType
	ct, err := orderable(op.OpType(), dt)
	if err != nil {
		return err
	}
	if y.Type.Shape.Size() == 0 {
		return nil
	}
	s := x.Type.Shape
	axis, _ := ir.NormAxis(op.Axis, len(s))
	outer, dim, inner := s[:axis].Size(), s[axis], s[axis+1:].Size()
	sz := int32(elemBytes(dt))
	step := int32(inner) * sz
	pb, py, p, bi, j, c1, c2 := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	best, v := f.Local(ct), f.Local(ct)
	f.I32Const(k.Addr(x)).Set(pb)
	f.I32Const(k.Addr(y)).Set(py)
	f.Counted(c1, outer, func() {
		f.Counted(c2, inner, func() {
			f.Get(pb)
			k.loadElem(dt, 0)
			f.Set(best)
			f.I32Const(0).Set(bi)
			f.Get(pb).Set(p)
			f.ForStep(j, 1, dim, 1, func() {
				f.AddI32(p, step)
				f.Get(p)
				k.loadElem(dt, 0)
				f.Set(v)
				k.ranks(dt, !op.Min, true, v, best)
				if op.SelectLast {
					k.sameValue(dt, v, best)
					f.Op(wasm.OpcodeI32Or)
				}
				f.If()
				f.Get(v).Set(best)
				f.Get(j).Set(bi)
				f.End()
			})
			f.Get(py).Get(bi).Op(wasm.OpcodeI64ExtendI32U).I64Store(0)
			f.AddI32(py, 8)
			f.AddI32(pb, sz)
		})
		f.AddI32(pb, int32(dim-1)*step)
	})
	return nil
}

func (k *Ctx) topK(n *ir.Node, op *ir.TopK) error {
	f := k.F
	x := n.Inputs[0]
	dt := x.Type.DType
	ct, err := orderable("TopK", dt)
	if err != nil {
		return err
	}
	s := x.Type.Shape
	axis, _ := ir.NormAxis(op.Axis, len(s))
	outer, dim, inner := s[:axis].Size(), s[axis], s[axis+1:].Size()
	kv := n.In(1)
	kk := op.K
	if kv != nil && kv.Const != nil {
		kk = int(kv.Const.Int(0))
	} else if kv != nil {
		if err := k.checkShape(kv, kk); err != nil {
			return err
		}
	}
	if kk == 0 || outer*inner == 0 {
		return nil
	}
	sz := int32(elemBytes(dt))
	step := int32(inner) * sz
	vals, idx := n.Outputs[0], n.Outputs[1]
	list := k.WorkspaceAddr()
	pb, pv, pi, cnt, j, p, r, jj, c1, c2 := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	v, w := f.Local(ct), f.Local(ct)
	// loadAt pushes x[.., list[q], ..] of the current row.
	loadAt := func(q func()) {
		f.Get(pb)
		q()
		f.I32Load(uint32(list)).I32Const(step).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
		k.loadElem(dt, 0)
	}
	f.I32Const(k.Addr(x)).Set(pb)
	if vals != nil {
		f.I32Const(k.Addr(vals)).Set(pv)
	}
	if idx != nil {
		f.I32Const(k.Addr(idx)).Set(pi)
	}
	f.Counted(c1, outer, func() {
		f.Counted(c2, inner, func() {
			f.I32Const(0).Set(cnt)
			// Keep the best k positions seen so far in list, ranked;
			// a newcomer moves only past strictly worse ones, so ties
			// keep the lower position first.
			f.Repeat(j, dim, func() {
				f.Get(pb).Get(j).I32Const(step).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
				k.loadElem(dt, 0)
				f.Set(v)
				f.Block()
				f.Get(cnt).I32Const(int32(kk)).Op(wasm.OpcodeI32Eq).If()
				loadAt(func() { f.I32Const(int32(4 * (kk - 1))) })
				f.Set(w)
				k.ranks(dt, op.Largest, op.Largest, v, w)
				f.Op(wasm.OpcodeI32Eqz).BrIf(1)
				f.Else()
				f.AddI32(cnt, 1)
				f.End()
				f.Get(cnt).I32Const(1).Op(wasm.OpcodeI32Sub).Set(p)
				f.Block().Loop()
				f.Get(p).Op(wasm.OpcodeI32Eqz).BrIf(1)
				loadAt(func() { f.Get(p).I32Const(4).Op(wasm.OpcodeI32Mul).I32Const(-4).Op(wasm.OpcodeI32Add) })
				f.Set(w)
				k.ranks(dt, op.Largest, op.Largest, v, w)
				f.Op(wasm.OpcodeI32Eqz).BrIf(1)
				f.Get(p).I32Const(4).Op(wasm.OpcodeI32Mul)
				f.Get(p).I32Const(4).Op(wasm.OpcodeI32Mul).I32Load(uint32(list - 4))
				f.I32Store(uint32(list))
				f.AddI32(p, -1)
				f.Br(0)
				f.End().End()
				f.Get(p).I32Const(4).Op(wasm.OpcodeI32Mul).Get(j).I32Store(uint32(list))
				f.End()
			})
			f.Repeat(r, kk, func() {
				f.Get(r).I32Const(4).Op(wasm.OpcodeI32Mul).I32Load(uint32(list)).Set(jj)
				if vals != nil {
					f.Get(pv).Get(r).I32Const(step).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
					f.Get(pb).Get(jj).I32Const(step).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
					k.copyElemBytes(sz)
				}
				if idx != nil {
					f.Get(pi).Get(r).I32Const(int32(inner * 8)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
					f.Get(jj).Op(wasm.OpcodeI64ExtendI32U).I64Store(0)
				}
			})
			f.AddI32(pb, sz)
			f.AddI32(pv, sz)
			f.AddI32(pi, 8)
		})
		f.AddI32(pb, int32(dim-1)*step)
		f.AddI32(pv, int32(kk-1)*step)
		f.AddI32(pi, int32((kk-1)*inner*8))
	})
	return nil
}

func (k *Ctx) cumulative(n *ir.Node, op *ir.Cumulative) error {
	f := k.F
	x, ax, y := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	dt := x.Type.DType
	ct, err := computeType(dt)
	if err != nil {
		return err
	}
	s := x.Type.Shape
	if s.Size() == 0 {
		return nil
	}
	red := ir.ScatterAdd
	if op.Prod {
		red = ir.ScatterMul
	}
	sz := elemBytes(dt)
	scan := func(axis int) error {
		outer, dim, inner := s[:axis].Size(), s[axis], s[axis+1:].Size()
		step := int32(inner * sz)
		o, ob, c1, c2, c3 := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		acc, v := f.Local(ct), f.Local(ct)
		f.I32Const(0).Set(ob)
		if op.Reverse {
			f.I32Const(int32(dim-1) * step).Set(ob)
		}
		var err error
		f.Counted(c1, outer, func() {
			f.Counted(c2, inner, func() {
				f.Get(ob).Set(o)
				constOf(f, ct, map[bool]float64{false: 0, true: 1}[op.Prod])
				f.Set(acc)
				f.Counted(c3, dim, func() {
					f.Get(o)
					k.loadElem(dt, uint32(k.Addr(x)))
					f.Set(v)
					if op.Exclusive {
						f.Get(o).Get(acc)
						k.storeElem(dt, uint32(k.Addr(y)))
					}
					if !op.Exclusive {
						f.Get(o)
					}
					if e := k.scatterCombine(dt, red, acc, v); e != nil {
						err = e
					}
					k.roundTo(dt)
					if op.Exclusive {
						f.Set(acc)
					} else {
						f.Tee(acc)
						k.storeElem(dt, uint32(k.Addr(y)))
					}
					if op.Reverse {
						f.AddI32(o, -step)
					} else {
						f.AddI32(o, step)
					}
				})
				f.AddI32(ob, int32(sz))
			})
			f.AddI32(ob, int32(dim-1)*step)
		})
		return err
	}
	if ax.Const != nil {
		axis, err := ir.NormAxis(int(ax.Const.Int(0)), len(s))
		if err != nil {
			return err
		}
		return scan(axis)
	}
	// The axis is run-time data: emit the scan for every axis and branch.
	pa := f.Local(asm.I32)
	f.I32Const(k.Addr(ax)).Set(pa)
	a := k.checkedIndex(ax.Type.DType, pa, len(s))
	for axis := range s {
		f.Get(a).I32Const(int32(axis)).Op(wasm.OpcodeI32Eq).If()
		if err := scan(axis); err != nil {
			return err
		}
		f.End()
	}
	return nil
}
