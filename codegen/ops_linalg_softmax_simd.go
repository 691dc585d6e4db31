package codegen

import (
	"math"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Softmax over the last axis of float32 data in f32x4 lanes: max, then
// exp(x - max) stored and summed, then scaled by 1/sum, four elements per
// step with a scalar tail.

func softmaxSIMDFits(k *Ctx, n *ir.Node, op *ir.Softmax) bool {
	s := n.Inputs[0].Type.Shape
	axis, err := ir.NormAxis(op.Axis, len(s))
	return err == nil && k.SIMD() && op.Kind == ir.KindSoftmax && n.Inputs[0].Type.DType == ir.Float32 &&
		axis == len(s)-1 && s[axis] >= 4 && s.Size() > 0
}

func (k *Ctx) softmaxSIMD(n *ir.Node) error {
	f := k.F
	x, y := n.Inputs[0], n.Outputs[0]
	s := x.Type.Shape
	cnt := s[len(s)-1]
	rows := s.Size() / cnt
	groups, tail := cnt/4, cnt%4
	vx := fxFor(f, asm.F32, true)
	sx := fxFor(f, asm.F32, false)
	k.Parallel(rows, softmaxRowNs(cnt), func(s Span) {
		px, py, lx, ly, rc, gc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		vm, vs, v, e := f.Local(asm.V128), f.Local(asm.V128), f.Local(asm.V128), f.Local(asm.V128)
		mx, sum, t, te := f.Local(asm.F32), f.Local(asm.F32), f.Local(asm.F32), f.Local(asm.F32)
		s.Base(k.Addr(x), int32(cnt*4))
		f.Set(px)
		s.Base(k.Addr(y), int32(cnt*4))
		f.Set(py)
		// reduce folds the four lanes of vector l into scalar local out with op.
		reduce := func(l asm.Local, op wasm.Opcode, out asm.Local) {
			f.Get(l).Lane(wasm.OpcodeVecF32x4ExtractLane, 0)
			for i := byte(1); i < 4; i++ {
				f.Get(l).Lane(wasm.OpcodeVecF32x4ExtractLane, i).Op(op)
			}
			f.Set(out)
		}
		s.Counted(rc, func() {
			// max
			f.Get(px).Set(lx)
			f.F32x4Const(float32(math.Inf(-1))).Set(vm)
			f.Counted(gc, groups, func() {
				f.Get(vm).Get(lx).V128Load(0).Vec(wasm.OpcodeVecF32x4Max).Set(vm)
				f.AddI32(lx, 16)
			})
			reduce(vm, wasm.OpcodeF32Max, mx)
			for i := 0; i < tail; i++ {
				f.Get(mx).Get(lx).F32Load(uint32(4 * i)).Op(wasm.OpcodeF32Max).Set(mx)
			}
			// exp(x - max) into y, summed
			f.Get(mx).Vec(wasm.OpcodeVecF32x4Splat).Set(vm)
			f.V128Const([16]byte{}).Set(vs)
			f.Get(px).Set(lx)
			f.Get(py).Set(ly)
			f.Counted(gc, groups, func() {
				f.Get(lx).V128Load(0).Get(vm).Vec(wasm.OpcodeVecF32x4Sub).Set(v)
				vx.exp(v).set(e)
				f.Get(ly).Get(e).V128Store(0)
				f.Get(vs).Get(e).Vec(wasm.OpcodeVecF32x4Add).Set(vs)
				f.AddI32(lx, 16)
				f.AddI32(ly, 16)
			})
			reduce(vs, wasm.OpcodeF32Add, sum)
			for i := 0; i < tail; i++ {
				f.Get(lx).F32Load(uint32(4 * i)).Get(mx).Op(wasm.OpcodeF32Sub).Set(t)
				sx.exp(t).set(te)
				f.Get(ly).Get(te).F32Store(uint32(4 * i))
				f.Get(sum).Get(te).Op(wasm.OpcodeF32Add).Set(sum)
			}
			// scale by 1/sum
			f.F32Const(1).Get(sum).Op(wasm.OpcodeF32Div).Tee(sum).Vec(wasm.OpcodeVecF32x4Splat).Set(vs)
			f.Get(py).Set(ly)
			f.Counted(gc, groups, func() {
				f.Get(ly).Get(ly).V128Load(0).Get(vs).Vec(wasm.OpcodeVecF32x4Mul).V128Store(0)
				f.AddI32(ly, 16)
			})
			for i := 0; i < tail; i++ {
				f.Get(ly).Get(ly).F32Load(uint32(4 * i)).Get(sum).Op(wasm.OpcodeF32Mul).F32Store(uint32(4 * i))
			}
			f.AddI32(px, int32(cnt*4))
			f.AddI32(py, int32(cnt*4))
		})
	})
	return nil
}

// softmaxRowNs estimates a float32 softmax row of cnt elements: three
// passes, one with an exp (some 20 vector operations per four elements).
func softmaxRowNs(cnt int) float64 { return float64(cnt) * 7 * nsPerLaneOp }
