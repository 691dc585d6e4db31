package frontend

import (
	"github.com/mlc-compiler/mlc/ir"
)

// Selections whose output size depends on the data: Compress, NonZero,
// Unique. When their inputs are computed at run time, the size comes from
// the output shape the model declares (and the kernel checks the data).

const dataDependentLimits = "run-time inputs need a static output shape declared in the model; string and 2- or 4-bit tensors are not supported"

func init() {
	register("Compress", []int{9, 11}, dataDependentLimits, func(c *nodeCtx) error {
		if err := c.Need(2); err != nil {
			return err
		}
		op := &ir.Compress{Count: -1}
		if c.Has("axis") {
			a := c.Int("axis", 0)
			op.Axis = &a
		}
		if cond := c.In(1); cond != nil && cond.Const == nil {
			if op.Axis == nil {
				if t, ok := c.Declared(0); ok && len(t.Shape) == 1 {
					op.Count = t.Shape[0]
				}
			} else {
				op.Count = declaredDim(c, *op.Axis, 0)
			}
		}
		return c.Emit(op, c.In(0), c.In(1))
	})
	register("NonZero", []int{9, 13}, dataDependentLimits, func(c *nodeCtx) error {
		if err := c.Need(1); err != nil {
			return err
		}
		op := &ir.NonZero{Count: -1}
		if x := c.In(0); x != nil && x.Typed() && x.Const == nil {
			if t, ok := c.Declared(0); ok && len(t.Shape) == 2 && t.Shape[0] == len(x.Type.Shape) {
				op.Count = t.Shape[1]
			}
		}
		return c.Emit(op, c.In(0))
	})
	register("Unique", []int{11}, dataDependentLimits, func(c *nodeCtx) error {
		if err := c.Need(1); err != nil {
			return err
		}
		op := &ir.Unique{Sorted: c.Int("sorted", 1) != 0, Count: -1}
		if c.Has("axis") {
			a := c.Int("axis", 0)
			op.Axis = &a
		}
		if x := c.In(0); x.Const != nil {
			return c.Emit(op, x) // folds
		}
		for _, o := range []int{1, 3} {
			if t, ok := c.Declared(o); ok && len(t.Shape) == 1 && op.Count < 0 {
				op.Count = t.Shape[0]
			}
		}
		if op.Count < 0 {
			if op.Axis == nil {
				if t, ok := c.Declared(0); ok && len(t.Shape) == 1 {
					op.Count = t.Shape[0]
				}
			} else {
				op.Count = declaredDim(c, *op.Axis, 0)
			}
		}
		return c.Emit(op, c.In(0))
	})
}
