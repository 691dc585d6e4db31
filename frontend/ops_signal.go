package frontend

import (
	"slices"

	"github.com/mlc-compiler/mlc/ir"
)

// Signal processing: DFT, STFT, HannWindow, HammingWindow, BlackmanWindow,
// MelWeightMatrix. Sizes computed at run time take the output shape the
// model declares; the kernels check the data against it.

func init() {
	for _, kind := range []string{"Hann", "Hamming", "Blackman"} {
		register(kind+"Window", []int{17}, "a size computed at run time needs a static output shape declared in the model", func(c *nodeCtx) error {
			dt, err := DTypeFromONNX(int32(c.Int("output_datatype", 1)))
			if err != nil {
				return err
			}
			if err := c.Need(1); err != nil {
				return err
			}
			op := &ir.SignalWindow{Kind: kind, Periodic: c.Int("periodic", 1) != 0, DType: dt, Size: -1}
			if t, ok := c.Declared(0); ok && len(t.Shape) == 1 {
				op.Size = t.Shape[0]
			}
			if c.In(0) != nil && c.In(0).Const != nil {
				op.Size = -1
			}
			return c.Emit(op, c.In(0))
		})
	}
	register("DFT", []int{17, 20}, "dft_length must be known at compile time; an axis computed at run time needs a static output shape", func(c *nodeCtx) error {
		op := &ir.DFT{Inverse: c.Int("inverse", 0) != 0, Onesided: c.Int("onesided", 0) != 0}
		if err := c.Need(1); err != nil {
			return err
		}
		x := c.In(0)
		if !x.Typed() {
			return ir.NotSupportedf("DFT of a subgraph input whose shape is not known while importing")
		}
		r := len(x.Type.Shape)
		if l := c.In(1); l != nil {
			n, err := ir.ConstInts(l, "dft_length")
			if err != nil {
				return err
			}
			if len(n) != 1 {
				return ir.NotSupportedf("dft_length must be a scalar")
			}
			op.Length = n[0]
		}
		axis := -2
		if c.Version < 20 {
			axis = c.Int("axis", 1)
		} else if a := c.In(2); a != nil {
			if a.Const == nil {
				op.Axes = dftAxes(c, op, r)
				return c.Emit(op, x, a)
			}
			axis = int(a.Const.Int(0))
		}
		if axis < 0 {
			axis += r
		}
		op.Axis = axis
		return c.Emit(op, x)
	})
	register("STFT", []int{17}, "frame_step and frame_length computed at run time need a static output shape declared in the model", func(c *nodeCtx) error {
		op := &ir.STFT{Onesided: c.Int("onesided", 1) != 0, Frames: -1}
		if err := c.Need(2); err != nil {
			return err
		}
		x, step, fl := c.In(0), c.In(1), c.In(3)
		t, declared := c.Declared(0)
		declared = declared && len(t.Shape) == 4
		if step.Const == nil && declared {
			op.Frames = t.Shape[1]
		}
		if fl != nil && fl.Const == nil && declared {
			bins := t.Shape[2]
			cands := []int{bins}
			if op.Onesided {
				cands = []int{2 * (bins - 1), 2*(bins-1) + 1}
			}
			st := -1
			if step.Const != nil {
				st = int(step.Const.Int(0))
			}
			for _, l := range cands {
				if s, err := op.Geometry(x.Type.Shape, l, st); err == nil && s.Equal(t.Shape) {
					op.FrameLengths = append(op.FrameLengths, l)
				}
			}
		}
		return c.Emit(op, c.Inputs()...)
	})
	register("MelWeightMatrix", []int{17}, "num_mel_bins and dft_length computed at run time need a static output shape declared in the model", func(c *nodeCtx) error {
		dt, err := DTypeFromONNX(int32(c.Int("output_datatype", 1)))
		if err != nil {
			return err
		}
		if err := c.Need(5); err != nil {
			return err
		}
		op := &ir.MelWeightMatrix{DType: dt, Bins: -1, Mels: -1}
		if t, ok := c.Declared(0); ok && len(t.Shape) == 2 && !allConst(c.Inputs()) {
			op.Bins, op.Mels = t.Shape[0], t.Shape[1]
		}
		return c.Emit(op, c.Inputs()...)
	})
}

// dftAxes lists the axes of a rank-r input a run-time axis may name: those
// giving the output shape the model declares, or, without a declaration,
// all valid axes when they agree on the output shape.
func dftAxes(c *nodeCtx, op *ir.DFT, r int) []int {
	x := c.In(0).Type.Shape
	want, ok := c.Declared(0)
	var axes []int
	var shapes []ir.Shape
	for a := 0; a <= r-2; a++ {
		s, _, err := op.DFTShape(x, a)
		if err != nil {
			continue
		}
		if ok && !s.Equal(want.Shape) {
			continue
		}
		axes = append(axes, a)
		shapes = append(shapes, s)
	}
	for _, s := range shapes {
		if !s.Equal(shapes[0]) {
			return nil
		}
	}
	return slices.Clip(axes)
}
