package frontend

import (
	"github.com/mlc-compiler/mlc/ir"
)

// Ordering and scans: ArgMax, ArgMin, TopK, CumSum, CumProd.

func init() {
	for _, name := range []string{"ArgMax", "ArgMin"} {
		isMin := name == "ArgMin"
		register(name, []int{1, 11, 12, 13}, "", func(c *nodeCtx) error {
			if err := c.Need(1); err != nil {
				return err
			}
			op := &ir.ArgExtreme{Min: isMin, Axis: c.Int("axis", 0), KeepDims: c.Int("keepdims", 1) != 0}
			if c.Version >= 12 {
				op.SelectLast = c.Int("select_last_index", 0) != 0
			}
			return c.Emit(op, c.In(0))
		})
	}
	register("TopK", []int{1, 10, 11, 24}, "k computed at run time needs a static output shape declared in the model; bool, string and 2- or 4-bit tensors are not supported", func(c *nodeCtx) error {
		if err := c.Need(1); err != nil {
			return err
		}
		op := &ir.TopK{Axis: c.Int("axis", -1), Largest: true, K: -1}
		if c.Version >= 11 {
			op.Largest = c.Int("largest", 1) != 0
			c.Int("sorted", 1) // unsorted output may come in any order: sorted is one
		}
		if c.Version < 10 {
			if !c.Has("k") {
				return ir.NotSupportedf("TopK-1 needs the k attribute")
			}
			op.K = c.Int("k", 0)
			return c.Emit(op, c.In(0))
		}
		if kv := c.In(1); kv != nil && kv.Const == nil {
			op.K = declaredDim(c, op.Axis, 0, 1)
		}
		return c.Emit(op, c.In(0), c.In(1))
	})
	register("CumSum", []int{11, 14}, "", func(c *nodeCtx) error {
		if err := c.Need(2); err != nil {
			return err
		}
		return c.Emit(cumulative(c, false), c.In(0), c.In(1))
	})
	register("CumProd", []int{26}, "", func(c *nodeCtx) error {
		if err := c.Need(2); err != nil {
			return err
		}
		return c.Emit(cumulative(c, true), c.In(0), c.In(1))
	})
}

func cumulative(c *nodeCtx, prod bool) *ir.Cumulative {
	return &ir.Cumulative{Prod: prod, Exclusive: c.Int("exclusive", 0) != 0, Reverse: c.Int("reverse", 0) != 0}
}

// declaredDim returns dimension axis (resolved against input 0's rank) of
// the first of the given outputs whose static shape the model declares,
// or -1.
func declaredDim(c *nodeCtx, axis int, outputs ...int) int {
	x := c.In(0)
	if x == nil || !x.Typed() {
		return -1
	}
	r := len(x.Type.Shape)
	a, err := ir.NormAxis(axis, r)
	if err != nil {
		return -1
	}
	for _, o := range outputs {
		if t, ok := c.Declared(o); ok && len(t.Shape) == r {
			return t.Shape[a]
		}
	}
	return -1
}
