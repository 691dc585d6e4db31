package frontend

import (
	"fmt"

	"github.com/mlc-compiler/mlc/ir"
)

// Reductions. The axes are an attribute up to ReduceSum-11 and the other
// kinds' opset 13, then an optional input with noop_with_empty_axes.

func init() {
	reduce := func(kind ir.ReduceKind, inputSince int, versions ...int) {
		limits := "axes from run-time data need the output shape declared in the model (or --input-value)"
		register(string(kind), versions, limits, func(c *nodeCtx) error {
			op := &ir.Reduce{Kind: kind, KeepDims: c.Int("keepdims", 1) != 0}
			if c.Version < inputSince {
				if axes := c.Ints("axes", nil); len(axes) > 0 {
					op.Axes = axes
				} else {
					op.All = true
				}
				return c.Emit(op, c.In(0))
			}
			noop := c.Int("noop_with_empty_axes", 0) != 0
			a := c.In(1)
			switch {
			case a == nil || a.Typed() && a.Type.Shape.Size() == 0:
				// Empty axes: every axis, or (noop) the empty set.
				op.All = !noop
				op.Axes = []int{}
				return c.Emit(op, c.In(0))
			case a.Const != nil:
				axes, err := ir.ConstInts(a, "axes")
				if err != nil {
					return err
				}
				op.Axes = axes
				return c.Emit(op, c.In(0))
			}
			out, ok := c.Declared(0)
			if !ok {
				return &ir.NotConstant{What: string(kind) + "'s axes (with no declared output shape)", Value: a.Name}
			}
			op.OutShape = out.Shape
			if !a.Typed() {
				return fmt.Errorf("axes input %q has no type", a.Name)
			}
			return c.Emit(op, c.In(0), a)
		})
	}
	reduce(ir.ReduceSum, 13, 1, 11, 13)
	for _, k := range []ir.ReduceKind{ir.ReduceMean, ir.ReduceProd, ir.ReduceL1, ir.ReduceL2, ir.ReduceLogSum, ir.ReduceLogSumExp, ir.ReduceSumSquare} {
		reduce(k, 18, 1, 11, 13, 18)
	}
	// Max and Min gained int8/uint8 in 12 and bool in 20.
	reduce(ir.ReduceMax, 18, 1, 11, 12, 13, 18, 20)
	reduce(ir.ReduceMin, 18, 1, 11, 12, 13, 18, 20)
}

// Normalizations built from reductions.
func init() {
	register("LpNormalization", []int{1, 22}, "p must be 1 or 2", func(c *nodeCtx) error {
		kind := ir.ReduceL2
		switch p := c.Int("p", 2); p {
		case 1:
			kind = ir.ReduceL1
		case 2:
		default:
			return ir.NotSupportedf("p=%d (the spec allows 1 and 2)", p)
		}
		x := c.In(0)
		norm := c.Tmp1(&ir.Reduce{Kind: kind, Axes: []int{c.Int("axis", -1)}, KeepDims: true}, x)
		return c.Emit(&ir.Binary{Fn: ir.FnDivOrZero}, x, norm)
	})
	// MeanVarianceNormalization is (x - mean) / (sqrt(mean((x - mean)^2)) + 1e-9),
	// the spec's function with the variance taken around the mean, which
	// cannot go negative by cancellation.
	register("MeanVarianceNormalization", []int{9, 13}, "", func(c *nodeCtx) error {
		x := c.In(0)
		if !x.Typed() {
			return fmt.Errorf("input %q has no type", x.Name)
		}
		axes := c.Ints("axes", []int{0, 2, 3})
		mean := c.Tmp1(&ir.Reduce{Kind: ir.ReduceMean, Axes: axes, KeepDims: true}, x)
		d := c.Tmp1(&ir.Binary{Fn: ir.FnSub}, x, mean)
		sq := c.Tmp1(&ir.Binary{Fn: ir.FnMul}, d, d)
		v := c.Tmp1(&ir.Reduce{Kind: ir.ReduceMean, Axes: axes, KeepDims: true}, sq)
		std := c.Tmp1(&ir.Unary{Fn: ir.FnSqrt}, v)
		eps := ir.NewTensor(x.Type.DType, nil)
		eps.SetFloat(0, 1e-9)
		den := c.Tmp1(&ir.Binary{Fn: ir.FnAdd}, std, c.Const(eps))
		return c.Emit(&ir.Binary{Fn: ir.FnDiv}, d, den)
	})
}
