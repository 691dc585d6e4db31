package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// A 1x1 convolution with one output channel (a segmentation or matting
// head over a large map): per pixel a dot product over the channels, so
// the layer streams its input once and is bound by memory. The packed
// GEMM would run it as a 4-row weight panel with three rows of padding
// (four times the arithmetic) through the pixel-panel packing; here 16
// pixels at a time read each channel's row where it lies, with the
// channel's weight broadcast from memory.

// dotPixelsFits tells whether a fused convolution is such a layer: one
// image, float32, constant [1, C, 1, 1] weights as imported, unit
// strides, no padding.
func dotPixelsFits(simd bool, n *ir.Node, op *ir.FusedConv) bool {
	x, w := n.Inputs[0].Type, n.Inputs[1].Type
	if !simd || op.Layout != ir.WeightsPlain || x.DType != ir.Float32 || w.DType != ir.Float32 || len(x.Shape) != 4 || x.Shape[0] != 1 || n.Inputs[1].Const == nil || op.Group != 1 {
		return false
	}
	if len(w.Shape) != 4 || w.Shape[0] != 1 || w.Shape[1] != x.Shape[1] || w.Shape[2] != 1 || w.Shape[3] != 1 {
		return false
	}
	g, err := op.Geometry(x.Shape, w.Shape)
	if err != nil || len(g.In) != 2 {
		return false
	}
	for i := range g.In {
		if g.Strides[i] != 1 || g.PadBegin[i] != 0 || g.Out[i] != g.In[i] {
			return false
		}
	}
	return g.In[0]*g.In[1] >= 4
}

// dotPixelsUnroll is the channel count up to which the loop over channels
// is unrolled.
const dotPixelsUnroll = 32

// convDotPixels computes a dotPixelsFits layer: groups of 16 pixels (four
// vectors; split across threads), then the last pixels four at a time,
// each output the bias plus the channels' products in channel order (the
// same bits whatever the thread count).
func (k *Ctx) convDotPixels(n *ir.Node, op *ir.FusedConv) error {
	f := k.F
	x, w, y := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	bias, resOff := n.In(2), k.residualOffset(n, &op.Epilogue)
	C, P := x.Type.Shape[1], x.Type.Shape[2]*x.Type.Shape[3]
	// pixels emits the outputs of vecs vectors of pixels from the input
	// address in src to the output address in dst (the last vector's
	// first lanes only when lanes < 4).
	pixels := k.dotPixels(w, bias, &op.Epilogue, C, P*4, resOff)
	groups := P / 16
	k.Parallel(groups, float64(16*(C+1)*4)*nsPerCopy, func(s Span) {
		src, dst, gc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		s.Base(k.Addr(x), 64)
		f.Set(src)
		s.Base(k.Addr(y), 64)
		f.Set(dst)
		s.Counted(gc, func() {
			pixels(src, dst, 4, 4)
			f.AddI32(src, 64)
			f.AddI32(dst, 64)
		})
	})
	// The last P%16 pixels: whole vectors, then the lanes that remain
	// (their loads reach at most 12 bytes past a row: the next channel's,
	// or the slack past the last buffer).
	if rest := P - groups*16; rest > 0 {
		src, dst := f.Local(asm.I32), f.Local(asm.I32)
		f.I32Const(k.Addr(x) + int32(groups*64)).Set(src)
		f.I32Const(k.Addr(y) + int32(groups*64)).Set(dst)
		pixels(src, dst, (rest+3)/4, (rest-1)%4+1)
	}
	return nil
}

// dotPixels returns what emits the outputs of vecs vectors of pixels of a
// dotPixelsFits layer (weights w, bias, epilogue ep, C channels chPitch
// bytes apart) from the input address in src to the output address in dst
// (the last vector's first lanes only when lanes < 4): each output the
// bias plus the channels' products in channel order. convDotPixels and a
// HeadedConv's bands (ops_fused_conv_head.go) share it, so that a head
// computed on a band gives the bits of the head computed apart.
func (k *Ctx) dotPixels(w, bias *ir.Value, ep *ir.Epilogue, C, chPitch int, resOff int32) func(src, dst asm.Local, vecs, lanes int) {
	f := k.F
	return func(src, dst asm.Local, vecs, lanes int) {
		acc := make([]asm.Local, vecs)
		for i := range acc {
			acc[i] = f.Local(asm.V128)
			if bias != nil {
				f.I32Const(0).V128Load32Splat(uint32(k.Addr(bias))).Set(acc[i])
			} else {
				f.V128Const([16]byte{}).Set(acc[i])
			}
		}
		wv, xp, wp, c := f.Local(asm.V128), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		channel := func(off uint32) {
			f.Get(wp).V128Load32Splat(off).Set(wv)
			for i, a := range acc {
				k.maddOf(f, a, func() { f.Get(xp).V128Load(uint32(16 * i)) }, func() { f.Get(wv) })
			}
			f.AddI32(xp, int32(chPitch))
		}
		f.Get(src).Set(xp)
		f.I32Const(k.Addr(w)).Set(wp)
		if C <= dotPixelsUnroll {
			for ch := range C {
				channel(uint32(4 * ch))
			}
		} else {
			f.Counted(c, C, func() {
				channel(0)
				f.AddI32(wp, 4)
			})
		}
		x4 := fxFor(f, asm.F32, true)
		out, res := f.Local(asm.I32), f.Local(asm.I32)
		f.I32Const(resOff).Set(res)
		for i, a := range acc {
			f.Get(dst).I32Const(int32(16 * i)).Op(wasm.OpcodeI32Add).Set(out)
			k.vecEpilogue(x4, ep, a, out, res)
			if i == vecs-1 && lanes < 4 {
				storeLanes(f, out, a, lanes)
			} else {
				f.Get(out).Get(a).V128Store(0)
			}
		}
	}
}
