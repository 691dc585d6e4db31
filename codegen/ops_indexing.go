package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Indexed reads and writes: GatherElements, GatherND, ScatterElements,
// ScatterND, TensorScatter. Every index read at run time is wrapped (when
// negative) and checked: an index out of range fails the run.

func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.GatherElements) error {
		return k.gatherElements(n, op)
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.GatherND) error {
		return k.gatherND(n, op)
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.ScatterElements) error {
		return k.scatterElements(n, op)
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.ScatterND) error {
		return k.scatterND(n, op)
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.TensorScatter) error {
		return k.tensorScatter(n, op)
	})
}

// byteMovable rejects dtypes the byte-copying kernels cannot move.
func byteMovable(op string, dt ir.DType) error {
	if dt.Bits() < 8 || dt == ir.String {
		return ir.NotSupportedf("%s of %s", op, dt)
	}
	return nil
}

// forEachElem walks every element of shape in row-major order; body sees one
// local per stream holding the address of the element.
func (k *Ctx) forEachElem(shape ir.Shape, streams []stream, body func(ptrs []asm.Local)) {
	if shape.Size() == 0 {
		return
	}
	f := k.F
	cshape, cstreams := collapse(shape, streams)
	k.nest(cshape, cstreams, func(ptrs []asm.Local, count int, st []int) {
		c := f.Local(asm.I32)
		f.Counted(c, count, func() {
			body(ptrs)
			for i, s := range cstreams {
				if d := st[i] * s.size; d != 0 {
					f.AddI32(ptrs[i], int32(d))
				}
			}
		})
	})
}

// checkedIndex loads the int32 or int64 index at p, wraps a negative one
// by n and fails the run unless it then lies in [0, n). It returns the
// local holding the index.
func (k *Ctx) checkedIndex(dt ir.DType, p asm.Local, n int) asm.Local {
	i := k.F.Local(asm.I32)
	k.checkIndex(dt, p, n, i)
	return i
}

// checkIndex is checkedIndex into the i32 local i.
func (k *Ctx) checkIndex(dt ir.DType, p asm.Local, n int, i asm.Local) {
	f := k.F
	k.loadIndex(dt, p)
	f.Set(i)
	f.Get(i).I32Const(int32(n)).Op(wasm.OpcodeI32Add).Get(i).Get(i).I32Const(0).Op(wasm.OpcodeI32LtS).Select().Tee(i)
	f.I32Const(int32(n)).Op(wasm.OpcodeI32GeU)
	k.Fail(abi.ErrIndexOutOfRange)
}

// intCompareOp is intOp for dt's compute type. Only uint32 and uint64 need
// the unsigned comparison: narrower types load zero-extended.
func intCompareOp(dt ir.DType, s32, u32, s64, u64 wasm.Opcode) wasm.Opcode {
	ct, _ := computeType(dt)
	return intOp(ct, dt == ir.Uint32 || dt == ir.Uint64, s32, u32, s64, u64)
}

// scatterCombine leaves red(a, b) on the stack for values of dt held in locals of
// its compute type. bool adds as "or" and multiplies as "and", like numpy.
func (k *Ctx) scatterCombine(dt ir.DType, red ir.ScatterReduction, a, b asm.Local) error {
	f := k.F
	ct, err := computeType(dt)
	if err != nil {
		return err
	}
	if ct == asm.F32 || ct == asm.F64 {
		x := fxFor(f, ct, false)
		x.get(a).get(b)
		switch red {
		case ir.ScatterAdd:
			x.add()
		case ir.ScatterMul:
			x.mul()
		case ir.ScatterMax:
			x.max()
		case ir.ScatterMin:
			x.min()
		}
		return nil
	}
	if dt == ir.Bool {
		f.Get(a).Get(b)
		if red == ir.ScatterAdd || red == ir.ScatterMax {
			f.Op(wasm.OpcodeI32Or)
		} else {
			f.Op(wasm.OpcodeI32And)
		}
		return nil
	}
	switch red {
	case ir.ScatterAdd:
		f.Get(a).Get(b).Op(iop(ct, wasm.OpcodeI32Add, wasm.OpcodeI64Add))
	case ir.ScatterMul:
		f.Get(a).Get(b).Op(iop(ct, wasm.OpcodeI32Mul, wasm.OpcodeI64Mul))
	case ir.ScatterMax:
		f.Get(a).Get(b).Get(a).Get(b).Op(intCompareOp(dt, wasm.OpcodeI32GtS, wasm.OpcodeI32GtU, wasm.OpcodeI64GtS, wasm.OpcodeI64GtU)).Select()
	case ir.ScatterMin:
		f.Get(a).Get(b).Get(a).Get(b).Op(intCompareOp(dt, wasm.OpcodeI32LtS, wasm.OpcodeI32LtU, wasm.OpcodeI64LtS, wasm.OpcodeI64LtU)).Select()
	}
	return nil
}

// scatterUpdate writes the element at src into the element at dst (addresses in
// locals), combining the two under red.
func (k *Ctx) scatterUpdate(dt ir.DType, red ir.ScatterReduction, dst, src asm.Local) error {
	f := k.F
	if red == ir.ScatterNone || red == "" {
		f.Get(dst).Get(src)
		k.copyElemBytes(int32(elemBytes(dt)))
		return nil
	}
	ct, err := computeType(dt)
	if err != nil {
		return err
	}
	a, b := f.Local(ct), f.Local(ct)
	f.Get(dst)
	k.loadElem(dt, 0)
	f.Set(a)
	f.Get(src)
	k.loadElem(dt, 0)
	f.Set(b)
	f.Get(dst)
	if err := k.scatterCombine(dt, red, a, b); err != nil {
		return err
	}
	return k.storeElem(dt, 0)
}

func (k *Ctx) gatherElements(n *ir.Node, op *ir.GatherElements) error {
	f := k.F
	x, idx, y := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	dt := x.Type.DType
	if err := byteMovable("GatherElements", dt); err != nil {
		return err
	}
	axis, _ := ir.NormAxis(op.Axis, len(x.Type.Shape))
	sz := elemBytes(dt)
	xs := x.Type.Shape.Strides()
	st := append([]int{}, xs...)
	st[axis] = 0
	is := idx.Type.Shape
	streams := []stream{
		{base: k.Addr(y), strides: is.Strides(), size: sz},
		{base: k.Addr(idx), strides: is.Strides(), size: elemBytes(idx.Type.DType)},
		{base: k.Addr(x), strides: st, size: sz},
	}
	k.forEachElem(is, streams, func(p []asm.Local) {
		i := k.checkedIndex(idx.Type.DType, p[1], x.Type.Shape[axis])
		f.Get(p[0]).Get(i).I32Const(int32(xs[axis] * sz)).Op(wasm.OpcodeI32Mul).Get(p[2]).Op(wasm.OpcodeI32Add)
		k.copyElemBytes(int32(sz))
	})
	return nil
}

// tupleOffset reads m indices at pi (advancing it) and leaves in a local
// base plus the byte offset they address in a tensor of the given shape
// and strides (dimensions from d0 on).
func (k *Ctx) tupleOffset(base int32, baseLocal *asm.Local, pi asm.Local, m int, shape ir.Shape, strides []int, d0, sz int) asm.Local {
	f := k.F
	off := f.Local(asm.I32)
	if baseLocal != nil {
		f.Get(*baseLocal).Set(off)
	} else {
		f.I32Const(base).Set(off)
	}
	for j := 0; j < m; j++ {
		i := k.checkedIndex(ir.Int64, pi, shape[d0+j])
		f.Get(off).Get(i).I32Const(int32(strides[d0+j] * sz)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(off)
		f.AddI32(pi, 8)
	}
	return off
}

func (k *Ctx) gatherND(n *ir.Node, op *ir.GatherND) error {
	f := k.F
	x, idx, y := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	dt := x.Type.DType
	if err := byteMovable("GatherND", dt); err != nil {
		return err
	}
	if y.Type.Shape.Size() == 0 {
		return nil
	}
	xs, is := x.Type.Shape, idx.Type.Shape
	b, m := op.BatchDims, is[len(is)-1]
	batches := xs[:b].Size()
	tuples := is[b : len(is)-1].Size()
	sliceBytes := int32(xs[b+m:].Size() * elemBytes(dt))
	strides := xs.Strides()
	py, pi, pxb, c1, c2 := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(k.Addr(y)).Set(py)
	f.I32Const(k.Addr(idx)).Set(pi)
	f.I32Const(k.Addr(x)).Set(pxb)
	f.Counted(c1, batches, func() {
		f.Counted(c2, tuples, func() {
			off := k.tupleOffset(0, &pxb, pi, m, xs, strides, b, elemBytes(dt))
			f.Get(py).Get(off)
			if sliceBytes == int32(elemBytes(dt)) {
				k.copyElemBytes(sliceBytes)
			} else {
				f.I32Const(sliceBytes).MemoryCopy()
			}
			f.AddI32(py, sliceBytes)
		})
		f.AddI32(pxb, int32(xs[b:].Size()*elemBytes(dt)))
	})
	return nil
}

// scatterStart checks that a scatter can move x's dtype (and combine it,
// under a reduction) and copies x into y, which the updates then change.
func (k *Ctx) scatterStart(op string, red ir.ScatterReduction, x, y *ir.Value) error {
	dt := x.Type.DType
	if err := byteMovable(op, dt); err != nil {
		return err
	}
	if red != ir.ScatterNone {
		if _, err := computeType(dt); err != nil {
			return err
		}
	}
	k.copyValue(y, x)
	return nil
}

func (k *Ctx) scatterElements(n *ir.Node, op *ir.ScatterElements) error {
	f := k.F
	x, idx, upd, y := n.Inputs[0], n.Inputs[1], n.Inputs[2], n.Outputs[0]
	dt := x.Type.DType
	if err := k.scatterStart("ScatterElements", op.Reduction, x, y); err != nil {
		return err
	}
	axis, _ := ir.NormAxis(op.Axis, len(x.Type.Shape))
	sz := elemBytes(dt)
	ys := y.Type.Shape.Strides()
	st := append([]int{}, ys...)
	st[axis] = 0
	is := idx.Type.Shape
	streams := []stream{
		{base: k.Addr(idx), strides: is.Strides(), size: elemBytes(idx.Type.DType)},
		{base: k.Addr(upd), strides: is.Strides(), size: sz},
		{base: k.Addr(y), strides: st, size: sz},
	}
	var err error
	k.forEachElem(is, streams, func(p []asm.Local) {
		i := k.checkedIndex(idx.Type.DType, p[0], x.Type.Shape[axis])
		dst := f.Local(asm.I32)
		f.Get(i).I32Const(int32(ys[axis] * sz)).Op(wasm.OpcodeI32Mul).Get(p[2]).Op(wasm.OpcodeI32Add).Set(dst)
		if e := k.scatterUpdate(dt, op.Reduction, dst, p[1]); e != nil {
			err = e
		}
	})
	return err
}

func (k *Ctx) scatterND(n *ir.Node, op *ir.ScatterND) error {
	f := k.F
	x, idx, upd, y := n.Inputs[0], n.Inputs[1], n.Inputs[2], n.Outputs[0]
	dt := x.Type.DType
	if err := k.scatterStart("ScatterND", op.Reduction, x, y); err != nil {
		return err
	}
	xs, is := x.Type.Shape, idx.Type.Shape
	m := is[len(is)-1]
	tuples := is[:len(is)-1].Size()
	slice := xs[m:].Size()
	sz := elemBytes(dt)
	if tuples == 0 || slice == 0 {
		return nil
	}
	pi, pu, c, e := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(k.Addr(idx)).Set(pi)
	f.I32Const(k.Addr(upd)).Set(pu)
	var err error
	f.Counted(c, tuples, func() {
		dst := k.tupleOffset(k.Addr(y), nil, pi, m, xs, xs.Strides(), 0, sz)
		if op.Reduction == ir.ScatterNone {
			f.Get(dst).Get(pu).I32Const(int32(slice * sz)).MemoryCopy()
			f.AddI32(pu, int32(slice*sz))
			return
		}
		f.Counted(e, slice, func() {
			if er := k.scatterUpdate(dt, op.Reduction, dst, pu); er != nil {
				err = er
			}
			f.AddI32(dst, int32(sz))
			f.AddI32(pu, int32(sz))
		})
	})
	return err
}

func (k *Ctx) tensorScatter(n *ir.Node, op *ir.TensorScatter) error {
	f := k.F
	cache, upd, y := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	wi := n.In(2)
	dt := cache.Type.DType
	if err := k.scatterStart("TensorScatter", ir.ScatterNone, cache, y); err != nil {
		return err
	}
	cs := cache.Type.Shape
	a, _ := ir.NormAxis(op.Axis, len(cs))
	maxLen, seqLen := cs[a], upd.Type.Shape[a]
	row := int32(cs[a+1:].Size() * elemBytes(dt))
	perBatch := cs[1:a].Size()
	if upd.Type.Shape.Size() == 0 {
		return nil
	}
	pu, pyb, pyp, pw, w, pos := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	w64 := f.Local(asm.I64)
	cb, cp, cs2 := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(k.Addr(upd)).Set(pu)
	f.I32Const(k.Addr(y)).Set(pyb)
	if wi != nil {
		f.I32Const(k.Addr(wi)).Set(pw)
	}
	f.Counted(cb, cs[0], func() {
		if wi != nil {
			f.Get(pw).I64Load(0).Set(w64)
			f.AddI32(pw, 8)
		} else {
			f.I64Const(0).Set(w64)
		}
		if op.Circular {
			// Python's modulo: the result takes the divisor's sign.
			f.Get(w64).I64Const(int64(maxLen)).Op(wasm.OpcodeI64RemS).Set(w64)
			f.Get(w64).I64Const(int64(maxLen)).Op(wasm.OpcodeI64Add).Get(w64).Get(w64).I64Const(0).Op(wasm.OpcodeI64LtS).Select().Set(w64)
		} else {
			// linear mode: the rows written must lie inside the cache
			f.Get(w64).I64Const(int64(maxLen - seqLen)).Op(wasm.OpcodeI64GtU)
			k.Fail(abi.ErrIndexOutOfRange)
		}
		f.Get(w64).Op(wasm.OpcodeI32WrapI64).Set(w)
		f.Get(pyb).Set(pyp)
		f.Counted(cp, perBatch, func() {
			if !op.Circular {
				f.Get(pyp).Get(w).I32Const(row).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Get(pu).I32Const(row * int32(seqLen)).MemoryCopy()
				f.AddI32(pu, row*int32(seqLen))
			} else {
				f.Get(w).Set(pos)
				f.Counted(cs2, seqLen, func() {
					f.Get(pyp).Get(pos).I32Const(row).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Get(pu).I32Const(row).MemoryCopy()
					f.AddI32(pu, row)
					f.AddI32(pos, 1)
					f.I32Const(0).Get(pos).Get(pos).I32Const(int32(maxLen)).Op(wasm.OpcodeI32Eq).Select().Set(pos)
				})
			}
			f.AddI32(pyp, row*int32(maxLen))
		})
		f.AddI32(pyb, row*int32(maxLen)*int32(perBatch))
	})
	return nil
}
