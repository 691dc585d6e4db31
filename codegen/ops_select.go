package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Selections whose output size depends on the data: Compress, NonZero,
// Unique. The output shapes are static (settled from constants or the
// model's declared shapes); the kernels count first and fail the run with
// ErrShapeMismatch when the data selects another number of entries, so
// they never write past an output.

func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Compress) error {
		return k.compress(n, op)
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.NonZero) error {
		return k.nonZero(n)
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Unique) error {
		return k.unique(n, op)
	})
	registerWorkspace(func(n *ir.Node, op *ir.Unique) int {
		// rep, order and pos: one int32 per item each
		_, items, _, _ := uniqueGeometry(n.Inputs[0].Type.Shape, op)
		return 12 * items
	})
}

// nonZeroTest turns the dt value on the stack into 1 when it is not zero
// (NaN is not zero).
func (k *Ctx) nonZeroTest(dt ir.DType) error {
	f := k.F
	ct, err := computeType(dt)
	if err != nil {
		return err
	}
	switch ct {
	case asm.F32:
		f.F32Const(0).Op(wasm.OpcodeF32Ne)
	case asm.F64:
		f.F64Const(0).Op(wasm.OpcodeF64Ne)
	case asm.I64:
		f.I64Const(0).Op(wasm.OpcodeI64Ne)
	default:
		f.I32Const(0).Op(wasm.OpcodeI32Ne)
	}
	return nil
}

// indexLoops nests one counted loop per dimension; body sees the index
// locals.
func (k *Ctx) indexLoops(dims []int, body func(idx []asm.Local)) {
	f := k.F
	idx := make([]asm.Local, len(dims))
	for i := range idx {
		idx[i] = f.Local(asm.I32)
	}
	var level func(d int)
	level = func(d int) {
		if d == len(dims) {
			body(idx)
			return
		}
		f.Repeat(idx[d], dims[d], func() { level(d + 1) })
	}
	level(0)
}

func (k *Ctx) compress(n *ir.Node, op *ir.Compress) error {
	f := k.F
	x, cond, y := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	dt := x.Type.DType
	if err := byteMovable("Compress", dt); err != nil {
		return err
	}
	xs := x.Type.Shape
	outer, dim, inner, count := 1, xs.Size(), 1, y.Type.Shape[0]
	if op.Axis != nil {
		a, _ := ir.NormAxis(*op.Axis, len(xs))
		outer, dim, inner, count = xs[:a].Size(), xs[a], xs[a+1:].Size(), y.Type.Shape[a]
	}
	l := cond.Type.Shape[0]
	m := min(l, dim)
	ca := uint32(k.Addr(cond))
	i, cnt := f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(0).Set(cnt)
	f.Repeat(i, m, func() {
		f.Get(i).I32Load8U(ca).I32Const(0).Op(wasm.OpcodeI32Ne).Get(cnt).Op(wasm.OpcodeI32Add).Set(cnt)
	})
	// numpy: a true entry past the end of the axis is an index error
	f.ForStep(i, m, l, 1, func() {
		f.Get(i).I32Load8U(ca)
		k.Fail(abi.ErrIndexOutOfRange)
	})
	f.Get(cnt).I32Const(int32(count)).Op(wasm.OpcodeI32Ne)
	k.Fail(abi.ErrShapeMismatch)
	block := int32(inner * elemBytes(dt))
	if y.Type.Bytes() == 0 {
		return nil
	}
	py, px, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(k.Addr(y)).Set(py)
	f.I32Const(k.Addr(x)).Set(px)
	f.Counted(c, outer, func() {
		f.Repeat(i, m, func() {
			f.Get(i).I32Load8U(ca).If()
			f.Get(py).Get(px).Get(i).I32Const(block).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).I32Const(block).MemoryCopy()
			f.AddI32(py, block)
			f.End()
		})
		f.AddI32(px, int32(dim)*block)
	})
	return nil
}

func (k *Ctx) nonZero(n *ir.Node) error {
	f := k.F
	x, y := n.Inputs[0], n.Outputs[0]
	dt := x.Type.DType
	if _, err := computeType(dt); err != nil {
		return err
	}
	count := y.Type.Shape[1]
	sz := int32(elemBytes(dt))
	p, cnt, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(0).Set(cnt)
	f.I32Const(k.Addr(x)).Set(p)
	f.Counted(c, x.Type.Shape.Size(), func() {
		f.Get(p)
		k.loadElem(dt, 0)
		k.nonZeroTest(dt)
		f.Get(cnt).Op(wasm.OpcodeI32Add).Set(cnt)
		f.AddI32(p, sz)
	})
	f.Get(cnt).I32Const(int32(count)).Op(wasm.OpcodeI32Ne)
	k.Fail(abi.ErrShapeMismatch)
	if y.Type.Shape.Size() == 0 {
		return nil
	}
	j := f.Local(asm.I32) // byte offset of the next column
	f.I32Const(0).Set(j)
	f.I32Const(k.Addr(x)).Set(p)
	k.indexLoops(x.Type.Shape, func(idx []asm.Local) {
		f.Get(p)
		k.loadElem(dt, 0)
		k.nonZeroTest(dt)
		f.If()
		for d, l := range idx {
			f.Get(j).Get(l).Op(wasm.OpcodeI64ExtendI32U).I64Store(uint32(k.Addr(y) + int32(d*count*8)))
		}
		f.AddI32(j, 8)
		f.End()
		f.AddI32(p, sz)
	})
	return nil
}

// uniqueGeometry: item i of Unique's input is x[o, i, e] for o < outer,
// e < inner.
func uniqueGeometry(x ir.Shape, op *ir.Unique) (outer, items, inner, axis int) {
	if op.Axis == nil {
		return 1, x.Size(), 1, -1
	}
	a, _ := ir.NormAxis(*op.Axis, len(x))
	return x[:a].Size(), x[a], x[a+1:].Size(), a
}

// compareItems sets the returned local to 1 when the items at pa and pb
// (outer rows of inner elements, rows gap bytes apart) are equal or, with
// less, when item a sorts before item b (lexicographically, NaN last).
func (k *Ctx) compareItems(dt ir.DType, less bool, pa, pb asm.Local, outer, inner int, gap int32) asm.Local {
	f := k.F
	ct, _ := computeType(dt)
	sz := int32(elemBytes(dt))
	r, qa, qb, c1, c2 := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	va, vb := f.Local(ct), f.Local(ct)
	f.Get(pa).Set(qa)
	f.Get(pb).Set(qb)
	if less {
		f.I32Const(0).Set(r)
	} else {
		f.I32Const(1).Set(r)
	}
	f.Block()
	exit := f.Depth()
	f.Counted(c1, outer, func() {
		f.Counted(c2, inner, func() {
			f.Get(qa)
			k.loadElem(dt, 0)
			f.Set(va)
			f.Get(qb)
			k.loadElem(dt, 0)
			f.Set(vb)
			if less {
				k.ranks(dt, false, false, va, vb)
				f.If()
				f.I32Const(1).Set(r)
				f.Br(uint32(f.Depth() - exit))
				f.End()
				k.ranks(dt, false, false, vb, va)
				f.BrIf(uint32(f.Depth() - exit))
			} else {
				k.sameValue(dt, va, vb)
				f.Op(wasm.OpcodeI32Eqz).If()
				f.I32Const(0).Set(r)
				f.Br(uint32(f.Depth() - exit))
				f.End()
			}
			f.AddI32(qa, sz)
			f.AddI32(qb, sz)
		})
		f.AddI32(qa, gap)
		f.AddI32(qb, gap)
	})
	f.End()
	return r
}

func (k *Ctx) unique(n *ir.Node, op *ir.Unique) error {
	f := k.F
	x := n.Inputs[0]
	dt := x.Type.DType
	if _, err := orderable("Unique", dt); err != nil {
		return err
	}
	outer, items, inner, _ := uniqueGeometry(x.Type.Shape, op)
	count := op.Count
	sz := int32(elemBytes(dt))
	itemBytes := int32(inner) * sz
	gap := int32(items-1) * itemBytes
	ws := uint32(k.WorkspaceAddr())
	rep, order, pos := ws, ws+uint32(4*items), ws+uint32(8*items)
	i, j, u, p, q, pa, pb := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	itemAddr := func(idx asm.Local, dst asm.Local) {
		f.Get(idx).I32Const(itemBytes).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(x)).Op(wasm.OpcodeI32Add).Set(dst)
	}
	at := func(l asm.Local) { f.Get(l).I32Const(4).Op(wasm.OpcodeI32Mul) }
	// rep[i]: the first item equal to item i.
	f.Repeat(i, items, func() {
		at(i)
		f.Get(i).I32Store(rep)
		itemAddr(i, pa)
		k.whileBelow(j, i, func(exit int) {
			at(j)
			f.I32Load(rep).Get(j).Op(wasm.OpcodeI32Eq).If()
			itemAddr(j, pb)
			eq := k.compareItems(dt, false, pa, pb, outer, inner, gap)
			f.Get(eq).If()
			at(i)
			f.Get(j).I32Store(rep)
			f.Br(uint32(f.Depth() - exit))
			f.End()
			f.End()
		})
	})
	// order: the first occurrences, sorted by insertion or as they come.
	f.I32Const(0).Set(u)
	f.Repeat(i, items, func() {
		at(i)
		f.I32Load(rep).Get(i).Op(wasm.OpcodeI32Eq).If()
		f.Get(u).Set(p)
		if op.Sorted {
			itemAddr(i, pa)
			k.insertSlot(order, p, q, func() {
				itemAddr(q, pb)
				lt := k.compareItems(dt, true, pa, pb, outer, inner, gap)
				f.Get(lt)
			})
		}
		at(p)
		f.Get(i).I32Store(order)
		f.AddI32(u, 1)
		f.End()
	})
	f.Get(u).I32Const(int32(count)).Op(wasm.OpcodeI32Ne)
	k.Fail(abi.ErrShapeMismatch)
	y, idx, inv, cnt := n.Out(0), n.Out(1), n.Out(2), n.Out(3)
	c := f.Local(asm.I32)
	f.Repeat(p, count, func() {
		at(p)
		f.I32Load(order).Set(i)
		at(i)
		f.Get(p).I32Store(pos)
		if idx != nil {
			f.Get(p).I32Const(8).Op(wasm.OpcodeI32Mul).Get(i).Op(wasm.OpcodeI64ExtendI32U).I64Store(uint32(k.Addr(idx)))
		}
		if cnt != nil {
			f.Get(p).I32Const(8).Op(wasm.OpcodeI32Mul).I64Const(0).I64Store(uint32(k.Addr(cnt)))
		}
		if y != nil && itemBytes > 0 {
			f.Get(p).I32Const(itemBytes).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(y)).Op(wasm.OpcodeI32Add).Set(pb)
			itemAddr(i, pa)
			f.Counted(c, outer, func() {
				f.Get(pb).Get(pa).I32Const(itemBytes).MemoryCopy()
				f.AddI32(pb, int32(count)*itemBytes)
				f.AddI32(pa, int32(items)*itemBytes)
			})
		}
	})
	if inv != nil || cnt != nil {
		f.Repeat(i, items, func() {
			at(i)
			f.I32Load(rep).I32Const(4).Op(wasm.OpcodeI32Mul).I32Load(pos).Set(q)
			if inv != nil {
				f.Get(i).I32Const(8).Op(wasm.OpcodeI32Mul).Get(q).Op(wasm.OpcodeI64ExtendI32U).I64Store(uint32(k.Addr(inv)))
			}
			if cnt != nil {
				f.Get(q).I32Const(8).Op(wasm.OpcodeI32Mul)
				f.Get(q).I32Const(8).Op(wasm.OpcodeI32Mul).I64Load(uint32(k.Addr(cnt))).I64Const(1).Op(wasm.OpcodeI64Add)
				f.I64Store(uint32(k.Addr(cnt)))
			}
		})
	}
	return nil
}
