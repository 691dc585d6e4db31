package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// RNN, GRU and LSTM. Per direction: W and R are transposed into the
// workspace so that the matmul core streams them row by row, the input
// projection X*W^T of all steps is one matmul, and each step is one matmul
// H*R^T over the batch followed by a gate loop (SIMD over the hidden units
// for float32). State lives in the workspace in the compute type (f32, or
// f64 for double); float16/bfloat16 inputs are widened once.

func init() {
	registerWorkspace(func(n *ir.Node, op *ir.RNN) int {
		l, err := rnnLayoutFor(n, op)
		if err != nil {
			return 0
		}
		if n.Inputs[0].Type.DType == ir.Float32 {
			// The packed kernel when SIMD is on (the workspace cannot tell).
			return max(l.total, rnnFastLayoutFor(op, l.d, false).total)
		}
		return l.total
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.RNN) error {
		return k.rnn(n, op)
	})
}

// rnnLayout places the kernel's scratch buffers.
type rnnLayout struct {
	d                    ir.RNNDims
	cdt                  ir.DType // compute dtype in the workspace
	sz                   int
	xconv, xw, wT, rT    int
	h, c, hr, zb, rb, hh int
	total                int
}

func rnnLayoutFor(n *ir.Node, op *ir.RNN) (rnnLayout, error) {
	var l rnnLayout
	d, err := op.Dims(n.Inputs)
	if err != nil {
		return l, err
	}
	l.d = d
	dt := n.Inputs[0].Type.DType
	l.cdt = ir.Float32
	if dt == ir.Float64 {
		l.cdt = ir.Float64
	}
	l.sz = elemBytes(l.cdt)
	G, H := op.Kind.Gates(), d.Hidden
	ws := wsLayout{sz: l.sz}
	if dt == ir.Float16 || dt == ir.BFloat16 {
		l.xconv = ws.alloc(d.Seq * d.Batch * d.Input)
	}
	l.xw = ws.alloc(d.Seq * d.Batch * G * H)
	l.wT = ws.alloc(d.Input * G * H)
	l.rT = ws.alloc(H * G * H)
	l.h = ws.alloc(d.Batch * H)
	l.c = ws.alloc(d.Batch * H)
	l.hr = ws.alloc(d.Batch * G * H)
	l.zb = ws.alloc(d.Batch * H)
	l.rb = ws.alloc(d.Batch * H)
	l.hh = ws.alloc(d.Batch * H)
	l.total = ws.end
	return l, nil
}

// rnnGen holds what the RNN kernel's pieces share.
type rnnGen struct {
	k      *Ctx
	f      *asm.Func
	op     *ir.RNN
	l      rnnLayout
	dt     ir.DType // storage dtype of X, W, B, P, states and outputs
	ct     wasm.ValueType
	esz    int // bytes per element of dt
	ws     int32
	G, H   int
	layout int
}

func (k *Ctx) rnn(n *ir.Node, op *ir.RNN) error {
	l, err := rnnLayoutFor(n, op)
	if err != nil {
		return err
	}
	if k.rnnFast(n) {
		return k.rnnPacked(n, op, rnnFastLayoutFor(op, l.d, false))
	}
	dt := n.Inputs[0].Type.DType
	ct, err := computeType(dt)
	if err != nil {
		return err
	}
	if ct != asm.F32 && ct != asm.F64 {
		return ir.NotSupportedf("%s on %s", op.Kind, dt)
	}
	g := &rnnGen{k: k, f: k.F, op: op, l: l, dt: dt, ct: ct, esz: elemBytes(dt), ws: k.WorkspaceAddr(),
		G: op.Kind.Gates(), H: l.d.Hidden, layout: op.Layout}
	d := l.d
	if g.trivial(n) {
		return nil
	}
	x := n.In(0)
	xAddr := k.Addr(x)
	if dt == ir.Float16 || dt == ir.BFloat16 {
		g.convert(xAddr, g.ws+int32(l.xconv), d.Seq*d.Batch*d.Input)
		xAddr = g.ws + int32(l.xconv)
	}
	for dir := 0; dir < d.Dirs; dir++ {
		if err := g.direction(n, dir, xAddr, n.Out(0), n.Out(1), n.Out(2)); err != nil {
			return err
		}
	}
	return nil
}

// trivial emits what both RNN kernels do before the recurrence and tells
// whether that completes the node: nothing without batch or hidden units,
// zero Y_h and Y_c without steps; otherwise the sequence lengths' check.
func (g *rnnGen) trivial(n *ir.Node) bool {
	d := g.l.d
	if d.Batch == 0 || d.Hidden == 0 {
		return true
	}
	if d.Seq == 0 {
		for i := 1; i < 3; i++ {
			if v := n.Out(i); v != nil {
				g.k.zeroFill(v)
			}
		}
		return true
	}
	if s := n.In(4); s != nil {
		g.checkSeqLens(s)
	}
	return false
}

// checkSeqLens fails the run when a sequence length is outside [0, seq].
func (g *rnnGen) checkSeqLens(s *ir.Value) {
	f := g.f
	p, c := f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(g.k.Addr(s)).Set(p)
	f.Counted(c, g.l.d.Batch, func() {
		f.Get(p).I32Load(0).I32Const(int32(g.l.d.Seq)).Op(wasm.OpcodeI32GtU)
		g.k.Fail(abi.ErrIndexOutOfRange)
		f.AddI32(p, 4)
	})
}

// convert widens n elements of dt at src into compute-type elements at dst.
func (g *rnnGen) convert(src, dst int32, n int) {
	f := g.f
	ps, pd, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(src).Set(ps)
	f.I32Const(dst).Set(pd)
	f.Counted(c, n, func() {
		f.Get(pd).Get(ps)
		g.k.loadElem(g.dt, 0)
		g.k.storeElem(g.l.cdt, 0)
		f.AddI32(ps, int32(g.esz))
		f.AddI32(pd, int32(g.l.sz))
	})
}

// transpose writes the [rows, cols] matrix of dt at src as [cols, rows] of
// the compute type at dst.
func (g *rnnGen) transpose(src, dst int32, rows, cols int) {
	f := g.f
	ps, pd, rc, cc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	row := f.Local(asm.I32)
	f.I32Const(src).Set(ps)
	f.I32Const(dst).Set(row)
	f.Counted(rc, rows, func() {
		f.Get(row).Set(pd)
		f.Counted(cc, cols, func() {
			f.Get(pd).Get(ps)
			g.k.loadElem(g.dt, 0)
			g.k.storeElem(g.l.cdt, 0)
			f.AddI32(ps, int32(g.esz))
			f.AddI32(pd, int32(rows*g.l.sz))
		})
		f.AddI32(row, int32(g.l.sz))
	})
}

// stateAddr pushes the address of element 0 of state[dir, b] (Y_h,
// initial_h, ...) for the batch index in local b.
func (g *rnnGen) stateAddr(base int32, dir int, b asm.Local) {
	d := g.l.d
	rowB, rowD := 1, d.Batch
	if g.layout == 1 {
		rowB, rowD = d.Dirs, 1
	}
	f := g.f
	f.I32Const(base + int32(dir*rowD*g.H*g.esz)).Get(b).I32Const(int32(rowB * g.H * g.esz)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
}

// loadState copies initial_h or initial_c of one direction into a
// workspace buffer, or zeros it when the input is absent.
func (g *rnnGen) loadState(v *ir.Value, dir int, buf int32) {
	f := g.f
	if v == nil {
		f.I32Const(buf).I32Const(0).I32Const(int32(g.l.d.Batch * g.H * g.l.sz)).MemoryFill()
		return
	}
	b, ps, pd, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(buf).Set(pd)
	f.Repeat(b, g.l.d.Batch, func() {
		g.stateAddr(g.k.Addr(v), dir, b)
		f.Set(ps)
		f.Counted(c, g.H, func() {
			f.Get(pd).Get(ps)
			g.k.loadElem(g.dt, 0)
			g.k.storeElem(g.l.cdt, 0)
			f.AddI32(ps, int32(g.esz))
			f.AddI32(pd, int32(g.l.sz))
		})
	})
}

// storeState writes the final state buffer to Y_h or Y_c; entries whose
// sequence length is 0 get zeros, as in ONNX Runtime.
func (g *rnnGen) storeState(v *ir.Value, dir int, buf int32, seqLens *ir.Value) {
	f := g.f
	b, ps, pd, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(buf).Set(ps)
	f.Repeat(b, g.l.d.Batch, func() {
		g.stateAddr(g.k.Addr(v), dir, b)
		f.Set(pd)
		if seqLens != nil {
			f.Get(b).I32Const(2).Op(wasm.OpcodeI32Shl).I32Load(uint32(g.k.Addr(seqLens))).Op(wasm.OpcodeI32Eqz)
			f.If()
			f.Get(pd).I32Const(0).I32Const(int32(g.H * g.esz)).MemoryFill()
			f.AddI32(ps, int32(g.H*g.l.sz))
			f.Else()
		}
		f.Counted(c, g.H, func() {
			f.Get(pd).Get(ps)
			g.k.loadElem(g.l.cdt, 0)
			g.k.storeElem(g.dt, 0)
			f.AddI32(ps, int32(g.l.sz))
			f.AddI32(pd, int32(g.esz))
		})
		if seqLens != nil {
			f.End()
		}
	})
}

// matmul emits C = A x B over compute-type buffers.
func (g *rnnGen) matmul(M, K, N int, a int32, ars int, b int32, brs int, c int32) error {
	f := g.f
	pa, pb, pc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(a).Set(pa)
	f.I32Const(b).Set(pb)
	f.I32Const(c).Set(pc)
	if K == 0 {
		f.I32Const(c).I32Const(0).I32Const(int32(M * N * g.l.sz)).MemoryFill()
		return nil
	}
	return g.k.emitMatMul(mm{M: M, K: K, N: N, dt: g.l.cdt, a: matrix{pa, ars, 1}, b: matrix{pb, brs, 1}, c: pc})
}

// recurrent emits C = A x B like matmul, with a faster form for the few
// rows of a recurrent step: each row is a vector-matrix product over
// column blocks of 16, 8 and 4 held in f32x4 registers, with the k loop
// unrolled for hidden sizes up to 64.
func (g *rnnGen) recurrent(M, K, N int, a int32, ars int, b int32, brs int, c int32) error {
	if g.l.cdt != ir.Float32 || !g.k.SIMD() || M >= 4 || N < 4 || K == 0 {
		return g.matmul(M, K, N, a, ars, b, brs, c)
	}
	f := g.f
	pa, pc, pb, pcc, cnt, kc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	av := f.Local(asm.V128)
	accs := make([]asm.Local, 4)
	for i := range accs {
		accs[i] = f.Local(asm.V128)
	}
	pak, pbk := f.Local(asm.I32), f.Local(asm.I32)
	rowB := uint32(brs * 4)
	// block emits one block of w columns at pb (B) and pcc (C).
	block := func(w int) {
		na := w / 4
		for i := 0; i < na; i++ {
			f.V128Const([16]byte{}).Set(accs[i])
		}
		step := func(aBase asm.Local, bBase asm.Local, aOff, bOff uint32) {
			f.Get(aBase).V128Load32Splat(aOff).Set(av)
			for i := 0; i < na; i++ {
				f.Get(accs[i]).Get(av).Get(bBase).V128Load(bOff + uint32(16*i))
				f.Vec(wasm.OpcodeVecF32x4Mul).Vec(wasm.OpcodeVecF32x4Add).Set(accs[i])
			}
		}
		if K <= 64 {
			for k := 0; k < K; k++ {
				step(pa, pb, uint32(4*k), uint32(k)*rowB)
			}
		} else {
			f.Get(pa).Set(pak)
			f.Get(pb).Set(pbk)
			f.Counted(kc, K, func() {
				step(pak, pbk, 0, 0)
				f.AddI32(pak, 4)
				f.AddI32(pbk, int32(rowB))
			})
		}
		for i := 0; i < na; i++ {
			f.Get(pcc).Get(accs[i]).V128Store(uint32(16 * i))
		}
		f.AddI32(pb, int32(4*w))
		f.AddI32(pcc, int32(4*w))
	}
	r := f.Local(asm.I32)
	f.I32Const(a).Set(pa)
	f.I32Const(c).Set(pc)
	f.Repeat(r, M, func() {
		f.I32Const(b).Set(pb)
		f.Get(pc).Set(pcc)
		col := 0
		if n16 := N / 16; n16 > 0 {
			f.Counted(cnt, n16, func() { block(16) })
			col = n16 * 16
		}
		for _, w := range []int{8, 4} {
			if N-col >= w {
				block(w)
				col += w
			}
		}
		if rest := N - col; rest > 0 {
			// The last columns: a matmul over the remaining slice.
			pa2, pb2, pc2 := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
			f.Get(pa).Set(pa2)
			f.Get(pb).Set(pb2)
			f.Get(pcc).Set(pc2)
			acc := f.Local(asm.F32)
			f.Counted(cnt, rest, func() {
				f.F32Const(0).Set(acc)
				f.Get(pa2).Set(pak)
				f.Get(pb2).Set(pbk)
				f.Counted(kc, K, func() {
					f.Get(acc).Get(pak).F32Load(0).Get(pbk).F32Load(0)
					f.Op(wasm.OpcodeF32Mul).Op(wasm.OpcodeF32Add).Set(acc)
					f.AddI32(pak, 4)
					f.AddI32(pbk, int32(rowB))
				})
				f.Get(pc2).Get(acc).F32Store(0)
				f.AddI32(pb2, 4)
				f.AddI32(pc2, 4)
			})
		}
		f.AddI32(pa, int32(ars*4))
		f.AddI32(pc, int32(N*4))
	})
	return nil
}

// direction runs one pass over the sequence.
func (g *rnnGen) direction(n *ir.Node, dir int, xAddr int32, y, yh, yc *ir.Value) error {
	f, k, d, l := g.f, g.k, g.l.d, g.l
	H, GH := g.H, g.G*g.H
	ws := g.ws
	g.transpose(k.Addr(n.In(1))+int32(dir*GH*d.Input*g.esz), ws+int32(l.wT), GH, d.Input)
	g.transpose(k.Addr(n.In(2))+int32(dir*GH*H*g.esz), ws+int32(l.rT), GH, H)
	if err := g.matmul(d.Seq*d.Batch, d.Input, GH, xAddr, d.Input, ws+int32(l.wT), GH, ws+int32(l.xw)); err != nil {
		return err
	}
	g.loadState(n.In(5), dir, ws+int32(l.h))
	if g.op.Kind == ir.KindLSTM {
		g.loadState(n.In(6), dir, ws+int32(l.c))
	}
	reverse := g.op.Direction == "reverse" || dir == 1
	seqLens := n.In(4)
	// The recurrent product covers all gates, except for GRU without
	// linear_before_reset, whose hidden gate needs (r . h) first.
	lbr0 := g.op.Kind == ir.KindGRU && !g.op.LinearBeforeReset
	hrN := GH
	if lbr0 {
		hrN = 2 * H
	}
	s, b, t := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	var err error
	f.Repeat(s, d.Seq, func() {
		if e := g.recurrent(d.Batch, H, hrN, ws+int32(l.h), H, ws+int32(l.rT), GH, ws+int32(l.hr)); e != nil {
			err = e
		}
		phases := 1
		if g.op.Kind == ir.KindGRU {
			phases = 2
		}
		for phase := 0; phase < phases; phase++ {
			if phase == 1 && lbr0 {
				// hh = (r . h) x Rh^T
				if e := g.recurrent(d.Batch, H, H, ws+int32(l.rb), H, ws+int32(l.rT)+int32(2*H*l.sz), GH, ws+int32(l.hh)); e != nil {
					err = e
				}
			}
			f.Repeat(b, d.Batch, func() {
				// Entries past their length write zeros to Y at step s and
				// keep their state.
				g.entryStep(seqLens, reverse, s, b, t, func() {
					if y != nil && phase == phases-1 {
						g.yAddr(y, dir, s, b)
						f.I32Const(0).I32Const(int32(H * g.esz)).MemoryFill()
					}
				}, func() {
					if e := g.gateRow(n, dir, phase, hrN, t, b, y); e != nil {
						err = e
					}
				})
			})
		}
	})
	if err != nil {
		return err
	}
	if yh != nil {
		g.storeState(yh, dir, ws+int32(l.h), seqLens)
	}
	if yc != nil {
		g.storeState(yc, dir, ws+int32(l.c), seqLens)
	}
	return nil
}

// entryStep emits body for batch entry b at step s of a pass, with t set
// to the entry's time step (counted from its end for a reverse pass); an
// entry past its sequence length runs past instead.
func (g *rnnGen) entryStep(seqLens *ir.Value, reverse bool, s, b, t asm.Local, past, body func()) {
	f := g.f
	if seqLens != nil {
		ln := f.Local(asm.I32)
		f.Get(b).I32Const(2).Op(wasm.OpcodeI32Shl).I32Load(uint32(g.k.Addr(seqLens))).Set(ln)
		f.Get(s).Get(ln).Op(wasm.OpcodeI32GeS).If()
		past()
		f.Else()
		if reverse {
			f.Get(ln).I32Const(1).Op(wasm.OpcodeI32Sub).Get(s).Op(wasm.OpcodeI32Sub).Set(t)
		} else {
			f.Get(s).Set(t)
		}
	} else if reverse {
		f.I32Const(int32(g.l.d.Seq - 1)).Get(s).Op(wasm.OpcodeI32Sub).Set(t)
	} else {
		f.Get(s).Set(t)
	}
	body()
	if seqLens != nil {
		f.End()
	}
}

// yAddr pushes the address of Y[t, dir, b, 0].
func (g *rnnGen) yAddr(y *ir.Value, dir int, t, b asm.Local) {
	d := g.l.d
	f := g.f
	rowT, rowB, rowD := d.Dirs*d.Batch, 1, d.Batch
	if g.layout == 1 {
		rowT, rowB, rowD = d.Dirs, d.Seq*d.Dirs, 1
	}
	he := int32(g.H * g.esz)
	f.I32Const(g.k.Addr(y) + int32(dir*rowD)*he)
	f.Get(t).I32Const(int32(rowT) * he).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
	f.Get(b).I32Const(int32(rowB) * he).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
}

// gateRow updates the state of batch entry b at time step t: the elementwise
// part of one step, SIMD over hidden units for float32.
func (g *rnnGen) gateRow(n *ir.Node, dir, phase, hrN int, t, b asm.Local, y *ir.Value) error {
	r := g.planGateRow(n, dir, phase, hrN, t, b, y)
	f, H := g.f, g.H
	nv := 0
	if g.k.SIMD() && g.dt == ir.Float32 && H >= 4 {
		nv = H / 4
	}
	cnt := f.Local(asm.I32)
	if nv > 0 {
		f.Counted(cnt, nv, func() { r.elements(true) })
	}
	if H-nv*4 > 0 {
		f.Counted(cnt, H-nv*4, func() { r.elements(false) })
	}
	return r.err
}

// gateRowGen is one batch row of a gate step: its row pointers (set by
// planGateRow) and, while elements emits, the element shape (scalar or
// f32x4).
type gateRowGen struct {
	g                                 *rnnGen
	dir, phase                        int
	pxw, phr, ph, pc, pz, pr, phh, py asm.Local
	pb, pp                            asm.Local // bias and peephole, when present
	bias, peep                        *ir.Value
	hasY                              bool
	acts                              []ir.RNNActivation
	x                                 fx
	v                                 bool
	err                               error // the last error
}

// planGateRow declares the row pointers of batch row b at step t and
// points them at their rows.
func (g *rnnGen) planGateRow(n *ir.Node, dir, phase, hrN int, t, b asm.Local, y *ir.Value) *gateRowGen {
	f, k, d, l := g.f, g.k, g.l.d, g.l
	H, GH := g.H, g.G*g.H
	sz := int32(l.sz)
	r := &gateRowGen{g: g, dir: dir, phase: phase}
	// Row pointers.
	r.pxw, r.phr, r.ph, r.pc, r.pz, r.pr, r.phh, r.py = f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	rowT, rowB := d.Batch, 1
	if g.layout == 1 {
		rowT, rowB = 1, d.Seq
	}
	f.I32Const(g.ws + int32(l.xw)).Get(t).I32Const(int32(rowT*GH) * sz).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
	f.Get(b).I32Const(int32(rowB*GH) * sz).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(r.pxw)
	rowAt := func(buf int, stride int, p asm.Local) {
		f.I32Const(g.ws + int32(buf)).Get(b).I32Const(int32(stride) * sz).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(p)
	}
	rowAt(l.hr, hrN, r.phr)
	rowAt(l.h, H, r.ph)
	rowAt(l.c, H, r.pc)
	rowAt(l.zb, H, r.pz)
	rowAt(l.rb, H, r.pr)
	rowAt(l.hh, H, r.phh)
	r.hasY = y != nil && (g.op.Kind != ir.KindGRU || phase == 1)
	if r.hasY {
		g.yAddr(y, dir, t, b)
		f.Set(r.py)
	}
	r.bias, r.peep = n.In(3), n.In(7)
	if r.bias != nil {
		r.pb = f.Local(asm.I32)
		f.I32Const(k.Addr(r.bias) + int32(dir*2*GH*g.esz)).Set(r.pb)
	}
	if r.peep != nil {
		r.pp = f.Local(asm.I32)
		f.I32Const(k.Addr(r.peep) + int32(dir*3*H*g.esz)).Set(r.pp)
	}
	r.acts = g.op.Activations[dir*g.op.Kind.ActsPerDir():]
	return r
}

// elements emits the cell on one element (or four, when v) and
// advances the row pointers.
func (r *gateRowGen) elements(v bool) {
	g, f := r.g, r.g.f
	r.x, r.v = fxFor(f, g.ct, v), v
	switch g.op.Kind {
	case ir.KindRNN:
		r.rnnCell()
	case ir.KindLSTM:
		r.lstmCell()
	case ir.KindGRU:
		r.gruCell()
	}
	w := int32(1)
	if v {
		w = 4
	}
	for _, p := range []asm.Local{r.pxw, r.phr, r.ph, r.pc, r.pz, r.pr, r.phh} {
		f.AddI32(p, w*int32(g.l.sz))
	}
	if r.hasY {
		f.AddI32(r.py, w*int32(g.esz))
	}
	if r.bias != nil {
		f.AddI32(r.pb, w*int32(g.esz))
	}
	if r.peep != nil {
		f.AddI32(r.pp, w*int32(g.esz))
	}
}

// ld pushes a workspace (compute type) element at byte offset off.
func (r *gateRowGen) ld(p asm.Local, off int) { r.load(p, off, r.g.l.cdt) }

// ldIn pushes an element of an input tensor of the storage dtype.
func (r *gateRowGen) ldIn(p asm.Local, off int) { r.load(p, off, r.g.dt) }

func (r *gateRowGen) load(p asm.Local, off int, dt ir.DType) {
	f := r.g.f
	f.Get(p)
	if r.v {
		f.V128Load(uint32(off))
	} else if e := r.g.k.loadElem(dt, uint32(off)); e != nil {
		r.err = e
	}
}

func (r *gateRowGen) st(p asm.Local, val asm.Local, dt ir.DType) {
	f := r.g.f
	f.Get(p).Get(val)
	if r.v {
		f.V128Store(0)
	} else if e := r.g.k.storeElem(dt, 0); e != nil {
		r.err = e
	}
}

// pre pushes the pre-activation sum of gate gi (without recurrent part
// when withHR is false).
func (r *gateRowGen) pre(gi int, withHR, withRB bool) {
	g, x, H := r.g, r.x, r.g.H
	r.ld(r.pxw, gi*H*g.l.sz)
	if withHR {
		r.ld(r.phr, gi*H*g.l.sz)
		x.add()
	}
	if r.bias != nil {
		r.ldIn(r.pb, gi*H*g.esz)
		x.add()
		if withRB {
			r.ldIn(r.pb, (g.G+gi)*H*g.esz)
			x.add()
		}
	}
}

func (r *gateRowGen) act(a ir.RNNActivation, in asm.Local) {
	if e := rnnAct(r.x, a, in); e != nil {
		r.err = e
	}
}

// activate clips the sum on the stack and applies a, through local tmp.
func (r *gateRowGen) activate(a ir.RNNActivation, tmp asm.Local) {
	if c := r.g.op.Clip; c > 0 {
		r.x.c(float64(c)).min().c(-float64(c)).max()
	}
	r.x.set(tmp)
	r.act(a, tmp)
}

func (r *gateRowGen) rnnCell() {
	x, cdt := r.x, r.g.l.cdt
	a, hn := x.local(), x.local()
	r.pre(0, true, true)
	r.activate(r.acts[0], a)
	x.set(hn)
	r.st(r.ph, hn, cdt)
	if r.hasY {
		r.st(r.py, hn, r.g.dt)
	}
}

func (r *gateRowGen) lstmCell() {
	g, x, cdt := r.g, r.x, r.g.l.cdt
	a, ig, fg, cg, cp, cn, og, hn := x.local(), x.local(), x.local(), x.local(), x.local(), x.local(), x.local(), x.local()
	r.ld(r.pc, 0)
	x.set(cp)
	gate := func(gi, pi int, cv asm.Local, out asm.Local, ai int) {
		r.pre(gi, true, true)
		if r.peep != nil {
			r.ldIn(r.pp, pi*g.H*g.esz)
			x.get(cv).mul().add()
		}
		r.activate(r.acts[ai], a)
		x.set(out)
	}
	gate(0, 0, cp, ig, 0)
	if g.op.InputForget {
		x.c(1).get(ig).sub().set(fg)
	} else {
		gate(2, 2, cp, fg, 0)
	}
	r.pre(3, true, true)
	r.activate(r.acts[1], a)
	x.set(cg)
	x.get(fg).get(cp).mul().get(ig).get(cg).mul().add().set(cn)
	gate(1, 1, cn, og, 0)
	r.act(r.acts[2], cn)
	x.get(og).mul().set(hn)
	r.st(r.pc, cn, cdt)
	r.st(r.ph, hn, cdt)
	if r.hasY {
		r.st(r.py, hn, g.dt)
	}
}

// gruCell is phase 0 (z and r, with r . h unless linear before reset)
// or phase 1 (the candidate and the new h).
func (r *gateRowGen) gruCell() {
	g, x, cdt, H := r.g, r.x, r.g.l.cdt, r.g.H
	a := x.local()
	if r.phase == 0 {
		z, rg := x.local(), x.local()
		r.pre(0, true, true)
		r.activate(r.acts[0], a)
		x.set(z)
		r.pre(1, true, true)
		r.activate(r.acts[0], a)
		x.set(rg)
		r.st(r.pz, z, cdt)
		if !g.op.LinearBeforeReset {
			r.ld(r.ph, 0)
			x.get(rg).mul().set(rg)
		}
		r.st(r.pr, rg, cdt)
		return
	}
	hp, hn := x.local(), x.local()
	if g.op.LinearBeforeReset {
		// g(xw + Wbh + r . (h Rh^T + Rbh))
		r.pre(2, false, false)
		r.ld(r.pr, 0)
		r.ld(r.phr, 2*H*g.l.sz)
		if r.bias != nil {
			r.ldIn(r.pb, (g.G+2)*H*g.esz)
			x.add()
		}
		x.mul().add()
	} else {
		r.pre(2, false, true)
		r.ld(r.phh, 0)
		x.add()
	}
	r.activate(r.acts[1], a)
	x.set(a)
	r.ld(r.ph, 0)
	x.set(hp)
	// (1 - z) . hh + z . h
	x.c(1)
	r.ld(r.pz, 0)
	x.sub().get(a).mul()
	r.ld(r.pz, 0)
	x.get(hp).mul().add().set(hn)
	r.st(r.ph, hn, cdt)
	if r.hasY {
		r.st(r.py, hn, g.dt)
	}
}

// rnnAct pushes activation a of the value in local in.
func rnnAct(x fx, a ir.RNNActivation, in asm.Local) error {
	alpha, beta := float64(a.Alpha), float64(a.Beta)
	switch a.Name {
	case "relu":
		x.get(in).c(0).max()
	case "tanh":
		x.tanh(in)
	case "sigmoid":
		x.sigmoid(in)
	case "affine":
		x.get(in).c(alpha).mul().c(beta).add()
	case "leakyrelu":
		x.get(in).get(in).c(alpha).mul().get(in).c(0).ge().sel()
	case "thresholdedrelu":
		x.get(in).c(0).get(in).c(alpha).gt().sel()
	case "scaledtanh":
		t := x.local()
		x.get(in).c(beta).mul().set(t)
		x.tanh(t).c(alpha).mul()
	case "hardsigmoid":
		x.get(in).c(alpha).mul().c(beta).add().c(0).max().c(1).min()
	case "elu":
		x.get(in).expm1(in).c(alpha).mul().get(in).c(0).ge().sel()
	case "softsign":
		x.get(in).get(in).abs().c(1).add().div()
	case "softplus":
		// max(x, 0) + log(1 + e^-|x|)
		t := x.local()
		x.get(in).abs().neg().set(t)
		x.exp(t).c(1).add().set(t)
		x.get(in).c(0).max().log(t).add()
	default:
		return ir.NotSupportedf("activation function %q", a.Name)
	}
	return nil
}
