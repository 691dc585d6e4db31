package frontend

import (
	"fmt"

	"github.com/mlc-compiler/mlc/ir"
)

// Data movement and generator operators (see ir/ops_movement.go). Opset
// differences (attributes that became inputs) import as constant inputs.

const constShapeLimits = "shape-like inputs (%s) must be constants"

func init() {
	register("Slice", []int{1, 10, 11, 13}, "axes and steps must be constants; starts and ends too, unless the model declares the output's static shape or each end is its start plus a constant (then the bounds are checked at run time)", func(c *nodeCtx) error {
		if c.Version < 10 {
			starts, ends := c.Ints("starts", nil), c.Ints("ends", nil)
			if starts == nil || ends == nil {
				return fmt.Errorf("Slice needs the starts and ends attributes")
			}
			var axes *ir.Value
			if a := c.Ints("axes", nil); a != nil {
				axes = c.ConstInts(a...)
			}
			return c.Emit(&ir.Slice{}, c.In(0), c.ConstInts(starts...), c.ConstInts(ends...), axes)
		}
		if err := c.Need(3); err != nil {
			return err
		}
		op := &ir.Slice{}
		x, starts, ends := c.In(0), c.In(1), c.In(2)
		if (starts.Const == nil || ends.Const == nil) && x.Typed() && starts.Typed() && ends.Typed() {
			op.Shape, _ = c.runTimeSliceShape(x, starts, ends, c.In(3), c.In(4))
		}
		return c.Emit(op, x, starts, ends, c.In(3), c.In(4))
	})
	register("Split", []int{1, 2, 11, 13, 18}, fmt.Sprintf(constShapeLimits, "split"), func(c *nodeCtx) error {
		op := &ir.Split{Axis: c.Int("axis", 0), Outputs: c.NumOut()}
		split := c.In(1)
		switch {
		case c.Version < 13:
			if s := c.Ints("split", nil); s != nil {
				if split != nil {
					return fmt.Errorf("Split has both the split input and attribute")
				}
				split = c.ConstInts(s...)
			}
			if c.Version >= 2 && c.In(1) != nil {
				return fmt.Errorf("Split-%d takes one input", c.Version)
			}
		case c.Version >= 18 && c.Has("num_outputs"):
			if split != nil {
				return fmt.Errorf("Split has both the split input and num_outputs")
			}
			if n := c.Int("num_outputs", 0); n != c.NumOut() {
				return fmt.Errorf("Split num_outputs=%d but the node has %d outputs", n, c.NumOut())
			}
		}
		return c.Emit(op, c.In(0), split)
	})
	register("Expand", []int{8, 13}, fmt.Sprintf(constShapeLimits, "shape"), func(c *nodeCtx) error {
		if err := c.Need(2); err != nil {
			return err
		}
		return c.Emit(&ir.Expand{}, c.In(0), c.In(1))
	})
	register("Tile", []int{1, 6, 13}, fmt.Sprintf(constShapeLimits, "repeats"), func(c *nodeCtx) error {
		if c.Version >= 6 {
			if err := c.Need(2); err != nil {
				return err
			}
			return c.Emit(&ir.Tile{}, c.In(0), c.In(1))
		}
		// Tile-1 repeats one axis: inputs tiles and axis (scalars).
		if err := c.Need(3); err != nil {
			return err
		}
		tiles, err := ir.ConstInts(c.In(1), "Tile's tiles")
		if err != nil {
			return err
		}
		axis, err := ir.ConstInts(c.In(2), "Tile's axis")
		if err != nil {
			return err
		}
		if len(tiles) != 1 || len(axis) != 1 {
			return fmt.Errorf("Tile-1 tiles and axis must be scalars")
		}
		if !c.In(0).Typed() {
			return ir.NotSupportedf("Tile-1 whose input has no type yet (inside a subgraph)")
		}
		r := len(c.In(0).Type.Shape)
		a, err := ir.NormAxis(axis[0], r)
		if err != nil {
			return err
		}
		reps := make([]int, r)
		for i := range reps {
			reps[i] = 1
		}
		reps[a] = tiles[0]
		return c.Emit(&ir.Tile{}, c.In(0), c.ConstInts(reps...))
	})
	register("Pad", []int{1, 2, 11, 13, 18, 19, 21, 23, 24, 25}, fmt.Sprintf(constShapeLimits, "pads, axes"), func(c *nodeCtx) error {
		modes := []string{ir.PadConstant, ir.PadReflect, ir.PadEdge}
		if c.Version >= 19 {
			modes = append(modes, ir.PadWrap)
		}
		mode, err := c.OneOf("mode", ir.PadConstant, modes...)
		if err != nil {
			return err
		}
		op := &ir.Pad{Mode: mode}
		if c.Version >= 11 {
			if err := c.Need(2); err != nil {
				return err
			}
			return c.Emit(op, c.In(0), c.In(1), c.In(2), c.In(3))
		}
		name := "pads"
		if c.Version < 2 {
			name = "paddings"
		}
		pads := c.Ints(name, nil)
		if pads == nil {
			return fmt.Errorf("Pad needs the %s attribute", name)
		}
		x := c.In(0)
		if !x.Typed() {
			return ir.NotSupportedf("Pad-%d whose input has no type yet (inside a subgraph)", c.Version)
		}
		value := ir.FromFloats(x.Type.DType, ir.Shape{}, []float64{float64(c.Float("value", 0))})
		return c.Emit(op, x, c.ConstInts(pads...), c.Const(value))
	})
	register("CenterCropPad", []int{18}, fmt.Sprintf(constShapeLimits, "shape"), func(c *nodeCtx) error {
		if err := c.Need(2); err != nil {
			return err
		}
		return c.Emit(&ir.CenterCropPad{Axes: c.Ints("axes", nil)}, c.In(0), c.In(1))
	})
	register("Where", []int{9, 16}, "", func(c *nodeCtx) error {
		if err := c.Need(3); err != nil {
			return err
		}
		return c.Emit(&ir.Where{}, c.In(0), c.In(1), c.In(2))
	})
	register("Trilu", []int{14}, "", func(c *nodeCtx) error {
		return c.Emit(&ir.Trilu{Upper: c.Int("upper", 1) != 0}, c.In(0), c.In(1))
	})
	register("ReverseSequence", []int{10}, "", func(c *nodeCtx) error {
		if err := c.Need(2); err != nil {
			return err
		}
		op := &ir.ReverseSequence{BatchAxis: c.Int("batch_axis", 1), TimeAxis: c.Int("time_axis", 0)}
		return c.Emit(op, c.In(0), c.In(1))
	})
	register("DepthToSpace", []int{1, 11, 13}, "", func(c *nodeCtx) error {
		if !c.Has("blocksize") {
			return fmt.Errorf("DepthToSpace needs the blocksize attribute")
		}
		op := &ir.DepthToSpace{Blocksize: c.Int("blocksize", 0)}
		if c.Version >= 11 {
			mode, err := c.OneOf("mode", "DCR", "DCR", "CRD")
			if err != nil {
				return err
			}
			op.CRD = mode == "CRD"
		}
		return c.Emit(op, c.In(0))
	})
	register("SpaceToDepth", []int{1, 13}, "", func(c *nodeCtx) error {
		if !c.Has("blocksize") {
			return fmt.Errorf("SpaceToDepth needs the blocksize attribute")
		}
		return c.Emit(&ir.SpaceToDepth{Blocksize: c.Int("blocksize", 0)}, c.In(0))
	})
	register("Range", []int{11, 27}, fmt.Sprintf(constShapeLimits, "start, limit, delta"), func(c *nodeCtx) error {
		if err := c.Need(3); err != nil {
			return err
		}
		op := &ir.Range{Stash: ir.Float64}
		if c.Version >= 27 {
			// stash_type only matters for float16 and bfloat16.
			stash, err := DTypeFromONNX(int32(c.Int("stash_type", 1)))
			if err != nil {
				return err
			}
			if stash != ir.Float32 && stash != ir.Float64 {
				return fmt.Errorf("Range stash_type must be float or double, got %s", stash)
			}
			if dt := c.In(0).Type.DType; dt == ir.Float16 || dt == ir.BFloat16 {
				op.Stash = stash
			}
		}
		return c.Emit(op, c.In(0), c.In(1), c.In(2))
	})
	register("OneHot", []int{9, 11}, fmt.Sprintf(constShapeLimits, "depth"), func(c *nodeCtx) error {
		if err := c.Need(3); err != nil {
			return err
		}
		op := &ir.OneHot{Axis: c.Int("axis", -1), NegativeIndices: c.Version >= 11}
		return c.Emit(op, c.In(0), c.In(1), c.In(2))
	})
	register("EyeLike", []int{9, 22}, "", func(c *nodeCtx) error {
		op := &ir.EyeLike{K: c.Int("k", 0)}
		if c.Has("dtype") {
			dt, err := DTypeFromONNX(int32(c.Int("dtype", 0)))
			if err != nil {
				return err
			}
			op.DType = dt
		}
		return c.Emit(op, c.In(0))
	})
}
