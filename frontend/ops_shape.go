package frontend

import (
	"fmt"

	"github.com/mlc-compiler/mlc/ir"
)

// Shape and data-movement operators, and the ops that import as constants
// or as nothing at all.

func init() {
	register("Reshape", []int{1, 5, 13, 14, 19, 21, 23, 24, 25}, "", func(c *nodeCtx) error {
		legacyAttrs(c)
		if c.Version < 5 {
			return c.Emit(&ir.Reshape{}, c.In(0), c.ConstInts(c.Ints("shape", nil)...))
		}
		return c.Emit(&ir.Reshape{AllowZero: c.Int("allowzero", 0) == 1}, c.In(0), c.In(1))
	})
	register("Flatten", []int{1, 9, 11, 13, 21, 23, 24, 25}, "", func(c *nodeCtx) error {
		return c.Emit(&ir.Flatten{Axis: c.Int("axis", 1)}, c.In(0))
	})
	register("Squeeze", []int{1, 11, 13, 21, 23, 24, 25}, "", func(c *nodeCtx) error {
		if c.Version < 13 {
			if axes := c.Ints("axes", nil); axes != nil {
				return c.Emit(&ir.Squeeze{}, c.In(0), c.ConstInts(axes...))
			}
			return c.Emit(&ir.Squeeze{}, c.In(0))
		}
		return c.Emit(&ir.Squeeze{}, c.In(0), c.In(1))
	})
	register("Unsqueeze", []int{1, 11, 13, 21, 23, 24, 25}, "", func(c *nodeCtx) error {
		if c.Version < 13 {
			return c.Emit(&ir.Unsqueeze{}, c.In(0), c.ConstInts(c.Ints("axes", nil)...))
		}
		return c.Emit(&ir.Unsqueeze{}, c.In(0), c.In(1))
	})
	registerAggregates("Identity", []int{1, 13, 14, 16, 19, 21, 23, 24, 25}, "", func(c *nodeCtx) error {
		if a := c.Agg(0); a != nil {
			// Sequences since Identity-14, optionals since 16.
			if _, opt := a.(*optional); c.Version < 14 || opt && c.Version < 16 {
				return fmt.Errorf("Identity-%d does not take a %s", c.Version, a.kind())
			}
			c.BindAgg(0, a) // sequences and optionals are compile-time values
			return nil
		}
		return c.Emit(&ir.Identity{}, c.In(0))
	})
	register("Dropout", []int{1, 6, 7, 10, 12, 13, 22}, "training_mode=true only with a constant ratio of 0 (otherwise the output is random)", func(c *nodeCtx) error {
		legacyAttrs(c)
		c.Has("ratio") // inference ignores the ratio
		c.Has("seed")
		c.Has("is_test")
		if t := c.In(2); t != nil {
			if t.Const == nil {
				return &ir.NotConstant{What: "Dropout's training_mode", Value: t.Name}
			}
			// Training mode drops at random, except with a ratio of 0.
			if t.Const.Int(0) != 0 {
				r := c.In(1)
				if r != nil && r.Const == nil {
					return &ir.NotConstant{What: "Dropout's ratio in training mode", Value: r.Name}
				}
				if r == nil || r.Const.Float(0) != 0 {
					return ir.NotSupportedf("training_mode=true with a ratio other than a constant 0: the output is random")
				}
			}
		}
		if c.NumOut() > 1 && c.np.Output[1] != "" {
			// The mask of an inference Dropout is all true.
			ones := ir.NewTensor(ir.Bool, ir.Shape{1})
			ones.Data[0] = 1
			c.Bind(1, c.Tmp1(&ir.ConstantOfShape{Value: ones}, c.Tmp1(&ir.ShapeOf{}, c.In(0))))
			out := c.Tmp1(&ir.Identity{}, c.In(0))
			c.Bind(0, out)
			return nil
		}
		return c.Emit(&ir.Identity{}, c.In(0))
	})
	register("Shape", []int{1, 13, 15, 19, 21, 23, 24, 25}, "", func(c *nodeCtx) error {
		op := &ir.ShapeOf{Start: c.Int("start", 0)}
		if c.Has("end") {
			e := c.Int("end", 0)
			op.End = &e
		}
		return c.Emit(op, c.In(0))
	})
	register("Size", []int{1, 13, 19, 21, 23, 24, 25}, "", func(c *nodeCtx) error {
		return c.Emit(&ir.Size{}, c.In(0))
	})
	register("Transpose", []int{1, 13, 21, 23, 24, 25}, "", func(c *nodeCtx) error {
		return c.Emit(&ir.Transpose{Perm: c.Ints("perm", nil)}, c.In(0))
	})
	register("Concat", []int{1, 4, 11, 13}, "", func(c *nodeCtx) error {
		axis := c.Int("axis", 1) // opset 1-3 defaulted to 1
		if c.Version >= 4 && !c.Has("axis") {
			return fmt.Errorf("Concat needs the axis attribute")
		}
		return c.Emit(&ir.Concat{Axis: axis}, c.Inputs()...)
	})
	register("Gather", []int{1, 11, 13}, "", func(c *nodeCtx) error {
		return c.Emit(&ir.Gather{Axis: c.Int("axis", 0)}, c.In(0), c.In(1))
	})
	register("ConstantOfShape", []int{9, 20, 21, 23, 24, 25}, "", func(c *nodeCtx) error {
		v, err := c.Tensor("value")
		if err != nil {
			return err
		}
		if v == nil {
			v = ir.NewTensor(ir.Float32, ir.Shape{1})
		}
		if v.Len() != 1 {
			return fmt.Errorf("ConstantOfShape value must hold one element, got %s", v.Shape)
		}
		return c.Emit(&ir.ConstantOfShape{Value: v}, c.In(0))
	})
	register("Constant", []int{1, 9, 11, 12, 13, 19, 21, 23, 24, 25}, "", func(c *nodeCtx) error {
		t, err := constantValue(c)
		if err != nil {
			return err
		}
		c.Bind(0, ir.NewConst(c.np.Output[0], t))
		return nil
	})
}

func constantValue(c *nodeCtx) (*ir.Tensor, error) {
	if t, err := c.Tensor("value"); t != nil || err != nil {
		return t, err
	}
	if a := c.attr("sparse_value"); a != nil && a.SparseTensor != nil {
		return sparseToDense(a.SparseTensor, c.b.dir)
	}
	if a := c.attr("value_float"); a != nil {
		return ir.ScalarF32(a.GetF()), nil
	}
	if a := c.attr("value_floats"); a != nil {
		return ir.TensorF32(ir.Shape{len(a.Floats)}, a.Floats...), nil
	}
	if a := c.attr("value_int"); a != nil {
		return ir.TensorI64(ir.Shape{}, a.GetI()), nil
	}
	if a := c.attr("value_ints"); a != nil {
		return ir.TensorI64(ir.Shape{len(a.Ints)}, a.Ints...), nil
	}
	if a := c.attr("value_string"); a != nil {
		t := ir.NewTensor(ir.String, ir.Shape{})
		t.Strings[0] = string(a.GetS())
		return t, nil
	}
	if a := c.attr("value_strings"); a != nil {
		t := ir.NewTensor(ir.String, ir.Shape{len(a.Strings)})
		for i, s := range a.Strings {
			t.Strings[i] = string(s)
		}
		return t, nil
	}
	return nil, fmt.Errorf("Constant has no value attribute")
}
