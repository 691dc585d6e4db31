package ir

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Einsum sums products of its inputs over the labels an equation names.
// Labels are letters; an ellipsis stands for broadcast dimensions. The
// equation is parsed at import; Plan resolves it against input shapes into
// one loop per label (output labels first, then summed ones) and the
// stride of every input along each loop, a repeated label within one input
// adding its strides (a diagonal).
type Einsum struct {
	Equation string
	terms    [][]int // per input: labels, ellipsisLabel for "..."
	out      []int   // output labels (with ellipsisLabel), when explicit
	explicit bool
}

const ellipsisLabel = -1

// ellLabel is the label of broadcast dimension k of the ellipsis.
func ellLabel(k int) int { return 1000 + k }

// ParseEinsum checks and parses an equation.
func ParseEinsum(eq string) (*Einsum, error) {
	e := &Einsum{Equation: eq}
	s := strings.ReplaceAll(eq, " ", "")
	lhs, rhs, explicit := strings.Cut(s, "->")
	parse := func(t string) ([]int, error) {
		var labels []int
		for i := 0; i < len(t); i++ {
			ch := t[i]
			switch {
			case ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z':
				labels = append(labels, int(ch))
			case strings.HasPrefix(t[i:], "..."):
				if slices.Contains(labels, ellipsisLabel) {
					return nil, fmt.Errorf("einsum term %q has two ellipses", t)
				}
				labels = append(labels, ellipsisLabel)
				i += 2
			default:
				return nil, fmt.Errorf("einsum equation %q: unexpected %q", eq, ch)
			}
		}
		return labels, nil
	}
	for _, t := range strings.Split(lhs, ",") {
		labels, err := parse(t)
		if err != nil {
			return nil, err
		}
		e.terms = append(e.terms, labels)
	}
	if explicit {
		out, err := parse(rhs)
		if err != nil {
			return nil, err
		}
		for i, l := range out {
			if slices.Contains(out[:i], l) {
				return nil, fmt.Errorf("einsum equation %q repeats an output label", eq)
			}
		}
		e.out, e.explicit = out, true
	}
	return e, nil
}

func (*Einsum) OpType() string { return "Einsum" }

// EinsumPlan is an equation resolved for input shapes.
type EinsumPlan struct {
	Dims     []int   // loop sizes: output labels, then summed labels
	NOut     int     // the first NOut loops are the output's dimensions
	Strides  [][]int // per input, element stride along each loop
	OutShape Shape
}

// Plan resolves the equation for the given input shapes.
func (e *Einsum) Plan(shapes []Shape) (*EinsumPlan, error) {
	if len(shapes) != len(e.terms) {
		return nil, fmt.Errorf("einsum equation %q has %d terms for %d inputs", e.Equation, len(e.terms), len(shapes))
	}
	// Rank of each input's ellipsis, and of the broadcast ellipsis.
	ellRank := make([]int, len(shapes))
	ell := 0
	for i, t := range e.terms {
		n := len(t)
		if slices.Contains(t, ellipsisLabel) {
			n--
			ellRank[i] = len(shapes[i]) - n
			if ellRank[i] < 0 {
				return nil, fmt.Errorf("einsum term %d has %d labels for rank %d", i, n, len(shapes[i]))
			}
			ell = max(ell, ellRank[i])
		} else if n != len(shapes[i]) {
			return nil, fmt.Errorf("einsum term %d has %d labels for rank %d", i, n, len(shapes[i]))
		}
	}
	// Expand each term to one label per dimension.
	size := map[int]int{}
	var order []int // labels in first-appearance order
	count := map[int]int{}
	dimLabels := make([][]int, len(shapes))
	for i, t := range e.terms {
		for _, l := range t {
			if l != ellipsisLabel {
				dimLabels[i] = append(dimLabels[i], l)
				continue
			}
			for k := 0; k < ellRank[i]; k++ {
				dimLabels[i] = append(dimLabels[i], ellLabel(ell-ellRank[i]+k))
			}
		}
		for d, l := range dimLabels[i] {
			n := shapes[i][d]
			old, seen := size[l]
			switch {
			case !seen:
				order = append(order, l)
				size[l] = n
			case old == n:
			case l >= ellLabel(0) && old == 1:
				size[l] = n
			case l >= ellLabel(0) && n == 1:
			default:
				return nil, fmt.Errorf("einsum label %s has sizes %d and %d", labelName(l), old, n)
			}
			count[l]++
		}
	}
	var out []int
	if e.explicit {
		for _, l := range e.out {
			if l == ellipsisLabel {
				for k := 0; k < ell; k++ {
					out = append(out, ellLabel(k))
				}
				continue
			}
			if _, ok := size[l]; !ok {
				return nil, fmt.Errorf("einsum output label %s is not in any input", labelName(l))
			}
			out = append(out, l)
		}
	} else {
		for k := 0; k < ell; k++ {
			out = append(out, ellLabel(k))
		}
		var once []int
		for _, l := range order {
			if l < ellLabel(0) && count[l] == 1 {
				once = append(once, l)
			}
		}
		slices.Sort(once)
		out = append(out, once...)
	}
	p := &EinsumPlan{NOut: len(out), OutShape: Shape{}}
	loops := append([]int{}, out...)
	for _, l := range order {
		if !slices.Contains(out, l) {
			loops = append(loops, l)
		}
	}
	for _, l := range loops {
		p.Dims = append(p.Dims, size[l])
	}
	for _, l := range out {
		p.OutShape = append(p.OutShape, size[l])
	}
	for i, labels := range dimLabels {
		st := shapes[i].Strides()
		strides := make([]int, len(loops))
		for d, l := range labels {
			if shapes[i][d] == 1 {
				continue // broadcast, or a size-1 loop
			}
			strides[slices.Index(loops, l)] += st[d]
		}
		p.Strides = append(p.Strides, strides)
	}
	return p, nil
}

func labelName(l int) string {
	if l >= ellLabel(0) {
		return fmt.Sprintf("...[%d]", l-ellLabel(0))
	}
	return string(rune(l))
}

// OutStrides are the output's strides along each loop (0 for summed loops).
func (p *EinsumPlan) OutStrides() []int {
	st := make([]int, len(p.Dims))
	copy(st, p.OutShape.Strides())
	return st
}

func (e *Einsum) Infer(in []*Value) ([]Type, error) {
	if len(in) == 0 || in[0] == nil {
		return nil, fmt.Errorf("einsum needs at least one input")
	}
	dt := in[0].Type.DType
	shapes := make([]Shape, len(in))
	for i, v := range in {
		if v == nil {
			return nil, fmt.Errorf("einsum input %d is missing", i)
		}
		if v.Type.DType != dt {
			return nil, fmt.Errorf("einsum inputs differ in dtype: %s and %s", dt, v.Type.DType)
		}
		shapes[i] = v.Type.Shape
	}
	if dt == Bool || dt == String || dt.Bits() < 8 {
		return nil, NotSupportedf("Einsum on %s", dt)
	}
	p, err := e.Plan(shapes)
	if err != nil {
		return nil, err
	}
	return Types(Type{dt, p.OutShape}), nil
}

func (e *Einsum) Eval(in []*Tensor) ([]*Tensor, error) {
	shapes := make([]Shape, len(in))
	for i, t := range in {
		shapes[i] = t.Shape
	}
	p, err := e.Plan(shapes)
	if err != nil {
		return nil, err
	}
	dt := in[0].DType
	out := NewTensor(dt, p.OutShape)
	strides := append([][]int{p.OutStrides()}, p.Strides...)
	if dt.IsFloat() {
		acc := make([]float64, out.Len())
		ForEachIndex(Shape(p.Dims), strides, func(_ int, offs []int) {
			v := 1.0
			for i, t := range in {
				v *= t.Float(offs[i+1])
			}
			acc[offs[0]] += v
		})
		for i, v := range acc {
			out.SetFloat(i, v)
		}
		return []*Tensor{out}, nil
	}
	acc := make([]int64, out.Len())
	ForEachIndex(Shape(p.Dims), strides, func(_ int, offs []int) {
		v := int64(1)
		for i, t := range in {
			v *= t.Int(offs[i+1])
		}
		acc[offs[0]] += v
	})
	for i, v := range acc {
		out.SetInt(i, v)
	}
	return []*Tensor{out}, nil
}

// Det is the determinant of the square matrices in the last two axes.
type Det struct{}

func (*Det) OpType() string { return "Det" }

func (*Det) Infer(in []*Value) ([]Type, error) {
	t := in[0].Type
	if !t.DType.IsFloat() {
		return nil, NotSupportedf("Det on %s", t.DType)
	}
	r := len(t.Shape)
	if r < 2 || t.Shape[r-1] != t.Shape[r-2] {
		return nil, fmt.Errorf("Det needs square matrices in the last two axes, got %s", t.Shape)
	}
	return Types(Type{t.DType, t.Shape[:r-2].Clone()}), nil
}

func (*Det) Eval(in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	r := len(x.Shape)
	m := x.Shape[r-1]
	out := NewTensor(x.DType, x.Shape[:r-2].Clone())
	a := make([]float64, m*m)
	for b := range out.Len() {
		for i := range a {
			a[i] = x.Float(b*m*m + i)
		}
		out.SetFloat(b, LUDet(a, m))
	}
	return []*Tensor{out}, nil
}

// LUDet is the determinant of the m x m row-major matrix a (overwritten)
// by Gaussian elimination with partial pivoting; the kernel does the same.
func LUDet(a []float64, m int) float64 {
	det := 1.0
	for k := 0; k < m; k++ {
		p := k
		for i := k + 1; i < m; i++ {
			if math.Abs(a[i*m+k]) > math.Abs(a[p*m+k]) {
				p = i
			}
		}
		piv := a[p*m+k]
		if p != k {
			for j := 0; j < m; j++ {
				a[p*m+j], a[k*m+j] = a[k*m+j], a[p*m+j]
			}
			det = -det
		}
		det *= piv
		if piv == 0 {
			continue // the column below is zero too: the determinant is 0
		}
		for i := k + 1; i < m; i++ {
			f := a[i*m+k] / piv
			for j := k + 1; j < m; j++ {
				a[i*m+j] -= f * a[k*m+j]
			}
		}
	}
	return det
}
