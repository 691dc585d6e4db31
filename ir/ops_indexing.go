package ir

import (
	"fmt"
	"math"
)

// Indexed reads and writes: GatherElements, GatherND, ScatterElements,
// ScatterND, TensorScatter.

// ScatterReduction is how a scatter combines an update with the value it hits.
type ScatterReduction string

const (
	ScatterNone ScatterReduction = "none"
	ScatterAdd  ScatterReduction = "add"
	ScatterMul  ScatterReduction = "mul"
	ScatterMax  ScatterReduction = "max"
	ScatterMin  ScatterReduction = "min"
)

// wrapDataIndex resolves a possibly negative index against a dimension of size n.
func wrapDataIndex(i int64, n int) (int, error) {
	if i < -int64(n) || i >= int64(n) {
		return 0, fmt.Errorf("index %d out of range for a dimension of size %d", i, n)
	}
	if i < 0 {
		i += int64(n)
	}
	return int(i), nil
}

// scatterCombineElem sets dst[di] to red(dst[di], src[si]) in the element type.
func scatterCombineElem(dst *Tensor, di int, src *Tensor, si int, red ScatterReduction) {
	if red == ScatterNone || red == "" {
		copyElem(dst, di, src, si)
		return
	}
	dt := dst.DType
	switch {
	case dt == Bool:
		a, b := dst.Int(di) != 0, src.Int(si) != 0
		var r bool
		switch red {
		case ScatterAdd, ScatterMax:
			r = a || b
		default:
			r = a && b
		}
		dst.SetInt(di, map[bool]int64{false: 0, true: 1}[r])
	case dt.IsFloat():
		a, b := dst.Float(di), src.Float(si)
		var r float64
		switch red {
		case ScatterAdd:
			r = a + b
		case ScatterMul:
			r = a * b
		case ScatterMax:
			r = numpyMaximum(a, b)
		case ScatterMin:
			r = numpyMinimum(a, b)
		}
		dst.SetFloat(di, r)
	case dt == Uint64:
		dst.SetUint(di, combineInts(red, dst.Uint(di), src.Uint(si)))
	default:
		dst.SetInt(di, combineInts(red, dst.Int(di), src.Int(si)))
	}
}

// combineInts is red on integers; uint64 has its own Go type so that its
// maximum and minimum compare unsigned.
func combineInts[T int64 | uint64](red ScatterReduction, a, b T) T {
	switch red {
	case ScatterAdd:
		return a + b
	case ScatterMul:
		return a * b
	case ScatterMax:
		return max(a, b)
	case ScatterMin:
		return min(a, b)
	}
	return 0
}

// numpyMaximum and numpyMinimum propagate NaN like numpy's maximum and minimum.
func numpyMaximum(a, b float64) float64 {
	if a != a || b != b {
		return math.NaN()
	}
	return math.Max(a, b)
}

func numpyMinimum(a, b float64) float64 {
	if a != a || b != b {
		return math.NaN()
	}
	return math.Min(a, b)
}

func checkIndexType(what string, dt DType) error {
	if dt != Int32 && dt != Int64 {
		return fmt.Errorf("%s must be int32 or int64, got %s", what, dt)
	}
	return nil
}

// GatherElements picks, at every position of the indices, the data element
// whose coordinate along Axis is the index.
type GatherElements struct{ Axis int }

func (*GatherElements) OpType() string { return "GatherElements" }

func (g *GatherElements) Infer(in []*Value) ([]Type, error) {
	x, idx := in[0].Type, in[1].Type
	if err := checkIndexType("GatherElements indices", idx.DType); err != nil {
		return nil, err
	}
	if _, err := elementsAxis(g.Axis, x.Shape, idx.Shape); err != nil {
		return nil, err
	}
	return Types(Type{x.DType, idx.Shape.Clone()}), nil
}

// elementsAxis checks the shapes of GatherElements and ScatterElements:
// indices have the data's rank and fit inside it off the axis.
func elementsAxis(axis int, data, idx Shape) (int, error) {
	if len(data) == 0 {
		return 0, fmt.Errorf("data must have rank 1 or more")
	}
	if len(idx) != len(data) {
		return 0, fmt.Errorf("indices %s must have the rank of data %s", idx, data)
	}
	a, err := NormAxis(axis, len(data))
	if err != nil {
		return 0, err
	}
	for d := range data {
		if d != a && idx[d] > data[d] {
			return 0, fmt.Errorf("indices %s exceed data %s in dimension %d", idx, data, d)
		}
	}
	return a, nil
}

func (g *GatherElements) Eval(in []*Tensor) ([]*Tensor, error) {
	x, idx := in[0], in[1]
	axis, err := elementsAxis(g.Axis, x.Shape, idx.Shape)
	if err != nil {
		return nil, err
	}
	out := NewTensor(x.DType, idx.Shape)
	xs := x.Shape.Strides()
	st := append([]int{}, xs...)
	st[axis] = 0
	var ferr error
	ForEachIndex(idx.Shape, [][]int{st}, func(o int, offs []int) {
		i, err := wrapDataIndex(idx.Int(o), x.Shape[axis])
		if err != nil {
			ferr = err
			return
		}
		copyElem(out, o, x, offs[0]+i*xs[axis])
	})
	if ferr != nil {
		return nil, ferr
	}
	return []*Tensor{out}, nil
}

// ScatterElements copies data and writes each update at the data position
// whose coordinate along Axis is the matching index (Scatter is its old
// name).
type ScatterElements struct {
	Axis      int
	Reduction ScatterReduction
}

func (*ScatterElements) OpType() string { return "ScatterElements" }

func (s *ScatterElements) Infer(in []*Value) ([]Type, error) {
	x, idx, upd := in[0].Type, in[1].Type, in[2].Type
	if err := checkIndexType("ScatterElements indices", idx.DType); err != nil {
		return nil, err
	}
	if !upd.Shape.Equal(idx.Shape) || upd.DType != x.DType {
		return nil, fmt.Errorf("updates %s must have the shape of indices %s and the dtype of data %s", upd, idx.Shape, x.DType)
	}
	if _, err := elementsAxis(s.Axis, x.Shape, idx.Shape); err != nil {
		return nil, err
	}
	return Types(x), nil
}

func (s *ScatterElements) Eval(in []*Tensor) ([]*Tensor, error) {
	x, idx, upd := in[0], in[1], in[2]
	axis, err := elementsAxis(s.Axis, x.Shape, idx.Shape)
	if err != nil {
		return nil, err
	}
	out := x.Clone()
	xs := x.Shape.Strides()
	st := append([]int{}, xs...)
	st[axis] = 0
	var ferr error
	ForEachIndex(idx.Shape, [][]int{st}, func(o int, offs []int) {
		if ferr != nil {
			return
		}
		i, err := wrapDataIndex(idx.Int(o), x.Shape[axis])
		if err != nil {
			ferr = err
			return
		}
		scatterCombineElem(out, offs[0]+i*xs[axis], upd, o, s.Reduction)
	})
	if ferr != nil {
		return nil, ferr
	}
	return []*Tensor{out}, nil
}

// GatherND gathers slices of data addressed by the last dimension of the
// indices, after BatchDims leading dimensions shared by both.
type GatherND struct{ BatchDims int }

func (*GatherND) OpType() string { return "GatherND" }

// outShape checks GatherND's shapes and returns the output shape.
func (g *GatherND) outShape(data, idx Shape) (Shape, error) {
	b := g.BatchDims
	if len(data) < 1 || len(idx) < 1 {
		return nil, fmt.Errorf("data and indices must have rank 1 or more")
	}
	if b < 0 || b >= len(idx) || b >= len(data) {
		return nil, fmt.Errorf("batch_dims %d out of range for data %s and indices %s", b, data, idx)
	}
	for d := 0; d < b; d++ {
		if data[d] != idx[d] {
			return nil, fmt.Errorf("batch dimension %d differs: data %s, indices %s", d, data, idx)
		}
	}
	m := idx[len(idx)-1]
	if m < 1 || m > len(data)-b {
		return nil, fmt.Errorf("indices' last dimension %d must be in [1, %d]", m, len(data)-b)
	}
	out := append(idx[:len(idx)-1].Clone(), data[b+m:]...)
	return out, nil
}

func (g *GatherND) Infer(in []*Value) ([]Type, error) {
	x, idx := in[0].Type, in[1].Type
	if idx.DType != Int64 {
		return nil, fmt.Errorf("GatherND indices must be int64, got %s", idx.DType)
	}
	s, err := g.outShape(x.Shape, idx.Shape)
	return Types(Type{x.DType, s}), err
}

func (g *GatherND) Eval(in []*Tensor) ([]*Tensor, error) {
	x, idx := in[0], in[1]
	s, err := g.outShape(x.Shape, idx.Shape)
	if err != nil {
		return nil, err
	}
	out := NewTensor(x.DType, s)
	b := g.BatchDims
	m := idx.Shape[len(idx.Shape)-1]
	batches := x.Shape[:b].Size()
	tuples := idx.Shape[b : len(idx.Shape)-1].Size()
	slice := x.Shape[b+m:].Size()
	xs := x.Shape.Strides()
	batchStride := x.Shape[b:].Size()
	o := 0
	for bi := 0; bi < batches; bi++ {
		for t := 0; t < tuples; t++ {
			off := bi * batchStride
			for j := 0; j < m; j++ {
				i, err := wrapDataIndex(idx.Int((bi*tuples+t)*m+j), x.Shape[b+j])
				if err != nil {
					return nil, err
				}
				off += i * xs[b+j]
			}
			for e := 0; e < slice; e++ {
				copyElem(out, o, x, off+e)
				o++
			}
		}
	}
	return []*Tensor{out}, nil
}

// ScatterND copies data and writes update slices at the positions the
// last dimension of the indices addresses.
type ScatterND struct{ Reduction ScatterReduction }

func (*ScatterND) OpType() string { return "ScatterND" }

func (s *ScatterND) check(data, idx, upd Shape) error {
	if len(data) < 1 || len(idx) < 1 {
		return fmt.Errorf("data and indices must have rank 1 or more")
	}
	m := idx[len(idx)-1]
	if m < 1 || m > len(data) {
		return fmt.Errorf("indices' last dimension %d must be in [1, %d]", m, len(data))
	}
	want := append(idx[:len(idx)-1].Clone(), data[m:]...)
	if !want.Equal(upd) {
		return fmt.Errorf("updates have shape %s, want %s", upd, want)
	}
	return nil
}

func (s *ScatterND) Infer(in []*Value) ([]Type, error) {
	x, idx, upd := in[0].Type, in[1].Type, in[2].Type
	if idx.DType != Int64 {
		return nil, fmt.Errorf("ScatterND indices must be int64, got %s", idx.DType)
	}
	if upd.DType != x.DType {
		return nil, fmt.Errorf("updates are %s, data %s", upd.DType, x.DType)
	}
	return Types(x), s.check(x.Shape, idx.Shape, upd.Shape)
}

func (s *ScatterND) Eval(in []*Tensor) ([]*Tensor, error) {
	x, idx, upd := in[0], in[1], in[2]
	if err := s.check(x.Shape, idx.Shape, upd.Shape); err != nil {
		return nil, err
	}
	out := x.Clone()
	m := idx.Shape[len(idx.Shape)-1]
	tuples := idx.Shape[:len(idx.Shape)-1].Size()
	slice := x.Shape[m:].Size()
	xs := x.Shape.Strides()
	for t := 0; t < tuples; t++ {
		off := 0
		for j := 0; j < m; j++ {
			i, err := wrapDataIndex(idx.Int(t*m+j), x.Shape[j])
			if err != nil {
				return nil, err
			}
			off += i * xs[j]
		}
		for e := 0; e < slice; e++ {
			scatterCombineElem(out, off+e, upd, t*slice+e, s.Reduction)
		}
	}
	return []*Tensor{out}, nil
}

// TensorScatter writes the update into a copy of the cache along Axis,
// starting at each batch entry's write index (the KV-cache update of LLMs).
type TensorScatter struct {
	Axis     int
	Circular bool
}

func (*TensorScatter) OpType() string { return "TensorScatter" }

func (s *TensorScatter) axis(cache, upd Shape) (int, error) {
	if len(cache) < 2 || len(upd) != len(cache) {
		return 0, fmt.Errorf("cache %s and update %s must have one rank of 2 or more", cache, upd)
	}
	a, err := NormAxis(s.Axis, len(cache))
	if err != nil {
		return 0, err
	}
	if a == 0 {
		return 0, fmt.Errorf("axis must not be the batch dimension")
	}
	for d := range cache {
		if d != a && cache[d] != upd[d] || d == a && upd[d] > cache[d] {
			return 0, fmt.Errorf("update %s does not fit cache %s along axis %d", upd, cache, a)
		}
	}
	return a, nil
}

func (s *TensorScatter) Infer(in []*Value) ([]Type, error) {
	c, u := in[0].Type, in[1].Type
	if c.DType != u.DType {
		return nil, fmt.Errorf("update is %s, cache %s", u.DType, c.DType)
	}
	if _, err := s.axis(c.Shape, u.Shape); err != nil {
		return nil, err
	}
	if w := getIn(in, 2); w != nil && (w.Type.DType != Int64 || !w.Type.Shape.Equal(Shape{c.Shape[0]})) {
		return nil, fmt.Errorf("write_indices must be int64[%d], got %s", c.Shape[0], w.Type)
	}
	return Types(c), nil
}

func (s *TensorScatter) Eval(in []*Tensor) ([]*Tensor, error) {
	cache, upd, w := in[0], in[1], getT(in, 2)
	a, err := s.axis(cache.Shape, upd.Shape)
	if err != nil {
		return nil, err
	}
	out := cache.Clone()
	maxLen, seqLen := cache.Shape[a], upd.Shape[a]
	inner := cache.Shape[a+1:].Size()
	perBatch := cache.Shape[1:a].Size()
	for b := 0; b < cache.Shape[0]; b++ {
		var start int64
		if w != nil {
			start = w.Int(b)
		}
		for p := 0; p < perBatch; p++ {
			prefix := b*perBatch + p
			for q := 0; q < seqLen; q++ {
				pos := start + int64(q)
				if s.Circular {
					pos = ((pos % int64(maxLen)) + int64(maxLen)) % int64(maxLen)
				} else if pos < 0 || pos >= int64(maxLen) {
					return nil, fmt.Errorf("write index %d + %d update rows exceed the cache length %d", start, seqLen, maxLen)
				}
				for e := 0; e < inner; e++ {
					copyElem(out, (prefix*maxLen+int(pos))*inner+e, upd, (prefix*seqLen+q)*inner+e)
				}
			}
		}
	}
	return []*Tensor{out}, nil
}
