package frontend

import (
	"fmt"

	"github.com/mlc-compiler/mlc/ir"
)

// Sequence and optional operators. With static shapes, a sequence whose
// length and positions are known at compile time is a list of tensor
// values, and an optional is a value or nothing: these ops are resolved
// here, while importing, and never reach the IR. Positions must be
// compile-time constants (after folding). A graph input or output that is a
// sequence or optional stays unsupported (ABI v1 has tensors only).

// aggregate is a sequence or optional value of the scope (scope.aggs).
type aggregate interface{ kind() string }

// sequence is a compile-time list of tensor values.
type sequence struct {
	elems []*ir.Value
	dtype ir.DType // of the elements, known even when the sequence is empty
	// unknown, when set, is why the elements are not known at compile time
	// although their number (count) is: SplitToSequence with run-time sizes.
	unknown error
	count   int
}

func (*sequence) kind() string { return "sequence" }

func (s *sequence) len() int {
	if s.unknown != nil {
		return s.count
	}
	return len(s.elems)
}

// optional holds a tensor, a sequence, or nothing.
type optional struct {
	tensor *ir.Value
	seq    *sequence
}

func (*optional) kind() string { return "optional" }

func (o *optional) empty() bool { return o.tensor == nil && o.seq == nil }

// registerAggregates registers an importer that accepts sequence and
// optional inputs.
func registerAggregates(op string, versions []int, limits string, fn func(c *nodeCtx) error) {
	register(op, versions, limits, fn)
	lookupImporter("", op).Aggregates = true
}

func (c *nodeCtx) setAgg(i int, a aggregate) {
	if c.aggs == nil {
		c.aggs = map[int]aggregate{}
	}
	c.aggs[i] = a
}

// Agg returns input i when it is a sequence or optional, else nil.
func (c *nodeCtx) Agg(i int) aggregate { return c.aggs[i] }

// Seq returns input i, which must be a sequence whose elements are known.
func (c *nodeCtx) Seq(i int) (*sequence, error) {
	s, ok := c.aggs[i].(*sequence)
	if !ok {
		return nil, fmt.Errorf("input %d must be a sequence", i)
	}
	if s.unknown != nil {
		return nil, s.unknown
	}
	return s, nil
}

// BindAgg makes output i name a sequence or optional.
func (c *nodeCtx) BindAgg(i int, a aggregate) {
	if i < len(c.np.Output) && c.np.Output[i] != "" {
		c.sc.aggs[c.np.Output[i]] = a
	}
	c.bound = true
}

// position reads the constant scalar position of input i for a sequence of
// n elements, accepting [-n, n-1] (or [-n, n] when end is allowed).
func (c *nodeCtx) position(i, n int, allowEnd bool) (int, error) {
	what := fmt.Sprintf("%s's position", c.np.GetOpType())
	v := c.In(i)
	if v == nil {
		return 0, fmt.Errorf("%s is missing", what)
	}
	p, err := ir.ConstInts(v, what)
	if err != nil {
		return 0, err
	}
	if len(p) != 1 || !v.Type.DType.IsInt() {
		return 0, fmt.Errorf("%s must be an integer scalar, got %s", what, v.Type)
	}
	hi := n - 1
	if allowEnd {
		hi = n
	}
	pos := p[0]
	if pos < -n || pos > hi {
		return 0, fmt.Errorf("%s %d is out of range [%d, %d] for a sequence of %d tensors", what, pos, -n, hi, n)
	}
	if pos < 0 {
		pos += n
	}
	return pos, nil
}

func boolScalar(v bool) *ir.Tensor {
	t := ir.NewTensor(ir.Bool, ir.Shape{})
	if v {
		t.SetInt(0, 1)
	}
	return t
}

// aggLimits is the limit every sequence and optional op shares.
const aggLimits = "sequences and optionals are resolved at compile time: not as model inputs or outputs, nor as Loop, Scan or If values"

func init() {
	seqVersions := []int{11}
	registerAggregates("SequenceEmpty", seqVersions, aggLimits, func(c *nodeCtx) error {
		dt, err := DTypeFromONNX(int32(c.Int("dtype", 1)))
		if err != nil {
			return err
		}
		c.BindAgg(0, &sequence{dtype: dt})
		return nil
	})
	registerAggregates("SequenceConstruct", seqVersions, aggLimits, func(c *nodeCtx) error {
		if len(c.Inputs()) == 0 {
			return fmt.Errorf("SequenceConstruct needs at least one tensor")
		}
		s := &sequence{}
		for i, v := range c.Inputs() {
			if v == nil {
				return fmt.Errorf("input %d must be a tensor", i)
			}
			if i == 0 {
				s.dtype = v.Type.DType
			} else if v.Type.DType != s.dtype {
				return fmt.Errorf("input %d is %s, input 0 is %s: a sequence holds one dtype", i, v.Type.DType, s.dtype)
			}
			s.elems = append(s.elems, v)
		}
		c.BindAgg(0, s)
		return nil
	})
	registerAggregates("SequenceInsert", seqVersions, "position must be a compile-time constant; "+aggLimits, func(c *nodeCtx) error {
		s, err := c.Seq(0)
		if err != nil {
			return err
		}
		t := c.In(1)
		if t == nil {
			return fmt.Errorf("input 1 must be a tensor")
		}
		if t.Type.DType != s.dtype {
			return fmt.Errorf("cannot insert a %s tensor into a sequence of %s", t.Type.DType, s.dtype)
		}
		pos := len(s.elems)
		if c.In(2) != nil {
			if pos, err = c.position(2, len(s.elems), true); err != nil {
				return err
			}
		}
		elems := append(append(append([]*ir.Value{}, s.elems[:pos]...), t), s.elems[pos:]...)
		c.BindAgg(0, &sequence{elems: elems, dtype: s.dtype})
		return nil
	})
	registerAggregates("SequenceAt", seqVersions, "position must be a compile-time constant; "+aggLimits, func(c *nodeCtx) error {
		s, err := c.Seq(0)
		if err != nil {
			return err
		}
		pos, err := c.position(1, len(s.elems), false)
		if err != nil {
			return err
		}
		return c.Emit(&ir.Identity{}, s.elems[pos])
	})
	registerAggregates("SequenceErase", seqVersions, "position must be a compile-time constant; "+aggLimits, func(c *nodeCtx) error {
		s, err := c.Seq(0)
		if err != nil {
			return err
		}
		if len(s.elems) == 0 {
			return fmt.Errorf("SequenceErase of an empty sequence")
		}
		pos := len(s.elems) - 1
		if c.In(1) != nil {
			if pos, err = c.position(1, len(s.elems), false); err != nil {
				return err
			}
		}
		elems := append(append([]*ir.Value{}, s.elems[:pos]...), s.elems[pos+1:]...)
		c.BindAgg(0, &sequence{elems: elems, dtype: s.dtype})
		return nil
	})
	registerAggregates("SequenceLength", seqVersions, aggLimits, func(c *nodeCtx) error {
		s, ok := c.Agg(0).(*sequence)
		if !ok {
			return fmt.Errorf("input 0 must be a sequence")
		}
		c.Bind(0, c.Const(ir.TensorI64(ir.Shape{}, int64(s.len()))))
		return nil
	})
	registerAggregates("ConcatFromSequence", seqVersions, aggLimits, func(c *nodeCtx) error {
		s, err := c.Seq(0)
		if err != nil {
			return err
		}
		if !c.Has("axis") {
			return fmt.Errorf("ConcatFromSequence needs the axis attribute")
		}
		axis, newAxis := c.Int("axis", 0), c.Int("new_axis", 0)
		if newAxis != 0 && newAxis != 1 {
			return fmt.Errorf("new_axis must be 0 or 1, got %d", newAxis)
		}
		if len(s.elems) == 0 {
			return fmt.Errorf("ConcatFromSequence of an empty sequence")
		}
		parts := s.elems
		if newAxis == 1 {
			// numpy.stack: each tensor gains a dimension of 1 at axis,
			// which may be one past the last ([-r-1, r]).
			r := len(s.elems[0].Type.Shape)
			if axis < -r-1 || axis > r {
				return fmt.Errorf("axis %d is out of range [%d, %d] for new_axis=1 and rank %d", axis, -r-1, r, r)
			}
			if axis < 0 {
				axis += r + 1
			}
			parts = make([]*ir.Value, len(s.elems))
			for i, e := range s.elems {
				parts[i] = c.Tmp1(&ir.Unsqueeze{}, e, c.ConstInts(axis))
			}
		}
		return c.Emit(&ir.Concat{Axis: axis}, parts...)
	})
	registerAggregates("SplitToSequence", []int{11, 24}, "a scalar split must be a compile-time constant; with a run-time 1-D split only the sequence's length is known (its tensors need a constant split); "+aggLimits, importSplitToSequence)

	registerAggregates("Optional", []int{15}, aggLimits, func(c *nodeCtx) error {
		c.Has("type") // the element type matters only to a runtime holding empty optionals
		switch a := c.Agg(0).(type) {
		case *sequence:
			c.BindAgg(0, &optional{seq: a})
		case *optional:
			return fmt.Errorf("an optional cannot hold an optional")
		default:
			if c.In(0) == nil && !c.Has("type") {
				return fmt.Errorf("Optional needs an input or the type attribute")
			}
			c.BindAgg(0, &optional{tensor: c.In(0)})
		}
		return nil
	})
	registerAggregates("OptionalHasElement", []int{15, 18}, aggLimits, func(c *nodeCtx) error {
		has := c.In(0) != nil
		switch a := c.Agg(0).(type) {
		case *optional:
			has = !a.empty()
		case *sequence:
			has = true
		}
		if c.Version < 18 {
			if _, ok := c.Agg(0).(*optional); !ok {
				return fmt.Errorf("OptionalHasElement-15 takes an optional input")
			}
		}
		c.Bind(0, c.Const(boolScalar(has)))
		return nil
	})
	registerAggregates("OptionalGetElement", []int{15, 18}, aggLimits, func(c *nodeCtx) error {
		o, isOpt := c.Agg(0).(*optional)
		if c.Version < 18 && !isOpt {
			return fmt.Errorf("OptionalGetElement-15 takes an optional input")
		}
		switch {
		case isOpt && o.empty():
			return fmt.Errorf("OptionalGetElement of an empty optional")
		case isOpt && o.seq != nil:
			c.BindAgg(0, o.seq)
			return nil
		case isOpt:
			return c.Emit(&ir.Identity{}, o.tensor)
		}
		if s, ok := c.Agg(0).(*sequence); ok {
			c.BindAgg(0, s)
			return nil
		}
		if c.In(0) == nil {
			return fmt.Errorf("OptionalGetElement needs an input")
		}
		return c.Emit(&ir.Identity{}, c.In(0))
	})
}

// importSplitToSequence cuts the input into parts: of size 1 without a
// split (keepdims=0 then drops the axis), of the constant scalar split's
// size (the last part smaller), or of the 1-D split's sizes.
func importSplitToSequence(c *nodeCtx) error {
	x := c.In(0)
	if x == nil {
		return fmt.Errorf("input 0 must be a tensor")
	}
	axis, err := ir.NormAxis(c.Int("axis", 0), len(x.Type.Shape))
	if err != nil {
		return err
	}
	keepdims := c.Int("keepdims", 1)
	n := x.Type.Shape[axis]
	split := c.In(1)
	var sizes []int
	switch {
	case split == nil:
		sizes = make([]int, n)
		for i := range sizes {
			sizes[i] = 1
		}
	case !split.Type.DType.IsInt() || len(split.Type.Shape) > 1:
		return fmt.Errorf("split must be an integer scalar or 1-D tensor, got %s", split.Type)
	case len(split.Type.Shape) == 0:
		v, err := ir.ConstInts(split, "SplitToSequence's scalar split")
		if err != nil {
			return err
		}
		if v[0] <= 0 {
			return fmt.Errorf("split %d must be positive", v[0])
		}
		for pos := 0; pos < n; pos += v[0] {
			sizes = append(sizes, min(v[0], n-pos))
		}
	case split.Const == nil:
		// The number of parts is known, their sizes are not: the parts
		// cannot be typed, but the sequence's length can be used. The
		// sizes are checked at run time as ONNX requires.
		c.Tmp(&ir.CheckSplit{Dim: n}, 0, split)
		c.BindAgg(0, &sequence{dtype: x.Type.DType, count: split.Type.Shape[0],
			unknown: &ir.NotConstant{What: "SplitToSequence's split", Value: split.Name}})
		return nil
	default:
		sizes = split.Const.Ints()
	}
	s := &sequence{dtype: x.Type.DType}
	if len(sizes) > 0 {
		parts := c.Tmp(&ir.Split{Axis: axis, Outputs: len(sizes)}, len(sizes), x, c.ConstInts(sizes...))
		s.elems = append([]*ir.Value{}, parts...) // the node keeps its outputs
		if c.err != nil {
			return c.err
		}
	}
	if split == nil && keepdims == 0 {
		for i, e := range s.elems {
			s.elems[i] = c.Tmp1(&ir.Squeeze{}, e, c.ConstInts(axis))
		}
	}
	c.BindAgg(0, s)
	return nil
}
