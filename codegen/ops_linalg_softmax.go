package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Softmax, LogSoftmax and Hardmax.

func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Softmax) error {
		if softmaxSIMDFits(k, n, op) {
			return k.softmaxSIMD(n)
		}
		return k.softmax(n, op)
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
