package ir

import (
	"fmt"
	"math"
	"slices"
)

// Resize resamples X: inputs X, roi, scales, sizes (roi, scales, sizes
// optional; scales or sizes must be a constant). Interpolation is
// separable, so it is planned at compile time as one 1-D resampling per
// resized axis, each output position reading a few input positions with
// fixed weights (ResizePlan); the reference semantics and the Wasm kernel
// both apply that plan.
type Resize struct {
	Mode           string // nearest, linear, cubic
	CoordMode      string // half_pixel, half_pixel_symmetric, pytorch_half_pixel, align_corners, asymmetric, tf_half_pixel_for_nn, tf_crop_and_resize
	NearestMode    string // round_prefer_floor, round_prefer_ceil, floor, ceil; "simple" (Resize-10, Upsample): floor upsampling, ceil downsampling
	CubicA         float64
	ExcludeOutside bool
	Extrapolation  float64
	Antialias      bool
	Axes           []int  // the axes roi, scales and sizes refer to; nil for all
	KeepAspect     string // stretch, not_larger, not_smaller
}

func (*Resize) OpType() string { return "Resize" }

// ResizeAxis resamples one axis: output position o is the sum over taps t
// of Weight[o*Taps+t] * input[Index[o*Taps+t]], or the extrapolation value
// when Extrapolated[o].
type ResizeAxis struct {
	Axis, In, Out, Taps int
	Index               []int // clamped into [0, In)
	Weight              []float64
	Extrapolated        []bool // nil when no position is
}

// Select returns, when every output position copies exactly one input
// position (nearest mode), those positions.
func (a *ResizeAxis) Select() ([]int, bool) {
	if a.Extrapolated != nil {
		return nil, false
	}
	sel := make([]int, a.Out)
	for o := range a.Out {
		found := false
		for t := range a.Taps {
			switch w := a.Weight[o*a.Taps+t]; {
			case w == 1 && !found:
				sel[o], found = a.Index[o*a.Taps+t], true
			case w != 0:
				return nil, false
			}
		}
		if !found {
			return nil, false
		}
	}
	return sel, true
}

// ResizePlan is the output shape and the 1-D resamplings, in the order
// they apply; axes left unchanged have none.
type ResizePlan struct {
	Out    Shape
	Passes []ResizeAxis
	// Selection: every pass copies input elements (no arithmetic).
	Selection bool
	// Bilinear, when set, replaces the passes: ONNX Runtime's float32
	// form of 2-D linear resizing (ops_resize_bilinear.go).
	Bilinear *ResizeBilinear
}

// constFloats reads an optional constant float input; an empty tensor
// counts as absent.
func constFloats(v *Value, what string) ([]float64, error) {
	if v == nil {
		return nil, nil
	}
	if v.Const == nil {
		return nil, &NotConstant{What: what, Value: v.Name}
	}
	if !v.Type.DType.IsFloat() {
		return nil, fmt.Errorf("%s must be a float tensor, got %s", what, v.Type)
	}
	if v.Const.Len() == 0 {
		return nil, nil
	}
	return v.Const.Floats(), nil
}

// PlanFor reads the constant inputs and plans the resampling of x.
func (r *Resize) PlanFor(in []*Value) (*ResizePlan, error) {
	var roi []float64
	var err error
	if r.CoordMode == "tf_crop_and_resize" {
		if roi, err = constFloats(getIn(in, 1), "Resize roi"); err != nil {
			return nil, err
		}
	}
	scales, err := constFloats(getIn(in, 2), "Resize scales")
	if err != nil {
		return nil, err
	}
	var sizes []int
	if scales == nil {
		if sizes, err = ConstInts(getIn(in, 3), "Resize sizes"); err != nil {
			return nil, err
		}
	}
	p, err := r.Plan(in[0].Type.Shape, roi, scales, sizes)
	if err == nil && !p.Selection && len(p.Passes) > 0 {
		p.Bilinear = r.bilinear(in[0].Type, p.Out, scales, sizes)
	}
	return p, err
}

// Plan resolves output sizes and scales per axis as the ONNX reference
// does, then builds each resized axis's taps.
func (r *Resize) Plan(x Shape, roi, scales []float64, sizes []int) (*ResizePlan, error) {
	rank := len(x)
	axes := make([]int, rank)
	for i := range axes {
		axes[i] = i
	}
	if r.Axes != nil {
		var err error
		if axes, err = NormAxes(r.Axes, rank); err != nil {
			return nil, err
		}
	}
	n := len(axes)
	if scales == nil && sizes == nil {
		return nil, fmt.Errorf("Resize needs scales or sizes")
	}
	if scales != nil && len(scales) != n {
		return nil, fmt.Errorf("Resize scales has %d elements, want %d", len(scales), n)
	}
	if scales == nil && len(sizes) != n {
		return nil, fmt.Errorf("Resize sizes has %d elements, want %d", len(sizes), n)
	}
	if roi != nil && len(roi) != 2*n {
		return nil, fmt.Errorf("Resize roi has %d elements, want %d", len(roi), 2*n)
	}
	if r.CoordMode == "tf_crop_and_resize" && roi == nil {
		return nil, fmt.Errorf("Resize with tf_crop_and_resize needs roi")
	}
	scale := make([]float64, n)
	out := x.Clone()
	if scales != nil {
		if r.KeepAspect != "" && r.KeepAspect != "stretch" {
			return nil, fmt.Errorf("keep_aspect_ratio_policy %q needs sizes, not scales", r.KeepAspect)
		}
		for i, a := range axes {
			if !(scales[i] > 0) || math.IsInf(scales[i], 0) {
				return nil, fmt.Errorf("Resize scales %v must be positive", scales)
			}
			scale[i] = scales[i]
			o := scales[i] * float64(x[a])
			if o >= MaxTensorBytes {
				return nil, fmt.Errorf("Resize output is too large")
			}
			out[a] = int(o)
		}
	} else {
		for i, a := range axes {
			if sizes[i] < 0 {
				return nil, fmt.Errorf("Resize sizes %v must not be negative", sizes)
			}
			if x[a] == 0 {
				return nil, fmt.Errorf("Resize of an empty axis %d to size %d", a, sizes[i])
			}
			scale[i] = float64(sizes[i]) / float64(x[a])
			out[a] = sizes[i]
		}
		switch r.KeepAspect {
		case "", "stretch":
		case "not_larger", "not_smaller":
			s := scale[0]
			for _, v := range scale[1:] {
				if r.KeepAspect == "not_larger" {
					s = min(s, v)
				} else {
					s = max(s, v)
				}
			}
			for i, a := range axes {
				scale[i] = s
				out[a] = int(s*float64(x[a]) + 0.5) // round half up
			}
		default:
			return nil, NotSupportedf("keep_aspect_ratio_policy %q", r.KeepAspect)
		}
	}
	size := 1.0
	for _, d := range out {
		size *= float64(d)
	}
	if !(size <= MaxTensorBytes) {
		return nil, fmt.Errorf("Resize output %s is too large", out)
	}
	p := &ResizePlan{Out: out, Selection: true}
	for i, a := range axes {
		var axRoi []float64
		if roi != nil {
			axRoi = []float64{roi[i], roi[i+n]}
		}
		// Python's math.isclose, as the reference skips identity axes.
		identity := math.Abs(scale[i]-1) <= 1e-9*max(scale[i], 1) && out[a] == x[a] &&
			(axRoi == nil || axRoi[0] == 0 && math.Abs(axRoi[1]-1) <= 1e-9*max(axRoi[1], 1))
		if identity || out[a] == 0 {
			continue
		}
		ax, err := r.axisTaps(a, x[a], out[a], scale[i], axRoi)
		if err != nil {
			return nil, err
		}
		if _, ok := ax.Select(); !ok {
			p.Selection = false
		}
		p.Passes = append(p.Passes, *ax)
	}
	return p, nil
}

// axisTaps builds the taps of one axis, following the ONNX reference
// (onnx/reference/ops/op_resize.py) step by step in float64.
func (r *Resize) axisTaps(axis, in, out int, scale float64, roi []float64) (*ResizeAxis, error) {
	// The tables take 8 bytes per output position and 16 per tap; an
	// antialiased downscale has a footprint of 2/scale (linear) or 4/scale
	// (cubic) taps. Check before allocating: the sizes are the model's.
	taps := 4.0
	if r.Antialias {
		taps += 4 / min(scale, 1)
	}
	if err := CheckAlloc(fmt.Sprintf("Resize's tables for axis %d (%d positions)", axis, out), float64(out)*(8+16*taps)); err != nil {
		return nil, err
	}
	inF := float64(in)
	outW := scale * inF // the reference's (float) output width
	ax := &ResizeAxis{Axis: axis, In: in, Out: out}
	xs := make([]float64, out)
	for y := range out {
		yf := float64(y)
		var x float64
		switch r.CoordMode {
		case "align_corners":
			if outW == 1 {
				x = 0
			} else {
				x = yf * (inF - 1) / (outW - 1)
			}
		case "asymmetric":
			x = yf / scale
		case "tf_crop_and_resize":
			if outW == 1 {
				x = (roi[1] - roi[0]) * (inF - 1) / 2
			} else {
				x = yf * (roi[1] - roi[0]) * (inF - 1) / (outW - 1)
			}
			x += roi[0] * (inF - 1)
			if x < 0 || x > inF-1 {
				if ax.Extrapolated == nil {
					ax.Extrapolated = make([]bool, out)
				}
				ax.Extrapolated[y] = true
			}
		case "pytorch_half_pixel":
			if outW == 1 {
				x = -0.5
			} else {
				x = (yf+0.5)/scale - 0.5
			}
		case "half_pixel":
			x = (yf+0.5)/scale - 0.5
		case "half_pixel_symmetric":
			adjustment := float64(out) / outW
			center := inF / 2
			offset := center * (1 - adjustment)
			x = offset + (yf+0.5)/scale - 0.5
		case "tf_half_pixel_for_nn":
			x = (yf + 0.5) / scale
		default:
			return nil, NotSupportedf("coordinate_transformation_mode %q", r.CoordMode)
		}
		xs[y] = x
	}
	for y, x := range xs {
		ratio := x - math.Floor(x)
		if ratio == 0 {
			ratio = 1 // prefer the pixel left of x
		}
		c, err := r.coeffs(ratio, scale)
		if err != nil {
			return nil, err
		}
		if y == 0 {
			ax.Taps = len(c)
			ax.Index = make([]int, out*ax.Taps)
			ax.Weight = make([]float64, out*ax.Taps)
		} else if len(c) != ax.Taps {
			return nil, fmt.Errorf("Resize: tap count changed along an axis")
		}
		nt := ax.Taps
		// The nt input positions nearest x, ties to the smaller (edge
		// padding is clamping).
		pad := (nt + 1) / 2
		xp := x + float64(pad)
		p := math.Floor(xp)
		frac := xp - p
		var off int
		if nt%2 == 0 {
			off = -(nt / 2) + 1
			if frac == 0 {
				off = -(nt / 2)
			}
		} else {
			off = -((nt - 1) / 2)
			if frac > 0.5 {
				off++
			}
		}
		start := int(p) + off - pad
		if r.ExcludeOutside {
			sum := 0.0
			for t := range nt {
				if i := start + t; i < 0 || i >= in {
					c[t] = 0
				}
				sum += c[t]
			}
			if sum == 0 {
				sum = 1
			}
			for t := range c {
				c[t] /= sum
			}
		}
		for t := range nt {
			ax.Index[y*nt+t] = min(max(start+t, 0), in-1)
			ax.Weight[y*nt+t] = c[t]
		}
	}
	return ax, nil
}

// coeffs gives the interpolation weights for the fractional position ratio
// in (0, 1] (1 when x is an integer).
func (r *Resize) coeffs(ratio, scale float64) ([]float64, error) {
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	switch r.Mode {
	case "nearest":
		if r.Antialias {
			return nil, fmt.Errorf("antialias is not defined for nearest mode")
		}
		if ratio == 1 {
			return []float64{0, 1}, nil
		}
		switch r.NearestMode {
		case "round_prefer_floor":
			return []float64{b(ratio <= 0.5), b(ratio > 0.5)}, nil
		case "round_prefer_ceil":
			return []float64{b(ratio < 0.5), b(ratio >= 0.5)}, nil
		case "floor":
			return []float64{1, 0}, nil
		case "ceil":
			return []float64{0, 1}, nil
		case "simple":
			return []float64{b(scale >= 1), b(scale < 1)}, nil
		}
		return nil, NotSupportedf("nearest_mode %q", r.NearestMode)
	case "linear":
		if !r.Antialias {
			return []float64{1 - ratio, ratio}, nil
		}
		s := min(scale, 1)
		start := int(math.Floor(-1/s) + 1)
		foot := 2 - 2*start
		c := make([]float64, foot)
		sum := 0.0
		for i := range c {
			c[i] = min(max(1-math.Abs((float64(start+i)-ratio)*s), 0), 1)
			sum += c[i]
		}
		for i := range c {
			c[i] /= sum
		}
		return c, nil
	case "cubic":
		a := r.CubicA
		if !r.Antialias {
			q := 1 - ratio
			return []float64{
				((a*(ratio+1)-5*a)*(ratio+1)+8*a)*(ratio+1) - 4*a,
				((a+2)*ratio-(a+3))*ratio*ratio + 1,
				((a+2)*q-(a+3))*q*q + 1,
				((a*(q+1)-5*a)*(q+1)+8*a)*(q+1) - 4*a,
			}, nil
		}
		s := min(scale, 1)
		cubic := func(x float64) float64 {
			x = math.Abs(x)
			x2 := x * x
			x3 := x * x2
			if x <= 1 {
				return (a+2)*x3 - (a+3)*x2 + 1
			}
			if x < 2 {
				return a*x3 - 5*a*x2 + 8*a*x - 4*a
			}
			return 0
		}
		start := int(math.Floor(-2/s) + 1)
		end := 2 - start
		c := make([]float64, 0, end-start)
		sum := 0.0
		for i := start; i < end; i++ {
			v := cubic(s * (float64(i) - ratio))
			c = append(c, v)
			sum += v
		}
		for i := range c {
			c[i] /= sum
		}
		return c, nil
	}
	return nil, NotSupportedf("mode %q", r.Mode)
}

func (r *Resize) Infer(in []*Value) ([]Type, error) {
	x := in[0].Type
	if x.DType.Bits() < 8 {
		return nil, NotSupportedf("Resize on %s", x.DType)
	}
	p, err := r.PlanFor(in)
	if err != nil {
		return nil, err
	}
	if !p.Selection && !x.DType.IsFloat() && !x.DType.IsInt() {
		return nil, NotSupportedf("%s interpolation of %s", r.Mode, x.DType)
	}
	return Types(Type{x.DType, p.Out}), nil
}

func (r *Resize) Eval(in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	p, err := r.PlanFor(constValues(in))
	if err != nil {
		return nil, err
	}
	if p.Out.Size() == 0 {
		return []*Tensor{NewTensor(x.DType, p.Out)}, nil
	}
	if p.Bilinear != nil {
		return []*Tensor{TensorF32(p.Out, p.Bilinear.Apply(x.F32())...)}, nil
	}
	shape := x.Shape.Clone()
	if p.Selection {
		cur := x
		for _, ax := range p.Passes {
			sel, _ := ax.Select()
			outer, inner := shape[:ax.Axis].Size(), shape[ax.Axis+1:].Size()
			shape[ax.Axis] = ax.Out
			next := NewTensor(x.DType, shape)
			esz := x.DType.Bits() / 8
			for o := range outer {
				for j, s := range sel {
					src := ((o*ax.In + s) * inner) * esz
					dst := ((o*ax.Out + j) * inner) * esz
					copy(next.Data[dst:dst+inner*esz], cur.Data[src:src+inner*esz])
				}
			}
			cur = next
		}
		return []*Tensor{cur.Reshaped(p.Out)}, nil
	}
	vals := x.Floats()
	for _, ax := range p.Passes {
		outer, inner := shape[:ax.Axis].Size(), shape[ax.Axis+1:].Size()
		shape[ax.Axis] = ax.Out
		next := make([]float64, shape.Size())
		for o := range outer {
			for j := range ax.Out {
				dst := next[(o*ax.Out+j)*inner:]
				if ax.Extrapolated != nil && ax.Extrapolated[j] {
					for k := range inner {
						dst[k] = r.Extrapolation
					}
					continue
				}
				for t := range ax.Taps {
					w := ax.Weight[j*ax.Taps+t]
					src := vals[(o*ax.In+ax.Index[j*ax.Taps+t])*inner:]
					for k := range inner {
						dst[k] += w * src[k]
					}
				}
			}
		}
		vals = next
	}
	return []*Tensor{SaturateFromFloats(x.DType, p.Out, vals)}, nil
}

// SaturateFromFloats converts like the ONNX reference's saturate_cast:
// integers round half to even and clamp to their range, floats clamp to
// their finite range (NaN stays NaN).
func SaturateFromFloats(dt DType, shape Shape, vals []float64) *Tensor {
	lo, hi := DTypeRange(dt)
	out := slices.Clone(vals)
	for i, v := range out {
		if dt.IsInt() {
			v = math.RoundToEven(v)
		}
		if v < lo {
			v = lo
		} else if v > hi {
			v = hi
		}
		out[i] = v
	}
	return FromFloats(dt, shape, out)
}

// DTypeRange is the finite range of a numeric dtype as float64s.
func DTypeRange(dt DType) (lo, hi float64) {
	switch dt {
	case Float32:
		return -math.MaxFloat32, math.MaxFloat32
	case Float16:
		return -65504, 65504
	case BFloat16:
		return -3.3895313892515355e38, 3.3895313892515355e38
	case Int8:
		return math.MinInt8, math.MaxInt8
	case Uint8:
		return 0, math.MaxUint8
	case Int16:
		return math.MinInt16, math.MaxInt16
	case Uint16:
		return 0, math.MaxUint16
	case Int32:
		return math.MinInt32, math.MaxInt32
	case Uint32:
		return 0, math.MaxUint32
	case Int64:
		return math.MinInt64, math.MaxInt64
	case Uint64:
		return 0, math.MaxUint64
	}
	return -math.MaxFloat64, math.MaxFloat64
}

// Select2D returns, for a selection plan (nearest mode, or taps that all
// land on input positions) of a map [N, C, H, W] that resizes only its
// last two axes, the input row of each output row and the input column of
// each output column (the identity where an axis is not resized).
func (p *ResizePlan) Select2D(x Shape) (rows, cols []int, ok bool) {
	if !p.Selection || p.Bilinear != nil || len(x) != 4 || len(p.Out) != 4 {
		return nil, nil, false
	}
	rows, cols = identity(p.Out[2]), identity(p.Out[3])
	for i := range p.Passes {
		ax := &p.Passes[i]
		sel, ok := ax.Select()
		switch {
		case !ok:
			return nil, nil, false
		case ax.Axis == 2:
			rows = sel
		case ax.Axis == 3:
			cols = sel
		default:
			return nil, nil, false
		}
	}
	if len(rows) != p.Out[2] || len(cols) != p.Out[3] {
		return nil, nil, false
	}
	return rows, cols, true
}

func identity(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}
