package codegen

import (
	"fmt"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// A Winograd layer whose input is a lazy Concat (opt's pieces pass) reads
// it as its pieces: each band's input transform takes a piece's channels
// from that piece's own buffer, in place as winogradInPlace reads a whole
// input, and computes an upsampled piece's rows of the band (mR+2 of them)
// from the Resize's input with the Resize's own rows function
// (bilinearRows; selectRows for a nearest-mode one) into the band buffer
// first. The transform sees the same values as from the joined map, so
// the outputs are the same bits; the joined map (and the upsampled one in
// it) is never written.

// winogradPiece is a run of C input channels: a buffer at addr, or, with
// rows set, an upsampling of the planes at addr (plane bytes apart) by the
// rows function rows and its row table at yAddr (yRec bytes a row).
type winogradPiece struct {
	C     int
	addr  int32
	rows  uint32
	yAddr int32
	yRec  int32
	plane int32
}

// ReadsPieces is opt.Options.ReadsPieces: a Winograd layer of one image
// whose bands read their input in place (winogradInPieces is that form's).
// It takes no thread count: the answer is the same for any, so that a
// threaded module's plan is the 1-thread module's. A threaded module hands
// the bands out whole (winogradBands), each band computing its own rows of
// the pieces, re-cut for the threads (bandsForThreads) where those bands
// read pieces too.
func ReadsPieces(n *ir.Node, op *ir.FusedConv) bool {
	if op.Layout.WinogradTile() == 0 || n.Inputs[0].Type.DType != ir.Float32 {
		return false
	}
	p, err := planWinograd(n, op)
	return err == nil && p.readsPieces()
}

// readsPieces says whether the layer can take its input as pieces: one
// image in several bands whose edge groups fit the strips, and room in the
// bordered buffer for one channel's band and the strips after it
// (piecesStrip).
func (p *winogradPlan) readsPieces() bool {
	return p.N == 1 && p.stripsFit() && p.padBytes >= p.piecesBytes()
}

// piecesBytes is the bordered buffer of a layer reading pieces: one
// channel's band (mR+2 rows of W floats) and the strips after it. The
// other forms' buffer holds every channel's band: up.0.0 of unet_1024
// (384 channels of 64x64 in two bands) 3.55 MB, of which the pieces form
// touched 17 KB. It ends 16 bytes past a 4 KiB boundary, as the whole
// bands' buffer (C x rows x W floats and 4 more) mostly did, so that V
// keeps its place within a page: 1 or 2 KiB past, up.0.0 ran 1.09-1.11x
// slower (docs/benchmarks.md, wspace).
func (p *winogradPlan) piecesBytes() int {
	return alignUp(p.piecesStrip()+alignUp((p.m*p.R+2)*p.W*4, 16), 4096) + 16
}

// piecesStrip is where winogradInPieces keeps the strips in the bordered
// buffer: after the one channel's band it copies or computes at a time.
func (p *winogradPlan) piecesStrip() int { return alignUp((p.m*p.R+2)*p.W*4, 16) }

// convPieces returns the pieces of x when it is a lazy Concat's output,
// else nil.
func (k *Ctx) convPieces(x *ir.Value, H, W int) ([]winogradPiece, error) {
	c := k.md.lazy[x]
	if c == nil {
		return nil, nil
	}
	var ps []winogradPiece
	for _, v := range c.Inputs {
		pc := v.Type.Shape[1]
		z := k.md.lazy[v]
		if z == nil {
			ps = append(ps, winogradPiece{C: pc, addr: k.Addr(v)})
			continue
		}
		op, ok := z.Op.(*ir.Resize)
		if !ok {
			return nil, fmt.Errorf("a lazy %s in a Winograd layer's input", z.Op.OpType())
		}
		l, err := layoutResize(z, op)
		if err != nil {
			return nil, err
		}
		xs := z.Inputs[0].Type.Shape
		if b := l.plan.Bilinear; b != nil && b.Planes == pc && b.OH == H && b.OW == W {
			fn, y := k.bilinearRows(b)
			ps = append(ps, winogradPiece{C: pc, addr: k.Addr(z.Inputs[0]), rows: fn, yAddr: y, yRec: 16, plane: int32(4 * b.H * b.W)})
			continue
		}
		rows, cols, ok := l.plan.Select2D(xs)
		if !ok || xs[1] != pc || len(rows) != H || len(cols) != W {
			return nil, fmt.Errorf("a lazy Resize that is not a bilinear or nearest upsampling to %dx%d", H, W)
		}
		fn, y := k.selectRows(rows, cols, xs[3])
		ps = append(ps, winogradPiece{C: pc, addr: k.Addr(z.Inputs[0]), rows: fn, yAddr: y, yRec: 4, plane: int32(4 * xs[2] * xs[3])})
	}
	return ps, nil
}

// winogradInPieces is winogradInPlace for a layer whose input is pieces
// (p.pieces): per channel, one call of winogradInPlaceFunc's function.
// A buffer's channels are passed in place when the band lies inside the
// image (tile row r0 in inLo .. inHi, none if the layer has no such band);
// otherwise, and for every upsampled channel, the channel's mR+2 rows go
// into the band buffer at padBuf first (rows outside the image zero, an
// upsampled channel's others computed), one channel at a time.
func (k *Ctx) winogradInPieces(p *winogradPlan, a wsAddr, padBuf, vBuf int32, r0 asm.Local) {
	f := k.F
	fn := k.winogradInPlaceFunc(p)
	m, W, H := p.m, p.W, p.H
	rows := m*p.R + 2
	rowB := int32(W * 4)
	i32 := asm.I32
	row, top, n, inside, src, buf, rowV, strip, c := f.Local(i32), f.Local(i32), f.Local(i32), f.Local(i32), f.Local(i32), f.Local(i32), f.Local(i32), f.Local(i32), f.Local(i32)
	f.Get(r0).I32Const(int32(m)).Op(wasm.OpcodeI32Mul).I32Const(int32(p.padT)).Op(wasm.OpcodeI32Sub).Set(row)
	// rows above the image (top) and inside it (n): top = max(0, -row),
	// n = min(rows, H - row) - top
	f.I32Const(0).Get(row).Op(wasm.OpcodeI32Sub).Tee(top).I32Const(0).Get(top).I32Const(0).Op(wasm.OpcodeI32GtS).Select().Set(top)
	f.I32Const(int32(H)).Get(row).Op(wasm.OpcodeI32Sub).Tee(n).I32Const(int32(rows)).Get(n).I32Const(int32(rows)).Op(wasm.OpcodeI32LtS).Select().Get(top).Op(wasm.OpcodeI32Sub).Set(n)
	f.Get(r0).I32Const(int32(p.inLo)).Op(wasm.OpcodeI32GeS).Get(r0).I32Const(int32(p.inHi)).Op(wasm.OpcodeI32LeS).Op(wasm.OpcodeI32And).Set(inside)
	a.push(vBuf)
	f.Set(rowV)
	a.push(padBuf + int32(p.piecesStrip()))
	f.Set(strip)
	a.push(padBuf)
	f.Set(buf)
	scr := f.Local(i32)
	a.push(p.rowScratch(vBuf))
	f.Set(scr)
	// fill pushes nothing: the band buffer's rows above the image, then,
	// from row top+n on, those below it, zeroed
	fill := func() {
		f.Get(buf).I32Const(0).Get(top).I32Const(rowB).Op(wasm.OpcodeI32Mul).MemoryFill()
		f.Get(top).Get(n).Op(wasm.OpcodeI32Add).I32Const(rowB).Op(wasm.OpcodeI32Mul).Get(buf).Op(wasm.OpcodeI32Add)
		f.I32Const(0).I32Const(int32(rows)).Get(top).Op(wasm.OpcodeI32Sub).Get(n).Op(wasm.OpcodeI32Sub).I32Const(rowB).Op(wasm.OpcodeI32Mul).MemoryFill()
	}
	// at pushes buf's row top
	at := func() { f.Get(top).I32Const(rowB).Op(wasm.OpcodeI32Mul).Get(buf).Op(wasm.OpcodeI32Add) }
	for _, pc := range p.pieces {
		if pc.rows == 0 {
			// the band's first row of the piece's channel 0 (in the image
			// or not: only rows top .. top+n-1 are read)
			f.Get(row).I32Const(rowB).Op(wasm.OpcodeI32Mul).I32Const(pc.addr).Op(wasm.OpcodeI32Add).Set(src)
			f.Counted(c, pc.C, func() {
				f.Get(inside).If()
				f.Get(src).Get(rowV).Get(strip).Get(scr).Call(fn)
				f.Else()
				fill()
				at()
				f.Get(top).I32Const(rowB).Op(wasm.OpcodeI32Mul).Get(src).Op(wasm.OpcodeI32Add)
				f.Get(n).I32Const(rowB).Op(wasm.OpcodeI32Mul).MemoryCopy()
				f.Get(buf).Get(rowV).Get(strip).Get(scr).Call(fn)
				f.End()
				f.AddI32(src, int32(H*W*4))
				f.AddI32(rowV, int32(p.TpP*4))
			})
			continue
		}
		f.I32Const(pc.addr).Set(src)
		f.Counted(c, pc.C, func() {
			f.Get(inside).Op(wasm.OpcodeI32Eqz).If()
			fill()
			f.End()
			// rows top .. top+n-1: output rows row+top on of the upsampling
			f.Get(src)
			at()
			f.Get(row).Get(top).Op(wasm.OpcodeI32Add).I32Const(pc.yRec).Op(wasm.OpcodeI32Mul).I32Const(pc.yAddr).Op(wasm.OpcodeI32Add)
			f.Get(n).Call(pc.rows)
			f.Get(buf).Get(rowV).Get(strip).Get(scr).Call(fn)
			f.AddI32(src, pc.plane)
			f.AddI32(rowV, int32(p.TpP*4))
		})
	}
}
