package ir

import "fmt"

// Shape helpers shared by the ops' shape rules and reference semantics.

// BroadcastShapes applies numpy multidirectional broadcasting.
func BroadcastShapes(shapes ...Shape) (Shape, error) {
	rank := 0
	for _, s := range shapes {
		rank = max(rank, len(s))
	}
	out := make(Shape, rank)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		off := rank - len(s)
		for i, d := range s {
			o := out[off+i]
			switch {
			case d == o || d == 1:
			case o == 1:
				out[off+i] = d
			default:
				return nil, fmt.Errorf("shapes %v cannot broadcast (dimension %d: %d vs %d)", shapes, off+i, o, d)
			}
		}
	}
	return out, nil
}

// BroadcastStrides gives the element strides of a tensor of shape in when
// read as shape out: dimensions that broadcast get stride 0.
func BroadcastStrides(in, out Shape) []int {
	st := make([]int, len(out))
	inSt := in.Strides()
	off := len(out) - len(in)
	for i := range in {
		if in[i] != 1 {
			st[off+i] = inSt[i]
		}
	}
	return st
}

// ForEachIndex calls f for every element of out in row-major order with the
// matching element offsets into tensors laid out with the given strides.
func ForEachIndex(out Shape, strides [][]int, f func(o int, offs []int)) {
	n := out.Size()
	if n == 0 {
		return
	}
	idx := make([]int, len(out))
	offs := make([]int, len(strides))
	for o := 0; o < n; o++ {
		f(o, offs)
		for d := len(out) - 1; d >= 0; d-- {
			idx[d]++
			for k := range strides {
				offs[k] += strides[k][d]
			}
			if idx[d] < out[d] {
				break
			}
			for k := range strides {
				offs[k] -= strides[k][d] * out[d]
			}
			idx[d] = 0
		}
	}
}

// NormAxis resolves a possibly negative axis against rank r.
func NormAxis(axis, r int) (int, error) {
	if axis < -r || axis >= r {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, r)
	}
	if axis < 0 {
		axis += r
	}
	return axis, nil
}

// NormAxes resolves a list of axes, rejecting duplicates.
func NormAxes(axes []int, r int) ([]int, error) {
	out := make([]int, len(axes))
	seen := make(map[int]bool)
	for i, a := range axes {
		n, err := NormAxis(a, r)
		if err != nil {
			return nil, err
		}
		if seen[n] {
			return nil, fmt.Errorf("axis %d repeated", a)
		}
		seen[n] = true
		out[i] = n
	}
	return out, nil
}

// ConstInts reads a constant integer input (a shape, axes, pads).
func ConstInts(v *Value, what string) ([]int, error) {
	if v == nil {
		return nil, nil
	}
	if v.Const == nil {
		return nil, &NotConstant{What: what, Value: v.Name}
	}
	if !v.Const.DType.IsInt() {
		return nil, fmt.Errorf("%s must be an integer tensor, got %s", what, v.Type)
	}
	return v.Const.Ints(), nil
}

// Floats reads any numeric tensor as float64s.
func (t *Tensor) Floats() []float64 {
	out := make([]float64, t.Len())
	switch t.DType {
	case Float32:
		for i, v := range t.F32() {
			out[i] = float64(v)
		}
	default:
		for i := range out {
			out[i] = t.Float(i)
		}
	}
	return out
}

// FromFloats builds a tensor of dtype dt from float64s, rounding each.
func FromFloats(dt DType, shape Shape, vals []float64) *Tensor {
	t := NewTensor(dt, shape)
	if dt == Float32 {
		f := t.F32()
		for i, v := range vals {
			f[i] = float32(v)
		}
		return t
	}
	for i, v := range vals {
		t.SetFloat(i, v)
	}
	return t
}

// SameType checks that inputs share one dtype.
func SameType(in []*Value, idx ...int) error {
	var dt DType
	for _, i := range idx {
		if i >= len(in) || in[i] == nil {
			continue
		}
		if dt == Invalid {
			dt = in[i].Type.DType
		} else if in[i].Type.DType != dt {
			return fmt.Errorf("input %d is %s but earlier inputs are %s", i, in[i].Type.DType, dt)
		}
	}
	return nil
}

// Types is a shorthand for returning one output type.
func Types(ts ...Type) []Type { return ts }
