package codegen

import (
	"fmt"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Winograd F(2x2,3x3) for stride-1 3x3 convolutions (v8 tune): each 2x2
// output tile comes from a 4x4 input patch, V = B^T d B, multiplied
// position by position with the weights' transform U = G g G^T (done at
// compile time, ir.WinogradU) and brought back with Y = A^T M A: 16
// products per tile and channel pair instead of 36. The 16 products are 16
// GEMMs [M, C] x [C, tiles] through the packed micro-kernel; the
// transforms run in f32x4 lanes over four neighbouring tiles.
//
// F(4x4,3x3) (layout ir.WeightsWinograd4) is the same with 4x4 output
// tiles from 6x6 input patches: 36 products per 16 outputs, 36 GEMMs.

type winogradPlan struct {
	m, P                  int // output tile side (2 or 4), products ((m+2)^2)
	N, C, M, H, W, Ho, Wo int
	padT, padL            int
	TH, G, TWp            int // tile rows, groups of 4 tile columns, padded tile columns
	// TW: tile columns per tile row in V and M. The transforms run in
	// whole groups of four (TWp), but V and M keep each row's TW tiles
	// only (packed rows), so that the products skip the padding tiles.
	TW               int
	R, bands         int // tile rows per band, bands
	Tp, TpP          int // tiles per band and the pitch of V's and M's rows (spreadPitch)
	vPos, mPos       int // floats from one position's rows of V (of M) to the next's (positionPitch)
	Hp, Wp           int // bordered input plane: the image's, or a band's (mR+2 rows)
	padBytes, vBytes int
	mBytes, yBytes   int
	// src: the weights are stored (ir.FusedConv.WinogradFromSource), es
	// bytes a value, and each panel is transformed into uBytes of the
	// workspace before its P products: P rows of [C, 4].
	src        bool
	es, uBytes int
	// eVBytes: V of a tilesAsA layer expanded (winogradExpandV), after U;
	// then rBytes: its products' raw tiles between K chunks
	eVBytes, rBytes int
	// tilesAsA: a src layer with few tiles (ir.WinogradTilesAsA, then one
	// band) runs its products transposed (winogradGEMMsTilesAsA): U in
	// [C, 8] panels as B.
	tilesAsA bool
	// recut: bands re-cut for the threads (bandsForThreads), whose
	// node-keyed functions are not the single-threaded form's
	recut bool
	// r0Add: band b starts at tile row b*R + r0Add (the bands of R-1 rows
	// after r0Add bands of R rows, winogradBands)
	r0Add int
	// In place (several bands): a band whose first tile row r0 is in
	// [inLo, inHi] reads only rows inside the image, and its groups
	// gi0 .. gi1-1 only columns inside it, so the input transform reads
	// them from the input itself; only the groups at the left and right
	// edges read bordered strips, Ws floats wide, that the band copies
	// (winogradInPlace). inLo > inHi: every band copies its rows into
	// the zeroed bordered band as before.
	inLo, inHi, gi0, gi1, Ws int
	// groupsArg: an input transform over some of a band's groups, their
	// count its third parameter (winogradInPlaceFunc's)
	groupsArg bool
	// pieces: the input is a lazy Concat's pieces (winogradInPieces)
	pieces []winogradPiece
	// piecesIn: the layer reads its input as pieces (ir.FusedConv.Pieces),
	// one channel's band at a time, so its bordered buffer holds that band
	// and the strips only (piecesBytes)
	piecesIn bool
	// oPitch: the bytes between two output channels where the bands store
	// them (Ho*Wo*4; a HeadedConv's band buffer, mR*Wo*4)
	oPitch int
	// head: a HeadedConv's head, computed on each band (nil: none)
	head *winogradHead
}

// winogradBandBytes bounds V and M of one band (the transformed input and
// the products of a band of tile rows) so that they stay in L2 between the
// transforms and the GEMMs: unblocked, a 160x160 map's V alone was 1.6 MiB
// and the layer ran at half the speed of a 56x56 one.
const winogradBandBytes = 768 << 10

func planWinograd(n *ir.Node, op *ir.FusedConv) (*winogradPlan, error) {
	x := n.Inputs[0].Type.Shape
	g, err := op.Geometry(x, op.WShape)
	if err != nil {
		return nil, err
	}
	m := op.Layout.WinogradTile()
	p := &winogradPlan{m: m, P: (m + 2) * (m + 2), N: x[0], C: x[1], M: op.WShape[0], H: g.In[0], W: g.In[1], Ho: g.Out[0], Wo: g.Out[1], padT: g.PadBegin[0], padL: g.PadBegin[1], piecesIn: op.Pieces}
	p.TH = (p.Ho + m - 1) / m
	tw := (p.Wo + m - 1) / m
	p.G = (tw + 3) / 4
	p.TWp = 4 * p.G
	p.TW = p.TWp
	// Bands of R tile rows whose V and M fit the budget, but at least 128
	// tiles (a U panel is expanded once per band, product and panel).
	R := max(1, winogradBandBytes/(p.P*(p.C+p.M)*p.TWp*4))
	if u := n.Inputs[1].Type; op.WinogradFromSource(u.Shape) {
		p.src, p.es = true, u.DType.Bytes(1)
		p.tilesAsA = ir.WinogradTilesAsA(m, p.M, p.Ho, p.Wo)
	}
	if !p.tilesAsA {
		p.TW = tw
	}
	rows := min(p.TH, max(R, (128+p.TWp-1)/p.TWp))
	// As many bands, each as few rows as cover the map: the last band
	// then recomputes as few of the rows before it as it can (56x56 with
	// F(4x4,3x3), 14 tile rows: 2 bands of 7, not of 8 with 2 rows done
	// twice; those layers 0.87-0.89 in V8, docs/design.md, r50d).
	bands := (p.TH + rows - 1) / rows
	p.setRows((p.TH + bands - 1) / bands)
	p.oPitch = p.Ho * p.Wo * 4
	return p, nil
}

// setRows cuts the map into bands of R tile rows and sizes the buffers.
func (p *winogradPlan) setRows(R int) {
	m := p.m
	p.R = R
	p.bands = (p.TH + p.R - 1) / p.R
	p.Tp = p.R * p.TW
	// the last row's last group writes (and reads) TWp-TW tiles past Tp
	p.TpP = spreadPitch(p.Tp + p.TWp - p.TW)
	p.Hp = max(m*p.TH+2, p.padT+p.H)
	if p.bands > 1 {
		// Several bands copy their own input rows (and the two they share
		// with the next band) into a bordered band, so that the workspace
		// holds a band, not a bordered copy of the whole image: at 512x512
		// with 48 channels that was 51 MB beside the activations.
		p.Hp = m*p.R + 2
	}
	// the input transform's loads reach 4m+4 columns past a group's first
	p.Wp = max(4*m*p.G+4, p.padL+p.W)
	p.padBytes = alignUp((p.C*p.Hp*p.Wp+4)*4, 16)
	p.planInPlace()
	if p.piecesIn {
		p.padBytes = p.piecesBytes()
	}
	p.vPos, p.mPos = positionPitch(p.C*p.TpP), positionPitch(p.M*p.TpP)
	p.vBytes = p.P * p.vPos * 4
	p.mBytes = p.P * p.mPos * 4
	// one output channel's tile-aligned rows: each channel is stored into
	// the output right after its transform (winogradOutChannel)
	p.yBytes = alignUp((m*p.R*p.yRow()+4)*4, 16)
	switch {
	case p.tilesAsA:
		p.uBytes = p.P * p.uPitch8()
		p.eVBytes = p.P * p.tilesAsAChunk() * p.Tp * 16
		if p.tilesAsAChunk() < p.C {
			p.rBytes = p.M * p.P * p.Tp * 4
		}
	case p.src:
		p.uBytes = p.P * p.uPitch()
	}
}

// planInPlace sets the bands and groups of tiles whose input transform
// reads the input in place (inLo, inHi, gi0, gi1) and the strips' width:
// several bands, and groups whose loads (4m+4 columns from the group's
// first, 4m*g - padL) stay inside the image's rows.
func (p *winogradPlan) planInPlace() {
	m := p.m
	p.inLo, p.inHi = 1, 0
	if !p.stripsFit() {
		return
	}
	// rows m*r0 - padT .. m*r0 - padT + mR + 1 inside 0 .. H-1
	lo := (p.padT + m - 1) / m
	hiRows := p.H - 2 - m*p.R + p.padT
	w := p.Ws
	if hiRows < 0 || hiRows/m < lo {
		return
	}
	// some band must lie inside the image: with only edge bands (two
	// bands of a 64x64 map) every band would copy its rows anyway
	inside := false
	for b := 0; b < p.bands; b++ {
		r0 := min(b*p.R, p.TH-p.R)
		inside = inside || (r0 >= lo && r0 <= hiRows/m)
	}
	if !inside {
		return
	}
	p.inLo, p.inHi, p.Ws = lo, hiRows/m, w
	p.padBytes = max(p.padBytes, p.stripOff()+(m*p.R+2)*p.W*4)
}

// stripsFit sets the groups whose loads stay inside the image's rows
// (gi0 .. gi1-1) and the strips' width Ws, and says whether the edges'
// groups fit in strips of one row (several bands only). It changes
// nothing else: a layer whose bands all copy their rows (planInPlace,
// none inside the image) still runs the bordered form unless its input
// is pieces (winogradInPieces), whose bands all pass the in-place
// transform a copy of their rows.
func (p *winogradPlan) stripsFit() bool {
	m := p.m
	if p.bands < 2 {
		return false
	}
	reach := 4*m + 4
	p.gi0 = (p.padL + 4*m - 1) / (4 * m)
	p.gi1 = p.gi0
	if d := p.W + p.padL - reach; d >= 0 {
		p.gi1 = min(p.G, d/(4*m)+1)
	}
	w := 0
	if p.gi0 > 0 {
		w = 4*m*p.gi0 + 4
	}
	if p.G > p.gi1 {
		w = max(w, 4*m*(p.G-p.gi1)+4)
	}
	p.Ws = alignUp(w, 4)
	return p.gi1 > p.gi0 && 2*p.Ws <= p.W
}

// inPlace says whether some bands read the input in place.
func (p *winogradPlan) inPlace() bool { return p.inLo <= p.inHi }

// bandsForThreads is the plan of a layer of one image whose bands are too
// few to hand out whole (2 <= bands < 2 x threads) re-cut into 2 x threads
// bands, or nil where those would hold fewer than winogradMinThreadTiles
// tiles each. Every tile is computed by the same instructions in any
// band, so the bits do not change; the bands are smaller than the
// single-threaded ones, so the per-thread workspace copies hold them.
func (p *winogradPlan) bandsForThreads(threads int) *winogradPlan {
	if p.N != 1 || p.src || p.bands < 2 || p.bands >= 2*threads {
		return nil
	}
	q := *p
	q.recut = true
	q.setRows((p.TH + 2*threads - 1) / (2 * threads))
	// counted in whole groups of four (R*TWp), as before packed tile rows:
	// a panel's expansion is weighed against the product's real work, which
	// packing did not change (56x56 F(4x4) re-cut in 4 bands: 56 tiles)
	if q.R*q.TWp < winogradMinThreadTiles || q.bands < 2*threads {
		return nil
	}
	return &q
}

// winogradMinThreadTiles: bands re-cut for the threads keep at least this
// many tiles, so that a weight panel's expansion (portable shape, once
// per band, product and panel) stays a few percent of its product.
const winogradMinThreadTiles = 64

// uPitch is the bytes between the P rows of U of a src layer's panel: a
// row's C*16 bytes rounded to an odd number of cache lines, so that the
// transform's P stores per channel do not all fall in one cache set (at
// 256 channels the rows would be 4 KiB apart; expanded in place, 16 KiB
// apart and 4x the bytes, the transform made resnet50's 14x14 layers
// 1.6-2.5x slower).
func (p *winogradPlan) uPitch() int { return spreadPitch(p.C*4) * 4 }

// uPitch8 is uPitch for the [C, 8] panels of a tilesAsA layer.
func (p *winogradPlan) uPitch8() int { return spreadPitch(p.C*8) * 4 }

// yRow is the floats in a row of the tile-aligned output plane.
func (p *winogradPlan) yRow() int { return 4 * p.m * p.G }

func (p *winogradPlan) workspace() int {
	return p.padBytes + p.vBytes + p.mBytes + p.yBytes + p.uBytes + p.eVBytes + p.rBytes + p.C*64 // + the portable shape's expanded U panel
}

var (
	evenLanes = [16]byte{0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27}
	oddLanes  = [16]byte{4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31}
	zipLo     = [16]byte{0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23}
	zipHi     = [16]byte{8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31}
)

func (k *Ctx) convWinograd(n *ir.Node, op *ir.FusedConv) error {
	return k.convWinogradHead(n, op, nil)
}

// convWinogradHead is convWinograd; with head set (a HeadedConv's, one
// thread) the bands store their output channels into head's band buffer
// and compute the head on it (winogradHeadBand).
func (k *Ctx) convWinogradHead(n *ir.Node, op *ir.FusedConv, head *winogradHead) error {
	p, err := planWinograd(n, op)
	if err != nil {
		return err
	}
	if head != nil {
		if !headFits(p, k.Threads()) {
			return fmt.Errorf("a headed Winograd layer that cannot run in whole bands")
		}
		p.head, p.oPitch = head, head.pitch(p)
	}
	f := k.F
	x, u, out := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	bias, resOff := n.In(2), k.residualOffset(n, &op.Epilogue)
	padBuf := k.WorkspaceAddr()
	C, M := p.C, p.M
	threaded := k.splits(p.P*((M+3)/4), winogradPanelNs(p))
	if p.pieces, err = k.convPieces(x, p.H, p.W); err != nil {
		return err
	}
	if (p.pieces != nil) != p.piecesIn {
		// the workspace was planned by op.Pieces
		return fmt.Errorf("a Winograd layer whose input is pieces (%v) but whose op says %v", p.pieces != nil, p.piecesIn)
	}
	if p.head != nil && k.Threads() > 1 {
		// whole bands on each thread, each with its own band buffer (the
		// node's per-thread scratch); never split step by step
		if p.pieces != nil && !p.readsPieces() {
			return fmt.Errorf("a Winograd layer reading its input in pieces takes the in-place bands")
		}
		k.winogradBands(p, op, x, u, out, bias, resOff)
		return nil
	}
	if p.pieces != nil {
		if !p.readsPieces() {
			return fmt.Errorf("a Winograd layer reading its input in pieces takes the in-place bands")
		}
		// Each band reads its own pieces rows: the bands are handed out
		// whole (winogradBands), never split step by step.
		threaded = false
		q := p.bandsForThreads(k.Threads())
		if q != nil && q.readsPieces() && k.splits(q.bands, winogradBandNs(q)) {
			k.winogradBands(q, op, x, u, out, bias, resOff)
			return nil
		}
		if k.splits(p.bands, winogradBandNs(p)) {
			k.winogradBands(p, op, x, u, out, bias, resOff)
			return nil
		}
	}
	if p.N == 1 && p.bands >= 2*k.Threads() && k.splits(p.bands, winogradBandNs(p)) {
		k.winogradBands(p, op, x, u, out, bias, resOff)
		return nil
	}
	if q := p.bandsForThreads(k.Threads()); q != nil && k.splits(q.bands, winogradBandNs(q)) {
		// few bands: thinner ones, handed out whole, in one job instead
		// of three per band
		k.winogradBands(q, op, x, u, out, bias, resOff)
		return nil
	}

	xBase, outBase, img := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	if p.pieces == nil {
		f.I32Const(k.Addr(x)).Set(xBase)
	}
	f.I32Const(k.Addr(out)).Set(outBase)
	src, dst, c1, c2 := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.Counted(img, p.N, func() {
		// 1. Bordered copy of the image (one band: the whole of it). The
		// threaded form copies each channel in the input transform's job.
		if p.bands == 1 && !threaded {
			f.I32Const(padBuf).I32Const(0).I32Const(int32(p.padBytes)).MemoryFill()
			f.Get(xBase).Set(src)
			f.I32Const(padBuf + int32((p.padT*p.Wp+p.padL)*4)).Set(dst)
			f.Counted(c1, C, func() {
				f.Counted(c2, p.H, func() {
					copyRow(f, true, dst, src, p.W*4)
					f.AddI32(dst, int32(p.Wp*4))
					f.AddI32(src, int32(p.W*4))
				})
				f.AddI32(dst, int32((p.Hp-p.H)*p.Wp*4))
			})
		}

		// Bands of R tile rows; the last band starts R rows before the end
		// (recomputing rows of the previous one) so that every band has R.
		band, r0, nrows := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		f.SetI32(band, 0)
		f.Counted(f.Local(asm.I32), p.bands, func() {
			k.winogradBand(p, op, u, bias, resOff, wsAddr{f: f}, threaded, winogradBandLocals{band, r0, nrows, xBase, outBase, src, dst, c1, c2})
			f.AddI32(band, 1)
		})

		f.AddI32(xBase, int32(C*p.H*p.W*4))
		f.AddI32(outBase, int32(M*p.Ho*p.Wo*4))
	})
	return nil
}

// wsAddr pushes an address in a Winograd node's workspace: the constant
// alone, or in the band-parallel form plus the offset of this thread's
// copy of the workspace (local tb).
type wsAddr struct {
	f  *asm.Func
	tb *asm.Local
}

func (a wsAddr) push(addr int32) {
	a.f.I32Const(addr)
	if a.tb != nil {
		a.f.Get(*a.tb).Op(wasm.OpcodeI32Add)
	}
}

type winogradBandLocals struct{ band, r0, nrows, xBase, outBase, src, dst, c1, c2 asm.Local }

// winogradBand emits the work of band l.band of the image at l.xBase:
// its rows copied (several bands), the input transform, the 16 products,
// the output transform and the store of its rows into the output. threaded
// hands out each step's units to the threads (the bands run one after
// another); a band-parallel body (a.tb set) runs it all on this thread in
// its own copy of the workspace.
func (k *Ctx) winogradBand(p *winogradPlan, op *ir.FusedConv, u, bias *ir.Value, resOff int32, a wsAddr, threaded bool, l winogradBandLocals) {
	f := k.F
	padBuf := k.WorkspaceAddr()
	vBuf := padBuf + int32(p.padBytes)
	mBuf := vBuf + int32(p.vBytes)
	yBuf := mBuf + int32(p.mBytes)
	band, r0, nrows := l.band, l.r0, l.nrows
	f.Get(band).I32Const(int32(p.R)).Op(wasm.OpcodeI32Mul)
	if p.r0Add != 0 {
		f.I32Const(int32(p.r0Add)).Op(wasm.OpcodeI32Add)
	}
	f.Set(r0)
	f.I32Const(int32(p.TH - p.R)).Get(r0).Get(r0).I32Const(int32(p.TH - p.R)).Op(wasm.OpcodeI32GtS).Select().Set(r0)
	var bw int32
	// 2. Input transform, one channel per call of a shared function.
	switch {
	case threaded && p.tilesAsA:
		// each thread transforms the whole input in its products' job
		bw = k.winogradBandWords(p, l.xBase, l.outBase, r0, nrows)
	case threaded:
		bw = k.winogradBandWords(p, l.xBase, l.outBase, r0, nrows)
		k.winogradInThreads(p, k.winogradIn(p), padBuf, vBuf, bw)
	case p.pieces != nil:
		k.winogradInPieces(p, a, padBuf, vBuf, r0)
	case p.bands > 1 && p.inPlace():
		k.winogradInPlace(p, a, padBuf, vBuf, l.xBase, r0, l.src, l.dst, l.c1)
	case p.bands > 1:
		k.winogradBandCopy(p, a, padBuf, l.xBase, r0, l.src, l.dst, l.c1, l.c2)
		k.winogradInSerial(p, k.winogradIn(p), a, padBuf, vBuf, r0)
	default:
		k.winogradInSerial(p, k.winogradIn(p), a, padBuf, vBuf, r0)
	}

	// 3. P GEMMs: M_xi [M, Tp] = U_xi [M, C] x V_xi [C, Tp].
	switch {
	case threaded && p.tilesAsA:
		store := k.winogradStoreFunc(p, op, resOff, 1)
		k.winogradTilesAsAThreads(p, u, padBuf, vBuf, mBuf, yBuf+int32(p.yBytes), k.winogradOut(p, bias != nil), yBuf, bias, store, bw)
		return
	case p.src:
		k.winogradGEMMsSource(p, u, a, vBuf, mBuf, yBuf+int32(p.yBytes), threaded)
	case threaded:
		k.winogradGEMMsThreads(p, u, vBuf, mBuf)
	case k.portable():
		k.winogradGEMMsPortable(p, u, a, vBuf, mBuf, yBuf+int32(p.yBytes))
	default:
		k.winogradGEMMs(p, u, a, vBuf, mBuf)
	}

	// 4. Output transform Y = A^T M A (+ bias) into the tile-aligned
	// buffer, one output channel per call of a shared function.
	outT := k.winogradOut(p, bias != nil)
	if threaded {
		// each output channel's rows stored by the unit that transformed them
		k.winogradOutThreads(p, outT, mBuf, yBuf, bias, k.winogradStoreFunc(p, op, resOff, 1), bw)
		return
	}
	// 5. Each channel's valid rows into the output right after its
	// transform, with residual and activations: rows m*r0 .. min(m*(r0+R),
	// Ho).
	ob := f.Local(asm.I32)
	winogradBandRows(f, p, r0, l.outBase, nrows, ob)
	if p.head != nil {
		a.push(p.head.buf)
		f.Set(ob)
	}
	k.winogradOutSerial(p, outT, k.winogradStoreFunc(p, op, resOff, 1), a, mBuf, yBuf, bias, ob, nrows)
	if p.head != nil {
		k.winogradHeadBand(p, a, r0, nrows)
	}
}

// winogradBandRows sets nrows and ob to the band's valid output rows,
// m*r0 .. min(m*(r0+R), Ho), and the address of the first in the output.
func winogradBandRows(f *asm.Func, p *winogradPlan, r0, outBase, nrows, ob asm.Local) {
	mR := int32(p.m * p.R)
	f.I32Const(mR).I32Const(int32(p.Ho)).Get(r0).I32Const(int32(p.m)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Sub).Tee(nrows).Get(nrows).I32Const(mR).Op(wasm.OpcodeI32GtS).Select().Set(nrows)
	f.Get(r0).I32Const(int32(p.m * p.Wo * 4)).Op(wasm.OpcodeI32Mul).Get(outBase).Op(wasm.OpcodeI32Add).Set(ob)
}

// Band words: where the threaded per-step form (winogradBand, threaded)
// leaves the band's geometry for its jobs' bodies, which cannot see the
// node function's locals: 4 bytes a word, after the planned memory.
const (
	bwSrc   = 0  // the band's first bordered row in input channel 0 (an address)
	bwRow   = 4  // that row's index in the input (negative above it)
	bwOut   = 8  // the band's first output row in output channel 0 (an address)
	bwRows  = 12 // the band's valid output rows
	bwBytes = 16
)

// winogradBandWords reserves the node's band words (once) and stores the
// band at tile row r0's into them.
func (k *Ctx) winogradBandWords(p *winogradPlan, xBase, outBase, r0, nrows asm.Local) int32 {
	if k.bandWords == 0 {
		k.bandWords = k.md.reserve(bwBytes)
	}
	f := k.F
	bw := k.bandWords
	row, ob := f.Local(asm.I32), f.Local(asm.I32)
	f.Get(r0).I32Const(int32(p.m)).Op(wasm.OpcodeI32Mul).I32Const(int32(p.padT)).Op(wasm.OpcodeI32Sub).Set(row)
	f.I32Const(bw).Get(row).I32Const(int32(p.W * 4)).Op(wasm.OpcodeI32Mul).Get(xBase).Op(wasm.OpcodeI32Add).I32Store(bwSrc)
	f.I32Const(bw).Get(row).I32Store(bwRow)
	winogradBandRows(f, p, r0, outBase, nrows, ob)
	f.I32Const(bw).Get(ob).I32Store(bwOut)
	f.I32Const(bw).Get(nrows).I32Store(bwRows)
	return bw
}

// winogradBandNs estimates one band: its P products and, a third again,
// its copy and transforms.
func winogradBandNs(p *winogradPlan) float64 {
	return 1.3 * float64(p.P*((p.M+3)/4)) * winogradPanelNs(p)
}

// winogradBands is convWinograd of one image split into several bands per
// thread, in a threaded module: the bands are handed out whole, each
// thread running its bands with the single-threaded code in its own copy
// of the workspace (the whole of it is per-thread scratch), so that a
// layer is one job instead of three per band. The last band recomputes
// rows of the one before it, as on one thread: two threads may then write
// the same values to the same rows.
//
// Bands re-cut for the threads whose R rows overrun the map (56x56 F(4x4):
// 14 tile rows in 4 bands of 4) run the last bands with R-1 rows instead
// (4, 4, 3, 3), so that no tile row is computed twice: the overlap was 14%
// more work split than on one thread. Every tile is computed by the same
// instructions in a band of either height, so the bits do not change.
func (k *Ctx) winogradBands(p *winogradPlan, op *ir.FusedConv, x, u, out, bias *ir.Value, resOff int32) {
	var short *winogradPlan
	full := p.bands
	if p.recut && p.pieces == nil && p.R > 1 && p.bands*p.R > p.TH && p.TH-p.bands*(p.R-1) > 0 {
		q := *p
		q.setRows(p.R - 1)
		full = p.TH - p.bands*(p.R-1)
		q.bands, q.r0Add = p.bands, full
		short = &q
	}
	_, size := k.ScratchAddr()
	k.Parallel(p.bands, winogradBandNs(p), func(s Span) {
		f := s.F
		tb := f.Local(asm.I32)
		f.I32Const(0)
		if s.Parallel() {
			s.scratchOffset(size)
			f.Op(wasm.OpcodeI32Add)
		}
		f.Set(tb)
		l := winogradBandLocals{f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32),
			f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)}
		if p.pieces == nil {
			f.I32Const(k.Addr(x)).Set(l.xBase)
		}
		f.I32Const(k.Addr(out)).Set(l.outBase)
		s.For(l.band, func() {
			if short == nil {
				k.winogradBand(p, op, u, bias, resOff, wsAddr{f: f, tb: &tb}, false, l)
				return
			}
			f.Get(l.band).I32Const(int32(full)).Op(wasm.OpcodeI32LtS).If()
			k.winogradBand(p, op, u, bias, resOff, wsAddr{f: f, tb: &tb}, false, l)
			f.Else()
			// band b >= full starts at b*(R-1) + full
			k.winogradBand(short, op, u, bias, resOff, wsAddr{f: f, tb: &tb}, false, l)
			f.End()
		})
	})
}

// winogradBandCopy copies the input rows of the band starting at tile row
// r0 (bordered rows m*r0 .. m*r0+mR+1, each channel's Hp of them) into the
// zeroed band at padBuf; rows above or below the image stay zero.
func (k *Ctx) winogradBandCopy(p *winogradPlan, a wsAddr, padBuf int32, xBase, r0, src, dst, c1, c2 asm.Local) {
	f := k.F
	row, srcC := f.Local(asm.I32), f.Local(asm.I32)
	a.push(padBuf)
	f.I32Const(0).I32Const(int32(p.padBytes)).MemoryFill()
	// the first row's input row, and its address in channel 0 (used only
	// for rows inside the image)
	f.Get(r0).I32Const(int32(p.m)).Op(wasm.OpcodeI32Mul).I32Const(int32(p.padT)).Op(wasm.OpcodeI32Sub).Set(row)
	f.Get(row).I32Const(int32(p.W * 4)).Op(wasm.OpcodeI32Mul).Get(xBase).Op(wasm.OpcodeI32Add).Set(srcC)
	a.push(padBuf + int32(p.padL*4))
	f.Set(dst)
	rowC := f.Local(asm.I32)
	f.Counted(c1, p.C, func() {
		f.Get(srcC).Set(src)
		f.Get(row).Set(rowC)
		winogradCopyRows(f, p, dst, src, rowC, c2)
		f.AddI32(srcC, int32(p.H*p.W*4))
	})
}

// winogradInPlace is the input transform of a band of a layer with
// p.inPlace: per channel, one call of winogradInPlaceFunc's function with
// the channel's first input row of the band, its row of V and the strips'
// buffer. A band whose rows lie inside the image (tile row r0 in inLo ..
// inHi) passes the input itself; the others (the first and last bands)
// first copy their rows, rows outside the image zero, into a buffer of
// the same row pitch (W floats, mR+2 rows a channel) and pass that. The
// band so copies 2(4m+4) columns of each row instead of the whole row
// into a zeroed buffer; the values transformed are the same, so are the
// bits.
func (k *Ctx) winogradInPlace(p *winogradPlan, a wsAddr, padBuf, vBuf int32, xBase, r0, src, rowV, c asm.Local) {
	f := k.F
	fn := k.winogradInPlaceFunc(p)
	m, W := p.m, p.W
	rows := m*p.R + 2
	strip, step, row := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	// the band's first input row, its address in channel 0
	f.Get(r0).I32Const(int32(m)).Op(wasm.OpcodeI32Mul).I32Const(int32(p.padT)).Op(wasm.OpcodeI32Sub).Set(row)
	f.Get(row).I32Const(int32(W * 4)).Op(wasm.OpcodeI32Mul).Get(xBase).Op(wasm.OpcodeI32Add).Set(src)
	f.I32Const(int32(p.H * W * 4)).Set(step)
	f.Get(r0).I32Const(int32(p.inLo)).Op(wasm.OpcodeI32LtS).Get(r0).I32Const(int32(p.inHi)).Op(wasm.OpcodeI32GtS).Op(wasm.OpcodeI32Or).If()
	{
		// rows above the image (top), inside it (n) and below it
		top, n, dst, from := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		f.I32Const(0).Get(row).Op(wasm.OpcodeI32Sub).Tee(top).I32Const(0).Get(top).I32Const(0).Op(wasm.OpcodeI32GtS).Select().Set(top)
		// n = min(rows, H - row) - top
		f.I32Const(int32(p.H)).Get(row).Op(wasm.OpcodeI32Sub).Tee(n).I32Const(int32(rows)).Get(n).I32Const(int32(rows)).Op(wasm.OpcodeI32LtS).Select().Get(top).Op(wasm.OpcodeI32Sub).Set(n)
		f.Get(row).Get(top).Op(wasm.OpcodeI32Add).I32Const(int32(W * 4)).Op(wasm.OpcodeI32Mul).Get(xBase).Op(wasm.OpcodeI32Add).Set(from)
		a.push(padBuf)
		f.Tee(dst).Set(src)
		f.Counted(c, p.C, func() {
			f.Get(dst).I32Const(0).Get(top).I32Const(int32(W * 4)).Op(wasm.OpcodeI32Mul).MemoryFill()
			f.Get(top).I32Const(int32(W * 4)).Op(wasm.OpcodeI32Mul).Get(dst).Op(wasm.OpcodeI32Add)
			f.Get(from).Get(n).I32Const(int32(W * 4)).Op(wasm.OpcodeI32Mul).MemoryCopy()
			f.Get(top).Get(n).Op(wasm.OpcodeI32Add).I32Const(int32(W * 4)).Op(wasm.OpcodeI32Mul).Get(dst).Op(wasm.OpcodeI32Add)
			f.I32Const(0).I32Const(int32(rows)).Get(top).Op(wasm.OpcodeI32Sub).Get(n).Op(wasm.OpcodeI32Sub).I32Const(int32(W * 4)).Op(wasm.OpcodeI32Mul).MemoryFill()
			f.AddI32(dst, int32(rows*W*4))
			f.AddI32(from, int32(p.H*W*4))
		})
		f.I32Const(int32(rows * W * 4)).Set(step)
	}
	f.End()
	a.push(vBuf)
	f.Set(rowV)
	a.push(padBuf + int32(p.stripOff()))
	f.Set(strip)
	scr := f.Local(asm.I32)
	a.push(p.rowScratch(vBuf))
	f.Set(scr)
	f.Counted(c, p.C, func() {
		f.Get(src).Get(rowV).Get(strip).Get(scr).Call(fn)
		f.Get(src).Get(step).Op(wasm.OpcodeI32Add).Set(src)
		f.AddI32(rowV, int32(p.TpP*4))
	})
}

// stripOff is where the strips of an inPlace layer lie in its bordered
// buffer: after the band's rows copied at W floats a row.
func (p *winogradPlan) stripOff() int { return alignUp(p.C*(p.m*p.R+2)*p.W*4, 16) }

// winogradInPlaceFunc returns the shared function (src, v, strip)
// transforming one channel of a band: src is the band's first input row
// (m*r0 - padT; mR+2 rows, W floats apart), v the channel's row of V for
// position 0, strip a buffer of mR+2 rows, W floats apart. It copies each
// row's left edge (columns -padL .. Ws-padL-1, zero left of the image)
// and right edge (Ws columns from 4m*gi1 - padL, zero right of the image)
// side by side into strip's row, then runs one input transform (rows W
// floats apart, the group count its argument) three times: over the
// right edge's groups from the strips, over groups gi0 .. gi1-1 from src
// itself, over the left edge's groups from the strips. A layer so has one
// input transform, as before.
func (k *Ctx) winogradInPlaceFunc(p *winogradPlan) uint32 {
	m, Ws := p.m, p.Ws
	q := *p
	q.Wp, q.G, q.groupsArg = p.W, 0, true
	inT := k.winogradIn(&q) // rows W floats apart, the groups an argument
	name := fmt.Sprintf("winograd_in_place_%d_%d_%d_%d_%d_%d_%d_%d", m, p.W, p.padL, p.R, p.G, p.gi0, p.gi1, p.vPos)
	i32 := asm.I32
	return k.Helper(name, []wasm.ValueType{i32, i32, i32, i32}, nil, func(f *asm.Func) {
		src, v, strip, scr := f.Param(0), f.Param(1), f.Param(2), f.Param(3)
		s, d := f.Local(i32), f.Local(i32)
		f.Get(src).Set(s)
		f.Get(strip).Set(d)
		c0 := 4*m*p.gi1 - p.padL // the right strip's first column
		f.Counted(f.Local(i32), m*p.R+2, func() {
			if p.gi0 > 0 {
				n := min(p.W, Ws-p.padL)
				zeroBytes(f, d, 0, p.padL*4)
				copyBytes(f, d, p.padL*4, s, 0, n*4)
				zeroBytes(f, d, (p.padL+n)*4, (Ws-p.padL-n)*4)
			}
			if p.G > p.gi1 {
				n := min(p.W-c0, Ws)
				copyBytes(f, d, Ws*4, s, c0*4, n*4)
				zeroBytes(f, d, (Ws+n)*4, (Ws-n)*4)
			}
			f.AddI32(s, int32(p.W*4))
			f.AddI32(d, int32(p.W*4))
		})
		// Right edge first: with packed tile rows (TW < TWp) a row's last
		// group writes past the row into the next row's first tiles, which
		// the interior or left pass, run after it, then writes over.
		if p.G > p.gi1 {
			f.Get(strip).I32Const(int32(Ws * 4)).Op(wasm.OpcodeI32Add)
			f.Get(v).I32Const(int32(16 * p.gi1)).Op(wasm.OpcodeI32Add).I32Const(int32(p.G - p.gi1)).Get(scr).Call(inT)
		}
		f.Get(src).I32Const(int32((4*m*p.gi0 - p.padL) * 4)).Op(wasm.OpcodeI32Add)
		f.Get(v).I32Const(int32(16 * p.gi0)).Op(wasm.OpcodeI32Add).I32Const(int32(p.gi1 - p.gi0)).Get(scr).Call(inT)
		if p.gi0 > 0 {
			f.Get(strip).Get(v).I32Const(int32(p.gi0)).Get(scr).Call(inT)
		}
	})
}

// winogradCopyRows copies one channel's rows of a band, Hp of them from
// input row rowC at src on into the bordered plane at dst (already
// zeroed; rows above or below the image are skipped), moving dst, src and
// rowC past them.
func winogradCopyRows(f *asm.Func, p *winogradPlan, dst, src, rowC, c asm.Local) {
	f.Counted(c, p.Hp, func() {
		f.Get(rowC).I32Const(int32(p.H)).Op(wasm.OpcodeI32LtU).If()
		copyRow(f, true, dst, src, p.W*4)
		f.End()
		f.AddI32(dst, int32(p.Wp*4))
		f.AddI32(src, int32(p.W*4))
		f.AddI32(rowC, 1)
	})
}

// winogradStoreFunc is the function (ys, od, rows) that copies rows of the
// tile-aligned buffer at ys into the output at od, applying the residual
// and activations when the epilogue has them, over the first channels
// output channels from ys and od on (every caller now stores one channel
// right after its output transform). It is named by what it emits, so
// layers of one shape and epilogue (a U-Net's two convolutions of a
// level) share it, and the second finds it compiled by TurboFan.
func (k *Ctx) winogradStoreFunc(p *winogradPlan, op *ir.FusedConv, resOff int32, channels int) uint32 {
	i32 := asm.I32
	// Named by what it emits, so that layers of one shape and epilogue share it.
	name := fmt.Sprintf("winograd_store_%d_%d_%d_%d_%d_%d", channels, p.Wo, p.yRow(), p.m*p.R, p.Ho, resOff) + epilogueKey(&op.Epilogue, false)
	return k.Helper(name, []wasm.ValueType{i32, i32, i32}, nil, func(f *asm.Func) {
		ys, od, nrows := f.Param(0), f.Param(1), f.Param(2)
		mc, oc := f.Local(i32), f.Local(i32)
		yStride := int32(p.yRow() * 4)
		plain := !op.Residual && len(op.Acts) == 0
		v := f.Local(asm.V128)
		x4 := fxFor(f, asm.F32, true)
		yp := f.Local(i32)
		f.Counted(mc, channels, func() {
			f.Get(nrows).Set(oc)
			f.Loop32(oc, func() {
				if plain {
					copyRow(f, true, od, ys, p.Wo*4)
					f.AddI32(od, int32(p.Wo*4))
				} else {
					f.Get(ys).Set(yp)
					group := func(lanes int) {
						f.Get(yp).V128Load(0).Set(v)
						if op.Residual {
							f.Get(v).Get(od).I32Const(resOff).Op(wasm.OpcodeI32Add).V128Load(0).Vec(wasm.OpcodeVecF32x4Add).Set(v)
						}
						k.vecActs(x4, op.Acts, v)
						storeLanes(f, od, v, lanes)
						f.AddI32(od, int32(4*lanes))
						f.AddI32(yp, 16)
					}
					gc := f.Local(i32)
					f.Counted(gc, p.Wo/4, func() { group(4) })
					if r := p.Wo % 4; r > 0 {
						group(r)
					}
				}
				f.AddI32(ys, yStride)
			})
			// the next channel: its band in Y and its rows in the output
			f.I32Const(int32(p.m * p.R)).Get(nrows).Op(wasm.OpcodeI32Sub).I32Const(yStride).Op(wasm.OpcodeI32Mul).Get(ys).Op(wasm.OpcodeI32Add).Set(ys)
			f.I32Const(int32(p.Ho)).Get(nrows).Op(wasm.OpcodeI32Sub).I32Const(int32(p.Wo * 4)).Op(wasm.OpcodeI32Mul).Get(od).Op(wasm.OpcodeI32Add).Set(od)
		})
	})
}

// winogradIn returns the shared function (in, v) transforming one channel:
// in is its first bordered row, v its row of V for position 0.
func (k *Ctx) winogradIn(p *winogradPlan) uint32 {
	if p.m == 4 {
		return k.winogradIn4(p)
	}
	name := fmt.Sprintf("winograd_in_%d_%d_%d_%d", p.Wp, p.R, p.G, p.vPos) + p.groupsKey() + p.twSuffix()
	return k.Helper(name, p.winogradInParams(), nil, func(f *asm.Func) {
		rowIn, rowV := f.Param(0), f.Param(1)
		vec := func() asm.Local { return f.Local(asm.V128) }
		add := func(a, b asm.Local) { f.Get(a).Get(b).Vec(wasm.OpcodeVecF32x4Add) }
		sub := func(a, b asm.Local) { f.Get(a).Get(b).Vec(wasm.OpcodeVecF32x4Sub) }
		in, vp, tyc, gc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		a, b := vec(), vec()
		R := make([]asm.Local, 16) // R[rr*4+j]
		for i := range R {
			R[i] = vec()
		}
		winogradEachGroup(f, p, rowIn, rowV, in, vp, tyc, gc, func() {
			// rows and, below, positions from the highest offset down:
			// wazero bounds-checks a base once per block then
			for rr := 3; rr >= 0; rr-- {
				base := uint32(rr * p.Wp * 4)
				e0, o1, e2, o3 := R[rr*4], R[rr*4+1], R[rr*4+2], R[rr*4+3]
				f.Get(in).V128Load(base + 24).Set(b)
				f.Get(in).V128Load(base + 8).Set(a)
				f.Get(a).Get(b).I8x16Shuffle(evenLanes).Set(e2)
				f.Get(a).Get(b).I8x16Shuffle(oddLanes).Set(o3)
				f.Get(in).V128Load(base + 16).Set(b)
				f.Get(in).V128Load(base).Set(a)
				f.Get(a).Get(b).I8x16Shuffle(evenLanes).Set(e0)
				f.Get(a).Get(b).I8x16Shuffle(oddLanes).Set(o1)
				// B^T along the row: R0 = d0-d2, R1 = d1+d2,
				// R2 = d2-d1, R3 = d1-d3, into the same four slots.
				sub(e0, e2)
				f.Set(a) // R0
				sub(e2, o1)
				f.Set(b) // R2
				add(o1, e2)
				f.Set(e2) // R1, moved to slot 1 below
				sub(o1, o3)
				f.Set(o3) // R3
				f.Get(a).Set(e0)
				f.Get(e2).Set(o1)
				f.Get(b).Set(e2)
			}
			// B^T down the column: V_ij from R[0..3][j].
			for i := 3; i >= 0; i-- {
				for j := 3; j >= 0; j-- {
					r0, r1, r2, r3 := R[j], R[4+j], R[8+j], R[12+j]
					xi := i*4 + j
					f.Get(vp)
					switch i {
					case 0:
						sub(r0, r2)
					case 1:
						add(r1, r2)
					case 2:
						sub(r2, r1)
					case 3:
						sub(r1, r3)
					}
					f.V128Store(uint32(xi * p.vPos * 4))
				}
			}
		})
	})
}

// groupsKey names an input transform over some of a band's groups
// (winogradInPlaceFunc's), whose rows of V are TW tiles apart, not 4G.
func (p *winogradPlan) groupsKey() string {
	if !p.groupsArg {
		return ""
	}
	return fmt.Sprintf("_of%d", p.TWp)
}

// winogradInParams are the input transform's parameters: (in, v), the
// groups with groupsArg, then the address of this thread's
// rowScratchBytes (F(4x4,3x3): winogradIn4; F(2x2,3x3) ignores it).
func (p *winogradPlan) winogradInParams() []wasm.ValueType {
	if p.groupsArg {
		return []wasm.ValueType{asm.I32, asm.I32, asm.I32, asm.I32}
	}
	return []wasm.ValueType{asm.I32, asm.I32, asm.I32}
}

// rowScratchBytes is a 6x6 tile group's row results, one vector each.
const rowScratchBytes = 36 * 16

// rowScratch is where the input transform keeps them, in M, which no one
// reads or writes while the input transform runs (the products fill it
// after): its first bytes in this copy of the workspace.
func (p *winogradPlan) rowScratch(vBuf int32) int32 {
	if p.mBytes < rowScratchBytes {
		panic(fmt.Sprintf("winograd: M is %d bytes, the row scratch %d", p.mBytes, rowScratchBytes))
	}
	return vBuf + int32(p.vBytes)
}

// winogradEachGroup runs body for each group of four tiles in a band's R
// tile rows, with in at the group's first bordered input row and vp at
// its column of V: the loop both input transforms (F(2x2,3x3) and
// F(4x4,3x3)) run their group in.
func winogradEachGroup(f *asm.Func, p *winogradPlan, rowIn, rowV, in, vp, tyc, gc asm.Local, body func()) {
	f.Counted(tyc, p.R, func() {
		f.Get(rowIn).Set(in)
		f.Get(rowV).Set(vp)
		group := func() {
			body()
			f.AddI32(in, int32(16*p.m)) // four tiles of m columns
			f.AddI32(vp, 16)
		}
		if p.groupsArg {
			f.Get(f.Param(2)).Set(gc)
			f.Loop32(gc, group)
		} else {
			f.Counted(gc, p.G, group)
		}
		f.AddI32(rowIn, int32(p.m*p.Wp*4))
		f.AddI32(rowV, int32(p.TW*4))
	})
}

// winogradOut returns the shared function (m, y, bias) bringing one output
// channel back: m is its row of M for position 0, y its tile-aligned plane.
func (k *Ctx) winogradOut(p *winogradPlan, hasBias bool) uint32 {
	if p.m == 4 {
		return k.winogradOut4(p, hasBias)
	}
	name := fmt.Sprintf("winograd_out_%d_%d_%d_%v", p.R, p.G, p.mPos, hasBias)
	name += p.twSuffix()
	i32 := asm.I32
	return k.Helper(name, []wasm.ValueType{i32, i32, i32}, nil, func(f *asm.Func) {
		mp2, yp, bp := f.Param(0), f.Param(1), f.Param(2)
		vec := func() asm.Local { return f.Local(asm.V128) }
		add := func(a, b asm.Local) { f.Get(a).Get(b).Vec(wasm.OpcodeVecF32x4Add) }
		sub := func(a, b asm.Local) { f.Get(a).Get(b).Vec(wasm.OpcodeVecF32x4Sub) }
		mm := make([]asm.Local, 16)
		for i := range mm {
			mm[i] = vec()
		}
		s := make([]asm.Local, 8) // S[p*4+j]
		for i := range s {
			s[i] = vec()
		}
		bv, y0, y1 := vec(), vec(), vec()
		tyc, gc := f.Local(asm.I32), f.Local(asm.I32)
		if hasBias {
			f.Get(bp).V128Load32Splat(0).Set(bv)
		} else {
			f.V128Const([16]byte{}).Set(bv)
		}
		yStride := int32(8 * p.G * 4)
		f.Counted(tyc, p.R, func() {
			f.Counted(gc, p.G, func() {
				for i := 15; i >= 0; i-- {
					f.Get(mp2).V128Load(uint32(i * p.mPos * 4)).Set(mm[i])
				}
				for j := 0; j < 4; j++ {
					add(mm[j], mm[4+j])
					f.Get(mm[8+j]).Vec(wasm.OpcodeVecF32x4Add).Set(s[j])
					sub(mm[4+j], mm[8+j])
					f.Get(mm[12+j]).Vec(wasm.OpcodeVecF32x4Sub).Set(s[4+j])
				}
				for q := 1; q >= 0; q-- {
					s0, s1, s2, s3 := s[q*4], s[q*4+1], s[q*4+2], s[q*4+3]
					add(s0, s1)
					f.Get(s2).Vec(wasm.OpcodeVecF32x4Add).Get(bv).Vec(wasm.OpcodeVecF32x4Add).Set(y0)
					sub(s1, s2)
					f.Get(s3).Vec(wasm.OpcodeVecF32x4Sub).Get(bv).Vec(wasm.OpcodeVecF32x4Add).Set(y1)
					off := uint32(int32(q) * yStride)
					f.Get(yp).Get(y0).Get(y1).I8x16Shuffle(zipHi).V128Store(off + 16)
					f.Get(yp).Get(y0).Get(y1).I8x16Shuffle(zipLo).V128Store(off)
				}
				f.AddI32(mp2, 16)
				f.AddI32(yp, 32)
			})
			if p.TW < p.TWp {
				f.AddI32(mp2, int32((p.TW-p.TWp)*4)) // packed tile rows
			}
			f.AddI32(yp, yStride) // the tile row's second output row is done
		})
	})
}

// winogradGEMMs runs the P products one 4x8 tile per call (v8 and wazero
// tunes).
func (k *Ctx) winogradGEMMs(p *winogradPlan, u *ir.Value, a wsAddr, vBuf, mBuf int32) {
	f := k.F
	M := p.M
	mk := k.microKernel(storeRows, &ir.Epilogue{}, biasNone)
	xi, mp, mpc, tc, t0, rows, cols := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	uA, vB, mC := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	panels := (M + 3) / 4
	f.SetI32(xi, 0)
	f.Counted(f.Local(asm.I32), p.P, func() {
		f.SetI32(mp, 0)
		f.Counted(mpc, panels, func() {
			tileLen(f, rows, mp, 4, M)
			// a = U + (xi*panels + mp) * C*16 ; b = V + xi*C*Tp*4 ; c = Mb + (xi*M + mp*4)*Tp*4
			k.winogradPanelAddrs(p, u, a, vBuf, mBuf, xi, mp, uA, vB, mC)
			k.winogradPanelTiles(p, mk, uA, vB, mC, tc, t0, rows, cols)
			f.AddI32(mp, 1)
		})
		f.AddI32(xi, 1)
	})
}

// winogradGEMMsPortable runs the P products in the portable shape: per
// product and 4-row panel of U, the panel is expanded once (eBuf) and one
// call runs the row of tiles over every tile column.
func (k *Ctx) winogradGEMMsPortable(p *winogradPlan, u *ir.Value, a wsAddr, vBuf, mBuf, eBuf int32) {
	f := k.F
	C, M, Tp, TpP := p.C, p.M, p.Tp, p.TpP
	mk := k.microKernelPitch(storeRows, &ir.Epilogue{}, biasNone, TpP*4)
	panels := (M + 3) / 4
	xi, mp, mpc, rows := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.SetI32(xi, 0)
	f.Counted(f.Local(asm.I32), p.P, func() {
		f.SetI32(mp, 0)
		f.Counted(mpc, panels, func() {
			tileLen(f, rows, mp, 4, M)
			// U panel (xi, mp) -> eBuf
			f.Get(xi).I32Const(int32(panels)).Op(wasm.OpcodeI32Mul).Get(mp).Op(wasm.OpcodeI32Add).I32Const(int32(C * 16)).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(u)).Op(wasm.OpcodeI32Add)
			a.push(eBuf)
			f.I32Const(int32(C)).I32Const(16).Call(k.expandPanel())
			a.push(eBuf)
			// b = V + xi*vPos*4 ; c = Mb + (xi*mPos + mp*4*TpP)*4
			f.Get(xi).I32Const(int32(p.vPos * 4)).Op(wasm.OpcodeI32Mul)
			a.push(vBuf)
			f.Op(wasm.OpcodeI32Add)
			f.Get(xi).I32Const(int32(p.mPos * 4)).Op(wasm.OpcodeI32Mul).Get(mp).I32Const(int32(4 * TpP * 4)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
			a.push(mBuf)
			f.Op(wasm.OpcodeI32Add)
			f.I32Const(0).I32Const(int32(C)).I32Const(int32(TpP * 4)).Get(rows).I32Const(int32(Tp)).I32Const(0).I32Const(int32(TpP * 4)).I32Const(chunkWhole)
			f.Call(mk)
			f.AddI32(mp, 1)
		})
		f.AddI32(xi, 1)
	})
}

// winogradInSerial runs the input transform of a band, one channel per
// call of inT (r0: the band's first tile row, for the whole-image copy).
func (k *Ctx) winogradInSerial(p *winogradPlan, inT uint32, a wsAddr, padBuf, vBuf int32, r0 asm.Local) {
	f := k.F
	rowIn, rowV, cc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	if p.bands > 1 {
		a.push(padBuf)
		f.Set(rowIn)
	} else {
		f.Get(r0).I32Const(int32(p.m * p.Wp * 4)).Op(wasm.OpcodeI32Mul)
		a.push(padBuf)
		f.Op(wasm.OpcodeI32Add).Set(rowIn)
	}
	a.push(vBuf)
	f.Set(rowV)
	scr := f.Local(asm.I32)
	a.push(p.rowScratch(vBuf))
	f.Set(scr)
	f.Counted(cc, p.C, func() {
		f.Get(rowIn).Get(rowV).Get(scr).Call(inT)
		f.AddI32(rowIn, int32(p.Hp*p.Wp*4))
		f.AddI32(rowV, int32(p.TpP*4))
	})
}

// winogradInThreads is the input transform of a band in a threaded module,
// in units of one channel, each unit first copying its channel's rows of
// the band (band words at bw) into its bordered plane at padBuf, as the
// single-threaded band copy (or, with one band, the image's copy) lays
// them out: nothing of the band runs on one thread alone.
func (k *Ctx) winogradInThreads(p *winogradPlan, inT uint32, padBuf, vBuf, bw int32) {
	plane := int32(p.Hp * p.Wp * 4)
	copyNs := float64(plane) * 2 * nsPerCopy
	k.Parallel(p.C, float64(p.Tp*p.P*8)*nsPerLaneOp/4+copyNs, func(s Span) {
		f := s.F
		rowIn, rowV, cc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		srcC, src, dst, rowC, c2 := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		s.Base(padBuf, plane)
		f.Set(rowIn)
		s.Base(vBuf, int32(p.TpP*4))
		f.Set(rowV)
		// this thread's copy of the row scratch
		scr := f.Local(asm.I32)
		_, size := k.ScratchAddr()
		s.Scratch(p.rowScratch(vBuf), size)
		f.Set(scr)
		s.Base(0, int32(p.H*p.W*4))
		f.I32Const(bw).I32Load(bwSrc).Op(wasm.OpcodeI32Add).Set(srcC)
		s.Counted(cc, func() {
			f.Get(rowIn).I32Const(0).I32Const(plane).MemoryFill()
			f.Get(rowIn).I32Const(int32(p.padL * 4)).Op(wasm.OpcodeI32Add).Set(dst)
			f.Get(srcC).Set(src)
			f.I32Const(bw).I32Load(bwRow).Set(rowC)
			winogradCopyRows(f, p, dst, src, rowC, c2)
			f.Get(rowIn).Get(rowV).Get(scr).Call(inT)
			f.AddI32(rowIn, plane)
			f.AddI32(rowV, int32(p.TpP*4))
			f.AddI32(srcC, int32(p.H*p.W*4))
		})
		// the tail after the last plane, which the transform's loads may reach
		if tail := int32(p.padBytes) - int32(p.C)*plane; tail > 0 {
			s.Hi()
			f.I32Const(int32(p.C)).Op(wasm.OpcodeI32Eq).If()
			f.I32Const(padBuf + int32(p.C)*plane).I32Const(0).I32Const(tail).MemoryFill()
			f.End()
		}
	})
}

// winogradPanelNs estimates one unit of winogradGEMMsThreads: one 4-row
// panel of U times one product's V, over a band.
func winogradPanelNs(p *winogradPlan) float64 { return float64(2*p.C*4*p.Tp) * nsPerFlop }

// winogradGEMMsThreads runs a band's P products in a threaded module, in
// units of one product xi and one 4-row panel of U, each unit emitting
// exactly the calls of the single-threaded form of the tune (portable: the
// panel expanded into the thread's own scratch copy, one call per row of
// tiles; otherwise one 4x8 tile per call).
func (k *Ctx) winogradGEMMsThreads(p *winogradPlan, u *ir.Value, vBuf, mBuf int32) {
	M, TpP := p.M, p.TpP
	panels := (M + 3) / 4
	portable := k.portable()
	var mk uint32
	if portable {
		mk = k.microKernelPitch(storeRows, &ir.Epilogue{}, biasNone, TpP*4)
	} else {
		mk = k.microKernel(storeRows, &ir.Epilogue{}, biasNone)
	}
	// Each thread's expanded panel is at the end of its copy of the
	// workspace, where the single-threaded form puts it.
	buf, bufSize := k.ScratchAddr()
	buf += int32(p.workspace() - p.C*64)
	k.Parallel(p.P*panels, winogradPanelNs(p), func(s Span) {
		f := s.F
		unit, xi, mp, tc, t0, rows, cols := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		uA, vB, mC, eb := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		if portable {
			s.Scratch(buf, bufSize)
			f.Set(eb)
		}
		s.For(unit, func() {
			f.Get(unit).I32Const(int32(panels)).Op(wasm.OpcodeI32DivU).Set(xi)
			f.Get(unit).I32Const(int32(panels)).Op(wasm.OpcodeI32RemU).Set(mp)
			tileLen(f, rows, mp, 4, M)
			// a = U + (xi*panels + mp) * C*16 ; b = V + xi*C*TpP*4 ; c = Mb + (xi*M + mp*4)*TpP*4
			k.winogradPanelAddrs(p, u, wsAddr{f: f}, vBuf, mBuf, xi, mp, uA, vB, mC)
			if portable {
				k.winogradPanelExpanded(p, mk, uA, eb, vB, mC, rows)
				return
			}
			k.winogradPanelTiles(p, mk, uA, vB, mC, tc, t0, rows, cols)
		})
	})
}

// winogradPanelExpanded runs one U panel's product in the portable shape:
// the panel at uA expanded into eb, then one call of mk for the row of
// tiles over every tile column.
func (k *Ctx) winogradPanelExpanded(p *winogradPlan, mk uint32, uA, eb, vB, mC, rows asm.Local) {
	f := k.F
	f.Get(uA).Get(eb).I32Const(int32(p.C)).I32Const(16).Call(k.expandPanel())
	f.Get(eb).Get(vB).Get(mC)
	f.I32Const(0).I32Const(int32(p.C)).I32Const(int32(p.TpP * 4)).Get(rows).I32Const(int32(p.Tp)).I32Const(0).I32Const(int32(p.TpP * 4)).I32Const(chunkWhole)
	f.Call(mk)
}

// winogradGEMMsSource runs a band's P products from stored weights
// (p.src), panel by panel: the panel's 9 taps x C are transformed into its
// P rows of U (winogradPanelU, the bits of a prepared U) in the workspace
// at uBuf, which its P products then read as they read a prepared U. A
// layer so keeps no transformed weights in memory and writes none per
// run; the transform is one pass over the stored panel per band, in
// cache. Threaded modules hand out whole panels, each thread transforming
// into its copy of the workspace, so the bits are the single-threaded
// form's.
func (k *Ctx) winogradGEMMsSource(p *winogradPlan, u *ir.Value, a wsAddr, vBuf, mBuf, uBuf int32, threaded bool) {
	if p.tilesAsA {
		k.winogradGEMMsTilesAsA(p, u, a, vBuf, mBuf, uBuf, threaded)
		return
	}
	panels := (p.M + 3) / 4
	portable := k.portable()
	var mk uint32
	if portable {
		mk = k.microKernelPitch(storeRows, &ir.Epilogue{}, biasNone, p.TpP*4)
	} else {
		mk = k.microKernel(storeRows, &ir.Epilogue{}, biasNone)
	}
	body := func(f *asm.Func, mp, ub, eb asm.Local) {
		xi, xic, uA, vB, mC := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		tc, t0, rows, cols := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		tileLen(f, rows, mp, 4, p.M)
		f.Get(mp).I32Const(int32(p.C * 36 * p.es)).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(u)).Op(wasm.OpcodeI32Add)
		f.Get(ub).Call(k.winogradPanelU(u.Type.DType, p.m, p.C, p.uPitch(), 16))
		f.SetI32(xi, 0)
		f.Counted(xic, p.P, func() {
			k.winogradPanelAddrs(p, u, wsAddr{f: f, tb: a.tb}, vBuf, mBuf, xi, mp, uA, vB, mC)
			f.Get(xi).I32Const(int32(p.uPitch())).Op(wasm.OpcodeI32Mul).Get(ub).Op(wasm.OpcodeI32Add).Set(uA)
			if portable {
				k.winogradPanelExpanded(p, mk, uA, eb, vB, mC, rows)
			} else {
				k.winogradPanelTiles(p, mk, uA, vB, mC, tc, t0, rows, cols)
			}
			f.AddI32(xi, 1)
		})
	}
	k.winogradEachPanel(panels, float64(p.P)*winogradPanelNs(p), a, uBuf, p.uBytes, threaded, body)
}

// winogradEachPanel runs body for each of panels panels of a src layer,
// mp the panel, ub its transformed rows in the workspace at uBuf and eb
// (when eOff > 0) eOff bytes on, the expanded panel: in order, or handed
// out to the threads, each in its copy of the workspace at the single-
// threaded form's offsets, so the bits are the same.
func (k *Ctx) winogradEachPanel(panels int, cost float64, a wsAddr, uBuf int32, eOff int, threaded bool, body func(f *asm.Func, mp, ub, eb asm.Local)) {
	locals := func(f *asm.Func) (mp, ub, eb asm.Local) {
		mp, ub = f.Local(asm.I32), f.Local(asm.I32)
		if eOff > 0 {
			eb = f.Local(asm.I32)
		}
		return mp, ub, eb
	}
	if !threaded {
		f := k.F
		mp, ub, eb := locals(f)
		a.push(uBuf)
		f.Set(ub)
		if eOff > 0 {
			a.push(uBuf + int32(eOff))
			f.Set(eb)
		}
		f.SetI32(mp, 0)
		f.Counted(f.Local(asm.I32), panels, func() {
			body(f, mp, ub, eb)
			f.AddI32(mp, 1)
		})
		return
	}
	buf, bufSize := k.ScratchAddr()
	buf += uBuf - k.WorkspaceAddr()
	k.Parallel(panels, cost, func(s Span) {
		f := s.F
		mp, ub, eb := locals(f)
		s.Scratch(buf, bufSize)
		if eOff > 0 {
			f.Tee(ub).I32Const(int32(eOff)).Op(wasm.OpcodeI32Add).Set(eb)
		} else {
			f.Set(ub)
		}
		s.For(mp, func() { body(f, mp, ub, eb) })
	})
}

// winogradGEMMsTilesAsA is winogradGEMMsSource for few tiles per band
// (p.tilesAsA): each product runs transposed, M_xi^T [Tp, M] = V_xi^T
// [Tp, C] x U_xi^T [C, M], in 4x8 tiles of four Winograd tiles by eight
// output channels. A is V, expanded once per layer (winogradExpandV: each
// group of four tiles of a product as a PackA panel of C steps, so the
// expansion serves every output panel), B a [C, 8] panel of U (two stored
// 4-channel panels transformed side by side), and the tile is stored
// transposed into M's rows (storeNCHW). With the weights as A each
// expanded panel served two tiles (7x7 and 14x14 maps, 16 tiles). Each
// sum runs over C in order, as the weights-as-A form's does, so the bits
// are the same; threaded modules hand out the products of V's expansion,
// then whole 8-channel panels.
func (k *Ctx) winogradGEMMsTilesAsA(p *winogradPlan, u *ir.Value, a wsAddr, vBuf, mBuf, uBuf int32, threaded bool) {
	panels := p.M / 8
	eVBuf := uBuf + int32(p.uBytes)
	cc := p.tilesAsAChunk()
	chunks := (p.C + cc - 1) / cc
	for c0 := 0; c0 < p.C; c0 += cc {
		n := min(cc, p.C-c0)
		k.winogradExpandV(p, a, vBuf+int32(c0*p.TpP*4), eVBuf, n)
		tiles := k.winogradTilesT(p, n, chunkModeOf(c0/cc, chunks))
		body := func(f *asm.Func, mp, ub, _ asm.Local) {
			k.winogradTilesAsAPanel(p, u, a, mBuf, uBuf, c0, n, tiles, mp, ub, func() { a.push(eVBuf) })
		}
		k.winogradEachPanel(panels, float64(2*p.P*n)/float64(p.C)*winogradPanelNs(p), a, uBuf, 0, false, body)
	}
}

// winogradTilesAsAPanel emits 8-channel panel mp's products over the K
// chunk of n channels from c0 (winogradGEMMsTilesAsA): its [n, 8] rows of
// U transformed at ub, then one call of tiles per product, A the
// chunk's expanded V (pushEV pushes its address), the raw tiles or M
// written per the chunk's mode.
func (k *Ctx) winogradTilesAsAPanel(p *winogradPlan, u *ir.Value, a wsAddr, mBuf, uBuf int32, c0, n int, tiles uint32, mp, ub asm.Local, pushEV func()) {
	f := k.F
	rBuf := uBuf + int32(p.uBytes+p.eVBytes)
	xi, xic, pa, pb, pc, pr := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	for half := 0; half < 2; half++ {
		f.Get(mp).I32Const(int32(2 * p.C * 36 * p.es)).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(u) + int32((half*p.C+c0)*36*p.es)).Op(wasm.OpcodeI32Add)
		f.Get(ub).I32Const(int32(half*16 + c0*32)).Op(wasm.OpcodeI32Add)
		f.Call(k.winogradPanelU(u.Type.DType, p.m, n, p.uPitch8(), 32))
	}
	// pa = expanded V ; pb = ub + c0 rows ; pc = Mb + mp*8*TpP*4, each moved per product
	pushEV()
	f.Set(pa)
	f.Get(ub).I32Const(int32(c0 * 32)).Op(wasm.OpcodeI32Add).Set(pb)
	f.Get(mp).I32Const(int32(8 * p.TpP * 4)).Op(wasm.OpcodeI32Mul)
	a.push(mBuf)
	f.Op(wasm.OpcodeI32Add).Set(pc)
	// pr = raw tiles of panel mp: P*Tp*32 bytes a panel
	f.Get(mp).I32Const(int32(p.P * p.Tp * 32)).Op(wasm.OpcodeI32Mul)
	a.push(rBuf)
	f.Op(wasm.OpcodeI32Add).Set(pr)
	f.SetI32(xi, 0)
	f.Counted(xic, p.P, func() {
		f.Get(pa).Get(pb).Get(pc).Get(pr).Call(tiles)
		f.AddI32(pr, int32(p.Tp*32))
		f.AddI32(pa, int32(n*p.Tp*16))
		f.AddI32(pb, int32(p.uPitch8()))
		f.AddI32(pc, int32(p.mPos*4))
	})
}

// winogradTilesAsAThreads is a tilesAsA layer's band (one band) in a
// threaded module after its band words: one job, whose units are groups of
// 8-channel panels, one group per thread. Each call copies and transforms
// the whole input into this thread's copy of the workspace (padBuf, V),
// runs the K chunks in order, each expanding the chunk's V there and then
// running its panels' products over the chunk, and last brings its
// panels' channels back (outT and store, as winogradOutThreads' units:
// M's rows of a channel are all its panel's). Nothing in between needs a
// join: handing out the input transform, then per chunk the expansion
// and the panels, then the output transform took 2 + 2 x chunks joins, 14
// at 14x14 (docs/design.md, thr11). Each panel runs its chunks in order
// with the single-threaded form's instructions and every thread computes
// the same V, so the bits are the same; the input transform and the
// expansion, done on every thread, are a few percent of a group's work.
func (k *Ctx) winogradTilesAsAThreads(p *winogradPlan, u *ir.Value, padBuf, vBuf, mBuf, uBuf int32, outT uint32, yBuf int32, bias *ir.Value, store uint32, bw int32) {
	panels := p.M / 8
	groups := min(panels, k.Threads())
	per := (panels + groups - 1) / groups
	groups = (panels + per - 1) / per
	cc := p.tilesAsAChunk()
	chunks := (p.C + cc - 1) / cc
	// the input transform and V's expansion, every thread all of them
	inNs := float64(p.Tp*p.P*8)*nsPerLaneOp/4 + float64(p.Hp*p.Wp*4)*2*nsPerCopy // winogradInThreads' unit
	expandNs := float64(p.P*p.Tp/4*p.C*80) * nsPerCopy
	outNs := float64(p.Tp*p.P*6)*nsPerLaneOp/4 + float64(2*p.m*p.R*p.Wo*4)*nsPerCopy // winogradOutThreads' unit
	_, size := k.ScratchAddr()
	k.Parallel(groups, float64(per*2*p.P)*winogradPanelNs(p)+float64(p.C)*inNs+expandNs+float64(8*per)*outNs, func(s Span) {
		f := s.F
		tb, ub, mp, mpEnd := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		// this thread's copy of the workspace: tb bytes from thread 0's
		s.Scratch(0, size)
		f.Set(tb)
		own := wsAddr{f: f, tb: &tb}
		own.push(uBuf)
		f.Set(ub)
		{
			// the bordered copy of the image, as the single-threaded form's
			src, dst, c1, c2, r0 := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
			own.push(padBuf)
			f.I32Const(0).I32Const(int32(p.padBytes)).MemoryFill()
			f.I32Const(bw).I32Load(bwSrc).I32Const(int32(p.padT * p.W * 4)).Op(wasm.OpcodeI32Add).Set(src)
			own.push(padBuf + int32((p.padT*p.Wp+p.padL)*4))
			f.Set(dst)
			f.Counted(c1, p.C, func() {
				f.Counted(c2, p.H, func() {
					copyRow(f, true, dst, src, p.W*4)
					f.AddI32(dst, int32(p.Wp*4))
					f.AddI32(src, int32(p.W*4))
				})
				f.AddI32(dst, int32((p.Hp-p.H)*p.Wp*4))
			})
			k.winogradInSerial(p, k.winogradIn(p), own, padBuf, vBuf, r0)
		}
		for c0 := 0; c0 < p.C; c0 += cc {
			n := min(cc, p.C-c0)
			k.winogradExpandV(p, own, vBuf+int32(c0*p.TpP*4), uBuf+int32(p.uBytes), n)
			tiles := k.winogradTilesT(p, n, chunkModeOf(c0/cc, chunks))
			// panels lo*per .. min(hi*per, panels)
			s.Lo()
			f.I32Const(int32(per)).Op(wasm.OpcodeI32Mul).Set(mp)
			s.Hi()
			f.I32Const(int32(per)).Op(wasm.OpcodeI32Mul).Tee(mpEnd).I32Const(int32(panels)).Get(mpEnd).I32Const(int32(panels)).Op(wasm.OpcodeI32LtS).Select().Set(mpEnd)
			f.Loop()
			k.winogradTilesAsAPanel(p, u, own, mBuf, uBuf, c0, n, tiles, mp, ub, func() { own.push(uBuf + int32(p.uBytes)) })
			f.Get(mp).I32Const(1).Op(wasm.OpcodeI32Add).Tee(mp).Get(mpEnd).Op(wasm.OpcodeI32LtS).BrIf(0)
			f.End()
		}
		// channels 8*lo*per .. 8*min(hi*per, panels), as winogradOutThreads
		// runs each
		mc, mrow, yrow, bp, od, nrows := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		s.Lo()
		f.I32Const(int32(8 * per)).Op(wasm.OpcodeI32Mul).Set(mc)
		f.Get(mc).I32Const(int32(p.TpP * 4)).Op(wasm.OpcodeI32Mul)
		own.push(mBuf)
		f.Op(wasm.OpcodeI32Add).Set(mrow)
		own.push(yBuf)
		f.Set(yrow)
		if bias != nil {
			f.Get(mc).I32Const(4).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(bias)).Op(wasm.OpcodeI32Add).Set(bp)
		}
		f.Get(mc).I32Const(int32(p.Ho * p.Wo * 4)).Op(wasm.OpcodeI32Mul).I32Const(bw).I32Load(bwOut).Op(wasm.OpcodeI32Add).Set(od)
		f.I32Const(bw).I32Load(bwRows).Set(nrows)
		// mc = channels: 8*(min(hi*per, panels)) - 8*lo*per
		f.Get(mpEnd).I32Const(8).Op(wasm.OpcodeI32Mul).Get(mc).Op(wasm.OpcodeI32Sub).Set(mc)
		f.Loop32(mc, func() { k.winogradOutChannel(p, outT, store, mrow, yrow, bp, od, nrows) })
	})
}

// tilesAsAChunk is the input channels per chunk of a tilesAsA layer's
// products: as many as keep the chunk's expanded V within tilesAsAEVBytes
// (256 KiB and 1 MiB did no better; the whole V expanded, 2-2.4 MB at
// resnet50's layers, made them 1.2x slower: docs/design.md, r50d).
func (p *winogradPlan) tilesAsAChunk() int {
	cc := max(16, tilesAsAEVBytes/(p.P*p.Tp*16)/16*16)
	chunks := (p.C + cc - 1) / cc
	return alignUp((p.C+chunks-1)/chunks, 4)
}

const tilesAsAEVBytes = 512 << 10

// winogradExpandV writes n channels of V of a tilesAsA layer (from vBuf)
// at eVBuf as pre-broadcast A panels: for each product and group of four
// tiles, n steps of four vectors (64 bytes), each tile's value in all four
// lanes (expand_panel over the group's four floats of each V row, TpP*4
// bytes apart). The dot then loads A as whole vectors, where broadcasting
// the lanes of V with shuffles took four of the twenty FP-port operations
// of a k step (docs/design.md, r50d).
func (k *Ctx) winogradExpandV(p *winogradPlan, a wsAddr, vBuf, eVBuf int32, n int) {
	f := k.F
	src, dst, row, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	a.push(vBuf)
	f.Set(row)
	a.push(eVBuf)
	f.Set(dst)
	f.Counted(c, p.P, func() {
		f.Get(row).Set(src)
		k.winogradExpandProduct(p, src, dst, n)
		f.AddI32(row, int32(p.vPos*4))
	})
}

// winogradExpandProduct expands one product's groups of four tiles, src
// at its V row, dst at its panels (both moved past them).
func (k *Ctx) winogradExpandProduct(p *winogradPlan, src, dst asm.Local, n int) {
	f := k.F
	for g := 0; g < p.Tp/4; g++ {
		f.Get(src).Get(dst).I32Const(int32(n)).I32Const(int32(p.TpP * 4)).Call(k.expandPanel())
		f.AddI32(src, 16)
		f.AddI32(dst, int32(n*64))
	}
}

// winogradTilesT returns the shared function (v, u, m, r) running one
// product's transposed tiles over n channels for an 8-channel panel
// (winogradGEMMsTilesAsA): v: the product's expanded V (Tp/4 panels of
// n*64 bytes), u: its [n, 8] rows of U, m: the panel's first row of M, r:
// its raw tiles (128 bytes a tile); Tp/4 tiles of four Winograd tiles
// each. mode is the K chunk's: chunkWhole stores into M, chunkFirst the
// raw tiles, chunkMid adds the raw tiles and stores them, chunkLast adds
// them and stores into M. A chunk so costs 8 loads, adds and stores per
// tile, where adding into M's transposed rows took the whole transpose.
func (k *Ctx) winogradTilesT(p *winogradPlan, n int, mode int) uint32 {
	i32 := asm.I32
	ldv := p.TpP * 4
	name := fmt.Sprintf("winograd_tiles_te_%d_%d_%d_c%d", n, p.Tp, ldv, mode)
	return k.Helper(name, []wasm.ValueType{i32, i32, i32, i32}, nil, func(h *asm.Func) {
		pv, pu, pm, pr := h.Param(0), h.Param(1), h.Param(2), h.Param(3)
		acc := make([]asm.Local, 8)
		for i := range acc {
			acc[i] = h.Local(asm.V128)
		}
		ldc, rows, cols, none := h.Local(i32), h.Local(i32), h.Local(i32), h.Local(i32)
		h.SetI32(ldc, int32(ldv))
		h.SetI32(rows, 4)
		h.SetI32(cols, 8)
		h.Counted(h.Local(i32), p.Tp/4, func() {
			h.Get(pv).Get(pu).I32Const(int32(n)).I32Const(32).Call(k.dotPortable(32))
			for i := 7; i >= 0; i-- {
				h.Set(acc[i])
			}
			if mode&chunkAddC != 0 {
				for i := 7; i >= 0; i-- {
					h.Get(acc[i]).Get(pr).V128Load(uint32(16 * i)).Vec(wasm.OpcodeVecF32x4Add).Set(acc[i])
				}
			}
			if mode&chunkRaw != 0 {
				for i := 7; i >= 0; i-- {
					h.Get(pr).Get(acc[i]).V128Store(uint32(16 * i))
				}
			} else {
				k.epilogueBody(h, acc, storeNCHW, &ir.Epilogue{}, biasNone, pm, none, ldc, rows, cols, none)
			}
			h.AddI32(pv, int32(n*64))
			h.AddI32(pm, 16)
			h.AddI32(pr, 128)
		})
	})
}

// winogradOutSerial runs the output transform of a band, one output
// channel per call of outT, each channel's rows then stored at od on by
// store (winogradStoreFunc of one channel; nrows rows): the tile-aligned
// plane at yBuf holds one channel, in L1, where it held the band's every
// channel (1 MiB at unet_1024's 64x64 layers of 128 channels).
func (k *Ctx) winogradOutSerial(p *winogradPlan, outT, store uint32, a wsAddr, mBuf, yBuf int32, bias *ir.Value, od, nrows asm.Local) {
	f := k.F
	mc, mrow, yrow, bp := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	a.push(mBuf)
	f.Set(mrow)
	a.push(yBuf)
	f.Set(yrow)
	if bias != nil {
		f.I32Const(k.Addr(bias)).Set(bp)
	}
	f.Counted(mc, p.M, func() { k.winogradOutChannel(p, outT, store, mrow, yrow, bp, od, nrows) })
}

// winogradOutThreads is the output transform of a band in a threaded
// module, in units of one output channel, each unit then storing its
// channel's rows into the output with store (winogradStoreFunc of one
// channel; the band's rows and their address in the band words at bw).
func (k *Ctx) winogradOutThreads(p *winogradPlan, outT uint32, mBuf, yBuf int32, bias *ir.Value, store uint32, bw int32) {
	// A channel's transform reads its P rows of M, TpP floats apart:
	// ~2 us a channel at 28x28 F(4x4) (resnet18/50's 128-channel layers ran
	// it 230-280 us on the main thread, estimated at 74 us, under the
	// break-even), so one lane operation a value, not a vector's worth.
	storeNs := float64(2*p.m*p.R*p.Wo*4) * nsPerCopy
	k.Parallel(p.M, float64(p.Tp*p.P*6)*nsPerLaneOp+storeNs, func(s Span) {
		f := s.F
		mc, mrow, yrow, bp := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		od, nrows := f.Local(asm.I32), f.Local(asm.I32)
		s.Base(mBuf, int32(p.TpP*4))
		f.Set(mrow)
		// this thread's copy of the one channel's plane
		_, size := k.ScratchAddr()
		s.Scratch(yBuf, size)
		f.Set(yrow)
		if bias != nil {
			s.Base(k.Addr(bias), 4)
			f.Set(bp)
		}
		s.Base(0, int32(p.Ho*p.Wo*4))
		f.I32Const(bw).I32Load(bwOut).Op(wasm.OpcodeI32Add).Set(od)
		f.I32Const(bw).I32Load(bwRows).Set(nrows)
		s.Counted(mc, func() { k.winogradOutChannel(p, outT, store, mrow, yrow, bp, od, nrows) })
	})
}

// winogradOutChannel brings one output channel of a band back (outT
// from its row of M at mrow into the one channel's tile-aligned plane at
// yrow, bias at bp) and stores its nrows rows at od (store:
// winogradStoreFunc of one channel), moving mrow, bp and od to the next
// channel.
func (k *Ctx) winogradOutChannel(p *winogradPlan, outT, store uint32, mrow, yrow, bp, od, nrows asm.Local) {
	f := k.F
	f.Get(mrow).Get(yrow).Get(bp).Call(outT)
	f.Get(yrow).Get(od).Get(nrows).Call(store)
	f.AddI32(od, int32(p.oPitch))
	f.AddI32(mrow, int32(p.TpP*4))
	f.AddI32(bp, 4)
}

// winogradPanelAddrs sets the operands of panel mp of product xi:
// uA = U + (xi*panels + mp)*C*16, vB = V + xi*vPos*4 and
// mC = Mb + (xi*mPos + mp*4*TpP)*4.
func (k *Ctx) winogradPanelAddrs(p *winogradPlan, u *ir.Value, a wsAddr, vBuf, mBuf int32, xi, mp, uA, vB, mC asm.Local) {
	f := k.F
	C, M, TpP := p.C, p.M, p.TpP
	panels := (M + 3) / 4
	f.Get(xi).I32Const(int32(panels)).Op(wasm.OpcodeI32Mul).Get(mp).Op(wasm.OpcodeI32Add).I32Const(int32(C * 16)).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(u)).Op(wasm.OpcodeI32Add).Set(uA)
	f.Get(xi).I32Const(int32(p.vPos * 4)).Op(wasm.OpcodeI32Mul)
	a.push(vBuf)
	f.Op(wasm.OpcodeI32Add).Set(vB)
	f.Get(xi).I32Const(int32(p.mPos * 4)).Op(wasm.OpcodeI32Mul).Get(mp).I32Const(int32(4 * TpP * 4)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
	a.push(mBuf)
	f.Op(wasm.OpcodeI32Add).Set(mC)
}

// winogradPanelTiles runs a panel's products one 4x8 tile per call of mk
// (v8 and wazero tunes).
func (k *Ctx) winogradPanelTiles(p *winogradPlan, mk uint32, uA, vB, mC, tc, t0, rows, cols asm.Local) {
	f := k.F
	C, Tp, TpP := p.C, p.Tp, p.TpP
	f.SetI32(t0, 0)
	f.Counted(tc, (Tp+7)/8, func() {
		f.I32Const(8).I32Const(int32(Tp)).Get(t0).Op(wasm.OpcodeI32Sub).Tee(cols).Get(cols).I32Const(8).Op(wasm.OpcodeI32GtS).Select().Set(cols)
		f.Get(uA)
		f.Get(vB).Get(t0).I32Const(4).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
		f.Get(mC).Get(t0).I32Const(4).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
		f.I32Const(0).I32Const(int32(C)).I32Const(int32(TpP * 4)).Get(rows).Get(cols).I32Const(0).I32Const(int32(TpP * 4))
		f.Call(mk)
		f.AddI32(t0, 8)
	})
}

// winogradFits: a 3x3, stride 1, dilation 1 convolution with 8 input
// channels and at least 12x12 outputs, or fewer where F(2x2,3x3)'s
// products over the tiles it computes (whole groups of four tiles, the
// borders' waste included) are at most winogradSmallShare of the direct
// form's multiplies (ConvWeightsFunc).
func winogradFits(n *ir.Node, op *ir.FusedConv) bool {
	x, w := n.Inputs[0].Type.Shape, n.Inputs[1].Type.Shape
	if len(w) != 4 || w[2] != 3 || w[3] != 3 || x[1] < 8 {
		return false
	}
	g, err := op.Geometry(x, w)
	if err != nil {
		return false
	}
	for d := 0; d < 2; d++ {
		if g.Strides[d] != 1 || g.Dilations[d] != 1 {
			return false
		}
	}
	if g.Out[0]*g.Out[1] >= 144 {
		return true
	}
	groups := ((g.Out[1]+1)/2 + 3) / 4
	products := 16 * 4 * groups * ((g.Out[0] + 1) / 2)
	return float64(products) <= winogradSmallShare*float64(9*g.Out[0]*g.Out[1])
}

// winogradSmallShare: a 7x7 map's F(2x2,3x3) computes 16 tiles of 4x4
// products, 0.58 of the direct 9 per output, and ran 512-channel layers in
// 0.70-0.75 of the direct form's time in V8 (docs/design.md, "Winograd
// from the stored weights"); 5x5 (0.85) and 10x10 (0.71) waste too much of
// their tiles.
const winogradSmallShare = 0.6

// twSuffix names the transforms of packed tile rows.
func (p *winogradPlan) twSuffix() string {
	if p.TW < p.TWp {
		return fmt.Sprintf("_tw%d", p.TW)
	}
	return ""
}

// positionPitch is the stride, in floats, from one Winograd position's
// rows of V (or M) to the next's, n floats a position: an odd number of
// cache lines, so that the 36 (16) values a tile group's transform stores
// to (loads from) one per position fall in different L1 sets. Positions
// n floats apart were a multiple of 4 KiB apart on most layers (C*TpP*4
// with C a multiple of 64 and TpP a multiple of 16 floats): all in one
// set of 12 ways, each line evicted before the next groups filled it
// (unet_1024's input transforms 2-4x slower; docs/design.md, epi).
func positionPitch(n int) int { return spreadPitch(n) }
