package codegen

import (
	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// A BandedConv (opt's band pass) runs a 1x1 conv and the depthwise conv
// reading it in bands of rows: the 1x1's GEMM (convPackA, weights as A)
// runs a pixel block at a time, and after each block the depthwise kernel
// computes the output rows whose windows it completed, copying their rows
// of the intermediate into its bordered plane while they are still in L2
// instead of reading the whole intermediate back from L3 (docs/design.md,
// "dwf"). Every output is computed by the same instructions on the same
// operands as in the two nodes apart: the results are the same bits.

// bandMinBytes is the smallest intermediate worth banding: below it, the
// intermediate is still in L2 when the depthwise node reads it.
const bandMinBytes = 1 << 20

// bandNodes are the two convs of a BandedConv as nodes of their own, the
// intermediate at mid.
func bandNodes(n *ir.Node, op *ir.BandedConv, mid *ir.Value) (point, depth *ir.Node) {
	point = &ir.Node{Name: n.Name, Op: op.Point, Inputs: []*ir.Value{n.Inputs[0], n.Inputs[1], n.In(2)}, Outputs: []*ir.Value{mid}}
	depth = &ir.Node{Name: n.Name, Op: op.Depth, Inputs: []*ir.Value{mid, n.Inputs[3], n.In(4)}, Outputs: n.Outputs}
	return point, depth
}

// BandsFunc is the optimizer's hook (opt.Options.Bands) for modules of
// threads threads and tune t: single-threaded modules band a 1x1 conv with
// its weights as A (convPackA) and a depthwise conv that the SIMD
// depthwise kernel runs, one image, when the intermediate would have left
// L2.
func BandsFunc(threads int, t string) func(point, depth *ir.Node) bool {
	return func(point, depth *ir.Node) bool {
		pw, dw := point.Op.(*ir.FusedConv), depth.Op.(*ir.FusedConv)
		if threads > 1 || pw.Layout != ir.WeightsPackA || len(pw.WShape) != 4 || pw.WShape[2]*pw.WShape[3] != 1 || pw.Group != 1 {
			return false
		}
		k := &Ctx{md: &module{opts: Options{SIMD: true, Tune: t}}}
		g, ok := depthwiseFits(k, depth, dw)
		pg, err := pw.Geometry(point.Inputs[0].Type.Shape, pw.WShape)
		mid := point.Outputs[0].Type
		return ok && err == nil && mid.Shape[0] == 1 && mid.Bytes() >= bandMinBytes &&
			pg.Strides[0] == 1 && pg.Strides[1] == 1 && pg.PadBegin[0] == 0 && pg.PadBegin[1] == 0 && pg.PadEnd[0] == 0 && pg.PadEnd[1] == 0 && g.Out[0] > 1
	}
}

func bandWorkspace(n *ir.Node, op *ir.BandedConv) (pointWS, midAt int) {
	point, _ := bandNodes(n, op, &ir.Value{Type: op.Mid})
	ws, _ := genericFusedConvWorkspace(point, op.Point)
	return ws, alignUp(ws, 16)
}

func init() {
	registerWorkspace(func(n *ir.Node, op *ir.BandedConv) int {
		_, at := bandWorkspace(n, op)
		return alignUp(at+op.Mid.Bytes(), 16)
	})
	registerScratch(func(n *ir.Node, op *ir.BandedConv) int {
		_, depth := bandNodes(n, op, &ir.Value{Type: op.Mid})
		g, _ := depthwiseFits(&Ctx{md: &module{opts: Options{SIMD: true}}}, depth, op.Depth)
		return windowBytes(g)
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.BandedConv) error {
		_, at := bandWorkspace(n, op)
		mid := k.ValueAt(n.Name+".mid", op.Mid, k.WorkspaceAddr()+int32(at))
		point, depth := bandNodes(n, op, mid)
		g, ok := depthwiseFits(k, depth, op.Depth)
		if !ok || k.Threads() > 1 {
			if err := lookupKernel(op.Point).Emit(k, point); err != nil {
				return err
			}
			return lookupKernel(op.Depth).Emit(k, depth)
		}
		return k.convPackABands(point, op.Point, k.depthwiseBands(depth, op.Depth, g))
	})
}

// depthwiseBands returns the ready hook of a BandedConv's 1x1 conv: once
// its first pixels of the intermediate are computed, the depthwise output
// rows whose windows they complete and that are not computed yet.
func (k *Ctx) depthwiseBands(depth *ir.Node, op *ir.FusedConv, g *ir.Geometry) func(pixels int) {
	f := k.F
	mid, y, w, bias := depth.Inputs[0], depth.Outputs[0], depth.Inputs[1], depth.In(2)
	C, H, W := mid.Type.Shape[1], g.In[0], g.In[1]
	Ho, Wo := g.Out[0], g.Out[1]
	sy, top := g.Strides[0], g.PadBegin[0]
	reach := (g.Kernel[0]-1)*g.Dilations[0] + 1
	taps := g.Kernel[0] * g.Kernel[1]
	buf, _ := k.ScratchAddr()
	src, dst, wp0, bp, pc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	done := 0 // output rows computed
	return func(pixels int) {
		oy1 := Ho
		if rows := pixels / W; rows < H {
			// the rows whose window's last row is below rows
			oy1 = min(Ho, max(0, (rows+top-reach)/sy+1))
			if rows+top-reach < 0 {
				oy1 = 0
			}
		}
		if oy1 <= done {
			return
		}
		oy0 := done
		done = oy1
		first := oy0*sy - top // the band's first window row
		in0, in1 := max(0, first), min(H, (oy1-1)*sy-top+reach)
		band := *g
		band.In = []int{in1 - in0, W}
		band.Out = []int{oy1 - oy0, Wo}
		band.PadBegin = []int{in0 - first, g.PadBegin[1]}
		hp, wp := poolPadded(&band)
		plane := k.depthwisePlane(&band, &op.Epilogue, bias != nil)
		// The band's border rows are not the last band's: zero them.
		f.I32Const(buf).I32Const(0).I32Const(int32((hp + 1) * wp * 4)).MemoryFill()
		f.I32Const(k.Addr(mid) + int32(in0*W*4)).Set(src)
		f.I32Const(k.Addr(y) + int32(oy0*Wo*4)).Set(dst)
		f.I32Const(k.Addr(w)).Set(wp0)
		if bias != nil {
			f.I32Const(k.Addr(bias)).Set(bp)
		}
		f.Counted(pc, C, func() {
			f.Get(src).Get(dst).Get(wp0).Get(bp).I32Const(buf)
			f.I32Const(0).Call(plane)
			f.AddI32(src, int32(H*W*4))
			f.AddI32(dst, int32(Ho*Wo*4))
			f.AddI32(wp0, int32(4*taps))
			f.AddI32(bp, 4)
		})
	}
}
