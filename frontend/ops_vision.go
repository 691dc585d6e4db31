package frontend

import (
	"github.com/mlc-compiler/mlc/ir"
)

// Transposed and deformable convolution, resampling (Resize, Upsample,
// GridSample, AffineGrid) and RoiAlign.

func init() {
	register("ConvTranspose", []int{1, 11, 22}, "", func(c *nodeCtx) error {
		w, err := window(c)
		if err != nil {
			return err
		}
		return c.Emit(&ir.ConvTranspose{
			Window:        w,
			Group:         c.Int("group", 1),
			OutputPadding: c.Ints("output_padding", nil),
			OutputShape:   c.Ints("output_shape", nil),
			LegacySplit:   c.Version < 11,
		}, c.In(0), c.In(1), c.In(2))
	})
}
