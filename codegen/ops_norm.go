package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// LayerNormalization, RMSNormalization, InstanceNormalization,
// GroupNormalization and training-mode BatchNormalization share one
// kernel: for each row (the elements sharing statistics; segs segments of
// segLen contiguous elements) it sums, then sums squared deviations, then
// writes ((x - mean) * invStdDev) * scale + bias. float32 rows run in
// f32x4 lanes.

type normPlan struct {
	x, y                *ir.Value
	ct                  wasm.ValueType // the stash type's compute type
	rows, rowStride     int            // rows and the element distance between their starts
	segs, segLen, segSt int            // segments per row, their length and distance
	rms                 bool           // no mean: x * invRMS * scale
	eps                 float64
	scale, bias         *ir.Value // bias may be nil
	// perCol: scale and bias hold one value per row element (segs == 1),
	// at scaleAt/biasAt. Otherwise each segment has chunks chunks, chunk c
	// of row r using element (r % period) * chunks + c.
	perCol          bool
	scaleAt, biasAt int32
	period, chunks  int
	// stats, when set, emits code run once per row with its statistics.
	stats func(row, mean, variance, inv asm.Local) error
}

func init() {
	registerWorkspace(func(n *ir.Node, op *ir.LayerNorm) int {
		x := n.Inputs[0].Type.Shape
		axis, err := ir.NormAxis(op.Axis, len(x))
		if err != nil {
			return 0
		}
		cols := x[axis:].Size()
		ws := 0
		for _, v := range n.Inputs[1:] {
			if v != nil && v.Type.Shape.Size() != cols {
				ws += alignUp(cols*elemBytes(v.Type.DType), 16)
			}
		}
		return ws
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.LayerNorm) error {
		return k.layerNorm(n, op)
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.InstanceNorm) error {
		x := n.Inputs[0]
		s := x.Type.Shape
		inner := s[2:].Size()
		return k.normalize(&normPlan{
			x: x, y: n.Outputs[0], ct: valueType(x.Type.DType), rows: s[0] * s[1], rowStride: inner, segs: 1, segLen: inner,
			eps: float64(op.Epsilon), scale: n.Inputs[1], bias: n.Inputs[2], period: s[1], chunks: 1,
		})
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.GroupNorm) error {
		x := n.Inputs[0]
		s := x.Type.Shape
		cols := s[1:].Size() / op.Groups
		p := &normPlan{
			x: x, y: n.Outputs[0], ct: computeOf(op.Stash), rows: s[0] * op.Groups, rowStride: cols, segs: 1, segLen: cols,
			eps: float64(op.Epsilon), scale: n.Inputs[1], bias: n.Inputs[2], period: op.Groups, chunks: s[1] / op.Groups,
		}
		if op.PerGroupAffine {
			p.chunks = 1
		}
		return k.normalize(p)
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.BatchNormTraining) error {
		return k.batchNormTraining(n, op)
	})
}

func computeOf(stash ir.DType) wasm.ValueType {
	if stash == ir.Float64 {
		return asm.F64
	}
	return asm.F32
}

func (k *Ctx) layerNorm(n *ir.Node, op *ir.LayerNorm) error {
	x := n.Inputs[0]
	s := x.Type.Shape
	axis, err := ir.NormAxis(op.Axis, len(s))
	if err != nil {
		return err
	}
	norm := s[axis:]
	cols := norm.Size()
	p := &normPlan{
		x: x, y: n.Outputs[0], ct: computeOf(op.Stash), rows: s[:axis].Size(), rowStride: cols, segs: 1, segLen: cols,
		rms: op.RMS, eps: float64(op.Epsilon), scale: n.Inputs[1], bias: n.In(2), perCol: true,
	}
	// Scale and bias that broadcast are first expanded to the row's shape.
	ws := k.WorkspaceAddr()
	expand := func(v *ir.Value) (int32, error) {
		if v.Type.Shape.Size() == cols {
			return k.Addr(v), nil
		}
		full := k.ValueAt(v.Name+"/expanded", ir.Type{DType: v.Type.DType, Shape: norm}, ws)
		ws += int32(alignUp(cols*elemBytes(v.Type.DType), 16))
		return k.Addr(full), k.stridedCopy(full, k.Addr(v), ir.BroadcastStrides(v.Type.Shape, norm))
	}
	if p.scaleAt, err = expand(p.scale); err != nil {
		return err
	}
	if p.bias != nil {
		if p.biasAt, err = expand(p.bias); err != nil {
			return err
		}
	}
	if !op.RMS && (n.Out(1) != nil || n.Out(2) != nil) {
		mean, inv := n.Out(1), n.Out(2)
		p.stats = func(row, m, _, iv asm.Local) error {
			for _, o := range []struct {
				v   *ir.Value
				val asm.Local
			}{{mean, m}, {inv, iv}} {
				if o.v == nil {
					continue
				}
				dt := o.v.Type.DType
				k.F.Get(row).I32Const(int32(elemBytes(dt))).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(o.v)).Op(wasm.OpcodeI32Add).Get(o.val)
				if err := k.storeAs(dt, 0, p.ct); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return k.normalize(p)
}

// batchNormTraining normalizes each channel with its batch statistics and
// writes the running statistics (and, when asked, the batch ones).
func (k *Ctx) batchNormTraining(n *ir.Node, op *ir.BatchNormTraining) error {
	x := n.Inputs[0]
	s := x.Type.Shape
	N, C, inner := s[0], s[1], s[2:].Size()
	p := &normPlan{
		x: x, y: n.Outputs[0], ct: asm.F32, rows: C, rowStride: inner, segs: N, segLen: inner, segSt: C * inner,
		eps: float64(op.Epsilon), scale: n.Inputs[1], bias: n.Inputs[2], period: C, chunks: 1,
	}
	if x.Type.DType == ir.Float64 {
		p.ct = asm.F64
	}
	f := k.F
	m := float64(op.Momentum)
	p.stats = func(row, mean, variance, _ asm.Local) error {
		xf := fxFor(f, p.ct, false)
		at := func(v *ir.Value) {
			f.Get(row).I32Const(int32(elemBytes(v.Type.DType))).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(v)).Op(wasm.OpcodeI32Add)
		}
		outs := []struct {
			out, running *ir.Value
			batch        asm.Local
		}{{n.Out(1), n.Inputs[3], mean}, {n.Out(2), n.Inputs[4], variance}}
		if len(n.Outputs) > 4 {
			outs = append(outs, struct {
				out, running *ir.Value
				batch        asm.Local
			}{n.Out(3), nil, mean}, struct {
				out, running *ir.Value
				batch        asm.Local
			}{n.Out(4), nil, variance})
		}
		for _, o := range outs {
			if o.out == nil {
				continue
			}
			at(o.out)
			if o.running != nil {
				// running*momentum + batch*(1-momentum)
				at(o.running)
				if err := k.loadAs(o.running.Type.DType, 0, p.ct); err != nil {
					return err
				}
				xf.c(m).mul().get(o.batch).c(1 - m).mul().add()
			} else {
				xf.get(o.batch)
			}
			if err := k.storeAs(o.out.Type.DType, 0, p.ct); err != nil {
				return err
			}
		}
		return nil
	}
	return k.normalize(p)
}

func (k *Ctx) normalize(p *normPlan) error {
	e := planNormRows(k, p)
	if e == nil {
		return nil
	}
	k.Parallel(p.rows, e.rowNs, func(sp Span) {
		e.declare()
		e.rowsOf(sp)
	})
	return e.errs.err
}

// normRows is normalize's emission: what the plan decided (vectorized or
// not, the row's cost, element sizes) and the locals of one row loop.
type normRows struct {
	k                                 *Ctx
	f                                 *asm.Func
	p                                 *normPlan
	xdt, ydt, sdt                     ir.DType
	ct                                wasm.ValueType
	cols                              int
	xsz, ysz                          int32
	vec                               bool // f32x4 sweeps
	rowNs                             float64
	xf, vx                            fx
	errs                              firstErr
	row, xRow, yRow                   asm.Local
	px, py, ps, pb, sc, cc            asm.Local
	sum, mean, variance, inv, v, s, b asm.Local
	vsum, vmean, vinv, vs, vb, vv     asm.Local
}

// planNormRows decides how normalize emits p; nil for nothing to do.
func planNormRows(k *Ctx, p *normPlan) *normRows {
	f := k.F
	e := &normRows{k: k, f: f, p: p, xdt: p.x.Type.DType, ydt: p.y.Type.DType, cols: p.segs * p.segLen}
	if p.rows == 0 || e.cols == 0 {
		return nil
	}
	e.ct = p.ct
	e.xf = fxFor(f, e.ct, false)
	e.xsz, e.ysz = int32(elemBytes(e.xdt)), int32(elemBytes(e.ydt))
	e.sdt = p.scale.Type.DType
	e.vec = k.SIMD() && e.ct == asm.F32 && e.xdt == ir.Float32 && e.ydt == ir.Float32 && p.segLen >= 4 &&
		e.sdt == ir.Float32 && (p.bias == nil || p.bias.Type.DType == ir.Float32)
	e.vx = fxFor(f, asm.F32, true)
	e.rowNs = float64(e.cols) * 3 * nsPerScalar
	if e.vec {
		e.rowNs = float64(e.cols) * nsPerLaneOp
	}
	return e
}

// declare makes the locals of one row loop.
func (e *normRows) declare() {
	f, ct := e.f, e.ct
	e.row, e.xRow, e.yRow = f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	e.px, e.py, e.ps, e.pb, e.sc, e.cc = f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	e.sum, e.mean, e.variance, e.inv, e.v, e.s, e.b = f.Local(ct), f.Local(ct), f.Local(ct), f.Local(ct), f.Local(ct), f.Local(ct), f.Local(ct)
	e.vsum, e.vmean, e.vinv, e.vs, e.vb, e.vv = f.Local(asm.V128), f.Local(asm.V128), f.Local(asm.V128), f.Local(asm.V128), f.Local(asm.V128), f.Local(asm.V128)
}

// rowsOf normalizes the span's rows: statistics, then the output.
func (e *normRows) rowsOf(sp Span) {
	k, f, p := e.k, e.f, e.p
	sp.Base(k.Addr(p.x), int32(p.rowStride)*e.xsz)
	f.Set(e.xRow)
	sp.Base(k.Addr(p.y), int32(p.rowStride)*e.ysz)
	f.Set(e.yRow)
	sp.For(e.row, func() {
		e.statistics()
		// output
		f.Get(e.yRow).Set(e.py)
		if p.perCol {
			e.outputPerColumn()
		} else {
			e.outputChunks()
		}
		f.AddI32(e.xRow, int32(p.rowStride)*e.xsz)
		f.AddI32(e.yRow, int32(p.rowStride)*e.ysz)
	})
}

func (e *normRows) loadX() { e.errs.check(e.k.loadAs(e.xdt, 0, e.ct)) }

// sweep runs body over every element of the row; vbody over groups of
// four when vectorized. px walks the elements.
func (e *normRows) sweep(body func(), vbody func()) {
	f, p := e.f, e.p
	f.Get(e.xRow).Set(e.px)
	f.Counted(e.sc, p.segs, func() {
		seg := f.Local(asm.I32)
		f.Get(e.px).Set(seg)
		rest := p.segLen
		if e.vec {
			f.Counted(e.cc, p.segLen/4, func() {
				vbody()
				f.AddI32(e.px, 16)
			})
			rest %= 4
		}
		f.Counted(e.cc, rest, func() {
			body()
			f.AddI32(e.px, e.xsz)
		})
		f.Get(seg).I32Const(int32(p.segSt) * e.xsz).Op(wasm.OpcodeI32Add).Set(e.px)
	})
}

// hsum adds vsum's lanes to sum.
func (e *normRows) hsum() {
	if !e.vec {
		return
	}
	for l := byte(0); l < 4; l++ {
		e.xf.get(e.sum).f.Get(e.vsum).Lane(wasm.OpcodeVecF32x4ExtractLane, l)
		e.xf.add().set(e.sum)
	}
}

// statistics sets mean, variance and inv = 1/sqrt(variance + eps) of
// the row (the mean square for RMS, with mean 0).
func (e *normRows) statistics() {
	f, p, xf, vx, ct := e.f, e.p, e.xf, e.vx, e.ct
	constOf(f, ct, 0)
	f.Set(e.sum)
	if e.vec {
		f.V128Const([16]byte{}).Set(e.vsum)
	}
	e.sweep(func() {
		f.Get(e.px)
		e.loadX()
		f.Set(e.v)
		if p.rms {
			xf.get(e.v).get(e.v).mul()
		} else {
			xf.get(e.v)
		}
		xf.get(e.sum).add().set(e.sum)
	}, func() {
		f.Get(e.px).V128Load(0).Set(e.vv)
		if p.rms {
			vx.get(e.vv).get(e.vv).mul()
		} else {
			vx.get(e.vv)
		}
		vx.get(e.vsum).add().set(e.vsum)
	})
	e.hsum()
	if p.rms {
		constOf(f, ct, 0)
		f.Set(e.mean)
		xf.get(e.sum).c(float64(e.cols)).div().set(e.variance)
	} else {
		xf.get(e.sum).c(float64(e.cols)).div().set(e.mean)
		// variance as the mean squared deviation
		constOf(f, ct, 0)
		f.Set(e.sum)
		if e.vec {
			f.Get(e.mean).Vec(wasm.OpcodeVecF32x4Splat).Set(e.vmean)
			f.V128Const([16]byte{}).Set(e.vsum)
		}
		e.sweep(func() {
			f.Get(e.px)
			e.loadX()
			xf.get(e.mean).sub().set(e.v)
			xf.get(e.v).get(e.v).mul().get(e.sum).add().set(e.sum)
		}, func() {
			f.Get(e.px).V128Load(0).Get(e.vmean)
			vx.sub().set(e.vv)
			vx.get(e.vv).get(e.vv).mul().get(e.vsum).add().set(e.vsum)
		})
		e.hsum()
		xf.get(e.sum).c(float64(e.cols)).div().set(e.variance)
	}
	xf.c(1).get(e.variance).c(p.eps).add().sqrt().div().set(e.inv)
	if e.vec {
		f.Get(e.mean).Vec(wasm.OpcodeVecF32x4Splat).Set(e.vmean)
		f.Get(e.inv).Vec(wasm.OpcodeVecF32x4Splat).Set(e.vinv)
	}
	if p.stats != nil {
		e.errs.check(p.stats(e.row, e.mean, e.variance, e.inv))
	}
}

// out writes ((x - mean) * inv) * s + b for the scalar x in v.
func (e *normRows) out() {
	f := e.f
	f.Get(e.py)
	e.xf.get(e.v).get(e.mean).sub().get(e.inv).mul().get(e.s).mul()
	if e.p.bias != nil {
		e.xf.get(e.b).add()
	}
	e.errs.check(e.k.storeAs(e.ydt, 0, e.ct))
	f.AddI32(e.py, e.ysz)
}

// vout is out for the four x in vv.
func (e *normRows) vout() {
	f := e.f
	f.Get(e.py)
	e.vx.get(e.vv).get(e.vmean).sub().get(e.vinv).mul().get(e.vs).mul()
	if e.p.bias != nil {
		e.vx.get(e.vb).add()
	}
	f.V128Store(0)
	f.AddI32(e.py, 16)
}

// outputPerColumn writes the row with a scale and bias per element.
func (e *normRows) outputPerColumn() {
	k, f, p, ct := e.k, e.f, e.p, e.ct
	f.I32Const(p.scaleAt).Set(e.ps)
	f.I32Const(p.biasAt).Set(e.pb)
	ssz := int32(elemBytes(e.sdt))
	var bsz int32
	if p.bias != nil {
		bsz = int32(elemBytes(p.bias.Type.DType))
	}
	e.sweep(func() {
		f.Get(e.px)
		e.loadX()
		f.Set(e.v)
		f.Get(e.ps)
		e.errs.check(k.loadAs(e.sdt, 0, ct))
		f.Set(e.s)
		if p.bias != nil {
			f.Get(e.pb)
			e.errs.check(k.loadAs(p.bias.Type.DType, 0, ct))
			f.Set(e.b)
		}
		e.out()
		f.AddI32(e.ps, ssz)
		f.AddI32(e.pb, bsz)
	}, func() {
		f.Get(e.px).V128Load(0).Set(e.vv)
		f.Get(e.ps).V128Load(0).Set(e.vs)
		if p.bias != nil {
			f.Get(e.pb).V128Load(0).Set(e.vb)
		}
		e.vout()
		f.AddI32(e.ps, 16)
		f.AddI32(e.pb, 16)
	})
}

// outputChunks writes the row where chunks of segLen/chunks elements
// share one scale and bias.
func (e *normRows) outputChunks() {
	f, p := e.f, e.p
	clen := p.segLen / p.chunks
	chunk := f.Local(asm.I32)
	f.Get(e.xRow).Set(e.px)
	f.Counted(e.sc, p.segs, func() {
		seg := f.Local(asm.I32)
		f.Get(e.px).Set(seg)
		f.Repeat(chunk, p.chunks, func() {
			e.loadScaleBias(func() {
				f.Get(e.row).I32Const(int32(p.period)).Op(wasm.OpcodeI32RemU).I32Const(int32(p.chunks)).Op(wasm.OpcodeI32Mul).Get(chunk).Op(wasm.OpcodeI32Add)
			})
			rest := clen
			if e.vec && clen >= 4 {
				f.Counted(e.cc, clen/4, func() {
					f.Get(e.px).V128Load(0).Set(e.vv)
					e.vout()
					f.AddI32(e.px, 16)
				})
				rest %= 4
			}
			f.Counted(e.cc, rest, func() {
				f.Get(e.px)
				e.loadX()
				f.Set(e.v)
				e.out()
				f.AddI32(e.px, e.xsz)
			})
		})
		f.Get(seg).I32Const(int32(p.segSt) * e.xsz).Op(wasm.OpcodeI32Add).Set(e.px)
		if p.segs > 1 {
			// the matching output segment
			f.Get(e.py).I32Const(int32(p.segSt-p.segLen) * e.ysz).Op(wasm.OpcodeI32Add).Set(e.py)
		}
	})
}

// loadScaleBias sets s, b (and their splats) for the element index on
// idx.
func (e *normRows) loadScaleBias(idx func()) {
	k, f, p, ct := e.k, e.f, e.p, e.ct
	for _, a := range []struct {
		v   *ir.Value
		dst asm.Local
		vd  asm.Local
	}{{p.scale, e.s, e.vs}, {p.bias, e.b, e.vb}} {
		if a.v == nil {
			constOf(f, ct, 0)
			f.Set(a.dst)
		} else {
			idx()
			f.I32Const(int32(elemBytes(a.v.Type.DType))).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(a.v)).Op(wasm.OpcodeI32Add)
			e.errs.check(k.loadAs(a.v.Type.DType, 0, ct))
			f.Set(a.dst)
		}
		if e.vec {
			f.Get(a.dst).Vec(wasm.OpcodeVecF32x4Splat).Set(a.vd)
		}
	}
}
