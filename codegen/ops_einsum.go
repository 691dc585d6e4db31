package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Einsum and Det.

func init() {
	registerWorkspace(func(n *ir.Node, op *ir.Einsum) int {
		y := n.Outputs[0].Type
		if accInOutput(y.DType) {
			return 0
		}
		return y.Shape.Size() * elemBytes(reduceAccType(y.DType))
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Einsum) error { return k.einsum(n, op) })
	registerWorkspace(func(n *ir.Node, op *ir.Det) int {
		s := n.Inputs[0].Type.Shape
		m := s[len(s)-1]
		return 8 * m * m
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Det) error { return k.det(n) })
}

// einsum walks one loop per label (output labels outermost) and adds the
// product of the inputs into the output's partial sums, kept in the compute
// type (in the output itself for 32- and 64-bit dtypes).
func (k *Ctx) einsum(n *ir.Node, op *ir.Einsum) error {
	f := k.F
	y := n.Outputs[0]
	shapes := make([]ir.Shape, len(n.Inputs))
	for i, v := range n.Inputs {
		shapes[i] = v.Type.Shape
	}
	p, err := op.Plan(shapes)
	if err != nil {
		return err
	}
	dt := y.Type.DType
	ct, err := computeType(dt)
	if err != nil {
		return err
	}
	outSize := y.Type.Shape.Size()
	if outSize == 0 {
		return nil
	}
	acc := reduceAccType(dt)
	accAddr, accBytes := k.Addr(y), elemBytes(acc)
	if !accInOutput(dt) {
		accAddr = k.WorkspaceAddr()
	}
	f.I32Const(accAddr).I32Const(0).I32Const(int32(outSize * accBytes)).MemoryFill()
	if ir.Shape(p.Dims).Size() > 0 {
		streams := []stream{{base: accAddr, strides: p.OutStrides(), size: accBytes}}
		for i, v := range n.Inputs {
			streams = append(streams, stream{base: k.Addr(v), strides: p.Strides[i], size: elemBytes(dt)})
		}
		cshape, cstreams := collapse(p.Dims, streams)
		g := &reduceGen{k: k, f: f, dt: dt, acc: acc, ct: ct, float: ct == asm.F32 || ct == asm.F64}
		var err2 error
		k.nest(cshape, cstreams, func(ptrs []asm.Local, cnt int, strides []int) {
			// product pushes the product of the inputs at their pointers and
			// advances them.
			product := func() {
				for i := 1; i < len(ptrs); i++ {
					f.Get(ptrs[i])
					if e := k.loadElem(dt, 0); e != nil {
						err2 = e
					}
					if i > 1 {
						g.combine(ir.CombineMul)
					}
					if st := strides[i] * elemBytes(dt); st != 0 {
						f.AddI32(ptrs[i], int32(st))
					}
				}
			}
			c := f.Local(asm.I32)
			if strides[0] == 0 {
				// Summed inner loop: one partial sum.
				sum := f.Local(ct)
				constOf(f, ct, 0)
				f.Set(sum)
				f.Counted(c, cnt, func() {
					f.Get(sum)
					product()
					g.combine(ir.CombineAdd)
					f.Set(sum)
				})
				f.Get(ptrs[0]).Get(ptrs[0])
				g.loadAcc()
				f.Get(sum)
				g.combine(ir.CombineAdd)
				g.storeAcc()
				return
			}
			f.Counted(c, cnt, func() {
				f.Get(ptrs[0]).Get(ptrs[0])
				g.loadAcc()
				product()
				g.combine(ir.CombineAdd)
				g.storeAcc()
				f.AddI32(ptrs[0], int32(accBytes))
			})
		})
		if err2 != nil {
			return err2
		}
	}
	if accAddr == k.Addr(y) {
		return nil
	}
	pa, py, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(accAddr).Set(pa)
	f.I32Const(k.Addr(y)).Set(py)
	f.Counted(c, outSize, func() {
		f.Get(py).Get(pa)
		k.loadElem(acc, 0)
		k.storeElem(dt, 0)
		f.AddI32(pa, int32(accBytes))
		f.AddI32(py, int32(elemBytes(dt)))
	})
	return nil
}

// det copies each matrix into the workspace as f64 and runs Gaussian
// elimination with partial pivoting (ir.LUDet).
func (k *Ctx) det(n *ir.Node) error {
	f := k.F
	x, y := n.Inputs[0], n.Outputs[0]
	dt := x.Type.DType
	if _, err := computeType(dt); err != nil {
		return err
	}
	s := x.Type.Shape
	m := s[len(s)-1]
	batch := y.Type.Shape.Size()
	if batch == 0 {
		return nil
	}
	ws := k.WorkspaceAddr()
	sz := int32(elemBytes(dt))
	x64 := fxFor(f, asm.F64, false)
	px, py, pw, c, kk, i, j, p := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32),
		f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	d, piv, best, v, fac := f.Local(asm.F64), f.Local(asm.F64), f.Local(asm.F64), f.Local(asm.F64), f.Local(asm.F64)
	// at pushes the address of a[r][col] for row and column locals.
	at := func(r, col asm.Local) {
		f.Get(r).I32Const(int32(m)).Op(wasm.OpcodeI32Mul).Get(col).Op(wasm.OpcodeI32Add).I32Const(3).Op(wasm.OpcodeI32Shl)
		f.I32Const(ws).Op(wasm.OpcodeI32Add)
	}
	// from runs body for idx = start+1 .. m-1.
	from := func(idx, start asm.Local, body func()) {
		f.Get(start).I32Const(1).Op(wasm.OpcodeI32Add).Set(idx)
		f.Block().Loop()
		f.Get(idx).I32Const(int32(m)).Op(wasm.OpcodeI32GeS).BrIf(1)
		body()
		f.AddI32(idx, 1)
		f.Br(0)
		f.End().End()
	}
	f.I32Const(k.Addr(x)).Set(px)
	f.I32Const(k.Addr(y)).Set(py)
	var err error
	f.Counted(c, batch, func() {
		f.I32Const(ws).Set(pw)
		f.Repeat(i, m*m, func() {
			f.Get(pw).Get(px)
			if e := k.loadAs(dt, 0, asm.F64); e != nil {
				err = e
			}
			f.F64Store(0)
			f.AddI32(pw, 8)
			f.AddI32(px, sz)
		})
		x64.c(1).set(d)
		f.Repeat(kk, m, func() {
			// Pivot: the row at or below kk with the largest |a[.][kk]|.
			f.Get(kk).Set(p)
			at(kk, kk)
			f.F64Load(0)
			x64.abs().set(best)
			from(i, kk, func() {
				at(i, kk)
				f.F64Load(0)
				x64.abs().set(v)
				x64.get(v).get(best).gt()
				f.If().Get(v).Set(best).Get(i).Set(p).End()
			})
			f.Get(p).Get(kk).Op(wasm.OpcodeI32Ne).If()
			f.Repeat(j, m, func() {
				at(p, j)
				f.F64Load(0).Set(v)
				at(p, j)
				at(kk, j)
				f.F64Load(0).F64Store(0)
				at(kk, j)
				f.Get(v).F64Store(0)
			})
			x64.get(d).neg().set(d)
			f.End()
			at(kk, kk)
			f.F64Load(0).Set(piv)
			x64.get(d).get(piv).mul().set(d)
			x64.get(piv).c(0).ne()
			f.If()
			from(i, kk, func() {
				at(i, kk)
				f.F64Load(0)
				x64.get(piv).div().set(fac)
				from(j, kk, func() {
					at(i, j)
					at(i, j)
					f.F64Load(0)
					at(kk, j)
					f.F64Load(0)
					x64.get(fac).mul().sub()
					f.F64Store(0)
				})
			})
			f.End()
		})
		f.Get(py).Get(d)
		if e := k.storeAs(dt, 0, asm.F64); e != nil {
			err = e
		}
		f.AddI32(py, sz)
	})
	return err
}
