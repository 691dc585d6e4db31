package ir

import "fmt"

// Ordering and scans: ArgMax, ArgMin, TopK, CumSum, CumProd.

// ArgExtreme is ArgMax (Min false) or ArgMin: the int64 position of the
// largest or smallest element along Axis. Ties go to the first position,
// or the last with SelectLast; NaN counts as the extreme, like numpy.
type ArgExtreme struct {
	Min        bool
	Axis       int
	KeepDims   bool
	SelectLast bool
}

func (a *ArgExtreme) OpType() string {
	if a.Min {
		return "ArgMin"
	}
	return "ArgMax"
}

func (a *ArgExtreme) shape(x Shape) (int, Shape, error) {
	axis, err := NormAxis(a.Axis, len(x))
	if err != nil {
		return 0, nil, err
	}
	if x[axis] == 0 {
		return 0, nil, fmt.Errorf("%s over an empty axis", a.OpType())
	}
	out := x.Clone()
	if a.KeepDims {
		out[axis] = 1
	} else {
		out = append(out[:axis], out[axis+1:]...)
	}
	return axis, out, nil
}

func (a *ArgExtreme) Infer(in []*Value) ([]Type, error) {
	dt := in[0].Type.DType
	if dt == String || dt == Bool || dt.Bits() < 8 {
		return nil, NotSupportedf("%s of %s", a.OpType(), dt)
	}
	_, s, err := a.shape(in[0].Type.Shape)
	return Types(Type{Int64, s}), err
}

// sortsBefore reports whether v ranks before w when looking for the largest
// (greater) or smallest values; nanFirst makes NaN rank before any number.
func sortsBefore(v, w float64, greater, nanFirst bool) bool {
	vn, wn := v != v, w != w
	if vn || wn {
		if nanFirst {
			return vn && !wn
		}
		return wn && !vn
	}
	if greater {
		return v > w
	}
	return v < w
}

// sortsBeforeElem compares elements i and j of t like sortsBefore, exactly for
// 64-bit integers.
func sortsBeforeElem(t *Tensor, i, j int, greater, nanFirst bool) bool {
	switch {
	case t.DType.IsFloat():
		return sortsBefore(t.Float(i), t.Float(j), greater, nanFirst)
	case t.DType == Uint64:
		if greater {
			return t.Uint(i) > t.Uint(j)
		}
		return t.Uint(i) < t.Uint(j)
	default:
		if greater {
			return t.Int(i) > t.Int(j)
		}
		return t.Int(i) < t.Int(j)
	}
}

func sameValueElem(t *Tensor, i, j int) bool {
	if t.DType.IsFloat() {
		v, w := t.Float(i), t.Float(j)
		return v == w || v != v && w != w
	}
	return t.Int(i) == t.Int(j)
}

func (a *ArgExtreme) Eval(in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	axis, s, err := a.shape(x.Shape)
	if err != nil {
		return nil, err
	}
	out := NewTensor(Int64, s)
	n, inner := x.Shape[axis], x.Shape[axis+1:].Size()
	outer := x.Shape[:axis].Size()
	o := out.I64()
	for b := 0; b < outer; b++ {
		for i := 0; i < inner; i++ {
			base := b*n*inner + i
			best := 0
			for j := 1; j < n; j++ {
				e, be := base+j*inner, base+best*inner
				if sortsBeforeElem(x, e, be, !a.Min, true) || a.SelectLast && sameValueElem(x, e, be) {
					best = j
				}
			}
			o[b*inner+i] = int64(best)
		}
	}
	return []*Tensor{out}, nil
}

// TopK returns the K largest (or smallest) elements along Axis and their
// int64 positions, sorted, ties broken by the lower position. NaN ranks
// above every number. K comes from input 1 when it is a constant; when it
// is computed at run time, K is the static value the importer settled on
// (from the declared output shape) and the kernel checks the data agrees.
type TopK struct {
	Axis    int
	Largest bool
	K       int // -1 when input 1 must be a constant
}

func (*TopK) OpType() string { return "TopK" }

func (t *TopK) k(kv *Value) (int, error) {
	if kv != nil && kv.Const != nil {
		if kv.Const.Len() != 1 {
			return 0, fmt.Errorf("k must hold one value, got shape %s", kv.Const.Shape)
		}
		return int(kv.Const.Int(0)), nil
	}
	if t.K < 0 {
		return 0, NotSupportedf("k is computed at run time and the model declares no static output shape")
	}
	return t.K, nil
}

func (t *TopK) shape(x Shape, k int) (int, Shape, error) {
	axis, err := NormAxis(t.Axis, len(x))
	if err != nil {
		return 0, nil, err
	}
	if k < 0 || k > x[axis] {
		return 0, nil, fmt.Errorf("k=%d out of range for an axis of size %d", k, x[axis])
	}
	out := x.Clone()
	out[axis] = k
	return axis, out, nil
}

func (t *TopK) Infer(in []*Value) ([]Type, error) {
	x := in[0].Type
	if x.DType == String || x.DType == Bool || x.DType.Bits() < 8 {
		return nil, NotSupportedf("TopK of %s", x.DType)
	}
	if kv := getIn(in, 1); kv != nil && !kv.Type.DType.IsInt() {
		return nil, fmt.Errorf("k must be int64, got %s", kv.Type)
	}
	k, err := t.k(getIn(in, 1))
	if err != nil {
		return nil, err
	}
	_, s, err := t.shape(x.Shape, k)
	return Types(Type{x.DType, s}, Type{Int64, s}), err
}

func (t *TopK) Eval(in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	k := t.K
	if kt := getT(in, 1); kt != nil {
		if kt.Len() != 1 {
			return nil, fmt.Errorf("k must hold one value, got shape %s", kt.Shape)
		}
		got := int(kt.Int(0))
		if t.K >= 0 && got != t.K {
			return nil, fmt.Errorf("k is %d but the output shape was settled for %d", got, t.K)
		}
		k = got
	}
	axis, s, err := t.shape(x.Shape, k)
	if err != nil {
		return nil, err
	}
	vals, idx := NewTensor(x.DType, s), NewTensor(Int64, s)
	n, inner := x.Shape[axis], x.Shape[axis+1:].Size()
	outer := x.Shape[:axis].Size()
	list := make([]int, 0, k)
	for b := 0; b < outer; b++ {
		for i := 0; i < inner; i++ {
			base := b*n*inner + i
			list = list[:0]
			for j := 0; j < n && k > 0; j++ {
				better := func(p int) bool {
					return sortsBeforeElem(x, base+j*inner, base+list[p]*inner, t.Largest, t.Largest)
				}
				if len(list) == k && !better(k-1) {
					continue
				}
				if len(list) < k {
					list = append(list, j)
				}
				p := len(list) - 1
				for p > 0 && better(p-1) {
					list[p] = list[p-1]
					p--
				}
				list[p] = j
			}
			for r, j := range list {
				o := (b*k+r)*inner + i
				copyElem(vals, o, x, base+j*inner)
				idx.I64()[o] = int64(j)
			}
		}
	}
	return []*Tensor{vals, idx}, nil
}

// Cumulative is CumSum (Prod false) or CumProd along the axis held by input
// 1. The axis may be computed at run time: the output shape does not
// depend on it, and the kernel branches on it.
type Cumulative struct {
	Prod      bool
	Exclusive bool
	Reverse   bool
}

func (c *Cumulative) OpType() string {
	if c.Prod {
		return "CumProd"
	}
	return "CumSum"
}

func (c *Cumulative) Infer(in []*Value) ([]Type, error) {
	x, ax := in[0].Type, in[1].Type
	switch x.DType {
	case Float32, Float64, Float16, BFloat16, Int32, Int64, Uint32, Uint64:
	default:
		return nil, NotSupportedf("%s of %s", c.OpType(), x.DType)
	}
	if !ax.DType.IsInt() || ax.Shape.Size() != 1 || len(ax.Shape) > 1 {
		return nil, fmt.Errorf("axis must be an integer scalar, got %s", ax)
	}
	if len(x.Shape) == 0 {
		return nil, fmt.Errorf("input must have rank 1 or more")
	}
	if in[1].Const != nil {
		if _, err := NormAxis(int(in[1].Const.Int(0)), len(x.Shape)); err != nil {
			return nil, err
		}
	}
	return Types(x), nil
}

func (c *Cumulative) Eval(in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	axis, err := NormAxis(int(in[1].Int(0)), len(x.Shape))
	if err != nil {
		return nil, err
	}
	out := NewTensor(x.DType, x.Shape)
	n, inner := x.Shape[axis], x.Shape[axis+1:].Size()
	outer := x.Shape[:axis].Size()
	for b := 0; b < outer; b++ {
		for i := 0; i < inner; i++ {
			acc := NewTensor(x.DType, Shape{1})
			if c.Prod {
				acc.SetInt(0, 1)
			}
			for jj := 0; jj < n; jj++ {
				j := jj
				if c.Reverse {
					j = n - 1 - jj
				}
				e := (b*n+j)*inner + i
				if c.Exclusive {
					copyElem(out, e, acc, 0)
				}
				red := ScatterAdd
				if c.Prod {
					red = ScatterMul
				}
				scatterCombineElem(acc, 0, x, e, red)
				if !c.Exclusive {
					copyElem(out, e, acc, 0)
				}
			}
		}
	}
	return []*Tensor{out}, nil
}
