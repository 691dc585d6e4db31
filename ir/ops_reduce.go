package ir

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// Reductions: one struct for the ten ONNX Reduce* operators. Each kind is a
// pre-step per element, a combine step and a post-step per result, so the
// kernel and the reference share one table.

// ReduceKind names a reduction.
type ReduceKind string

const (
	ReduceSum       ReduceKind = "ReduceSum"
	ReduceMean      ReduceKind = "ReduceMean"
	ReduceMax       ReduceKind = "ReduceMax"
	ReduceMin       ReduceKind = "ReduceMin"
	ReduceProd      ReduceKind = "ReduceProd"
	ReduceL1        ReduceKind = "ReduceL1"
	ReduceL2        ReduceKind = "ReduceL2"
	ReduceLogSum    ReduceKind = "ReduceLogSum"
	ReduceLogSumExp ReduceKind = "ReduceLogSumExp"
	ReduceSumSquare ReduceKind = "ReduceSumSquare"
)

// ReduceCombine is how two partial results merge.
type ReduceCombine int

const (
	CombineAdd ReduceCombine = iota
	CombineMul
	CombineMax
	CombineMin
)

// ReducePre is applied to each element before combining.
type ReducePre int

const (
	PreNone   ReducePre = iota
	PreAbs              // |x|
	PreSquare           // x*x
	PreExp              // exp(x - max), max of the same reduction
)

// ReducePost is applied to each combined result.
type ReducePost int

const (
	PostNone   ReducePost = iota
	PostMean              // divide by the element count
	PostSqrt              // sqrt
	PostLog               // log
	PostLogMax            // log(s) + max (log-sum-exp)
)

// ReduceDef describes a kind.
type ReduceDef struct {
	Pre     ReducePre
	Combine ReduceCombine
	Post    ReducePost
}

var reduceDefs = map[ReduceKind]ReduceDef{
	ReduceSum:       {PreNone, CombineAdd, PostNone},
	ReduceMean:      {PreNone, CombineAdd, PostMean},
	ReduceMax:       {PreNone, CombineMax, PostNone},
	ReduceMin:       {PreNone, CombineMin, PostNone},
	ReduceProd:      {PreNone, CombineMul, PostNone},
	ReduceL1:        {PreAbs, CombineAdd, PostNone},
	ReduceL2:        {PreSquare, CombineAdd, PostSqrt},
	ReduceLogSum:    {PreNone, CombineAdd, PostLog},
	ReduceLogSumExp: {PreExp, CombineAdd, PostLogMax},
	ReduceSumSquare: {PreSquare, CombineAdd, PostNone},
}

// Def returns the kind's steps.
func (k ReduceKind) Def() (ReduceDef, bool) {
	d, ok := reduceDefs[k]
	return d, ok
}

// Reduce reduces input 0 over a set of axes. The axes are either resolved
// at import (Axes, or All for every axis; an empty Axes reduces over the
// empty set, applying only the pre- and post-steps), or come from input 1
// at run time: the output shape is then the model's declared OutShape, and
// the axes must be one of the sets that give it (ReduceAxisSets).
type Reduce struct {
	Kind     ReduceKind
	Axes     []int
	All      bool
	KeepDims bool
	OutShape Shape // declared output shape, for run-time axes only
}

func (r *Reduce) OpType() string { return string(r.Kind) }

// ResolvedAxes are the reduced axes, sorted, for a static reduction of rank rank.
func (r *Reduce) ResolvedAxes(rank int) ([]int, error) {
	if r.All {
		axes := make([]int, rank)
		for i := range axes {
			axes[i] = i
		}
		return axes, nil
	}
	axes, err := NormAxes(r.Axes, rank)
	if err != nil {
		return nil, err
	}
	slices.Sort(axes)
	return axes, nil
}

// ReducedShape is the output shape of reducing s over axes.
func ReducedShape(s Shape, axes []int, keep bool) Shape {
	out := Shape{}
	for d, n := range s {
		switch {
		case !slices.Contains(axes, d):
			out = append(out, n)
		case keep:
			out = append(out, 1)
		}
	}
	return out
}

// maxDynamicReduceRank bounds the subsets ReduceAxisSets enumerates.
const maxDynamicReduceRank = 16

// ReduceAxisSets lists, as bit masks, the sets of at most maxAxes axes
// whose reduction of in gives the shape out: the run-time axes of a Reduce
// must be one of them.
func ReduceAxisSets(in, out Shape, keep bool, maxAxes int) ([]uint32, error) {
	r := len(in)
	if r > maxDynamicReduceRank {
		return nil, NotSupportedf("run-time reduction axes on rank %d (at most %d)", r, maxDynamicReduceRank)
	}
	var sets []uint32
	for m := uint32(1); m < 1<<r; m++ {
		if bits.OnesCount32(m) > maxAxes {
			continue
		}
		if ReducedShape(in, MaskAxes(m, r), keep).Equal(out) {
			sets = append(sets, m)
		}
	}
	return sets, nil
}

// MaskAxes lists the axes of a bit mask.
func MaskAxes(m uint32, r int) []int {
	axes := []int{}
	for d := 0; d < r; d++ {
		if m&(1<<d) != 0 {
			axes = append(axes, d)
		}
	}
	return axes
}

func (r *Reduce) Infer(in []*Value) ([]Type, error) {
	d, ok := r.Kind.Def()
	if !ok {
		return nil, fmt.Errorf("unknown reduction %s", r.Kind)
	}
	t := in[0].Type
	switch {
	case t.DType == String || t.DType.Bits() < 8 && t.DType != Bool:
		return nil, NotSupportedf("%s on %s", r.Kind, t.DType)
	case t.DType == Bool && d.Combine != CombineMax && d.Combine != CombineMin:
		return nil, NotSupportedf("%s on bool", r.Kind)
	case !t.DType.IsFloat() && d.Pre == PreExp:
		return nil, NotSupportedf("%s on %s", r.Kind, t.DType)
	}
	if a := getIn(in, 1); a != nil {
		if !a.Type.DType.IsInt() || len(a.Type.Shape) > 1 {
			return nil, fmt.Errorf("axes must be a 1-D integer tensor, got %s", a.Type)
		}
		if r.OutShape == nil {
			return nil, NotSupportedf("%s axes (input %q) computed at run time without a declared output shape", r.Kind, a.Name)
		}
		sets, err := ReduceAxisSets(t.Shape, r.OutShape, r.KeepDims, a.Type.Shape.Size())
		if err != nil {
			return nil, err
		}
		if len(sets) == 0 {
			return nil, fmt.Errorf("no %d axes of %s reduce to the declared output shape %s", a.Type.Shape.Size(), t.Shape, r.OutShape)
		}
		return Types(Type{t.DType, r.OutShape.Clone()}), nil
	}
	axes, err := r.ResolvedAxes(len(t.Shape))
	if err != nil {
		return nil, err
	}
	return Types(Type{t.DType, ReducedShape(t.Shape, axes, r.KeepDims)}), nil
}

func (r *Reduce) Eval(in []*Tensor) ([]*Tensor, error) {
	d, ok := r.Kind.Def()
	if !ok {
		return nil, fmt.Errorf("unknown reduction %s", r.Kind)
	}
	x := in[0]
	var axes []int
	if a := getT(in, 1); a != nil {
		var err error
		if axes, err = NormAxes(a.Ints(), len(x.Shape)); err != nil {
			return nil, err
		}
		slices.Sort(axes)
	} else {
		var err error
		if axes, err = r.ResolvedAxes(len(x.Shape)); err != nil {
			return nil, err
		}
	}
	outShape := ReducedShape(x.Shape, axes, r.KeepDims)
	if r.OutShape != nil && getT(in, 1) != nil && !outShape.Equal(r.OutShape) {
		return nil, fmt.Errorf("axes %v give shape %s, not the declared %s", axes, outShape, r.OutShape)
	}
	keep := ReducedShape(x.Shape, axes, true)
	strides := [][]int{BroadcastStrides(keep, x.Shape)}
	n := keep.Size()
	count := 1
	for _, a := range axes {
		count *= x.Shape[a]
	}
	out := NewTensor(x.DType, outShape)
	if x.DType.IsFloat() {
		// LogSumExp subtracts the maximum first; infinite maxima are not
		// subtracted so that inf and -inf results stay exact.
		shift := make([]float64, n)
		if d.Pre == PreExp {
			for i := range shift {
				shift[i] = math.Inf(-1)
			}
			ForEachIndex(x.Shape, strides, func(i int, o []int) { shift[o[0]] = max(shift[o[0]], x.Float(i)) })
			for i, m := range shift {
				if math.IsInf(m, 0) {
					shift[i] = 0
				}
			}
		}
		acc := make([]float64, n)
		for i := range acc {
			acc[i] = floatIdentity(d.Combine)
		}
		ForEachIndex(x.Shape, strides, func(i int, o []int) {
			v := x.Float(i)
			switch d.Pre {
			case PreAbs:
				v = math.Abs(v)
			case PreSquare:
				v *= v
			case PreExp:
				v = math.Exp(v - shift[o[0]])
			}
			acc[o[0]] = combineFloat(d.Combine, acc[o[0]], v)
		})
		for i, v := range acc {
			switch d.Post {
			case PostMean:
				v /= float64(count)
			case PostSqrt:
				v = math.Sqrt(v)
			case PostLog:
				v = math.Log(v)
			case PostLogMax:
				v = math.Log(v) + shift[i]
			}
			out.SetFloat(i, v)
		}
		return []*Tensor{out}, nil
	}
	if d.Pre == PreExp {
		return nil, NotSupportedf("%s on %s", r.Kind, x.DType)
	}
	unsigned := x.DType.IsUnsigned() || x.DType == Bool
	acc := make([]int64, n)
	for i := range acc {
		acc[i] = intIdentity(d.Combine, x.DType)
	}
	ForEachIndex(x.Shape, strides, func(i int, o []int) {
		v := x.Int(i)
		switch d.Pre {
		case PreAbs:
			if !unsigned && v < 0 {
				v = -v
			}
		case PreSquare:
			v *= v
		}
		acc[o[0]] = combineInt(d.Combine, acc[o[0]], v, unsigned)
	})
	for i, v := range acc {
		switch d.Post {
		case PostMean:
			v = intMean(v, count, unsigned)
		case PostSqrt:
			v = truncInt(math.Sqrt(intAsFloat(v, unsigned)), unsigned)
		case PostLog:
			v = truncInt(math.Log(intAsFloat(v, unsigned)), unsigned)
		}
		out.SetInt(i, v)
	}
	return []*Tensor{out}, nil
}

func floatIdentity(c ReduceCombine) float64 {
	switch c {
	case CombineMul:
		return 1
	case CombineMax:
		return math.Inf(-1)
	case CombineMin:
		return math.Inf(1)
	}
	return 0
}

// ReduceIntIdentity is the identity of an integer combine for dt: the
// empty-set result (the dtype's extreme values for max and min).
func ReduceIntIdentity(c ReduceCombine, dt DType) int64 { return intIdentity(c, dt) }

// ReduceFloatIdentity is the identity of a float combine.
func ReduceFloatIdentity(c ReduceCombine) float64 { return floatIdentity(c) }

func intIdentity(c ReduceCombine, dt DType) int64 {
	nbits := dt.Bits()
	switch c {
	case CombineMul:
		return 1
	case CombineMax:
		if dt.IsUnsigned() || dt == Bool {
			return 0
		}
		return -1 << (nbits - 1)
	case CombineMin:
		if dt == Bool {
			return 1
		}
		if dt.IsUnsigned() {
			if nbits == 64 {
				return -1 // all ones
			}
			return 1<<nbits - 1
		}
		return 1<<(nbits-1) - 1
	}
	return 0
}

func combineFloat(c ReduceCombine, a, b float64) float64 {
	switch c {
	case CombineMul:
		return a * b
	case CombineMax:
		if a != a || b != b {
			return math.NaN()
		}
		return max(a, b)
	case CombineMin:
		if a != a || b != b {
			return math.NaN()
		}
		return min(a, b)
	}
	return a + b
}

func combineInt(c ReduceCombine, a, b int64, unsigned bool) int64 {
	switch c {
	case CombineMul:
		return a * b
	case CombineMax:
		if unsigned {
			return int64(max(uint64(a), uint64(b)))
		}
		return max(a, b)
	case CombineMin:
		if unsigned {
			return int64(min(uint64(a), uint64(b)))
		}
		return min(a, b)
	}
	return a + b
}

// intMean truncates toward zero, as numpy's mean with an integer dtype;
// the mean of nothing is 0.
func intMean(sum int64, n int, unsigned bool) int64 {
	if n == 0 {
		return 0
	}
	if unsigned {
		return int64(uint64(sum) / uint64(n))
	}
	return sum / int64(n)
}

func intAsFloat(v int64, unsigned bool) float64 {
	if unsigned {
		return float64(uint64(v))
	}
	return float64(v)
}

func truncInt(v float64, unsigned bool) int64 {
	if unsigned {
		return int64(FloatToUint64(v))
	}
	return FloatToInt64(v)
}
