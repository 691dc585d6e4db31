package frontend

import (
	"fmt"

	"github.com/mlc-compiler/mlc/ir"
)

// Normalizations with run-time statistics (BatchNormalization is in
// ops_nn.go).

// stashType reads the stash_type attribute (the precision of the
// statistics; float by default).
func stashType(c *nodeCtx) (ir.DType, error) {
	code := c.Int("stash_type", 1)
	dt, err := DTypeFromONNX(int32(code))
	if err != nil {
		return ir.Invalid, fmt.Errorf("stash_type: %w", err)
	}
	return dt, nil
}

func init() {
	register("LayerNormalization", []int{17}, "stash_type float or double", func(c *nodeCtx) error {
		st, err := stashType(c)
		if err != nil {
			return err
		}
		return c.Emit(&ir.LayerNorm{Axis: c.Int("axis", -1), Epsilon: c.Float("epsilon", 1e-5), Stash: st}, c.In(0), c.In(1), c.In(2))
	})
	register("RMSNormalization", []int{23}, "stash_type float or double", func(c *nodeCtx) error {
		st, err := stashType(c)
		if err != nil {
			return err
		}
		return c.Emit(&ir.LayerNorm{Axis: c.Int("axis", -1), Epsilon: c.Float("epsilon", 1e-5), Stash: st, RMS: true}, c.In(0), c.In(1))
	})
	register("InstanceNormalization", []int{1, 6, 22}, "", func(c *nodeCtx) error {
		legacyAttrs(c)
		return c.Emit(&ir.InstanceNorm{Epsilon: c.Float("epsilon", 1e-5)}, c.In(0), c.In(1), c.In(2))
	})
	register("GroupNormalization", []int{18, 21}, "stash_type float or double", func(c *nodeCtx) error {
		if !c.Has("num_groups") {
			return fmt.Errorf("GroupNormalization needs num_groups")
		}
		g := &ir.GroupNorm{Groups: c.Int("num_groups", 0), Epsilon: c.Float("epsilon", 1e-5), Stash: ir.Float32}
		if c.Version >= 21 {
			st, err := stashType(c)
			if err != nil {
				return err
			}
			g.Stash = st
		} else {
			g.PerGroupAffine = true // opset 18 scales per group, not per channel
		}
		return c.Emit(g, c.In(0), c.In(1), c.In(2))
	})
}
