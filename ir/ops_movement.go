package ir

import (
	"fmt"
	"math"
)

// Data movement beyond Transpose/Concat/Gather: Slice, Split, Expand, Tile,
// DepthToSpace and SpaceToDepth (strided views of their input), Pad,
// CenterCropPad, Where, Trilu, ReverseSequence, and the generators Range,
// OneHot and EyeLike. Shape-like inputs (Slice bounds, Expand's shape,
// Tile's repeats, Pad's pads, ...) must be constants: they fix the shapes.

// View describes an output that reads its input as a strided view: element
// (i0, i1, ...) of the iteration shape Shape, taken in row-major order, is
// input element Base + sum(i_d * Strides[d]). Shape may split the output's
// dimensions further (Tile iterates [r0, d0, r1, d1, ...]); its size is
// always the output's.
type View struct {
	Shape   Shape
	Base    int
	Strides []int
}

// Viewer is implemented by ops whose every output is a View of input 0;
// codegen copies them with one strided-copy routine.
type Viewer interface {
	Views(in []*Value) ([]View, error)
}

// evalView materializes a view of x as a tensor of shape out.
func evalView(x *Tensor, v View, out Shape) *Tensor {
	y := NewTensor(x.DType, out)
	ForEachIndex(v.Shape, [][]int{v.Strides}, func(o int, offs []int) { copyElem(y, o, x, v.Base+offs[0]) })
	return y
}

// evalViews is Eval for Viewers: outputs take the views' shapes from Infer.
func evalViews(op interface {
	Op
	Viewer
}, in []*Tensor) ([]*Tensor, error) {
	vs := constValues(in)
	types, err := op.Infer(vs)
	if err != nil {
		return nil, err
	}
	views, err := op.Views(vs)
	if err != nil {
		return nil, err
	}
	out := make([]*Tensor, len(views))
	for i, v := range views {
		out[i] = evalView(in[0], v, types[i].Shape)
	}
	return out, nil
}

// scalarInput reads a constant one-element input as float64 (integers
// exactly up to 2^53), for shape-like scalars of any numeric type.
func scalarInput(v *Value, what string) (float64, error) {
	if v == nil {
		return 0, fmt.Errorf("%s is missing", what)
	}
	if v.Const == nil {
		_, err := ConstInts(v, what) // the common "must be a constant" error
		return 0, err
	}
	if v.Const.Len() != 1 || v.Const.DType == String {
		return 0, fmt.Errorf("%s must be one number, got %s", what, v.Type)
	}
	if v.Const.DType.IsFloat() {
		return v.Const.Float(0), nil
	}
	if v.Const.DType == Uint64 {
		return float64(v.Const.Uint(0)), nil
	}
	return float64(v.Const.Int(0)), nil
}

// --- Slice ---

// Slice takes starts/ends/axes/steps from inputs 1-4 (Slice-1's attributes
// import as constants). Axes and steps must be constants. Starts and ends
// may be run-time data when Shape, the static output shape, is set (the
// frontend finds it from the model's declaration or from bounds that differ
// by a constant): the kernel resolves the bounds at run time and fails the
// run with the shape-mismatch error unless they select exactly that shape.
type Slice struct{ Shape Shape }

func (*Slice) OpType() string { return "Slice" }

// SliceDim is one dimension of a resolved slice: Len elements from Start,
// Step apart.
type SliceDim struct{ Start, Step, Len int }

// ResolveSlice applies ONNX Slice's clamping (Python slice semantics) to
// shape x. axes and steps may be nil.
func ResolveSlice(x Shape, starts, ends, axes, steps []int) ([]SliceDim, error) {
	if len(starts) != len(ends) {
		return nil, fmt.Errorf("Slice has %d starts but %d ends", len(starts), len(ends))
	}
	if axes == nil {
		if len(starts) > len(x) {
			return nil, fmt.Errorf("Slice has %d starts for rank %d", len(starts), len(x))
		}
		for i := range starts {
			axes = append(axes, i)
		}
	}
	if len(axes) != len(starts) || (steps != nil && len(steps) != len(starts)) {
		return nil, fmt.Errorf("Slice starts, ends, axes and steps differ in length")
	}
	axes, err := NormAxes(axes, len(x))
	if err != nil {
		return nil, err
	}
	dims := make([]SliceDim, len(x))
	for d, n := range x {
		dims[d] = SliceDim{0, 1, n}
	}
	for i, a := range axes {
		step := 1
		if steps != nil {
			step = steps[i]
		}
		if step == 0 {
			return nil, fmt.Errorf("Slice step is 0")
		}
		n := x[a]
		// A step as long as the axis or longer selects at most one
		// element: clamping it keeps the arithmetic below from
		// overflowing (-step of -2^63, end-start+step-1 of 2^63-1).
		step = min(max(step, -max(n, 1)), max(n, 1))
		clamp := func(v, lo, hi int) int {
			if v < 0 {
				v += n
			}
			return min(max(v, lo), hi)
		}
		var start, end, length int
		if step > 0 {
			start, end = clamp(starts[i], 0, n), clamp(ends[i], 0, n)
			if end > start {
				length = (end - start + step - 1) / step
			}
		} else {
			start, end = clamp(starts[i], -1, n-1), clamp(ends[i], -1, n-1)
			if start > end {
				length = (start - end - step - 1) / -step
			}
		}
		if length == 0 {
			start = 0
		}
		dims[a] = SliceDim{start, step, length}
	}
	return dims, nil
}

func (s *Slice) dims(in []*Value) ([]SliceDim, error) {
	var args [4][]int
	for i, what := range []string{"Slice's starts", "Slice's ends", "Slice's axes", "Slice's steps"} {
		v, err := ConstInts(getIn(in, i+1), what)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	if args[0] == nil || args[1] == nil {
		return nil, fmt.Errorf("Slice needs starts and ends")
	}
	return ResolveSlice(in[0].Type.Shape, args[0], args[1], args[2], args[3])
}

func (s *Slice) Infer(in []*Value) ([]Type, error) {
	dims, err := s.dims(in)
	if err != nil {
		constant := func(v *Value) bool { return v == nil || v.Const != nil }
		if s.Shape == nil || constant(getIn(in, 1)) && constant(getIn(in, 2)) {
			return nil, err
		}
		if _, _, err := s.RunTimeBounds(in); err != nil {
			return nil, err
		}
		return Types(Type{in[0].Type.DType, s.Shape.Clone()}), nil
	}
	out := make(Shape, len(dims))
	for i, d := range dims {
		out[i] = d.Len
	}
	if s.Shape != nil && !out.Equal(s.Shape) {
		return nil, fmt.Errorf("these bounds slice %s out of %s, not the static shape %s", out, in[0].Type.Shape, s.Shape)
	}
	return Types(Type{in[0].Type.DType, out}), nil
}

// RunTimeBounds checks a slice whose starts or ends are run-time data
// against the static Shape and returns its normalized axes and its steps,
// one per bound.
func (s *Slice) RunTimeBounds(in []*Value) (axes, steps []int, err error) {
	x := in[0].Type.Shape
	starts, ends := getIn(in, 1), getIn(in, 2)
	if starts == nil || ends == nil {
		return nil, nil, fmt.Errorf("Slice needs starts and ends")
	}
	for _, v := range []*Value{starts, ends} {
		if dt := v.Type.DType; (dt != Int32 && dt != Int64) || len(v.Type.Shape) != 1 {
			return nil, nil, fmt.Errorf("Slice's starts and ends must be 1-D int32 or int64 tensors, got %s", v.Type)
		}
	}
	k := starts.Type.Shape[0]
	if ends.Type.Shape[0] != k {
		return nil, nil, fmt.Errorf("Slice has %d starts but %d ends", k, ends.Type.Shape[0])
	}
	if axes, err = ConstInts(getIn(in, 3), "Slice's axes"); err != nil {
		return nil, nil, err
	}
	if steps, err = ConstInts(getIn(in, 4), "Slice's steps"); err != nil {
		return nil, nil, err
	}
	if axes == nil {
		if k > len(x) {
			return nil, nil, fmt.Errorf("Slice has %d starts for rank %d", k, len(x))
		}
		for i := range k {
			axes = append(axes, i)
		}
	}
	if steps == nil {
		for range k {
			steps = append(steps, 1)
		}
	}
	if len(axes) != k || len(steps) != k {
		return nil, nil, fmt.Errorf("Slice starts, ends, axes and steps differ in length")
	}
	if axes, err = NormAxes(axes, len(x)); err != nil {
		return nil, nil, err
	}
	if len(s.Shape) != len(x) {
		return nil, nil, fmt.Errorf("static shape %s for a slice of %s", s.Shape, x)
	}
	sliced := make([]bool, len(x))
	for i, a := range axes {
		if steps[i] == 0 {
			return nil, nil, fmt.Errorf("Slice step is 0")
		}
		// As in ResolveSlice: a step past the axis's length selects at
		// most one element, and -step must not overflow.
		steps[i] = min(max(steps[i], -max(x[a], 1)), max(x[a], 1))
		step := max(steps[i], -steps[i])
		if most := (x[a] + step - 1) / step; s.Shape[a] < 0 || s.Shape[a] > most {
			return nil, nil, fmt.Errorf("static shape %s: a slice of %s with step %d has at most %d elements on axis %d", s.Shape, x, steps[i], most, a)
		}
		sliced[a] = true
	}
	for d, n := range x {
		if !sliced[d] && s.Shape[d] != n {
			return nil, nil, fmt.Errorf("static shape %s: axis %d of %s is not sliced", s.Shape, d, x)
		}
	}
	return axes, steps, nil
}

func (s *Slice) Views(in []*Value) ([]View, error) {
	dims, err := s.dims(in)
	if err != nil {
		return nil, err
	}
	st := in[0].Type.Shape.Strides()
	v := View{Shape: make(Shape, len(dims)), Strides: make([]int, len(dims))}
	for i, d := range dims {
		v.Shape[i] = d.Len
		v.Base += d.Start * st[i]
		v.Strides[i] = d.Step * st[i]
	}
	return []View{v}, nil
}

func (s *Slice) Eval(in []*Tensor) ([]*Tensor, error) { return evalViews(s, in) }

// --- Split ---

// Split cuts input 0 along Axis into len(outputs) parts: the sizes of
// constant input 1, or equal parts (the last one smaller when uneven).
type Split struct {
	Axis    int
	Outputs int
}

func (*Split) OpType() string { return "Split" }

func (s *Split) sizes(in []*Value) (int, []int, error) {
	x := in[0].Type.Shape
	axis, err := NormAxis(s.Axis, len(x))
	if err != nil {
		return 0, nil, err
	}
	n := x[axis]
	sizes, err := ConstInts(getIn(in, 1), "Split's split")
	if err != nil {
		return 0, nil, err
	}
	if sizes == nil {
		if s.Outputs < 1 {
			return 0, nil, fmt.Errorf("Split into %d outputs", s.Outputs)
		}
		part := (n + s.Outputs - 1) / s.Outputs
		for i := range s.Outputs {
			sizes = append(sizes, max(0, min(part, n-i*part)))
		}
		if part*(s.Outputs-1) > n {
			return 0, nil, fmt.Errorf("cannot split %d elements into %d parts", n, s.Outputs)
		}
	}
	if len(sizes) != s.Outputs {
		return 0, nil, fmt.Errorf("Split has %d sizes for %d outputs", len(sizes), s.Outputs)
	}
	total := 0
	for _, v := range sizes {
		if v < 0 {
			return 0, nil, fmt.Errorf("negative split size in %v", sizes)
		}
		total += v
	}
	if total != n {
		return 0, nil, fmt.Errorf("split sizes %v do not add up to dimension %d of size %d", sizes, axis, n)
	}
	return axis, sizes, nil
}

func (s *Split) Infer(in []*Value) ([]Type, error) {
	axis, sizes, err := s.sizes(in)
	if err != nil {
		return nil, err
	}
	out := make([]Type, len(sizes))
	for i, n := range sizes {
		sh := in[0].Type.Shape.Clone()
		sh[axis] = n
		out[i] = Type{in[0].Type.DType, sh}
	}
	return out, nil
}

func (s *Split) Views(in []*Value) ([]View, error) {
	axis, sizes, err := s.sizes(in)
	if err != nil {
		return nil, err
	}
	x := in[0].Type.Shape
	st := x.Strides()
	views := make([]View, len(sizes))
	pos := 0
	for i, n := range sizes {
		sh := x.Clone()
		sh[axis] = n
		views[i] = View{Shape: sh, Base: pos * st[axis], Strides: st}
		pos += n
	}
	return views, nil
}

func (s *Split) Eval(in []*Tensor) ([]*Tensor, error) { return evalViews(s, in) }

// --- Expand ---

// Expand broadcasts input 0 to the shape of constant input 1.
type Expand struct{}

func (*Expand) OpType() string { return "Expand" }

func (*Expand) shape(in []*Value) (Shape, error) {
	s, err := ConstInts(in[1], "Expand's shape")
	if err != nil {
		return nil, err
	}
	for _, d := range s {
		if d < 0 {
			return nil, fmt.Errorf("Expand shape %v has a negative dimension", s)
		}
	}
	return BroadcastShapes(in[0].Type.Shape, Shape(s))
}

func (e *Expand) Infer(in []*Value) ([]Type, error) {
	s, err := e.shape(in)
	return Types(Type{in[0].Type.DType, s}), err
}

func (e *Expand) Views(in []*Value) ([]View, error) {
	s, err := e.shape(in)
	if err != nil {
		return nil, err
	}
	return []View{{Shape: s, Strides: BroadcastStrides(in[0].Type.Shape, s)}}, nil
}

func (e *Expand) Eval(in []*Tensor) ([]*Tensor, error) { return evalViews(e, in) }

// --- Tile ---

// Tile repeats input 0 along each axis by constant input 1.
type Tile struct{}

func (*Tile) OpType() string { return "Tile" }

func (*Tile) repeats(in []*Value) ([]int, error) {
	r, err := ConstInts(in[1], "Tile's repeats")
	if err != nil {
		return nil, err
	}
	if len(r) != len(in[0].Type.Shape) {
		return nil, fmt.Errorf("Tile has %d repeats for rank %d", len(r), len(in[0].Type.Shape))
	}
	for _, v := range r {
		if v < 0 {
			return nil, fmt.Errorf("Tile repeats %v has a negative count", r)
		}
	}
	return r, nil
}

func (t *Tile) Infer(in []*Value) ([]Type, error) {
	r, err := t.repeats(in)
	if err != nil {
		return nil, err
	}
	out := in[0].Type.Shape.Clone()
	for i := range out {
		out[i] *= r[i]
	}
	return Types(Type{in[0].Type.DType, out}), nil
}

// Views iterates [r0, d0, r1, d1, ...]: row-major over it is row-major over
// the output, and the repeat dimensions read with stride 0.
func (t *Tile) Views(in []*Value) ([]View, error) {
	r, err := t.repeats(in)
	if err != nil {
		return nil, err
	}
	x := in[0].Type.Shape
	st := x.Strides()
	var v View
	for i, d := range x {
		v.Shape = append(v.Shape, r[i], d)
		v.Strides = append(v.Strides, 0, st[i])
	}
	return []View{v}, nil
}

func (t *Tile) Eval(in []*Tensor) ([]*Tensor, error) { return evalViews(t, in) }

// --- DepthToSpace, SpaceToDepth ---

// DepthToSpace moves channel blocks into Blocksize x Blocksize spatial
// tiles; CRD orders the channels column-row-depth, otherwise DCR.
type DepthToSpace struct {
	Blocksize int
	CRD       bool
}

func (*DepthToSpace) OpType() string { return "DepthToSpace" }

func (d *DepthToSpace) check(x Shape) error {
	b := d.Blocksize
	if len(x) != 4 {
		return fmt.Errorf("DepthToSpace needs a 4-D input, got %s", x)
	}
	if b < 1 || x[1]%(b*b) != 0 {
		return fmt.Errorf("DepthToSpace blocksize %d does not divide %d channels into blocks", b, x[1])
	}
	return nil
}

func (d *DepthToSpace) Infer(in []*Value) ([]Type, error) {
	x := in[0].Type.Shape
	if err := d.check(x); err != nil {
		return nil, err
	}
	b := d.Blocksize
	return Types(Type{in[0].Type.DType, Shape{x[0], x[1] / (b * b), x[2] * b, x[3] * b}}), nil
}

// Views iterates the output as [N, C', H, b, W, b].
func (d *DepthToSpace) Views(in []*Value) ([]View, error) {
	x := in[0].Type.Shape
	if err := d.check(x); err != nil {
		return nil, err
	}
	b := d.Blocksize
	c := x[1] / (b * b)
	st := x.Strides()
	sc := st[1]
	v := View{Shape: Shape{x[0], c, x[2], b, x[3], b}}
	if d.CRD { // channel c*b*b + i*b + j
		v.Strides = []int{st[0], b * b * sc, st[2], b * sc, st[3], sc}
	} else { // channel (i*b + j)*C' + c
		v.Strides = []int{st[0], sc, st[2], b * c * sc, st[3], c * sc}
	}
	return []View{v}, nil
}

func (d *DepthToSpace) Eval(in []*Tensor) ([]*Tensor, error) { return evalViews(d, in) }

// SpaceToDepth moves Blocksize x Blocksize spatial tiles into channels.
type SpaceToDepth struct{ Blocksize int }

func (*SpaceToDepth) OpType() string { return "SpaceToDepth" }

func (s *SpaceToDepth) check(x Shape) error {
	b := s.Blocksize
	if len(x) != 4 {
		return fmt.Errorf("SpaceToDepth needs a 4-D input, got %s", x)
	}
	if b < 1 || x[2]%b != 0 || x[3]%b != 0 {
		return fmt.Errorf("SpaceToDepth blocksize %d does not divide the spatial size %dx%d", b, x[2], x[3])
	}
	return nil
}

func (s *SpaceToDepth) Infer(in []*Value) ([]Type, error) {
	x := in[0].Type.Shape
	if err := s.check(x); err != nil {
		return nil, err
	}
	b := s.Blocksize
	return Types(Type{in[0].Type.DType, Shape{x[0], x[1] * b * b, x[2] / b, x[3] / b}}), nil
}

// Views iterates the output as [N, b, b, C, H/b, W/b]: channel (i*b+j)*C+c.
func (s *SpaceToDepth) Views(in []*Value) ([]View, error) {
	x := in[0].Type.Shape
	if err := s.check(x); err != nil {
		return nil, err
	}
	b := s.Blocksize
	st := x.Strides()
	return []View{{
		Shape:   Shape{x[0], b, b, x[1], x[2] / b, x[3] / b},
		Strides: []int{st[0], st[2], st[3], st[1], b * st[2], b * st[3]},
	}}, nil
}

func (s *SpaceToDepth) Eval(in []*Tensor) ([]*Tensor, error) { return evalViews(s, in) }

// --- Pad ---

// Pad modes.
const (
	PadConstant = "constant"
	PadReflect  = "reflect"
	PadEdge     = "edge"
	PadWrap     = "wrap"
)

// Pad pads (or, with negative pads, crops) input 0 by constant input 1
// ([begin..., end...] over the axes of constant input 3, default all); in
// constant mode with the scalar input 2 (default 0). Negative pads crop
// first; the other modes then read the cropped tensor.
type Pad struct{ Mode string }

func (*Pad) OpType() string { return "Pad" }

// PadDim is one dimension of a resolved Pad: output index o reads cropped
// input index o-Before, where the cropped input is input[Lo : Lo+N].
type PadDim struct{ Out, Before, Lo, N int }

// Src maps output index o to the input index it reads, or -1 for the
// constant value.
func (p PadDim) Src(mode string, o int) int {
	j := o - p.Before
	if j >= 0 && j < p.N {
		return p.Lo + j
	}
	switch mode {
	case PadEdge:
		j = min(max(j, 0), p.N-1)
	case PadWrap:
		j = ((j % p.N) + p.N) % p.N
	case PadReflect:
		if p.N == 1 {
			j = 0
		} else {
			period := 2 * (p.N - 1)
			j = ((j % period) + period) % period
			if j >= p.N {
				j = period - j
			}
		}
	default:
		return -1
	}
	return p.Lo + j
}

// Dims resolves the pads against the input's shape.
func (p *Pad) Dims(in []*Value) ([]PadDim, error) {
	switch p.Mode {
	case PadConstant, PadReflect, PadEdge, PadWrap:
	default:
		return nil, NotSupportedf("Pad mode %q", p.Mode)
	}
	x := in[0].Type.Shape
	pads, err := ConstInts(in[1], "Pad's pads")
	if err != nil {
		return nil, err
	}
	axes, err := ConstInts(getIn(in, 3), "Pad's axes")
	if err != nil {
		return nil, err
	}
	if axes == nil {
		for i := range x {
			axes = append(axes, i)
		}
	}
	if axes, err = NormAxes(axes, len(x)); err != nil {
		return nil, err
	}
	if len(pads) != 2*len(axes) {
		return nil, fmt.Errorf("Pad has %d pads for %d axes", len(pads), len(axes))
	}
	if v := getIn(in, 2); v != nil && (v.Type.Shape.Size() != 1 || v.Type.DType != in[0].Type.DType) {
		return nil, fmt.Errorf("Pad's constant_value must be one %s, got %s", in[0].Type.DType, v.Type)
	}
	dims := make([]PadDim, len(x))
	for d, n := range x {
		dims[d] = PadDim{Out: n, N: n}
	}
	for i, a := range axes {
		b, e := pads[i], pads[len(axes)+i]
		n := x[a]
		out := n + b + e
		if out < 0 {
			return nil, fmt.Errorf("pads %d and %d remove more than dimension %d's %d elements", b, e, a, n)
		}
		lo := max(0, -b)
		kept := max(0, n-lo-max(0, -e))
		if kept == 0 && out > 0 && p.Mode != PadConstant {
			return nil, fmt.Errorf("Pad mode %s cannot extend dimension %d with no elements", p.Mode, a)
		}
		dims[a] = PadDim{Out: out, Before: max(0, b), Lo: lo, N: kept}
	}
	return dims, nil
}

func (p *Pad) Infer(in []*Value) ([]Type, error) {
	dims, err := p.Dims(in)
	if err != nil {
		return nil, err
	}
	out := make(Shape, len(dims))
	for i, d := range dims {
		out[i] = d.Out
	}
	return Types(Type{in[0].Type.DType, out}), nil
}

func (p *Pad) Eval(in []*Tensor) ([]*Tensor, error) {
	dims, err := p.Dims(constValues(in))
	if err != nil {
		return nil, err
	}
	x := in[0]
	out := make(Shape, len(dims))
	for i, d := range dims {
		out[i] = d.Out
	}
	y := NewTensor(x.DType, out)
	val := getT(in, 2)
	if val == nil {
		val = NewTensor(x.DType, Shape{})
	}
	xs := x.Shape.Strides()
	idx := make([]int, len(out))
	for o := range y.Len() {
		src := 0
		for d := range out {
			s := dims[d].Src(p.Mode, idx[d])
			if s < 0 {
				src = -1
				break
			}
			src += s * xs[d]
		}
		if src < 0 {
			copyElem(y, o, val, 0)
		} else {
			copyElem(y, o, x, src)
		}
		for d := len(out) - 1; d >= 0; d-- {
			if idx[d]++; idx[d] < out[d] {
				break
			}
			idx[d] = 0
		}
	}
	return []*Tensor{y}, nil
}

// --- CenterCropPad ---

// CenterCropPad crops or zero-pads the Axes (default all) of input 0 to the
// sizes of constant input 1, keeping the center.
type CenterCropPad struct{ Axes []int }

func (*CenterCropPad) OpType() string { return "CenterCropPad" }

// Dims gives, per dimension, the output size, the first input index kept
// (crop) and the output index it goes to (pad).
func (c *CenterCropPad) Dims(in []*Value) (out Shape, inStart, outStart []int, err error) {
	x := in[0].Type.Shape
	shape, err := ConstInts(in[1], "CenterCropPad's shape")
	if err != nil {
		return nil, nil, nil, err
	}
	axes := c.Axes
	if axes == nil {
		for i := range x {
			axes = append(axes, i)
		}
	}
	if axes, err = NormAxes(axes, len(x)); err != nil {
		return nil, nil, nil, err
	}
	if len(shape) != len(axes) {
		return nil, nil, nil, fmt.Errorf("CenterCropPad has %d sizes for %d axes", len(shape), len(axes))
	}
	out = x.Clone()
	inStart, outStart = make([]int, len(x)), make([]int, len(x))
	for i, a := range axes {
		s := shape[i]
		if s < 0 {
			return nil, nil, nil, fmt.Errorf("CenterCropPad size %d is negative", s)
		}
		out[a] = s
		if s < x[a] {
			inStart[a] = (x[a] - s) / 2
		} else {
			outStart[a] = (s - x[a]) / 2
		}
	}
	return out, inStart, outStart, nil
}

func (c *CenterCropPad) Infer(in []*Value) ([]Type, error) {
	out, _, _, err := c.Dims(in)
	return Types(Type{in[0].Type.DType, out}), err
}

func (c *CenterCropPad) Eval(in []*Tensor) ([]*Tensor, error) {
	out, inStart, outStart, err := c.Dims(constValues(in))
	if err != nil {
		return nil, err
	}
	x := in[0]
	y := NewTensor(x.DType, out)
	common := make(Shape, len(out))
	base := 0
	xs, ys := x.Shape.Strides(), out.Strides()
	for d := range out {
		common[d] = min(out[d], x.Shape[d])
		base += inStart[d] * xs[d]
	}
	ybase := 0
	for d := range out {
		ybase += outStart[d] * ys[d]
	}
	ForEachIndex(common, [][]int{ys, xs}, func(_ int, offs []int) { copyElem(y, ybase+offs[0], x, base+offs[1]) })
	return []*Tensor{y}, nil
}

// --- Where ---

// Where picks input 1 where the bool input 0 is true, else input 2, with
// broadcasting.
type Where struct{}

func (*Where) OpType() string { return "Where" }

func (*Where) Infer(in []*Value) ([]Type, error) {
	if in[0].Type.DType != Bool {
		return nil, fmt.Errorf("Where condition must be bool, got %s", in[0].Type.DType)
	}
	if err := SameType(in, 1, 2); err != nil {
		return nil, err
	}
	s, err := BroadcastShapes(in[0].Type.Shape, in[1].Type.Shape, in[2].Type.Shape)
	return Types(Type{in[1].Type.DType, s}), err
}

func (w *Where) Eval(in []*Tensor) ([]*Tensor, error) {
	s, err := BroadcastShapes(in[0].Shape, in[1].Shape, in[2].Shape)
	if err != nil {
		return nil, err
	}
	y := NewTensor(in[1].DType, s)
	st := [][]int{BroadcastStrides(in[0].Shape, s), BroadcastStrides(in[1].Shape, s), BroadcastStrides(in[2].Shape, s)}
	ForEachIndex(s, st, func(o int, offs []int) {
		if in[0].Data[offs[0]] != 0 {
			copyElem(y, o, in[1], offs[1])
		} else {
			copyElem(y, o, in[2], offs[2])
		}
	})
	return []*Tensor{y}, nil
}

// --- Trilu ---

// Trilu keeps the upper (or lower) triangle of the last two dimensions,
// shifted by the diagonal offset k of optional scalar input 1, and zeroes
// the rest.
type Trilu struct{ Upper bool }

func (*Trilu) OpType() string { return "Trilu" }

func (*Trilu) Infer(in []*Value) ([]Type, error) {
	if len(in[0].Type.Shape) < 2 {
		return nil, fmt.Errorf("Trilu needs rank 2 or more, got %s", in[0].Type.Shape)
	}
	if k := getIn(in, 1); k != nil && (k.Type.DType != Int64 || k.Type.Shape.Size() != 1) {
		return nil, fmt.Errorf("Trilu's k must be one int64, got %s", k.Type)
	}
	return Types(in[0].Type), nil
}

// Keep reports whether element (i, j) of a matrix survives with offset k.
func (t *Trilu) Keep(i, j, k int64) bool {
	if t.Upper {
		return j-i >= k
	}
	return j-i <= k
}

func (t *Trilu) Eval(in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	var k int64
	if kt := getT(in, 1); kt != nil {
		k = kt.Int(0)
	}
	s := x.Shape
	rows, cols := s[len(s)-2], s[len(s)-1]
	y := NewTensor(x.DType, s)
	for e := range x.Len() {
		i, j := int64(e/cols%rows), int64(e%cols)
		if t.Keep(i, j, k) {
			copyElem(y, e, x, e)
		}
	}
	return []*Tensor{y}, nil
}

// --- ReverseSequence ---

// ReverseSequence reverses the first sequence_lens[b] entries along
// TimeAxis of each batch entry b along BatchAxis (axes 0 and 1, in either
// order). Lengths outside [0, time steps] are errors.
type ReverseSequence struct{ BatchAxis, TimeAxis int }

func (*ReverseSequence) OpType() string { return "ReverseSequence" }

func (r *ReverseSequence) Infer(in []*Value) ([]Type, error) {
	x := in[0].Type.Shape
	if len(x) < 2 {
		return nil, fmt.Errorf("ReverseSequence needs rank 2 or more, got %s", x)
	}
	if !(r.BatchAxis == 0 && r.TimeAxis == 1 || r.BatchAxis == 1 && r.TimeAxis == 0) {
		return nil, fmt.Errorf("ReverseSequence batch_axis %d and time_axis %d must be 0 and 1", r.BatchAxis, r.TimeAxis)
	}
	l := in[1].Type
	if !l.DType.IsInt() || !l.Shape.Equal(Shape{x[r.BatchAxis]}) {
		return nil, fmt.Errorf("ReverseSequence's sequence_lens must be [%d] integers, got %s", x[r.BatchAxis], l)
	}
	return Types(in[0].Type), nil
}

func (r *ReverseSequence) Eval(in []*Tensor) ([]*Tensor, error) {
	x, lens := in[0], in[1]
	st := x.Shape.Strides()
	steps, inner := x.Shape[r.TimeAxis], x.Shape[2:].Size()
	y := x.Clone()
	for b := range x.Shape[r.BatchAxis] {
		n := lens.Int(b)
		if n < 0 || n > int64(steps) {
			return nil, fmt.Errorf("ReverseSequence length %d is outside [0, %d]", n, steps)
		}
		for t := range int(n) {
			src := b*st[r.BatchAxis] + (int(n)-1-t)*st[r.TimeAxis]
			dst := b*st[r.BatchAxis] + t*st[r.TimeAxis]
			for e := range inner {
				copyElem(y, dst+e, x, src+e)
			}
		}
	}
	return []*Tensor{y}, nil
}

// --- Range ---

// Range is start + i*delta for i < ceil((limit-start)/delta), from constant
// scalar inputs. Float values are computed in Stash (float64, or the
// float32/float64 stash_type of Range-27 for float16 and bfloat16) and then
// rounded to the output type; integers are exact.
type Range struct{ Stash DType }

func (*Range) OpType() string { return "Range" }

// RangeArgs reads the constant start, limit and delta and the length.
func RangeArgs(in []*Value) (start, limit, delta float64, n int, err error) {
	if err = SameType(in, 0, 1, 2); err != nil {
		return
	}
	dt := in[0].Type.DType
	if !(dt.IsFloat() || dt.IsInt()) || dt.Bits() < 8 {
		err = fmt.Errorf("Range of %s", dt)
		return
	}
	if start, err = scalarInput(in[0], "Range's start"); err != nil {
		return
	}
	if limit, err = scalarInput(in[1], "Range's limit"); err != nil {
		return
	}
	if delta, err = scalarInput(in[2], "Range's delta"); err != nil {
		return
	}
	if delta == 0 {
		err = fmt.Errorf("Range delta is 0")
		return
	}
	var count float64
	if dt.IsInt() {
		// ceil(|b-a| / |d|) in uint64, which holds any int64 difference
		a, b, d := in[0].Const.Int(0), in[1].Const.Int(0), in[2].Const.Int(0)
		var span, step uint64
		if d > 0 && b > a {
			span, step = uint64(b)-uint64(a), uint64(d)
		} else if d < 0 && b < a {
			span, step = uint64(a)-uint64(b), -uint64(d)
		}
		if step > 0 {
			q := span / step
			if span%step != 0 {
				q++
			}
			count = float64(q)
		}
	} else {
		count = max(0, math.Ceil((limit-start)/delta))
	}
	if count > MaxTensorBytes || count != count {
		err = fmt.Errorf("Range of %v elements", count)
		return
	}
	return start, limit, delta, int(count), nil
}

func (r *Range) Infer(in []*Value) ([]Type, error) {
	_, _, _, n, err := RangeArgs(in)
	return Types(Type{in[0].Type.DType, Shape{n}}), err
}

func (r *Range) Eval(in []*Tensor) ([]*Tensor, error) {
	start, _, delta, n, err := RangeArgs(constValues(in))
	if err != nil {
		return nil, err
	}
	dt := in[0].DType
	y := NewTensor(dt, Shape{n})
	if dt.IsInt() {
		a, d := in[0].Int(0), in[2].Int(0)
		for i := range n {
			y.SetInt(i, a+int64(i)*d)
		}
		return []*Tensor{y}, nil
	}
	for i := range n {
		if r.Stash == Float32 {
			s, d := float32(start), float32(delta)
			// explicit conversions keep Go from fusing into an FMA
			castFloat(y, i, float64(s+float32(float32(i)*d)), false, true, RoundUp)
		} else {
			castFloat(y, i, start+float64(float64(i)*delta), true, true, RoundUp)
		}
	}
	return []*Tensor{y}, nil
}

// --- OneHot ---

// OneHot writes values[1] where the depth axis (inserted at Axis) equals
// the index, values[0] elsewhere. Indices truncate to integers; negative
// ones count from depth when NegativeIndices (OneHot-11), and indices out
// of range give an all-off row.
type OneHot struct {
	Axis            int
	NegativeIndices bool
}

func (*OneHot) OpType() string { return "OneHot" }

// Layout gives the output shape and the depth axis.
func (o *OneHot) Layout(in []*Value) (Shape, int, int, error) {
	d, err := scalarInput(in[1], "OneHot's depth")
	if err != nil {
		return nil, 0, 0, err
	}
	depth := int(d)
	if d != d || d < 1 || d > MaxTensorBytes {
		return nil, 0, 0, fmt.Errorf("OneHot depth %v", d)
	}
	x := in[0].Type.Shape
	axis, err := NormAxis(o.Axis, len(x)+1)
	if err != nil {
		return nil, 0, 0, err
	}
	if in[2].Type.Shape.Size() != 2 {
		return nil, 0, 0, fmt.Errorf("OneHot values must hold [off, on], got %s", in[2].Type)
	}
	if dt := in[0].Type.DType; dt == String || dt == Bool || dt.Bits() < 8 {
		return nil, 0, 0, fmt.Errorf("OneHot indices of %s", dt)
	}
	out := append(append(x[:axis].Clone(), depth), x[axis:]...)
	return out, axis, depth, nil
}

func (o *OneHot) Infer(in []*Value) ([]Type, error) {
	out, _, _, err := o.Layout(in)
	return Types(Type{in[2].Type.DType, out}), err
}

func (o *OneHot) Eval(in []*Tensor) ([]*Tensor, error) {
	out, axis, depth, err := o.Layout(constValues(in))
	if err != nil {
		return nil, err
	}
	idx, vals := in[0], in[2]
	y := NewTensor(vals.DType, out)
	outer, inner := idx.Shape[:axis].Size(), idx.Shape[axis:].Size()
	for i := range y.Len() {
		copyElem(y, i, vals, 0)
	}
	for a := range outer {
		for b := range inner {
			var k int64
			if idx.DType.IsFloat() {
				k = FloatToInt64(idx.Float(a*inner + b))
			} else {
				k = idx.Int(a*inner + b)
			}
			if k < 0 && o.NegativeIndices {
				k += int64(depth)
			}
			if k >= 0 && k < int64(depth) {
				copyElem(y, (a*depth+int(k))*inner+b, vals, 1)
			}
		}
	}
	return []*Tensor{y}, nil
}

// --- EyeLike ---

// EyeLike is a 2-D tensor shaped like input 0 with ones on diagonal K and
// zeros elsewhere, of dtype DType (input 0's when Invalid).
type EyeLike struct {
	DType DType
	K     int
}

func (*EyeLike) OpType() string { return "EyeLike" }

func (e *EyeLike) dtype(in []*Value) DType {
	if e.DType != Invalid {
		return e.DType
	}
	return in[0].Type.DType
}

func (e *EyeLike) Infer(in []*Value) ([]Type, error) {
	if len(in[0].Type.Shape) != 2 {
		return nil, fmt.Errorf("EyeLike needs a 2-D input, got %s", in[0].Type.Shape)
	}
	dt := e.dtype(in)
	if dt == String {
		return nil, fmt.Errorf("EyeLike of strings")
	}
	return Types(Type{dt, in[0].Type.Shape}), nil
}

func (e *EyeLike) Eval(in []*Tensor) ([]*Tensor, error) {
	types, err := e.Infer(constValues(in))
	if err != nil {
		return nil, err
	}
	y := NewTensor(types[0].DType, types[0].Shape)
	rows, cols := y.Shape[0], y.Shape[1]
	for i := range rows {
		if j := i + e.K; j >= 0 && j < cols {
			y.SetFloat(i*cols+j, 1)
		}
	}
	return []*Tensor{y}, nil
}
