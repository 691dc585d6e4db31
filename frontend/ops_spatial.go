package frontend

import (
	"slices"

	"github.com/mlc-compiler/mlc/ir"
)

// Spatial scatter and selection: NonMaxSuppression, MaxUnpool, Col2Im.

// maxVariants bounds how many kernels a run-time shape input may compile
// to (one per value the static shapes allow).
const maxVariants = 16

func init() {
	register("NonMaxSuppression", []int{10, 11}, "run-time inputs need a static output shape declared in the model", func(c *nodeCtx) error {
		if err := c.Need(2); err != nil {
			return err
		}
		op := &ir.NonMaxSuppression{CenterPointBox: c.Int("center_point_box", 0) != 0, Count: -1}
		if t, ok := c.Declared(0); ok && len(t.Shape) == 2 && t.Shape[1] == 3 && !allConst(c.Inputs()) {
			op.Count = t.Shape[0]
		}
		return c.Emit(op, c.Inputs()...)
	})
	register("MaxUnpool", []int{9, 11, 22}, "output_shape computed at run time needs a static output shape declared in the model", func(c *nodeCtx) error {
		if err := c.Need(2); err != nil {
			return err
		}
		op := &ir.MaxUnpool{Kernel: c.Ints("kernel_shape", nil), Pads: c.Ints("pads", nil), Strides: c.Ints("strides", nil)}
		if op.Kernel == nil {
			return ir.NotSupportedf("MaxUnpool needs kernel_shape")
		}
		if len(op.Pads) != 0 && len(op.Pads) != 2*len(op.Kernel) || len(op.Strides) != 0 && len(op.Strides) != len(op.Kernel) {
			return ir.NotSupportedf("pads %v and strides %v do not match kernel_shape %v", op.Pads, op.Strides, op.Kernel)
		}
		if s := c.In(2); s != nil && s.Const == nil {
			if t, ok := c.Declared(0); ok {
				op.OutShape = t.Shape
			}
		}
		return c.Emit(op, c.Inputs()...)
	})
	register("Col2Im", []int{18}, "image_shape and block_shape computed at run time need a static output shape declared in the model", func(c *nodeCtx) error {
		op := &ir.Col2Im{Dilations: c.Ints("dilations", nil), Pads: c.Ints("pads", nil), Strides: c.Ints("strides", nil)}
		if err := c.Need(3); err != nil {
			return err
		}
		x, img, blk := c.In(0), c.In(1), c.In(2)
		decl, declared := c.Declared(0)
		if img.Const != nil {
			op.Image = img.Const.Ints()
		} else if declared && len(decl.Shape) >= 3 {
			op.Image = decl.Shape[2:]
		}
		if blk.Const == nil && op.Image != nil && x.Typed() {
			ch := -1
			if declared && len(decl.Shape) >= 3 {
				ch = decl.Shape[1]
			}
			op.Blocks = col2imBlocks(op, x.Type.Shape, op.Image, ch)
			if len(op.Blocks) > maxVariants {
				return ir.NotSupportedf("block_shape is computed at run time and %d block shapes fit the static shapes (at most %d are compiled)", len(op.Blocks), maxVariants)
			}
		}
		if img.Const != nil {
			op.Image = nil
		}
		return c.Emit(op, x, img, blk)
	})
}

func allConst(vs []*ir.Value) bool {
	for _, v := range vs {
		if v != nil && v.Const == nil {
			return false
		}
	}
	return true
}

// col2imBlocks lists the block shapes (in lexicographic order) that fit
// input shape x, the image and, when ch >= 0, the channel count; it stops
// early once there are more than maxVariants.
func col2imBlocks(op *ir.Col2Im, x ir.Shape, image []int, ch int) [][]int {
	if len(x) != 3 || x[1] < 1 {
		return nil
	}
	var out [][]int
	chans := map[int]bool{}
	block := make([]int, len(image))
	var try func(d, prod int)
	try = func(d, prod int) {
		if len(out) > maxVariants {
			return
		}
		if d == len(block) {
			c, _, err := op.Geometry(x, image, block)
			if err == nil && (ch < 0 || c == ch) {
				out = append(out, slices.Clone(block))
				chans[c] = true
			}
			return
		}
		for b := 1; prod*b <= x[1]; b++ {
			if x[1]%(prod*b) == 0 {
				block[d] = b
				try(d+1, prod*b)
			}
		}
	}
	try(0, 1)
	if len(chans) > 1 {
		// the output shape would depend on the data
		return nil
	}
	return out
}
