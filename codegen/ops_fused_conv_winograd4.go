package codegen

import (
	"fmt"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// The transforms of Winograd F(4x4,3x3) (ir.WinogradBT4, ir.WinogradAT4):
// like F(2x2,3x3)'s, in f32x4 lanes over four neighbouring tiles, whose
// 6x6 patches start 4 columns apart: a 4x4 transpose of four loads gives
// columns 0-3 of the four patches, one shuffle with a fifth load each of
// columns 4 and 5.

// lanes32 is the i8x16.shuffle mask taking 32-bit lanes a, b, c, d of the
// pair of operands (0-3 the first, 4-7 the second).
func lanes32(a, b, c, d int) [16]byte {
	var m [16]byte
	for i, l := range [4]int{a, b, c, d} {
		for j := 0; j < 4; j++ {
			m[i*4+j] = byte(l*4 + j)
		}
	}
	return m
}

var (
	lanesNext0 = lanes32(1, 2, 3, 4)
	lanesNext1 = lanes32(1, 2, 3, 5)
)

// winogradF4Ops pushes f32x4 arithmetic on locals for the transforms.
type winogradF4Ops struct {
	f          *asm.Func
	four       asm.Local // f32x4 splat of 4
	t0, t1, t2 asm.Local
	t3         asm.Local
}

func (o winogradF4Ops) add(a, b asm.Local) { o.f.Get(a).Get(b).Vec(wasm.OpcodeVecF32x4Add) }
func (o winogradF4Ops) sub(a, b asm.Local) { o.f.Get(a).Get(b).Vec(wasm.OpcodeVecF32x4Sub) }
func (o winogradF4Ops) times4()            { o.f.Get(o.four).Vec(wasm.OpcodeVecF32x4Mul) }

// inputRow applies B^T to x[0..5], each result i consumed by put(i, push):
// with f = x4-x2 and h = x1-x3, 4(x0-x2)+f, (x3+x4)-4(x1+x2),
// (x4-x3)+4(x1-x2), f-2h, f+2h, 4h+(x5-x3).
func (o winogradF4Ops) inputRow(x [6]asm.Local, put func(i int, push func())) {
	f := o.f
	o.sub(x[4], x[2])
	f.Set(o.t0)
	o.sub(x[1], x[3])
	f.Set(o.t1)
	o.add(o.t1, o.t1)
	f.Set(o.t2)
	put(5, func() { f.Get(o.t1); o.times4(); o.sub(x[5], x[3]); f.Vec(wasm.OpcodeVecF32x4Add) })
	put(4, func() { o.add(o.t0, o.t2) })
	put(3, func() { o.sub(o.t0, o.t2) })
	put(2, func() { o.sub(x[4], x[3]); o.sub(x[1], x[2]); o.times4(); f.Vec(wasm.OpcodeVecF32x4Add) })
	put(1, func() { o.add(x[3], x[4]); o.add(x[1], x[2]); o.times4(); f.Vec(wasm.OpcodeVecF32x4Sub) })
	put(0, func() { o.sub(x[0], x[2]); o.times4(); f.Get(o.t0).Vec(wasm.OpcodeVecF32x4Add) })
}

// outputRow applies A^T to x[0..5], each result i consumed by put(i, push):
// with a = x1+x2, b = x1-x2, c = x3+x4, e = x3-x4: x0+a+c, b+2e, a+4c,
// b+8e+x5.
func (o winogradF4Ops) outputRow(x [6]asm.Local, put func(i int, push func())) {
	f := o.f
	a, b, c, e := o.t0, o.t1, o.t2, o.t3
	o.add(x[1], x[2])
	f.Set(a)
	o.sub(x[1], x[2])
	f.Set(b)
	o.add(x[3], x[4])
	f.Set(c)
	o.sub(x[3], x[4])
	f.Set(e)
	put(0, func() { o.add(x[0], a); f.Get(c).Vec(wasm.OpcodeVecF32x4Add) })
	put(1, func() { f.Get(b).Get(e).Get(e).Vec(wasm.OpcodeVecF32x4Add).Vec(wasm.OpcodeVecF32x4Add) })
	put(2, func() { f.Get(a).Get(c); o.times4(); f.Vec(wasm.OpcodeVecF32x4Add) })
	put(3, func() {
		f.Get(b).Get(e).F32x4Const(8).Vec(wasm.OpcodeVecF32x4Mul).Vec(wasm.OpcodeVecF32x4Add)
		f.Get(x[5]).Vec(wasm.OpcodeVecF32x4Add)
	})
}

func newWinogradF4Ops(f *asm.Func) winogradF4Ops {
	o := winogradF4Ops{f: f, four: f.Local(asm.V128), t0: f.Local(asm.V128), t1: f.Local(asm.V128), t2: f.Local(asm.V128), t3: f.Local(asm.V128)}
	f.F32x4Const(4).Set(o.four)
	return o
}

// winogradIn4 is winogradIn for F(4x4,3x3): the shared function (in, v)
// transforming one channel, in its first bordered row, v its row of V for
// position 0.
func (k *Ctx) winogradIn4(p *winogradPlan) uint32 {
	name := fmt.Sprintf("winograd4_in_%d_%d_%d_%d", p.Wp, p.R, p.G, p.vPos) + p.groupsKey() + p.twSuffix()
	return k.Helper(name, p.winogradInParams(), nil, func(f *asm.Func) {
		rowIn, rowV := f.Param(0), f.Param(1)
		vec := func() asm.Local { return f.Local(asm.V128) }
		in, vp, tyc, gc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		o := newWinogradF4Ops(f)
		var v [5]asm.Local
		var d [6]asm.Local
		for i := range v {
			v[i] = vec()
		}
		for i := range d {
			d[i] = vec()
		}
		var col [6]asm.Local // R[0..5][j], loaded back for column j
		for i := range col {
			col[i] = vec()
		}
		// B^T along input row rr: R[rr][j] at rs + (rr*6+j)*16, this
		// thread's row scratch (the last parameter). Kept in locals,
		// TurboFan hoisted a group's 30 loads above them and spilled ~250
		// times a group; stored and loaded back, each row's loads stay next
		// to their arithmetic (docs/design.md, epi).
		rs := f.Param(len(p.winogradInParams()) - 1)
		winogradEachGroup(f, p, rowIn, rowV, in, vp, tyc, gc, func() {
			// rows and loads from the highest offset down: wazero
			// bounds-checks a base once per block then
			for rr := 5; rr >= 0; rr-- {
				base := uint32(rr * p.Wp * 4)
				for i := 4; i >= 0; i-- {
					f.Get(in).V128Load(base + uint32(16*i)).Set(v[i])
				}
				transpose4Halves(f, v[0], v[1], v[2], v[3], d[:4])
				f.Get(d[0]).Get(v[4]).I8x16Shuffle(lanesNext0).Set(d[4])
				f.Get(d[1]).Get(v[4]).I8x16Shuffle(lanesNext1).Set(d[5])
				o.inputRow(d, func(j int, push func()) {
					f.Get(rs)
					push()
					f.V128Store(uint32((rr*6 + j) * 16))
				})
			}
			// B^T down the columns: V_ij from R[0..5][j].
			for j := 5; j >= 0; j-- {
				for i := 5; i >= 0; i-- {
					f.Get(rs).V128Load(uint32((i*6 + j) * 16)).Set(col[i])
				}
				o.inputRow(col, func(i int, push func()) {
					f.Get(vp)
					push()
					f.V128Store(uint32((i*6 + j) * p.vPos * 4))
				})
			}
		})
	})
}

// winogradOut4 is winogradOut for F(4x4,3x3): the shared function (m, y,
// bias) bringing one output channel back, m its row of M for position 0,
// y its tile-aligned plane.
func (k *Ctx) winogradOut4(p *winogradPlan, hasBias bool) uint32 {
	name := fmt.Sprintf("winograd4_out_%d_%d_%d_%v", p.R, p.G, p.mPos, hasBias)
	name += p.twSuffix()
	i32 := asm.I32
	return k.Helper(name, []wasm.ValueType{i32, i32, i32}, nil, func(f *asm.Func) {
		mp, yp, bp := f.Param(0), f.Param(1), f.Param(2)
		vec := func() asm.Local { return f.Local(asm.V128) }
		o := newWinogradF4Ops(f)
		var mm [6]asm.Local
		var y, out [4]asm.Local
		for i := range mm {
			mm[i] = vec()
		}
		for i := range y {
			y[i], out[i] = vec(), vec()
		}
		var S [4][6]asm.Local // A^T down column j: S[q][j]
		for q := range S {
			for j := range S[q] {
				S[q][j] = vec()
			}
		}
		bv := vec()
		tyc, gc := f.Local(asm.I32), f.Local(asm.I32)
		if hasBias {
			f.Get(bp).V128Load32Splat(0).Set(bv)
		} else {
			f.V128Const([16]byte{}).Set(bv)
		}
		yStride := p.yRow() * 4
		f.Counted(tyc, p.R, func() {
			f.Counted(gc, p.G, func() {
				for j := 5; j >= 0; j-- {
					for i := 5; i >= 0; i-- {
						f.Get(mp).V128Load(uint32((i*6 + j) * p.mPos * 4)).Set(mm[i])
					}
					o.outputRow(mm, func(q int, push func()) { push(); f.Set(S[q][j]) })
				}
				// A^T along each output row q, lanes the four tiles'
				// column c; interleaved, columns 0-1 (out[0], out[1]) and
				// 2-3 (out[2], out[3]) of tiles 0-1 (out[0], out[2]) and
				// 2-3 (out[1], out[3]), each half a tile's row, stored as
				// such: half a transpose, the rest in the stores.
				for q := 3; q >= 0; q-- {
					o.outputRow(S[q], func(c int, push func()) { push(); f.Get(bv).Vec(wasm.OpcodeVecF32x4Add).Set(y[c]) })
					f.Get(y[2]).Get(y[3]).I8x16Shuffle(lanes32(2, 6, 3, 7)).Set(out[3])
					f.Get(y[0]).Get(y[1]).I8x16Shuffle(lanes32(2, 6, 3, 7)).Set(out[1])
					f.Get(y[2]).Get(y[3]).I8x16Shuffle(lanes32(0, 4, 1, 5)).Set(out[2])
					f.Get(y[0]).Get(y[1]).I8x16Shuffle(lanes32(0, 4, 1, 5)).Set(out[0])
					for i := 3; i >= 0; i-- {
						for h := 1; h >= 0; h-- {
							storeHalf(f, yp, out[i/2+2*h], i%2, uint32(q*yStride+16*i+8*h))
						}
					}
				}
				f.AddI32(mp, 16)
				f.AddI32(yp, 64)
			})
			if p.TW < p.TWp {
				f.AddI32(mp, int32((p.TW-p.TWp)*4)) // packed tile rows
			}
			f.AddI32(yp, int32(3*yStride)) // the tile row's other three output rows are done
		})
	})
}

// transpose4Halves is transpose4 with its second step, which moves 64-bit
// halves, in f64x2 lane moves: wazero (v1.12, amd64) lowers every
// i8x16.shuffle to two pshufb with two mask loads and a por, whatever its
// pattern, a lane move to one movsd, movlhps or pshufd; V8's time is
// unchanged (docs/design.md, wzr4). The values move as bits.
func transpose4Halves(h *asm.Func, a, b, c, d asm.Local, t []asm.Local) {
	ab0, ab1, cd0, cd1 := t[0], t[1], t[2], t[3]
	// ab0 = a0 b0 a1 b1, ab1 = a2 b2 a3 b3, cd likewise
	h.Get(a).Get(b).I8x16Shuffle(lanes32(0, 4, 1, 5)).Set(ab0)
	h.Get(a).Get(b).I8x16Shuffle(lanes32(2, 6, 3, 7)).Set(ab1)
	h.Get(c).Get(d).I8x16Shuffle(lanes32(0, 4, 1, 5)).Set(cd0)
	h.Get(c).Get(d).I8x16Shuffle(lanes32(2, 6, 3, 7)).Set(cd1)
	// a, b, c, d are free now: lane j of a, b, c, d goes to them, then t
	halves := func(lo, hi, dst asm.Local) {
		// dst = low half of lo, low half of hi
		h.Get(lo).Get(hi).Lane(wasm.OpcodeVecF64x2ExtractLane, 0).Lane(wasm.OpcodeVecF64x2ReplaceLane, 1).Set(dst)
	}
	highs := func(lo, hi, dst asm.Local) {
		// dst = high half of lo, high half of hi
		h.Get(hi).Get(lo).Lane(wasm.OpcodeVecF64x2ExtractLane, 1).Lane(wasm.OpcodeVecF64x2ReplaceLane, 0).Set(dst)
	}
	halves(ab0, cd0, a)
	highs(ab0, cd0, b)
	halves(ab1, cd1, c)
	highs(ab1, cd1, d)
	h.Get(a).Set(t[0])
	h.Get(b).Set(t[1])
	h.Get(c).Set(t[2])
	h.Get(d).Set(t[3])
}

// storeHalf stores 64-bit half i of v at p+off: the low one through an
// f64 (wazero: one movsd to memory, where v128.store64_lane extracts to a
// general register first), the high one by v128.store64_lane (V8: movhps).
func storeHalf(f *asm.Func, p, v asm.Local, i int, off uint32) {
	if i == 0 {
		f.Get(p).Get(v).Lane(wasm.OpcodeVecF64x2ExtractLane, 0).F64Store(off)
		return
	}
	f.Get(p).Get(v).V128Store64Lane(off, 1)
}

// winograd4Pays chooses F(4x4,3x3) over F(2x2,3x3) for a layer winogradFits
// takes: where its products, counted over the tiles each form computes
// (whole groups of four tiles, so borders included), are at most
// winograd4Share of F(2x2,3x3)'s (docs/design.md, "Winograd F(4x4,3x3)").
func winograd4Pays(n *ir.Node, op *ir.FusedConv) bool {
	x, w := n.Inputs[0].Type.Shape, n.Inputs[1].Type.Shape
	g, err := op.Geometry(x, w)
	if err != nil {
		return false
	}
	products := func(m int) int {
		groups := ((g.Out[1]+m-1)/m + 3) / 4
		return (m + 2) * (m + 2) * ((g.Out[0] + m - 1) / m) * 4 * groups
	}
	return float64(products(4)) <= winograd4Share*float64(products(2))
}

// winograd4Share: F(4x4,3x3) ran its layers in 0.46-0.87 of F(2x2,3x3)'s
// time where it does 0.56-0.64 of the products (unet_1024, resnet50 in
// V8), the larger ratios on few channels, where its transforms weigh more.
const winograd4Share = 0.8
