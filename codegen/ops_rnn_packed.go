package codegen

import (
	"fmt"
	"strings"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// The float32 SIMD recurrent kernel. Weights are in ir.PackedRNN's layout
// (blocks of 4 hidden units, each with its G gates' 4 columns side by
// side): packed at compile time for constant weights, else into the
// workspace at the start of each direction. The input projection X*W^T of
// all steps is one matmul into rows of packed columns. Each time step and
// batch entry then calls one step function which, per group of blocks,
// accumulates the recurrent product h*R^T in f32x4 registers (one per
// gate and block, h broadcast one element at a time, 8 independent
// accumulators), then per block applies the gate arithmetic to its 4
// hidden units and writes the new h and c. h alternates between two
// buffers, since a step reads all of the old h while writing the new. The
// step is a function of its own so that V8 optimizes it during the first
// run (a node function runs once and stays in baseline code).

// rnnFast tells whether a float32 RNN node takes the packed kernel.
func (k *Ctx) rnnFast(n *ir.Node) bool {
	return k.SIMD() && n.Inputs[0].Type.DType == ir.Float32
}

// rnnFastLayout places the packed kernel's workspace.
type rnnFastLayout struct {
	d                   ir.RNNDims
	G, H4, blocks, cols int
	xw, wp, rp, bp, pp  int // wp..pp: weights packed at run time
	h, c, pre, z, rh    int
	total               int
	packedAtCompileTime bool
	twoPhase            bool // GRU without linear_before_reset
}

func rnnFastLayoutFor(op *ir.RNN, d ir.RNNDims, compileTime bool) rnnFastLayout {
	l := rnnFastLayout{d: d, G: op.Kind.Gates(), blocks: ir.RNNBlocks(d.Hidden), packedAtCompileTime: compileTime}
	l.H4 = 4 * l.blocks
	l.cols = l.G * l.H4
	l.twoPhase = op.Kind == ir.KindGRU && !op.LinearBeforeReset
	ws := wsLayout{sz: 4}
	l.xw = ws.alloc(d.Seq * d.Batch * l.cols)
	if !compileTime {
		l.wp = ws.alloc(d.Input * l.cols)
		l.rp = ws.alloc(l.blocks * d.Hidden * 4 * l.G)
		l.bp = ws.alloc(2 * l.cols)
		l.pp = ws.alloc(3 * l.H4)
	}
	l.h = ws.alloc(2 * d.Batch * l.H4)
	l.c = ws.alloc(d.Batch * l.H4)
	l.pre = ws.alloc(l.cols)
	if l.twoPhase {
		l.z = ws.alloc(d.Batch * l.H4)
		l.rh = ws.alloc(d.Batch * l.H4)
	}
	l.total = ws.end
	return l
}

func init() {
	registerWorkspace(func(n *ir.Node, op *ir.PackedRNN) int {
		d, err := op.Dims(n.Inputs)
		if err != nil {
			return 0
		}
		return rnnFastLayoutFor(&op.RNN, d, true).total
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.PackedRNN) error {
		d, err := op.Dims(n.Inputs)
		if err != nil {
			return err
		}
		return k.rnnPacked(n, &op.RNN, rnnFastLayoutFor(&op.RNN, d, true))
	})
}

// rnnPacked emits the whole node.
func (k *Ctx) rnnPacked(n *ir.Node, op *ir.RNN, l rnnFastLayout) error {
	f, d := k.F, l.d
	g := &rnnGen{k: k, f: f, op: op, l: rnnLayout{d: d, cdt: ir.Float32, sz: 4}, dt: ir.Float32, ct: asm.F32, esz: 4,
		ws: k.WorkspaceAddr(), G: l.G, H: d.Hidden, layout: op.Layout}
	if g.trivial(n) {
		return nil
	}
	seqLens := n.In(4)
	ws := k.WorkspaceAddr()
	H, H4, G, cols := d.Hidden, l.H4, l.G, l.cols
	rowBytes := int32(H4 * 4)
	hBuf := [2]int32{ws + int32(l.h), ws + int32(l.h) + int32(d.Batch)*rowBytes}
	for dir := 0; dir < d.Dirs; dir++ {
		var wp, rp, bp, pp int32
		if l.packedAtCompileTime {
			wp = k.Addr(n.In(1)) + int32(dir*d.Input*cols*4)
			rp = k.Addr(n.In(2)) + int32(dir*l.blocks*H*4*G*4)
			if b := n.In(3); b != nil {
				bp = k.Addr(b) + int32(dir*2*cols*4)
			}
			if p := n.In(7); p != nil {
				pp = k.Addr(p) + int32(dir*3*H4*4)
			}
		} else {
			wp, rp, bp, pp = ws+int32(l.wp), ws+int32(l.rp), ws+int32(l.bp), ws+int32(l.pp)
			g.packAtRunTime(n, l, dir, wp, rp, bp, pp)
			if n.In(3) == nil {
				bp = 0
			}
			if n.In(7) == nil {
				pp = 0
			}
		}
		// The input projection of every step and batch entry.
		pa, pb, pc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		f.I32Const(k.Addr(n.In(0))).Set(pa)
		f.I32Const(wp).Set(pb)
		f.I32Const(ws + int32(l.xw)).Set(pc)
		if d.Input == 0 {
			f.Get(pc).I32Const(0).I32Const(int32(d.Seq * d.Batch * cols * 4)).MemoryFill()
		} else if err := k.emitMatMul(mm{M: d.Seq * d.Batch, K: d.Input, N: cols, dt: ir.Float32,
			a: matrix{pa, d.Input, 1}, b: matrix{pb, cols, 1}, c: pc}); err != nil {
			return err
		}
		g.loadPaddedState(n.In(5), dir, hBuf[0], H4)
		if op.Kind == ir.KindLSTM {
			g.loadPaddedState(n.In(6), dir, ws+int32(l.c), H4)
		}
		step, err := k.rnnStep(op, l, dir, bp != 0, pp != 0)
		if err != nil {
			return err
		}
		reverse := op.Direction == "reverse" || dir == 1
		y := n.Out(0)
		s, b, t, hin, hout := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		f.Repeat(s, d.Seq, func() {
			// hin = hBuf[s&1], hout the other
			f.Get(s).I32Const(1).Op(wasm.OpcodeI32And).I32Const(hBuf[1] - hBuf[0]).Op(wasm.OpcodeI32Mul).I32Const(hBuf[0]).Op(wasm.OpcodeI32Add).Set(hin)
			f.I32Const(hBuf[0] + hBuf[1]).Get(hin).Op(wasm.OpcodeI32Sub).Set(hout)
			f.Repeat(b, d.Batch, func() {
				row := func(base int32) {
					f.Get(b).I32Const(rowBytes).Op(wasm.OpcodeI32Mul).I32Const(base).Op(wasm.OpcodeI32Add)
				}
				rowOf := func(p asm.Local) {
					f.Get(b).I32Const(rowBytes).Op(wasm.OpcodeI32Mul).Get(p).Op(wasm.OpcodeI32Add)
				}
				g.entryStep(seqLens, reverse, s, b, t, func() {
					// Past the entry's length: zeros in Y, the state carried over.
					if y != nil {
						g.yAddr(y, dir, s, b)
						f.I32Const(0).I32Const(int32(H * 4)).MemoryFill()
					}
					rowOf(hout)
					rowOf(hin)
					f.I32Const(rowBytes).MemoryCopy()
				}, func() {
					// xw row of (t, b) in X's layout
					rowT, rowB := d.Batch, 1
					if op.Layout == 1 {
						rowT, rowB = 1, d.Seq
					}
					f.Get(t).I32Const(int32(rowT * cols * 4)).Op(wasm.OpcodeI32Mul)
					f.Get(b).I32Const(int32(rowB * cols * 4)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
					f.I32Const(ws + int32(l.xw)).Op(wasm.OpcodeI32Add)
					rowOf(hin)
					rowOf(hout)
					row(ws + int32(l.c))
					if y != nil {
						g.yAddr(y, dir, t, b)
					} else {
						rowOf(hout)
					}
					f.I32Const(rp).I32Const(bp).I32Const(pp).I32Const(ws + int32(l.pre))
					if l.twoPhase {
						row(ws + int32(l.z))
						row(ws + int32(l.rh))
					}
					f.Call(step)
				})
			})
		})
		last := hBuf[d.Seq&1]
		if v := n.Out(1); v != nil {
			g.storePaddedState(v, dir, last, H4, seqLens)
		}
		if v := n.Out(2); v != nil {
			g.storePaddedState(v, dir, ws+int32(l.c), H4, seqLens)
		}
	}
	return nil
}

// loadPaddedState copies initial_h or initial_c of one direction into rows
// of h4 floats at buf, zero padded, or zeros them when the input is absent.
func (g *rnnGen) loadPaddedState(v *ir.Value, dir int, buf int32, h4 int) {
	f, H := g.f, g.H
	if v == nil || H != h4 {
		f.I32Const(buf).I32Const(0).I32Const(int32(g.l.d.Batch * h4 * 4)).MemoryFill()
	}
	if v == nil {
		return
	}
	b := f.Local(asm.I32)
	f.Repeat(b, g.l.d.Batch, func() {
		f.Get(b).I32Const(int32(h4 * 4)).Op(wasm.OpcodeI32Mul).I32Const(buf).Op(wasm.OpcodeI32Add)
		g.stateAddr(g.k.Addr(v), dir, b)
		f.I32Const(int32(H * 4)).MemoryCopy()
	})
}

// storePaddedState writes rows of h4 floats at buf to Y_h or Y_c; entries
// whose sequence length is 0 get zeros, as in ONNX Runtime.
func (g *rnnGen) storePaddedState(v *ir.Value, dir int, buf int32, h4 int, seqLens *ir.Value) {
	f, H := g.f, g.H
	b, dst := f.Local(asm.I32), f.Local(asm.I32)
	f.Repeat(b, g.l.d.Batch, func() {
		g.stateAddr(g.k.Addr(v), dir, b)
		f.Set(dst)
		if seqLens != nil {
			f.Get(b).I32Const(2).Op(wasm.OpcodeI32Shl).I32Load(uint32(g.k.Addr(seqLens))).Op(wasm.OpcodeI32Eqz)
			f.If()
			f.Get(dst).I32Const(0).I32Const(int32(H * 4)).MemoryFill()
			f.Else()
		}
		f.Get(dst)
		f.Get(b).I32Const(int32(h4 * 4)).Op(wasm.OpcodeI32Mul).I32Const(buf).Op(wasm.OpcodeI32Add)
		f.I32Const(int32(H * 4)).MemoryCopy()
		if seqLens != nil {
			f.End()
		}
	})
}

// packAtRunTime writes one direction's W, R, B and P in the packed layout
// (ir.RNN.PackW, PackR, PackB, PackP) into the workspace.
func (g *rnnGen) packAtRunTime(n *ir.Node, l rnnFastLayout, dir int, wp, rp, bp, pp int32) {
	f, k, d := g.f, g.k, l.d
	G, H, I, H4, cols := l.G, d.Hidden, d.Input, l.H4, l.cols
	GH := G * H
	if H != H4 {
		f.I32Const(wp).I32Const(0).I32Const(int32(I * cols * 4)).MemoryFill()
		f.I32Const(rp).I32Const(0).I32Const(int32(l.blocks * H * 4 * G * 4)).MemoryFill()
	}
	j, c, ps, pd, col := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	// col = (j>>2)*4G + gi*4 + (j&3), in floats
	setCol := func(gi int) {
		f.Get(j).I32Const(2).Op(wasm.OpcodeI32ShrU).I32Const(int32(4 * G)).Op(wasm.OpcodeI32Mul)
		f.Get(j).I32Const(3).Op(wasm.OpcodeI32And).Op(wasm.OpcodeI32Add).I32Const(int32(gi * 4)).Op(wasm.OpcodeI32Add).Set(col)
	}
	// copyRow copies a contiguous source row of cnt floats at ps to floats
	// stride bytes apart at pd.
	copyRow := func(cnt int, stride int32) {
		f.Counted(c, cnt, func() {
			f.Get(pd).Get(ps).F32Load(0).F32Store(0)
			f.AddI32(ps, 4)
			f.AddI32(pd, stride)
		})
	}
	wAddr, rAddr := k.Addr(n.In(1))+int32(dir*GH*I*4), k.Addr(n.In(2))+int32(dir*GH*H*4)
	for gi := 0; gi < G; gi++ {
		f.Repeat(j, H, func() {
			setCol(gi)
			if I > 0 {
				f.Get(j).I32Const(int32(I * 4)).Op(wasm.OpcodeI32Mul).I32Const(wAddr + int32(gi*H*I*4)).Op(wasm.OpcodeI32Add).Set(ps)
				f.Get(col).I32Const(2).Op(wasm.OpcodeI32Shl).I32Const(wp).Op(wasm.OpcodeI32Add).Set(pd)
				copyRow(I, int32(cols*4))
			}
			// R: panel of block j>>2, element (k, gi*4 + j&3)
			f.Get(j).I32Const(int32(H * 4)).Op(wasm.OpcodeI32Mul).I32Const(rAddr + int32(gi*H*H*4)).Op(wasm.OpcodeI32Add).Set(ps)
			f.Get(j).I32Const(2).Op(wasm.OpcodeI32ShrU).I32Const(int32(H * 4 * G * 4)).Op(wasm.OpcodeI32Mul)
			f.Get(j).I32Const(3).Op(wasm.OpcodeI32And).I32Const(2).Op(wasm.OpcodeI32Shl).Op(wasm.OpcodeI32Add)
			f.I32Const(rp + int32(gi*16)).Op(wasm.OpcodeI32Add).Set(pd)
			copyRow(H, int32(4*G*4))
		})
	}
	if b := n.In(3); b != nil {
		f.I32Const(bp).I32Const(0).I32Const(int32(2 * cols * 4)).MemoryFill()
		bAddr := k.Addr(b) + int32(dir*2*GH*4)
		for gi := 0; gi < G; gi++ {
			f.Repeat(j, H, func() {
				setCol(gi)
				f.Get(col).I32Const(2).Op(wasm.OpcodeI32Shl).I32Const(bp).Op(wasm.OpcodeI32Add).Set(pd)
				f.Get(j).I32Const(2).Op(wasm.OpcodeI32Shl).I32Const(bAddr + int32(gi*H*4)).Op(wasm.OpcodeI32Add).Set(ps)
				if g.op.RNNSeparateRb(gi) {
					f.Get(pd).Get(ps).F32Load(0).F32Store(0)
					f.Get(pd).Get(ps).F32Load(uint32(GH * 4)).F32Store(uint32(cols * 4))
				} else {
					f.Get(pd).Get(ps).F32Load(0).Get(ps).F32Load(uint32(GH * 4)).Op(wasm.OpcodeF32Add).F32Store(0)
				}
			})
		}
	}
	if p := n.In(7); p != nil {
		f.I32Const(pp).I32Const(0).I32Const(int32(3 * H4 * 4)).MemoryFill()
		for i := 0; i < 3; i++ {
			f.I32Const(pp + int32(i*H4*4)).I32Const(k.Addr(p) + int32((dir*3+i)*H*4)).I32Const(int32(H * 4)).MemoryCopy()
		}
	}
}

// rnnStep returns the step function of one direction: params xw, hin, hout,
// c, y, rp, bp, pp, pre (and z, rh for two-phase GRU), the addresses of
// this step's rows; bp and pp are unused when hasB or hasP is false.
func (k *Ctx) rnnStep(op *ir.RNN, l rnnFastLayout, dir int, hasB, hasP bool) (uint32, error) {
	per := op.Kind.ActsPerDir()
	acts := op.Activations[dir*per : (dir+1)*per]
	var key strings.Builder
	for _, a := range acts {
		fmt.Fprintf(&key, "_%s_%g_%g", a.Name, a.Alpha, a.Beta)
	}
	name := fmt.Sprintf("rnn_step_%s_h%d_lbr%v_if%v_clip%g_b%v_p%v%s", op.Kind, l.d.Hidden, op.LinearBeforeReset, op.InputForget, op.Clip, hasB, hasP, key.String())
	nparams := stepZ
	if l.twoPhase {
		nparams = stepRH + 1
	}
	params := make([]wasm.ValueType, nparams)
	for i := range params {
		params[i] = asm.I32
	}
	var err error
	idx := k.Helper(name, params, nil, func(h *asm.Func) {
		s := &rnnStepGen{h: h, x: fxFor(h, asm.F32, true), op: op, l: l, acts: acts, hasB: hasB, hasP: hasP}
		s.emit()
		err = s.err
	})
	return idx, err
}

// rnnStepGen emits one step function.
type rnnStepGen struct {
	h          *asm.Func
	x          fx
	op         *ir.RNN
	l          rnnFastLayout
	acts       []ir.RNNActivation
	hasB, hasP bool
	err        error
	// pointers at the current block (or group of blocks)
	xw, hin, hout, c, y, rp, bp, pp, pre, z, rh asm.Local
}

// The step function's params.
const (
	stepXW = iota
	stepHin
	stepHout
	stepC
	stepY
	stepRP
	stepBP
	stepPP
	stepPre
	stepZ
	stepRH
)

// phase is one pass over the blocks: the gates whose recurrent products it
// accumulates, the vector h it multiplies (a param), and what it does with
// each block's pre-activations.
type rnnPhase struct {
	gates []int
	src   int
	post  func(acc []asm.Local, partial bool)
}

// emit writes each phase as two loops: the recurrent products of all
// blocks into pre, then the gate arithmetic block by block, whose long
// dependency chains (two activations in a row for LSTM) overlap across
// blocks (lstm_classifier: 74 us in V8 either way, wazero 242 -> 232 us
// against gates right after each group's product).
func (s *rnnStepGen) emit() {
	h, l := s.h, s.l
	for _, p := range []*asm.Local{&s.xw, &s.hin, &s.hout, &s.c, &s.y, &s.rp, &s.bp, &s.pp, &s.pre, &s.z, &s.rh} {
		*p = h.Local(asm.I32)
	}
	ptrs := []asm.Local{stepXW: s.xw, stepHin: s.hin, stepHout: s.hout, stepC: s.c, stepY: s.y, stepRP: s.rp, stepBP: s.bp, stepPP: s.pp, stepPre: s.pre, stepZ: s.z, stepRH: s.rh}
	nparams := stepZ
	if l.twoPhase {
		nparams = stepRH + 1
	}
	reset := func() {
		for i := 0; i < nparams; i++ {
			h.Get(h.Param(i)).Set(ptrs[i])
		}
	}
	cnt := h.Local(asm.I32)
	partial := l.d.Hidden%4 != 0
	for _, ph := range s.phases() {
		reset()
		// The products go in groups of rnnAccs vectors, in a loop over
		// units of whole blocks that hold whole groups.
		m := len(ph.gates)
		unitVecs := rnnAccs * m / gcd(rnnAccs, m)
		unitBlocks := unitVecs / m
		refs := func(blocks int) []rnnVec {
			var v []rnnVec
			for b := 0; b < blocks; b++ {
				for _, gi := range ph.gates {
					v = append(v, rnnVec{b, gi})
				}
			}
			return v
		}
		groups := func(v []rnnVec) {
			for i := 0; i < len(v); i += rnnAccs {
				s.product(ph.src, v[i:min(i+rnnAccs, len(v))])
			}
		}
		h.Counted(cnt, l.blocks/unitBlocks, func() {
			groups(refs(unitBlocks))
			s.advance(unitBlocks)
		})
		groups(refs(l.blocks % unitBlocks))
		reset()
		full := l.blocks
		if partial {
			full--
		}
		h.Counted(cnt, full, func() { s.gates(ph, false) })
		if partial {
			s.gates(ph, true)
		}
	}
}

// rnnAccs is the number of f32x4 accumulators of a recurrent product. V8
// loads all of a trip's vectors before the arithmetic, so 8 accumulators
// took 17 registers of 15 and spilled one accumulator (lstm_classifier in
// Node: 75 us with 8, 72 with 4, 71 with 6).
const rnnAccs = 6

// rnnVec is one vector of packed columns: gate gi of block blk.
type rnnVec struct{ blk, gi int }

// product emits the recurrent products of the vectors v (blocks counted
// from the current pointers), with the input projection and bias, into
// pre; src is the param holding the vector h multiplies.
func (s *rnnStepGen) product(src int, v []rnnVec) {
	h, l := s.h, s.l
	G, H := l.G, l.d.Hidden
	vecOff := func(r rnnVec) uint32 { return uint32((r.blk*G + r.gi) * 16) }
	acc := make([]asm.Local, len(v))
	for i, r := range v {
		acc[i] = h.Local(asm.V128)
		off := vecOff(r)
		if s.op.RNNSeparateRb(r.gi) {
			// r . (h Rh^T + Rbh): the product starts from Rbh alone.
			if s.hasB {
				h.Get(s.bp).V128Load(off + uint32(l.cols*4))
			} else {
				h.V128Const([16]byte{})
			}
		} else {
			h.Get(s.xw).V128Load(off)
			if s.hasB {
				h.Get(s.bp).V128Load(off).Vec(wasm.OpcodeVecF32x4Add)
			}
		}
		h.Set(acc[i])
	}
	// One k per trip: unrolled k steps made TurboFan hoist loads and
	// spill (lstm_classifier 176 us fully unrolled, 123 with 8 k per trip,
	// 99 with one).
	av, ps, pr, cnt := h.Local(asm.V128), h.Local(asm.I32), h.Local(asm.I32), h.Local(asm.I32)
	h.Get(h.Param(src)).Set(ps) // the whole vector, not the block's pointer
	h.Get(s.rp).Set(pr)
	h.Counted(cnt, H, func() {
		h.Get(ps).V128Load32Splat(0).Set(av)
		for i, r := range v {
			off := uint32(r.blk*H*G*16 + r.gi*16)
			h.Get(acc[i]).Get(av).Get(pr).V128Load(off).Vec(wasm.OpcodeVecF32x4Mul).Vec(wasm.OpcodeVecF32x4Add).Set(acc[i])
		}
		h.AddI32(ps, 4)
		h.AddI32(pr, int32(G*16))
	})
	for i, r := range v {
		h.Get(s.pre).Get(acc[i]).V128Store(vecOff(r))
	}
}

// advance moves the product's pointers nb blocks on.
func (s *rnnStepGen) advance(nb int) {
	G, H := s.l.G, s.l.d.Hidden
	for _, p := range []asm.Local{s.xw, s.bp, s.pre} {
		s.h.AddI32(p, int32(nb*G*16))
	}
	s.h.AddI32(s.rp, int32(nb*H*G*16))
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// gates emits one block's gate arithmetic from pre; partial marks the last
// block, which holds fewer than 4 hidden units.
func (s *rnnStepGen) gates(ph rnnPhase, partial bool) {
	h, G := s.h, s.l.G
	acc := make([]asm.Local, G)
	for _, gi := range ph.gates {
		acc[gi] = h.Local(asm.V128)
		h.Get(s.pre).V128Load(uint32(gi * 16)).Set(acc[gi])
	}
	ph.post(acc, partial)
	for _, p := range []asm.Local{s.xw, s.bp, s.pre} {
		h.AddI32(p, int32(G*16))
	}
	for _, p := range []asm.Local{s.hin, s.hout, s.c, s.y, s.pp, s.z, s.rh} {
		h.AddI32(p, 16)
	}
}

// phases lists the step's passes for the op's kind.
func (s *rnnStepGen) phases() []rnnPhase {
	switch s.op.Kind {
	case ir.KindLSTM:
		return []rnnPhase{{gates: []int{0, 1, 2, 3}, src: stepHin, post: s.lstmPost}}
	case ir.KindGRU:
		if s.l.twoPhase {
			return []rnnPhase{{gates: []int{0, 1}, src: stepHin, post: s.gruZR}, {gates: []int{2}, src: stepRH, post: s.gruH}}
		}
		return []rnnPhase{{gates: []int{0, 1, 2}, src: stepHin, post: s.gruLBR}}
	}
	return []rnnPhase{{gates: []int{0}, src: stepHin, post: s.rnnPost}}
}

// activate clips the value on the stack and leaves act(value).
func (s *rnnStepGen) activate(a ir.RNNActivation) {
	x := s.x
	if c := s.op.Clip; c > 0 {
		x.c(float64(c)).min().c(-float64(c)).max()
	}
	t := x.local()
	x.set(t)
	if err := rnnAct(x, a, t); err != nil && s.err == nil {
		s.err = err
	}
}

// ld pushes the vector at p + off.
func (s *rnnStepGen) ld(p asm.Local, off int) {
	s.h.Get(p).V128Load(uint32(off))
}

// storeH writes the block's new h to hout and y (lane by lane when
// partial).
func (s *rnnStepGen) storeH(v asm.Local, partial bool) {
	h := s.h
	h.Get(s.hout).Get(v).V128Store(0)
	if !partial {
		h.Get(s.y).Get(v).V128Store(0)
		return
	}
	for lane := 0; lane < s.l.d.Hidden%4; lane++ {
		h.Get(s.y).Get(v).V128Store32Lane(uint32(4*lane), byte(lane))
	}
}

func (s *rnnStepGen) rnnPost(acc []asm.Local, partial bool) {
	x := s.x
	x.get(acc[0])
	s.activate(s.acts[0])
	hn := x.local()
	x.set(hn)
	s.storeH(hn, partial)
}

// LSTM gates i o f c; peepholes i o f.
func (s *rnnStepGen) lstmPost(acc []asm.Local, partial bool) {
	x, h4 := s.x, s.l.H4*4
	cp, ig, fg, cg, cn, og, hn := x.local(), x.local(), x.local(), x.local(), x.local(), x.local(), x.local()
	s.ld(s.c, 0)
	x.set(cp)
	gate := func(gi, pi int, cv, out asm.Local) {
		x.get(acc[gi])
		if s.hasP {
			s.ld(s.pp, pi*h4)
			x.get(cv).mul().add()
		}
		s.activate(s.acts[0])
		x.set(out)
	}
	gate(0, 0, cp, ig)
	if s.op.InputForget {
		x.c(1).get(ig).sub().set(fg)
	} else {
		gate(2, 2, cp, fg)
	}
	x.get(acc[3])
	s.activate(s.acts[1])
	x.set(cg)
	x.get(fg).get(cp).mul().get(ig).get(cg).mul().add().set(cn)
	gate(1, 1, cn, og)
	if err := rnnAct(x, s.acts[2], cn); err != nil && s.err == nil {
		s.err = err
	}
	x.get(og).mul().set(hn)
	s.h.Get(s.c).Get(cn).V128Store(0)
	s.storeH(hn, partial)
}

// gruUpdate pushes (1 - z) . hh + z . h.
func (s *rnnStepGen) gruUpdate(z, hh asm.Local) {
	x := s.x
	x.c(1).get(z).sub().get(hh).mul()
	x.get(z)
	s.ld(s.hin, 0)
	x.mul().add()
}

// gruZRGates sets z and r, GRU's update and reset gates.
func (s *rnnStepGen) gruZRGates(acc []asm.Local, z, r asm.Local) {
	x := s.x
	x.get(acc[0])
	s.activate(s.acts[0])
	x.set(z)
	x.get(acc[1])
	s.activate(s.acts[0])
	x.set(r)
}

// GRU with linear_before_reset: hh = g(xw + Wbh + r . (h Rh^T + Rbh)).
func (s *rnnStepGen) gruLBR(acc []asm.Local, partial bool) {
	x := s.x
	z, r, hh, hn := x.local(), x.local(), x.local(), x.local()
	s.gruZRGates(acc, z, r)
	s.ld(s.xw, 2*16)
	if s.hasB {
		s.ld(s.bp, 2*16)
		x.add()
	}
	x.get(r).get(acc[2]).mul().add()
	s.activate(s.acts[1])
	x.set(hh)
	s.gruUpdate(z, hh)
	x.set(hn)
	s.storeH(hn, partial)
}

// GRU's first phase: z to its buffer, r . h to rh.
func (s *rnnStepGen) gruZR(acc []asm.Local, partial bool) {
	x := s.x
	z, r := x.local(), x.local()
	s.gruZRGates(acc, z, r)
	s.h.Get(s.z).Get(z).V128Store(0)
	s.h.Get(s.rh)
	x.get(r)
	s.ld(s.hin, 0)
	x.mul()
	s.h.V128Store(0)
}

// GRU's second phase: hh = g(xw + Wbh + Rbh + (r . h) Rh^T).
func (s *rnnStepGen) gruH(acc []asm.Local, partial bool) {
	x := s.x
	z, hh, hn := x.local(), x.local(), x.local()
	x.get(acc[2])
	s.activate(s.acts[1])
	x.set(hh)
	s.ld(s.z, 0)
	x.set(z)
	s.gruUpdate(z, hh)
	x.set(hn)
	s.storeH(hn, partial)
}
