package codegen

import (
	"math"
	"slices"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Reductions. After dropping size-1 dimensions and merging neighbours of
// the same role, a reduction whose reduced dimensions form one contiguous
// suffix runs row by row (each result from one run of memory, in f32x4
// lanes for float32): LayerNorm's and pooling-like ReduceMean/ReduceMax
// over the last axis take this path. Other layouts accumulate into a
// buffer of results while walking the input in memory order, with f32x4
// lanes along kept inner dimensions, then apply the post-step.

func init() {
	registerWorkspace(func(n *ir.Node, op *ir.Reduce) int {
		size := 0
		for _, axes := range reduceAxisChoices(n, op) {
			size = max(size, reduceWorkspace(n, op, axes))
		}
		return size
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Reduce) error {
		return k.reduce(n, op)
	})
}

// reduceAxisChoices lists the axis sets the kernel may run: one for static
// axes, every set consistent with the output shape for run-time axes.
func reduceAxisChoices(n *ir.Node, op *ir.Reduce) [][]int {
	x := n.Inputs[0].Type.Shape
	if a := n.In(1); a != nil {
		sets, err := ir.ReduceAxisSets(x, n.Outputs[0].Type.Shape, op.KeepDims, a.Type.Shape.Size())
		if err != nil {
			return nil
		}
		var out [][]int
		for _, m := range sets {
			out = append(out, ir.MaskAxes(m, len(x)))
		}
		return out
	}
	axes, err := op.ResolvedAxes(len(x))
	if err != nil {
		return nil
	}
	return [][]int{axes}
}

// reduceLayout is a static reduction with size-1 dimensions dropped and
// neighbours of the same role merged.
type reduceLayout struct {
	dims    []int
	reduced []bool
	count   int // input elements per result
	inSize  int
	outSize int
}

func newReduceLayout(in ir.Shape, axes []int) reduceLayout {
	l := reduceLayout{count: 1, outSize: 1, inSize: in.Size()}
	for d, n := range in {
		r := slices.Contains(axes, d)
		if r {
			l.count *= n
		} else {
			l.outSize *= n
		}
		if n == 1 {
			continue
		}
		if k := len(l.dims); k > 0 && l.reduced[k-1] == r {
			l.dims[k-1] *= n
			continue
		}
		l.dims = append(l.dims, n)
		l.reduced = append(l.reduced, r)
	}
	return l
}

// rows reports whether every result reduces one contiguous run of inner
// elements (no reduced dimension at all gives runs of one).
func (l reduceLayout) rows() (inner int, ok bool) {
	nr := 0
	for _, r := range l.reduced {
		if r {
			nr++
		}
	}
	switch {
	case nr == 0:
		return 1, true
	case nr == 1 && l.reduced[len(l.reduced)-1]:
		return l.dims[len(l.dims)-1], true
	}
	return 0, false
}

// reduceAccType is the dtype partial results are kept in.
func reduceAccType(dt ir.DType) ir.DType {
	switch dt {
	case ir.Float32, ir.Float16, ir.BFloat16:
		return ir.Float32
	case ir.Float64:
		return ir.Float64
	case ir.Int64, ir.Uint64:
		return ir.Int64
	}
	return ir.Int32
}

// accInOutput: the output's own storage can hold the partial results.
func accInOutput(dt ir.DType) bool { return elemBytes(dt) == elemBytes(reduceAccType(dt)) }

// reduceWorkspace is the scratch of one axis choice: a buffer of partial
// results when the output cannot hold them, and one of maxima for
// LogSumExp, both only when accumulating.
func reduceWorkspace(n *ir.Node, op *ir.Reduce, axes []int) int {
	x := n.Inputs[0].Type
	l := newReduceLayout(x.Shape, axes)
	if _, ok := l.rows(); ok || l.inSize == 0 {
		return 0
	}
	d, _ := op.Kind.Def()
	accBytes := elemBytes(reduceAccType(x.DType))
	size := 0
	if !accInOutput(x.DType) {
		size += alignUp(l.outSize*accBytes, 16)
	}
	if d.Pre == ir.PreExp {
		size += alignUp(l.outSize*accBytes, 16)
	}
	return size
}

// reduceGen emits one reduction's arithmetic.
type reduceGen struct {
	k        *Ctx
	f        *asm.Func
	def      ir.ReduceDef
	dt       ir.DType // input and output
	acc      ir.DType // partial results
	ct       wasm.ValueType
	float    bool
	unsigned bool
}

func (k *Ctx) reduce(n *ir.Node, op *ir.Reduce) error {
	d, ok := op.Kind.Def()
	if !ok {
		return ir.NotSupportedf("reduction %s", op.Kind)
	}
	x, y := n.Inputs[0], n.Outputs[0]
	dt := x.Type.DType
	ct, err := computeType(dt)
	if err != nil {
		return err
	}
	g := &reduceGen{k: k, f: k.F, def: d, dt: dt, acc: reduceAccType(dt), ct: ct,
		float: ct == asm.F32 || ct == asm.F64, unsigned: dt.IsUnsigned() || dt == ir.Bool}
	if !g.float && d.Pre == ir.PreExp {
		return ir.NotSupportedf("%s on %s", op.Kind, dt)
	}
	a := n.In(1)
	if a == nil {
		axes, err := op.ResolvedAxes(len(x.Type.Shape))
		if err != nil {
			return err
		}
		return g.static(op, x, y, axes)
	}
	// Run-time axes: build the mask of reduced axes, then run the static
	// kernel of the matching axis set.
	f := k.F
	r := int32(len(x.Type.Shape))
	mask, ax, p, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(k.Addr(a)).Set(p)
	f.Counted(c, a.Type.Shape.Size(), func() {
		k.loadIndex(a.Type.DType, p)
		f.Set(ax)
		f.Get(ax).I32Const(r).Op(wasm.OpcodeI32Add).Get(ax).Get(ax).I32Const(0).Op(wasm.OpcodeI32LtS).Select().Set(ax)
		f.Get(ax).I32Const(r).Op(wasm.OpcodeI32GeU)
		k.Fail(abi.ErrIndexOutOfRange)
		f.Get(mask).I32Const(1).Get(ax).Op(wasm.OpcodeI32Shl).Op(wasm.OpcodeI32Or).Set(mask)
		f.AddI32(p, int32(elemBytes(a.Type.DType)))
	})
	sets, err := ir.ReduceAxisSets(x.Type.Shape, y.Type.Shape, op.KeepDims, a.Type.Shape.Size())
	if err != nil {
		return err
	}
	// Sets that differ only in size-1 axes compute the same thing.
	var ones uint32
	for d, n := range x.Type.Shape {
		if n == 1 {
			ones |= 1 << d
		}
	}
	done := map[uint32]bool{}
	for _, m := range sets {
		canon := m &^ ones
		if done[canon] {
			continue
		}
		done[canon] = true
		f.I32Const(0)
		for _, m2 := range sets {
			if m2&^ones == canon {
				f.Get(mask).I32Const(int32(m2)).Op(wasm.OpcodeI32Eq).Op(wasm.OpcodeI32Or)
			}
		}
		f.If()
		if err := g.static(op, x, y, ir.MaskAxes(m, len(x.Type.Shape))); err != nil {
			return err
		}
		f.I32Const(0).Return()
		f.End()
	}
	// The axes disagree with the shape the module was compiled for.
	f.I32Const(1)
	k.Fail(abi.ErrIndexOutOfRange)
	return nil
}

// static emits the reduction of x over axes into y.
func (g *reduceGen) static(op *ir.Reduce, x, y *ir.Value, axes []int) error {
	k, f := g.k, g.f
	l := newReduceLayout(x.Type.Shape, axes)
	if l.outSize == 0 {
		return nil
	}
	if l.inSize == 0 {
		// Every result reduces the empty set.
		empty, err := (&ir.Reduce{Kind: op.Kind, Axes: axes, KeepDims: true}).Eval([]*ir.Tensor{ir.NewTensor(g.dt, x.Type.Shape)})
		if err != nil {
			return err
		}
		v := ir.NewTensor(g.dt, nil)
		copy(v.Data, empty[0].Data)
		return k.fill(y, v)
	}
	sz := int32(elemBytes(g.dt))
	if inner, ok := l.rows(); ok {
		var err error
		k.Parallel(l.outSize, float64(inner)*nsPerLaneOp, func(s Span) {
			px, py, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
			s.Base(k.Addr(x), int32(inner)*sz)
			f.Set(px)
			s.Base(k.Addr(y), sz)
			f.Set(py)
			s.Counted(c, func() {
				var shift asm.Local
				if g.def.Pre == ir.PreExp {
					shift = g.rowReduce(px, inner, ir.CombineMax, ir.PreNone, 0)
					g.finiteOrZero(shift)
				}
				acc := g.rowReduce(px, inner, g.def.Combine, g.def.Pre, shift)
				f.Get(py)
				g.post(acc, shift, l.count)
				if e := k.storeElem(g.dt, 0); e != nil {
					err = e
				}
				f.AddI32(px, int32(inner)*sz)
				f.AddI32(py, sz)
			})
		})
		return err
	}
	// Accumulate into a buffer of partial results (the output when it can
	// hold them), then finish each result.
	ws := k.WorkspaceAddr()
	accBytes := elemBytes(g.acc)
	accAddr := k.Addr(y)
	if !accInOutput(g.dt) {
		accAddr = ws
		ws += int32(alignUp(l.outSize*accBytes, 16))
	}
	shiftAddr := int32(-1)
	if g.def.Pre == ir.PreExp {
		shiftAddr = ws
		g.fillAcc(shiftAddr, l.outSize, ir.CombineMax)
		g.accumulate(l, k.Addr(x), shiftAddr, ir.CombineMax, ir.PreNone, -1)
		p, c, v := f.Local(asm.I32), f.Local(asm.I32), f.Local(g.ct)
		f.I32Const(shiftAddr).Set(p)
		f.Counted(c, l.outSize, func() {
			f.Get(p)
			g.loadAcc()
			f.Set(v)
			g.finiteOrZero(v)
			f.Get(p).Get(v)
			g.storeAcc()
			f.AddI32(p, int32(accBytes))
		})
	}
	g.fillAcc(accAddr, l.outSize, g.def.Combine)
	g.accumulate(l, k.Addr(x), accAddr, g.def.Combine, g.def.Pre, shiftAddr)
	if accAddr == k.Addr(y) && g.def.Post == ir.PostNone {
		return nil
	}
	pa, py, ps, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	acc, shift := f.Local(g.ct), asm.Local(0)
	if shiftAddr >= 0 {
		shift = f.Local(g.ct)
	}
	f.I32Const(accAddr).Set(pa)
	f.I32Const(k.Addr(y)).Set(py)
	f.I32Const(shiftAddr).Set(ps)
	var err error
	f.Counted(c, l.outSize, func() {
		f.Get(pa)
		g.loadAcc()
		f.Set(acc)
		if shiftAddr >= 0 {
			f.Get(ps)
			g.loadAcc()
			f.Set(shift)
			f.AddI32(ps, int32(accBytes))
		}
		f.Get(py)
		g.post(acc, shift, l.count)
		if e := k.storeElem(g.dt, 0); e != nil {
			err = e
		}
		f.AddI32(pa, int32(accBytes))
		f.AddI32(py, sz)
	})
	return err
}

func (g *reduceGen) loadAcc()  { g.k.loadElem(g.acc, 0) }
func (g *reduceGen) storeAcc() { g.k.storeElem(g.acc, 0) }

// vec reports whether rows of n input elements use f32x4 lanes.
func (g *reduceGen) vec(n int) bool { return g.dt == ir.Float32 && g.k.SIMD() && n >= 4 }

// identity pushes the identity of comb in the compute type.
func (g *reduceGen) identity(comb ir.ReduceCombine) {
	if g.float {
		constOf(g.f, g.ct, ir.ReduceFloatIdentity(comb))
		return
	}
	intConst(g.f, g.ct, ir.ReduceIntIdentity(comb, g.dt))
}

// combine merges the two compute-type values on the stack.
func (g *reduceGen) combine(comb ir.ReduceCombine) {
	if g.float {
		combineFloat(fxFor(g.f, g.ct, false), comb)
		return
	}
	f, ct := g.f, g.ct
	switch comb {
	case ir.CombineAdd:
		f.Op(iop(ct, wasm.OpcodeI32Add, wasm.OpcodeI64Add))
	case ir.CombineMul:
		f.Op(iop(ct, wasm.OpcodeI32Mul, wasm.OpcodeI64Mul))
	default:
		a, b := f.Local(ct), f.Local(ct)
		f.Set(b).Set(a)
		var cmp wasm.Opcode
		switch {
		case comb == ir.CombineMax && g.unsigned:
			cmp = iop(ct, wasm.OpcodeI32GtU, wasm.OpcodeI64GtU)
		case comb == ir.CombineMax:
			cmp = iop(ct, wasm.OpcodeI32GtS, wasm.OpcodeI64GtS)
		case g.unsigned:
			cmp = iop(ct, wasm.OpcodeI32LtU, wasm.OpcodeI64LtU)
		default:
			cmp = iop(ct, wasm.OpcodeI32LtS, wasm.OpcodeI64LtS)
		}
		f.Get(a).Get(b).Get(a).Get(b).Op(cmp).Select()
	}
}

// combineVec merges two f32x4 values on the stack.
func (g *reduceGen) combineVec(comb ir.ReduceCombine) {
	combineFloat(fxFor(g.f, asm.F32, true), comb)
}

// combineFloat merges the two float values on the stack, in x's shape.
func combineFloat(x fx, comb ir.ReduceCombine) {
	switch comb {
	case ir.CombineAdd:
		x.add()
	case ir.CombineMul:
		x.mul()
	case ir.CombineMax:
		x.max()
	case ir.CombineMin:
		x.min()
	}
}

// pre pushes the pre-step of the value in v (shift is LogSumExp's maximum).
func (g *reduceGen) pre(x fx, pre ir.ReducePre, v, shift asm.Local) {
	f, ct := g.f, g.ct
	switch pre {
	case ir.PreNone:
		f.Get(v)
	case ir.PreAbs:
		if g.float {
			x.get(v).abs()
		} else if g.unsigned {
			f.Get(v)
		} else {
			intConst(f, ct, 0)
			f.Get(v).Op(iop(ct, wasm.OpcodeI32Sub, wasm.OpcodeI64Sub)).Get(v).Get(v)
			intConst(f, ct, 0)
			f.Op(iop(ct, wasm.OpcodeI32LtS, wasm.OpcodeI64LtS)).Select()
		}
	case ir.PreSquare:
		if g.float {
			x.get(v).get(v).mul()
		} else {
			f.Get(v).Get(v).Op(iop(ct, wasm.OpcodeI32Mul, wasm.OpcodeI64Mul))
		}
	case ir.PreExp:
		x.get(v).get(shift).sub().set(v)
		x.exp(v)
	}
}

// finiteOrZero replaces an infinite maximum by 0 so that LogSumExp's
// shifted values stay exact (all -inf gives log 0 = -inf, +inf gives +inf).
func (g *reduceGen) finiteOrZero(v asm.Local) {
	x := fxFor(g.f, g.ct, false)
	x.c(0).get(v).get(v).abs().c(math.Inf(1)).ne().sel().set(v)
}

// post pushes the finished result from the partial result in acc.
func (g *reduceGen) post(acc, shift asm.Local, count int) {
	f, ct := g.f, g.ct
	if g.float {
		x := fxFor(f, ct, false)
		switch g.def.Post {
		case ir.PostNone:
			x.get(acc)
		case ir.PostMean:
			x.get(acc).c(float64(count)).div()
		case ir.PostSqrt:
			x.get(acc).sqrt()
		case ir.PostLog:
			x.log(acc)
		case ir.PostLogMax:
			x.log(acc).get(shift).add()
		}
		return
	}
	switch g.def.Post {
	case ir.PostNone:
		f.Get(acc)
	case ir.PostMean:
		if count == 0 {
			intConst(f, ct, 0)
			return
		}
		f.Get(acc)
		intConst(f, ct, int64(count))
		if g.unsigned {
			f.Op(iop(ct, wasm.OpcodeI32DivU, wasm.OpcodeI64DivU))
		} else {
			f.Op(iop(ct, wasm.OpcodeI32DivS, wasm.OpcodeI64DivS))
		}
	case ir.PostSqrt, ir.PostLog:
		// Integer L2 and LogSum compute in f64 and truncate, as numpy's cast.
		t := f.Local(asm.F64)
		f.Get(acc)
		convert(f, ct, asm.F64, g.unsigned)
		f.Set(t)
		x := fxFor(f, asm.F64, false)
		if g.def.Post == ir.PostSqrt {
			x.get(t).sqrt()
		} else {
			x.log(t)
		}
		convert(f, asm.F64, ct, g.unsigned)
	}
}

// rowReduce combines pre(x) over n contiguous elements from the address in
// px (which it leaves unchanged) and returns the local holding the result.
func (g *reduceGen) rowReduce(px asm.Local, n int, comb ir.ReduceCombine, pre ir.ReducePre, shift asm.Local) asm.Local {
	f := g.f
	sz := int32(elemBytes(g.dt))
	acc, p, c, v := f.Local(g.ct), f.Local(asm.I32), f.Local(asm.I32), f.Local(g.ct)
	g.identity(comb)
	f.Set(acc)
	f.Get(px).Set(p)
	done := 0
	if g.vec(n) {
		x := fxFor(f, asm.F32, true)
		vacc, vv, vshift := f.Local(asm.V128), f.Local(asm.V128), asm.Local(0)
		x.c(ir.ReduceFloatIdentity(comb)).set(vacc)
		if pre == ir.PreExp {
			vshift = f.Local(asm.V128)
			f.Get(shift).Vec(wasm.OpcodeVecF32x4Splat).Set(vshift)
		}
		// step combines four lanes at p+off into the accumulator a.
		step := func(a asm.Local, off uint32) {
			f.Get(p).V128Load(off).Set(vv)
			f.Get(a)
			g.pre(x, pre, vv, vshift)
			g.combineVec(comb)
			f.Set(a)
		}
		groups := n / 4
		if n >= 16 {
			// Two accumulators halve the dependency chain of long rows.
			vacc2 := f.Local(asm.V128)
			x.c(ir.ReduceFloatIdentity(comb)).set(vacc2)
			f.Counted(c, n/8, func() {
				step(vacc, 0)
				step(vacc2, 16)
				f.AddI32(p, 32)
			})
			f.Get(vacc).Get(vacc2)
			g.combineVec(comb)
			f.Set(vacc)
			groups = n / 4 % 2
		}
		f.Counted(c, groups, func() {
			step(vacc, 0)
			f.AddI32(p, 16)
		})
		groups = n / 4
		// Lanes combine pairwise: (0 op 1) op (2 op 3).
		f.Get(acc)
		f.Get(vacc).Lane(wasm.OpcodeVecF32x4ExtractLane, 0).Get(vacc).Lane(wasm.OpcodeVecF32x4ExtractLane, 1)
		g.combine(comb)
		f.Get(vacc).Lane(wasm.OpcodeVecF32x4ExtractLane, 2).Get(vacc).Lane(wasm.OpcodeVecF32x4ExtractLane, 3)
		g.combine(comb)
		g.combine(comb)
		g.combine(comb)
		f.Set(acc)
		done = groups * 4
	}
	x := fxFor(f, g.ct, false)
	f.Counted(c, n-done, func() {
		f.Get(p)
		g.k.loadElem(g.dt, 0)
		f.Set(v)
		f.Get(acc)
		g.pre(x, pre, v, shift)
		g.combine(comb)
		f.Set(acc)
		f.AddI32(p, sz)
	})
	return acc
}

// fillAcc sets n partial results at addr to the identity of comb.
func (g *reduceGen) fillAcc(addr int32, n int, comb ir.ReduceCombine) {
	f := g.f
	p, c := f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(addr).Set(p)
	f.Counted(c, n, func() {
		f.Get(p)
		g.identity(comb)
		g.storeAcc()
		f.AddI32(p, int32(elemBytes(g.acc)))
	})
}

// accumulate walks x in memory order and combines pre(x) into the partial
// results at accAddr (shiftAddr: LogSumExp's maxima, laid out alike).
func (g *reduceGen) accumulate(l reduceLayout, xAddr, accAddr int32, comb ir.ReduceCombine, pre ir.ReducePre, shiftAddr int32) {
	k, f := g.k, g.f
	xs := ir.Shape(l.dims).Strides()
	accStrides := make([]int, len(l.dims))
	st := 1
	for d := len(l.dims) - 1; d >= 0; d-- {
		if !l.reduced[d] {
			accStrides[d] = st
			st *= l.dims[d]
		}
	}
	accSize := elemBytes(g.acc)
	streams := []stream{{base: xAddr, strides: xs, size: elemBytes(g.dt)}, {base: accAddr, strides: accStrides, size: accSize}}
	if shiftAddr >= 0 {
		streams = append(streams, stream{base: shiftAddr, strides: accStrides, size: accSize})
	}
	x := fxFor(f, g.ct, false)
	k.nest(l.dims, streams, func(ptrs []asm.Local, n int, strides []int) {
		var shift asm.Local
		loadShift := func() {
			if shiftAddr >= 0 {
				shift = f.Local(g.ct)
				f.Get(ptrs[2])
				g.loadAcc()
				f.Set(shift)
			}
		}
		if strides[1] == 0 {
			// Reduced inner run: one partial result.
			loadShift()
			r := g.rowReduce(ptrs[0], n, comb, pre, shift)
			f.Get(ptrs[1]).Get(ptrs[1])
			g.loadAcc()
			f.Get(r)
			g.combine(comb)
			g.storeAcc()
			return
		}
		// Kept inner run: combine element by element.
		sz := int32(elemBytes(g.dt))
		done := 0
		c := f.Local(asm.I32)
		if g.vec(n) {
			vx := fxFor(f, asm.F32, true)
			vv, vs := f.Local(asm.V128), f.Local(asm.V128)
			f.Counted(c, n/4, func() {
				f.Get(ptrs[0]).V128Load(0).Set(vv)
				if shiftAddr >= 0 {
					f.Get(ptrs[2]).V128Load(0).Set(vs)
					f.AddI32(ptrs[2], 16)
				}
				f.Get(ptrs[1]).Get(ptrs[1]).V128Load(0)
				g.pre(vx, pre, vv, vs)
				g.combineVec(comb)
				f.V128Store(0)
				f.AddI32(ptrs[0], 16)
				f.AddI32(ptrs[1], 16)
			})
			done = n / 4 * 4
		}
		v := f.Local(g.ct)
		f.Counted(c, n-done, func() {
			loadShift()
			f.Get(ptrs[0])
			k.loadElem(g.dt, 0)
			f.Set(v)
			f.Get(ptrs[1]).Get(ptrs[1])
			g.loadAcc()
			g.pre(x, pre, v, shift)
			g.combine(comb)
			g.storeAcc()
			f.AddI32(ptrs[0], sz)
			f.AddI32(ptrs[1], int32(accSize))
			if shiftAddr >= 0 {
				f.AddI32(ptrs[2], int32(accSize))
			}
		})
	})
}
