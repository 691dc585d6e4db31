package codegen

import (
	"fmt"
	"math"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// MaxPool over 2-D float32 planes in f32x4 lanes: each plane is copied into
// a -inf bordered buffer (so padding and ceil mode need no checks) and four
// neighbouring outputs of a row are computed at once, strided inputs
// gathered with one shuffle for stride 2.

func maxPoolSIMDFits(k *Ctx, n *ir.Node, op *ir.Pool, g *ir.Geometry) bool {
	return k.SIMD() && op.Kind == ir.PoolMax && len(g.In) == 2 && n.Inputs[0].Type.DType == ir.Float32 &&
		(len(n.Outputs) < 2 || n.Outputs[1] == nil) && g.Strides[1] <= 2
}

// poolPadded is the bordered plane's size: every window position of the
// output fits, plus a vector's reach past the last one.
func poolPadded(g *ir.Geometry) (hp, wp int) {
	hp = max(g.In[0]+g.PadBegin[0], (g.Out[0]-1)*g.Strides[0]+(g.Kernel[0]-1)*g.Dilations[0]+1)
	wo4 := (g.Out[1] + 3) / 4 * 4
	wp = max(g.In[1]+g.PadBegin[1], (wo4-1)*g.Strides[1]+(g.Kernel[1]-1)*g.Dilations[1]+1)
	return hp, wp + 4
}

func init() {
	registerScratch(func(n *ir.Node, op *ir.Pool) int {
		g, err := op.Geometry(n.Inputs[0].Type.Shape)
		if err != nil || op.Kind != ir.PoolMax || len(g.In) != 2 {
			return 0
		}
		hp, wp := poolPadded(g)
		return alignUp(hp*wp*4+16, 16)
	})
}

func (k *Ctx) maxPoolSIMD(n *ir.Node, g *ir.Geometry) error {
	x, y := n.Inputs[0], n.Outputs[0]
	if y.Type.Shape.Size() == 0 {
		return nil
	}
	planes := x.Type.Shape[0] * x.Type.Shape[1]
	plane := k.maxPoolPlane(g)
	hp, wp := poolPadded(g)
	buf, bufSize := k.ScratchAddr()
	inPlane, outPlane := int32(g.In[0]*g.In[1]*4), int32(g.Out[0]*g.Out[1]*4)
	k.Parallel(planes, float64(hp*wp*8)*nsPerCopy+float64(g.Out[0]*g.Out[1]*g.Kernel[0]*g.Kernel[1]/4)*nsPerLaneOp, func(s Span) {
		f := s.F
		src, dst, pc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		s.Base(k.Addr(x), inPlane)
		f.Set(src)
		s.Base(k.Addr(y), outPlane)
		f.Set(dst)
		s.Counted(pc, func() {
			f.Get(src).Get(dst)
			s.Scratch(buf, bufSize)
			f.Call(plane)
			f.AddI32(src, inPlane)
			f.AddI32(dst, outPlane)
		})
	})
	return nil
}

// maxPoolPlane returns the shared function (src, dst, buf) pooling one
// plane, per geometry: called once per channel, V8 optimizes it early in a
// cold start.
func (k *Ctx) maxPoolPlane(g *ir.Geometry) uint32 {
	name := fmt.Sprintf("maxpool_%v_%v_%v_%v_%v_%v", g.In, g.Out, g.Kernel, g.Strides, g.Dilations, g.PadBegin)
	i32 := asm.I32
	return k.Helper(name, []wasm.ValueType{i32, i32, i32}, nil, func(f *asm.Func) {
		src, dst, buf := f.Param(0), f.Param(1), f.Param(2)
		H, W := g.In[0], g.In[1]
		hp, wp := poolPadded(g)
		ninf := f.Local(asm.V128)
		f.F32x4Const(float32(math.Inf(-1))).Set(ninf)
		// Border: -inf everywhere (vector stores), then the plane's rows.
		p, c := f.Local(asm.I32), f.Local(asm.I32)
		f.Get(buf).Set(p)
		f.Counted(c, (hp*wp+3)/4, func() {
			f.Get(p).Get(ninf).V128Store(0)
			f.AddI32(p, 16)
		})
		copyPlane(f, buf, src, H, W, wp, g.PadBegin[0], g.PadBegin[1])
		windowRows(f, g, buf, dst,
			func(acc asm.Local) { f.Get(ninf).Set(acc) },
			func(_ int, acc, v asm.Local) { f.Get(acc).Get(v).Vec(wasm.OpcodeVecF32x4Max).Set(acc) },
			nil)
	})
}

// windowRows computes the output plane from a plane bordered into buf
// (poolPadded), four outputs of a row at a time, into dst: init sets acc,
// tap folds in v, the input under window tap t for each lane, and finish
// (if any) completes acc before its lanes are stored. Shared by MaxPool
// and the depthwise Conv.
func windowRows(f *asm.Func, g *ir.Geometry, buf, dst asm.Local, init func(acc asm.Local), tap func(t int, acc, v asm.Local), finish func(acc asm.Local)) {
	_, wp := poolPadded(g)
	Ho, Wo, sx := g.Out[0], g.Out[1], g.Strides[1]
	row, oc, gc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	in, acc, v, hi := f.Local(asm.I32), f.Local(asm.V128), f.Local(asm.V128), f.Local(asm.V128)
	f.Get(buf).Set(row)
	f.Counted(oc, Ho, func() {
		f.Get(row).Set(in)
		emitGroup := func(lanes int) {
			init(acc)
			t := 0
			for ky := 0; ky < g.Kernel[0]; ky++ {
				for kx := 0; kx < g.Kernel[1]; kx++ {
					off := uint32((ky*g.Dilations[0]*wp + kx*g.Dilations[1]) * 4)
					loadStrided(f, in, off, sx, hi)
					f.Set(v)
					tap(t, acc, v)
					t++
				}
			}
			if finish != nil {
				finish(acc)
			}
			storeLanes(f, dst, acc, lanes)
			f.AddI32(dst, int32(lanes*4))
			f.AddI32(in, int32(4*sx*4))
		}
		full := Wo / 4
		f.Counted(gc, full, func() { emitGroup(4) })
		if full*4 < Wo {
			emitGroup(Wo - full*4)
		}
		f.AddI32(row, int32(g.Strides[0]*wp*4))
	})
}
