package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Softmax family and BatchNormalization.

func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Softmax) error {
		if softmaxSIMDFits(k, n, op) {
			return k.softmaxSIMD(n)
		}
		return k.softmax(n, op)
	})
	registerWorkspace(func(n *ir.Node, op *ir.BatchNorm) int {
		return 2 * n.Inputs[0].Type.Shape[1] * max(elemBytes(n.Inputs[0].Type.DType), 1)
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.BatchNorm) error {
		return k.batchNorm(n, op)
	})
}

// softmax normalizes lines along the axis; a line has n elements spaced
// inner elements apart. Three passes per line: max, sum of exp, scale.
func (k *Ctx) softmax(n *ir.Node, op *ir.Softmax) error {
	if done, err := k.logSoftmaxRows(n, op); done {
		return err
	}
	f := k.F
	x, y := n.Inputs[0], n.Outputs[0]
	dt := x.Type.DType
	ct, err := computeType(dt)
	if err != nil {
		return err
	}
	if ct != asm.F32 && ct != asm.F64 {
		return ir.NotSupportedf("%s on %s", op.Kind, dt)
	}
	s := x.Type.Shape
	if s.Size() == 0 {
		return nil
	}
	axis, _ := ir.NormAxis(op.Axis, len(s))
	outer, cnt, inner := s[:axis].Size(), s[axis], s[axis+1:].Size()
	sz := int32(elemBytes(dt))
	step := int32(inner) * sz
	xf := fxFor(f, ct, false)
	var err2 error
	// Outer blocks are independent: each holds inner lines whole.
	k.Parallel(outer, float64(inner*cnt*3)*nsPerScalar*4, func(s Span) {
		px, py, lx, ly := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		mx, sum, v, e, arg, j := f.Local(ct), f.Local(ct), f.Local(ct), f.Local(ct), f.Local(asm.I32), f.Local(asm.I32)
		oc, ic, jc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		s.Base(k.Addr(x), int32(inner*cnt)*sz)
		f.Set(px)
		s.Base(k.Addr(y), int32(inner*cnt)*sz)
		f.Set(py)
		load := func(p asm.Local) {
			f.Get(p)
			if e := k.loadElem(dt, 0); e != nil {
				err2 = e
			}
		}
		s.Counted(oc, func() {
			f.Counted(ic, inner, func() {
				// max and its first position
				f.Get(px).Set(lx)
				load(lx)
				f.Set(mx)
				f.SetI32(arg, 0)
				f.SetI32(j, 0)
				f.Counted(jc, cnt, func() {
					load(lx)
					f.Set(v)
					xf.get(v).get(mx).gt().f.If().Get(v).Set(mx).Get(j).Set(arg).End()
					f.AddI32(lx, step)
					f.AddI32(j, 1)
				})
				if op.Kind == ir.KindHardmax {
					f.Get(py).Set(ly)
					f.SetI32(j, 0)
					f.Counted(jc, cnt, func() {
						f.Get(ly)
						xf.c(1).c(0).f.Get(j).Get(arg).Op(wasm.OpcodeI32Eq).Select()
						k.storeElem(dt, 0)
						f.AddI32(ly, step)
						f.AddI32(j, 1)
					})
				} else {
					// sum of exp(x - max), stashing exp in y for Softmax
					constOf(f, ct, 0)
					f.Set(sum)
					f.Get(px).Set(lx)
					f.Get(py).Set(ly)
					f.Counted(jc, cnt, func() {
						load(lx)
						xf.get(mx).sub().set(v)
						xf.exp(v).tee(e).get(sum).add().set(sum)
						if op.Kind == ir.KindSoftmax {
							f.Get(ly).Get(e)
							k.storeElem(dt, 0)
						}
						f.AddI32(lx, step)
						f.AddI32(ly, step)
					})
					f.Get(py).Set(ly)
					f.Get(px).Set(lx)
					if op.Kind == ir.KindSoftmax {
						xf.c(1).get(sum).div().set(sum)
					} else {
						// (x - max) - log(sum): subtracting the max first keeps
						// results near 0 exact for large inputs.
						xf.log(sum).set(sum)
					}
					f.Counted(jc, cnt, func() {
						f.Get(ly)
						if op.Kind == ir.KindSoftmax {
							load(ly)
							xf.get(sum).mul()
						} else {
							load(lx)
							xf.get(mx).sub().get(sum).sub()
						}
						k.storeElem(dt, 0)
						f.AddI32(lx, step)
						f.AddI32(ly, step)
					})
				}
				f.AddI32(px, sz)
				f.AddI32(py, sz)
			})
			// next outer block: the inner loop advanced by inner elements already
			f.AddI32(px, int32(inner*(cnt-1))*sz)
			f.AddI32(py, int32(inner*(cnt-1))*sz)
		})
	})
	return err2
}

// batchNorm computes per-channel scale and shift into the workspace, then
// y = x*scale[c] + shift[c] elementwise.
func (k *Ctx) batchNorm(n *ir.Node, op *ir.BatchNorm) error {
	f := k.F
	x, y := n.Inputs[0], n.Outputs[0]
	dt := x.Type.DType
	ct, err := computeType(dt)
	if err != nil {
		return err
	}
	if ct != asm.F32 && ct != asm.F64 {
		return ir.NotSupportedf("BatchNormalization on %s", dt)
	}
	for i := 1; i < 5; i++ {
		if n.Inputs[i].Type.DType != dt {
			return ir.NotSupportedf("BatchNormalization with %s statistics for %s input", n.Inputs[i].Type.DType, dt)
		}
	}
	C := x.Type.Shape[1]
	sz := int32(elemBytes(dt))
	ws := k.WorkspaceAddr()
	xf := fxFor(f, ct, false)
	scale, bias, mean, vr := n.Inputs[1], n.Inputs[2], n.Inputs[3], n.Inputs[4]
	c := f.Local(asm.I32)
	sc := f.Local(ct)
	load := func(v *ir.Value) {
		f.Get(c).I32Const(sz).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(v)).Op(wasm.OpcodeI32Add)
		k.loadElem(dt, 0)
	}
	f.Repeat(c, C, func() {
		// scale' = scale / sqrt(var + eps)
		load(scale)
		load(vr)
		xf.c(float64(op.Epsilon)).add().sqrt().div().set(sc)
		f.Get(c).I32Const(sz).Op(wasm.OpcodeI32Mul).I32Const(ws).Op(wasm.OpcodeI32Add).Get(sc)
		k.storeElem(dt, 0)
		// shift = bias - mean*scale'
		f.Get(c).I32Const(sz).Op(wasm.OpcodeI32Mul).I32Const(ws + int32(C)*sz).Op(wasm.OpcodeI32Add)
		load(bias)
		load(mean)
		xf.get(sc).mul().sub()
		k.storeElem(dt, 0)
	})
	bs := make(ir.Shape, len(x.Type.Shape))
	for i := range bs {
		bs[i] = 1
	}
	bs[1] = C
	sView := k.ValueAt("bn_scale", ir.Type{DType: dt, Shape: bs}, ws)
	bView := k.ValueAt("bn_shift", ir.Type{DType: dt, Shape: bs}, ws+int32(C)*sz)
	fn := ewFn{in: []ir.DType{dt, dt, dt}, out: dt, vec: ct == asm.F32}
	fn.emit = func(a []asm.Local, vec bool) error {
		fxFor(f, ct, vec).get(a[0]).get(a[1]).mul().get(a[2]).add()
		return nil
	}
	return k.elementwise(&ir.Node{Op: op, Inputs: []*ir.Value{x, sView, bView}, Outputs: []*ir.Value{y}}, fn)
}
