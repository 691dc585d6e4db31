package codegen

import (
	"math"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Attention. Each query row is one pass: the scaled query row goes to the
// workspace, scores against every key are SIMD dot products, the bias
// (mask, causal frontier, padding) is added per key, then softmax and the
// probability-weighted sum of value rows, SIMD over the value columns
// with register accumulators. Keys and values with a past cache, or in
// float16/bfloat16, are first gathered into one [B, Hkv, T, D] buffer in
// the compute type (f32, f64 for double).

func init() {
	registerWorkspace(func(n *ir.Node, op *ir.Attention) int {
		l, err := attnLayoutFor(n, op)
		if err != nil {
			return 0
		}
		return l.total
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Attention) error { return k.attention(n, op) })
	registerWorkspace(func(n *ir.Node, op *ir.AttentionScores) int {
		return 16 + n.Inputs[0].Type.Shape[3]*8
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.AttentionScores) error { return k.attentionScores(n, op) })
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.AttentionApply) error { return k.attentionApply(n) })
}

// attnCompute is the compute dtype of an attention over dts: float64 if
// any of them is, else float32.
func attnCompute(dts ...ir.DType) ir.DType {
	for _, dt := range dts {
		if dt == ir.Float64 {
			return ir.Float64
		}
	}
	return ir.Float32
}

type attnLayout struct {
	d          ir.AttnDims
	dt, cdt    ir.DType
	kbuf, vbuf int // -1 when K/V are read in place
	qrow, srow int
	total      int
}

func attnLayoutFor(n *ir.Node, op *ir.Attention) (attnLayout, error) {
	var l attnLayout
	d, err := op.Dims(n.Inputs)
	if err != nil {
		return l, err
	}
	l.d = d
	l.dt = n.Inputs[0].Type.DType
	l.cdt = attnCompute(l.dt)
	if l.dt != l.cdt && !op.Flex {
		// 16-bit Attention computes in float64, as the ONNX reference does
		// (its float64 scale factor promotes the products): results are
		// then the exactly rounded values.
		l.cdt = ir.Float64
	}
	sz := elemBytes(l.cdt)
	ws := wsLayout{sz: sz}
	wide := l.dt != l.cdt
	l.kbuf, l.vbuf = -1, -1
	if wide || (d.P > 0 && n.Out(1) == nil) {
		l.kbuf = ws.alloc(d.B * d.Hkv * d.T() * d.Dk)
	}
	if wide || (d.P > 0 && n.Out(2) == nil) {
		l.vbuf = ws.alloc(d.B * d.Hkv * d.T() * d.Dv)
	}
	l.qrow = ws.alloc(d.Dk)
	l.srow = ws.alloc(d.T())
	l.total = ws.end
	return l, nil
}

// kvSource addresses rows of K or V: row (b, h, t) starts at
// base + b*bs + h*hs + t*rs bytes.
type kvSource struct {
	base       int32
	bs, hs, rs int
	dt         ir.DType
}

// roundAs rounds the value of Wasm type ct on the stack to the precision
// of float dtype dt, keeping its type.
func (k *Ctx) roundAs(dt ir.DType, ct wasm.ValueType) {
	f := k.F
	if dt == ir.Float64 {
		return
	}
	convert(f, ct, asm.F32, false)
	k.roundTo(dt)
	convert(f, asm.F32, ct, false)
}

// copyElems copies n elements from the address in src to the one in dst,
// converting dtypes; both locals advance past the run.
func (k *Ctx) copyElems(dst, src asm.Local, n int, from, to ir.DType) {
	f := k.F
	if n == 0 {
		return
	}
	if from == to {
		b := int32(n * elemBytes(from))
		f.Get(dst).Get(src).I32Const(b).MemoryCopy()
		f.AddI32(dst, b)
		f.AddI32(src, b)
		return
	}
	c := f.Local(asm.I32)
	ct, _ := computeType(to)
	f.Counted(c, n, func() {
		f.Get(dst).Get(src)
		k.loadAs(from, 0, ct)
		k.storeElem(to, 0)
		f.AddI32(src, int32(elemBytes(from)))
		f.AddI32(dst, int32(elemBytes(to)))
	})
}

// copyScaled is copyElems with each element times scale and rounded to
// round's precision; scale 1 copies plainly.
func (k *Ctx) copyScaled(dst, src asm.Local, n int, from, to ir.DType, scale float64, round ir.DType) {
	if scale == 1 {
		k.copyElems(dst, src, n, from, to)
		return
	}
	f := k.F
	c := f.Local(asm.I32)
	ct, _ := computeType(to)
	f.Counted(c, n, func() {
		f.Get(dst).Get(src)
		k.loadAs(from, 0, ct)
		fxFor(f, ct, false).c(scale).mul()
		k.roundTo(round)
		k.storeElem(to, 0)
		f.AddI32(src, int32(elemBytes(from)))
		f.AddI32(dst, int32(elemBytes(to)))
	})
}

// gatherKV writes past and new rows into a [B, Hkv, T, D] tensor of dtype
// to at dst, times scale and rounded to round's precision when scale != 1.
func (k *Ctx) gatherKV(dst int32, to ir.DType, past *ir.Value, src kvSource, d ir.AttnDims, D int, scale float64, round ir.DType) {
	f := k.F
	pd, ps, pp := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	b, h, t := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(dst).Set(pd)
	if past != nil {
		f.I32Const(k.Addr(past)).Set(pp)
	}
	f.Repeat(b, d.B, func() {
		f.Repeat(h, d.Hkv, func() {
			if past != nil {
				k.copyScaled(pd, pp, d.P*D, past.Type.DType, to, scale, round)
			}
			f.I32Const(src.base).Get(b).I32Const(int32(src.bs)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
			f.Get(h).I32Const(int32(src.hs)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(ps)
			row := f.Local(asm.I32)
			f.Counted(t, d.S, func() {
				f.Get(ps).Set(row)
				k.copyScaled(pd, row, D, src.dt, to, scale, round)
				f.AddI32(ps, int32(src.rs))
			})
		})
	})
}

// inputKV describes K (or V) as given: 4-D [B, Hkv, S, D] or 3-D [B, S, Hkv*D].
func (k *Ctx) inputKV(v *ir.Value, d ir.AttnDims, D int) kvSource {
	e := elemBytes(v.Type.DType)
	if d.ThreeD {
		return kvSource{base: k.Addr(v), bs: d.S * d.Hkv * D * e, hs: D * e, rs: d.Hkv * D * e, dt: v.Type.DType}
	}
	return kvSource{base: k.Addr(v), bs: d.Hkv * d.S * D * e, hs: d.S * D * e, rs: D * e, dt: v.Type.DType}
}

// gathered describes a [B, Hkv, T, D] tensor.
func gathered(base int32, d ir.AttnDims, D int, dt ir.DType) kvSource {
	e := elemBytes(dt)
	return kvSource{base: base, bs: d.Hkv * d.T() * D * e, hs: d.T() * D * e, rs: D * e, dt: dt}
}

func (k *Ctx) attention(n *ir.Node, op *ir.Attention) error {
	l, err := attnLayoutFor(n, op)
	if err != nil {
		return err
	}
	d := l.d
	ws := k.WorkspaceAddr()
	// Key and value sources, with the present outputs written on the way.
	// FlexAttention on a 16-bit input keeps its definition's intermediate
	// roundings: Q and K scaled in the input type (K while gathered), and
	// scores from a matmul in the input type.
	narrow := l.dt != l.cdt && op.Flex
	ss := op.ScaleSqrt(d, l.dt)
	kv := func(in int, present *ir.Value, buf int, D int) kvSource {
		src := k.inputKV(n.In(in), d, D)
		past := n.In(in + 3)
		if present != nil {
			k.gatherKV(k.Addr(present), l.dt, past, src, d, D, 1, l.dt)
			src = gathered(k.Addr(present), d, D, l.dt)
		}
		scale := 1.0
		if narrow && in == 1 {
			scale = ss
		}
		if buf >= 0 {
			if present != nil {
				k.gatherKV(ws+int32(buf), l.cdt, nil, src, ir.AttnDims{B: d.B, Hkv: d.Hkv, S: d.T()}, D, scale, l.dt)
			} else {
				k.gatherKV(ws+int32(buf), l.cdt, past, src, d, D, scale, l.dt)
			}
			src = gathered(ws+int32(buf), d, D, l.cdt)
		}
		return src
	}
	if d.B == 0 || d.Hkv == 0 {
		return nil
	}
	ks := kv(1, n.Out(1), l.kbuf, d.Dk)
	vs := kv(2, n.Out(2), l.vbuf, d.Dv)
	y := n.Out(0)
	if d.L == 0 || d.Hq == 0 {
		return nil
	}
	if d.T() == 0 {
		if y != nil {
			k.zeroFill(y)
		}
		return nil
	}
	r := k.planAttnRows(n, op, l, ks, vs, ss, narrow)
	f := k.F
	f.Repeat(r.b, d.B, func() {
		if r.nonpad != nil {
			f.Get(r.b).I32Const(3).Op(wasm.OpcodeI32Shl).I64Load(uint32(k.Addr(r.nonpad))).Set(r.npv)
		}
		f.Repeat(r.hk, d.Hkv, func() {
			f.Repeat(r.g, d.Group(), func() {
				f.Get(r.hk).I32Const(int32(d.Group())).Op(wasm.OpcodeI32Mul).Get(r.g).Op(wasm.OpcodeI32Add).Set(r.hq)
				f.Repeat(r.li, d.L, r.row)
			})
		})
	})
	return r.errs.err
}

// attnRows is the plan of Attention's query rows (strides, mask layout,
// which optional steps run) and the locals its emit steps share; row
// emits one (batch, head, query) row from it: addresses, the key limit,
// scores, softmax, then P V.
type attnRows struct {
	k                   *Ctx
	op                  *ir.Attention
	l                   attnLayout
	d                   ir.AttnDims
	ks, vs              kvSource
	q, mask, nonpad     *ir.Value
	y, qk               *ir.Value
	ct                  wasm.ValueType
	x                   fx
	csz, esz            int32
	T                   int
	ss                  float64
	narrow              bool
	hasBias             bool
	narrowSoftmax       bool  // softmax_precision narrower than the compute type
	qStrides, yStrides  []int // bytes per batch, head, row
	mstr                [4]int
	msz                 int
	qrow, srow          int32
	b, hk, g, li, hq    asm.Local
	pq, pk, pv, pm, py  asm.Local
	pqk, lim, npv, j    asm.Local
	s, m, bv, maxb, sum asm.Local
	errs                firstErr
}

// planAttnRows decides the row strides and steps and declares the
// locals the row loops share.
func (k *Ctx) planAttnRows(n *ir.Node, op *ir.Attention, l attnLayout, ks, vs kvSource, ss float64, narrow bool) *attnRows {
	f, d := k.F, l.d
	ws := k.WorkspaceAddr()
	r := &attnRows{k: k, op: op, l: l, d: d, ks: ks, vs: vs, ss: ss, narrow: narrow}
	r.y, r.qk = n.Out(0), n.Out(3)
	r.ct, _ = computeType(l.cdt)
	r.csz = int32(elemBytes(l.cdt))
	r.esz = int32(elemBytes(l.dt))
	r.T = d.T()
	r.q = n.In(0)
	r.mask, r.nonpad = n.In(3), n.In(6)
	r.x = fxFor(f, r.ct, false)
	// Strides of Q and Y rows.
	qbs, qhs, qls := d.Hq*d.L*d.Dk, d.L*d.Dk, d.Dk
	ybs, yhs, yls := d.Hq*d.L*d.Dv, d.L*d.Dv, d.Dv
	if d.ThreeD {
		qbs, qhs, qls = d.L*d.Hq*d.Dk, d.Dk, d.Hq*d.Dk
		ybs, yhs, yls = d.L*d.Hq*d.Dv, d.Dv, d.Hq*d.Dv
	}
	esz := int(r.esz)
	r.qStrides = []int{qbs * esz, qhs * esz, qls * esz}
	r.yStrides = []int{ybs * esz, yhs * esz, yls * esz}
	if r.mask != nil {
		r.msz = elemBytes(r.mask.Type.DType)
		st := d.MaskShape.Strides()
		for i, s := range d.MaskShape {
			if s != 1 {
				r.mstr[i] = st[i] * r.msz
			}
		}
	}
	r.b, r.hk, r.g, r.li, r.hq = f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	r.pq, r.pk, r.pv, r.pm, r.py, r.pqk = f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	r.lim, r.npv = f.Local(asm.I32), f.Local(asm.I64)
	r.j = f.Local(asm.I32)
	x := r.x
	r.s, r.m, r.bv, r.maxb, r.sum = x.local(), x.local(), x.local(), x.local(), x.local()
	r.hasBias = r.mask != nil || op.IsCausal || r.nonpad != nil
	// A softmax_precision narrower than the compute type rounds the
	// softmax's input and output to it.
	r.narrowSoftmax = op.SoftmaxDType != ir.Invalid && op.SoftmaxDType.Bits() < 8*int(r.csz)
	r.qrow, r.srow = ws+int32(l.qrow), ws+int32(l.srow)
	return r
}

// row emits one query row (locals b, hq, li set).
func (r *attnRows) row() {
	k, f, d, l := r.k, r.k.F, r.d, r.l
	// Scaled query row.
	k.rowAddr(k.Addr(r.q), []asm.Local{r.b, r.hq, r.li}, r.qStrides)
	f.Set(r.pq)
	r.errs.check(k.scaledRow(r.qrow, r.pq, l.dt, l.cdt, d.Dk, r.ss, r.narrow))
	k.rowAddr(r.ks.base, []asm.Local{r.b, r.hk}, []int{r.ks.bs, r.ks.hs})
	f.Set(r.pk)
	if r.mask != nil {
		k.rowAddr(k.Addr(r.mask), []asm.Local{r.b, r.hq, r.li}, r.mstr[:3])
		f.Set(r.pm)
	}
	if r.qk != nil {
		r.qkRowAddr()
	}
	r.keyLimit()
	r.scores()
	r.softmax()
	// Y row = P V.
	if r.y != nil {
		k.rowAddr(r.vs.base, []asm.Local{r.b, r.hk}, []int{r.vs.bs, r.vs.hs})
		f.Set(r.pv)
		k.rowAddr(k.Addr(r.y), []asm.Local{r.b, r.hq, r.li}, r.yStrides)
		f.Set(r.py)
		pr := f.Local(asm.I32)
		f.I32Const(r.srow).Set(pr)
		r.errs.check(k.attnPV(r.ct, pr, l.cdt, r.pv, r.vs, r.T, d.Dv, r.py, l.dt))
	}
}

// qkRowAddr points pqk at this row of the qk output.
func (r *attnRows) qkRowAddr() {
	d, T, esz := r.d, r.T, int(r.esz)
	r.k.rowAddr(r.k.Addr(r.qk), []asm.Local{r.b, r.hq, r.li}, []int{d.Hq * d.L * T * esz, d.L * T * esz, T * esz})
	r.k.F.Set(r.pqk)
}

// keyLimit sets lim: keys j >= lim are cut by the causal frontier or the
// padding.
func (r *attnRows) keyLimit() {
	f, d, op, T := r.k.F, r.d, r.op, r.T
	if !op.IsCausal && r.nonpad == nil {
		return
	}
	f.I32Const(int32(T)).Set(r.lim)
	if op.IsCausal {
		switch {
		case d.P > 0:
			f.Get(r.li).I32Const(int32(d.P + 1)).Op(wasm.OpcodeI32Add).Set(r.lim)
		case r.nonpad != nil:
			// l + nonpad - L + 1, clamped to [0, T] in i64.
			c := f.Local(asm.I64)
			f.Get(r.li).Op(wasm.OpcodeI64ExtendI32S).Get(r.npv).Op(wasm.OpcodeI64Add).I64Const(int64(1 - d.L)).Op(wasm.OpcodeI64Add).Set(c)
			clampI64(f, c, 0, int64(T))
			f.Get(c).Op(wasm.OpcodeI32WrapI64).Set(r.lim)
		default:
			f.Get(r.li).I32Const(1).Op(wasm.OpcodeI32Add).Set(r.lim)
		}
	}
	if r.nonpad != nil {
		c := f.Local(asm.I64)
		f.Get(r.npv).Set(c)
		clampI64(f, c, 0, int64(T))
		f.Get(c).Op(wasm.OpcodeI32WrapI64).Get(r.lim).Get(c).Op(wasm.OpcodeI32WrapI64).Get(r.lim).Op(wasm.OpcodeI32LtS).Select().Set(r.lim)
	}
}

// scores writes the row's biased, capped scores into srow, tracking
// their maximum m and the bias maximum maxb.
func (r *attnRows) scores() {
	x, d, T := r.x, r.d, r.T
	ninf := math.Inf(-1)
	x.c(ninf).set(r.maxb)
	x.c(ninf).set(r.m)
	// Keys [0, jm) read the mask; a short mask (opset 24) masks the rest.
	jm := T
	if r.mask != nil {
		if _, ok := d.MaskColumn(T-1, r.op.PadMask); !ok {
			jm = d.MaskShape[3]
		}
	}
	r.keys(0, jm, true)
	r.keys(jm, T, false)
}

// keys emits the scores of keys [from, to).
func (r *attnRows) keys(from, to int, readMask bool) {
	k, f, x, op, mask, l := r.k, r.k.F, r.x, r.op, r.mask, r.l
	ninf := math.Inf(-1)
	mcol := 0
	if mask != nil && r.d.MaskShape[3] != 1 {
		mcol = r.msz
	}
	f.ForStep(r.j, from, to, 1, func() {
		// Bias of key j.
		if r.hasBias {
			switch {
			case mask == nil:
				x.c(0)
			case !readMask:
				x.c(ninf)
			case mask.Type.DType == ir.Bool:
				x.c(0).c(ninf)
				f.Get(r.pm).I32Load8U(0)
				x.sel()
			default:
				f.Get(r.pm)
				r.errs.check(k.loadAs(mask.Type.DType, 0, r.ct))
			}
			if op.IsCausal || r.nonpad != nil {
				x.c(ninf).c(0)
				f.Get(r.j).Get(r.lim).Op(wasm.OpcodeI32GeS)
				x.sel().add()
			}
			x.set(r.bv)
			x.get(r.maxb).get(r.bv).max().set(r.maxb)
			if readMask && mcol != 0 {
				f.AddI32(r.pm, int32(mcol))
			}
		}
		// Score.
		k.attnDot(r.ct, r.qrow, r.pk, r.ks.dt, r.d.Dk)
		if r.narrow {
			k.roundTo(l.dt) // K was scaled while gathered
		} else {
			x.c(r.ss).mul()
		}
		x.set(r.s)
		r.storeQK(0)
		if op.Softcap != 0 {
			c := float64(op.Softcap)
			x.get(r.s).c(1 / c).mul().set(r.s)
			x.tanh(r.s).c(c).mul().set(r.s)
		}
		r.storeQK(1)
		if r.hasBias {
			x.get(r.s).get(r.bv).add().set(r.s)
		}
		r.storeQK(2)
		if r.qk != nil {
			f.AddI32(r.pqk, r.esz)
		}
		if r.narrowSoftmax {
			x.get(r.s)
			k.roundAs(op.SoftmaxDType, r.ct)
			x.set(r.s)
		}
		f.Get(r.j).I32Const(r.csz).Op(wasm.OpcodeI32Mul).Get(r.s)
		r.errs.check(k.storeElem(l.cdt, uint32(r.srow)))
		x.get(r.m).get(r.s).max().set(r.m)
		f.AddI32(r.pk, int32(r.ks.rs))
	})
}

// storeQK stores the score s into the qk output when its mode is mode.
func (r *attnRows) storeQK(mode int) {
	if r.qk != nil && r.op.QKMode == mode {
		r.k.F.Get(r.pqk).Get(r.s)
		r.errs.check(r.k.storeAs(r.l.dt, 0, r.ct))
	}
}

// softmax turns the scores in srow into probabilities; a row without any
// attended key gives zeros.
func (r *attnRows) softmax() {
	k, f, x, op, l, T := r.k, r.k.F, r.x, r.op, r.l, r.T
	ninf := math.Inf(-1)
	if !op.Flex {
		x.c(0).get(r.m).get(r.m).c(ninf).eq().sel().set(r.m)
	}
	x.c(0).set(r.sum)
	p := f.Local(asm.I32)
	f.I32Const(r.srow).Set(p)
	c := f.Local(asm.I32)
	f.Counted(c, T, func() {
		f.Get(p)
		f.Get(p)
		r.errs.check(k.loadElem(l.cdt, 0))
		x.get(r.m).sub().set(r.s)
		x.exp(r.s).tee(r.s)
		r.errs.check(k.storeElem(l.cdt, 0))
		x.get(r.sum).get(r.s).add().set(r.sum)
		f.AddI32(p, r.csz)
	})
	if !op.Flex {
		x.c(1).get(r.sum).get(r.sum).c(0).eq().sel().set(r.sum)
	}
	x.c(1).get(r.sum).div().set(r.sum)
	masked := f.Local(asm.I32)
	if r.hasBias && !op.Flex {
		x.get(r.maxb).c(ninf).eq()
		f.Set(masked)
	}
	if r.qk != nil && op.QKMode == 3 {
		r.qkRowAddr()
	}
	f.I32Const(r.srow).Set(p)
	f.Counted(c, T, func() {
		f.Get(p)
		f.Get(p)
		r.errs.check(k.loadElem(l.cdt, 0))
		x.get(r.sum).mul()
		if r.narrowSoftmax {
			k.roundAs(op.SoftmaxDType, r.ct)
		}
		if r.hasBias && !op.Flex {
			x.set(r.s).c(0).get(r.s).f.Get(masked)
			x.sel()
		}
		x.tee(r.s)
		r.errs.check(k.storeElem(l.cdt, 0))
		if r.qk != nil && op.QKMode == 3 {
			f.Get(r.pqk).Get(r.s)
			r.errs.check(k.storeAs(l.dt, 0, r.ct))
			f.AddI32(r.pqk, r.esz)
		}
		f.AddI32(p, r.csz)
	})
}

// attnHeads loops over batch, key head, query head of the group and query
// row, with the query head in hq.
func (k *Ctx) attnHeads(B, Hkv, G, L int, body func(b, hk, hq, l asm.Local)) {
	f := k.F
	b, hk, g, l, hq := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.Repeat(b, B, func() {
		f.Repeat(hk, Hkv, func() {
			f.Repeat(g, G, func() {
				f.Get(hk).I32Const(int32(G)).Op(wasm.OpcodeI32Mul).Get(g).Op(wasm.OpcodeI32Add).Set(hq)
				f.Repeat(l, L, func() { body(b, hk, hq, l) })
			})
		})
	})
}

// rowAddr pushes base + sum(idx*stride) for index locals and byte strides.
func (k *Ctx) rowAddr(base int32, idx []asm.Local, strides []int) {
	f := k.F
	f.I32Const(base)
	for i, st := range strides {
		if st != 0 {
			f.Get(idx[i]).I32Const(int32(st)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
		}
	}
}

// attentionScores is FlexAttention's score stage.
func (k *Ctx) attentionScores(n *ir.Node, op *ir.AttentionScores) error {
	f := k.F
	q, kk, out := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	dt, odt := q.Type.DType, out.Type.DType
	B, Hq, L, E := q.Type.Shape[0], q.Type.Shape[1], q.Type.Shape[2], q.Type.Shape[3]
	Hkv, S := kk.Type.Shape[1], kk.Type.Shape[2]
	if out.Type.Shape.Size() == 0 {
		return nil
	}
	cdt := attnCompute(dt, odt)
	ct, _ := computeType(cdt)
	x := fxFor(f, ct, false)
	esz, osz := elemBytes(dt), int32(elemBytes(odt))
	sqs := ir.AttentionScaleSqrt(op.Scale, E, dt)
	qrow := k.WorkspaceAddr()
	pq, pk, po, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	var errs firstErr
	k.attnHeads(B, Hkv, Hq/Hkv, L, func(b, hk, hq, l asm.Local) {
		k.rowAddr(k.Addr(q), []asm.Local{b, hq, l}, []int{Hq * L * E * esz, L * E * esz, E * esz})
		f.Set(pq)
		errs.check(k.scaledRow(qrow, pq, dt, cdt, E, sqs, false))
		k.rowAddr(k.Addr(kk), []asm.Local{b, hk}, []int{Hkv * S * E * esz, S * E * esz})
		f.Set(pk)
		k.rowAddr(k.Addr(out), []asm.Local{b, hq, l}, []int{Hq * L * S * int(osz), L * S * int(osz), S * int(osz)})
		f.Set(po)
		f.Counted(c, S, func() {
			f.Get(po)
			k.attnDot(ct, qrow, pk, dt, E)
			x.c(sqs).mul()
			errs.check(k.storeAs(odt, 0, ct))
			f.AddI32(po, osz)
			f.AddI32(pk, int32(E*esz))
		})
	})
	return errs.err
}

// attentionApply is FlexAttention's last stage.
func (k *Ctx) attentionApply(n *ir.Node) error {
	f := k.F
	p, v, out := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	pdt, vdt := p.Type.DType, v.Type.DType
	B, Hq, L, S := p.Type.Shape[0], p.Type.Shape[1], p.Type.Shape[2], p.Type.Shape[3]
	Hkv, Ev := v.Type.Shape[1], v.Type.Shape[3]
	if out.Type.Shape.Size() == 0 {
		return nil
	}
	if S == 0 {
		return k.zeroFill(out)
	}
	cdt := attnCompute(vdt, pdt)
	ct, _ := computeType(cdt)
	psz, vsz := elemBytes(pdt), elemBytes(vdt)
	pr, pv, py := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	var err error
	k.attnHeads(B, Hkv, Hq/Hkv, L, func(b, hk, hq, l asm.Local) {
		k.rowAddr(k.Addr(p), []asm.Local{b, hq, l}, []int{Hq * L * S * psz, L * S * psz, S * psz})
		f.Set(pr)
		k.rowAddr(k.Addr(v), []asm.Local{b, hk}, []int{Hkv * S * Ev * vsz, S * Ev * vsz})
		f.Set(pv)
		k.rowAddr(k.Addr(out), []asm.Local{b, hq, l}, []int{Hq * L * Ev * vsz, L * Ev * vsz, Ev * vsz})
		f.Set(py)
		if e := k.attnPV(ct, pr, pdt, pv, kvSource{rs: Ev * vsz, dt: vdt}, S, Ev, py, vdt); e != nil && err == nil {
			err = e
		}
	})
	return err
}

// scaledRow writes n elements of dt from the address in local src, times
// scale (rounded back to dt's precision when round is set), as cdt
// elements at dst (src is left unchanged).
func (k *Ctx) scaledRow(dst int32, src asm.Local, dt, cdt ir.DType, n int, scale float64, round bool) error {
	f := k.F
	ct, err := computeType(cdt)
	if err != nil {
		return err
	}
	x := fxFor(f, ct, false)
	esz, csz := int32(elemBytes(dt)), int32(elemBytes(cdt))
	if n <= 16 {
		for i := 0; i < n; i++ {
			f.I32Const(dst).Get(src)
			if err := k.loadAs(dt, uint32(int32(i)*esz), ct); err != nil {
				return err
			}
			x.c(scale).mul()
			if round {
				k.roundTo(dt)
			}
			if err := k.storeElem(cdt, uint32(int32(i)*csz)); err != nil {
				return err
			}
		}
		return nil
	}
	ps, pd, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.Get(src).Set(ps)
	f.I32Const(dst).Set(pd)
	if k.SIMD() && dt == ir.Float32 && cdt == ir.Float32 && n >= 4 {
		f.Counted(c, n/4, func() {
			f.Get(pd).Get(ps).V128Load(0).F32x4Const(float32(scale)).Vec(wasm.OpcodeVecF32x4Mul).V128Store(0)
			f.AddI32(ps, 16)
			f.AddI32(pd, 16)
		})
		n %= 4
	}
	f.Counted(c, n, func() {
		f.Get(pd).Get(ps)
		k.loadAs(dt, 0, ct)
		x.c(scale).mul()
		if round {
			k.roundTo(dt)
		}
		k.storeElem(cdt, 0)
		f.AddI32(ps, esz)
		f.AddI32(pd, csz)
	})
	return nil
}

// clampI64 clamps the i64 in local c to [lo, hi].
func clampI64(f *asm.Func, c asm.Local, lo, hi int64) {
	f.I64Const(lo).Get(c).Get(c).I64Const(lo).Op(wasm.OpcodeI64LtS).Select().Set(c)
	f.I64Const(hi).Get(c).Get(c).I64Const(hi).Op(wasm.OpcodeI64GtS).Select().Set(c)
}

// attnDot pushes the dot product of the n compute-type elements at qrow
// and the n elements of dt at the address in local pk (left unchanged).
func (k *Ctx) attnDot(ct wasm.ValueType, qrow int32, pk asm.Local, dt ir.DType, n int) {
	f := k.F
	x := fxFor(f, ct, false)
	cdt := ir.Float32
	if ct == asm.F64 {
		cdt = ir.Float64
	}
	csz, esz := uint32(elemBytes(cdt)), uint32(elemBytes(dt))
	nv := 0
	if k.SIMD() && ct == asm.F32 && dt == ir.Float32 {
		nv = n / 4
	}
	sacc := x.local()
	x.c(0).set(sacc)
	if nv > 0 {
		acc := f.Local(asm.V128)
		f.V128Const([16]byte{}).Set(acc)
		if nv <= 32 {
			for i := 0; i < nv; i++ {
				k.maddOf(f, acc, func() { f.I32Const(qrow).V128Load(uint32(16 * i)) }, func() { f.Get(pk).V128Load(uint32(16 * i)) })
			}
		} else {
			pa, pb, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
			f.I32Const(qrow).Set(pa)
			f.Get(pk).Set(pb)
			f.Counted(c, nv, func() {
				k.maddOf(f, acc, func() { f.Get(pa).V128Load(0) }, func() { f.Get(pb).V128Load(0) })
				f.AddI32(pa, 16)
				f.AddI32(pb, 16)
			})
		}
		for lane := byte(0); lane < 4; lane++ {
			f.Get(acc).Lane(wasm.OpcodeVecF32x4ExtractLane, lane)
			if lane > 0 {
				f.Op(wasm.OpcodeF32Add)
			}
		}
		f.Set(sacc)
	}
	rest := n - 4*nv
	switch {
	case rest <= 0:
	case rest <= 16:
		for i := 4 * nv; i < n; i++ {
			x.get(sacc)
			f.I32Const(qrow)
			k.loadAs(cdt, uint32(i)*csz, ct)
			f.Get(pk)
			k.loadAs(dt, uint32(i)*esz, ct)
			x.mul().add().set(sacc)
		}
	default:
		pa, pb, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		f.I32Const(qrow + int32(4*nv)*int32(csz)).Set(pa)
		f.Get(pk).I32Const(int32(4*nv) * int32(esz)).Op(wasm.OpcodeI32Add).Set(pb)
		f.Counted(c, rest, func() {
			x.get(sacc)
			f.Get(pa)
			k.loadAs(cdt, 0, ct)
			f.Get(pb)
			k.loadAs(dt, 0, ct)
			x.mul().add().set(sacc)
			f.AddI32(pa, int32(csz))
			f.AddI32(pb, int32(esz))
		})
	}
	x.get(sacc)
}

// attnPV writes out[0..n) = sum_j p[j] * V[j, 0..n) for j < T:
// probabilities of pdt from the address in local prow, value rows of vs.dt
// from the address in local pv (stride vs.rs bytes), the row of odt to the
// address in local py. Columns go in chunks held in registers: up to 8
// f32x4 accumulators, then up to 8 scalar ones.
func (k *Ctx) attnPV(ct wasm.ValueType, prow asm.Local, pdt ir.DType, pv asm.Local, vs kvSource, T, n int, py asm.Local, odt ir.DType) error {
	f := k.F
	x := fxFor(f, ct, false)
	psz, vsz, osz := int32(elemBytes(pdt)), int32(elemBytes(vs.dt)), int32(elemBytes(odt))
	simd := k.SIMD() && ct == asm.F32 && vs.dt == ir.Float32
	pp, pr, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	p, pvec := x.local(), f.Local(asm.V128)
	var errs firstErr
	// chunk accumulates columns [c0, c0+w) with w/lanes accumulators.
	chunk := func(c0, w int, vec bool) {
		lanes := 1
		if vec {
			lanes = 4
		}
		na := w / lanes
		accs := make([]asm.Local, na)
		for i := range accs {
			if vec {
				accs[i] = f.Local(asm.V128)
				f.V128Const([16]byte{}).Set(accs[i])
			} else {
				accs[i] = x.local()
				x.c(0).set(accs[i])
			}
		}
		f.Get(prow).Set(pp)
		f.Get(pv).I32Const(int32(c0) * vsz).Op(wasm.OpcodeI32Add).Set(pr)
		f.Counted(c, T, func() {
			f.Get(pp)
			errs.check(k.loadAs(pdt, 0, ct))
			x.set(p)
			if vec {
				f.Get(p).Vec(wasm.OpcodeVecF32x4Splat).Set(pvec)
			}
			for i, a := range accs {
				if vec {
					k.maddOf(f, a, func() { f.Get(pvec) }, func() { f.Get(pr).V128Load(uint32(16 * i)) })
				} else {
					x.get(a).get(p)
					f.Get(pr)
					errs.check(k.loadAs(vs.dt, uint32(int32(i)*vsz), ct))
					x.mul().add().set(a)
				}
			}
			f.AddI32(pp, psz)
			f.AddI32(pr, int32(vs.rs))
		})
		for i, a := range accs {
			col := c0 + i*lanes
			if vec && odt == ir.Float32 {
				f.Get(py).Get(a).V128Store(uint32(int32(col) * osz))
				continue
			}
			for lane := 0; lane < lanes; lane++ {
				f.Get(py).Get(a)
				if vec {
					f.Lane(wasm.OpcodeVecF32x4ExtractLane, byte(lane))
				}
				errs.check(k.storeAs(odt, uint32(int32(col+lane)*osz), ct))
			}
		}
	}
	col := 0
	if simd {
		for ; col+4 <= n; col += min(32, (n-col)/4*4) {
			chunk(col, min(32, (n-col)/4*4), true)
		}
	}
	for ; col < n; col += min(8, n-col) {
		chunk(col, min(8, n-col), false)
	}
	return errs.err
}
