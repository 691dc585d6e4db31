package codegen

import (
	"encoding/binary"
	"math"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// resizeBilinear applies ir.ResizeBilinear (ONNX Runtime's float32
// bilinear form) to float32 planes. Two read-only tables hold, per output
// row and per output column, the byte offsets of the two input rows
// (columns) and their weights; each output element is the sum of four
// products in the interpreter's order, so that the results agree bit for
// bit.
func (k *Ctx) resizeBilinear(n *ir.Node, b *ir.ResizeBilinear) {
	f := k.F
	axisTable := func(a *ir.BilinearAxis, stride int) []byte {
		var t []byte
		for o := range a.I1 {
			t = binary.LittleEndian.AppendUint32(t, uint32(a.I1[o]*stride))
			t = binary.LittleEndian.AppendUint32(t, uint32(a.I2[o]*stride))
			t = binary.LittleEndian.AppendUint32(t, math.Float32bits(a.D1[o]))
			t = binary.LittleEndian.AppendUint32(t, math.Float32bits(a.D2[o]))
		}
		return t
	}
	yt := axisTable(&b.Y, 4*b.W)
	xt := axisTable(&b.X, 4)
	yAddr := k.Table("resize_bilinear:"+string(yt), yt)
	xAddr := k.Table("resize_bilinear:"+string(xt), xt)

	k.Parallel(b.Planes, float64(b.OH*b.OW)*12*nsPerScalar/4, func(s Span) {
		plane, dst, yrec, xrec, r1, r2, pc, yc, xc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		dy1, dy2, dx1, dx2, o1, o2 := f.Local(asm.F32), f.Local(asm.F32), f.Local(asm.F32), f.Local(asm.F32), f.Local(asm.I32), f.Local(asm.I32)
		mul, add := wasm.OpcodeF32Mul, wasm.OpcodeF32Add
		// term pushes (dx*dy) * [row+col].
		term := func(dx, dy, row, col asm.Local) {
			f.Get(dx).Get(dy).Op(mul)
			f.Get(row).Get(col).Op(wasm.OpcodeI32Add).F32Load(0)
			f.Op(mul)
		}
		s.Base(k.Addr(n.Inputs[0]), int32(4*b.H*b.W))
		f.Set(plane)
		s.Base(k.Addr(n.Outputs[0]), int32(4*b.OH*b.OW))
		f.Set(dst)
		s.Counted(pc, func() {
			f.I32Const(yAddr).Set(yrec)
			f.Counted(yc, b.OH, func() {
				f.Get(plane).Get(yrec).I32Load(0).Op(wasm.OpcodeI32Add).Set(r1)
				f.Get(plane).Get(yrec).I32Load(4).Op(wasm.OpcodeI32Add).Set(r2)
				f.Get(yrec).F32Load(8).Set(dy1)
				f.Get(yrec).F32Load(12).Set(dy2)
				f.I32Const(xAddr).Set(xrec)
				f.Counted(xc, b.OW, func() {
					f.Get(xrec).I32Load(0).Set(o1)
					f.Get(xrec).I32Load(4).Set(o2)
					f.Get(xrec).F32Load(8).Set(dx1)
					f.Get(xrec).F32Load(12).Set(dx2)
					f.Get(dst)
					term(dx2, dy2, r1, o1)
					term(dx1, dy2, r1, o2)
					f.Op(add)
					term(dx2, dy1, r2, o1)
					f.Op(add)
					term(dx1, dy1, r2, o2)
					f.Op(add)
					f.F32Store(0)
					f.AddI32(dst, 4)
					f.AddI32(xrec, 16)
				})
				f.AddI32(yrec, 16)
			})
			f.AddI32(plane, int32(4*b.H*b.W))
		})
	})
}
