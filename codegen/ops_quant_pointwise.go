package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Pointwise integer convolutions (1x1 kernel, stride 1, no padding, one
// group): out[m, p] = sum_c w[m, c] * (x[c, p] - zx), a GEMM whose B is the
// image itself. No reduction across lanes: each i32x4 accumulator holds 4
// output positions of one channel. Per tile of pwCols positions, a panel
// holds channel pairs interleaved, (x[2j, p] - zx, x[2j+1, p] - zx) for p
// in the tile, as i16; a weight pair (w[m, 2j], w[m, 2j+1]) splat to every
// 32-bit lane makes i32x4.dot_i16x8_s add two channels' products per
// position. A tile is pwRows channels by pwCols positions (8
// accumulators: V8 spills with more); the panel stays in the L1 cache
// while every channel tile runs over it.
const (
	pwRows = 2
	pwVecs = 4 // i32x4 accumulators per row
	pwCols = 4 * pwVecs
)

// pwPanelBytes is the size of one tile's panel: C/2 pairs of pwCols positions.
func pwPanelBytes(C int) int { return (C + 1) / 2 * pwCols * 4 }

// qPointwise computes one image: x at xBase (8-bit, C x P), weights
// packed at w (rows of Kp values of width wWidth), the panel at panel.
func (k *Ctx) qPointwise(xBase asm.Local, p *qconvPlan, w int32, wWidth int, panel int32, zx asm.Local, epi qepi) {
	f := k.F
	C, P, M := p.C, p.P, p.M
	pairs := (C + 1) / 2
	if !k.SIMD() {
		k.qPointwiseScalar(xBase, p, w, wWidth, zx, epi)
		return
	}
	const pairBytes = pwCols * 4
	zvec := f.Local(asm.V128)
	f.Get(zx).Vec(wasm.OpcodeVecI16x8Splat).Set(zvec)
	pos, sp, dp, jc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	bv := make([]asm.Local, pwVecs)
	for i := range bv {
		bv[i] = f.Local(asm.V128)
	}
	lo := [16]byte{0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23}
	hi := [16]byte{8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31}
	ext := [2]wasm.OpcodeVec{wasm.OpcodeVecI16x8ExtendLowI8x16U, wasm.OpcodeVecI16x8ExtendHighI8x16U}
	if p.xdt == ir.Int8 {
		ext = [2]wasm.OpcodeVec{wasm.OpcodeVecI16x8ExtendLowI8x16S, wasm.OpcodeVecI16x8ExtendHighI8x16S}
	}
	ca, cb, cv := f.Local(asm.V128), f.Local(asm.V128), f.Local(asm.V128)
	// fullPanel builds the panel of positions pos..pos+pwCols-1: per pair,
	// 16 positions of both channels, widened, interleaved in 4 stores.
	esz := p.xdt.Bits() / 8
	fullPanel := func() {
		f.Get(pos)
		if esz == 2 {
			f.I32Const(1).Op(wasm.OpcodeI32Shl)
		}
		f.Get(xBase).Op(wasm.OpcodeI32Add).Set(sp)
		f.I32Const(panel).Set(dp)
		body := func(odd bool) {
			// half h: positions 8h..8h+7 of both channels, as i16
			half := func(h int) {
				if esz == 2 {
					f.Get(sp).V128Load(uint32(16 * h))
				} else {
					f.Get(ca).Vec(ext[h])
				}
				f.Get(zvec).Vec(wasm.OpcodeVecI16x8Sub).Set(cv)
				switch {
				case odd:
					f.V128Const([16]byte{})
				case esz == 2:
					f.Get(sp).V128Load(uint32(2*P + 16*h)).Get(zvec).Vec(wasm.OpcodeVecI16x8Sub)
				default:
					f.Get(cb).Vec(ext[h]).Get(zvec).Vec(wasm.OpcodeVecI16x8Sub)
				}
				f.Set(bv[0])
				f.Get(dp).Get(cv).Get(bv[0]).I8x16Shuffle(lo).V128Store(uint32(32 * h))
				f.Get(dp).Get(cv).Get(bv[0]).I8x16Shuffle(hi).V128Store(uint32(32*h + 16))
			}
			if esz == 1 {
				f.Get(sp).V128Load(0).Set(ca)
				if !odd {
					f.Get(sp).V128Load(uint32(P)).Set(cb)
				}
			}
			half(0)
			half(1)
			f.AddI32(sp, int32(2*P*esz))
			f.AddI32(dp, pairBytes)
		}
		f.Counted(jc, C/2, func() { body(false) })
		if C%2 == 1 {
			body(true)
		}
	}
	// tailPanel builds the panel of the last n < pwCols positions, zero
	// beyond them.
	tailPanel := func(n int) {
		f.I32Const(panel).I32Const(0).I32Const(int32(pwPanelBytes(C))).MemoryFill()
		f.Get(xBase).I32Const(int32((P - n) * esz)).Op(wasm.OpcodeI32Add).Set(sp)
		f.I32Const(panel).Set(dp)
		cc, odd := f.Local(asm.I32), f.Local(asm.I32)
		f.SetI32(odd, 0)
		f.Counted(cc, C, func() {
			// position i of channel c is at pair c/2, byte 4i + 2(c%2)
			for i := 0; i < n; i++ {
				f.Get(dp).Get(sp)
				k.loadElem(p.xdt, uint32(i*esz))
				f.Get(zx).Op(wasm.OpcodeI32Sub).I32Store16(uint32(4 * i))
			}
			f.AddI32(sp, int32(P*esz))
			// after an even channel +2 (the pair's second half), after an
			// odd one to the next pair
			f.Get(dp).I32Const(pairBytes - 2).Op(wasm.OpcodeI32Add).Get(dp).I32Const(2).Op(wasm.OpcodeI32Add)
			f.Get(odd).Select().Set(dp)
			f.Get(odd).I32Const(1).Op(wasm.OpcodeI32Xor).Set(odd)
		})
	}
	accs := make([]asm.Local, pwRows*pwVecs)
	for i := range accs {
		accs[i] = f.Local(asm.V128)
	}
	av := f.Local(asm.V128)
	pa, pb, m, mc, lane, nj := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	ef, isF32 := epi.(*qEpiF32)
	// tile runs rows channels from m over the panel; cols of the
	// positions are stored.
	tile := func(rows, cols int) {
		vecs := (cols + 3) / 4
		for i := 0; i < rows*pwVecs; i++ {
			f.V128Const([16]byte{}).Set(accs[i])
		}
		f.Get(m).I32Const(int32(p.Kp * wWidth)).Op(wasm.OpcodeI32Mul).I32Const(w).Op(wasm.OpcodeI32Add).Set(pa)
		f.I32Const(panel).Set(pb)
		f.Counted(jc, pairs, func() {
			for v := vecs - 1; v >= 0; v-- {
				f.Get(pb).V128Load(uint32(16 * v)).Set(bv[v])
			}
			for r := rows - 1; r >= 0; r-- {
				f.Get(pa)
				if wWidth == 1 {
					f.V128Load16Splat(uint32(r * p.Kp)).Vec(wasm.OpcodeVecI16x8ExtendLowI8x16S)
				} else {
					f.V128Load32Splat(uint32(r * p.Kp * 2))
				}
				f.Set(av)
				for v := 0; v < vecs; v++ {
					acc := accs[r*pwVecs+v]
					f.Get(acc).Get(av).Get(bv[v]).Vec(wasm.OpcodeVecI32x4DotI16x8S).Vec(wasm.OpcodeVecI32x4Add).Set(acc)
				}
			}
			f.AddI32(pa, int32(2*wWidth))
			f.AddI32(pb, pairBytes)
		})
		for r := 0; r < rows; r++ {
			f.Get(m).I32Const(int32(r)).Op(wasm.OpcodeI32Add).Set(mc)
			for v := 0; v < vecs; v++ {
				acc := accs[r*pwVecs+v]
				c0 := 4 * v
				f.Get(pos).I32Const(int32(c0)).Op(wasm.OpcodeI32Add).Set(nj)
				switch {
				case isF32 && v%2 == 0 && c0+8 <= cols:
					ef.vec8(mc, nj, acc, accs[r*pwVecs+v+1])
					v++
				case c0+4 <= cols:
					epi.vec(mc, nj, acc)
				default:
					for j := c0; j < cols; j++ {
						f.Get(acc).Lane(wasm.OpcodeVecI32x4ExtractLane, byte(j-c0)).Set(lane)
						f.Get(pos).I32Const(int32(j)).Op(wasm.OpcodeI32Add).Set(nj)
						epi.scalar(mc, nj, lane)
					}
				}
			}
		}
	}
	channels := func(cols int) {
		f.SetI32(m, 0)
		rc := f.Local(asm.I32)
		f.Counted(rc, M/pwRows, func() {
			tile(pwRows, cols)
			f.AddI32(m, pwRows)
		})
		if M%pwRows != 0 {
			tile(M%pwRows, cols)
		}
	}
	f.SetI32(pos, 0)
	tc := f.Local(asm.I32)
	f.Counted(tc, P/pwCols, func() {
		fullPanel()
		channels(pwCols)
		f.AddI32(pos, pwCols)
	})
	if P%pwCols != 0 {
		tailPanel(P % pwCols)
		channels(P % pwCols)
	}
}

// qPointwiseScalar is the same product without SIMD, reading x directly.
func (k *Ctx) qPointwiseScalar(xBase asm.Local, p *qconvPlan, w int32, wWidth int, zx asm.Local, epi qepi) {
	f := k.F
	m, n, c, acc, px, pw := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.Repeat(m, p.M, func() {
		f.Repeat(n, p.P, func() {
			f.SetI32(acc, 0)
			f.Get(n)
			if p.xdt == ir.Int16 {
				f.I32Const(1).Op(wasm.OpcodeI32Shl)
			}
			f.Get(xBase).Op(wasm.OpcodeI32Add).Set(px)
			f.Get(m).I32Const(int32(p.Kp * wWidth)).Op(wasm.OpcodeI32Mul).I32Const(w).Op(wasm.OpcodeI32Add).Set(pw)
			f.Counted(c, p.C, func() {
				f.Get(acc).Get(px)
				k.loadElem(p.xdt, 0)
				f.Get(zx).Op(wasm.OpcodeI32Sub).Get(pw)
				if wWidth == 1 {
					f.I32Load8S(0)
				} else {
					f.I32Load16S(0)
				}
				f.Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(acc)
				f.AddI32(px, int32(p.P*p.xdt.Bits()/8))
				f.AddI32(pw, int32(wWidth))
			})
			epi.scalar(m, n, acc)
		})
	})
}
