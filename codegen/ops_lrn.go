package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// LRN: for each image and channel the window of channels is summed along
// the contiguous spatial run, in f32x4 lanes for float32.

func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.LRN) error { return k.lrn(n, op) })
}

func (k *Ctx) lrn(n *ir.Node, op *ir.LRN) error {
	f := k.F
	x, y := n.Inputs[0], n.Outputs[0]
	dt := x.Type.DType
	ct, err := computeType(dt)
	if err != nil {
		return err
	}
	if x.Type.Shape.Size() == 0 {
		return nil
	}
	N, C, S := x.Type.Shape[0], x.Type.Shape[1], x.Type.Shape[2:].Size()
	below, above := op.Window()
	sz := int32(elemBytes(dt))
	plane := int32(S) * sz
	vec := dt == ir.Float32 && k.SIMD() && S >= 4
	px, py, ch, lo, hi, j, pw := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	nc, sc := f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(k.Addr(x)).Set(px)
	f.I32Const(k.Addr(y)).Set(py)
	var err2 error
	// run emits one position (or four lanes): sum the window at offset
	// off from the plane starts, then scale x.
	run := func(vx bool, step int32) {
		xf := fxFor(f, ct, vx)
		sum, v, d := xf.local(), xf.local(), xf.local()
		load := func(p asm.Local) {
			f.Get(p)
			if vx {
				f.V128Load(0)
			} else if e := k.loadElem(dt, 0); e != nil {
				err2 = e
			}
		}
		xf.c(0).set(sum)
		// pw walks the window's planes at this position.
		f.Get(lo).I32Const(plane).Op(wasm.OpcodeI32Mul).Get(px).Op(wasm.OpcodeI32Add).Get(ch).I32Const(plane).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Sub).Set(pw)
		f.Get(lo).Set(j)
		f.Block().Loop()
		f.Get(j).Get(hi).Op(wasm.OpcodeI32GtS).BrIf(1)
		load(pw)
		xf.set(v).get(v).get(v).mul().get(sum).add().set(sum)
		f.AddI32(pw, plane)
		f.AddI32(j, 1)
		f.Br(0)
		f.End().End()
		xf.get(sum).c(float64(op.Alpha) / float64(op.Size)).mul().c(float64(op.Bias)).add().set(d)
		// d^-beta = exp(-beta * log d)
		xf.log(d).c(-float64(op.Beta)).mul().set(d)
		f.Get(py)
		load(px)
		xf.exp(d).mul()
		if vx {
			f.V128Store(0)
		} else if e := k.storeElem(dt, 0); e != nil {
			err2 = e
		}
		f.AddI32(px, step)
		f.AddI32(py, step)
	}
	f.Counted(nc, N, func() {
		f.Repeat(ch, C, func() {
			// Window [max(0, c-below), min(C-1, c+above)].
			f.Get(ch).I32Const(int32(below)).Op(wasm.OpcodeI32Sub).Set(lo)
			f.I32Const(0).Get(lo).Get(lo).I32Const(0).Op(wasm.OpcodeI32LtS).Select().Set(lo)
			f.Get(ch).I32Const(int32(above)).Op(wasm.OpcodeI32Add).Set(hi)
			f.I32Const(int32(C - 1)).Get(hi).Get(hi).I32Const(int32(C - 1)).Op(wasm.OpcodeI32GtS).Select().Set(hi)
			done := 0
			if vec {
				f.Counted(sc, S/4, func() { run(true, 16) })
				done = S / 4 * 4
			}
			f.Counted(sc, S-done, func() { run(false, sz) })
		})
	})
	return err2
}
