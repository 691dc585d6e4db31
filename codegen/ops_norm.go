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
	f := k.F
	xdt, ydt := p.x.Type.DType, p.y.Type.DType
	cols := p.segs * p.segLen
	if p.rows == 0 || cols == 0 {
		return nil
	}
	ct := p.ct
	xf := fxFor(f, ct, false)
	xsz, ysz := int32(elemBytes(xdt)), int32(elemBytes(ydt))
	sdt := p.scale.Type.DType
	vec := k.SIMD() && ct == asm.F32 && xdt == ir.Float32 && ydt == ir.Float32 && p.segLen >= 4 &&
		sdt == ir.Float32 && (p.bias == nil || p.bias.Type.DType == ir.Float32)
	vx := fxFor(f, asm.F32, true)
	var errs firstErr
	rowNs := float64(cols) * 3 * nsPerScalar
	if vec {
		rowNs = float64(cols) * nsPerLaneOp
	}
	k.Parallel(p.rows, rowNs, func(sp Span) {
		row, xRow, yRow := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		px, py, ps, pb, sc, cc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		sum, mean, variance, inv, v, s, b := f.Local(ct), f.Local(ct), f.Local(ct), f.Local(ct), f.Local(ct), f.Local(ct), f.Local(ct)
		vsum, vmean, vinv, vs, vb, vv := f.Local(asm.V128), f.Local(asm.V128), f.Local(asm.V128), f.Local(asm.V128), f.Local(asm.V128), f.Local(asm.V128)
		loadX := func() { errs.check(k.loadAs(xdt, 0, ct)) }
		// sweep runs body over every element of the row; vbody over groups of
		// four when vectorized. px walks the elements.
		sweep := func(body func(), vbody func()) {
			f.Get(xRow).Set(px)
			f.Counted(sc, p.segs, func() {
				seg := f.Local(asm.I32)
				f.Get(px).Set(seg)
				rest := p.segLen
				if vec {
					f.Counted(cc, p.segLen/4, func() {
						vbody()
						f.AddI32(px, 16)
					})
					rest %= 4
				}
				f.Counted(cc, rest, func() {
					body()
					f.AddI32(px, xsz)
				})
				f.Get(seg).I32Const(int32(p.segSt) * xsz).Op(wasm.OpcodeI32Add).Set(px)
			})
		}
		// hsum adds vsum's lanes to sum.
		hsum := func() {
			if !vec {
				return
			}
			for l := byte(0); l < 4; l++ {
				xf.get(sum).f.Get(vsum).Lane(wasm.OpcodeVecF32x4ExtractLane, l)
				xf.add().set(sum)
			}
		}
		loadScaleBias := func(idx func()) {
			// s, b (and their splats) for the element index on idx
			for _, a := range []struct {
				v   *ir.Value
				dst asm.Local
				vd  asm.Local
			}{{p.scale, s, vs}, {p.bias, b, vb}} {
				if a.v == nil {
					constOf(f, ct, 0)
					f.Set(a.dst)
				} else {
					idx()
					f.I32Const(int32(elemBytes(a.v.Type.DType))).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(a.v)).Op(wasm.OpcodeI32Add)
					errs.check(k.loadAs(a.v.Type.DType, 0, ct))
					f.Set(a.dst)
				}
				if vec {
					f.Get(a.dst).Vec(wasm.OpcodeVecF32x4Splat).Set(a.vd)
				}
			}
		}
		// out writes ((x - mean) * inv) * s + b for the scalar x in v.
		out := func() {
			f.Get(py)
			xf.get(v).get(mean).sub().get(inv).mul().get(s).mul()
			if p.bias != nil {
				xf.get(b).add()
			}
			errs.check(k.storeAs(ydt, 0, ct))
			f.AddI32(py, ysz)
		}
		vout := func() {
			f.Get(py)
			vx.get(vv).get(vmean).sub().get(vinv).mul().get(vs).mul()
			if p.bias != nil {
				vx.get(vb).add()
			}
			f.V128Store(0)
			f.AddI32(py, 16)
		}

		sp.Base(k.Addr(p.x), int32(p.rowStride)*xsz)
		f.Set(xRow)
		sp.Base(k.Addr(p.y), int32(p.rowStride)*ysz)
		f.Set(yRow)
		sp.For(row, func() {
			// mean (or mean square for RMS)
			constOf(f, ct, 0)
			f.Set(sum)
			if vec {
				f.V128Const([16]byte{}).Set(vsum)
			}
			sweep(func() {
				f.Get(px)
				loadX()
				f.Set(v)
				if p.rms {
					xf.get(v).get(v).mul()
				} else {
					xf.get(v)
				}
				xf.get(sum).add().set(sum)
			}, func() {
				f.Get(px).V128Load(0).Set(vv)
				if p.rms {
					vx.get(vv).get(vv).mul()
				} else {
					vx.get(vv)
				}
				vx.get(vsum).add().set(vsum)
			})
			hsum()
			if p.rms {
				constOf(f, ct, 0)
				f.Set(mean)
				xf.get(sum).c(float64(cols)).div().set(variance)
			} else {
				xf.get(sum).c(float64(cols)).div().set(mean)
				// variance as the mean squared deviation
				constOf(f, ct, 0)
				f.Set(sum)
				if vec {
					f.Get(mean).Vec(wasm.OpcodeVecF32x4Splat).Set(vmean)
					f.V128Const([16]byte{}).Set(vsum)
				}
				sweep(func() {
					f.Get(px)
					loadX()
					xf.get(mean).sub().set(v)
					xf.get(v).get(v).mul().get(sum).add().set(sum)
				}, func() {
					f.Get(px).V128Load(0).Get(vmean)
					vx.sub().set(vv)
					vx.get(vv).get(vv).mul().get(vsum).add().set(vsum)
				})
				hsum()
				xf.get(sum).c(float64(cols)).div().set(variance)
			}
			xf.c(1).get(variance).c(p.eps).add().sqrt().div().set(inv)
			if vec {
				f.Get(mean).Vec(wasm.OpcodeVecF32x4Splat).Set(vmean)
				f.Get(inv).Vec(wasm.OpcodeVecF32x4Splat).Set(vinv)
			}
			if p.stats != nil {
				errs.check(p.stats(row, mean, variance, inv))
			}
			// output
			f.Get(yRow).Set(py)
			if p.perCol {
				f.I32Const(p.scaleAt).Set(ps)
				f.I32Const(p.biasAt).Set(pb)
				ssz := int32(elemBytes(sdt))
				var bsz int32
				if p.bias != nil {
					bsz = int32(elemBytes(p.bias.Type.DType))
				}
				sweep(func() {
					f.Get(px)
					loadX()
					f.Set(v)
					f.Get(ps)
					errs.check(k.loadAs(sdt, 0, ct))
					f.Set(s)
					if p.bias != nil {
						f.Get(pb)
						errs.check(k.loadAs(p.bias.Type.DType, 0, ct))
						f.Set(b)
					}
					out()
					f.AddI32(ps, ssz)
					f.AddI32(pb, bsz)
				}, func() {
					f.Get(px).V128Load(0).Set(vv)
					f.Get(ps).V128Load(0).Set(vs)
					if p.bias != nil {
						f.Get(pb).V128Load(0).Set(vb)
					}
					vout()
					f.AddI32(ps, 16)
					f.AddI32(pb, 16)
				})
			} else {
				// chunks of segLen/chunks elements share one scale and bias
				clen := p.segLen / p.chunks
				chunk := f.Local(asm.I32)
				f.Get(xRow).Set(px)
				f.Counted(sc, p.segs, func() {
					seg := f.Local(asm.I32)
					f.Get(px).Set(seg)
					f.Repeat(chunk, p.chunks, func() {
						loadScaleBias(func() {
							f.Get(row).I32Const(int32(p.period)).Op(wasm.OpcodeI32RemU).I32Const(int32(p.chunks)).Op(wasm.OpcodeI32Mul).Get(chunk).Op(wasm.OpcodeI32Add)
						})
						rest := clen
						if vec && clen >= 4 {
							f.Counted(cc, clen/4, func() {
								f.Get(px).V128Load(0).Set(vv)
								vout()
								f.AddI32(px, 16)
							})
							rest %= 4
						}
						f.Counted(cc, rest, func() {
							f.Get(px)
							loadX()
							f.Set(v)
							out()
							f.AddI32(px, xsz)
						})
					})
					f.Get(seg).I32Const(int32(p.segSt) * xsz).Op(wasm.OpcodeI32Add).Set(px)
					if p.segs > 1 {
						// the matching output segment
						f.Get(py).I32Const(int32(p.segSt-p.segLen) * ysz).Op(wasm.OpcodeI32Add).Set(py)
					}
				})
			}
			f.AddI32(xRow, int32(p.rowStride)*xsz)
			f.AddI32(yRow, int32(p.rowStride)*ysz)
		})
	})
	return errs.err
}
