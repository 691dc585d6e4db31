package ir

import (
	"fmt"
	"math"
)

// Sampling at run-time coordinates: GridSample, AffineGrid, RoiAlign and
// DeformConv. Coordinates are float32 arithmetic, as in the ONNX reference.

// GridSample reads X [N,C,D1..Dk] at the normalized coordinates of grid
// [N,G1..Gk,k] (innermost dimension first in the last axis).
type GridSample struct {
	Mode         string // nearest, linear, cubic
	Padding      string // zeros, border, reflection
	AlignCorners bool
}

func (*GridSample) OpType() string { return "GridSample" }

func (g *GridSample) Infer(in []*Value) ([]Type, error) {
	x, grid := in[0].Type, in[1].Type
	if !x.DType.IsFloat() || !grid.DType.IsFloat() {
		return nil, NotSupportedf("GridSample on %s with a %s grid", x.DType, grid.DType)
	}
	k := len(x.Shape) - 2
	if k < 1 || len(grid.Shape) != len(x.Shape) || grid.Shape[0] != x.Shape[0] || grid.Shape[k+1] != k {
		return nil, fmt.Errorf("GridSample needs X [N,C,D1..Dk] and grid [N,G1..Gk,%d], got %s and %s", k, x.Shape, grid.Shape)
	}
	switch g.Mode {
	case "nearest", "linear", "cubic":
	default:
		return nil, NotSupportedf("mode %q", g.Mode)
	}
	switch g.Padding {
	case "zeros", "border", "reflection":
	default:
		return nil, NotSupportedf("padding_mode %q", g.Padding)
	}
	out := append(Shape{x.Shape[0], x.Shape[1]}, grid.Shape[1:k+1]...)
	return Types(Type{x.DType, out}), nil
}

// GridDenormalize maps a normalized coordinate to an input position.
func GridDenormalize(n float32, size int, align bool) float32 {
	if align {
		return (n + 1) / 2 * float32(size-1)
	}
	return ((n+1)*float32(size) - 1) / 2
}

// GridBorders are the coordinate limits beyond which border and
// reflection padding act.
func GridBorders(size int, align bool) (lo, hi float64) {
	if align {
		return 0, float64(size - 1)
	}
	return -0.5, float64(size) - 0.5
}

// GridReflect reflects x at the borders until it lies between them.
func GridReflect(x, lo, hi float64) float64 {
	rng := hi - lo
	if rng <= 0 {
		return lo
	}
	switch {
	case x < lo:
		dx := lo - x
		n := math.Trunc(dx / rng)
		r := dx - n*rng
		if math.Mod(n, 2) == 0 {
			return lo + r
		}
		return hi - r
	case x > hi:
		dx := x - hi
		n := math.Trunc(dx / rng)
		r := dx - n*rng
		if math.Mod(n, 2) == 0 {
			return hi - r
		}
		return lo + r
	}
	return x
}

// CubicCoeffs are Keys' cubic convolution weights for the fractional
// position t in [0, 1) (taps at -1, 0, 1, 2).
func CubicCoeffs(t, a float64) [4]float64 {
	return [4]float64{
		((a*(t+1)-5*a)*(t+1)+8*a)*(t+1) - 4*a,
		((a+2)*t-(a+3))*t*t + 1,
		((a+2)*(1-t)-(a+3))*(1-t)*(1-t) + 1,
		((a*(2-t)-5*a)*(2-t)+8*a)*(2-t) - 4*a,
	}
}

// taps1D gives the input indices and weights one dimension
// contributes for position x (already adjusted for nearest and padding);
// ok is false for a zeros-padding tap outside the input.
func (g *GridSample) taps1D(x float32, size int, align bool) (idx []int, w []float64, ok []bool) {
	lo, hi := GridBorders(size, align)
	add := func(i int, weight float64) {
		valid := true
		switch g.Padding {
		case "zeros":
			valid = i >= 0 && i < size
		case "border":
			i = min(max(i, 0), size-1)
		case "reflection":
			i = int(GridReflect(float64(i), lo, hi))
		}
		idx, w, ok = append(idx, i), append(w, weight), append(ok, valid)
	}
	switch g.Mode {
	case "nearest":
		add(int(x), 1)
	case "linear":
		x0 := float32(math.Floor(float64(x)))
		t := x - x0
		add(int(x0), float64(1-t))
		add(int(x0)+1, float64(t))
	case "cubic":
		x0 := float32(math.Floor(float64(x)))
		c := CubicCoeffs(float64(x-x0), -0.75)
		for j := range 4 {
			add(int(x0)+j-1, c[j])
		}
	}
	return idx, w, ok
}

// GridCoord turns a normalized coordinate into the position sampled along
// one input dimension: denormalized, rounded for nearest, and moved inside
// by border or reflection padding.
func (g *GridSample) GridCoord(n float32, size int) float32 {
	x := GridDenormalize(n, size, g.AlignCorners)
	if g.Mode == "nearest" {
		x = float32(math.RoundToEven(float64(x)))
	}
	lo, hi := GridBorders(size, g.AlignCorners)
	if float64(x) < lo || float64(x) > hi {
		switch g.Padding {
		case "border":
			x = min(max(x, 0), float32(size-1))
		case "reflection":
			x = float32(GridReflect(float64(x), lo, hi))
		}
	}
	return x
}

func (g *GridSample) Eval(in []*Tensor) ([]*Tensor, error) {
	x, grid := in[0], in[1]
	types, err := g.Infer([]*Value{NewConst("", x), NewConst("", grid)})
	if err != nil {
		return nil, err
	}
	out := types[0].Shape
	k := len(x.Shape) - 2
	N, C := x.Shape[0], x.Shape[1]
	dims := x.Shape[2:]
	inSize, P := dims.Size(), out[2:].Size()
	inStr := dims.Strides()
	xs, gs := x.Floats(), grid.Floats()
	y := make([]float64, out.Size())
	for n := range N {
		for p := range P {
			// taps per dimension, then every combination
			idx, w, ok := make([][]int, k), make([][]float64, k), make([][]bool, k)
			for d := range k {
				nc := float32(gs[(n*P+p)*k+k-1-d])
				idx[d], w[d], ok[d] = g.taps1D(g.GridCoord(nc, dims[d]), dims[d], g.AlignCorners)
			}
			for c := range C {
				base := (n*C + c) * inSize
				var acc float64
				var rec func(d, off int, weight float64, valid bool)
				rec = func(d, off int, weight float64, valid bool) {
					if d == k {
						if valid {
							acc += weight * xs[base+off]
						}
						return
					}
					for t := range idx[d] {
						rec(d+1, off+idx[d][t]*inStr[d], weight*w[d][t], valid && ok[d][t])
					}
				}
				rec(0, 0, 1, true)
				y[(n*C+c)*P+p] = acc
			}
		}
	}
	return []*Tensor{FromFloats(x.DType, out, y)}, nil
}

// AffineGrid makes the sampling grid [N,D1..Dk,k] of the affine maps theta
// [N,k,k+1] over an output of size [N,C,D1..Dk] (k = 2 or 3; size must be
// a constant).
type AffineGrid struct{ AlignCorners bool }

func (*AffineGrid) OpType() string { return "AffineGrid" }

// Size reads the constant size input.
func (a *AffineGrid) Size(in []*Value) ([]int, error) {
	size, err := ConstInts(in[1], "AffineGrid size")
	if err != nil {
		return nil, err
	}
	theta := in[0].Type.Shape
	if len(size) != 4 && len(size) != 5 {
		return nil, fmt.Errorf("AffineGrid size %v must have 4 or 5 elements", size)
	}
	k := len(size) - 2
	if len(theta) != 3 || theta[0] != size[0] || theta[1] != k || theta[2] != k+1 {
		return nil, fmt.Errorf("AffineGrid theta %s does not fit size %v (want [%d,%d,%d])", theta, size, size[0], k, k+1)
	}
	for _, s := range size {
		if s < 0 {
			return nil, fmt.Errorf("AffineGrid size %v is negative", size)
		}
	}
	return size, nil
}

func (a *AffineGrid) Infer(in []*Value) ([]Type, error) {
	if !in[0].Type.DType.IsFloat() {
		return nil, NotSupportedf("AffineGrid on %s", in[0].Type.DType)
	}
	size, err := a.Size(in)
	if err != nil {
		return nil, err
	}
	k := len(size) - 2
	return Types(Type{in[0].Type.DType, append(Shape{size[0]}, append(Shape(size[2:]).Clone(), k)...)}), nil
}

// AffineStep gives the normalized coordinates of a dimension of the given
// size: position i is at start + i*step (np.arange's values).
func AffineStep(size int, align bool) (start, step float64) {
	switch {
	case align && size == 1:
		return -1, 0
	case align:
		return -1, 2 / float64(size-1)
	}
	step = 2 / float64(size)
	return -1 + step/2, step
}

func (a *AffineGrid) Eval(in []*Tensor) ([]*Tensor, error) {
	theta := in[0]
	vs := constValues(in)
	types, err := a.Infer(vs)
	if err != nil {
		return nil, err
	}
	size, _ := a.Size(vs)
	k := len(size) - 2
	dims := Shape(size[2:])
	th := theta.Floats()
	P := dims.Size()
	out := make([]float64, size[0]*P*k)
	pos := make([]int, k)
	for n := range size[0] {
		for p := range P {
			unravel(p, dims, pos)
			// homogeneous base point (x, y[, z], 1): innermost dimension first
			base := make([]float64, k+1)
			for d := range k {
				start, step := AffineStep(dims[k-1-d], a.AlignCorners)
				base[d] = start + float64(pos[k-1-d])*step
			}
			base[k] = 1
			for i := range k {
				acc := 0.0
				for j := range k + 1 {
					acc += th[(n*k+i)*(k+1)+j] * base[j]
				}
				out[(n*P+p)*k+i] = acc
			}
		}
	}
	return []*Tensor{FromFloats(theta.DType, types[0].Shape, out)}, nil
}

// RoiAlign pools X [N,C,H,W] over regions rois [R,4] (x1, y1, x2, y2) of
// images batch_indices [R] into Y [R,C,OutH,OutW].
type RoiAlign struct {
	Mode          string // avg, max
	OutH, OutW    int
	SamplingRatio int
	SpatialScale  float32
	HalfPixel     bool
}

func (*RoiAlign) OpType() string { return "RoiAlign" }

func (r *RoiAlign) Infer(in []*Value) ([]Type, error) {
	x, rois, bi := in[0].Type, in[1].Type, in[2].Type
	if len(x.Shape) != 4 {
		return nil, fmt.Errorf("RoiAlign needs X of rank 4, got %s", x.Shape)
	}
	if !x.DType.IsFloat() || rois.DType != x.DType {
		return nil, NotSupportedf("RoiAlign on %s with %s rois", x.DType, rois.DType)
	}
	if len(rois.Shape) != 2 || rois.Shape[1] != 4 || len(bi.Shape) != 1 || bi.Shape[0] != rois.Shape[0] || !bi.DType.IsInt() {
		return nil, fmt.Errorf("RoiAlign needs rois [R,4] and integer batch_indices [R], got %s and %s", rois, bi)
	}
	if r.OutH < 1 || r.OutW < 1 || r.SamplingRatio < 0 {
		return nil, fmt.Errorf("RoiAlign output size %dx%d and sampling_ratio %d are invalid", r.OutH, r.OutW, r.SamplingRatio)
	}
	if r.Mode != "avg" && r.Mode != "max" {
		return nil, NotSupportedf("mode %q", r.Mode)
	}
	return Types(Type{x.DType, Shape{rois.Shape[0], x.Shape[1], r.OutH, r.OutW}}), nil
}

// RoiSample is one bilinear sample: four flat positions and weights.
type RoiSample struct {
	Pos [4]int
	W   [4]float32
}

// RoiBilinear computes the sample at (y, x) of an h x w image (all zero
// outside [-1, h] x [-1, w]).
func RoiBilinear(y, x float32, h, w int) RoiSample {
	if y < -1 || y > float32(h) || x < -1 || x > float32(w) {
		return RoiSample{}
	}
	y, x = max(y, 0), max(x, 0)
	yl, xl := int(y), int(x)
	var yh, xh int
	if yl >= h-1 {
		yh, yl = h-1, h-1
		y = float32(yl)
	} else {
		yh = yl + 1
	}
	if xl >= w-1 {
		xh, xl = w-1, w-1
		x = float32(xl)
	} else {
		xh = xl + 1
	}
	ly, lx := y-float32(yl), x-float32(xl)
	hy, hx := 1-ly, 1-lx
	return RoiSample{
		Pos: [4]int{yl*w + xl, yl*w + xh, yh*w + xl, yh*w + xh},
		W:   [4]float32{hy * hx, hy * lx, ly * hx, ly * lx},
	}
}

// RoiGeometry is one region's start, bin sizes and samples per bin.
type RoiGeometry struct {
	StartH, StartW, BinH, BinW float32
	GridH, GridW               int
}

func (r *RoiAlign) Geometry(box [4]float32) RoiGeometry {
	off := float32(0)
	if r.HalfPixel {
		off = 0.5
	}
	sw, sh := box[0]*r.SpatialScale-off, box[1]*r.SpatialScale-off
	ew, eh := box[2]*r.SpatialScale-off, box[3]*r.SpatialScale-off
	rw, rh := ew-sw, eh-sh
	if !r.HalfPixel {
		rw, rh = max(rw, 1), max(rh, 1)
	}
	g := RoiGeometry{StartH: sh, StartW: sw, BinH: rh / float32(r.OutH), BinW: rw / float32(r.OutW), GridH: r.SamplingRatio, GridW: r.SamplingRatio}
	if r.SamplingRatio <= 0 {
		g.GridH = int(math.Ceil(float64(rh / float32(r.OutH))))
		g.GridW = int(math.Ceil(float64(rw / float32(r.OutW))))
	}
	return g
}

func (r *RoiAlign) Eval(in []*Tensor) ([]*Tensor, error) {
	x, rois, bi := in[0], in[1], in[2]
	N, C, H, W := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	R := rois.Shape[0]
	xs, rs := x.Floats(), rois.Floats()
	out := Shape{R, C, r.OutH, r.OutW}
	y := make([]float64, out.Size())
	for n := range R {
		b := int(bi.Int(n))
		if b < 0 || b >= N {
			return nil, fmt.Errorf("RoiAlign batch index %d out of range [0, %d)", b, N)
		}
		g := r.Geometry([4]float32{float32(rs[4*n]), float32(rs[4*n+1]), float32(rs[4*n+2]), float32(rs[4*n+3])})
		count := float32(max(g.GridH*g.GridW, 1))
		for c := range C {
			img := xs[(b*C+c)*H*W:]
			for ph := range r.OutH {
				for pw := range r.OutW {
					var acc float32
					first := true
					for iy := range g.GridH {
						yy := g.StartH + float32(ph)*g.BinH + (float32(iy)+0.5)*g.BinH/float32(g.GridH)
						for ix := range g.GridW {
							xx := g.StartW + float32(pw)*g.BinW + (float32(ix)+0.5)*g.BinW/float32(g.GridW)
							s := RoiBilinear(yy, xx, H, W)
							if r.Mode == "avg" {
								for j := range 4 {
									acc += s.W[j] * float32(img[s.Pos[j]])
								}
								continue
							}
							v := s.W[0] * float32(img[s.Pos[0]])
							for j := 1; j < 4; j++ {
								if t := s.W[j] * float32(img[s.Pos[j]]); t > v {
									v = t
								}
							}
							if first || v > acc {
								acc = v
							}
							first = false
						}
					}
					if r.Mode == "avg" {
						acc /= count
					}
					y[((n*C+c)*r.OutH+ph)*r.OutW+pw] = float64(acc)
				}
			}
		}
	}
	return []*Tensor{FromFloats(x.DType, out, y)}, nil
}

// DeformConv is a convolution whose kernel taps sample X bilinearly
// (zero outside) at positions moved by offset [N, og*kSize*k, out...] and
// weighted by mask [N, og*kSize, out...] (ones when absent).
type DeformConv struct {
	Window
	Group, OffsetGroup int
}

func (*DeformConv) OpType() string { return "DeformConv" }

// Geometry resolves the window for x and w and checks offset and mask.
func (d *DeformConv) Geometry(in []*Value) (*Geometry, error) {
	x, w, off := in[0].Type.Shape, in[1].Type.Shape, in[2].Type.Shape
	if len(x) < 3 || len(w) != len(x) || len(off) != len(x) {
		return nil, fmt.Errorf("DeformConv needs X, W and offset of one rank >= 3, got %s, %s, %s", x, w, off)
	}
	if d.Group < 1 || d.OffsetGroup < 1 || x[1]%d.OffsetGroup != 0 || w[1]*d.Group != x[1] || w[0]%d.Group != 0 {
		return nil, fmt.Errorf("DeformConv group %d / offset_group %d do not fit X %s and W %s", d.Group, d.OffsetGroup, x, w)
	}
	k := []int(w[2:])
	if len(d.Kernel) > 0 && !Shape(d.Kernel).Equal(Shape(k)) {
		return nil, fmt.Errorf("kernel_shape %v does not match W %s", d.Kernel, w)
	}
	win := d.Window
	win.AutoPad = ""
	g, err := win.Resolve(x[2:], k)
	if err != nil {
		return nil, err
	}
	nd := len(k)
	kSize := Shape(k).Size()
	want := append(Shape{x[0], d.OffsetGroup * kSize * nd}, g.Out...)
	if !off.Equal(want) {
		return nil, fmt.Errorf("DeformConv offset has shape %s, want %s", off, want)
	}
	if m := getIn(in, 4); m != nil {
		want[1] = d.OffsetGroup * kSize
		if !m.Type.Shape.Equal(want) {
			return nil, fmt.Errorf("DeformConv mask has shape %s, want %s", m.Type.Shape, want)
		}
	}
	if b := getIn(in, 3); b != nil && (len(b.Type.Shape) != 1 || b.Type.Shape[0] != w[0]) {
		return nil, fmt.Errorf("DeformConv bias %s does not match %d output channels", b.Type.Shape, w[0])
	}
	return g, nil
}

func (d *DeformConv) Infer(in []*Value) ([]Type, error) {
	x := in[0].Type
	if !x.DType.IsFloat() {
		return nil, NotSupportedf("DeformConv on %s", x.DType)
	}
	if err := SameType(in, 0, 1, 2, 3, 4); err != nil {
		return nil, err
	}
	g, err := d.Geometry(in)
	if err != nil {
		return nil, err
	}
	return Types(Type{x.DType, append(Shape{x.Shape[0], in[1].Type.Shape[0]}, g.Out...)}), nil
}

// DeformSample samples one channel (size dims, strides str) bilinearly at
// pos, with zeros outside.
func DeformSample(img []float64, dims []int, str []int, pos []float32) float64 {
	var rec func(d, off int, w float32) float64
	rec = func(d, off int, w float32) float64 {
		if d == len(dims) {
			return float64(w) * img[off]
		}
		x0 := float32(math.Floor(float64(pos[d])))
		t := pos[d] - x0
		s := 0.0
		for j, wj := range [2]float32{1 - t, t} {
			if i := int(x0) + j; i >= 0 && i < dims[d] {
				s += rec(d+1, off+i*str[d], w*wj)
			}
		}
		return s
	}
	return rec(0, 0, 1)
}

func (d *DeformConv) Eval(in []*Tensor) ([]*Tensor, error) {
	x, w, offset, b, mask := in[0], in[1], in[2], getT(in, 3), getT(in, 4)
	vs := constValues(in)
	g, err := d.Geometry(vs)
	if err != nil {
		return nil, err
	}
	N, C, M := x.Shape[0], x.Shape[1], w.Shape[0]
	cg, mg := C/d.Group, M/d.Group
	cog := C / d.OffsetGroup
	nd := len(g.In)
	kSize, P, inSize := Shape(g.Kernel).Size(), Shape(g.Out).Size(), Shape(g.In).Size()
	inStr := Shape(g.In).Strides()
	xs, ws, offs := x.Floats(), w.Floats(), offset.Floats()
	var ms []float64
	if mask != nil {
		ms = mask.Floats()
	}
	outShape := append(Shape{N, M}, g.Out...)
	y := make([]float64, outShape.Size())
	opos, kpos := make([]int, nd), make([]int, nd)
	pos := make([]float32, nd)
	for n := range N {
		for c := range C {
			og := c / cog
			img := xs[(n*C+c)*inSize:]
			grp := c / cg
			for k := range kSize {
				unravel(k, g.Kernel, kpos)
				for p := range P {
					unravel(p, g.Out, opos)
					for dd := range nd {
						o := offs[((n*d.OffsetGroup+og)*kSize*nd+k*nd+dd)*P+p]
						pos[dd] = float32(opos[dd]*g.Strides[dd]-g.PadBegin[dd]+kpos[dd]*g.Dilations[dd]) + float32(o)
					}
					v := DeformSample(img, g.In, inStr, pos)
					if ms != nil {
						v *= ms[((n*d.OffsetGroup+og)*kSize+k)*P+p]
					}
					for mi := range mg {
						m := grp*mg + mi
						y[(n*M+m)*P+p] += ws[(m*cg+c%cg)*kSize+k] * v
					}
				}
			}
		}
		if b != nil {
			for m := range M {
				for p := range P {
					y[(n*M+m)*P+p] += b.Float(m)
				}
			}
		}
	}
	return []*Tensor{FromFloats(x.DType, outShape, y)}, nil
}
