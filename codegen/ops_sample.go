package codegen

import (
	"slices"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// GridSample, AffineGrid, RoiAlign and DeformConv: sampling at coordinates
// known only at run time. Coordinates are f32 arithmetic in the order the
// ONNX reference uses; sample values accumulate in the data's compute type.

func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.GridSample) error { return k.gridSample(n, op) })
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.AffineGrid) error { return k.affineGrid(n, op) })
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.RoiAlign) error { return k.roiAlign(n, op) })
	registerWorkspace(func(n *ir.Node, op *ir.DeformConv) int {
		g, err := op.Geometry(n.Inputs)
		if err != nil {
			return 0
		}
		cg := n.Inputs[0].Type.Shape[1] / op.Group
		return alignUp(cg*ir.Shape(g.Kernel).Size()*ir.Shape(g.Out).Size()*max(elemBytes(n.Inputs[0].Type.DType), 1), 16)
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.DeformConv) error { return k.deformConv(n, op) })
	ir.DeclareKernelDTypes[*ir.DeformConv](convDTypes...)
}

// valueType is the compute type of sampled values: f64 for float64 data,
// f32 otherwise.
func valueType(dt ir.DType) wasm.ValueType {
	if dt == ir.Float64 {
		return asm.F64
	}
	return asm.F32
}

// tap1D is one input index along one dimension with its f32 weight and,
// for zeros padding, an i32 validity flag (0 when the index is outside).
type tap1D struct {
	idx, w, valid asm.Local
	checked       bool // valid is set
}

// reflectHelper is GridReflect as a Wasm function (x, lo, hi f64) -> f64.
func (k *Ctx) reflectHelper() uint32 {
	f64 := []wasm.ValueType{asm.F64}
	return k.Helper("grid_reflect", []wasm.ValueType{asm.F64, asm.F64, asm.F64}, f64, func(f *asm.Func) {
		x, lo, hi := f.Param(0), f.Param(1), f.Param(2)
		rng, dx, n, r := f.Local(asm.F64), f.Local(asm.F64), f.Local(asm.F64), f.Local(asm.F64)
		xf := fxFor(f, asm.F64, false)
		xf.get(hi).get(lo).sub().tee(rng).c(0).le()
		f.If().Get(lo).Return().End()
		// one side: from is the border x passed, to the other one; sign
		// +1 when reflecting upward from lo
		side := func(cond func(), from, to asm.Local, up bool) {
			cond()
			f.If()
			if up {
				xf.get(from).get(x).sub().set(dx)
			} else {
				xf.get(x).get(from).sub().set(dx)
			}
			xf.get(dx).get(rng).div().trunc().set(n)
			xf.get(dx).get(n).get(rng).mul().sub().set(r)
			// even n: from +- r; odd: to -+ r
			xf.get(n).c(0.5).mul().tee(dx).get(dx).trunc().eq()
			f.If()
			if up {
				xf.get(from).get(r).add()
			} else {
				xf.get(from).get(r).sub()
			}
			f.Return()
			f.End()
			if up {
				xf.get(to).get(r).sub()
			} else {
				xf.get(to).get(r).add()
			}
			f.Return()
			f.End()
		}
		side(func() { xf.get(x).get(lo).lt() }, lo, hi, true)
		side(func() { xf.get(x).get(hi).gt() }, hi, lo, false)
		f.Get(x)
	})
}

// gridTaps emits, for the f32 position in local x along a dimension of
// size, the taps of GridSample's mode and padding (x must already be
// adjusted by gridCoord).
func (k *Ctx) gridTaps(op *ir.GridSample, x asm.Local, size int) []tap1D {
	f := k.F
	xf := fxFor(f, asm.F32, false)
	lo, hi := ir.GridBorders(size, op.AlignCorners)
	x0, t := f.Local(asm.F32), f.Local(asm.F32)
	base := f.Local(asm.I32)
	var taps []tap1D
	add := func(offset int32, weight func()) {
		tp := tap1D{idx: f.Local(asm.I32), w: f.Local(asm.F32)}
		f.Get(base).I32Const(offset).Op(wasm.OpcodeI32Add).Set(tp.idx)
		weight()
		f.Set(tp.w)
		switch op.Padding {
		case "zeros":
			tp.valid, tp.checked = f.Local(asm.I32), true
			f.Get(tp.idx).I32Const(int32(size)).Op(wasm.OpcodeI32LtU).Set(tp.valid)
		case "border":
			clampI32(f, tp.idx, 0, int32(size-1))
		case "reflection":
			f.Get(tp.idx).Op(wasm.OpcodeF64ConvertI32S).F64Const(lo).F64Const(hi).Call(k.reflectHelper())
			f.Misc(wasm.OpcodeMiscI32TruncSatF64S).Set(tp.idx)
		}
		taps = append(taps, tp)
	}
	switch op.Mode {
	case "nearest":
		xf.get(x).toInt().set(base)
		add(0, func() { f.F32Const(1) })
	case "linear":
		xf.get(x).floor().tee(x0).toInt().set(base)
		xf.get(x).get(x0).sub().set(t)
		add(0, func() { xf.c(1).get(t).sub() })
		add(1, func() { xf.get(t) })
	case "cubic":
		xf.get(x).floor().tee(x0).toInt().set(base)
		xf.get(x).get(x0).sub().set(t)
		const a = -0.75
		// Keys' weights for taps -1..2 at fractional position t
		add(-1, func() {
			xf.c(a).get(t).c(1).add().mul().c(5 * a).sub().get(t).c(1).add().mul().c(8 * a).add().get(t).c(1).add().mul().c(4 * a).sub()
		})
		add(0, func() {
			xf.c(a + 2).get(t).mul().c(a + 3).sub().get(t).mul().get(t).mul().c(1).add()
		})
		add(1, func() {
			u := f.Local(asm.F32)
			xf.c(1).get(t).sub().set(u)
			xf.c(a + 2).get(u).mul().c(a + 3).sub().get(u).mul().get(u).mul().c(1).add()
		})
		add(2, func() {
			u := f.Local(asm.F32)
			xf.c(2).get(t).sub().set(u)
			xf.c(a).get(u).mul().c(5 * a).sub().get(u).mul().c(8 * a).add().get(u).mul().c(4 * a).sub()
		})
	}
	return taps
}

// clampI32 clamps an i32 local into [lo, hi].
func clampI32(f *asm.Func, v asm.Local, lo, hi int32) {
	f.Get(v).I32Const(lo).Get(v).I32Const(lo).Op(wasm.OpcodeI32GtS).Select().Set(v)
	f.Get(v).I32Const(hi).Get(v).I32Const(hi).Op(wasm.OpcodeI32LtS).Select().Set(v)
}

// gridCoord turns the normalized f32 coordinate on the stack into the
// adjusted input position (ir.GridSample.GridCoord) in local x.
func (k *Ctx) gridCoord(op *ir.GridSample, x asm.Local, size int) {
	f := k.F
	xf := fxFor(f, asm.F32, false)
	if op.AlignCorners {
		xf.c(1).add().c(2).div().c(float64(size - 1)).mul()
	} else {
		xf.c(1).add().c(float64(size)).mul().c(1).sub().c(2).div()
	}
	if op.Mode == "nearest" {
		xf.nearest()
	}
	f.Set(x)
	lo, hi := ir.GridBorders(size, op.AlignCorners)
	switch op.Padding {
	case "border":
		xf.get(x).c(lo).lt().get(x).c(hi).gt().f.Op(wasm.OpcodeI32Or)
		f.If()
		xf.get(x).c(0).max().c(float64(size - 1)).min().set(x)
		f.End()
	case "reflection":
		xf.get(x).c(lo).lt().get(x).c(hi).gt().f.Op(wasm.OpcodeI32Or)
		f.If()
		f.Get(x).Op(wasm.OpcodeF64PromoteF32).F64Const(lo).F64Const(hi).Call(k.reflectHelper()).Op(wasm.OpcodeF32DemoteF64).Set(x)
		f.End()
	}
}

// tapCombo is one tap of a k-dimensional sample: element offset, weight
// and (zeros padding) validity.
type tapCombo struct {
	off, w, valid asm.Local
	checked       bool
}

// combineTaps forms every combination of per-dimension taps: offsets add
// up (times the strides), weights multiply, validity is all dimensions'.
// Invalid combinations get offset 0 so that loads stay in bounds.
func (k *Ctx) combineTaps(taps [][]tap1D, strides []int, ct wasm.ValueType) []tapCombo {
	f := k.F
	xf := fxFor(f, asm.F32, false)
	var out []tapCombo
	nd := len(taps)
	pick := make([]int, nd)
	var rec func(d int)
	rec = func(d int) {
		if d == nd {
			c := tapCombo{off: f.Local(asm.I32), w: f.Local(ct)}
			f.I32Const(0)
			for e := range nd {
				f.Get(taps[e][pick[e]].idx).I32Const(int32(strides[e])).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
			}
			f.Set(c.off)
			xf.get(taps[0][pick[0]].w)
			for e := 1; e < nd; e++ {
				xf.get(taps[e][pick[e]].w).mul()
			}
			convert(f, asm.F32, ct, false)
			f.Set(c.w)
			if taps[0][pick[0]].checked {
				c.valid, c.checked = f.Local(asm.I32), true
				f.Get(taps[0][pick[0]].valid)
				for e := 1; e < nd; e++ {
					f.Get(taps[e][pick[e]].valid).Op(wasm.OpcodeI32And)
				}
				f.Set(c.valid)
				f.Get(c.off).I32Const(0).Get(c.valid).Select().Set(c.off)
			}
			out = append(out, c)
			return
		}
		for t := range taps[d] {
			pick[d] = t
			rec(d + 1)
		}
	}
	rec(0)
	return out
}

// sumTaps pushes sum over combos of w * x[base + off] (invalid taps add 0).
func (k *Ctx) sumTaps(combos []tapCombo, dt ir.DType, ct wasm.ValueType, base asm.Local) error {
	f := k.F
	xf := fxFor(f, ct, false)
	sz := int32(elemBytes(dt))
	for i, c := range combos {
		f.Get(c.off).I32Const(sz).Op(wasm.OpcodeI32Mul).Get(base).Op(wasm.OpcodeI32Add)
		if err := k.loadAs(dt, 0, ct); err != nil {
			return err
		}
		xf.get(c.w).mul()
		if c.checked {
			xf.c(0).get(c.valid).sel()
		}
		if i > 0 {
			xf.add()
		}
	}
	return nil
}

func (k *Ctx) gridSample(n *ir.Node, op *ir.GridSample) error {
	f := k.F
	x, grid, y := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	if y.Type.Shape.Size() == 0 {
		return nil
	}
	dt, gdt := x.Type.DType, grid.Type.DType
	ct := valueType(dt)
	s := x.Type.Shape
	N, C := s[0], s[1]
	dims := s[2:]
	nd := len(dims)
	inSize := dims.Size()
	P := y.Type.Shape[2:].Size()
	sz, gsz := int32(elemBytes(dt)), int32(elemBytes(gdt))
	gp, img, yp, xc, yc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	nc, pc, cc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	coords := make([]asm.Local, nd)
	for d := range coords {
		coords[d] = f.Local(asm.F32)
	}
	var err error
	f.I32Const(k.Addr(grid)).Set(gp)
	f.I32Const(k.Addr(x)).Set(img)
	f.I32Const(k.Addr(y)).Set(yp)
	f.Counted(nc, N, func() {
		f.Counted(pc, P, func() {
			taps := make([][]tap1D, nd)
			for d := range nd {
				// the grid lists coordinates innermost dimension first
				f.Get(gp).I32Const(int32(nd-1-d) * gsz).Op(wasm.OpcodeI32Add)
				if e := k.loadAs(gdt, 0, asm.F32); e != nil {
					err = e
				}
				k.gridCoord(op, coords[d], dims[d])
				taps[d] = k.gridTaps(op, coords[d], dims[d])
			}
			f.AddI32(gp, int32(nd)*gsz)
			combos := k.combineTaps(taps, dims.Strides(), ct)
			f.Get(img).Set(xc)
			f.Get(yp).Set(yc)
			f.Counted(cc, C, func() {
				f.Get(yc)
				if e := k.sumTaps(combos, dt, ct, xc); e != nil {
					err = e
				}
				if e := k.storeAs(dt, 0, ct); e != nil {
					err = e
				}
				f.AddI32(xc, int32(inSize)*sz)
				f.AddI32(yc, int32(P)*sz)
			})
			f.AddI32(yp, sz)
		})
		f.AddI32(img, int32(C*inSize)*sz)
		f.AddI32(yp, int32((C-1)*P)*sz)
	})
	return err
}

func (k *Ctx) affineGrid(n *ir.Node, op *ir.AffineGrid) error {
	f := k.F
	theta, y := n.Inputs[0], n.Outputs[0]
	size, err := op.Size(n.Inputs)
	if err != nil {
		return err
	}
	if y.Type.Shape.Size() == 0 {
		return nil
	}
	dt := theta.Type.DType
	sz := int32(elemBytes(dt))
	kd := len(size) - 2
	dims := size[2:]
	xf := fxFor(f, asm.F64, false)
	th := make([]asm.Local, kd*(kd+1))
	for i := range th {
		th[i] = f.Local(asm.F64)
	}
	base := make([]asm.Local, kd) // base[d]: the coordinate of dims[d]
	for i := range base {
		base[i] = f.Local(asm.F64)
	}
	tp, yp, nc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(k.Addr(theta)).Set(tp)
	f.I32Const(k.Addr(y)).Set(yp)
	var level func(d int)
	level = func(d int) {
		if d == kd {
			// grid component i = sum_j theta[i][j] * (x, y[, z], 1)[j],
			// the homogeneous point listing the innermost dimension first
			for i := range kd {
				f.Get(yp)
				for j := range kd + 1 {
					xf.get(th[i*(kd+1)+j])
					if j < kd {
						xf.get(base[kd-1-j]).mul()
					}
					if j > 0 {
						xf.add()
					}
				}
				if e := k.storeAs(dt, 0, asm.F64); e != nil {
					err = e
				}
				f.AddI32(yp, sz)
			}
			return
		}
		i := f.Local(asm.I32)
		f.Repeat(i, dims[d], func() {
			start, step := ir.AffineStep(dims[d], op.AlignCorners)
			xf.c(start).f.Get(i).Op(wasm.OpcodeF64ConvertI32S)
			xf.c(step).mul().add().set(base[d])
			level(d + 1)
		})
	}
	f.Counted(nc, size[0], func() {
		for i := range th {
			f.Get(tp)
			if e := k.loadAs(dt, 0, asm.F64); e != nil {
				err = e
			}
			f.Set(th[i])
			f.AddI32(tp, sz)
		}
		level(0)
	})
	return err
}

func (k *Ctx) roiAlign(n *ir.Node, op *ir.RoiAlign) error {
	f := k.F
	x, rois, bidx, y := n.Inputs[0], n.Inputs[1], n.Inputs[2], n.Outputs[0]
	if y.Type.Shape.Size() == 0 {
		return nil
	}
	dt := x.Type.DType
	ct := valueType(dt)
	xf := fxFor(f, ct, false)
	sz := int32(elemBytes(dt))
	N, C, H, W := x.Type.Shape[0], x.Type.Shape[1], x.Type.Shape[2], x.Type.Shape[3]
	R := rois.Type.Shape[0]
	plane := int32(op.OutH * op.OutW)
	var errs firstErr
	ri, ph, pw, iy, ix, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	b, bp, img, yBase, yc, xc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	gh, gw, first, samples := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	sh, sw, binH, binW, count, yy, xx := f.Local(ct), f.Local(ct), f.Local(ct), f.Local(ct), f.Local(ct), f.Local(ct), f.Local(ct)
	box := []asm.Local{f.Local(ct), f.Local(ct), f.Local(ct), f.Local(ct)}
	pos := []asm.Local{f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)}
	w := []asm.Local{f.Local(ct), f.Local(ct), f.Local(ct), f.Local(ct)}
	yl, xl, yh, xh := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	ly, lx, v, m := f.Local(ct), f.Local(ct), f.Local(ct), f.Local(ct)
	bsz := int32(elemBytes(bidx.Type.DType))
	f.I32Const(k.Addr(bidx)).Set(bp)
	f.I32Const(k.Addr(y)).Set(yBase)
	// sample computes pos and w for (yy, xx), as ir.RoiBilinear.
	sample := func() {
		xf.get(yy).c(-1).lt().get(yy).c(float64(H)).gt().f.Op(wasm.OpcodeI32Or)
		xf.get(xx).c(-1).lt().f.Op(wasm.OpcodeI32Or)
		xf.get(xx).c(float64(W)).gt().f.Op(wasm.OpcodeI32Or)
		f.If()
		for j := range 4 {
			f.SetI32(pos[j], 0)
			constOf(f, ct, 0)
			f.Set(w[j])
		}
		f.Else()
		// axis emits one axis: coordinate v (clamped below at 0), low and
		// high index, fraction l.
		axis := func(v asm.Local, lo, hi asm.Local, l asm.Local, size int) {
			xf.get(v).c(0).max().set(v)
			xf.get(v)
			convert(f, ct, asm.I32, false)
			f.Set(lo)
			f.Get(lo).I32Const(int32(size - 1)).Op(wasm.OpcodeI32GeS)
			f.If()
			f.SetI32(lo, int32(size-1)).SetI32(hi, int32(size-1))
			constOf(f, ct, float64(size-1))
			f.Set(v)
			f.Else()
			f.Get(lo).I32Const(1).Op(wasm.OpcodeI32Add).Set(hi)
			f.End()
			xf.get(v).f.Get(lo)
			convert(f, asm.I32, ct, false)
			xf.sub().set(l)
		}
		axis(yy, yl, yh, ly, H)
		axis(xx, xl, xh, lx, W)
		hyF := func() { xf.c(1).get(ly).sub() }
		hxF := func() { xf.c(1).get(lx).sub() }
		for j, rc := range [4][2]asm.Local{{yl, xl}, {yl, xh}, {yh, xl}, {yh, xh}} {
			f.Get(rc[0]).I32Const(int32(W)).Op(wasm.OpcodeI32Mul).Get(rc[1]).Op(wasm.OpcodeI32Add).Set(pos[j])
			if j < 2 {
				hyF()
			} else {
				xf.get(ly)
			}
			if j%2 == 0 {
				hxF()
			} else {
				xf.get(lx)
			}
			xf.mul().set(w[j])
		}
		f.End()
	}
	// for each channel: y[c] = (first ? val : max(y[c], val)) or y[c] += val
	accumulate := func() {
		f.Get(img).Set(xc)
		f.Get(yBase).Set(yc)
		f.Counted(c, C, func() {
			for j := range 4 {
				xf.get(w[j]).f.Get(pos[j]).I32Const(sz).Op(wasm.OpcodeI32Mul).Get(xc).Op(wasm.OpcodeI32Add)
				errs.check(k.loadAs(dt, 0, ct))
				xf.mul()
				if op.Mode == "avg" {
					if j > 0 {
						xf.add()
					}
					continue
				}
				// python max: a later value replaces only if greater
				f.Set(v)
				if j == 0 {
					xf.get(v).set(m)
				} else {
					xf.get(v).get(m).get(v).get(m).gt().sel().set(m)
				}
			}
			if op.Mode == "avg" {
				f.Set(v)
				f.Get(yc).Get(yc)
				errs.check(k.loadAs(dt, 0, ct))
				xf.get(v).add()
			} else {
				f.Get(yc)
				// first sample: m; later: m if m > y else y
				f.Get(yc)
				errs.check(k.loadAs(dt, 0, ct))
				f.Set(v)
				xf.get(m).get(v).get(m).get(v).gt().get(first).f.Op(wasm.OpcodeI32Or).Select()
			}
			errs.check(k.storeAs(dt, 0, ct))
			f.AddI32(xc, int32(H*W)*sz)
			f.AddI32(yc, plane*sz)
		})
	}
	rp := f.Local(asm.I32)
	f.I32Const(k.Addr(rois)).Set(rp)
	f.Repeat(ri, R, func() {
		k.loadIndex(bidx.Type.DType, bp)
		f.Tee(b).I32Const(int32(N)).Op(wasm.OpcodeI32GeU)
		k.Fail(abi.ErrIndexOutOfRange)
		f.AddI32(bp, bsz)
		f.Get(b).I32Const(int32(C*H*W) * sz).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(x)).Op(wasm.OpcodeI32Add).Set(img)
		for j := range 4 {
			f.Get(rp)
			errs.check(k.loadAs(dt, 0, ct))
			xf.c(float64(op.SpatialScale)).mul()
			if op.HalfPixel {
				xf.c(0.5).sub()
			}
			f.Set(box[j])
			f.AddI32(rp, sz)
		}
		// start, size (at least 1 without half_pixel), bins, samples per bin
		xf.get(box[1]).set(sh)
		xf.get(box[0]).set(sw)
		for _, a := range []struct {
			end, start, bin, grid asm.Local
			out                   int
		}{{box[3], box[1], binH, gh, op.OutH}, {box[2], box[0], binW, gw, op.OutW}} {
			xf.get(a.end).get(a.start).sub()
			if !op.HalfPixel {
				xf.c(1).max()
			}
			xf.c(float64(a.out)).div().set(a.bin)
			if op.SamplingRatio > 0 {
				f.SetI32(a.grid, int32(op.SamplingRatio))
			} else {
				xf.get(a.bin).ceil()
				convert(f, ct, asm.I32, false)
				f.Set(a.grid)
			}
		}
		f.Get(gh).Get(gw).Op(wasm.OpcodeI32Mul).Set(samples)
		f.Get(samples).I32Const(1).Get(samples).I32Const(1).Op(wasm.OpcodeI32GtS).Select()
		convert(f, asm.I32, ct, false)
		f.Set(count)
		f.Repeat(ph, op.OutH, func() {
			f.Repeat(pw, op.OutW, func() {
				// zero this bin of every channel
				f.Get(yBase).Set(yc)
				f.Counted(c, C, func() {
					f.Get(yc)
					constOf(f, ct, 0)
					errs.check(k.storeAs(dt, 0, ct))
					f.AddI32(yc, plane*sz)
				})
				f.SetI32(first, 1)
				k.whileBelow(iy, gh, func(int) {
					coord := func(dst, start, bin, i, grid, p asm.Local) {
						xf.get(start).f.Get(p)
						convert(f, asm.I32, ct, false)
						xf.get(bin).mul().add()
						f.Get(i)
						convert(f, asm.I32, ct, false)
						xf.c(0.5).add().get(bin).mul().f.Get(grid)
						convert(f, asm.I32, ct, false)
						xf.div().add().set(dst)
					}
					coord(yy, sh, binH, iy, gh, ph)
					k.whileBelow(ix, gw, func(int) {
						coord(xx, sw, binW, ix, gw, pw)
						sample()
						accumulate()
						f.SetI32(first, 0)
					})
				})
				if op.Mode == "avg" {
					f.Get(yBase).Set(yc)
					f.Counted(c, C, func() {
						f.Get(yc).Get(yc)
						errs.check(k.loadAs(dt, 0, ct))
						xf.get(count).div()
						errs.check(k.storeAs(dt, 0, ct))
						f.AddI32(yc, plane*sz)
					})
				}
				f.AddI32(yBase, sz)
			})
		})
		f.AddI32(yBase, int32(C-1)*plane*sz)
	})
	return errs.err
}

func (k *Ctx) deformConv(n *ir.Node, op *ir.DeformConv) error {
	f := k.F
	x, w, offset, y := n.Inputs[0], n.Inputs[1], n.Inputs[2], n.Outputs[0]
	mask := n.In(4)
	g, err := op.Geometry(n.Inputs)
	if err != nil {
		return err
	}
	dt := x.Type.DType
	if !slices.Contains(convDTypes, dt) {
		return ir.NotSupportedf("DeformConv on %s", dt)
	}
	if y.Type.Shape.Size() == 0 {
		return nil
	}
	ct := valueType(dt)
	xf := fxFor(f, asm.F32, false)
	sz := int32(elemBytes(dt))
	N, C, M := x.Type.Shape[0], x.Type.Shape[1], w.Type.Shape[0]
	cg, mg, cog := C/op.Group, M/op.Group, C/op.OffsetGroup
	nd := len(g.In)
	kSize, P, inSize := ir.Shape(g.Kernel).Size(), ir.Shape(g.Out).Size(), ir.Shape(g.In).Size()
	inStr := ir.Shape(g.In).Strides()
	colBuf := k.WorkspaceAddr()
	img, gi, ci, col, xc, op0, mp := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	pa, pb, pc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	kIdx := make([]asm.Local, nd)
	oIdx := make([]asm.Local, nd)
	pos := make([]asm.Local, nd)
	for d := range nd {
		kIdx[d], oIdx[d], pos[d] = f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.F32)
	}
	kLin := f.Local(asm.I32)
	var errs firstErr
	// columns of one (channel, tap): every output position's sample
	positions := func() {
		var level func(d int)
		level = func(d int) {
			if d == nd {
				taps := make([][]tap1D, nd)
				for e := range nd {
					// offset component e of this tap and position
					f.Get(op0)
					errs.check(k.loadAs(offset.Type.DType, 0, asm.F32))
					f.Set(pos[e])
					f.Get(oIdx[e]).I32Const(int32(g.Strides[e])).Op(wasm.OpcodeI32Mul).I32Const(int32(g.PadBegin[e])).Op(wasm.OpcodeI32Sub)
					f.Get(kIdx[e]).I32Const(int32(g.Dilations[e])).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
					f.Op(wasm.OpcodeF32ConvertI32S)
					xf.get(pos[e]).add().set(pos[e])
					taps[e] = k.gridTaps(&ir.GridSample{Mode: "linear", Padding: "zeros", AlignCorners: true}, pos[e], g.In[e])
					if e < nd-1 {
						f.AddI32(op0, int32(P)*sz)
					}
				}
				// back to component 0, next position
				f.AddI32(op0, int32(1-(nd-1)*P)*sz)
				combos := k.combineTaps(taps, inStr, ct)
				f.Get(col)
				errs.check(k.sumTaps(combos, dt, ct, xc))
				if mask != nil {
					f.Get(mp)
					errs.check(k.loadAs(mask.Type.DType, 0, ct))
					fxFor(f, ct, false).mul()
					f.AddI32(mp, sz)
				}
				errs.check(k.storeAs(dt, 0, ct))
				f.AddI32(col, sz)
				return
			}
			f.Repeat(oIdx[d], g.Out[d], func() { level(d + 1) })
		}
		level(0)
	}
	var taps func(d int)
	taps = func(d int) {
		if d == nd {
			// offset rows (og*kSize + k)*nd.. and mask row og*kSize + k of image img
			og := f.Local(asm.I32)
			f.Get(gi).I32Const(int32(cg)).Op(wasm.OpcodeI32Mul).Get(ci).Op(wasm.OpcodeI32Add).I32Const(int32(cog)).Op(wasm.OpcodeI32DivU).Set(og)
			f.Get(img).I32Const(int32(op.OffsetGroup)).Op(wasm.OpcodeI32Mul).Get(og).Op(wasm.OpcodeI32Add).I32Const(int32(kSize)).Op(wasm.OpcodeI32Mul).Get(kLin).Op(wasm.OpcodeI32Add).Set(og)
			f.Get(og).I32Const(int32(nd*P) * sz).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(offset)).Op(wasm.OpcodeI32Add).Set(op0)
			if mask != nil {
				f.Get(og).I32Const(int32(P) * sz).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(mask)).Op(wasm.OpcodeI32Add).Set(mp)
			}
			positions()
			f.AddI32(kLin, 1)
			return
		}
		f.Repeat(kIdx[d], g.Kernel[d], func() { taps(d + 1) })
	}
	f.Repeat(img, N, func() {
		f.Repeat(gi, op.Group, func() {
			f.I32Const(colBuf).Set(col)
			f.Repeat(ci, cg, func() {
				// channel gi*cg + ci of image img
				f.Get(img).I32Const(int32(C)).Op(wasm.OpcodeI32Mul).Get(gi).I32Const(int32(cg)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Get(ci).Op(wasm.OpcodeI32Add)
				f.I32Const(int32(inSize) * sz).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(x)).Op(wasm.OpcodeI32Add).Set(xc)
				f.SetI32(kLin, 0)
				taps(0)
			})
			f.Get(gi).I32Const(int32(mg*cg*kSize) * sz).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(w)).Op(wasm.OpcodeI32Add).Set(pa)
			f.I32Const(colBuf).Set(pb)
			f.Get(img).I32Const(int32(M)).Op(wasm.OpcodeI32Mul).Get(gi).I32Const(int32(mg)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
			f.I32Const(int32(P) * sz).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(y)).Op(wasm.OpcodeI32Add).Set(pc)
			errs.check(k.emitMatMul(mm{M: mg, K: cg * kSize, N: P, dt: dt, a: matrix{pa, cg * kSize, 1}, b: matrix{pb, P, 1}, c: pc}))
		})
	})
	if errs.err != nil {
		return errs.err
	}
	if b := n.In(3); b != nil {
		return k.addChannelBias(y, b)
	}
	return nil
}
