package frontend

import (
	"fmt"

	"github.com/mlc-compiler/mlc/ir"
)

// Reductions. The axes are an attribute up to ReduceSum-11 and the other
// kinds' opset 13, then an optional input with noop_with_empty_axes.

func init() {
	reduce := func(kind ir.ReduceKind, inputSince int, versions ...int) {
		limits := "run-time axes need a declared output shape"
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
			out, ok := c.DeclaredShape(0)
			if !ok {
				return ir.NotSupportedf("axes (input %q) computed at run time, and the model declares no static shape for the output", a.Name)
			}
			op.OutShape = out
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
