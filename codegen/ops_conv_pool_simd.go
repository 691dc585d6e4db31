package codegen

import (
	"fmt"
	"math"
	"slices"

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
// output fits, plus a vector's reach past the last one. With stride 2 the
// width is a multiple of 8: its rows are stored split (splitRows).
func poolPadded(g *ir.Geometry) (hp, wp int) {
	hp = max(g.In[0]+g.PadBegin[0], (g.Out[0]-1)*g.Strides[0]+(g.Kernel[0]-1)*g.Dilations[0]+1)
	wo4 := (g.Out[1] + 3) / 4 * 4
	wp = max(g.In[1]+g.PadBegin[1], (wo4-1)*g.Strides[1]+(g.Kernel[1]-1)*g.Dilations[1]+1)
	if splitRows(g) {
		return hp, alignUp(wp+4, 8)
	}
	return hp, wp + 4
}

// splitRows tells whether a windowed op's bordered rows are stored split,
// even columns then odd ones (wp/2 each): with stride 2 every tap then
// reads four outputs' inputs with one plain load, instead of two loads
// and an i8x16.shuffle (which wazero lowers to two pshufb, a por and two
// mask loads). The split costs two shuffles per 8 inputs, once.
func splitRows(g *ir.Geometry) bool { return g.Strides[1] == 2 }

// windowBytes is a windowed op's workspace: the bordered plane, then one
// bordered row to split from (splitRows).
func windowBytes(g *ir.Geometry) int {
	hp, wp := poolPadded(g)
	return alignUp((hp+1)*wp*4+16, 16)
}

// copyWindowPlane copies an H x W plane from the address in src (advanced
// past it) into the bordered buffer at buf (top, left), whose border holds
// the value border: rows as they are, or split (splitRows). A split row is
// read straight from src in runs of 8 floats from left floats before the
// row (to its end or up to 7 floats past it: reads, within the slack past
// the last buffer), and the border columns those runs cover are set to
// border again after them. The border runs past the data are not written:
// they keep the border the caller set (the depthwise Conv once per node,
// MaxPool once per plane).
func copyWindowPlane(f *asm.Func, g *ir.Geometry, buf, src asm.Local, border float32) {
	H, W, top, left := g.In[0], g.In[1], g.PadBegin[0], g.PadBegin[1]
	_, wp := poolPadded(g)
	if !splitRows(g) {
		copyPlane(f, buf, src, H, W, wp, top, left)
		return
	}
	runs := (left + W + 7) / 8 // runs of 8 bordered columns holding data
	rb, d, base, c, q := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	a, b := f.Local(asm.V128), f.Local(asm.V128)
	f.Get(buf).I32Const(int32(top * wp * 4)).Op(wasm.OpcodeI32Add).Set(d)
	f.Counted(c, H, func() {
		f.Get(d).Set(base)
		f.Get(src).I32Const(int32(-left * 4)).Op(wasm.OpcodeI32Add).Set(rb)
		f.Counted(q, runs, func() {
			f.Get(rb).V128Load(0).Set(a)
			f.Get(rb).V128Load(16).Set(b)
			f.Get(d).Get(a).Get(b).I8x16Shuffle(evenLanes).V128Store(0)
			f.Get(d).Get(a).Get(b).I8x16Shuffle(oddLanes).V128Store(uint32(wp * 2))
			f.AddI32(rb, 32)
			f.AddI32(d, 16)
		})
		// Border columns inside the runs: one float each.
		for j := range runs * 8 {
			if j >= left && j < left+W {
				continue
			}
			off := j / 2 * 4
			if j%2 == 1 {
				off = (wp/2 + j/2) * 4
			}
			f.Get(base).F32Const(border).F32Store(uint32(off))
		}
		f.Get(base).I32Const(int32(wp * 4)).Op(wasm.OpcodeI32Add).Set(d)
		f.AddI32(src, int32(W*4))
	})
}

func init() {
	registerScratch(func(n *ir.Node, op *ir.Pool) int {
		g, err := op.Geometry(n.Inputs[0].Type.Shape)
		if err != nil || op.Kind != ir.PoolMax || len(g.In) != 2 {
			return 0
		}
		return windowBytes(g)
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
	// Twice the plain count of copies and lane operations: what the max
	// pools of the shared models measured, one node at a time.
	planeNs := 2 * (float64(hp*wp*8)*nsPerCopy + float64(g.Out[0]*g.Out[1]*g.Kernel[0]*g.Kernel[1]/4)*nsPerLaneOp)
	k.Parallel(planes, planeNs, func(s Span) {
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
		hp, wp := poolPadded(g)
		ninf := f.Local(asm.V128)
		f.F32x4Const(float32(math.Inf(-1))).Set(ninf)
		// Border: -inf everywhere (vector stores, the row to split from
		// too), then the plane's rows.
		p, c := f.Local(asm.I32), f.Local(asm.I32)
		f.Get(buf).Set(p)
		f.Counted(c, ((hp+1)*wp+3)/4, func() {
			f.Get(p).Get(ninf).V128Store(0)
			f.AddI32(p, 16)
		})
		copyWindowPlane(f, g, buf, src, float32(math.Inf(-1)))
		windowRows(f, g, buf, dst,
			func(acc asm.Local) { f.Get(ninf).Set(acc) },
			func(_ int, acc, v asm.Local) { f.Get(acc).Get(v).Vec(wasm.OpcodeVecF32x4Max).Set(acc) },
			nil)
	})
}

// windowRows computes the output plane from a plane bordered into buf
// (poolPadded), four outputs of a row at a time, into dst: init sets acc,
// tap folds in v, the input under window tap t for each lane, and finish
// (if any) completes acc before its lanes are stored at out. Shared by
// MaxPool and the depthwise Conv.
//
// Two output rows go together where the taps' values fit in registers
// (windowPassRows): an input row under both rows' windows (with a 3x3
// window at stride 1, two of the four) is loaded once for both, and the
// two accumulations are independent chains the processor overlaps. Each
// output still folds its taps in order, so the result is the same bits.
func windowRows(f *asm.Func, g *ir.Geometry, buf, dst asm.Local, init func(acc asm.Local), tap func(t int, acc, v asm.Local), finish func(acc, out asm.Local)) {
	Ho := g.Out[0]
	rows := windowPassRows(g)
	row, oc := f.Local(asm.I32), f.Local(asm.I32)
	f.Get(buf).Set(row)
	f.Counted(oc, Ho/rows, func() { windowPass(f, g, rows, row, dst, init, tap, finish) })
	if rows > 1 && Ho%rows != 0 {
		windowPass(f, g, Ho%rows, row, dst, init, tap, finish)
	}
}

// windowPassRows is how many output rows windowRows computes together: two
// unless a window has more than 9 taps (their weights would not stay in
// registers beside two accumulators) or the output has one row.
func windowPassRows(g *ir.Geometry) int {
	if g.Out[0] < 2 || g.Kernel[0]*g.Kernel[1] > 9 {
		return 1
	}
	return 2
}

// windowLoad is one vector load of a pass: the byte offset from the
// group's first input, and the outputs (row r of the pass, tap t) that
// fold it in.
type windowLoad struct {
	off  uint32
	uses [][2]int
}

// storeWindowRow completes (finish, if any) and stores the accumulator a
// of a group's output row r: its lanes at dst + r*Wo floats.
func storeWindowRow(f *asm.Func, a asm.Local, r int, dst, out asm.Local, Wo, lanes int, finish func(acc, out asm.Local)) {
	o := dst
	if r > 0 {
		f.Get(dst).I32Const(int32(r * Wo * 4)).Op(wasm.OpcodeI32Add).Set(out)
		o = out
	}
	if finish != nil {
		finish(a, o)
	}
	storeLanes(f, o, a, lanes)
}

// windowPass computes rows output rows from the bordered rows at row
// (advanced past them), into dst (advanced past them).
func windowPass(f *asm.Func, g *ir.Geometry, rows int, row, dst asm.Local, init func(acc asm.Local), tap func(t int, acc, v asm.Local), finish func(acc, out asm.Local)) {
	_, wp := poolPadded(g)
	Wo, sy, sx := g.Out[1], g.Strides[0], g.Strides[1]
	split := splitRows(g)
	gc, in, out := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	v, hi, vLast := f.Local(asm.V128), f.Local(asm.V128), f.Local(asm.V128)
	acc := make([]asm.Local, rows)
	for r := range acc {
		acc[r] = f.Local(asm.V128)
	}
	f.Get(row).Set(in)
	// Each tap's byte offset from the group's first input; with split
	// rows input column 2x + c is in the evens at x + c/2 (c even) or the
	// odds at x + (c-1)/2. The loads go by input row, then tap column, so
	// that every output folds its taps in order.
	colOff := func(kx int) int {
		c := kx * g.Dilations[1]
		if !split {
			return c
		}
		if c%2 == 1 {
			return wp/2 + (c-1)/2
		}
		return c / 2
	}
	var loads []*windowLoad
	byRow := map[int][]*windowLoad{}
	var inRows []int
	for r := range rows {
		for ky := 0; ky < g.Kernel[0]; ky++ {
			iy := r*sy + ky*g.Dilations[0]
			if byRow[iy] == nil {
				inRows = append(inRows, iy)
				byRow[iy] = make([]*windowLoad, g.Kernel[1])
			}
			for kx := 0; kx < g.Kernel[1]; kx++ {
				l := byRow[iy][kx]
				if l == nil {
					l = &windowLoad{off: uint32((iy*wp + colOff(kx)) * 4)}
					byRow[iy][kx] = l
				}
				l.uses = append(l.uses, [2]int{r, ky*g.Kernel[1] + kx})
			}
		}
	}
	slices.Sort(inRows)
	last := 0 // the load of the highest offset
	for _, iy := range inRows {
		for _, l := range byRow[iy] {
			if len(loads) > 0 && l.off > loads[last].off {
				last = len(loads)
			}
			loads = append(loads, l)
		}
	}
	load := func(i int) {
		if split || sx == 1 {
			f.Get(in).V128Load(loads[i].off)
		} else {
			loadStrided(f, in, loads[i].off, sx, hi)
		}
	}
	emitGroup := func(lanes int) {
		// The farthest load first: wazero then bounds-checks the group
		// once (a check covers lower offsets of the same base in the
		// block) instead of once per load.
		load(last)
		f.Set(vLast)
		for _, a := range acc {
			init(a)
		}
		for i, l := range loads {
			x := vLast
			if i != last {
				load(i)
				f.Set(v)
				x = v
			}
			for _, u := range l.uses {
				tap(u[1], acc[u[0]], x)
			}
		}
		for r, a := range acc {
			storeWindowRow(f, a, r, dst, out, Wo, lanes, finish)
		}
		f.AddI32(dst, int32(lanes*4))
		if split {
			f.AddI32(in, 16)
		} else {
			f.AddI32(in, int32(4*sx*4))
		}
	}
	// Two groups per trip: wazero copies every v128 carried around a loop
	// (the taps' weights) at the back-edge.
	full := Wo / 4
	f.Counted(gc, full/2, func() { emitGroup(4); emitGroup(4) })
	if full%2 == 1 {
		emitGroup(4)
	}
	if full*4 < Wo {
		emitGroup(Wo - full*4)
	}
	f.AddI32(dst, int32((rows-1)*Wo*4))
	f.AddI32(row, int32(rows*sy*wp*4))
}
