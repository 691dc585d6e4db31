package ir

import (
	"fmt"
	"slices"
)

// Shape-changing and data-movement operators.

// ShapeOnly is implemented by ops whose output depends only on the input
// types (Shape, Size): they fold even when their input is computed at run
// time, which is what makes exported shape arithmetic static.
type ShapeOnly interface{ ShapeOnly() }

// Reshape views input 0 under the shape held by constant input 1.
type Reshape struct{ AllowZero bool }

func (*Reshape) OpType() string { return "Reshape" }
func (*Reshape) AliasesInput()  {}

func (r *Reshape) Infer(in []*Value) ([]Type, error) {
	spec, err := ConstInts(in[1], "Reshape's shape")
	if err != nil {
		return nil, err
	}
	s, err := ResolveReshape(in[0].Type.Shape, spec, r.AllowZero)
	if err != nil {
		return nil, err
	}
	return Types(Type{in[0].Type.DType, s}), nil
}

// ResolveReshape applies ONNX Reshape's 0 and -1 rules.
func ResolveReshape(in Shape, spec []int, allowZero bool) (Shape, error) {
	out := make(Shape, len(spec))
	infer := -1
	known := 1
	for i, d := range spec {
		switch {
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("reshape spec %v has more than one -1", spec)
			}
			infer = i
			continue
		case d == 0 && !allowZero:
			if i >= len(in) {
				return nil, fmt.Errorf("reshape spec %v copies dimension %d of input %s which has none", spec, i, in)
			}
			d = in[i]
		case d < 0:
			return nil, fmt.Errorf("reshape spec %s has invalid dimension %d", Shape(spec), d)
		}
		out[i] = d
		known *= d
	}
	if infer >= 0 {
		if known == 0 || in.Size()%known != 0 {
			return nil, fmt.Errorf("cannot reshape %s to %s", in, Shape(spec))
		}
		out[infer] = in.Size() / known
	}
	if out.Size() != in.Size() {
		return nil, fmt.Errorf("cannot reshape %s (%d elements) to %s", in, in.Size(), Shape(spec))
	}
	return out, nil
}

func (r *Reshape) Eval(in []*Tensor) ([]*Tensor, error) { return evalReshaped(r, in) }

// evalReshaped is Eval for the ops whose output is input 0 under the shape
// their rule infers.
func evalReshaped(op Op, in []*Tensor) ([]*Tensor, error) {
	types, err := op.Infer(constValues(in))
	if err != nil {
		return nil, err
	}
	return []*Tensor{in[0].Clone().Reshaped(types[0].Shape)}, nil
}

// Flatten reshapes to 2-D around Axis.
type Flatten struct{ Axis int }

func (*Flatten) OpType() string { return "Flatten" }
func (*Flatten) AliasesInput()  {}

func (f *Flatten) shape(s Shape) (Shape, error) {
	a := f.Axis
	if a < 0 {
		a += len(s)
	}
	if a < 0 || a > len(s) {
		return nil, fmt.Errorf("Flatten axis %d out of range for rank %d", f.Axis, len(s))
	}
	return Shape{s[:a].Size(), s[a:].Size()}, nil
}

func (f *Flatten) Infer(in []*Value) ([]Type, error) {
	s, err := f.shape(in[0].Type.Shape)
	return Types(Type{in[0].Type.DType, s}), err
}

func (f *Flatten) Eval(in []*Tensor) ([]*Tensor, error) { return evalReshaped(f, in) }

// Squeeze removes size-1 axes: those of constant input 1, or all of them.
type Squeeze struct{}

func (*Squeeze) OpType() string { return "Squeeze" }
func (*Squeeze) AliasesInput()  {}

func squeezeShape(s Shape, axesSpec []int, all bool) (Shape, error) {
	drop := make(map[int]bool)
	if all {
		for i, d := range s {
			if d == 1 {
				drop[i] = true
			}
		}
	} else {
		axes, err := NormAxes(axesSpec, len(s))
		if err != nil {
			return nil, err
		}
		for _, a := range axes {
			if s[a] != 1 {
				return nil, fmt.Errorf("cannot squeeze axis %d of size %d", a, s[a])
			}
			drop[a] = true
		}
	}
	out := Shape{}
	for i, d := range s {
		if !drop[i] {
			out = append(out, d)
		}
	}
	return out, nil
}

func (*Squeeze) Infer(in []*Value) ([]Type, error) {
	axes, err := ConstInts(getIn(in, 1), "Squeeze's axes")
	if err != nil {
		return nil, err
	}
	s, err := squeezeShape(in[0].Type.Shape, axes, getIn(in, 1) == nil)
	return Types(Type{in[0].Type.DType, s}), err
}

func (q *Squeeze) Eval(in []*Tensor) ([]*Tensor, error) { return evalReshaped(q, in) }

// Unsqueeze inserts size-1 axes listed by constant input 1.
type Unsqueeze struct{}

func (*Unsqueeze) OpType() string { return "Unsqueeze" }
func (*Unsqueeze) AliasesInput()  {}

func unsqueezeShape(s Shape, axesSpec []int) (Shape, error) {
	r := len(s) + len(axesSpec)
	axes, err := NormAxes(axesSpec, r)
	if err != nil {
		return nil, err
	}
	out := make(Shape, r)
	j := 0
	for i := range out {
		if slices.Contains(axes, i) {
			out[i] = 1
		} else {
			out[i] = s[j]
			j++
		}
	}
	return out, nil
}

func (*Unsqueeze) Infer(in []*Value) ([]Type, error) {
	axes, err := ConstInts(in[1], "Unsqueeze's axes")
	if err != nil {
		return nil, err
	}
	s, err := unsqueezeShape(in[0].Type.Shape, axes)
	return Types(Type{in[0].Type.DType, s}), err
}

func (u *Unsqueeze) Eval(in []*Tensor) ([]*Tensor, error) { return evalReshaped(u, in) }

// Identity passes its input through (Dropout in inference imports as this).
type Identity struct{}

func (*Identity) OpType() string { return "Identity" }
func (*Identity) AliasesInput()  {}

func (*Identity) Infer(in []*Value) ([]Type, error) { return Types(in[0].Type), nil }

func (*Identity) Eval(in []*Tensor) ([]*Tensor, error) { return []*Tensor{in[0].Clone()}, nil }

// ShapeOf is ONNX Shape: the input's dimensions [Start:End] as int64.
type ShapeOf struct {
	Start int
	End   *int
}

func (*ShapeOf) OpType() string { return "Shape" }
func (*ShapeOf) ShapeOnly()     {}

func (s *ShapeOf) dims(x Shape) []int64 {
	r := len(x)
	clamp := func(v int) int {
		if v < 0 {
			v += r
		}
		return min(max(v, 0), r)
	}
	start, end := clamp(s.Start), r
	if s.End != nil {
		end = clamp(*s.End)
	}
	var out []int64
	for i := start; i < end; i++ {
		out = append(out, int64(x[i]))
	}
	return out
}

func (s *ShapeOf) Infer(in []*Value) ([]Type, error) {
	return Types(Type{Int64, Shape{len(s.dims(in[0].Type.Shape))}}), nil
}

func (s *ShapeOf) Eval(in []*Tensor) ([]*Tensor, error) {
	d := s.dims(in[0].Shape)
	return []*Tensor{TensorI64(Shape{len(d)}, d...)}, nil
}

// Size is the element count as an int64 scalar.
type Size struct{}

func (*Size) OpType() string { return "Size" }
func (*Size) ShapeOnly()     {}
func (*Size) Infer(in []*Value) ([]Type, error) {
	return Types(Type{Int64, Shape{}}), nil
}
func (*Size) Eval(in []*Tensor) ([]*Tensor, error) {
	return []*Tensor{TensorI64(Shape{}, int64(in[0].Shape.Size()))}, nil
}

// Transpose permutes axes.
type Transpose struct{ Perm []int } // nil: reverse

func (t *Transpose) OpType() string { return "Transpose" }

func (t *Transpose) perm(r int) ([]int, error) {
	if t.Perm == nil {
		p := make([]int, r)
		for i := range p {
			p[i] = r - 1 - i
		}
		return p, nil
	}
	if len(t.Perm) != r {
		return nil, fmt.Errorf("perm %v does not match rank %d", t.Perm, r)
	}
	p, err := NormAxes(t.Perm, r)
	return p, err
}

// ResolvedPerm returns the permutation for an input of rank r.
func (t *Transpose) ResolvedPerm(r int) []int {
	p, _ := t.perm(r)
	return p
}

func (t *Transpose) Infer(in []*Value) ([]Type, error) {
	s := in[0].Type.Shape
	p, err := t.perm(len(s))
	if err != nil {
		return nil, err
	}
	out := make(Shape, len(s))
	for i, a := range p {
		out[i] = s[a]
	}
	return Types(Type{in[0].Type.DType, out}), nil
}

func (t *Transpose) Eval(in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	p, err := t.perm(len(x.Shape))
	if err != nil {
		return nil, err
	}
	outShape := make(Shape, len(p))
	xs := x.Shape.Strides()
	st := make([]int, len(p))
	for i, a := range p {
		outShape[i] = x.Shape[a]
		st[i] = xs[a]
	}
	out := NewTensor(x.DType, outShape)
	CopyStrided(out, x, st)
	return []*Tensor{out}, nil
}

// CopyStrided fills out (row-major) from x read with the given element
// strides per output dimension.
func CopyStrided(out, x *Tensor, strides []int) {
	if x.DType == String {
		ForEachIndex(out.Shape, [][]int{strides}, func(o int, offs []int) { out.Strings[o] = x.Strings[offs[0]] })
		return
	}
	if bits := x.DType.Bits(); bits >= 8 {
		w := bits / 8
		ForEachIndex(out.Shape, [][]int{strides}, func(o int, offs []int) {
			copy(out.Data[o*w:o*w+w], x.Data[offs[0]*w:offs[0]*w+w])
		})
		return
	}
	ForEachIndex(out.Shape, [][]int{strides}, func(o int, offs []int) { out.setRawSmall(o, x.rawSmall(offs[0])) })
}

// Concat joins inputs along Axis.
type Concat struct{ Axis int }

func (*Concat) OpType() string { return "Concat" }

func (c *Concat) Infer(in []*Value) ([]Type, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("Concat needs inputs")
	}
	base := in[0].Type
	axis, err := NormAxis(c.Axis, len(base.Shape))
	if err != nil {
		return nil, err
	}
	out := base.Shape.Clone()
	out[axis] = 0
	for i, v := range in {
		s := v.Type.Shape
		if v.Type.DType != base.DType || len(s) != len(out) {
			return nil, fmt.Errorf("Concat input %d is %s, input 0 is %s", i, v.Type, base)
		}
		for d := range s {
			if d != axis && s[d] != out[d] {
				return nil, fmt.Errorf("Concat input %d is %s, input 0 is %s", i, v.Type, base)
			}
		}
		out[axis] += s[axis]
	}
	return Types(Type{base.DType, out}), nil
}

func (c *Concat) Eval(in []*Tensor) ([]*Tensor, error) {
	axis, _ := NormAxis(c.Axis, len(in[0].Shape))
	shape := in[0].Shape.Clone()
	shape[axis] = 0
	for _, t := range in {
		shape[axis] += t.Shape[axis]
	}
	out := NewTensor(in[0].DType, shape)
	outer := shape[:axis].Size()
	pos := 0
	for _, t := range in {
		inner := t.Shape[axis:].Size()
		for o := 0; o < outer; o++ {
			for k := 0; k < inner; k++ {
				copyElem(out, o*shape[axis:].Size()+pos+k, t, o*inner+k)
			}
		}
		pos += inner
	}
	return []*Tensor{out}, nil
}

// copyElem copies one element between tensors of the same dtype.
func copyElem(dst *Tensor, di int, src *Tensor, si int) {
	switch bits := src.DType.Bits(); {
	case src.DType == String:
		dst.Strings[di] = src.Strings[si]
	case bits >= 8:
		w := bits / 8
		copy(dst.Data[di*w:di*w+w], src.Data[si*w:si*w+w])
	default:
		dst.setRawSmall(di, src.rawSmall(si))
	}
}

// Gather takes entries along Axis at the indices of input 1.
type Gather struct{ Axis int }

func (*Gather) OpType() string { return "Gather" }

func (g *Gather) Infer(in []*Value) ([]Type, error) {
	x, idx := in[0].Type, in[1].Type
	if !idx.DType.IsInt() {
		return nil, fmt.Errorf("Gather indices must be int32 or int64, got %s", idx.DType)
	}
	axis, err := NormAxis(g.Axis, len(x.Shape))
	if err != nil {
		return nil, err
	}
	out := append(append(x.Shape[:axis].Clone(), idx.Shape...), x.Shape[axis+1:]...)
	return Types(Type{x.DType, out}), nil
}

func (g *Gather) Eval(in []*Tensor) ([]*Tensor, error) {
	x, idx := in[0], in[1]
	axis, _ := NormAxis(g.Axis, len(x.Shape))
	types, err := g.Infer(constValues(in))
	if err != nil {
		return nil, err
	}
	out := NewTensor(x.DType, types[0].Shape)
	outer := x.Shape[:axis].Size()
	inner := x.Shape[axis+1:].Size()
	n := x.Shape[axis]
	k := idx.Len()
	for o := 0; o < outer; o++ {
		for j := 0; j < k; j++ {
			i := int(idx.Int(j))
			if i < -n || i >= n {
				return nil, fmt.Errorf("Gather index %d out of range for axis of size %d", i, n)
			}
			if i < 0 {
				i += n
			}
			for e := 0; e < inner; e++ {
				copyElem(out, (o*k+j)*inner+e, x, (o*n+i)*inner+e)
			}
		}
	}
	return []*Tensor{out}, nil
}

// ConstantOfShape fills the shape given by constant input 0 with Value.
type ConstantOfShape struct{ Value *Tensor }

func (*ConstantOfShape) OpType() string { return "ConstantOfShape" }

func (c *ConstantOfShape) Infer(in []*Value) ([]Type, error) {
	s, err := ConstInts(in[0], "ConstantOfShape's shape")
	if err != nil {
		return nil, err
	}
	for _, d := range s {
		if d < 0 {
			return nil, fmt.Errorf("negative dimension in shape %v", s)
		}
	}
	return Types(Type{c.Value.DType, Shape(s)}), nil
}

func (c *ConstantOfShape) Eval(in []*Tensor) ([]*Tensor, error) {
	out := NewTensor(c.Value.DType, Shape(in[0].Ints()))
	for i := range out.Len() {
		copyElem(out, i, c.Value, 0)
	}
	return []*Tensor{out}, nil
}
