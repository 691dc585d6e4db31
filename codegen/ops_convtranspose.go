package codegen

import (
	"slices"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// ConvTranspose as GEMM + col2im: per image and group, the column matrix
// col[(m,k), i] = sum_c W[c, m, k] * X[c, i] is one matrix product with W's
// group slice read transposed, then every column entry is added to the
// output position i*stride + k*dilation - padBegin when that lies inside.

type convTPlan struct {
	g                         *ir.Geometry
	N, C, M, group, cg, mg    int
	kSize, pIn, pOut, colSize int
}

func planConvT(n *ir.Node, op *ir.ConvTranspose) (*convTPlan, error) {
	x, w := n.Inputs[0].Type.Shape, n.Inputs[1].Type.Shape
	g, err := op.Geometry(x, w)
	if err != nil {
		return nil, err
	}
	p := &convTPlan{g: g, N: x[0], C: x[1], group: op.Group, mg: w[1]}
	p.M, p.cg = p.mg*p.group, p.C/p.group
	p.kSize = ir.Shape(g.Kernel).Size()
	p.pIn, p.pOut = ir.Shape(g.In).Size(), ir.Shape(g.Out).Size()
	p.colSize = p.mg * p.kSize * p.pIn
	return p, nil
}

func init() {
	ir.DeclareKernelDTypes[*ir.ConvTranspose](convDTypes...)
	registerWorkspace(func(n *ir.Node, op *ir.ConvTranspose) int {
		p, err := planConvT(n, op)
		if err != nil {
			return 0
		}
		return alignUp(p.colSize*max(elemBytes(n.Inputs[0].Type.DType), 1), 16)
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.ConvTranspose) error {
		p, err := planConvT(n, op)
		if err != nil {
			return err
		}
		x, w, out := n.Inputs[0], n.Inputs[1], n.Outputs[0]
		dt := x.Type.DType
		if !slices.Contains(convDTypes, dt) {
			return ir.NotSupportedf("ConvTranspose on %s", dt)
		}
		if out.Type.Shape.Size() == 0 {
			return nil
		}
		f := k.F
		sz := int32(elemBytes(dt))
		f.I32Const(k.Addr(out)).I32Const(0).I32Const(int32(out.Type.Bytes())).MemoryFill()
		if p.pIn > 0 && p.kSize > 0 && p.cg > 0 {
			colBuf := k.WorkspaceAddr()
			pa, pb, pc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
			img, gi, yBase := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
			var err2 error
			f.Repeat(img, p.N, func() {
				f.Repeat(gi, p.group, func() {
					// A = W[g*cg:(g+1)*cg] viewed as [(m,k), c]
					f.Get(gi).I32Const(int32(p.cg*p.mg*p.kSize) * sz).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(w)).Op(wasm.OpcodeI32Add).Set(pa)
					// B = X[img, g*cg:(g+1)*cg] as [c, i]
					f.Get(img).I32Const(int32(p.C)).Op(wasm.OpcodeI32Mul).Get(gi).I32Const(int32(p.cg)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
					f.I32Const(int32(p.pIn) * sz).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(x)).Op(wasm.OpcodeI32Add).Set(pb)
					f.I32Const(colBuf).Set(pc)
					if e := k.emitMatMul(mm{M: p.mg * p.kSize, K: p.cg, N: p.pIn, dt: dt, a: matrix{pa, 1, p.mg * p.kSize}, b: matrix{pb, p.pIn, 1}, c: pc}); e != nil {
						err2 = e
					}
					// Y[img, g*mg]
					f.Get(img).I32Const(int32(p.M)).Op(wasm.OpcodeI32Mul).Get(gi).I32Const(int32(p.mg)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
					f.I32Const(int32(p.pOut) * sz).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(out)).Op(wasm.OpcodeI32Add).Set(yBase)
					if e := k.col2im(p, dt, colBuf, yBase); e != nil {
						err2 = e
					}
				})
			})
			if err2 != nil {
				return err2
			}
		}
		if b := n.In(2); b != nil {
			return k.addChannelBias(out, b)
		}
		return nil
	})
}

// col2im adds the column matrix (rows (m, k), columns input positions, in
// order) into mg output channels starting at yBase.
func (k *Ctx) col2im(p *convTPlan, dt ir.DType, colBuf int32, yBase asm.Local) error {
	f := k.F
	g := p.g
	nd := len(g.In)
	sz := int32(elemBytes(dt))
	ct, err := computeType(dt)
	if err != nil {
		return err
	}
	xf := fxFor(f, ct, false)
	outStr := ir.Shape(g.Out).Strides()
	inCount := make([]int, nd+1) // input positions below each level
	inCount[nd] = 1
	for d := nd - 1; d >= 0; d-- {
		inCount[d] = inCount[d+1] * g.In[d]
	}
	colPtr, chanPtr := f.Local(asm.I32), f.Local(asm.I32)
	oBase := make([]asm.Local, nd)
	for d := range oBase {
		oBase[d] = f.Local(asm.I32)
	}
	yp := f.Local(asm.I32)
	var err2 error
	var inputs func(d int, yPtr asm.Local)
	inputs = func(d int, yPtr asm.Local) {
		o, c := f.Local(asm.I32), f.Local(asm.I32)
		f.Get(oBase[d]).Set(o)
		f.Counted(c, g.In[d], func() {
			f.Get(o).I32Const(int32(g.Out[d])).Op(wasm.OpcodeI32LtU).If()
			if d == nd-1 {
				f.Get(o).I32Const(sz).Op(wasm.OpcodeI32Mul).Get(yPtr).Op(wasm.OpcodeI32Add).Tee(yp).Get(yp)
				if e := k.loadElem(dt, 0); e != nil {
					err2 = e
				}
				f.Get(colPtr)
				k.loadElem(dt, 0)
				xf.add()
				k.storeElem(dt, 0)
			} else {
				next := f.Local(asm.I32)
				f.Get(o).I32Const(int32(outStr[d]) * sz).Op(wasm.OpcodeI32Mul).Get(yPtr).Op(wasm.OpcodeI32Add).Set(next)
				inputs(d+1, next)
				f.Else()
				f.AddI32(colPtr, int32(inCount[d+1])*sz)
			}
			f.End()
			if d == nd-1 {
				f.AddI32(colPtr, sz)
			}
			f.AddI32(o, int32(g.Strides[d]))
		})
	}
	var taps func(d int)
	taps = func(d int) {
		if d == nd {
			inputs(0, chanPtr)
			return
		}
		kc := f.Local(asm.I32)
		f.Repeat(kc, g.Kernel[d], func() {
			f.Get(kc).I32Const(int32(g.Dilations[d])).Op(wasm.OpcodeI32Mul).I32Const(int32(g.PadBegin[d])).Op(wasm.OpcodeI32Sub).Set(oBase[d])
			taps(d + 1)
		})
	}
	f.I32Const(colBuf).Set(colPtr)
	f.Get(yBase).Set(chanPtr)
	mc := f.Local(asm.I32)
	f.Counted(mc, p.mg, func() {
		taps(0)
		f.AddI32(chanPtr, int32(p.pOut)*sz)
	})
	return err2
}
