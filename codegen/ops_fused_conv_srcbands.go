package codegen

import (
	"fmt"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/tune"
)

// Convolutions whose whole col would not fit L2 (im2colBandOver: a 7x7
// stem's is 7.4 MB, a 3-channel stride-2 stem's on 1024x1024 28 MB) run
// convPackA in bands of output rows, each band's col unfolded straight
// from the unpadded input: a window row above or below the image is a row
// of zeros, the columns left and right of it zeros written beside the
// gathered middle (decided per tap at compile time). The band's col holds
// the same values as the bordered im2col's, and the products run with the
// whole image's K chunks, so the outputs are the same bits. Nothing of the
// whole image is reserved: the node's scratch is one band's col and the
// expanded weight panel, one copy per thread (docs/design.md, stem).

// srcBandRows is the output rows per band of such a convolution, 0 when
// it unfolds the whole image (col within im2colBandOver, a 1x1 stride-1
// layer, not 2-D) or when the portable shape runs it as taps
// (planTapConv), whose workspace layout differs. It does not depend on the
// tune: the memory plan is made before the tune is known.
func srcBandRows(n *ir.Node, op *ir.FusedConv, p *convPlan) int {
	if srcBandsOff || p.direct || len(p.g.Out) != 2 || p.group != 1 || p.colBytes <= im2colBandOver || n.Inputs[0].Type.DType != ir.Float32 {
		return 0
	}
	pk := &Ctx{md: &module{opts: Options{SIMD: true, Tune: tune.Portable}}}
	if _, ok := planTapConv(pk, n, op); ok {
		return 0
	}
	rowBytes := p.cg * p.kSize * p.g.Out[1] * 4
	return max(1, min(p.g.Out[0], im2colBandBytes/rowBytes))
}

// srcBandsOff (tests only) turns the source bands off: the whole image's
// col from a padded copy, as before them (TestSrcBandsBits).
var srcBandsOff bool

// srcBandScratchRows is the rows of col a thread's scratch holds: the
// single-threaded band, or a threaded band's at least 128 pixels
// (im2colThreadBandRows), whichever is more, at most the image.
func srcBandScratchRows(p *convPlan, r int) int {
	Wo := p.g.Out[1]
	return min(p.g.Out[0], max(r, (128+Wo-1)/Wo))
}

// srcBandScratch is the per-thread scratch of a source-band convolution:
// a band's col, then the portable shape's expanded weight panel.
func srcBandScratch(p *convPlan, r int) (col, total int) {
	col = bandColBytes(p, srcBandScratchRows(p, r))
	return col, col + min(p.cg*p.kSize, portableMaxK)*64
}

// im2colSrcBand writes the col of a band of rows output rows, from output
// row y0 on, of the image at xBase (unpadded) to the address col pushes:
// row (c, ky, kx) of the band's col holds, for each output pixel of the
// band, the input under tap (ky, kx) of channel c, zero where the window
// lies in the padding.
func (k *Ctx) im2colSrcBand(xBase, y0 asm.Local, col func(), p *convPlan, rows int) {
	f := k.F
	g := p.g
	H, W := g.In[0], g.In[1]
	Wo := g.Out[1]
	kh, kw := g.Kernel[0], g.Kernel[1]
	sy, dy, padT := g.Strides[0], g.Dilations[0], g.PadBegin[0]
	rowOut := int32(Wo * 4)
	dst, chanPtr, cc, iy, j, src := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	col()
	f.Set(dst)
	f.Get(xBase).Set(chanPtr)
	helpers := make([]uint32, kw)
	for kx := range helpers {
		helpers[kx] = k.im2colSrcRow(g, kx)
	}
	f.Counted(cc, p.cg, func() {
		for ky := 0; ky < kh; ky++ {
			for kx := 0; kx < kw; kx++ {
				// iy = y0*sy + ky*dy - padT, the band's first window row
				f.Get(y0).I32Const(int32(sy)).Op(wasm.OpcodeI32Mul).I32Const(int32(ky*dy - padT)).Op(wasm.OpcodeI32Add).Set(iy)
				f.Counted(j, rows, func() {
					f.Get(iy).I32Const(int32(H)).Op(wasm.OpcodeI32LtU).If()
					f.Get(iy).I32Const(int32(W * 4)).Op(wasm.OpcodeI32Mul).Get(chanPtr).Op(wasm.OpcodeI32Add).Set(src)
					f.Get(dst).Get(src).Call(helpers[kx])
					f.Else()
					f.Get(dst).I32Const(0).I32Const(rowOut).MemoryFill()
					f.End()
					f.AddI32(dst, rowOut)
					f.AddI32(iy, int32(sy))
				})
				if gap := bandPitch(rows*Wo) - rows*Wo; gap > 0 {
					f.AddI32(dst, int32(4*gap))
				}
			}
		}
		f.AddI32(chanPtr, int32(H*W*4))
	})
}

// im2colSrcRow returns the shared function (dst, row) writing one output
// row's col entries for tap column kx from the input row at row: zeros
// where the tap reads left or right of the row, the row's elements under
// it (every stride-th) between.
func (k *Ctx) im2colSrcRow(g *ir.Geometry, kx int) uint32 {
	W, Wo := g.In[1], g.Out[1]
	sx := g.Strides[1]
	ox := kx*g.Dilations[1] - g.PadBegin[1] // input column of output 0
	// outputs [0, xl) read left of the row, [xe, Wo) right of it
	xl := 0
	if ox < 0 {
		xl = min(Wo, (-ox+sx-1)/sx)
	}
	xe := max(xl, min(Wo, (W-ox+sx-1)/sx))
	n := xe - xl
	// stride 2: groups of four outputs read 8 elements from their first;
	// the last group's eighth may not lie past the row's end
	vec := 0
	if sx == 2 && k.SIMD() {
		for g4 := 0; (g4+1)*4 <= n && ox+2*xl+8*g4+7 <= W-1; g4++ {
			vec = g4 + 1
		}
	}
	name := fmt.Sprintf("im2col_src_row_s%d_o%d_%d_%d_%d_v%d", sx, ox+sx*xl, xl, n, Wo-xe, vec)
	i32 := asm.I32
	return k.Helper(name, []wasm.ValueType{i32, i32}, nil, func(f *asm.Func) {
		dst, src := f.Param(0), f.Param(1)
		zero := func(off, count int) {
			if count <= 0 {
				return
			}
			if count <= 8 {
				for i := 0; i < count; i++ {
					f.Get(dst).F32Const(0).F32Store(uint32(4 * (off + i)))
				}
				return
			}
			f.Get(dst).I32Const(int32(4 * off)).Op(wasm.OpcodeI32Add).I32Const(0).I32Const(int32(4 * count)).MemoryFill()
		}
		zero(0, xl)
		zero(xe, Wo-xe)
		if n == 0 {
			return
		}
		d, s := f.Local(asm.I32), f.Local(asm.I32)
		f.Get(dst).I32Const(int32(4 * xl)).Op(wasm.OpcodeI32Add).Set(d)
		f.Get(src).I32Const(int32(4 * (ox + sx*xl))).Op(wasm.OpcodeI32Add).Set(s)
		if sx == 1 {
			copyRow(f, k.SIMD(), d, s, 4*n)
			return
		}
		c := f.Local(asm.I32)
		f.Counted(c, vec, func() {
			f.Get(d).Get(s).V128Load(0).Get(s).V128Load(16)
			f.I8x16Shuffle(evenLanes).V128Store(0)
			f.AddI32(d, 16)
			f.AddI32(s, 32)
		})
		if rest := n - 4*vec; rest <= 16 {
			for i := 0; i < rest; i++ {
				f.Get(d).Get(s).F32Load(uint32(4 * sx * i)).F32Store(uint32(4 * i))
			}
		} else {
			f.Counted(c, rest, func() {
				f.Get(d).Get(s).F32Load(0).F32Store(0)
				f.AddI32(d, 4)
				f.AddI32(s, int32(4*sx))
			})
		}
	})
}
