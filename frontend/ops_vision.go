package frontend

import (
	"fmt"

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

	register("Resize", []int{10, 11, 13, 18, 19}, "scales/sizes (and roi for tf_crop_and_resize) must be constants", func(c *nodeCtx) error {
		if c.Version < 11 {
			// Resize-10 is Upsample with downscaling: asymmetric
			// coordinates, nearest rounds down (up when downscaling).
			mode, err := c.OneOf("mode", "nearest", "nearest", "linear")
			if err != nil {
				return err
			}
			return c.Emit(&ir.Resize{Mode: mode, CoordMode: "asymmetric", NearestMode: "simple"}, c.In(0), nil, c.In(1), nil)
		}
		coords := []string{"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize"}
		switch {
		case c.Version < 13:
			coords = append(coords, "tf_half_pixel_for_nn")
		case c.Version >= 19:
			coords = append(coords, "half_pixel_symmetric")
		}
		r := &ir.Resize{
			CubicA:         float64(c.Float("cubic_coeff_a", -0.75)),
			ExcludeOutside: c.Int("exclude_outside", 0) != 0,
			Extrapolation:  float64(c.Float("extrapolation_value", 0)),
			KeepAspect:     "stretch",
		}
		var err error
		if r.Mode, err = c.OneOf("mode", "nearest", "nearest", "linear", "cubic"); err != nil {
			return err
		}
		if r.CoordMode, err = c.OneOf("coordinate_transformation_mode", "half_pixel", coords...); err != nil {
			return err
		}
		if r.NearestMode, err = c.OneOf("nearest_mode", "round_prefer_floor", "round_prefer_floor", "round_prefer_ceil", "floor", "ceil"); err != nil {
			return err
		}
		if c.Version >= 18 {
			r.Antialias = c.Int("antialias", 0) != 0
			r.Axes = c.Ints("axes", nil)
			if r.KeepAspect, err = c.OneOf("keep_aspect_ratio_policy", "stretch", "stretch", "not_larger", "not_smaller"); err != nil {
				return err
			}
		}
		if r.Mode == "nearest" {
			r.Antialias = false // antialiasing only applies to linear and cubic
		}
		return c.Emit(r, c.In(0), c.In(1), c.In(2), c.In(3))
	})
	register("Upsample", []int{7, 9}, "scales must be a constant", func(c *nodeCtx) error {
		mode, err := c.OneOf("mode", "nearest", "nearest", "linear")
		if err != nil {
			return err
		}
		scales := c.In(1)
		if c.Version < 9 {
			fs := c.Floats("scales", nil)
			if fs == nil {
				return fmt.Errorf("Upsample needs the scales attribute")
			}
			scales = c.Const(ir.TensorF32(ir.Shape{len(fs)}, fs...))
		}
		return c.Emit(&ir.Resize{Mode: mode, CoordMode: "asymmetric", NearestMode: "simple"}, c.In(0), nil, scales, nil)
	})

	register("GridSample", []int{16, 20, 22}, "", func(c *nodeCtx) error {
		g := &ir.GridSample{AlignCorners: c.Int("align_corners", 0) != 0}
		var err error
		if c.Version < 20 {
			// opset 16 names the modes bilinear and bicubic (4-D only)
			var m string
			if m, err = c.OneOf("mode", "bilinear", "bilinear", "nearest", "bicubic"); err != nil {
				return err
			}
			g.Mode = map[string]string{"bilinear": "linear", "nearest": "nearest", "bicubic": "cubic"}[m]
			if x := c.In(0); x != nil && x.Typed() && len(x.Type.Shape) != 4 {
				return fmt.Errorf("GridSample-16 needs 4-D input, got %s", x.Type.Shape)
			}
		} else if g.Mode, err = c.OneOf("mode", "linear", "linear", "nearest", "cubic"); err != nil {
			return err
		}
		if g.Padding, err = c.OneOf("padding_mode", "zeros", "zeros", "border", "reflection"); err != nil {
			return err
		}
		return c.Emit(g, c.In(0), c.In(1))
	})
	register("AffineGrid", []int{20}, "size must be a constant", func(c *nodeCtx) error {
		return c.Emit(&ir.AffineGrid{AlignCorners: c.Int("align_corners", 0) != 0}, c.In(0), c.In(1))
	})
	register("RoiAlign", []int{10, 16, 22}, "", func(c *nodeCtx) error {
		r := &ir.RoiAlign{
			OutH:          c.Int("output_height", 1),
			OutW:          c.Int("output_width", 1),
			SamplingRatio: c.Int("sampling_ratio", 0),
			SpatialScale:  c.Float("spatial_scale", 1),
		}
		var err error
		if r.Mode, err = c.OneOf("mode", "avg", "avg", "max"); err != nil {
			return err
		}
		if c.Version >= 16 {
			// opset 10 behaved as output_half_pixel (no pixel shift)
			m, err := c.OneOf("coordinate_transformation_mode", "half_pixel", "half_pixel", "output_half_pixel")
			if err != nil {
				return err
			}
			r.HalfPixel = m == "half_pixel"
		}
		return c.Emit(r, c.In(0), c.In(1), c.In(2))
	})
	register("DeformConv", []int{19, 22}, "", func(c *nodeCtx) error {
		w := ir.Window{
			Kernel:    c.Ints("kernel_shape", nil),
			Pads:      c.Ints("pads", nil),
			Strides:   c.Ints("strides", nil),
			Dilations: c.Ints("dilations", nil),
		}
		return c.Emit(&ir.DeformConv{Window: w, Group: c.Int("group", 1), OffsetGroup: c.Int("offset_group", 1)}, c.In(0), c.In(1), c.In(2), c.In(3), c.In(4))
	})
}
