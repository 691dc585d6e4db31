package codegen

import (
	"fmt"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Depthwise convolution (group = channels, one filter each) in f32x4 lanes:
// per channel the taps are broadcast once into locals and four neighbouring
// outputs of a row are computed at once, read from the source plane in
// place (depthwiseDirectRows; stride-2 inputs gathered with one shuffle),
// with bias, residual and activations applied before the store. Where a
// window reaches too far past a row (large pads) the plane is copied into
// a zero-bordered buffer first (windowRows).

func depthwiseFits(k *Ctx, n *ir.Node, op *ir.FusedConv) (*ir.Geometry, bool) {
	x, w := n.Inputs[0].Type, n.Inputs[1].Type
	if !k.SIMD() || op.Layout != ir.WeightsPlain || x.DType != ir.Float32 || len(x.Shape) != 4 || n.Inputs[1].Const == nil {
		return nil, false
	}
	if op.Group != x.Shape[1] || w.Shape[0] != op.Group || w.Shape[1] != 1 {
		return nil, false
	}
	g, err := op.Geometry(x.Shape, w.Shape)
	if err != nil || g.Strides[1] > 2 || g.Kernel[0]*g.Kernel[1] > 49 {
		return nil, false
	}
	return g, true
}

func init() {
	registerWorkspace(func(n *ir.Node, op *ir.FusedConv) int {
		k := &Ctx{md: &module{opts: Options{SIMD: true}}}
		if _, ok := depthwiseFits(k, n, op); ok {
			return 0
		}
		ws, expand := genericFusedConvWorkspace(n, op)
		return ws - expand
	})
	// The depthwise kernel's bordered plane, or the other forms' expanded
	// weight panel (the portable shape): one per thread.
	registerScratch(func(n *ir.Node, op *ir.FusedConv) int {
		k := &Ctx{md: &module{opts: Options{SIMD: true}}}
		g, ok := depthwiseFits(k, n, op)
		if !ok {
			_, expand := genericFusedConvWorkspace(n, op)
			return expand
		}
		if depthwiseDirect(g) {
			return 0
		}
		return windowBytes(g)
	})
}

func (k *Ctx) convDepthwise(n *ir.Node, op *ir.FusedConv, g *ir.Geometry) error {
	f := k.F
	x, w, y := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	bias, resOff := n.In(2), k.residualOffset(n, &op.Epilogue)
	C := x.Type.Shape[1]
	planes := x.Type.Shape[0] * C
	hp, wp := poolPadded(g)
	buf, bufSize := k.ScratchAddr()
	taps := g.Kernel[0] * g.Kernel[1]
	plane := k.depthwisePlane(g, &op.Epilogue, bias != nil)
	if x.Type.Shape[0] == 1 && k.splits(C, depthwiseChannelNs(g)) {
		return k.convDepthwiseThreads(n, g, plane, buf, bufSize, resOff)
	}
	src, dst, wp0, bp, pc, ch := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(k.Addr(x)).Set(src)
	f.I32Const(k.Addr(y)).Set(dst)
	f.I32Const(k.Addr(w)).Set(wp0)
	if bias != nil {
		f.I32Const(k.Addr(bias)).Set(bp)
	}
	f.SetI32(ch, 0)
	// The border is zero and stays so: only the interior is rewritten.
	if !depthwiseDirect(g) {
		f.I32Const(buf).I32Const(0).I32Const(int32((hp + 1) * wp * 4)).MemoryFill()
	}
	f.Counted(pc, planes, func() {
		f.Get(src).Get(dst).Get(wp0).Get(bp).I32Const(buf)
		f.I32Const(resOff).Call(plane)
		f.AddI32(src, int32(g.In[0]*g.In[1]*4))
		f.AddI32(dst, int32(g.Out[0]*g.Out[1]*4))
		f.AddI32(wp0, int32(4*taps))
		f.AddI32(bp, 4)
		// Weights and bias start over with each image.
		f.AddI32(ch, 1)
		f.Get(ch).I32Const(int32(C)).Op(wasm.OpcodeI32Eq).If()
		f.SetI32(ch, 0)
		f.I32Const(k.Addr(w)).Set(wp0)
		if bias != nil {
			f.I32Const(k.Addr(bias)).Set(bp)
		}
		f.End()
	})
	return nil
}

// depthwiseChannelNs estimates the time of one channel of a depthwise
// convolution: its taps in f32x4 lanes and its plane copied in and out.
func depthwiseChannelNs(g *ir.Geometry) float64 {
	taps := g.Kernel[0] * g.Kernel[1]
	return float64(g.Out[0]*g.Out[1]*taps*2/4)*nsPerLaneOp + float64(g.In[0]*g.In[1]*4)*2*nsPerCopy
}

// convDepthwiseThreads is convDepthwise of one image in a threaded
// module: channels are handed out, each thread with its own bordered plane
// (all zeroed first: only their interiors are rewritten).
func (k *Ctx) convDepthwiseThreads(n *ir.Node, g *ir.Geometry, plane uint32, buf int32, bufSize int, resOff int32) error {
	f := k.F
	x, w, y, bias := n.Inputs[0], n.Inputs[1], n.Outputs[0], n.In(2)
	C := x.Type.Shape[1]
	taps := g.Kernel[0] * g.Kernel[1]
	if !depthwiseDirect(g) {
		f.I32Const(buf).I32Const(0).I32Const(int32(bufSize)).MemoryFill()
		f.I32Const(k.md.th.extra).I32Const(0).I32Const(int32((k.Threads() - 1) * bufSize)).MemoryFill()
	}
	inPlane, outPlane := int32(g.In[0]*g.In[1]*4), int32(g.Out[0]*g.Out[1]*4)
	k.Parallel(C, depthwiseChannelNs(g), func(s Span) {
		src, dst, wp0, bp, pc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		s.Base(k.Addr(x), inPlane)
		f.Set(src)
		s.Base(k.Addr(y), outPlane)
		f.Set(dst)
		s.Base(k.Addr(w), int32(4*taps))
		f.Set(wp0)
		if bias != nil {
			s.Base(k.Addr(bias), 4)
			f.Set(bp)
		}
		s.Counted(pc, func() {
			f.Get(src).Get(dst).Get(wp0).Get(bp)
			s.Scratch(buf, bufSize)
			f.I32Const(resOff).Call(plane)
			f.AddI32(src, inPlane)
			f.AddI32(dst, outPlane)
			f.AddI32(wp0, int32(4*taps))
			f.AddI32(bp, 4)
		})
	})
	return nil
}

// depthwisePlane returns the shared function (src, dst, w, bias, buf, res)
// computing one channel: a function per geometry and epilogue, called once
// per channel, so that V8 runs it optimized after the first few channels of
// a cold start instead of in baseline code for the whole node.
func (k *Ctx) depthwisePlane(g *ir.Geometry, ep *ir.Epilogue, hasBias bool) uint32 {
	name := fmt.Sprintf("dwconv_%v_%v_%v_%v_%v_%v%s", g.In, g.Out, g.Kernel, g.Strides, g.Dilations, g.PadBegin, epilogueKey(ep, hasBias))
	i32 := asm.I32
	return k.Helper(name, []wasm.ValueType{i32, i32, i32, i32, i32, i32}, nil, func(f *asm.Func) {
		src, dst, wp0, bp, buf, resd := f.Param(0), f.Param(1), f.Param(2), f.Param(3), f.Param(4), f.Param(5)
		taps := g.Kernel[0] * g.Kernel[1]
		wv := make([]asm.Local, taps)
		for i := range wv {
			wv[i] = f.Local(asm.V128)
			f.Get(wp0).V128Load32Splat(uint32(4 * i)).Set(wv[i])
		}
		bv := f.Local(asm.V128)
		if hasBias {
			f.Get(bp).V128Load32Splat(0).Set(bv)
		} else {
			f.V128Const([16]byte{}).Set(bv)
		}
		x4 := fxFor(f, asm.F32, true)
		init := func(acc asm.Local) { f.Get(bv).Set(acc) }
		tap := func(t int, acc, v asm.Local) { k.madd(f, acc, v, wv[t]) }

		finish := func(acc, out asm.Local) { k.vecEpilogue(x4, ep, acc, out, resd) }
		if depthwiseDirect(g) {
			depthwiseDirectRows(f, g, src, dst, init, tap, finish)
			return
		}
		copyWindowPlane(f, g, buf, src, 0)
		windowRows(f, g, buf, dst, init, tap, finish)
	})
}
