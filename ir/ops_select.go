package ir

import (
	"fmt"
	"slices"
)

// Selections whose output size depends on the data: Compress, NonZero,
// Unique. With constant inputs they fold; otherwise the importer settles
// the size from the output shape the model declares (Count), and the
// kernel fails the run when the data selects another number of entries.

// dataDependent is the error for a data-dependent size nobody settled.
func dataDependent(op string) error {
	return NotSupportedf("%s's output shape depends on run-time data and the model declares no static output shape (only constant inputs or a declared shape can fix it)", op)
}

// Compress keeps the slices along Axis (of the flattened input when Axis
// is nil) whose condition entry is true.
type Compress struct {
	Axis  *int
	Count int // selected slices when the condition is run-time data, or -1
}

func (*Compress) OpType() string { return "Compress" }

// geometry returns the outer size, axis size and inner size of the
// selection and the output shape for count selected slices.
func (c *Compress) geometry(x Shape, count int) (outer, dim, inner int, out Shape, err error) {
	if c.Axis == nil {
		return 1, x.Size(), 1, Shape{count}, nil
	}
	a, err := NormAxis(*c.Axis, len(x))
	if err != nil {
		return 0, 0, 0, nil, err
	}
	out = x.Clone()
	out[a] = count
	return x[:a].Size(), x[a], x[a+1:].Size(), out, nil
}

// compressCount counts the true entries of cond that select a slice of an
// axis of size dim; a true entry past the axis is an error.
func compressCount(cond *Tensor, dim int) (int, error) {
	n := 0
	for i := range cond.Len() {
		if cond.Int(i) != 0 {
			if i >= dim {
				return 0, fmt.Errorf("condition entry %d is true but the axis has %d entries", i, dim)
			}
			n++
		}
	}
	return n, nil
}

func (c *Compress) Infer(in []*Value) ([]Type, error) {
	x, cond := in[0].Type, in[1]
	if cond.Type.DType != Bool || len(cond.Type.Shape) != 1 {
		return nil, fmt.Errorf("condition must be a 1-D bool tensor, got %s", cond.Type)
	}
	count := c.Count
	if cond.Const != nil {
		_, dim, _, _, err := c.geometry(x.Shape, 0)
		if err != nil {
			return nil, err
		}
		if count, err = compressCount(cond.Const, dim); err != nil {
			return nil, err
		}
	}
	if count < 0 {
		return nil, dataDependent("Compress")
	}
	if _, dim, _, _, err := c.geometry(x.Shape, 0); err != nil || count > min(dim, cond.Type.Shape[0]) {
		return nil, fmt.Errorf("%d selected entries do not fit input %s and condition %s", count, x, cond.Type)
	}
	_, _, _, out, err := c.geometry(x.Shape, count)
	return Types(Type{x.DType, out}), err
}

func (c *Compress) Eval(in []*Tensor) ([]*Tensor, error) {
	x, cond := in[0], in[1]
	_, dim, _, _, err := c.geometry(x.Shape, 0)
	if err != nil {
		return nil, err
	}
	count, err := compressCount(cond, dim)
	if err != nil {
		return nil, err
	}
	if c.Count >= 0 && count != c.Count {
		return nil, fmt.Errorf("the condition selects %d entries, the output shape was settled for %d", count, c.Count)
	}
	outer, dim, inner, shape, _ := c.geometry(x.Shape, count)
	out := NewTensor(x.DType, shape)
	o := 0
	for b := 0; b < outer; b++ {
		for i := 0; i < dim && i < cond.Len(); i++ {
			if cond.Int(i) == 0 {
				continue
			}
			for e := 0; e < inner; e++ {
				copyElem(out, o, x, (b*dim+i)*inner+e)
				o++
			}
		}
	}
	return []*Tensor{out}, nil
}

// NonZero lists the coordinates of the non-zero elements, one row per
// dimension, in row-major order.
type NonZero struct {
	Count int // non-zero elements when the input is run-time data, or -1
}

func (*NonZero) OpType() string { return "NonZero" }

func (z *NonZero) Infer(in []*Value) ([]Type, error) {
	x := in[0].Type
	if x.DType == String || x.DType.Bits() < 8 {
		return nil, NotSupportedf("NonZero of %s", x.DType)
	}
	if z.Count < 0 {
		return nil, dataDependent("NonZero")
	}
	if z.Count > x.Shape.Size() {
		return nil, fmt.Errorf("the declared %d non-zero elements exceed the input %s", z.Count, x)
	}
	return Types(Type{Int64, Shape{len(x.Shape), z.Count}}), nil
}

func nonZeroElem(t *Tensor, i int) bool {
	if t.DType.IsFloat() {
		return t.Float(i) != 0
	}
	return t.Int(i) != 0
}

func (z *NonZero) Eval(in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	var hits []int
	for i := range x.Len() {
		if nonZeroElem(x, i) {
			hits = append(hits, i)
		}
	}
	if z.Count >= 0 && len(hits) != z.Count {
		return nil, fmt.Errorf("the input has %d non-zero elements, the output shape was settled for %d", len(hits), z.Count)
	}
	r := len(x.Shape)
	out := NewTensor(Int64, Shape{r, len(hits)})
	st := x.Shape.Strides()
	o := out.I64()
	for j, i := range hits {
		for d := 0; d < r; d++ {
			o[d*len(hits)+j] = int64(i / st[d] % x.Shape[d])
		}
	}
	return []*Tensor{out}, nil
}

// Unique finds the distinct elements (or slices along Axis) of the input:
// sorted ascending, or in order of first occurrence; with the first index
// of each, the inverse mapping and the counts. NaN equals NaN and sorts
// last, as numpy.unique does.
type Unique struct {
	Axis   *int
	Sorted bool
	Count  int // distinct entries when the input is run-time data, or -1
}

func (*Unique) OpType() string { return "Unique" }

// geometry returns outer, item count and inner sizes: item i is the
// slice x[o, i, e] for all o < outer, e < inner.
func (u *Unique) geometry(x Shape) (outer, n, inner, axis int, err error) {
	if u.Axis == nil {
		return 1, x.Size(), 1, -1, nil
	}
	a, err := NormAxis(*u.Axis, len(x))
	if err != nil {
		return 0, 0, 0, 0, err
	}
	return x[:a].Size(), x[a], x[a+1:].Size(), a, nil
}

func (u *Unique) types(x Type, count int) []Type {
	_, n, _, axis, _ := u.geometry(x.Shape)
	y := Shape{count}
	if axis >= 0 {
		y = x.Shape.Clone()
		y[axis] = count
	}
	return Types(Type{x.DType, y}, Type{Int64, Shape{count}}, Type{Int64, Shape{n}}, Type{Int64, Shape{count}})
}

func (u *Unique) Infer(in []*Value) ([]Type, error) {
	x := in[0].Type
	if x.DType == String || x.DType.Bits() < 8 {
		return nil, NotSupportedf("Unique of %s", x.DType)
	}
	_, n, _, _, err := u.geometry(x.Shape)
	if err != nil {
		return nil, err
	}
	if u.Count < 0 {
		return nil, dataDependent("Unique")
	}
	if u.Count > n || u.Count == 0 && n > 0 {
		return nil, fmt.Errorf("the declared %d distinct entries do not fit the %d entries of input %s", u.Count, n, x)
	}
	return u.types(x, u.Count), nil
}

// compareItems orders items i and j lexicographically by value.
func (u *Unique) compareItems(x *Tensor, outer, n, inner, i, j int) int {
	for o := 0; o < outer; o++ {
		for e := 0; e < inner; e++ {
			a, b := (o*n+i)*inner+e, (o*n+j)*inner+e
			switch {
			case sortsBeforeElem(x, a, b, false, false):
				return -1
			case sortsBeforeElem(x, b, a, false, false):
				return 1
			}
		}
	}
	return 0
}

func (u *Unique) Eval(in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	outer, n, inner, _, err := u.geometry(x.Shape)
	if err != nil {
		return nil, err
	}
	rep := make([]int, n)
	var firsts []int
	for i := range n {
		rep[i] = i
		for _, j := range firsts {
			if u.compareItems(x, outer, n, inner, i, j) == 0 {
				rep[i] = j
				break
			}
		}
		if rep[i] == i {
			firsts = append(firsts, i)
		}
	}
	if u.Sorted {
		slices.SortStableFunc(firsts, func(a, b int) int { return u.compareItems(x, outer, n, inner, a, b) })
	}
	if u.Count >= 0 && len(firsts) != u.Count {
		return nil, fmt.Errorf("the input has %d distinct entries, the output shape was settled for %d", len(firsts), u.Count)
	}
	ts := u.types(x.Type, len(firsts))
	y, idx, inv, cnt := NewTensor(ts[0].DType, ts[0].Shape), NewTensor(Int64, ts[1].Shape), NewTensor(Int64, ts[2].Shape), NewTensor(Int64, ts[3].Shape)
	pos := make([]int, n)
	for p, i := range firsts {
		pos[i] = p
		idx.I64()[p] = int64(i)
		for o := 0; o < outer; o++ {
			for e := 0; e < inner; e++ {
				copyElem(y, (o*len(firsts)+p)*inner+e, x, (o*n+i)*inner+e)
			}
		}
	}
	for i := range n {
		p := pos[rep[i]]
		inv.I64()[i] = int64(p)
		cnt.I64()[p]++
	}
	return []*Tensor{y, idx, inv, cnt}, nil
}
