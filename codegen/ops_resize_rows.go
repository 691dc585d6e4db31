package codegen

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
)

// selectRows returns the rows function of a float32 selection of rows and
// columns (nearest-mode Resize, ir.ResizePlan.Select2D) of W-float input
// rows, with bilinearRows's parameters (plane, dst, yrec, rows): rows
// output rows of the plane at plane, from the row whose record is at yrec,
// into dst (len(cols) floats a row); and the address of output row 0's
// record (4 bytes a row: its input row's byte offset in the plane). A
// Winograd layer that reads an upsampling as pieces of its input
// (winogradInPieces) calls it for a band's rows. Output columns go four at
// a time: one v128.load at the group's first input column and an
// i8x16.swizzle where a group's input columns lie within four floats (any
// upsampling), four lane loads otherwise; a row that keeps its columns is
// one memory.copy. Elements are copied, so the values are the input's bits.
func (k *Ctx) selectRows(rows, cols []int, W int) (rowsFn uint32, yAddr int32) {
	var yt, xt []byte
	for _, r := range rows {
		yt = binary.LittleEndian.AppendUint32(yt, uint32(r*4*W))
	}
	OW := len(cols)
	same := OW == W
	for i, c := range cols {
		same = same && c == i
	}
	groups := (OW + 3) / 4
	col := func(g, l int) int { return cols[min(g*4+l, OW-1)] }
	swz := true
	for g := 0; g < groups; g++ {
		lo, hi := col(g, 0), col(g, 0)
		for l := 1; l < 4; l++ {
			lo, hi = min(lo, col(g, l)), max(hi, col(g, l))
		}
		swz = swz && hi-lo <= 3
	}
	for g := 0; g < groups; g++ {
		if swz {
			// [lo, 0, 0, 0] mask (32 bytes)
			lo := slices.Min([]int{col(g, 0), col(g, 1), col(g, 2), col(g, 3)})
			xt = binary.LittleEndian.AppendUint32(xt, uint32(lo*4))
			xt = append(xt, make([]byte, 12)...)
			for l := 0; l < 4; l++ {
				for j := 0; j < 4; j++ {
					xt = append(xt, byte(4*(col(g, l)-lo)+j))
				}
			}
			continue
		}
		// four offsets (16 bytes)
		for l := 0; l < 4; l++ {
			xt = binary.LittleEndian.AppendUint32(xt, uint32(col(g, l)*4))
		}
	}
	yAddr = k.Table("resize_select_rows:"+string(yt), yt)
	i32, v128 := asm.I32, asm.V128
	if same {
		rowsFn = k.Helper(fmt.Sprintf("resize_select_rows_copy_%d", W), []wasm.ValueType{i32, i32, i32, i32}, nil, func(f *asm.Func) {
			plane, dst, yrec, n := f.Param(0), f.Param(1), f.Param(2), f.Param(3)
			f.Loop32(n, func() {
				f.Get(dst).Get(plane).Get(yrec).I32Load(0).Op(wasm.OpcodeI32Add).I32Const(int32(4 * W)).MemoryCopy()
				f.AddI32(dst, int32(4*W))
				f.AddI32(yrec, 4)
			})
		})
		return rowsFn, yAddr
	}
	xAddr := k.Table("resize_select_cols:"+string(xt), xt)
	rec := uint32(16)
	if swz {
		rec = 32
	}
	rowsFn = k.Helper(fmt.Sprintf("resize_select_rows_%d_%d", xAddr, OW), []wasm.ValueType{i32, i32, i32, i32}, nil, func(f *asm.Func) {
		plane, dst, yrec, n := f.Param(0), f.Param(1), f.Param(2), f.Param(3)
		src, xrec, t := f.Local(i32), f.Local(i32), f.Local(v128)
		group := func(lanes int) {
			if swz {
				f.Get(src).Get(xrec).I32Load(0).Op(wasm.OpcodeI32Add).V128Load(0)
				f.Get(xrec).V128Load(16).Vec(wasm.OpcodeVecI8x16Swizzle).Set(t)
			} else {
				f.Get(src).Get(xrec).I32Load(0).Op(wasm.OpcodeI32Add).V128Load32Zero(0)
				for l := 1; l < 4; l++ {
					f.Set(t)
					f.Get(src).Get(xrec).I32Load(uint32(4*l)).Op(wasm.OpcodeI32Add).Get(t).V128Load32Lane(0, byte(l))
				}
				f.Set(t)
			}
			storeLanes(f, dst, t, lanes)
			f.AddI32(dst, int32(4*lanes))
			f.AddI32(xrec, int32(rec))
		}
		f.Loop32(n, func() {
			f.Get(plane).Get(yrec).I32Load(0).Op(wasm.OpcodeI32Add).Set(src)
			f.I32Const(xAddr).Set(xrec)
			f.Counted(f.Local(i32), OW/4, func() { group(4) })
			if r := OW % 4; r > 0 {
				group(r)
			}
			f.AddI32(yrec, 4)
		})
	})
	return rowsFn, yAddr
}
