package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
)

// Depthwise integer convolutions (one input channel per group, 2-D,
// horizontal stride 1 or 2) skip the GEMM: per input channel the padded
// plane is copied as int16 with the zero point subtracted, and each
// output row is computed 8 positions at a time. Pairs of taps share one
// i32x4.dot_i16x8_s: the two taps' input vectors are interleaved lane by
// lane and multiplied with the splat weight pair. With stride 2 the plane
// keeps each row's even columns before its odd ones, so that every tap
// still reads 8 consecutive values.

// dwPlan is the layout of one padded plane.
type dwPlan struct {
	rowStride int // int16 values per padded row
	even      int // values in a row's even half (stride 2)
	rows      int
}

func (p *qconvPlan) depthwise() bool {
	g := p.g
	return p.cg == 1 && len(g.In) == 2 && (g.Strides[1] == 1 || g.Strides[1] == 2) && g.Out[1] >= 4
}

func (p *qconvPlan) dwLayout() dwPlan {
	wp := p.padded[1]
	d := dwPlan{rows: p.padded[0], even: (wp + 1) / 2}
	// 8 values of slack: a vector step may read past the row's end
	d.rowStride = alignUp(wp, 8) + 8
	return d
}

// dwPlaneBytes is the workspace of the plane (one spare row at the end).
func (p *qconvPlan) dwPlaneBytes() int {
	d := p.dwLayout()
	return (d.rows + 1) * d.rowStride * 2
}

// qDepthwise computes one image from x at xBase; the epilogue gets
// absolute output channels.
func (k *Ctx) qDepthwise(xBase asm.Local, p *qconvPlan, w int32, wWidth int, plane int32, zx asm.Local, epi qepi) {
	f := k.F
	g := p.g
	d := p.dwLayout()
	sh, sw := g.Strides[0], g.Strides[1]
	OH, OW := g.Out[0], g.Out[1]
	H, W := g.In[0], g.In[1]
	// byte offset of each tap from an output position's base
	var taps []int32
	for kh := 0; kh < g.Kernel[0]; kh++ {
		for kw := 0; kw < g.Kernel[1]; kw++ {
			c := kw * g.Dilations[1]
			col := c
			if sw == 2 {
				col = c%2*d.even + c/2
			}
			taps = append(taps, int32((kh*g.Dilations[0]*d.rowStride+col)*2))
		}
	}
	nPairs := (len(taps) + 1) / 2
	wpairs := make([]asm.Local, nPairs)
	for i := range wpairs {
		wpairs[i] = f.Local(asm.V128)
	}
	c, mj, m, wrow := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	src, dst := f.Local(asm.I32), f.Local(asm.I32)
	zvec := f.Local(asm.V128)
	if k.SIMD() {
		f.Get(zx).Vec(wasm.OpcodeVecI16x8Splat).Set(zvec)
	}
	lay := planeLayout{H: H, W: W, padT: g.PadBegin[0], padL: g.PadBegin[1], rowStride: d.rowStride, even: d.even, deint: sw == 2}
	// padCopy copies input channel c (src) into the plane.
	padCopy := func() {
		f.I32Const(plane).I32Const(0).I32Const(int32(p.dwPlaneBytes())).MemoryFill()
		f.I32Const(plane).Set(dst)
		k.qPlaneCopy(src, dst, lay, zx, zvec, p.xdt)
	}
	// weightPairs splats output channel m's weight pairs (row wrow).
	weightPairs := func() {
		if !k.SIMD() {
			return
		}
		for i := range wpairs {
			t := 2 * i
			ld := func(t int) {
				f.Get(wrow)
				if wWidth == 1 {
					f.I32Load8S(uint32(t))
				} else {
					f.I32Load16S(uint32(2 * t))
				}
			}
			ld(t)
			f.I32Const(0xffff).Op(wasm.OpcodeI32And)
			if t+1 < len(taps) {
				ld(t + 1)
				f.I32Const(16).Op(wasm.OpcodeI32Shl).Op(wasm.OpcodeI32Or)
			}
			f.Vec(wasm.OpcodeVecI32x4Splat).Set(wpairs[i])
		}
	}
	acc0, acc1, va, vb := f.Local(asm.V128), f.Local(asm.V128), f.Local(asm.V128), f.Local(asm.V128)
	base, n, ow, rowBase, lane := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	lo := [16]byte{0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23}
	hi := [16]byte{8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31}
	ef, isF32 := epi.(*qEpiF32)
	// step computes outputs ow.. of row oh at plane address base: 8 or 4.
	step := func(width int) {
		f.V128Const([16]byte{}).Set(acc0)
		if width == 8 {
			f.V128Const([16]byte{}).Set(acc1)
		}
		for i := range wpairs {
			f.Get(base).V128Load(uint32(taps[2*i])).Set(va)
			if 2*i+1 < len(taps) {
				f.Get(base).V128Load(uint32(taps[2*i+1])).Set(vb)
			} else {
				f.V128Const([16]byte{}).Set(vb)
			}
			f.Get(acc0).Get(va).Get(vb).I8x16Shuffle(lo).Get(wpairs[i]).Vec(wasm.OpcodeVecI32x4DotI16x8S).Vec(wasm.OpcodeVecI32x4Add).Set(acc0)
			if width == 8 {
				f.Get(acc1).Get(va).Get(vb).I8x16Shuffle(hi).Get(wpairs[i]).Vec(wasm.OpcodeVecI32x4DotI16x8S).Vec(wasm.OpcodeVecI32x4Add).Set(acc1)
			}
		}
		if width == 8 && isF32 {
			ef.vec8(m, n, acc0, acc1)
		} else {
			epi.vec(m, n, acc0)
			if width == 8 {
				f.Get(n).I32Const(4).Op(wasm.OpcodeI32Add).Set(lane)
				epi.vec(m, lane, acc1)
			}
		}
	}
	// scalarStep computes output ow alone.
	scalarStep := func() {
		f.I32Const(0)
		for t, off := range taps {
			f.Get(base).I32Load16S(uint32(off)).Get(wrow)
			if wWidth == 1 {
				f.I32Load8S(uint32(t))
			} else {
				f.I32Load16S(uint32(2 * t))
			}
			f.Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
		}
		f.Set(lane)
		epi.scalar(m, n, lane)
	}
	chanBytes := int32(H * W * p.xdt.Bits() / 8)
	f.SetI32(c, 0)
	f.SetI32(m, 0)
	f.Get(xBase).Set(src)
	cl := f.Local(asm.I32)
	f.Counted(cl, p.C, func() {
		padCopy()
		f.Counted(mj, p.mg, func() {
			f.Get(m).I32Const(int32(p.Kp * wWidth)).Op(wasm.OpcodeI32Mul).I32Const(w).Op(wasm.OpcodeI32Add).Set(wrow)
			weightPairs()
			f.I32Const(plane).Set(rowBase)
			f.SetI32(n, 0)
			orc := f.Local(asm.I32)
			f.Counted(orc, OH, func() {
				f.Get(rowBase).Set(base)
				rest := OW
				if k.SIMD() {
					f.Counted(ow, OW/8, func() {
						step(8)
						f.AddI32(base, 16)
						f.AddI32(n, 8)
					})
					rest = OW % 8
				}
				if rest >= 4 && k.SIMD() {
					step(4)
					f.AddI32(base, 8)
					f.AddI32(n, 4)
					rest -= 4
				}
				f.Counted(ow, rest, func() {
					scalarStep()
					f.AddI32(base, 2)
					f.AddI32(n, 1)
				})
				f.AddI32(rowBase, int32(sh*d.rowStride*2))
			})
			f.AddI32(m, 1)
		})
		f.Get(xBase).Get(c).I32Const(1).Op(wasm.OpcodeI32Add).Tee(c).I32Const(chanBytes).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(src)
	})
}
