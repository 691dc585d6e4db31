package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// logSoftmaxRows is LogSoftmax over a contiguous last axis of float32 in
// f32x4 lanes (classifier heads): per row the maximum, then the sum of
// exp(x - max), then (x - max) - log(sum). It reports false when the layout
// does not fit and the general kernel should run. (Softmax of that layout
// is softmaxSIMD.)
func (k *Ctx) logSoftmaxRows(n *ir.Node, op *ir.Softmax) (bool, error) {
	x, y := n.Inputs[0], n.Outputs[0]
	s := x.Type.Shape
	axis, err := ir.NormAxis(op.Axis, len(s))
	if err != nil || op.Kind != ir.KindLogSoftmax || x.Type.DType != ir.Float32 || !k.SIMD() ||
		axis != len(s)-1 || s[axis] < 4 || s.Size() == 0 {
		return false, nil
	}
	f := k.F
	cnt := s[axis]
	rows := s.Size() / cnt
	g := &reduceGen{k: k, f: f, dt: ir.Float32, acc: ir.Float32, ct: asm.F32, float: true}
	vx, sx := fxFor(f, asm.F32, true), fxFor(f, asm.F32, false)
	groups, tail := cnt/4, cnt%4
	k.Parallel(rows, softmaxRowNs(cnt), func(s Span) {
		px, py, lx, ly, c, r := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		vm, v, vsum := f.Local(asm.V128), f.Local(asm.V128), f.Local(asm.V128)
		sm, sv, sum := f.Local(asm.F32), f.Local(asm.F32), f.Local(asm.F32)
		s.Base(k.Addr(x), int32(cnt*4))
		f.Set(px)
		s.Base(k.Addr(y), int32(cnt*4))
		f.Set(py)
		s.Counted(r, func() {
			mx := g.rowReduce(px, cnt, ir.CombineMax, ir.PreNone, 0)
			f.Get(mx).Vec(wasm.OpcodeVecF32x4Splat).Set(vm)
			// exp(x - max), summed
			f.Get(px).Set(lx)
			vx.c(0).set(vsum)
			f.Counted(c, groups, func() {
				f.Get(lx).V128Load(0)
				vx.get(vm).sub().set(v)
				vx.exp(v).set(v)
				vx.get(vsum).get(v).add().set(vsum)
				f.AddI32(lx, 16)
			})
			f.Get(vsum).Lane(wasm.OpcodeVecF32x4ExtractLane, 0).Get(vsum).Lane(wasm.OpcodeVecF32x4ExtractLane, 1).Op(wasm.OpcodeF32Add)
			f.Get(vsum).Lane(wasm.OpcodeVecF32x4ExtractLane, 2).Get(vsum).Lane(wasm.OpcodeVecF32x4ExtractLane, 3).Op(wasm.OpcodeF32Add)
			f.Op(wasm.OpcodeF32Add).Set(sum)
			f.Counted(c, tail, func() {
				f.Get(lx).F32Load(0)
				sx.get(mx).sub().set(sv)
				sx.exp(sv).set(sv)
				sx.get(sum).get(sv).add().set(sum)
				f.AddI32(lx, 4)
			})
			// (x - max) - log(sum): exact near 0 for large inputs.
			sx.log(sum).set(sm)
			vmax := f.Local(asm.V128)
			f.Get(vm).Set(vmax)
			f.Get(sm).Vec(wasm.OpcodeVecF32x4Splat).Set(vm)
			f.Get(px).Set(lx)
			f.Get(py).Set(ly)
			scale := func(xf fx, m, max asm.Local, load, store func()) {
				f.Get(ly)
				f.Get(lx)
				load()
				xf.get(max).sub().get(m).sub()
				store()
			}
			f.Counted(c, groups, func() {
				scale(vx, vm, vmax, func() { f.V128Load(0) }, func() { f.V128Store(0) })
				f.AddI32(lx, 16)
				f.AddI32(ly, 16)
			})
			f.Counted(c, tail, func() {
				scale(sx, sm, mx, func() { f.F32Load(0) }, func() { f.F32Store(0) })
				f.AddI32(lx, 4)
				f.AddI32(ly, 4)
			})
			f.AddI32(px, int32(cnt*4))
			f.AddI32(py, int32(cnt*4))
		})
	})
	return true, nil
}
