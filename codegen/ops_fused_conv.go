package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/tune"
)

// Fused convolutions, by weight layout (opt/prepack.go):
//
//   - PackA (v8 tune): convPackA, C[M, P] = W x col, weights broadcast.
//   - Winograd (v8 tune, 3x3 stride 1): ops_fused_conv_winograd.go.
//   - PackB (wazero tune): convPacked, C^T[P, M] = col^T[P, K] x W^T[K, M]
//     with col^T packed pre-broadcast straight from the (padded) NCHW input
//     four pixels at a time, each 4x8 tile transposed into the NCHW output.
//   - plain: depthwise (ops_fused_conv_depthwise.go), else the generic kernel followed
//     by an elementwise epilogue.
//
// Bias, residual and activations are applied in registers before the store.

// aBlockBytes bounds the packed A block so that it stays in L2 while the
// weight panels stream past it.
const aBlockBytes = 96 << 10

// pixelBlockBytes bounds a block of expanded pixel panels of a pixelsAsA
// layer run on one thread: past it the weight panels streaming
// through L2 evicted the expanded input they pass over (2048 -> 512
// channels on 7x7, 1.7 MB expanded, 31-33 -> 36-38 GFLOP/s in two blocks;
// 512 and 768 KiB blocks did no better there and slowed 1024 -> 2048, whose
// weights then stream more often; docs/design.md, r50c). A node split
// across threads keeps one block: its weight panels are split instead.
const pixelBlockBytes = 1 << 20

type packedConv struct {
	*convPlan
	K, K4, panels, blockPanels int
	Hp, Wp                     int
}

func planPackedConv(k *Ctx, n *ir.Node, op *ir.FusedConv) (*packedConv, bool) {
	if op.Layout != ir.WeightsPackB || len(op.WShape) != 4 || n.Inputs[0].Type.DType != ir.Float32 || !k.SIMD() {
		return nil, false
	}
	w := &ir.Value{Type: ir.Type{DType: ir.Float32, Shape: op.WShape}}
	cp, err := planConv(&ir.Node{Op: &op.Conv, Inputs: []*ir.Value{n.Inputs[0], w}, Outputs: n.Outputs}, &op.Conv)
	if err != nil || cp.group != 1 {
		return nil, false
	}
	p := &packedConv{convPlan: cp}
	p.K = cp.cg * cp.kSize
	p.K4 = ir.PackedK(p.K)
	p.panels = (cp.P + 3) / 4
	p.blockPanels, _ = matmulBlock(cp.P, p.K, int(k.aStride()))
	if k.portable() {
		// pixelsAsA layers: one block, so that the weights stream once.
		p.blockPanels = p.panels
		if k.Threads() <= 1 {
			// Single-threaded, an expanded input past pixelBlockBytes is
			// cut into blocks (each tile's sums unchanged): a block stays in
			// L2 while every weight panel passes over it. A threaded
			// module's alone form (Threads() is 1 there) does the same,
			// so that it is the 1-thread module's code (issue 11, thr9).
			if per := p.K4 * 4 * int(k.aStride()); p.panels*per > pixelBlockBytes {
				blocks := (p.panels*per + pixelBlockBytes - 1) / pixelBlockBytes
				p.blockPanels = (p.panels + blocks - 1) / blocks
			}
		}
	}
	p.Hp, p.Wp = cp.padded[0], cp.padded[1]
	return p, true
}

// workspace holds the padded input and a block of pixel panels: in the
// portable shape every panel, whatever the blocks of the form emitted
// (the planner does not know whether a node runs split).
func (p *packedConv) workspace(k *Ctx) int {
	panels := p.blockPanels
	if k.portable() {
		panels = p.panels
	}
	return p.padBytes + panels*p.K4*4*int(k.aStride())
}

func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.FusedConv) error {
		if n.Outputs[0].Type.Shape.Size() == 0 {
			return nil
		}
		if dotPixelsFits(k.SIMD(), n, op) {
			return k.convDotPixels(n, op)
		}
		if p, ok := planPackedConv(k, n, op); ok {
			return k.convPacked(n, op, p)
		}
		if p, ok := planTapConv(k, n, op); ok {
			return k.convTaps(n, op, p)
		}
		if op.Layout == ir.WeightsPackA && k.SIMD() {
			return k.convPackA(n, op)
		}
		if op.Layout.WinogradTile() > 0 && k.SIMD() {
			return k.convWinograd(n, op)
		}
		if g, ok := depthwiseFits(k, n, op); ok {
			return k.convDepthwise(n, op, g)
		}
		if op.Layout != ir.WeightsPlain {
			return ir.NotSupportedf("prepacked Conv weights without the SIMD GEMM")
		}
		if err := k.convGeneric(genericConvNode(n, op), &op.Conv); err != nil {
			return err
		}
		return k.applyEpilogue(n.Outputs[0], &op.Epilogue, n.In(3))
	})
}

func genericConvNode(n *ir.Node, op *ir.FusedConv) *ir.Node {
	in := []*ir.Value{n.Inputs[0], n.Inputs[1]}
	if b := n.In(2); b != nil {
		in = append(in, b)
	}
	return &ir.Node{Name: n.Name, Op: &op.Conv, Inputs: in, Outputs: n.Outputs[:1]}
}

func (k *Ctx) convPacked(n *ir.Node, op *ir.FusedConv, p *packedConv) error {
	f := k.F
	x, w, out := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	bias, resOff := n.In(2), k.residualOffset(n, &op.Epilogue)
	g := p.g
	P, M, C := p.P, p.M, p.C
	as := k.aStride()
	panelBytes := int32(p.K4 * 4 * int(as))
	padBuf := k.WorkspaceAddr()
	aBuf := padBuf + int32(p.padBytes)
	mk := k.microKernel(storeNCHW, &op.Epilogue, biasIf(bias != nil, biasCols))
	// tile emits the products of weight panel nb (its cols channels) and
	// the cnt packed pixel panels from pi, the first at a, into the output
	// at outBase (cAddr and rows: scratch locals).
	tile := func(nb, cols, pi, cnt, a, outBase, cAddr, rows asm.Local) {
		f.Loop32(cnt, func() {
			tileLen(f, rows, pi, 4, P)
			// C address: out + (nb*8*P + pi*4) * 4
			f.Get(outBase).Get(nb).I32Const(int32(8 * P * 4)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Get(pi).I32Const(16).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(cAddr)
			f.Get(a)
			f.I32Const(k.Addr(w)).Get(nb).I32Const(int32(p.K4 * 32)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
			f.Get(cAddr)
			if bias != nil {
				f.I32Const(k.Addr(bias)).Get(nb).I32Const(32).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
			} else {
				f.I32Const(0)
			}
			f.I32Const(k.packedSteps(p.K4)).I32Const(int32(P * 4)).Get(rows).Get(cols)
			f.I32Const(resOff)
			f.I32Const(32).Call(mk)
			f.AddI32(a, panelBytes)
			f.AddI32(pi, 1)
		})
	}
	// Threaded, one image in one block (pixelsAsA): pack the pixel panels
	// (a job of its own where it is long enough: 2048 channels of a 7x7 map
	// took ~0.2 ms on the main thread), then hand out the weight panels;
	// each output tile is the same micro-kernel call on the same operands
	// as below. Without padding (strided 1x1) the panels are packed from
	// the input in place instead of a padded copy of it.
	units, unitNs := (M+7)/8, float64(2*p.K*8*P)*nsPerFlop
	if p.N == 1 && p.blockPanels >= p.panels && k.splits(units, unitNs) {
		src := padBuf
		if !p.direct {
			if p.inPlace() {
				src = -1
			} else {
				xBase := f.Local(asm.I32)
				f.I32Const(k.Addr(x)).Set(xBase)
				k.padCopy(xBase, padBuf, C, g, p.padded, 4, nil)
			}
		}
		k.Parallel(p.panels, float64(p.K*4)*nsPerPackElem, func(s Span) {
			f := s.F
			xBase, start, cnt, dst := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
			f.I32Const(k.Addr(x)).Set(xBase)
			s.Lo()
			f.Set(start)
			s.Hi()
			s.Lo()
			f.Op(wasm.OpcodeI32Sub).Set(cnt)
			s.Base(aBuf, panelBytes)
			f.Set(dst)
			k.packConvPanels(p, xBase, src, dst, start, cnt)
		})
		k.Parallel(units, unitNs, func(s Span) {
			f := s.F
			nb, pi, pc, a, outBase := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
			cAddr, rows, cols := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
			f.I32Const(k.Addr(out)).Set(outBase)
			s.For(nb, func() {
				tileLen(f, cols, nb, 8, M)
				f.I32Const(aBuf).Set(a)
				f.SetI32(pi, 0)
				f.SetI32(pc, int32(p.panels))
				tile(nb, cols, pi, pc, a, outBase, cAddr, rows)
			})
		})
		return nil
	}

	img, nc := f.Local(asm.I32), f.Local(asm.I32)
	xBase, outBase := f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(k.Addr(x)).Set(xBase)
	f.I32Const(k.Addr(out)).Set(outBase)
	f.SetI32(img, 0)
	src := padBuf
	if p.inPlace() {
		src = -1 // the windows read from the input in place
	}
	f.Counted(nc, p.N, func() {
		if !p.direct && !p.inPlace() {
			k.padCopy(xBase, padBuf, C, g, p.padded, 4, nil)
		}
		// Blocks of blockPanels pixel panels: pack, then every weight panel
		// against every packed panel.
		panelBlocks(f, p.panels, p.blockPanels, func(start, cnt asm.Local) {
			k.packConvBlock(p, xBase, src, aBuf, start, cnt)
			nb, nbc, pi, pc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
			a, cAddr, rows, cols := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
			f.SetI32(nb, 0)
			f.Counted(nbc, (M+7)/8, func() {
				tileLen(f, cols, nb, 8, M)
				f.I32Const(aBuf).Set(a)
				f.Get(start).Set(pi)
				f.Get(cnt).Set(pc)
				tile(nb, cols, pi, pc, a, outBase, cAddr, rows)
				f.AddI32(nb, 1)
			})
		})
		f.AddI32(img, 1)
		f.AddI32(xBase, int32(C*ir.Shape(g.In).Size()*4))
		f.AddI32(outBase, int32(M*P*4))
	})
	return nil
}

// packConvBlock packs pixel panels start .. start+cnt-1 of one image into
// aBuf: panel row k = (c, ky, kx) holds the four pixels' input under that
// tap. Pixels past P repeat the last one (their results are not stored).
func (k *Ctx) packConvBlock(p *packedConv, xBase asm.Local, padBuf, aBuf int32, start, cnt asm.Local) {
	f := k.F
	dst := f.Local(asm.I32)
	f.I32Const(aBuf).Set(dst)
	k.packConvPanels(p, xBase, padBuf, dst, start, cnt)
}

// nsPerPackElem is a value packed into a pixel panel by packConvPanels:
// a load from one of K channel planes, ~2 ns (resnet50's 2048-channel
// 7x7 layers: ~0.2 ms for 13 panels).
const nsPerPackElem = 2

// packConvPanels is packConvBlock into dst (a local, moved past the
// panels); padBuf -1 reads the windows from the input at xBase in place
// (no padding: p.padded is the input's shape).
func (k *Ctx) packConvPanels(p *packedConv, xBase asm.Local, padBuf int32, dst, start, cnt asm.Local) {
	f := k.F
	g := p.g
	as := k.aStride()
	wz := as == 16 // pre-broadcast (wazero, portable)
	pi, pc := f.Local(asm.I32), f.Local(asm.I32)
	src := []asm.Local{f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)}
	pix := f.Local(asm.I32)
	f.Get(start).Set(pi)
	f.Get(cnt).Set(pc)
	Wo := int32(g.Out[1])
	f.Loop32(pc, func() {
		for r := 0; r < 4; r++ {
			// pix = min(pi*4 + r, P-1)
			f.Get(pi).I32Const(4).Op(wasm.OpcodeI32Mul).I32Const(int32(r)).Op(wasm.OpcodeI32Add).Set(pix)
			f.I32Const(int32(p.P - 1)).Get(pix).Get(pix).I32Const(int32(p.P - 1)).Op(wasm.OpcodeI32GtS).Select().Set(pix)
			if p.direct {
				f.Get(xBase).Get(pix).I32Const(4).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(src[r])
			} else {
				// padBuf + ((pix/Wo)*sy*Wp + (pix%Wo)*sx) * 4
				f.Get(pix).I32Const(Wo).Op(wasm.OpcodeI32DivU).I32Const(int32(g.Strides[0] * p.Wp * 4)).Op(wasm.OpcodeI32Mul)
				f.Get(pix).I32Const(Wo).Op(wasm.OpcodeI32RemU).I32Const(int32(g.Strides[1] * 4)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
				if padBuf < 0 {
					f.Get(xBase)
				} else {
					f.I32Const(padBuf)
				}
				f.Op(wasm.OpcodeI32Add).Set(src[r])
			}
		}
		if p.direct {
			k.packARows(src, int32(p.P*4), p.K, dst)
		} else {
			k.packTaps(p, src, dst, wz, as)
		}
		f.AddI32(pi, 1)
	})
}

// packTaps packs a k x k window panel: for each channel (a loop), every tap
// (unrolled) of the four pixels whose padded-input addresses are in src.
func (k *Ctx) packTaps(p *packedConv, src []asm.Local, dst asm.Local, wz bool, as int32) {
	f := k.F
	g := p.g
	kh, kw := g.Kernel[0], g.Kernel[1]
	c := f.Local(asm.I32)
	f.Counted(c, p.C, func() {
		t := 0
		for ky := 0; ky < kh; ky++ {
			for kx := 0; kx < kw; kx++ {
				off := uint32((ky*g.Dilations[0]*p.Wp + kx*g.Dilations[1]) * 4)
				for r := 0; r < 4; r++ {
					d := uint32((int32(t*4+r) * as))
					if wz {
						f.Get(dst).Get(src[r]).V128Load32Splat(off).V128Store(d)
					} else {
						f.Get(dst).Get(src[r]).F32Load(off).F32Store(d)
					}
				}
				t++
			}
		}
		f.AddI32(dst, int32(kh*kw*4)*as)
		for r := 0; r < 4; r++ {
			f.AddI32(src[r], int32(p.Hp*p.Wp*4))
		}
	})
	k.zeroAPad(p.K, dst)
}

// applyEpilogue runs a fused epilogue over out in place: out += res, then
// the activations (the generic kernels' path).
func (k *Ctx) applyEpilogue(out *ir.Value, ep *ir.Epilogue, res *ir.Value) error {
	if !ep.Residual && len(ep.Acts) == 0 {
		return nil
	}
	dt := out.Type.DType
	ct, err := computeType(dt)
	if err != nil {
		return err
	}
	if ct != asm.F32 && ct != asm.F64 {
		return ir.NotSupportedf("fused epilogue on %s", dt)
	}
	f := k.F
	inputs := []*ir.Value{out}
	fn := ewFn{in: []ir.DType{dt}, out: dt, vec: ct == asm.F32}
	if ep.Residual {
		inputs = append(inputs, res)
		fn.in = append(fn.in, res.Type.DType)
	}
	fn.emit = func(args []asm.Local, vec bool) error {
		x := fxFor(f, ct, vec)
		v := x.local()
		x.get(args[0])
		if ep.Residual {
			x.get(args[1]).add()
		}
		x.set(v)
		for _, a := range ep.Acts {
			if a.Unary != nil {
				if err := k.floatUnary(x, a.Unary, v); err != nil {
					return err
				}
			} else {
				x.get(v).c(float64(a.Lo)).atLeast().c(float64(a.Hi)).atMost()
			}
			x.set(v)
		}
		x.get(v)
		return nil
	}
	return k.elementwise(&ir.Node{Op: &ir.Binary{Fn: ir.FnAdd}, Inputs: inputs, Outputs: []*ir.Value{out}}, fn)
}

func biasIf(ok bool, m biasMode) biasMode {
	if ok {
		return m
	}
	return biasNone
}

// packedSteps is dotBody's trip count over a packed B panel of K4 rows.
func (k *Ctx) packedSteps(K4 int) int32 {
	if k.tuneWazero() && !k.portable() {
		return int32(K4 / 4)
	}
	return int32(K4)
}

// convPackA is the v8 tune's convolution: C[M, P] = W x col with W packed
// in 4-row panels (broadcast one weight at a time, which V8 does for free)
// and col the im2col matrix [K, P] (the input itself for 1x1 stride-1
// convolutions), read along pixels; tiles of 4 channels by 8 pixels land
// in the NCHW output directly.
func (k *Ctx) convPackA(n *ir.Node, op *ir.FusedConv) error {
	gn := genericConvNode(n, op)
	gn.Inputs[1] = &ir.Value{Type: ir.Type{DType: ir.Float32, Shape: op.WShape}}
	p, err := planConv(gn, &op.Conv)
	if err != nil {
		return err
	}
	if p.group != 1 {
		return ir.NotSupportedf("prepacked weights of a grouped Conv")
	}
	f := k.F
	x, w, out := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	bias, resOff := n.In(2), k.residualOffset(n, &op.Epilogue)
	K, P, M := p.cg*p.kSize, p.P, p.M
	padBuf := k.WorkspaceAddr()
	colBuf := padBuf + int32(p.padBytes)
	// blocking chooses the pixel block and K chunk of a product over bp
	// pixels. Pixel blocks keep a K x block slice of col in L2 while every
	// weight panel passes over it; when the weights outweigh col (deep
	// layers with few pixels) one block covers every pixel so the weights
	// stream once (resnet18's 7x7x512 layers: 8 -> 3 ms). K chunks keep the
	// col slice of a block within L2 when one block is long (resnet18's
	// 3x3x512 layers: K 4608 x 56 pixels = 1 MiB).
	blocking := func(bp int) (block, chunks, kc int) {
		block = max(8, min(alignUp(bp, 8), (128<<10)/(K*4)/8*8))
		if M > bp {
			block = alignUp(bp, 8)
		}
		kc = K
		if K*block*4 > 256<<10 {
			kc = max(64, (256<<10)/(block*4)/4*4)
		}
		if k.portable() {
			block, kc = portableBlocks(K, bp, M, p.direct)
		}
		return block, (K + kc - 1) / kc, kc
	}
	block, chunks, kc := blocking(P)
	eBuf := colBuf + int32(p.colBytes)
	bandRows := srcBandRows(n, op, p)
	if bandRows > 0 {
		// the band's col and the expanded panel: per-thread scratch
		colBuf, _ = k.ScratchAddr()
		bandCol, _ := srcBandScratch(p, bandRows)
		eBuf = colBuf + int32(bandCol)
	}
	xImg := int32(p.C * ir.Shape(p.g.In).Size() * 4)
	// tileOf returns the tile emitter of a product whose col has bp pixels
	// (its rows ld*4 bytes apart) in blocks of block, in K chunks of kc.
	tileOf := func(bp, ld, block, chunks, kc int) packATile {
		chunkMode := func(ch int) int { return chunkModeOf(ch, chunks) }
		// The micro-kernel call of K chunk ch for weight panel mp and the
		// pixel block at pb (rows, cols: scratch locals). In the portable
		// shape the panel's chunk is first expanded (pre-broadcast) for
		// this block into the buffer ebuf pushes.
		return func(ch int, mp, pb, rows, cols, col, outBase asm.Local, ebuf func()) {
			k0 := ch * kc
			kn := min(kc, K-k0)
			mode := chunkMode(ch)
			// The portable dot addresses a trip's four col rows from one
			// base, their pitch ld*4 bytes known here (dotPortable).
			pitch := 0
			if k.portable() {
				pitch = ld * 4
			}
			mk := k.microKernelRowPitch(storeRows, &op.Epilogue, biasIf(bias != nil, biasRows), 0, mode, true, pitch)
			tileLen(f, rows, mp, 4, M)
			// the block's columns: min(block, bp - pb)
			f.I32Const(int32(block)).I32Const(int32(bp)).Get(pb).Op(wasm.OpcodeI32Sub).Tee(cols).Get(cols).I32Const(int32(block)).Op(wasm.OpcodeI32GtS).Select().Set(cols)
			// a: W panel mp; b: col + pb*4; c: out + (mp*4*P + pb)*4
			f.I32Const(k.Addr(w) + int32(k0*16)).Get(mp).I32Const(int32(K * 16)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
			if k.portable() {
				ebuf()
				f.I32Const(int32(kn)).I32Const(16).Call(k.expandPanel())
				ebuf()
			}
			f.Get(col).Get(pb).I32Const(4).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).I32Const(int32(k0 * ld * 4)).Op(wasm.OpcodeI32Add)
			f.Get(outBase).Get(mp).I32Const(int32(16 * P)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Get(pb).I32Const(4).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
			if bias != nil {
				f.I32Const(k.Addr(bias)).Get(mp).I32Const(16).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
			} else {
				f.I32Const(0)
			}
			f.I32Const(int32(kn)).I32Const(int32(P * 4)).Get(rows).Get(cols)
			f.I32Const(resOff)
			f.I32Const(int32(ld * 4)).I32Const(int32(mode)).Call(mk)
		}
	}
	tile := tileOf(P, P, block, chunks, kc)
	if r := k.im2colThreadBandRows(p, bandRows); p.N == 1 && r > 0 {
		if n, ns := k.bandUnits(p, r, K, M); k.splits(n, ns) {
			bandCol, _ := srcBandScratch(p, bandRows)
			k.convPackABandsThreads(p, x, out, bandCol, r, n, ns, chunks, kc, tileOf, blocking)
			return nil
		}
	}
	// a source-band node has no whole-image col to split
	if p.N == 1 && bandRows == 0 {
		if u := k.packAUnits(K, M, P, block); k.splits(u.n, u.ns) {
			k.convPackAThreads(p, x, out, padBuf, colBuf, u, K, M, P, block, chunks, tile)
			return nil
		}
	}
	img, nc, col := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	xBase, outBase := f.Local(asm.I32), f.Local(asm.I32)
	// gemm emits the products over bp pixels of col, C at outBase.
	gemm := func(bp int, tile packATile, block, chunks int, outBase asm.Local) {
		k.packAProducts(k.newPackALoops(), bp, block, chunks, M, tile, col, outBase, func() { f.I32Const(eBuf) })
	}
	f.I32Const(k.Addr(x)).Set(xBase)
	f.I32Const(k.Addr(out)).Set(outBase)
	f.SetI32(img, 0)
	f.Counted(nc, p.N, func() {
		switch {
		case p.direct:
			f.Get(xBase).Set(col)
		case bandRows > 0:
			// im2col and products a band of output rows at a time, so that
			// the band's col stays in L2 (a whole image's col of a 7x7
			// stem is 7.4 MB), unfolded from the unpadded input.
			f.I32Const(colBuf).Set(col)
			y0, bandOut := f.Local(asm.I32), f.Local(asm.I32)
			Ho, Wo := p.g.Out[0], p.g.Out[1]
			band := func(r int) {
				bp := r * Wo
				k.im2colSrcBand(xBase, y0, func() { f.I32Const(colBuf) }, p, r)
				f.Get(outBase).Get(y0).I32Const(int32(Wo * 4)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(bandOut)
				// the whole image's K chunks: the same sums as convPackAThreads
				bb, _, _ := blocking(bp)
				gemm(bp, tileOf(bp, bandPitch(bp), bb, chunks, kc), bb, chunks, bandOut)
				f.AddI32(y0, int32(r))
			}
			f.SetI32(y0, 0)
			bc := f.Local(asm.I32)
			f.Counted(bc, Ho/bandRows, func() { band(bandRows) })
			if tail := Ho % bandRows; tail > 0 {
				band(tail)
			}
			f.AddI32(img, 1)
			f.AddI32(xBase, xImg)
			f.AddI32(outBase, int32(M*P*4))
			return
		default:
			src := k.im2colSource(p, xBase, padBuf, 4)
			gi := f.Local(asm.I32)
			f.SetI32(gi, 0)
			k.im2colFrom(src, gi, colBuf, p, 4)
			f.I32Const(colBuf).Set(col)
		}
		gemm(P, tile, block, chunks, outBase)
		f.AddI32(img, 1)
		f.AddI32(xBase, xImg)
		f.AddI32(outBase, int32(M*P*4))
	})
	return nil
}

// im2colThreadBandRows is the output rows per band of a threaded
// module's convPackA in bands (convPackABandsThreads), given the
// single-threaded band's r (srcBandRows): at most r, at most 1/(8 x
// threads) of the rows so that the bands balance the threads, at least 128
// pixels (srcBandScratchRows: each thread's scratch holds such a band); 0
// when the image needs no bands or has too few rows for every thread.
// Bands of a few rows of a narrow map (under 128 pixels: a 256-channel
// 14x14 layer in 512 KiB bands) were slower than one col in L2, as each
// expanded weight panel then serves only a few tiles.
func (k *Ctx) im2colThreadBandRows(p *convPlan, r int) int {
	if k.Threads() <= 1 || r == 0 {
		return 0
	}
	Ho, Wo := p.g.Out[0], p.g.Out[1]
	r = max(min(r, Ho/(8*k.Threads())), (128+Wo-1)/Wo, 1)
	if k.Threads()*r > Ho {
		return 0
	}
	return r
}

// bandColBytes is a thread's copy of a band of r output rows' col.
func bandColBytes(p *convPlan, r int) int {
	return alignUp(p.cg*p.kSize*bandPitch(p.g.Out[1]*r)*4, 64)
}

// bandPitch is the floats from one row of a band's col (bp pixels) to the
// next: an odd number of cache lines (spreadPitch), so that the k rows a
// tile reads do not share a few cache sets (bands of 512 or 1024 pixels,
// rows 2 or 4 KiB apart, ran up to 1.9x slower).
func bandPitch(bp int) int { return spreadPitch(bp) }

// bandUnits is the bands of r rows of convPackABandsThreads and a band's
// estimated time.
func (k *Ctx) bandUnits(p *convPlan, r, K, M int) (int, float64) {
	Ho, Wo := p.g.Out[0], p.g.Out[1]
	return (Ho + r - 1) / r, float64(2*K*M*r*Wo) * nsPerFlop
}

// packATile emits convPackA's micro-kernel call of K chunk ch for weight
// panel mp and the pixel block at pb (rows, cols: scratch locals), the
// panel's chunk expanded at the address ebuf pushes.
type packATile func(ch int, mp, pb, rows, cols, col, outBase asm.Local, ebuf func())

// packALoops are the counters and scratch locals of packAProducts.
type packALoops struct{ pb, pbc, mp, mpc, rows, cols asm.Local }

func (k *Ctx) newPackALoops() packALoops {
	f := k.F
	return packALoops{f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)}
}

// packAProducts emits convPackA's products over bp pixels of col, C at
// outBase: pixel blocks of block, each K chunk, every 4-row weight panel.
func (k *Ctx) packAProducts(l packALoops, bp, block, chunks, M int, tile packATile, col, outBase asm.Local, ebuf func()) {
	f := k.F
	f.SetI32(l.pb, 0)
	f.Counted(l.pbc, (bp+block-1)/block, func() {
		for ch := 0; ch < chunks; ch++ {
			f.SetI32(l.mp, 0)
			f.Counted(l.mpc, (M+3)/4, func() {
				tile(ch, l.mp, l.pb, l.rows, l.cols, col, outBase, ebuf)
				f.AddI32(l.mp, 1)
			})
		}
		f.AddI32(l.pb, int32(block))
	})
}

// convPackABandsThreads is the band form of convPackA (srcBandRows) in a
// threaded module: bands of r output rows are handed out, each thread
// unfolding its band from the input into its own scratch copy of col and
// running the band's products with the whole image's K chunks, as the
// single-threaded band code does (the same bits).
func (k *Ctx) convPackABandsThreads(p *convPlan, x, out *ir.Value, bandCol, r, units int, unitNs float64, chunks, kc int,
	tileOf func(bp, ld, block, chunks, kc int) packATile,
	blocking func(bp int) (block, chunks, kc int)) {
	Ho, Wo, M := p.g.Out[0], p.g.Out[1], p.M
	full, tail := Ho/r, Ho%r
	buf, bufSize := k.ScratchAddr()
	k.Parallel(units, unitNs, func(s Span) {
		f := s.F
		u, y0, col, eb, xBase, bandOut := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		loops := k.newPackALoops()
		s.Scratch(buf, bufSize)
		f.Tee(col).I32Const(int32(bandCol)).Op(wasm.OpcodeI32Add).Set(eb)
		f.I32Const(k.Addr(x)).Set(xBase)
		band := func(rn int) {
			bp := rn * Wo
			k.im2colSrcBand(xBase, y0, func() { f.Get(col) }, p, rn)
			f.I32Const(k.Addr(out)).Get(y0).I32Const(int32(Wo * 4)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(bandOut)
			bb, _, _ := blocking(bp)
			k.packAProducts(loops, bp, bb, chunks, M, tileOf(bp, bandPitch(bp), bb, chunks, kc), col, bandOut, func() { f.Get(eb) })
		}
		s.For(u, func() {
			f.Get(u).I32Const(int32(r)).Op(wasm.OpcodeI32Mul).Set(y0)
			if tail == 0 {
				band(r)
				return
			}
			f.Get(u).I32Const(int32(full)).Op(wasm.OpcodeI32Eq).If()
			band(tail)
			f.Else()
			band(r)
			f.End()
		})
	})
}

// im2colBandBytes bounds a band's col, im2colBandOver the col of one
// image that needs bands (see im2colBandRows).
const (
	im2colBandBytes = 512 << 10
	im2colBandOver  = 2 << 20
)

// convPackAThreads is convPackA of one image in a threaded module: the
// input is padded and unfolded (im2col) here, then the products are handed
// out in units of one pixel block and a group of weight panels, each unit
// running every K chunk of its tiles in order, as the single-threaded loop
// does, so that every output element sees the same operations.
func (k *Ctx) convPackAThreads(p *convPlan, x, out *ir.Value, padBuf, colBuf int32, units gemmUnits, K, M, P, block, chunks int,
	tile packATile) {
	f := k.F
	colAddr := k.Addr(x)
	if !p.direct {
		colAddr = colBuf
		if p.cg == p.C {
			k.padIm2colThreads(p, x, padBuf, colBuf)
		} else {
			xBase := f.Local(asm.I32)
			f.I32Const(k.Addr(x)).Set(xBase)
			src := k.im2colSource(p, xBase, padBuf, 4)
			gi := f.Local(asm.I32)
			f.SetI32(gi, 0)
			k.im2colFrom(src, gi, colBuf, p, 4)
		}
	}
	panels, groups, per := (M+3)/4, units.groups, units.per
	// The portable shape's expanded panel is per-thread scratch: each
	// thread expands the panels of its own units.
	buf, bufSize := k.ScratchAddr()
	k.Parallel(units.n, units.ns, func(s Span) {
		f := s.F
		u, pb, mp, mp0, mpEnd, rows, cols := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		col, outBase, eb := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		f.I32Const(colAddr).Set(col)
		f.I32Const(k.Addr(out)).Set(outBase)
		if k.portable() {
			s.Scratch(buf, bufSize)
			f.Set(eb)
		}
		s.For(u, func() {
			// pb = (u / groups) * block; panels mp0 .. min(mp0+per, panels)
			f.Get(u).I32Const(int32(groups)).Op(wasm.OpcodeI32DivU).I32Const(int32(block)).Op(wasm.OpcodeI32Mul).Set(pb)
			f.Get(u).I32Const(int32(groups)).Op(wasm.OpcodeI32RemU).I32Const(int32(per)).Op(wasm.OpcodeI32Mul).Tee(mp0)
			f.I32Const(int32(per)).Op(wasm.OpcodeI32Add).Tee(mpEnd).I32Const(int32(panels)).Get(mpEnd).I32Const(int32(panels)).Op(wasm.OpcodeI32LtS).Select().Set(mpEnd)
			for ch := 0; ch < chunks; ch++ {
				f.Get(mp0).Set(mp)
				f.Loop()
				tile(ch, mp, pb, rows, cols, col, outBase, func() { f.Get(eb) })
				f.Get(mp).I32Const(1).Op(wasm.OpcodeI32Add).Tee(mp).Get(mpEnd).Op(wasm.OpcodeI32LtS).BrIf(0)
				f.End()
			}
		})
	})
}

// padIm2colThreads is padCopy and im2col of one image of one group in a
// threaded module, in units of one input channel: each unit clears and
// fills its channel's padded plane, then writes the channel's col rows
// from it (the same bytes as the single-threaded copies; resnet50's
// stride-2 1x1 layers copied 3.2 MB and cleared as much on one thread
// before their products were split).
//
// Without padding (a strided 1x1 layer: resnets' downsamples) the padded
// plane would be the input channel itself, so col is gathered from the
// input in place: the padded copy and its clearing were most of the job
// (resnet50's layer2.0 downsample wrote 6.4 MB to gather 0.8 MB), and the
// gather alone is often short enough to run without a fork-join.
func (k *Ctx) padIm2colThreads(p *convPlan, x *ir.Value, padBuf, colBuf int32) {
	plane := int32(ir.Shape(p.padded).Size() * 4)
	in := int32(ir.Shape(p.g.In).Size() * 4)
	colRows := int32(p.kSize * ir.Shape(p.g.Out).Size() * 4)
	if p.inPlace() {
		// reads about one input row in stride, writes col; a row gathered
		// costs ~15 ns besides its bytes (resnet50's 1024-channel 14x14
		// downsample: 159 us for 7168 rows of 7)
		rows := p.kSize * ir.Shape(p.g.Out[:len(p.g.Out)-1]).Size()
		k.Parallel(p.C, float64(in/int32(p.g.Strides[0])+colRows)*nsPerCopy+float64(rows)*nsPerGatherRow, func(s Span) {
			f := s.F
			src, dst, cc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
			s.Base(k.Addr(x), in)
			f.Set(src)
			s.Base(colBuf, colRows)
			f.Set(dst)
			s.Counted(cc, func() {
				k.im2colChannel(src, dst, p, 4)
				f.AddI32(src, in)
			})
		})
		return
	}
	k.Parallel(p.C, float64(2*plane+in+colRows)*nsPerCopy, func(s Span) {
		f := s.F
		src, chanPtr, dstPtr, dst, cc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		s.Base(k.Addr(x), in)
		f.Set(src)
		s.Base(padBuf, plane)
		f.Set(chanPtr)
		s.Base(colBuf, colRows)
		f.Set(dst)
		s.Counted(cc, func() {
			f.Get(chanPtr).I32Const(0).I32Const(plane).MemoryFill()
			f.Get(chanPtr).I32Const(int32(padOffset(p.g, p.padded) * 4)).Op(wasm.OpcodeI32Add).Set(dstPtr)
			k.padCopyChannel(dstPtr, src, p.g, p.padded, 4)
			k.im2colChannel(chanPtr, dst, p, 4)
			f.AddI32(chanPtr, plane)
		})
	})
}

// nsPerGatherRow is a gathered row's cost besides its bytes.
const nsPerGatherRow = 15

// unpadded reports whether p's padded image is its input: no padding, and
// no window reaching past the input's end.
func unpadded(p *convPlan) bool {
	for d := range p.g.In {
		if p.padded[d] != p.g.In[d] || p.g.PadBegin[d] != 0 {
			return false
		}
	}
	return true
}

// packAUnits cuts convPackAThreads's products into units of one pixel
// block and a group of weight panels (deep layers have one block), at
// least packAUnitsPerThread a thread.
func (k *Ctx) packAUnits(K, M, P, block int) gemmUnits {
	return k.splitGEMM((P+block-1)/block, (M+3)/4, 2*K*min(block, P)*4, packAUnitsPerThread)
}

// packAUnitsPerThread: a unit's weight panels cost the same whichever
// unit holds them (each panel's K chunk is expanded per tile call), so
// short units cost only their claims. With 4 a thread, one-block layers
// (resnet50's 14x14 and 7x7 1x1 layers) were 8 units of ~0.3 ms on two
// threads, and a thread running its share slower than the other, or
// starting late, left the other waiting at the join for most of a unit:
// resnet50 with every node split waited 2.8-3.2 ms a run at its joins, 1.4-1.6
// ms with 16 (docs/design.md, thr12).
const packAUnitsPerThread = 16

// portableBlocks chooses the portable shape's pixel block and K chunk: as
// many pixels as keep the block's slice of col within colSliceBytes, at
// least 128 (16 tiles) so that expanding a weight panel (once per block and
// chunk) costs little against the tiles that read it, cut into equal
// blocks; all pixels when the weights outweigh them (deep layers: the
// weights then stream once); and chunks that keep the block's slice of col
// in L2 and the expanded panel at most 64 KiB. Long blocks matter for few
// input channels: at K=64 a 128-pixel block wrote each output row (and
// read the residual) in 512-byte pieces; in 512-pixel ones resnet50's
// 64->256 1x1 layers with a residual run 9% faster (docs/design.md).
func portableBlocks(K, P, M int, direct bool) (block, kc int) {
	block = min(alignUp(P, 8), max(128, colSliceBytes/(K*4)/8*8))
	blocks := (P + block - 1) / block
	block = alignUp((P+blocks-1)/blocks, 8)
	if M > P {
		block = alignUp(P, 8)
	}
	kc = K
	if K*block*4 > colSliceBytes {
		kc = max(64, colSliceBytes/(block*4)/4*4)
	}
	if direct && P*4 >= farRowsBytes {
		kc = min(kc, farRowsK)
	}
	return block, min(kc, portableMaxK)
}

// farRowsBytes and farRowsK: when B is the input itself (direct: a 1x1
// stride-1 convolution) and its rows (channel planes of P pixels) are at
// least farRowsBytes apart, a tile's k loop reads each step from another
// part of memory, and K chunks of farRowsK steps run faster than long
// ones (one-node 1x1 layers in V8, kernel alone: 256 -> 64 channels on
// 56x56 31.5 -> 38.5 GFLOP/s, 144 -> 24 on 56x56 30.7 -> 37.3, 256 -> 64
// on 80x80 28.8 -> 35.7; rows 5-8 KB apart (36x36 to 44x44) gained
// nothing; 64- and 16-step chunks less than 32; docs/design.md, r50c).
const (
	farRowsBytes = 8 << 10
	farRowsK     = 32
)

// colSliceBytes bounds the slice of col (K chunk by pixel block) that the
// portable shape's weight panels pass over: within L2 on every machine we
// target (512 KiB to 2 MiB).
const colSliceBytes = 256 << 10

// portableMaxK bounds the k steps of one expanded A panel (64 bytes each).
const portableMaxK = 256

// genericFusedConvWorkspace sizes the scratch of every fused Conv form but
// the depthwise one: the whole of it, and the part of it that is the
// portable shape's expanded weight panel (expand), which threaded modules
// give each thread a copy of (per-thread scratch): the single-threaded
// layout is unchanged, its workspace being ws-expand plus one copy.
func genericFusedConvWorkspace(n *ir.Node, op *ir.FusedConv) (ws, expand int) {
	if dotPixelsFits(true, n, op) {
		return 0, 0
	}
	if op.Layout.WinogradTile() > 0 {
		// All of it per thread: the band-parallel form runs whole bands
		// on each thread (winogradBands); the other forms use thread 0's
		// copy, and each thread its copy's expanded U panel.
		if p, err := planWinograd(n, op); err == nil {
			return p.workspace(), p.workspace()
		}
		return 0, 0
	}
	// The workspace is planned before codegen knows the tune: size it for
	// the larger of the A forms (the portable one only where it can be
	// PackB: pixelsAsA).
	tunes := []string{tune.V8, tune.Wazero}
	if pixelsAsA(n, op) {
		tunes = append(tunes, tune.Portable)
	}
	for _, t := range tunes {
		k := &Ctx{md: &module{opts: Options{SIMD: true, Tune: t}}}
		if p, ok := planPackedConv(k, n, op); ok {
			ws = max(ws, p.workspace(k))
		}
	}
	if ws > 0 {
		return ws, 0
	}
	gn := genericConvNode(n, op)
	if op.Layout != ir.WeightsPlain {
		gn.Inputs[1] = &ir.Value{Type: ir.Type{DType: ir.Float32, Shape: op.WShape}}
	}
	cp, err := planConv(gn, &op.Conv)
	if err != nil {
		return 0, 0
	}
	if op.Layout == ir.WeightsPackA {
		if r := srcBandRows(n, op, cp); r > 0 {
			// a band's col and the expanded panel, all per thread
			_, ws = srcBandScratch(cp, r)
			return ws, ws
		}
	}
	ws = cp.padBytes + cp.colBytes
	if op.Layout == ir.WeightsPackA {
		expand = min(cp.cg*cp.kSize, portableMaxK) * 64 // the portable shape's expanded panel
		ws += expand
		pk := &Ctx{md: &module{opts: Options{SIMD: true, Tune: tune.Portable}}}
		if tp, ok := planTapConv(pk, n, op); ok {
			// The tap form replaces the packed one in the portable shape:
			// its expanded tap is the per-thread part, the rest (input
			// copy, zero row) fits before it.
			ws = max(ws, tp.workspace())
			expand = tp.eBytes()
		}
	}
	return ws, expand
}

// ConvWeightsFunc is the optimizer's schedule hook (opt.Options.ConvWeights)
// for modules of this tune: the layout the fused convolution kernels read
// constant weights in. v8 and portable make the weights the GEMM's A side
// (V8 broadcasts them for free; the portable shape expands a panel at a
// time), Winograd where it fits; wazero and generic, the B side, and the
// portable shape too for the layers pixelsAsA picks (on any thread count:
// convPacked splits their weight panels across threads).
func ConvWeightsFunc(t string) func(n *ir.Node, op *ir.FusedConv) ir.WeightLayout {
	return func(n *ir.Node, op *ir.FusedConv) ir.WeightLayout {
		switch {
		case dotPixelsFits(true, n, op):
			return ir.WeightsPlain
		case t != tune.V8 && !tune.IsPortable(t):
			return ir.WeightsPackB
		case winogradFits(n, op):
			if winograd4Pays(n, op) {
				return ir.WeightsWinograd4
			}
			return ir.WeightsWinograd
		case tune.IsPortable(t) && pixelsAsA(n, op):
			return ir.WeightsPackB
		}
		return ir.WeightsPackA
	}
}

// pixelsAsA tells whether a 1x1 convolution on a small map (at most 64
// output pixels, at least 64 output channels) runs, in the portable shape,
// with its pixels as the expanded (A) side and its weights as 8-channel
// PackB panels (convPacked), the whole expanded input in one block of at
// most swapABytes. With the weights as A (convPackA) each expanded weight
// panel serves only the map's few pixel tiles (7 at 7x7, the last one
// holding a single pixel); with the pixels as A the input is expanded once
// and serves every channel tile, and 4-pixel panels waste less of the
// tile (49 pixels: 52 lanes instead of 56). resnet50's 7x7 1x1 layers went
// from 22.7 to 28 GFLOP/s in V8 (docs/design.md). Threaded modules split
// the weight panels (convPacked); for these shapes convPackA's K chunk is
// portableMaxK (portableBlocks), the chunk that dotChunked sums in, so
// both forms give the same bits.
func pixelsAsA(n *ir.Node, op *ir.FusedConv) bool {
	x, w, y := n.Inputs[0].Type, op.WShape, n.Outputs[0].Type.Shape
	if w == nil { // before prepacking (the optimizer's question)
		w = n.Inputs[1].Type.Shape
	}
	if x.DType != ir.Float32 || len(w) != 4 || len(y) != 4 || w[2] != 1 || w[3] != 1 || op.Group != 1 {
		return false
	}
	P, K, M := y[2]*y[3], w[1], w[0]
	return P <= 64 && M >= 64 && swapABytes(K, P) <= swapABytesMax
}

// swapABytes is the expanded input of a pixelsAsA convolution: K rows of
// ceil(P/4) panels of four pre-broadcast vectors.
func swapABytes(K, P int) int { return ir.PackedK(K) * (P + 3) / 4 * 64 }

// swapABytesMax keeps a pixelsAsA layer's expanded input within a 2 MiB
// L2, beside the weight panel streaming past it.
const swapABytesMax = 2 << 20
