package codegen

import (
	"fmt"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// A HeadedConv (opt's head pass) is a Winograd layer and the 1x1
// convolution to one channel that alone reads it (a segmentation or
// matting head, dotPixelsFits) run as one node: each band of the Winograd
// layer stores its output channels into a band buffer in the workspace
// (M channels x mR rows, L2-resident) instead of the output, and the
// head's dot over the channels runs on those rows right after them. The
// body's output is never written whole (at 16 x 512x512, 16 MB written
// and read back once from beyond L2) and has no buffer in the arena.
// Every output is computed by the same instructions on the same operands
// as in the two nodes apart (dotPixels, winogradOutChannel): the results
// are the same bits (docs/design.md, "head"). Threaded modules hand the
// bands out whole (winogradBands), each thread with its own band buffer.

// headMinBytes is the smallest body output worth it: below it, the
// output is still in L2 when the head reads it.
const headMinBytes = 1 << 20

// winogradHead is what a Winograd layer's bands need of its head.
type winogradHead struct {
	w, b *ir.Value     // the head's weights [1, M, 1, 1] and bias (or nil)
	op   *ir.FusedConv // its epilogue
	y    *ir.Value     // its output [1, 1, Ho, Wo]
	buf  int32         // the band buffer (bandBytes)
}

// headFits says whether the layer of plan p runs the head's bands: one
// image, several bands (on threads, at least two a thread: the bands are
// handed out whole, winogradBands), the products not tiles-as-A.
func headFits(p *winogradPlan, threads int) bool {
	return p.N == 1 && p.bands >= max(2, 2*threads) && !p.tilesAsA
}

// pitch is the bytes between the band buffer's channels.
func (h *winogradHead) pitch(p *winogradPlan) int { return p.m * p.R * p.Wo * 4 }

// headBandBytes is the band buffer of plan p: M channels of mR rows and
// the 12 bytes the last pixels' vector loads read past them, rounded.
func headBandBytes(p *winogradPlan) int { return alignUp(p.M*p.m*p.R*p.Wo*4+64, 16) }

// HeadsFunc is the optimizer's hook (opt.Options.Heads) for modules of
// threads threads: it merges a Winograd layer of one float32 image in
// several bands (at least two a thread), whose output is at least
// headMinBytes, with the 1x1 convolution to one channel (dotPixelsFits)
// that alone reads it.
func HeadsFunc(threads int) func(body, head *ir.Node) bool {
	return func(body, head *ir.Node) bool {
		bo, ok1 := body.Op.(*ir.FusedConv)
		ho, ok2 := head.Op.(*ir.FusedConv)
		if !ok1 || !ok2 || bo.Layout.WinogradTile() == 0 || len(body.Inputs) > 3 {
			return false
		}
		mid := body.Outputs[0].Type
		if body.Inputs[0].Type.DType != ir.Float32 || mid.DType != ir.Float32 || mid.Bytes() < headMinBytes || !dotPixelsFits(true, head, ho) {
			return false
		}
		p, err := planWinograd(body, bo)
		return err == nil && headFits(p, threads)
	}
}

// headPlan is the body's Winograd plan and the band buffer's offset in
// the workspace (after the body's own).
func headPlan(n *ir.Node, op *ir.HeadedConv) (*winogradPlan, int, error) {
	body, _ := op.Parts(n, &ir.Value{Type: op.Mid})
	p, err := planWinograd(body, op.Body)
	if err != nil {
		return nil, 0, err
	}
	return p, alignUp(p.workspace(), 16), nil
}

func init() {
	// All of it per thread, as a Winograd layer's: the band-parallel form
	// (winogradBands) runs whole bands on each thread in its own copy.
	registerScratch(func(n *ir.Node, op *ir.HeadedConv) int {
		p, at, err := headPlan(n, op)
		if err != nil {
			return 0
		}
		return at + headBandBytes(p)
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.HeadedConv) error {
		_, at, err := headPlan(n, op)
		if err != nil {
			return err
		}
		if !k.SIMD() || op.Body.Layout.WinogradTile() == 0 {
			return fmt.Errorf("a headed conv whose body is no SIMD Winograd layer")
		}
		buf := k.WorkspaceAddr() + int32(at)
		// the body's output as the Winograd kernel sees it: the band buffer
		mid := k.ValueAt(n.Name+".mid", op.Mid, buf)
		body, head := op.Parts(n, mid)
		if !dotPixelsFits(true, head, op.Head) {
			return fmt.Errorf("a headed conv whose head is no dot over channels")
		}
		return k.convWinogradHead(body, op.Body, &winogradHead{w: n.Inputs[3], b: n.In(4), op: op.Head, y: n.Outputs[0], buf: buf})
	})
}

// winogradHeadBand computes the head on the band at tile row r0 whose
// nrows output rows (winogradBandRows) the band buffer holds: its pixels
// are the head output's rows m*r0 .., in groups of 16 pixels and then
// the last ones, as convDotPixels does for the whole map (each pixel's
// sum the same instructions on the same operands). nrows is mR, or the
// last band's rows where the map's height is no multiple of m.
func (k *Ctx) winogradHeadBand(p *winogradPlan, a wsAddr, r0, nrows asm.Local) {
	f := k.F
	h := p.head
	pixels := k.dotPixels(h.w, h.b, &h.op.Epilogue, p.M, h.pitch(p), 0)
	src, dst := f.Local(asm.I32), f.Local(asm.I32)
	run := func(rows int) {
		a.push(h.buf)
		f.Set(src)
		f.Get(r0).I32Const(int32(p.m * p.Wo * 4)).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(h.y)).Op(wasm.OpcodeI32Add).Set(dst)
		P := rows * p.Wo
		groups := P / 16
		if groups > 0 {
			gc := f.Local(asm.I32)
			f.Counted(gc, groups, func() {
				pixels(src, dst, 4, 4)
				f.AddI32(src, 64)
				f.AddI32(dst, 64)
			})
		}
		if rest := P - groups*16; rest > 0 {
			pixels(src, dst, (rest+3)/4, (rest-1)%4+1)
		}
	}
	mR := p.m * p.R
	last := min(mR, p.Ho-p.m*(p.TH-p.R))
	if last == mR {
		run(mR)
		return
	}
	f.Get(nrows).I32Const(int32(mR)).Op(wasm.OpcodeI32Eq).If()
	run(mR)
	f.Else()
	run(last)
	f.End()
}
