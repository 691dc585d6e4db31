package frontend

import (
	"github.com/mlc-compiler/mlc/ir"
)

// Indexed reads and writes: GatherElements, GatherND, ScatterElements (and
// its old name Scatter), ScatterND, TensorScatter.

const noStringLimits = "string and 2- or 4-bit tensors are not supported"

func init() {
	register("GatherElements", []int{11, 13}, noStringLimits, func(c *nodeCtx) error {
		if err := c.Need(2); err != nil {
			return err
		}
		return c.Emit(&ir.GatherElements{Axis: c.Int("axis", 0)}, c.In(0), c.In(1))
	})
	register("GatherND", []int{11, 12, 13}, noStringLimits, func(c *nodeCtx) error {
		if err := c.Need(2); err != nil {
			return err
		}
		b := 0
		if c.Version >= 12 {
			b = c.Int("batch_dims", 0)
		}
		return c.Emit(&ir.GatherND{BatchDims: b}, c.In(0), c.In(1))
	})
	register("ScatterElements", []int{11, 13, 16, 18}, noStringLimits, func(c *nodeCtx) error {
		if err := c.Need(3); err != nil {
			return err
		}
		red, err := scatterReduction(c)
		if err != nil {
			return err
		}
		return c.Emit(&ir.ScatterElements{Axis: c.Int("axis", 0), Reduction: red}, c.In(0), c.In(1), c.In(2))
	})
	register("Scatter", []int{9, 11}, noStringLimits, func(c *nodeCtx) error {
		if err := c.Need(3); err != nil {
			return err
		}
		return c.Emit(&ir.ScatterElements{Axis: c.Int("axis", 0), Reduction: ir.ScatterNone}, c.In(0), c.In(1), c.In(2))
	})
	register("ScatterND", []int{11, 13, 16, 18}, noStringLimits, func(c *nodeCtx) error {
		if err := c.Need(3); err != nil {
			return err
		}
		red, err := scatterReduction(c)
		if err != nil {
			return err
		}
		return c.Emit(&ir.ScatterND{Reduction: red}, c.In(0), c.In(1), c.In(2))
	})
	register("TensorScatter", []int{24}, noStringLimits, func(c *nodeCtx) error {
		if err := c.Need(2); err != nil {
			return err
		}
		mode, err := c.OneOf("mode", "linear", "linear", "circular")
		if err != nil {
			return err
		}
		return c.Emit(&ir.TensorScatter{Axis: c.Int("axis", -2), Circular: mode == "circular"}, c.Inputs()...)
	})
}

// scatterReduction reads the reduction attribute: none before opset 16,
// add and mul from 16, max and min from 18.
func scatterReduction(c *nodeCtx) (ir.ScatterReduction, error) {
	switch {
	case c.Version >= 18:
		r, err := c.OneOf("reduction", "none", "none", "add", "mul", "max", "min")
		return ir.ScatterReduction(r), err
	case c.Version >= 16:
		r, err := c.OneOf("reduction", "none", "none", "add", "mul")
		return ir.ScatterReduction(r), err
	}
	return ir.ScatterNone, nil
}
