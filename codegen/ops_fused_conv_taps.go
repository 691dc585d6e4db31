package codegen

import (
	"encoding/binary"
	"slices"
	"sort"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Stride-1 convolutions in the portable shape as a sum over their taps:
// tap (ky, kx) is a 1x1 convolution of the input shifted by
// (ky*dy - padT, kx*dx - padL), so its GEMM reads the input rows in place
// (no im2col) with the tap's slice of the weights, and the taps of one
// output row accumulate in C through the micro-kernel's K-chunk modes.
//
// The output is cut, at compile time, into rectangles on which the set of
// taps that read inside the input is constant: a tap is computed only
// where it can read something other than padding. Dilated convolutions
// gain most (a 3x3 of dilation 24 on a 32x32 map does a quarter of the
// im2col arithmetic, of dilation 36 a ninth); rows are always cut, columns
// only when that costs fewer tiles than computing whole rows over a
// column-padded copy of the input (narrow maps, where cut rows would leave
// most tiles part empty).

// tapConv is the plan of one such convolution.
type tapConv struct {
	N, C, M, H, W, Ho, Wo int
	T                     int  // taps, kh*kw
	splitX                bool // regions cut columns too
	pitch, padL, plane    int  // source row pitch, left padding (columns), channel stride, in floats
	regions               []tapRegion
	used                  []int // taps some region computes, in expansion order
	srcBytes, zeroBytes   int
}

type tapRegion struct {
	y0, y1, x0, x1 int
	taps           []int // tap indices ky*kw+kx, in order
}

// tapOffset is tap t's input offset in floats: rows oy, columns ox.
func tapOffset(g *ir.Geometry, kw, t int) (oy, ox int) {
	return t/kw*g.Dilations[0] - g.PadBegin[0], t%kw*g.Dilations[1] - g.PadBegin[1]
}

// axisIntervals cuts [0, n) at the ends of each tap's valid range.
func axisIntervals(n int, ranges [][2]int) [][2]int {
	cuts := []int{0, n}
	for _, r := range ranges {
		if r[0] < r[1] {
			cuts = append(cuts, r[0], r[1])
		}
	}
	sort.Ints(cuts)
	var out [][2]int
	for i := 1; i < len(cuts); i++ {
		if cuts[i] > cuts[i-1] {
			out = append(out, [2]int{cuts[i-1], cuts[i]})
		}
	}
	return out
}

func planTapConv(k *Ctx, n *ir.Node, op *ir.FusedConv) (*tapConv, bool) {
	x := n.Inputs[0].Type
	if !k.portable() || !k.SIMD() || op.Layout != ir.WeightsPackA || op.Group != 1 || x.DType != ir.Float32 || len(x.Shape) != 4 || len(op.WShape) != 4 {
		return nil, false
	}
	g, err := op.Geometry(x.Shape, op.WShape)
	if err != nil || g.Strides[0] != 1 || g.Strides[1] != 1 || g.Kernel[0]*g.Kernel[1] == 1 {
		return nil, false
	}
	p := &tapConv{N: x.Shape[0], C: x.Shape[1], M: op.WShape[0], H: g.In[0], W: g.In[1], Ho: g.Out[0], Wo: g.Out[1]}
	kh, kw := g.Kernel[0], g.Kernel[1]
	p.T = kh * kw
	yr := make([][2]int, kh)
	for ky := range yr {
		oy, _ := tapOffset(g, kw, ky*kw)
		yr[ky] = [2]int{max(0, -oy), min(p.Ho, p.H-oy)}
	}
	xr := make([][2]int, kw)
	for kx := range xr {
		_, ox := tapOffset(g, kw, kx)
		xr[kx] = [2]int{max(0, -ox), min(p.Wo, p.W-ox)}
	}
	inside := func(r [2]int, iv [2]int) bool { return r[0] <= iv[0] && iv[1] <= r[1] }
	ys := axisIntervals(p.Ho, yr)
	// Columns: cut at the tap ranges, or whole rows with every tap that
	// reads inside somewhere; the cheaper in tiles.
	xsCut := axisIntervals(p.Wo, xr)
	xsWhole := [][2]int{{0, p.Wo}}
	tiles := func(xs [][2]int, whole bool) int {
		sum := 0
		for _, iv := range xs {
			nx := 0
			for _, r := range xr {
				if (whole && r[0] < r[1]) || (!whole && inside(r, iv)) {
					nx++
				}
			}
			sum += (iv[1] - iv[0] + 7) / 8 * nx
		}
		return sum
	}
	p.splitX = tiles(xsCut, false) < tiles(xsWhole, true)
	xs := xsWhole
	if p.splitX {
		xs = xsCut
	}
	usedSet := make([]bool, p.T)
	for _, yi := range ys {
		for _, xi := range xs {
			reg := tapRegion{y0: yi[0], y1: yi[1], x0: xi[0], x1: xi[1]}
			for ky := 0; ky < kh; ky++ {
				if !inside(yr[ky], yi) {
					continue
				}
				for kx := 0; kx < kw; kx++ {
					r := xr[kx]
					if (p.splitX && inside(r, xi)) || (!p.splitX && r[0] < r[1]) {
						reg.taps = append(reg.taps, ky*kw+kx)
						usedSet[ky*kw+kx] = true
					}
				}
			}
			p.regions = append(p.regions, reg)
		}
	}
	for t, u := range usedSet {
		if u {
			p.used = append(p.used, t)
		}
	}
	p.pitch = p.W
	if !p.splitX && len(p.used) > 0 {
		// Zero columns on either side for the taps that reach past the
		// input's edges; rows never need them (rows are cut exactly).
		left, right := 0, 0
		for _, t := range p.used {
			_, ox := tapOffset(g, kw, t)
			left = max(left, -ox)
			right = max(right, p.Wo-1+ox-(p.W-1))
		}
		p.padL = left
		p.pitch = p.W + left + right
	}
	// The input is always copied: its channels (the GEMM's k rows) then lie
	// an odd number of cache lines apart, so that a tile's column of B does
	// not map to a few cache sets (a 32x32 map's 4 KiB channels did: 3x
	// slower in both engines).
	p.plane = spreadPitch(p.H * p.pitch)
	p.srcBytes = alignUp((p.C*p.plane+8)*4, 16)
	p.zeroBytes = alignUp(p.Wo*4+64, 16)
	if p.tileSteps() >= im2colSteps(p.C*p.T, p.Ho*p.Wo) {
		return nil, false
	}
	return p, true
}

// callSteps is what one call of the row micro-kernel costs beyond its k
// steps (the call, the leaf dot's, C's load and store), in k steps of one
// tile: a guess that puts few-channel convolutions (mnist_cntk's 5x5 on
// one channel: 5x slower as taps) on the im2col side.
const callSteps = 40

// tileSteps is the tap form's work: per tap and row of a region, its
// tiles times (C + callSteps).
func (p *tapConv) tileSteps() int {
	n := 0
	for _, r := range p.regions {
		n += (r.y1 - r.y0) * ((r.x1 - r.x0 + 7) / 8) * max(1, len(r.taps)) * (p.C + callSteps)
	}
	return n
}

// im2colSteps is the im2col form's: every tile over all of K (in chunks of
// portableMaxK), plus writing the column matrix (about a quarter of a step
// per 8 floats).
func im2colSteps(K, P int) int {
	tiles := (P + 7) / 8
	return tiles*(K+callSteps*((K+portableMaxK-1)/portableMaxK)) + K*tiles/4
}

// eBytes is the expanded weights of one tap of one 4-row panel.
func (p *tapConv) eBytes() int { return p.C * 64 }

func (p *tapConv) workspace() int { return p.eBytes() + p.srcBytes + p.zeroBytes }

// table lays the work out for the kernel's loop, tap by tap so that one
// tap's expanded weights (C*64 bytes) stay in L1 while every row it
// computes reads them: per group (each used tap, then the regions no tap
// reaches) the tap's offset in the PackA panel, its first entry and
// entry count; per entry (a region) y0, y1, x0, width, the tap's input
// offset in bytes from the row's first pixel, its chunk mode (the tap's
// place among the region's taps, which run in tap order) and 1 for "read
// zeros" (bias and activations only).
func (p *tapConv) table(g *ir.Geometry, kw int) (tab []byte, groups int) {
	var grp, ents []int32
	add := func(t int, rs []tapRegion, entry func(r tapRegion) []int32) {
		if len(rs) == 0 {
			return
		}
		grp = append(grp, int32(t*16), int32(len(ents)/7), int32(len(rs)))
		for _, r := range rs {
			ents = append(ents, entry(r)...)
		}
	}
	for _, t := range p.used {
		oy, ox := tapOffset(g, kw, t)
		var rs []tapRegion
		for _, r := range p.regions {
			if slices.Contains(r.taps, t) {
				rs = append(rs, r)
			}
		}
		add(t, rs, func(r tapRegion) []int32 {
			j := slices.Index(r.taps, t)
			mode := chunkModeOf(j, len(r.taps))
			return []int32{int32(r.y0), int32(r.y1), int32(r.x0), int32(r.x1 - r.x0), int32((oy*p.pitch + ox + p.padL) * 4), int32(mode), 0}
		})
	}
	// Regions no tap reaches: any finite weights (tap 0's) times zeros.
	var zs []tapRegion
	for _, r := range p.regions {
		if len(r.taps) == 0 {
			zs = append(zs, r)
		}
	}
	add(0, zs, func(r tapRegion) []int32 {
		return []int32{int32(r.y0), int32(r.y1), int32(r.x0), int32(r.x1 - r.x0), 0, chunkWhole, 1}
	})
	for _, v := range append(grp, ents...) {
		tab = binary.LittleEndian.AppendUint32(tab, uint32(v))
	}
	return tab, len(grp) / 3
}

func (k *Ctx) convTaps(n *ir.Node, op *ir.FusedConv, p *tapConv) error {
	f := k.F
	g, err := op.Geometry(n.Inputs[0].Type.Shape, op.WShape)
	if err != nil {
		return err
	}
	kw := g.Kernel[1]
	x, w, out := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	bias, resOff := n.In(2), k.residualOffset(n, &op.Epilogue)
	C, M, P := p.C, p.M, p.Ho*p.Wo
	K := C * p.T
	// One thread: the expanded panel, then the input copy and a zero row.
	// Threaded: the copy and the zero row, each thread's expanded panel in
	// its per-thread scratch (after them: see genericFusedConvWorkspace).
	eBuf := k.WorkspaceAddr()
	srcBuf := eBuf + int32(p.eBytes())
	threaded := p.N == 1 && k.splits((p.M+3)/4, tapPanelNs(K, p))
	if threaded {
		srcBuf = k.WorkspaceAddr()
	}
	zeroBuf := srcBuf + int32(p.srcBytes)
	tab, groups := p.table(g, kw)
	tabAddr := k.Table("convtaps:"+string(tab), tab)
	entAddr := tabAddr + int32(12*groups)
	mk := k.microKernelRow(storeRows, &op.Epilogue, biasIf(bias != nil, biasRows), 0, chunkWhole, true)
	expand := k.expandPanel()
	ldb := int32(p.plane * 4)
	// the portable shape's dot addresses a trip's B rows from one base
	pitched := k.portable()
	var mkPitch uint32
	if pitched {
		mkPitch = k.microKernelRowPitch(storeRows, &op.Epilogue, biasIf(bias != nil, biasRows), 0, chunkWhole, true, int(ldb))
	}

	// copyIn copies the image at xBase: rows, with zero columns on either
	// side when some tap reaches past the input's edges, channels p.plane
	// floats apart.
	copyIn := func(xBase asm.Local) {
		if p.pitch > p.W {
			f.I32Const(srcBuf).I32Const(0).I32Const(int32(p.srcBytes)).MemoryFill()
		}
		s, d := f.Local(asm.I32), f.Local(asm.I32)
		f.Get(xBase).Set(s)
		f.I32Const(srcBuf + int32(p.padL*4)).Set(d)
		f.Counted(f.Local(asm.I32), C, func() {
			f.Counted(f.Local(asm.I32), p.H, func() {
				copyRow(f, true, d, s, p.W*4)
				f.AddI32(s, int32(p.W*4))
				f.AddI32(d, int32(p.pitch*4))
			})
			f.AddI32(d, int32((p.plane-p.H*p.pitch)*4))
		})
	}
	// panel emits the products of 4-row weight panel mp (rows of it) into
	// the output at outBase, reading the copy at src, each tap's weights
	// expanded into the buffer eb pushes.
	panel := func(mp, rows, src, outBase asm.Local, eb func()) {
		pw, gp, ep, ne, y, y1, x0, cols, rowB, rowC, cb := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		f.Get(mp).I32Const(int32(K * 16)).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(w)).Op(wasm.OpcodeI32Add).Set(pw)
		// C panel base: out + mp*16*P
		f.Get(mp).I32Const(int32(16 * P)).Op(wasm.OpcodeI32Mul).Get(outBase).Op(wasm.OpcodeI32Add).Set(cb)
		f.I32Const(tabAddr).Set(gp)
		f.Counted(f.Local(asm.I32), groups, func() {
			// the tap's weights, pre-broadcast: its k steps are c*T + t,
			// T*16 bytes apart in the PackA panel
			f.Get(pw).Get(gp).I32Load(0).Op(wasm.OpcodeI32Add)
			eb()
			f.I32Const(int32(C)).I32Const(int32(p.T * 16)).Call(expand)
			f.Get(gp).I32Load(4).I32Const(28).Op(wasm.OpcodeI32Mul).I32Const(entAddr).Op(wasm.OpcodeI32Add).Set(ep)
			f.Get(gp).I32Load(8).Set(ne)
			f.Loop32(ne, func() {
				f.Get(ep).I32Load(0).Set(y)
				f.Get(ep).I32Load(4).Set(y1)
				f.Get(ep).I32Load(8).Set(x0)
				f.Get(ep).I32Load(12).Set(cols)
				zero := f.Local(asm.I32)
				f.Get(ep).I32Load(24).Set(zero)
				f.Loop()
				// rowB = src + (y*pitch + x0)*4 + tap offset ; rowC = cb + (y*Wo + x0)*4
				f.Get(y).I32Const(int32(p.pitch)).Op(wasm.OpcodeI32Mul).Get(x0).Op(wasm.OpcodeI32Add).I32Const(4).Op(wasm.OpcodeI32Mul).Get(src).Op(wasm.OpcodeI32Add).Get(ep).I32Load(16).Op(wasm.OpcodeI32Add).Set(rowB)
				f.Get(y).I32Const(int32(p.Wo)).Op(wasm.OpcodeI32Mul).Get(x0).Op(wasm.OpcodeI32Add).I32Const(4).Op(wasm.OpcodeI32Mul).Get(cb).Op(wasm.OpcodeI32Add).Set(rowC)
				call := func(mk uint32, b, ldb func()) {
					eb()
					b()
					f.Get(rowC)
					if bias != nil {
						f.Get(mp).I32Const(16).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(bias)).Op(wasm.OpcodeI32Add)
					} else {
						f.I32Const(0)
					}
					f.I32Const(int32(C)).I32Const(int32(P * 4)).Get(rows).Get(cols).I32Const(resOff)
					ldb()
					f.Get(ep).I32Load(20)
					f.Call(mk)
				}
				if pitched {
					// rows of the image: B's rows ldb apart, the pitched dot;
					// rows of zeros: the one zero row, ldb 0
					f.Get(zero).If()
					call(mk, func() { f.I32Const(zeroBuf) }, func() { f.I32Const(0) })
					f.Else()
					call(mkPitch, func() { f.Get(rowB) }, func() { f.I32Const(ldb) })
					f.End()
				} else {
					call(mk, func() { f.I32Const(zeroBuf).Get(rowB).Get(zero).Select() }, func() { f.I32Const(0).I32Const(ldb).Get(zero).Select() })
				}
				f.Get(y).I32Const(1).Op(wasm.OpcodeI32Add).Tee(y).Get(y1).Op(wasm.OpcodeI32LtS).BrIf(0)
				f.End()
				f.AddI32(ep, 28)
			})
			f.AddI32(gp, 12)
		})
	}

	f.I32Const(zeroBuf).I32Const(0).I32Const(int32(p.zeroBytes)).MemoryFill()
	if threaded {
		k.convTapsThreads(p, x, out, srcBuf, K, copyIn, panel)
		return nil
	}
	xBase, src, outBase := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(k.Addr(x)).Set(xBase)
	f.I32Const(k.Addr(out)).Set(outBase)
	f.Counted(f.Local(asm.I32), p.N, func() {
		copyIn(xBase)
		f.I32Const(srcBuf).Set(src)
		mp, rows := f.Local(asm.I32), f.Local(asm.I32)
		f.SetI32(mp, 0)
		f.Counted(f.Local(asm.I32), (M+3)/4, func() {
			tileLen(f, rows, mp, 4, M)
			panel(mp, rows, src, outBase, func() { f.I32Const(eBuf) })
			f.AddI32(mp, 1)
		})
		f.AddI32(xBase, int32(C*p.H*p.W*4))
		f.AddI32(outBase, int32(M*P*4))
	})
	return nil
}

// tapPanelNs estimates the products of one 4-row weight panel of convTaps.
func tapPanelNs(K int, p *tapConv) float64 { return float64(2*K*4*p.Ho*p.Wo) * nsPerFlop }

// convTapsThreads is convTaps of one image in a threaded module: the image
// is copied here, then the products are handed out in units of one 4-row
// weight panel (disjoint output channels), each unit running every tap
// group in the order of the single-threaded loop, with the taps' weights
// expanded into the thread's own scratch copy.
func (k *Ctx) convTapsThreads(p *tapConv, x, out *ir.Value, srcBuf int32, K int,
	copyIn func(xBase asm.Local), panel func(mp, rows, src, outBase asm.Local, eb func())) {
	f := k.F
	xBase := f.Local(asm.I32)
	f.I32Const(k.Addr(x)).Set(xBase)
	copyIn(xBase)
	buf, bufSize := k.ScratchAddr()
	panels := (p.M + 3) / 4
	k.Parallel(panels, tapPanelNs(K, p), func(s Span) {
		f := s.F
		mp, rows, src, outBase, eb := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		f.I32Const(srcBuf).Set(src)
		f.I32Const(k.Addr(out)).Set(outBase)
		s.Scratch(buf, bufSize)
		f.Set(eb)
		s.For(mp, func() {
			tileLen(f, rows, mp, 4, p.M)
			panel(mp, rows, src, outBase, func() { f.Get(eb) })
		})
	})
}

// spreadPitch is the stride, in floats, for rows of n floats that a GEMM
// reads as its k rows: at least n, a multiple of 16 floats (a cache line),
// and an odd number of lines, so that consecutive rows fall in different
// cache sets even when n is a power of two (a 32x32 map's 4 KiB, a 512x512
// Winograd plane's 256 KiB).
func spreadPitch(n int) int {
	s := alignUp(n, 16)
	if (s/16)%2 == 0 {
		s += 16
	}
	return s
}
