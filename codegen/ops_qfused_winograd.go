package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Integer Winograd F(2x2, 3x3) for 3x3, stride 1 QConvs: each 2x2 block
// of outputs (a tile) comes from a 4x4 block d of the zero-padded input,
// Y = A^T [U . V] A with V = B^T d B and U = G' g G'^T (ir.WinogradWeights,
// computed once), where U . V, summed over input channels, is 16 matrix
// products of 2.25 times fewer multiplications than the direct
// convolution. V needs 11 bits (|x - zx| <= 255 times at most 4), U 12:
// both are int16 and the products go through i32x4.dot_i16x8_s as in the
// pointwise kernel. The sums wrap around in int32, but the result is 4 times
// the convolution's int32 accumulator, which the direct kernels assume to
// fit: wrapping arithmetic then gives it exactly, and the output is
// identical to theirs.
//
// Per tile row and group of 8 tiles (a block), the input transform writes
// V for every channel pair interleaved (16 panels of [C/2][8 tiles][2]);
// then per 4 output channels, 16 products of 8 accumulators each go to a
// small buffer, the output transform makes 4x16 outputs of it and the
// epilogue stores them. The padded input keeps each row's even columns
// before its odd ones, so that the 4 columns of 8 consecutive tiles are 4
// contiguous loads.

// winoPlan is the layout of a Winograd QConv's workspace.
type winoPlan struct {
	TH, TW, groups int // tiles per column and row; groups of 8 tiles per row
	evenLen        int // values in a row's even (and odd) half
	rowStride      int // int16 values per padded row
	rows           int // padded rows
	planeBytes     int // all channels
	panelBytes     int
}

func (p *qconvPlan) wino() winoPlan {
	g := p.g
	w := winoPlan{TH: (g.Out[0] + 1) / 2, TW: (g.Out[1] + 1) / 2}
	w.groups = (w.TW + 7) / 8
	w.evenLen = w.groups*8 + 1
	w.rowStride = alignUp(2*w.evenLen, 8)
	w.rows = 2*w.TH + 2
	w.planeBytes = alignUp(p.C*w.rows*w.rowStride*2, 16)
	w.panelBytes = 16 * (p.C + 1) / 2 * 32
	return w
}

// workspace: planes, the V panels, one channel's transform, the products.
func (w winoPlan) bytes() int { return w.planeBytes + w.panelBytes + 16*16 + 16*4*32 }

func (k *Ctx) qWinograd(xBase asm.Local, p *qconvPlan, u *ir.Value, ws int32, zx asm.Local, epi qepi) {
	q := planQWinograd(k, p, u, ws, epi)
	f := k.F
	q.inputPlanes(xBase, zx)
	q.declare()
	f.SetI32(q.ty, 0)
	tc := f.Local(asm.I32)
	f.Counted(tc, q.OH/2, func() {
		q.tileRow(true)
		f.AddI32(q.ty, 1)
	})
	if q.OH%2 == 1 {
		q.tileRow(false)
	}
}

// qwino is a Winograd QConv's emission: the plan (sizes and workspace
// offsets, fixed by planQWinograd) and the locals its steps share.
type qwino struct {
	k                      *Ctx
	f                      *asm.Func
	p                      *qconvPlan
	u                      *ir.Value
	epi                    qepi
	w                      winoPlan
	C, M, OH, OW           int
	pairs, Cp              int
	planes, panel, scratch int32 // workspace: input planes, V panels, one channel's V
	mbuf                   int32 // the 16 products of a quad
	rsB, planeB            int32 // bytes per padded row and per plane
	ty, grp, pt, pv        asm.Local
	d, r, accs, mv         []asm.Local
	va, av                 asm.Local
	bv                     [2]asm.Local
	m, pa, pb, xn          asm.Local
	mc, n0, nj, lane       asm.Local
	y                      [4]asm.Local
	z0, z1                 asm.Local
}

// The shuffles that interleave two channels' int16 V vectors, and two
// rows' int32 outputs.
var (
	qwinoLo   = [16]byte{0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23}
	qwinoHi   = [16]byte{8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31}
	qwinoLo32 = [16]byte{0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23}
	qwinoHi32 = [16]byte{8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31}
)

// planQWinograd lays out the workspace at ws.
func planQWinograd(k *Ctx, p *qconvPlan, u *ir.Value, ws int32, epi qepi) *qwino {
	g := p.g
	q := &qwino{k: k, f: k.F, p: p, u: u, epi: epi, w: p.wino(), C: p.C, M: p.M, OH: g.Out[0], OW: g.Out[1]}
	q.pairs = (q.C + 1) / 2
	q.Cp = 2 * q.pairs
	q.planes = ws
	q.panel = q.planes + int32(q.w.planeBytes)
	q.scratch = q.panel + int32(q.w.panelBytes)
	q.mbuf = q.scratch + 16*16
	q.rsB = int32(q.w.rowStride * 2)
	q.planeB = int32(q.w.rows) * q.rsB
	return q
}

// inputPlanes writes the padded input, deinterleaved, one plane per
// channel.
func (q *qwino) inputPlanes(xBase, zx asm.Local) {
	f, g, w := q.f, q.p.g, q.w
	f.I32Const(q.planes).I32Const(0).I32Const(int32(w.planeBytes)).MemoryFill()
	zvec := f.Local(asm.V128)
	f.Get(zx).Vec(wasm.OpcodeVecI16x8Splat).Set(zvec)
	src, dst := f.Local(asm.I32), f.Local(asm.I32)
	f.Get(xBase).Set(src)
	f.I32Const(q.planes).Set(dst)
	cc := f.Local(asm.I32)
	lay := planeLayout{H: g.In[0], W: g.In[1], padT: g.PadBegin[0], padL: g.PadBegin[1], rowStride: w.rowStride, even: w.evenLen, deint: true}
	f.Counted(cc, q.C, func() {
		q.k.qPlaneCopy(src, dst, lay, zx, zvec, q.p.xdt)
		f.AddI32(dst, q.planeB)
	})
}

// declare makes the locals of the tile loops.
func (q *qwino) declare() {
	f := q.f
	locals := func(n int, t wasm.ValueType) []asm.Local {
		l := make([]asm.Local, n)
		for i := range l {
			l[i] = f.Local(t)
		}
		return l
	}
	q.ty, q.grp, q.pt, q.pv = f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	q.d = locals(8, asm.V128)
	q.r = locals(4, asm.V128)
	q.va = f.Local(asm.V128)
	q.accs = locals(8, asm.V128)
	q.bv = [2]asm.Local{f.Local(asm.V128), f.Local(asm.V128)}
	q.av = f.Local(asm.V128)
	q.m, q.pa, q.pb, q.xn, q.mc, q.n0, q.nj, q.lane = f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	q.mv = locals(16, asm.V128)
	q.y = [4]asm.Local{f.Local(asm.V128), f.Local(asm.V128), f.Local(asm.V128), f.Local(asm.V128)}
	q.z0, q.z1 = f.Local(asm.V128), f.Local(asm.V128)
}

// tileRow runs one row of tiles (two output rows, or the last one).
func (q *qwino) tileRow(twoRows bool) {
	f := q.f
	full, rest := q.OW/16, q.OW%16
	f.SetI32(q.grp, 0)
	gc := f.Local(asm.I32)
	f.Counted(gc, full, func() {
		q.blocks(16, twoRows)
		f.AddI32(q.grp, 1)
	})
	if rest > 0 {
		q.blocks(rest, twoRows)
	}
}

// blocks runs every output channel over one block.
func (q *qwino) blocks(cols int, twoRows bool) {
	f := q.f
	q.block()
	f.SetI32(q.m, 0)
	qc := f.Local(asm.I32)
	f.Counted(qc, q.M/4, func() {
		q.quad(4, cols, twoRows)
		f.AddI32(q.m, 4)
	})
	if q.M%4 != 0 {
		q.quad(q.M%4, cols, twoRows)
	}
}

// transform computes V of the channel whose tile block starts at pt and
// passes each of its 16 vectors to out(ξν).
func (q *qwino) transform(out func(xn int)) {
	f, r, rsB := q.f, q.r, q.rsB
	colOff := [4]uint32{0, uint32(q.w.evenLen * 2), 2, uint32(q.w.evenLen*2 + 2)}
	rowsOf := [4][2]int{{0, 2}, {1, 2}, {2, 1}, {1, 3}}
	ops := [4]wasm.OpcodeVec{wasm.OpcodeVecI16x8Sub, wasm.OpcodeVecI16x8Add, wasm.OpcodeVecI16x8Sub, wasm.OpcodeVecI16x8Sub}
	for xi := 0; xi < 4; xi++ {
		a, b := rowsOf[xi][0], rowsOf[xi][1]
		for j := 0; j < 4; j++ {
			f.Get(q.pt).V128Load(uint32(a)*uint32(rsB) + colOff[j])
			f.Get(q.pt).V128Load(uint32(b)*uint32(rsB) + colOff[j])
			f.Vec(ops[xi]).Set(r[j])
		}
		// columns: r0 - r2, r1 + r2, r2 - r1, r1 - r3
		for nu := 0; nu < 4; nu++ {
			a, b := rowsOf[nu][0], rowsOf[nu][1]
			f.Get(r[a]).Get(r[b]).Vec(ops[nu]).Set(q.va)
			out(4*xi + nu)
		}
	}
}

// block builds the panels of the block of 8 tiles at (ty, grp).
func (q *qwino) block() {
	f, scratch, planeB := q.f, q.scratch, q.planeB
	f.I32Const(q.planes).Get(q.ty).I32Const(2 * q.rsB).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
	f.Get(q.grp).I32Const(16).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(q.pt)
	f.I32Const(q.panel).Set(q.pv)
	jc := f.Local(asm.I32)
	pair := func(odd bool) {
		// the even channel's V waits in scratch
		q.transform(func(xn int) { f.I32Const(scratch).Get(q.va).V128Store(uint32(16 * xn)) })
		f.AddI32(q.pt, planeB)
		store := func(xn int) {
			off := uint32(xn * q.pairs * 32)
			f.Get(q.pv).I32Const(scratch).V128Load(uint32(16 * xn)).Get(q.va).I8x16Shuffle(qwinoLo).V128Store(off)
			f.Get(q.pv).I32Const(scratch).V128Load(uint32(16 * xn)).Get(q.va).I8x16Shuffle(qwinoHi).V128Store(off + 16)
		}
		if odd {
			for xn := 0; xn < 16; xn++ {
				f.V128Const([16]byte{}).Set(q.va)
				store(xn)
			}
		} else {
			q.transform(store)
			f.AddI32(q.pt, planeB)
		}
		f.AddI32(q.pv, 32)
	}
	f.Counted(jc, q.C/2, func() { pair(false) })
	if q.C%2 == 1 {
		pair(true)
	}
}

// quad computes rows output channels from m over the block's panels:
// cols valid columns from the block's first, one or two output rows.
func (q *qwino) quad(rows, cols int, twoRows bool) {
	f, accs, Cp := q.f, q.accs, q.Cp
	// 16 products, their accumulators parked in mbuf
	f.Get(q.m).I32Const(int32(Cp * 2)).Op(wasm.OpcodeI32Mul).I32Const(q.k.Addr(q.u)).Op(wasm.OpcodeI32Add).Set(q.pa)
	f.I32Const(q.panel).Set(q.pb)
	f.SetI32(q.xn, 0)
	xc, jc := f.Local(asm.I32), f.Local(asm.I32)
	f.Counted(xc, 16, func() {
		for i := 0; i < rows*2; i++ {
			f.V128Const([16]byte{}).Set(accs[i])
		}
		f.Counted(jc, q.pairs, func() {
			f.Get(q.pb).V128Load(16).Set(q.bv[1])
			f.Get(q.pb).V128Load(0).Set(q.bv[0])
			for rr := rows - 1; rr >= 0; rr-- {
				f.Get(q.pa).V128Load32Splat(uint32(rr * Cp * 2)).Set(q.av)
				for h := 0; h < 2; h++ {
					a := accs[rr*2+h]
					f.Get(a).Get(q.av).Get(q.bv[h]).Vec(wasm.OpcodeVecI32x4DotI16x8S).Vec(wasm.OpcodeVecI32x4Add).Set(a)
				}
			}
			f.AddI32(q.pa, 4)
			f.AddI32(q.pb, 32)
		})
		// mbuf[(xn*4 + row)*32 + h*16]
		for i := 0; i < rows*2; i++ {
			f.Get(q.xn).I32Const(128).Op(wasm.OpcodeI32Mul).Get(accs[i]).V128Store(uint32(q.mbuf) + uint32(i*16))
		}
		f.AddI32(q.xn, 1)
		// the next product's weights: M*Cp values on, less the row done
		f.AddI32(q.pa, int32((q.M-1)*Cp*2))
	})
	q.outputTransform(rows, cols, twoRows)
}

// outputTransform makes the quad's outputs of its products in mbuf:
// Y = A^T M A, A^T = [[1,1,1,0],[0,1,-1,-1]].
func (q *qwino) outputTransform(rows, cols int, twoRows bool) {
	f, d, mv, y := q.f, q.d, q.mv, q.y
	for rr := 0; rr < rows; rr++ {
		f.Get(q.m).I32Const(int32(rr)).Op(wasm.OpcodeI32Add).Set(q.mc)
		for h := 0; h < 2; h++ {
			if 8*h >= cols {
				break
			}
			for i := 0; i < 16; i++ {
				f.I32Const(0).V128Load(uint32(q.mbuf) + uint32(i*128+rr*32+h*16)).Set(mv[i])
			}
			// s_a[ν] over ξ, then y[a][b] over ν
			var s [2][4]asm.Local
			for nu := 0; nu < 4; nu++ {
				s[0][nu], s[1][nu] = d[nu], d[4+nu]
				f.Get(mv[nu]).Get(mv[4+nu]).Vec(wasm.OpcodeVecI32x4Add).Get(mv[8+nu]).Vec(wasm.OpcodeVecI32x4Add).Set(s[0][nu])
				f.Get(mv[4+nu]).Get(mv[8+nu]).Vec(wasm.OpcodeVecI32x4Sub).Get(mv[12+nu]).Vec(wasm.OpcodeVecI32x4Sub).Set(s[1][nu])
			}
			for a := 0; a < 2; a++ {
				f.Get(s[a][0]).Get(s[a][1]).Vec(wasm.OpcodeVecI32x4Add).Get(s[a][2]).Vec(wasm.OpcodeVecI32x4Add)
				f.I32Const(2).Vec(wasm.OpcodeVecI32x4ShrS).Set(y[2*a])
				f.Get(s[a][1]).Get(s[a][2]).Vec(wasm.OpcodeVecI32x4Sub).Get(s[a][3]).Vec(wasm.OpcodeVecI32x4Sub)
				f.I32Const(2).Vec(wasm.OpcodeVecI32x4ShrS).Set(y[2*a+1])
			}
			hcols := min(cols-8*h, 8)
			for a := 0; a < 2; a++ {
				if a == 1 && !twoRows {
					break
				}
				f.Get(y[2*a]).Get(y[2*a+1]).I8x16Shuffle(qwinoLo32).Set(q.z0)
				f.Get(y[2*a]).Get(y[2*a+1]).I8x16Shuffle(qwinoHi32).Set(q.z1)
				// n0 = (2ty + a)*OW + 16*grp + 8h
				f.Get(q.ty).I32Const(int32(2 * q.OW)).Op(wasm.OpcodeI32Mul).Get(q.grp).I32Const(16).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
				f.I32Const(int32(a*q.OW + 8*h)).Op(wasm.OpcodeI32Add).Set(q.n0)
				q.store(hcols)
			}
		}
	}
}

// store finishes 8 (or cols) outputs of row mc from z0, z1 at n0.
func (q *qwino) store(cols int) {
	f := q.f
	if ef, isF32 := q.epi.(*qEpiF32); cols >= 8 && isF32 {
		ef.vec8(q.mc, q.n0, q.z0, q.z1)
		return
	}
	for h, z := range []asm.Local{q.z0, q.z1} {
		c0 := 4 * h
		if c0+4 <= cols {
			f.Get(q.n0).I32Const(int32(c0)).Op(wasm.OpcodeI32Add).Set(q.nj)
			q.epi.vec(q.mc, q.nj, z)
			continue
		}
		for j := c0; j < cols; j++ {
			f.Get(z).Lane(wasm.OpcodeVecI32x4ExtractLane, byte(j-c0)).Set(q.lane)
			f.Get(q.n0).I32Const(int32(j)).Op(wasm.OpcodeI32Add).Set(q.nj)
			q.epi.scalar(q.mc, q.nj, q.lane)
		}
	}
}

// planeLayout describes a padded int16 copy of one input channel: rows of
// rowStride values, the input at (padT, padL); deint keeps each row's even
// columns (even of them) before its odd ones.
type planeLayout struct {
	H, W, padT, padL int
	rowStride, even  int
	deint            bool
}

// col is the offset in values of padded column pc in a row.
func (l planeLayout) col(pc int) int {
	if l.deint {
		return pc%2*l.even + pc/2
	}
	return pc
}

// qPlaneCopy copies H rows of W 8-bit (or int16) values from src (which it
// advances past them) minus zx into the plane at dst, whose padding is
// already zero. zvec holds zx in every 16-bit lane (SIMD only).
func (k *Ctx) qPlaneCopy(src, dst asm.Local, l planeLayout, zx, zvec asm.Local, xdt ir.DType) {
	f := k.F
	row, cc := f.Local(asm.I32), f.Local(asm.I32)
	v, v2 := f.Local(asm.V128), f.Local(asm.V128)
	esz := int32(xdt.Bits() / 8)
	f.Get(dst).I32Const(int32(l.padT * l.rowStride * 2)).Op(wasm.OpcodeI32Add).Set(row)
	lo8, hi8 := wasm.OpcodeVecI16x8ExtendLowI8x16U, wasm.OpcodeVecI16x8ExtendHighI8x16U
	if xdt == ir.Int8 {
		lo8, hi8 = wasm.OpcodeVecI16x8ExtendLowI8x16S, wasm.OpcodeVecI16x8ExtendHighI8x16S
	}
	rc := f.Local(asm.I32)
	f.Counted(rc, l.H, func() {
		done := 0
		switch {
		case !k.SIMD():
		case !l.deint:
			f.Counted(cc, l.W/8, func() {
				f.Get(row).Get(src)
				switch xdt {
				case ir.Int16:
					f.V128Load(0)
				case ir.Int8:
					f.V128Load8x8S(0)
				default:
					f.V128Load8x8U(0)
				}
				f.Get(zvec).Vec(wasm.OpcodeVecI16x8Sub).V128Store(uint32(2 * l.col(l.padL)))
				f.AddI32(src, 8*esz)
				f.AddI32(row, 16)
			})
			done = l.W / 8 * 8
			f.AddI32(row, int32(-done*2))
		default:
			// 16 inputs: the even ones to one half, the odd to the other
			body := func() {
				if xdt == ir.Int16 {
					f.Get(src).V128Load(16).Set(v2)
					f.Get(src).V128Load(0).Set(v)
					ev := [16]byte{0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29}
					od := [16]byte{2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31}
					f.Get(row).Get(v).Get(v2).I8x16Shuffle(ev).Get(zvec).Vec(wasm.OpcodeVecI16x8Sub).V128Store(uint32(2 * l.col(l.padL)))
					f.Get(row).Get(v).Get(v2).I8x16Shuffle(od).Get(zvec).Vec(wasm.OpcodeVecI16x8Sub).V128Store(uint32(2 * l.col(l.padL+1)))
				} else {
					deint := [16]byte{0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15}
					f.Get(src).V128Load(0).Set(v)
					f.Get(v).Get(v).I8x16Shuffle(deint).Set(v)
					f.Get(row).Get(v).Vec(lo8).Get(zvec).Vec(wasm.OpcodeVecI16x8Sub).V128Store(uint32(2 * l.col(l.padL)))
					f.Get(row).Get(v).Vec(hi8).Get(zvec).Vec(wasm.OpcodeVecI16x8Sub).V128Store(uint32(2 * l.col(l.padL+1)))
				}
				f.AddI32(src, 16*esz)
				f.AddI32(row, 16)
			}
			f.Counted(cc, l.W/16, body)
			done = l.W / 16 * 16
			f.AddI32(row, int32(-done))
		}
		for iw := done; iw < l.W; iw++ {
			f.Get(row).Get(src)
			switch xdt {
			case ir.Int16:
				f.I32Load16S(uint32(2 * (iw - done)))
			case ir.Int8:
				f.I32Load8S(uint32(iw - done))
			default:
				f.I32Load8U(uint32(iw - done))
			}
			f.Get(zx).Op(wasm.OpcodeI32Sub).I32Store16(uint32(2 * l.col(l.padL+iw)))
		}
		f.AddI32(src, int32(l.W-done)*esz)
		f.AddI32(row, int32(l.rowStride*2))
	})
}

func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.WidenWeights) error {
		f := k.F
		count := n.Inputs[0].Type.Shape.Size()
		src, dst, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		f.I32Const(k.Addr(n.Inputs[0])).Set(src)
		f.I32Const(k.Addr(n.Outputs[0])).Set(dst)
		rest := count
		if k.SIMD() {
			f.Counted(c, count/8, func() {
				f.Get(dst).Get(src).V128Load8x8S(0).V128Store(0)
				f.AddI32(src, 8)
				f.AddI32(dst, 16)
			})
			rest = count % 8
		}
		f.Counted(c, rest, func() {
			f.Get(dst).Get(src).I32Load8S(0).I32Store16(0)
			f.AddI32(src, 1)
			f.AddI32(dst, 2)
		})
		return nil
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.WinogradWeights) error {
		// Runs once: plain scalar code, by the definition in ir.
		f := k.F
		s := op.Orig.Shape
		M, C := s[0], s[1]
		Cp := (C + 1) / 2 * 2
		pw := n.Inputs[0]
		width := packedWidth(pw)
		_, kp := ir.QPackRounding(M, C*9)
		m, c, pr, po := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		gk := make([]asm.Local, 9)
		t := make([]asm.Local, 12)
		for i := range gk {
			gk[i] = f.Local(asm.I32)
		}
		for i := range t {
			t[i] = f.Local(asm.I32)
		}
		G := ir.WinogradG
		// sum pushes sum_q coef[q] * v[q] (coefficients 0, +-1, 2)
		sum := func(coef []int64, v []asm.Local) {
			first := true
			for q, cf := range coef {
				if cf == 0 {
					continue
				}
				f.Get(v[q])
				if cf == 2 {
					f.I32Const(1).Op(wasm.OpcodeI32Shl)
				}
				switch {
				case first && cf < 0:
					f.I32Const(-1).Op(wasm.OpcodeI32Mul)
				case !first && cf < 0:
					f.Op(wasm.OpcodeI32Sub)
				case !first:
					f.Op(wasm.OpcodeI32Add)
				}
				first = false
			}
		}
		f.Repeat(m, M, func() {
			f.Repeat(c, C, func() {
				// the 9 weights of (m, c)
				f.Get(m).I32Const(int32(kp)).Op(wasm.OpcodeI32Mul).Get(c).I32Const(9).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
				f.I32Const(int32(width)).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(pw)).Op(wasm.OpcodeI32Add).Set(pr)
				for q := range gk {
					f.Get(pr)
					if width == 1 {
						f.I32Load8S(uint32(q))
					} else {
						f.I32Load16S(uint32(2 * q))
					}
					f.Set(gk[q])
				}
				// t[i][b] = sum_a G[i][a] g[a][b]
				for i := 0; i < 4; i++ {
					for b := 0; b < 3; b++ {
						sum(G[i][:], []asm.Local{gk[b], gk[3+b], gk[6+b]})
						f.Set(t[i*3+b])
					}
				}
				// U[i][j] = sum_b t[i][b] G[j][b], at ((4i+j)*M + m)*Cp + c
				f.Get(m).I32Const(int32(Cp)).Op(wasm.OpcodeI32Mul).Get(c).Op(wasm.OpcodeI32Add)
				f.I32Const(1).Op(wasm.OpcodeI32Shl).I32Const(k.Addr(n.Outputs[0])).Op(wasm.OpcodeI32Add).Set(po)
				for i := 0; i < 4; i++ {
					for j := 0; j < 4; j++ {
						f.Get(po)
						sum(G[j][:], t[i*3:i*3+3])
						f.I32Store16(uint32((4*i + j) * M * Cp * 2))
					}
				}
			})
		})
		return nil
	})
}
