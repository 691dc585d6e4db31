package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Data movement: Transpose, Concat, Gather, ConstantOfShape.

func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Transpose) error {
		x, y := n.Inputs[0], n.Outputs[0]
		perm := op.ResolvedPerm(len(x.Type.Shape))
		xs := x.Type.Shape.Strides()
		st := make([]int, len(perm))
		for i, a := range perm {
			st[i] = xs[a]
		}
		return k.stridedCopy(y, k.Addr(x), st)
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Concat) error {
		return k.concat(n, op)
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Gather) error {
		return k.gather(n, op)
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.ConstantOfShape) error {
		return k.fill(n.Outputs[0], op.Value)
	})
}

// stridedCopy fills y (row-major) from src read with per-dimension element
// strides: the general form of Transpose, Expand and Slice.
func (k *Ctx) stridedCopy(y *ir.Value, src int32, strides []int) error {
	shape := y.Type.Shape
	return k.copyRegion(y.Type.DType, shape, region{k.Addr(y), 0, shape.Strides()}, region{src, 0, strides})
}

func (k *Ctx) concat(n *ir.Node, op *ir.Concat) error {
	f := k.F
	y := n.Outputs[0]
	dt := y.Type.DType
	if err := byteMovable("Concat", dt); err != nil {
		return err
	}
	sz := int32(elemBytes(dt))
	axis, _ := ir.NormAxis(op.Axis, len(y.Type.Shape))
	outer := y.Type.Shape[:axis].Size()
	outRow := int32(y.Type.Shape[axis:].Size()) * sz
	pos := int32(0)
	for _, x := range n.Inputs {
		row := int32(x.Type.Shape[axis:].Size()) * sz
		if row == 0 || outer == 0 {
			continue
		}
		if outer == 1 {
			// The memory plan may have had x's producer write it in
			// place (opt.concatSlots): then there is nothing to copy.
			if k.Addr(x) != k.Addr(y)+pos {
				k.parallelCopy(k.Addr(y)+pos, k.Addr(x), int(row))
			}
		} else {
			k.Parallel(outer, float64(row)*nsPerCopy, func(sp Span) {
				d, s, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
				sp.Base(k.Addr(y)+pos, outRow)
				f.Set(d)
				sp.Base(k.Addr(x), row)
				f.Set(s)
				sp.Counted(c, func() {
					f.Get(d).Get(s).I32Const(row).MemoryCopy()
					f.AddI32(d, outRow)
					f.AddI32(s, row)
				})
			})
		}
		pos += row
	}
	return nil
}

func (k *Ctx) gather(n *ir.Node, op *ir.Gather) error {
	f := k.F
	x, idx, y := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	dt := x.Type.DType
	if err := byteMovable("Gather", dt); err != nil {
		return err
	}
	if y.Type.Shape.Size() == 0 {
		return nil
	}
	sz := int32(elemBytes(dt))
	axis, _ := ir.NormAxis(op.Axis, len(x.Type.Shape))
	s := x.Type.Shape
	outer, dim, inner := s[:axis].Size(), s[axis], s[axis+1:].Size()
	nIdx := idx.Type.Shape.Size()
	block := int32(inner) * sz
	py, pi, pxo, i, oc, jc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(k.Addr(y)).Set(py)
	f.I32Const(k.Addr(x)).Set(pxo)
	f.Counted(oc, outer, func() {
		f.I32Const(k.Addr(idx)).Set(pi)
		f.Counted(jc, nIdx, func() {
			// negative indices count from the end; out of range fails the run
			k.checkIndex(idx.Type.DType, pi, dim, i)
			f.Get(py).Get(i).I32Const(block).Op(wasm.OpcodeI32Mul).Get(pxo).Op(wasm.OpcodeI32Add)
			if inner == 1 {
				k.copyElemBytes(sz)
			} else {
				f.I32Const(block).MemoryCopy()
			}
			f.AddI32(py, block)
			f.AddI32(pi, int32(elemBytes(idx.Type.DType)))
		})
		f.AddI32(pxo, int32(dim)*block)
	})
	return nil
}

// loadIndex loads an int32 or int64 index at p as i32, saturating int64
// values outside the i32 range to a value that fails range checks.
func (k *Ctx) loadIndex(dt ir.DType, p asm.Local) {
	f := k.F
	switch dt {
	case ir.Int64:
		t := f.Local(asm.I64)
		f.Get(p).I64Load(0).Set(t)
		f.Get(t).Op(wasm.OpcodeI32WrapI64)
		f.I32Const(0x7fffffff)
		f.Get(t).Get(t).Op(wasm.OpcodeI32WrapI64).Op(wasm.OpcodeI64ExtendI32S).Op(wasm.OpcodeI64Eq)
		f.Select()
	default:
		f.Get(p)
		k.loadElem(dt, 0)
	}
}

// fill sets every element of y to the single element of v.
func (k *Ctx) fill(y *ir.Value, v *ir.Tensor) error {
	f := k.F
	dt := y.Type.DType
	if dt.Bits() < 8 || dt == ir.String {
		return ir.NotSupportedf("filling %s", dt)
	}
	nbytes := y.Type.Bytes()
	if nbytes == 0 {
		return nil
	}
	if allZero(v.Data) {
		k.zeroValue(y)
		return nil
	}
	if len(v.Data) == 1 {
		f.I32Const(k.Addr(y)).I32Const(int32(v.Data[0])).I32Const(int32(nbytes)).MemoryFill()
		return nil
	}
	sz := int32(elemBytes(dt))
	p, c := f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(k.Addr(y)).Set(p)
	f.Counted(c, y.Type.Shape.Size(), func() {
		f.Get(p)
		storeBits(f, v.Data[:sz])
		f.AddI32(p, sz)
	})
	return nil
}
