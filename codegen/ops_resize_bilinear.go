package codegen

import (
	"encoding/binary"
	"fmt"
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
	if k.SIMD() {
		k.resizeBilinearSIMD(n, b)
		return
	}
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

// resizeBilinearSIMD is resizeBilinear four output columns at a time: the
// column table holds, per group of four, their input offsets and weights
// lane by lane (the last group repeats the last column), the four inputs
// of each term are gathered with lane loads, and each lane does the
// scalar form's arithmetic in its order, so the results are the same
// bits. (unet_1024's five 2x upsamplings: scalar, they took 4x longer on
// wazero than in V8.)
// resizeRowBytes is the output of one call of a Resize's rows function.
const resizeRowBytes = 64 << 10

func (k *Ctx) resizeBilinearSIMD(n *ir.Node, b *ir.ResizeBilinear) {
	planeFn, yAddr := k.bilinearRows(b)
	i32 := asm.I32
	// Planes are handed out to the threads (about 1.25 ns per output
	// element on unet_1024's upsamplings, one node at a time).
	k.Parallel(b.Planes, float64(b.OH*b.OW)*2.5*nsPerScalar, func(s Span) {
		f := s.F
		plane, dst := f.Local(i32), f.Local(i32)
		s.Base(k.Addr(n.Inputs[0]), int32(4*b.H*b.W))
		f.Set(plane)
		s.Base(k.Addr(n.Outputs[0]), int32(4*b.OH*b.OW))
		f.Set(dst)
		per := max(1, min(b.OH, resizeRowBytes/(4*b.OW)))
		full, rest := b.OH/per, b.OH%per
		d, y := f.Local(i32), f.Local(i32)
		s.Counted(f.Local(i32), func() {
			f.Get(dst).Set(d)
			f.I32Const(yAddr).Set(y)
			f.Counted(f.Local(i32), full, func() {
				f.Get(plane).Get(d).Get(y).I32Const(int32(per)).Call(planeFn)
				f.AddI32(d, int32(4*per*b.OW))
				f.AddI32(y, int32(16*per))
			})
			if rest > 0 {
				f.Get(plane).Get(d).Get(y).I32Const(int32(rest)).Call(planeFn)
			}
			f.AddI32(plane, int32(4*b.H*b.W))
			f.AddI32(dst, int32(4*b.OH*b.OW))
		})
	})
}

// bilinearRows returns the rows function of b's SIMD form, (plane, dst,
// yrec, rows): rows output rows of the plane at plane, from the row whose
// record is at yrec, into dst (OW floats a row), and the address of output
// row 0's record (16 bytes a row). A Winograd layer that reads an
// upsampling as pieces of its input (winogradInPieces) calls it for a
// band's rows.
func (k *Ctx) bilinearRows(b *ir.ResizeBilinear) (planeFn uint32, yAddr int32) {
	var yt, xt []byte
	for o := range b.Y.I1 {
		yt = binary.LittleEndian.AppendUint32(yt, uint32(b.Y.I1[o]*4*b.W))
		yt = binary.LittleEndian.AppendUint32(yt, uint32(b.Y.I2[o]*4*b.W))
		yt = binary.LittleEndian.AppendUint32(yt, math.Float32bits(b.Y.D1[o]))
		yt = binary.LittleEndian.AppendUint32(yt, math.Float32bits(b.Y.D2[o]))
	}
	groups := (b.OW + 3) / 4
	// When every group's four input columns of each term lie within four
	// consecutive floats (upsampling), a term is one v128.load at the
	// group's first column and an i8x16.swizzle by a mask from the table,
	// instead of four lane loads: one bounds check instead of four on
	// wazero, whose lane inserts also chain through the register.
	// span is the least and the greatest of I's input columns in group g.
	span := func(I []int, g int) (lo, hi int) {
		lo, hi = I[g*4], I[g*4]
		for l := 1; l < 4; l++ {
			c := I[min(g*4+l, b.OW-1)]
			lo, hi = min(lo, c), max(hi, c)
		}
		return lo, hi
	}
	swz := true
	for g := 0; g < groups && swz; g++ {
		for _, I := range [][]int{b.X.I1, b.X.I2} {
			if lo, hi := span(I, g); hi-lo > 3 {
				swz = false
			}
		}
	}
	for g := 0; g < groups; g++ {
		col := func(l int) int { return min(g*4+l, b.OW-1) }
		if swz {
			// [lo1, lo2, 0, 0] mask1 mask2 D1 D2 (80 bytes)
			var m [2][16]byte
			var lo [2]int
			for t, I := range [][]int{b.X.I1, b.X.I2} {
				lo[t], _ = span(I, g)
				for l := 0; l < 4; l++ {
					for j := 0; j < 4; j++ {
						m[t][4*l+j] = byte(4*(I[col(l)]-lo[t]) + j)
					}
				}
			}
			xt = binary.LittleEndian.AppendUint32(xt, uint32(lo[0]*4))
			xt = binary.LittleEndian.AppendUint32(xt, uint32(lo[1]*4))
			xt = binary.LittleEndian.AppendUint64(xt, 0)
			xt = append(xt, m[0][:]...)
			xt = append(xt, m[1][:]...)
		} else {
			// I1 I2 D1 D2 (64 bytes)
			for _, I := range [][]int{b.X.I1, b.X.I2} {
				for l := 0; l < 4; l++ {
					xt = binary.LittleEndian.AppendUint32(xt, uint32(I[col(l)]*4))
				}
			}
		}
		for _, D := range [][]float32{b.X.D1, b.X.D2} {
			for l := 0; l < 4; l++ {
				xt = binary.LittleEndian.AppendUint32(xt, math.Float32bits(D[col(l)]))
			}
		}
	}
	yAddr = k.Table("resize_bilinear:"+string(yt), yt)
	xAddr := k.Table("resize_bilinear4:"+string(xt), xt)
	rec, dOff := uint32(64), uint32(32) // a group's record, its D1 (D2 16 on)
	if swz {
		rec, dOff = 80, 48
	}

	i32, v128 := asm.I32, asm.V128
	// Rows of a plane are a helper function (plane, dst, yrec, rows),
	// shared by the Resize nodes of the same tables: called per plane, or
	// per resizeRowBytes of a large plane's output, it is tiered up by V8
	// after its first calls of the first run, whereas a node function runs
	// its one call of the first run in the baseline compiler's code (as a
	// call per plane did on a one-plane upsampling: 4 ms of unet_1024's
	// cold start).
	planeFn = k.Helper(fmt.Sprintf("resize_bilinear_rows_%d_%d", xAddr, b.OW), []wasm.ValueType{i32, i32, i32, i32}, nil, func(f *asm.Func) {
		plane, dst, rows := f.Param(0), f.Param(1), f.Param(3)
		yrec, xrec, r1, r2 := f.Local(i32), f.Local(i32), f.Local(i32), f.Local(i32)
		dy1, dy2, w22, w12, w21, w11, t := f.Local(v128), f.Local(v128), f.Local(v128), f.Local(v128), f.Local(v128), f.Local(v128), f.Local(v128)
		mul, add := wasm.OpcodeVecF32x4Mul, wasm.OpcodeVecF32x4Add
		// gather pushes the four floats at row + the offsets at xrec+off.
		gather := func(row asm.Local, off uint32) {
			if swz {
				// term off/16: its first column, then its mask
				t := off / 16
				f.Get(row).Get(xrec).I32Load(4 * t).Op(wasm.OpcodeI32Add).V128Load(0)
				f.Get(xrec).V128Load(16 + 16*t).Vec(wasm.OpcodeVecI8x16Swizzle)
				return
			}
			f.Get(row).Get(xrec).I32Load(off).Op(wasm.OpcodeI32Add).V128Load32Zero(0)
			for l := 1; l < 4; l++ {
				f.Set(t)
				f.Get(row).Get(xrec).I32Load(off+uint32(4*l)).Op(wasm.OpcodeI32Add).Get(t).V128Load32Lane(0, byte(l))
			}
		}
		group := func(lanes int) {
			// weights dx*dy per lane, then the terms in the scalar order
			f.Get(xrec).V128Load(dOff + 16).Get(dy2).Vec(mul).Set(w22)
			f.Get(xrec).V128Load(dOff).Get(dy2).Vec(mul).Set(w12)
			f.Get(xrec).V128Load(dOff + 16).Get(dy1).Vec(mul).Set(w21)
			f.Get(xrec).V128Load(dOff).Get(dy1).Vec(mul).Set(w11)
			f.Get(w22)
			gather(r1, 0)
			f.Vec(mul).Get(w12)
			gather(r1, 16)
			f.Vec(mul).Vec(add).Get(w21)
			gather(r2, 0)
			f.Vec(mul).Vec(add).Get(w11)
			gather(r2, 16)
			f.Vec(mul).Vec(add).Set(t)
			storeLanes(f, dst, t, lanes)
			f.AddI32(dst, int32(4*lanes))
			f.AddI32(xrec, int32(rec))
		}
		f.Get(f.Param(2)).Set(yrec)
		f.Loop32(rows, func() {
			f.Get(plane).Get(yrec).I32Load(0).Op(wasm.OpcodeI32Add).Set(r1)
			f.Get(plane).Get(yrec).I32Load(4).Op(wasm.OpcodeI32Add).Set(r2)
			f.Get(yrec).V128Load32Splat(8).Set(dy1)
			f.Get(yrec).V128Load32Splat(12).Set(dy2)
			f.I32Const(xAddr).Set(xrec)
			f.Counted(f.Local(i32), b.OW/4, func() { group(4) })
			if r := b.OW % 4; r > 0 {
				group(r)
			}
			f.AddI32(yrec, 16)
		})
	})
	return planeFn, yAddr
}
