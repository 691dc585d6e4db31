package codegen

import (
	"fmt"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Control flow. Every node of a subgraph gets its own function, as main
// graph nodes do; the owning node's function calls them in order (a branch,
// or once per iteration) and moves values in and out of the subgraph's
// buffers. The memory plan keeps every subgraph value alive while its
// owning node runs, so those buffers hold still across iterations.

func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.If) error { return k.ifElse(n, op) })
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Loop) error { return k.loop(n, op) })
	registerWorkspace(func(n *ir.Node, op *ir.Loop) int {
		nc, nk := op.Counts()
		if nc < 0 || nk < 0 {
			return 0
		}
		return stagingBytes(op.Body, op.Body.Outputs[1:1+nc], op.Body.Inputs[2:])
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Scan) error { return k.scan(n, op) })
	registerWorkspace(func(n *ir.Node, op *ir.Scan) int {
		st := len(n.Inputs) - op.NumScanInputs
		if st < 0 || st > len(op.Body.Outputs) {
			return 0
		}
		return stagingBytes(op.Body, op.Body.Outputs[:st], op.Body.Inputs[:st])
	})
}

// callGraph calls the functions of g's nodes in order and makes the
// current function return the first non-zero status.
func (k *Ctx) callGraph(g *ir.Graph, label string) error {
	f := k.F
	st := f.Local(asm.I32)
	prefix := k.name + "/" + label + "/"
	for i, n := range g.Nodes {
		if allConstOutputs(n) {
			continue // folded
		}
		idx, err := k.md.nodeFunc(n, nodeFuncName(prefix, i, n))
		if err != nil {
			return err
		}
		if idx >= 0 {
			f.Call(uint32(idx)).Tee(st).If().Get(st).Return().End()
		}
	}
	return nil
}

func allConstOutputs(n *ir.Node) bool {
	for _, o := range n.Outputs {
		if o != nil && o.Const == nil {
			return false
		}
	}
	return true
}

// copyValue copies src's bytes to dst (same type); nothing when they share
// a buffer.
func (k *Ctx) copyValue(dst, src *ir.Value) {
	d, s := k.Addr(dst), k.Addr(src)
	if n := src.Type.Bytes(); d != s && n > 0 {
		k.F.I32Const(d).I32Const(s).I32Const(int32(n)).MemoryCopy()
	}
}

func (k *Ctx) ifElse(n *ir.Node, op *ir.If) error {
	f := k.F
	if b := op.Taken(n.In(0)); b != nil { // normally inlined by opt
		return k.branch(n, b, "then")
	}
	f.I32Const(0).I32Load8U(uint32(k.Addr(n.In(0)))).If()
	if err := k.branch(n, op.Then, "then"); err != nil {
		return err
	}
	f.Else()
	if err := k.branch(n, op.Else, "else"); err != nil {
		return err
	}
	f.End()
	return nil
}

func (k *Ctx) branch(n *ir.Node, g *ir.Graph, label string) error {
	if g == nil { // dropped: it does not type with the compiled shapes
		k.F.I32Const(abi.ErrBranchNotCompiled).Return()
		return nil
	}
	if err := k.callGraph(g, label); err != nil {
		return err
	}
	for i, o := range n.Outputs {
		if o != nil {
			k.copyValue(o, g.Outputs[i])
		}
	}
	return nil
}

// needsStaging reports whether copying each carried output straight into
// its input would overwrite another output still to be copied: some output
// is (a view of) another carried input, as when a body swaps two values.
func needsStaging(g *ir.Graph, outs, ins []*ir.Value) bool {
	roots := g.AliasRoots()
	for i, o := range outs {
		r := roots.Of(o)
		for j, in := range ins {
			if j != i && r == in {
				return true
			}
		}
	}
	return false
}

// stagingBytes is the workspace a carried-value update needs.
func stagingBytes(g *ir.Graph, outs, ins []*ir.Value) int {
	if len(outs) != len(ins) || !needsStaging(g, outs, ins) {
		return 0
	}
	total := 0
	for _, v := range ins {
		total += alignUp(v.Type.Bytes(), 16)
	}
	return total
}

// updateCarried moves the body's carried outputs into its carried inputs
// for the next iteration.
func (k *Ctx) updateCarried(g *ir.Graph, outs, ins []*ir.Value) error {
	f := k.F
	if !needsStaging(g, outs, ins) {
		for i, o := range outs {
			k.copyValue(ins[i], o)
		}
		return nil
	}
	if _, ok := k.md.plan.Workspace[k.Node]; !ok {
		return fmt.Errorf("carried values need staging but the memory plan has no workspace for them")
	}
	ws := k.WorkspaceAddr()
	off := ws
	for _, o := range outs {
		if n := o.Type.Bytes(); n > 0 {
			f.I32Const(off).I32Const(k.Addr(o)).I32Const(int32(n)).MemoryCopy()
		}
		off += int32(alignUp(o.Type.Bytes(), 16))
	}
	off = ws
	for _, in := range ins {
		if n := in.Type.Bytes(); n > 0 {
			f.I32Const(k.Addr(in)).I32Const(off).I32Const(int32(n)).MemoryCopy()
		}
		off += int32(alignUp(in.Type.Bytes(), 16))
	}
	return nil
}

func (k *Ctx) loop(n *ir.Node, op *ir.Loop) error {
	f := k.F
	body := op.Body
	nc, nk := op.Counts()
	carried := body.Inputs[2:]
	for i, v := range carried {
		k.copyValue(v, n.Inputs[2+i])
	}
	it := f.Local(asm.I64)
	cond := f.Local(asm.I32)
	if c := n.In(1); c != nil {
		f.I32Const(0).I32Load8U(uint32(k.Addr(c))).Set(cond)
	} else {
		f.I32Const(1).Set(cond)
	}
	trips := f.Local(asm.I64)
	if m := n.In(0); m != nil {
		f.I32Const(0).I64Load(uint32(k.Addr(m))).Set(trips)
	}
	_, fixed := op.FixedTrips(n.Inputs)
	scanLen := 0
	if nk > 0 {
		l, err := op.StaticScanLen(n.Inputs)
		if err != nil {
			return err
		}
		scanLen = l
	}
	checkLen := nk > 0 && !fixed

	f.Block().Loop()
	if n.In(0) != nil {
		f.Get(it).Get(trips).Op(wasm.OpcodeI64GeS).BrIf(1)
	}
	if n.In(1) != nil {
		f.Get(cond).Op(wasm.OpcodeI32Eqz).BrIf(1)
	}
	if checkLen {
		f.Get(it).I64Const(int64(scanLen)).Op(wasm.OpcodeI64GeS)
		k.Fail(abi.ErrShapeMismatch)
	}
	// Every iteration spends one of the run's Loop budget
	// (--max-loop-iterations): a trip count of 10^12 from an input, or a
	// condition that stays true, ends with abi.ErrLoopLimit.
	budget := k.md.loopBudgetGlobal()
	f.GlobalGet(budget).Op(wasm.OpcodeI64Eqz)
	k.Fail(abi.ErrLoopLimit)
	f.GlobalGet(budget).I64Const(1).Op(wasm.OpcodeI64Sub).GlobalSet(budget)
	f.I32Const(0).Get(it).I64Store(uint32(k.Addr(body.Inputs[0])))
	f.I32Const(0).Get(cond).I32Store8(uint32(k.Addr(body.Inputs[1])))
	if err := k.callGraph(body, "body"); err != nil {
		return err
	}
	for j := 0; j < nk; j++ {
		y, src := n.Outputs[nc+j], body.Outputs[1+nc+j]
		if y == nil || src.Type.Bytes() == 0 {
			continue
		}
		size := int32(src.Type.Bytes())
		f.I32Const(k.Addr(y)).Get(it).Op(wasm.OpcodeI32WrapI64).I32Const(size).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
		f.I32Const(k.Addr(src)).I32Const(size).MemoryCopy()
	}
	f.I32Const(0).I32Load8U(uint32(k.Addr(body.Outputs[0]))).Set(cond)
	if err := k.updateCarried(body, body.Outputs[1:1+nc], carried); err != nil {
		return err
	}
	f.Get(it).I64Const(1).Op(wasm.OpcodeI64Add).Set(it)
	f.Br(0)
	f.End().End()

	if checkLen {
		f.Get(it).I64Const(int64(scanLen)).Op(wasm.OpcodeI64Ne)
		k.Fail(abi.ErrShapeMismatch)
	}
	for i, v := range carried {
		if o := n.Outputs[i]; o != nil {
			k.copyValue(o, v)
		}
	}
	return nil
}

func (k *Ctx) scan(n *ir.Node, op *ir.Scan) error {
	f := k.F
	body := op.Body
	types := make([]ir.Type, len(n.Inputs))
	for i, v := range n.Inputs {
		types[i] = v.Type
	}
	p, err := op.Plan(types)
	if err != nil {
		return err
	}
	states := body.Inputs[:p.N]
	for i, v := range states {
		k.copyValue(v, n.Inputs[i])
	}
	t := f.Local(asm.I32)
	// pos pushes the sequence position iteration t works on.
	pos := func(reverse bool) {
		if reverse {
			f.I32Const(int32(p.Len - 1)).Get(t).Op(wasm.OpcodeI32Sub)
		} else {
			f.Get(t)
		}
	}
	var loopErr error
	f.Repeat(t, p.Len, func() {
		for j := 0; j < p.M; j++ {
			x, dst := n.Inputs[p.N+j], body.Inputs[p.N+j]
			if err := k.moveSlice(dst, x, p.InAxes[j], func() { pos(op.InReverse != nil && op.InReverse[j]) }, false); err != nil {
				loopErr = err
				return
			}
		}
		if err := k.callGraph(body, "body"); err != nil {
			loopErr = err
			return
		}
		for o := 0; o < p.K; o++ {
			y, src := n.Outputs[p.N+o], body.Outputs[p.N+o]
			if y == nil {
				continue
			}
			ax := 0
			if op.OutAxes != nil {
				ax, _ = ir.NormAxis(op.OutAxes[o], len(y.Type.Shape))
			}
			if err := k.moveSlice(src, y, ax, func() { pos(op.OutReverse != nil && op.OutReverse[o]) }, true); err != nil {
				loopErr = err
				return
			}
		}
		if err := k.updateCarried(body, body.Outputs[:p.N], states); err != nil {
			loopErr = err
		}
	})
	if loopErr != nil {
		return loopErr
	}
	for i, v := range states {
		if o := n.Outputs[i]; o != nil {
			k.copyValue(o, v)
		}
	}
	return nil
}

// moveSlice copies between elem (contiguous) and the slice of whole at the
// position pushed by pos along axis: into elem, or out of it when toWhole.
func (k *Ctx) moveSlice(elem, whole *ir.Value, axis int, pos func(), toWhole bool) error {
	f := k.F
	dt := whole.Type.DType
	if dt == ir.String || dt.Bits()%8 != 0 {
		return ir.NotSupportedf("scanning %s tensors", dt)
	}
	if elem.Type.Bytes() == 0 {
		return nil
	}
	sz := elemBytes(dt)
	shape := whole.Type.Shape
	strides := shape.Strides()
	sliceShape := make([]int, 0, len(shape)-1)
	wholeSt := make([]int, 0, len(shape)-1)
	for d := range shape {
		if d != axis {
			sliceShape = append(sliceShape, shape[d])
			wholeSt = append(wholeSt, strides[d])
		}
	}
	base := func() {
		f.I32Const(k.Addr(whole))
		pos()
		f.I32Const(int32(strides[axis] * sz)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
	}
	elemAddr := func() { f.I32Const(k.Addr(elem)) }
	elemSt := ir.Shape(sliceShape).Strides()
	if toWhole {
		k.copyView(base, elemAddr, sliceShape, wholeSt, elemSt, sz)
	} else {
		k.copyView(elemAddr, base, sliceShape, elemSt, wholeSt, sz)
	}
	return nil
}

// copyView copies a tensor of the given shape between two strided views
// (strides in elements of sz bytes) whose base addresses dst and src push;
// rows contiguous on both sides become one memory.copy.
func (k *Ctx) copyView(dst, src func(), shape, dstSt, srcSt []int, sz int) {
	f := k.F
	cshape, cs := collapse(shape, []stream{{strides: dstSt, size: sz}, {strides: srcSt, size: sz}})
	p, q := f.Local(asm.I32), f.Local(asm.I32)
	dst()
	f.Set(p)
	src()
	f.Set(q)
	last := len(cshape) - 1
	var level func(d int, p, q asm.Local)
	level = func(d int, p, q asm.Local) {
		ds, ss := int32(cs[0].strides[d]*sz), int32(cs[1].strides[d]*sz)
		pp, qq, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		if d == last && ds == int32(sz) && ss == int32(sz) {
			f.Get(p).Get(q).I32Const(int32(cshape[d] * sz)).MemoryCopy()
			return
		}
		f.Get(p).Set(pp).Get(q).Set(qq)
		f.Counted(c, cshape[d], func() {
			if d == last {
				f.Get(pp).Get(qq)
				k.copyElemBytes(int32(sz))
			} else {
				level(d+1, pp, qq)
			}
			f.AddI32(pp, ds)
			f.AddI32(qq, ss)
		})
	}
	level(0, p, q)
}
