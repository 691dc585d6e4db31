package codegen

import (
	"fmt"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// The integer GEMM core shared by MatMulInteger, QLinearMatMul,
// ConvInteger and QLinearConv: C[M,N] = A[M,K] x B[K,N] accumulated in
// int32, then an epilogue stores the accumulators or requantizes them.
//
// Both operands are packed first into rows of Kp values (K rounded up to 8,
// zero padded) with their zero points already subtracted: A as M rows, B
// transposed as N rows (padded with zero rows to a multiple of 4). Values
// are int16 (the difference of two 8-bit values needs 9 bits) or int8 when
// they fit. The SIMD core computes 2x4 tiles of C: each step loads 8
// K-values of 2 A rows and 4 B rows widened to i16x8, and
// i32x4.dot_i16x8_s adds their products pairwise into 8 accumulators; a
// tile's accumulators are summed across lanes once, at the end.

func qPadK(k int) int { return (k + 7) / 8 * 8 }
func qPadN(n int) int { return (n + 3) / 4 * 4 }

// qpacked is a packed operand: row r starts at base + r*Kp*width.
type qpacked struct {
	base  asm.Local
	width int // bytes per value: 2 (int16) or 1 (int8)
}

type qgemm struct {
	M, N, K, Kp int
	a, b        qpacked
	epi         qepi
}

// qepi finishes accumulators of C row m, column n.
type qepi interface {
	// vec gets the v128 of columns n..n+3 (all inside C).
	vec(m, n, acc asm.Local)
	// scalar gets the i32 of column n.
	scalar(m, n, acc asm.Local)
}

func (k *Ctx) emitQGemm(p qgemm) {
	if k.SIMD() {
		k.qgemmSIMD(p)
	} else {
		k.qgemmScalar(p)
	}
}

// qgemmScalar is the reference-shaped loop over the packed operands.
func (k *Ctx) qgemmScalar(p qgemm) {
	f := k.F
	m, n, pa, pb, acc, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	load := func(ptr asm.Local, width int) {
		f.Get(ptr)
		if width == 2 {
			f.I32Load16S(0)
		} else {
			f.I32Load8S(0)
		}
	}
	f.Repeat(m, p.M, func() {
		f.Repeat(n, p.N, func() {
			f.Get(p.a.base).Get(m).I32Const(int32(p.Kp * p.a.width)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(pa)
			f.Get(p.b.base).Get(n).I32Const(int32(p.Kp * p.b.width)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(pb)
			f.SetI32(acc, 0)
			f.Counted(c, p.K, func() {
				f.Get(acc)
				load(pa, p.a.width)
				load(pb, p.b.width)
				f.Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(acc)
				f.AddI32(pa, int32(p.a.width))
				f.AddI32(pb, int32(p.b.width))
			})
			p.epi.scalar(m, n, acc)
		})
	})
}

// qgemmSIMD tiles C in 2 rows x 4 columns.
func (k *Ctx) qgemmSIMD(p qgemm) {
	f := k.F
	red := [2]asm.Local{f.Local(asm.V128), f.Local(asm.V128)}
	rowA, colB := f.Local(asm.I32), f.Local(asm.I32)
	ta, tb := f.Local(asm.I32), f.Local(asm.I32)
	m, n, mr, nj, lane := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	finish := func(rows, cols int) {
		for r := 0; r < rows; r++ {
			f.Get(m).I32Const(int32(r)).Op(wasm.OpcodeI32Add).Set(mr)
			if cols == 4 {
				p.epi.vec(mr, n, red[r])
				continue
			}
			for j := 0; j < cols; j++ {
				f.Get(red[r]).Lane(wasm.OpcodeVecI32x4ExtractLane, byte(j)).Set(lane)
				f.Get(n).I32Const(int32(j)).Op(wasm.OpcodeI32Add).Set(nj)
				p.epi.scalar(mr, nj, lane)
			}
		}
	}
	rowBytesA, rowBytesB := int32(p.Kp*p.a.width), int32(p.Kp*p.b.width)
	// Column tiles outside, row tiles inside: a tile's 4 B rows stay in
	// the L1 cache while every row pair of A (small: weights) passes over
	// them, where the other order streams all of B (an im2col matrix
	// larger than L2) once per row pair.
	one := func(rows, cols int) {
		f.Get(rowA).Set(ta)
		f.Get(colB).Set(tb)
		qTile(f, ta, tb, rows, p.Kp, p.a.width, p.b.width)
		for r := rows - 1; r >= 0; r-- {
			f.Set(red[r])
		}
		finish(rows, cols)
		f.AddI32(rowA, int32(rows)*rowBytesA)
		f.AddI32(m, int32(rows))
	}
	colTiles := func(cols int) {
		f.Get(p.a.base).Set(rowA)
		f.SetI32(m, 0)
		rc := f.Local(asm.I32)
		f.Counted(rc, p.M/2, func() { one(2, cols) })
		if p.M%2 == 1 {
			one(1, cols)
		}
		f.AddI32(colB, 4*rowBytesB)
		f.AddI32(n, 4)
	}
	f.Get(p.b.base).Set(colB)
	f.SetI32(n, 0)
	cc := f.Local(asm.I32)
	f.Counted(cc, p.N/4, func() { colTiles(4) })
	if p.N%4 != 0 {
		colTiles(p.N % 4)
	}
}

// qTile computes one tile: it leaves rows i32x4 on the stack, row r
// holding the inner products of A row r (at pa + r*Kp*wa) with the 4 B
// rows at pb (each Kp*wb apart), and advances pa and pb. Each step loads 8
// K-values of every row, widened to i16x8, and i32x4.dot_i16x8_s adds
// their products pairwise into one accumulator per (row, B row); the
// accumulators' lanes are summed once at the end.
func qTile(f *asm.Func, pa, pb asm.Local, rows, kp, wa, wb int) {
	accs := make([]asm.Local, rows*4)
	for i := range accs {
		accs[i] = f.Local(asm.V128)
	}
	av := [2]asm.Local{f.Local(asm.V128), f.Local(asm.V128)}
	bv, kc := f.Local(asm.V128), f.Local(asm.I32)
	load := func(ptr asm.Local, width int, off int) {
		if width == 2 {
			f.Get(ptr).V128Load(uint32(off * 2))
		} else {
			f.Get(ptr).V128Load8x8S(uint32(off))
		}
	}
	// step multiplies 8 K-values at value offset off; the farthest
	// loads come first so that wazero checks each base's bounds once.
	step := func(off int) {
		for r := rows - 1; r >= 0; r-- {
			load(pa, wa, r*kp+off)
			f.Set(av[r])
		}
		// One B vector live at a time leaves registers for the accumulators.
		for c := 3; c >= 0; c-- {
			load(pb, wb, c*kp+off)
			f.Set(bv)
			for r := 0; r < rows; r++ {
				a := accs[r*4+c]
				f.Get(a).Get(av[r]).Get(bv).Vec(wasm.OpcodeVecI32x4DotI16x8S).Vec(wasm.OpcodeVecI32x4Add).Set(a)
			}
		}
	}
	for _, a := range accs {
		f.V128Const([16]byte{}).Set(a)
	}
	steps := kp / 8
	// V8 hoists the loads of an unrolled step and spills; one step per
	// iteration runs at twice the speed there (wazero prefers 4).
	const unroll = 1
	done := 0
	if steps >= 2*unroll {
		f.Counted(kc, steps/unroll, func() {
			// Last step first: its loads have the highest offsets, so
			// the others need no bounds checks (the sums are exact in
			// any order).
			for u := unroll - 1; u >= 0; u-- {
				step(8 * u)
			}
			f.AddI32(pa, int32(8*unroll*wa))
			f.AddI32(pb, int32(8*unroll*wb))
		})
		done = steps / unroll * unroll
	}
	for i := steps - done - 1; i >= 0; i-- {
		step(8 * i)
	}
	// Sum each row's 4 accumulators across lanes: interleave pairs,
	// add, then add the halves.
	t0, t1 := f.Local(asm.V128), f.Local(asm.V128)
	for r := 0; r < rows; r++ {
		a := accs[r*4 : r*4+4]
		for h, t := range []asm.Local{t0, t1} {
			x, y := a[2*h], a[2*h+1]
			f.Get(x).Get(y).I8x16Shuffle([16]byte{0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23})
			f.Get(x).Get(y).I8x16Shuffle([16]byte{8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31})
			f.Vec(wasm.OpcodeVecI32x4Add).Set(t)
		}
		f.Get(t0).Get(t1).I8x16Shuffle([16]byte{0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23})
		f.Get(t0).Get(t1).I8x16Shuffle([16]byte{8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31})
		f.Vec(wasm.OpcodeVecI32x4Add)
	}
}

// qPackRows packs rows x K 8-bit values of dt into int16 rows of Kp at
// dst: value (r, c) is read at src + r*rs + c*cs (bytes) and the zero point
// at zp + r*zpStride (none when zp is nil). The padding of the rows is left
// as it is (the caller clears the buffer). The loops run in a helper
// function: small functions compile to better code in wazero.
func (k *Ctx) qPackRows(dst, src asm.Local, rows, K, Kp, rs, cs int, dt ir.DType, zp *asm.Local, zpStride int) {
	simd := k.SIMD() && cs == 1 && K >= 8
	name := fmt.Sprintf("qpack_%s_%dx%d_k%d_rs%d_cs%d_z%v_%d_simd%v", dt, rows, K, Kp, rs, cs, zp != nil, zpStride, simd)
	h := k.Helper(name, []wasm.ValueType{asm.I32, asm.I32, asm.I32}, nil, func(f *asm.Func) {
		dst, src, zl := f.Param(0), f.Param(1), f.Param(2)
		load := func(off uint32) {
			if dt == ir.Int8 {
				f.I32Load8S(off)
			} else {
				f.I32Load8U(off)
			}
		}
		dp, sp, zv, c, rc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		zvec := f.Local(asm.V128)
		f.SetI32(zv, 0)
		f.Counted(rc, rows, func() {
			if zp != nil {
				f.Get(zl)
				load(0)
				f.Set(zv)
				if zpStride != 0 {
					f.AddI32(zl, int32(zpStride))
				}
			}
			f.Get(dst).Set(dp)
			f.Get(src).Set(sp)
			rest := K
			if simd {
				f.Get(zv).Vec(wasm.OpcodeVecI16x8Splat).Set(zvec)
				ext := wasm.OpcodeVecI16x8ExtendLowI8x16U
				if dt == ir.Int8 {
					ext = wasm.OpcodeVecI16x8ExtendLowI8x16S
				}
				f.Counted(c, K/8, func() {
					f.Get(dp).Get(sp).V128Load64Zero(0).Vec(ext).Get(zvec).Vec(wasm.OpcodeVecI16x8Sub).V128Store(0)
					f.AddI32(sp, 8)
					f.AddI32(dp, 16)
				})
				rest = K % 8
			}
			f.Counted(c, rest, func() {
				f.Get(dp).Get(sp)
				load(0)
				f.Get(zv).Op(wasm.OpcodeI32Sub).I32Store16(0)
				f.AddI32(sp, int32(cs))
				f.AddI32(dp, 2)
			})
			f.AddI32(dst, int32(2*Kp))
			f.AddI32(src, int32(rs))
		})
	})
	f := k.F
	f.Get(dst).Get(src)
	if zp != nil {
		f.Get(*zp)
	} else {
		f.I32Const(0)
	}
	f.Call(h)
}

// qStoreI32 stores accumulators as int32: C(m, n) at base + (m*ld + n)*4.
type qStoreI32 struct {
	k    *Ctx
	base asm.Local
	ld   int
}

func (e *qStoreI32) addr(m, n asm.Local) {
	f := e.k.F
	f.Get(m).I32Const(int32(e.ld)).Op(wasm.OpcodeI32Mul).Get(n).Op(wasm.OpcodeI32Add).I32Const(2).Op(wasm.OpcodeI32Shl).Get(e.base).Op(wasm.OpcodeI32Add)
}

func (e *qStoreI32) vec(m, n, acc asm.Local) {
	e.addr(m, n)
	e.k.F.Get(acc).V128Store(0)
}

func (e *qStoreI32) scalar(m, n, acc asm.Local) {
	e.addr(m, n)
	e.k.F.Get(acc).I32Store(0)
}

// Multiplier layouts of a requantization: one value, one per row of C, one
// per column, or one per element (rows x Np).
const (
	multTensor = iota
	multRow
	multCol
	multElem
)

// qRequant stores saturate(round(f64(acc + bias[m]) * mult(m, n) + zy)) as
// int8 or uint8 at base + m*ld + n: the float64 product is exact, as in the
// ONNX reference.
type qRequant struct {
	k      *Ctx
	base   asm.Local
	ld     int
	out    ir.DType
	bias   *asm.Local // address of the bias of row 0 (int32 per row), or nil
	mode   int
	mult   asm.Local // f64 multiplier (multTensor) or the table's address
	np     int       // table row length for multElem
	zy     asm.Local // f64 output zero point
	hi, lo asm.Local // v128 scratch
}

func newRequant(k *Ctx, base asm.Local, ld int, out ir.DType, bias *asm.Local, mode int, mult asm.Local, np int, zy asm.Local) *qRequant {
	return &qRequant{k: k, base: base, ld: ld, out: out, bias: bias, mode: mode, mult: mult, np: np, zy: zy,
		hi: k.F.Local(asm.V128), lo: k.F.Local(asm.V128)}
}

// multAddr pushes the address of mult(m, n) in the table.
func (e *qRequant) multAddr(m, n asm.Local) {
	f := e.k.F
	f.Get(e.mult)
	switch e.mode {
	case multRow:
		f.Get(m)
	case multCol:
		f.Get(n)
	case multElem:
		f.Get(m).I32Const(int32(e.np)).Op(wasm.OpcodeI32Mul).Get(n).Op(wasm.OpcodeI32Add)
	}
	f.I32Const(3).Op(wasm.OpcodeI32Shl).Op(wasm.OpcodeI32Add)
}

func (e *qRequant) outAddr(m, n asm.Local) {
	f := e.k.F
	f.Get(m).I32Const(int32(e.ld)).Op(wasm.OpcodeI32Mul).Get(n).Op(wasm.OpcodeI32Add).Get(e.base).Op(wasm.OpcodeI32Add)
}

func (e *qRequant) loadBias(m asm.Local) {
	f := e.k.F
	f.Get(m).I32Const(2).Op(wasm.OpcodeI32Shl).Get(*e.bias).Op(wasm.OpcodeI32Add).I32Load(0)
}

func (e *qRequant) vec(m, n, acc asm.Local) {
	f := e.k.F
	f.Get(acc)
	if e.bias != nil {
		e.loadBias(m)
		f.Vec(wasm.OpcodeVecI32x4Splat).Vec(wasm.OpcodeVecI32x4Add)
	}
	f.Set(e.lo)
	// lanes 0,1 and 2,3 as f64x2, times the multiplier, plus zy, rounded
	half := func(high bool, off uint32) {
		f.Get(e.lo)
		if high {
			f.Get(e.lo).I8x16Shuffle([16]byte{8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15})
		}
		f.Vec(wasm.OpcodeVecF64x2ConvertLowI32x4S)
		switch e.mode {
		case multTensor:
			f.Get(e.mult).Vec(wasm.OpcodeVecF64x2Splat)
		case multRow:
			e.multAddr(m, n)
			f.F64Load(0).Vec(wasm.OpcodeVecF64x2Splat)
		default:
			e.multAddr(m, n)
			f.V128Load(off)
		}
		f.Vec(wasm.OpcodeVecF64x2Mul)
		f.Get(e.zy).Vec(wasm.OpcodeVecF64x2Splat).Vec(wasm.OpcodeVecF64x2Add)
		f.Vec(wasm.OpcodeVecF64x2Nearest).Vec(wasm.OpcodeVecI32x4TruncSatF64x2SZero)
	}
	half(true, 16)
	f.Set(e.hi)
	half(false, 0)
	// [l0 l1 0 0] and [h0 h1 0 0] -> [l0 l1 h0 h1]; the saturating
	// narrowings clamp to the output range.
	f.Get(e.hi).I8x16Shuffle([16]byte{0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23})
	f.Set(e.lo)
	e.outAddr(m, n)
	f.Get(e.lo).Get(e.lo).Vec(wasm.OpcodeVecI16x8NarrowI32x4S)
	f.Get(e.lo).Get(e.lo).Vec(wasm.OpcodeVecI16x8NarrowI32x4S)
	if e.out == ir.Int8 {
		f.Vec(wasm.OpcodeVecI8x16NarrowI16x8S)
	} else {
		f.Vec(wasm.OpcodeVecI8x16NarrowI16x8U)
	}
	f.Lane(wasm.OpcodeVecI32x4ExtractLane, 0).I32Store(0)
}

func (e *qRequant) scalar(m, n, acc asm.Local) {
	f := e.k.F
	e.outAddr(m, n)
	f.Get(acc)
	if e.bias != nil {
		e.loadBias(m)
		f.Op(wasm.OpcodeI32Add)
	}
	f.Op(wasm.OpcodeF64ConvertI32S)
	if e.mode == multTensor {
		f.Get(e.mult)
	} else {
		e.multAddr(m, n)
		f.F64Load(0)
	}
	f.Op(wasm.OpcodeF64Mul).Get(e.zy).Op(wasm.OpcodeF64Add).Op(wasm.OpcodeF64Nearest)
	lo, hi := ir.QuantRange(e.out)
	f.F64Const(float64(lo)).Op(wasm.OpcodeF64Max).F64Const(float64(hi)).Op(wasm.OpcodeF64Min)
	f.Misc(wasm.OpcodeMiscI32TruncSatF64S).I32Store8(0)
}
