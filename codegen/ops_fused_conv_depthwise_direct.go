package codegen

import (
	"slices"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// The depthwise Conv reading its taps straight from the source plane: no
// bordered copy. Four outputs of a row at a time as windowRows, the same
// passes of one or two output rows and the same order of taps per output,
// so the bits are those of the bordered kernel: a tap under the border
// folds in a zero as before. What the border did is done at compile time:
// a window row above or below the plane is a zero vector, and the groups
// at a row's ends (peeled from the loop) clear the lanes whose column is
// outside the row with a mask. With stride 2 a tap column is the even or
// odd lanes of two loads (one shuffle); neighbouring tap columns share
// their loads.

// directReach is how far a direct pass reads around its rows: floats
// before a row's first column and past its last.
func directReach(g *ir.Geometry) (before, past int) {
	W, sx, Wo := g.In[1], g.Strides[1], g.Out[1]
	lo, hi := 0, 0
	for i, c := range directCols(g) {
		b, e := directLoad(c, sx)
		if i == 0 || b < lo {
			lo = b
		}
		if i == 0 || e > hi {
			hi = e
		}
	}
	last := (Wo - 1) / 4 * 4 * sx // the last group's first input column
	return max(0, -lo), max(0, last+hi-(W-1))
}

// depthwiseDirect tells whether the depthwise kernel reads its source in
// place: its reads around a row stay within a vector of it (before the
// first plane, the scratch area; past the last, the plan's 64 bytes of
// slack).
func depthwiseDirect(g *ir.Geometry) bool {
	if depthwiseBordered {
		return false
	}
	before, past := directReach(g)
	return before <= 4 && past <= 15
}

// depthwiseBordered makes every depthwise Conv copy its planes into the
// bordered buffer (tests compare the two forms' bits).
var depthwiseBordered = false

// directCols is each tap column's input column relative to the group's
// first output times the stride.
func directCols(g *ir.Geometry) []int {
	cs := make([]int, g.Kernel[1])
	for kx := range cs {
		cs[kx] = kx*g.Dilations[1] - g.PadBegin[1]
	}
	return cs
}

// directLoad is the first and last column read for tap column c: one
// load at c (stride 1), or two from the even column at or before c.
func directLoad(c, sx int) (first, last int) {
	if sx == 1 {
		return c, c + 3
	}
	b := c - ((c%2)+2)%2
	return b, b + 7
}

// directPass is one pass over the output rows y0..y0+rows-1: which input
// rows its taps read (relative to its first valid one, ref) and whether
// each is inside the plane.
type directPass struct {
	y0, rows int
	ref      int // the lowest input row inside the plane
}

func (p directPass) inRow(g *ir.Geometry, r, ky int) (iy int, ok bool) {
	iy = (p.y0+r)*g.Strides[0] + ky*g.Dilations[0] - g.PadBegin[0]
	return iy, iy >= 0 && iy < g.In[0]
}

func newDirectPass(g *ir.Geometry, y0, rows int) (p directPass, plain bool) {
	p = directPass{y0: y0, rows: rows, ref: -1}
	plain = true
	for r := range rows {
		for ky := 0; ky < g.Kernel[0]; ky++ {
			iy, ok := p.inRow(g, r, ky)
			if !ok {
				plain = false
				continue
			}
			if p.ref < 0 || iy < p.ref {
				p.ref = iy
			}
		}
	}
	return p, plain
}

// directVec pushes the four inputs of tap column c in input row iy for the
// group o (-1: a group inside the row) of lanes outputs: one load at
// stride 1, the even or odd lanes of two at stride 2, with the lanes whose
// column is outside the row cleared (the border: zero).
func directVec(f *asm.Func, iy, c, o, lanes, sx, W int, ld func(off uint32) asm.Local, offOf func(iy, q int) uint32) {
	b, _ := directLoad(c, sx)
	if sx == 1 {
		f.Get(ld(offOf(iy, c)))
	} else {
		sel := evenLanes
		if c != b {
			sel = oddLanes
		}
		lo, hi := ld(offOf(iy, b)), ld(offOf(iy, b+4))
		f.Get(lo).Get(hi).I8x16Shuffle(sel)
	}
	if o < 0 {
		return
	}
	var mask [16]byte
	clear := false
	for l := range 4 {
		if col := sx*(4*o+l) + c; l < lanes && (col < 0 || col >= W) {
			clear = true
			continue
		}
		for j := range 4 {
			mask[4*l+j] = 0xff
		}
	}
	if clear {
		f.V128Const(mask).Vec(wasm.OpcodeVecV128And)
	}
}

// depthwiseDirectRows computes the output plane of one channel from the
// source plane at src into dst (advanced past it), as windowRows does
// from a bordered copy.
func depthwiseDirectRows(f *asm.Func, g *ir.Geometry, src, dst asm.Local, init func(acc asm.Local), tap func(t int, acc, v asm.Local), finish func(acc, out asm.Local)) {
	Ho, W, sy := g.Out[0], g.In[1], g.Strides[0]
	R := directPassRows(g)
	full := Ho / R
	// Passes whose taps all read rows of the plane run in a loop; the
	// others (top and bottom, where windows overhang) are emitted one by one.
	plainLo, plainHi := -1, -1
	for p := range full {
		if _, plain := newDirectPass(g, p*R, R); plain {
			if plainLo < 0 {
				plainLo = p
			}
			plainHi = p + 1
		}
	}
	in0 := f.Local(asm.I32)
	emit := func(p directPass) {
		directPassCode(f, g, p, in0, dst, init, tap, finish)
	}
	one := func(p int, rows int) {
		dp, _ := newDirectPass(g, p*R, rows)
		f.Get(src).I32Const(int32(max(dp.ref, 0) * W * 4)).Op(wasm.OpcodeI32Add).Set(in0)
		emit(dp)
	}
	if plainLo < 0 {
		plainLo, plainHi = full, full
	}
	for p := 0; p < plainLo; p++ {
		one(p, R)
	}
	if plainHi > plainLo {
		dp, _ := newDirectPass(g, plainLo*R, R)
		row, pc := f.Local(asm.I32), f.Local(asm.I32)
		f.Get(src).I32Const(int32(dp.ref * W * 4)).Op(wasm.OpcodeI32Add).Set(row)
		f.Counted(pc, plainHi-plainLo, func() {
			f.Get(row).Set(in0)
			emit(dp)
			f.AddI32(row, int32(R*sy*W*4))
		})
	}
	for p := plainHi; p < full; p++ {
		one(p, R)
	}
	if full*R < Ho {
		one(full, Ho-full*R)
	}
}

// directPassRows is how many output rows a direct pass computes together:
// as windowPassRows, but at stride 2 across up to four.
// A tap column there is a shuffle of two loads, and every window row of
// a pass is loaded and shuffled once for all the pass's outputs: a 3x3
// window at stride 2 shuffles 3(2R+1) vectors per R output vectors, 9 for
// one row, 7.5 for two, 6.75 for four. Its outputs are stored as their
// windows complete (the early stores of directPassCode), so the rows
// after the second do not add live vectors. Fewer, longer passes also
// leave fewer passes peeled on small maps (7 rows: 4 + 3, not 2 + 2 + 2
// + 1). Each output folds its taps in the same order whatever the pass:
// the same bits. Six rows ran slower than four on 112-column maps.
func directPassRows(g *ir.Geometry) int {
	R := windowPassRows(g)
	if R == 2 && g.Strides[1] == 2 {
		return min(4, g.Out[0])
	}
	return R
}

// directPassCode emits one pass p with its first valid input row at in0.
func directPassCode(f *asm.Func, g *ir.Geometry, p directPass, in0, dst asm.Local, init func(acc asm.Local), tap func(t int, acc, v asm.Local), finish func(acc, out asm.Local)) {
	W, Wo, sx := g.In[1], g.Out[1], g.Strides[1]
	cols := directCols(g)
	colMin := 0
	for i, c := range cols {
		if b, _ := directLoad(c, sx); i == 0 || b < colMin {
			colMin = b
		}
	}
	in, out, gc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	acc := make([]asm.Local, p.rows)
	for r := range acc {
		acc[r] = f.Local(asm.V128)
	}
	type use struct{ r, t int }
	// The loads of a group: by input row, then tap column, as windowPass.
	type vec struct {
		iy, kx int
		ok     bool
		uses   []use
	}
	var vecs []*vec
	byRow := map[int][]*vec{}
	var rows []int
	for r := range p.rows {
		for ky := 0; ky < g.Kernel[0]; ky++ {
			iy, ok := p.inRow(g, r, ky)
			if byRow[iy] == nil {
				rows = append(rows, iy)
				byRow[iy] = make([]*vec, g.Kernel[1])
				for kx := range byRow[iy] {
					byRow[iy][kx] = &vec{iy: iy, kx: kx, ok: ok}
				}
			}
			for kx := 0; kx < g.Kernel[1]; kx++ {
				byRow[iy][kx].uses = append(byRow[iy][kx].uses, use{r, ky*g.Kernel[1] + kx})
			}
		}
	}
	slices.Sort(rows)
	for _, iy := range rows {
		vecs = append(vecs, byRow[iy]...)
	}
	// Byte offset of input (row iy, column q of the group) from in.
	offOf := func(iy, q int) uint32 { return uint32(((iy-p.ref)*W + q - colMin) * 4) }
	// V8 places a group's loads, in order, ahead of the arithmetic up to
	// the next store, so all of them are live at once. Where they outnumber
	// the 16 vector registers (two rows at stride 2: 20), each output row
	// is stored as soon as its window is done, and the loads of the rows
	// after it wait for that store.
	offs := map[uint32]bool{}
	lastUse := make([]int, p.rows)
	for i, v := range vecs {
		for _, u := range v.uses {
			lastUse[u.r] = i
		}
		if !v.ok {
			continue
		}
		c := cols[v.kx]
		if sx == 1 {
			offs[offOf(v.iy, c)] = true
			continue
		}
		b, _ := directLoad(c, sx)
		offs[offOf(v.iy, b)], offs[offOf(v.iy, b+4)] = true, true
	}
	early := len(offs) > 16
	zero := f.Local(asm.V128)
	f.V128Const([16]byte{}).Set(zero)
	emitGroup := func(o int, lanes int) {
		// The loads of this group, each once: the farthest first (wazero
		// then checks the group's bounds once).
		loaded := map[uint32]asm.Local{}
		ld := func(off uint32) asm.Local {
			if l, ok := loaded[off]; ok {
				return l
			}
			l := f.Local(asm.V128)
			f.Get(in).V128Load(off).Set(l)
			loaded[off] = l
			return l
		}
		var far uint32
		for _, v := range vecs {
			if !v.ok {
				continue
			}
			_, e := directLoad(cols[v.kx], sx)
			if off := offOf(v.iy, e-3); off > far {
				far = off
			}
		}
		if len(vecs) > 0 {
			ld(far)
		}
		for _, a := range acc {
			init(a)
		}
		x := f.Local(asm.V128)
		stored := make([]bool, p.rows)
		for i, v := range vecs {
			xv := zero // a window row outside the plane: the border
			if v.ok {
				xv = x
				directVec(f, v.iy, cols[v.kx], o, lanes, sx, W, ld, offOf)
				f.Set(x)
			}
			for _, u := range v.uses {
				tap(u.t, acc[u.r], xv)
			}
			for r := range acc {
				if early && lastUse[r] == i && i < len(vecs)-1 {
					storeWindowRow(f, acc[r], r, dst, out, Wo, lanes, finish)
					stored[r] = true
				}
			}
		}
		for r, a := range acc {
			if !stored[r] {
				storeWindowRow(f, a, r, dst, out, Wo, lanes, finish)
			}
		}
		f.AddI32(dst, int32(lanes*4))
		f.AddI32(in, int32(4*sx*4))
	}
	// Groups: those at the row's ends that read outside it, or hold
	// fewer than four outputs, one by one; the rest in a loop, two per
	// trip (wazero copies every v128 carried around a loop at the
	// back-edge).
	groups := (Wo + 3) / 4
	plain := func(o int) bool {
		if 4*o+4 > Wo {
			return false
		}
		for _, c := range cols {
			if sx*4*o+c < 0 || sx*(4*o+3)+c >= W {
				return false
			}
		}
		return true
	}
	lo := 0
	for lo < groups && !plain(lo) {
		lo++
	}
	hi := lo
	for hi < groups && plain(hi) {
		hi++
	}
	f.Get(in0).I32Const(int32(colMin * 4)).Op(wasm.OpcodeI32Add).Set(in)
	for o := 0; o < lo; o++ {
		emitGroup(o, min(4, Wo-4*o))
	}
	n := hi - lo
	if n >= 2 {
		f.Counted(gc, n/2, func() { emitGroup(-1, 4); emitGroup(-1, 4) })
	}
	if n%2 == 1 {
		emitGroup(-1, 4)
	}
	for o := hi; o < groups; o++ {
		emitGroup(o, min(4, Wo-4*o))
	}
	f.AddI32(dst, int32((p.rows-1)*Wo*4))
}
