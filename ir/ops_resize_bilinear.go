package ir

import "math"

// Bilinear resizing as ONNX Runtime computes it. Linear interpolation is
// separable, but ONNX Runtime's CPU (and Wasm) kernel for float32 NCHW
// images is not: it sets up each axis's positions and weights in float32
// and sums four products per output element,
//
//	y = dx2*dy2*x11 + dx1*dy2*x21 + dx2*dy1*x12 + dx1*dy1*x22
//
// left to right, each operation rounded to float32. The ONNX reference's
// float64 passes round differently in the last bit. That is invisible in
// float models, but a model that quantizes its activations at run time
// (DynamicQuantizeLinear after each layer, as onnxruntime's dynamic
// quantization exports) turns a one-ulp difference into a different
// integer and amplifies it layer after layer: a U^2-Net background
// remover differed from ONNX Runtime by 6% of its output range with the
// separable form and not at all with this one. So float32 linear resizing
// of the last two axes, the case ONNX Runtime's bilinear kernel covers,
// follows its arithmetic exactly, in the interpreter and in the kernel.

// ResizeBilinear is the float32 setup of ONNX Runtime's bilinear kernel
// over the last two axes of an input of Planes x H x W elements.
type ResizeBilinear struct {
	Planes, H, W, OH, OW int
	Y, X                 BilinearAxis
}

// BilinearAxis holds, per output position, the two input positions and
// their weights: D1 weighs I2 and D2 weighs I1 (ONNX Runtime's dx1 is the
// distance from the first position).
type BilinearAxis struct {
	I1, I2 []int
	D1, D2 []float32
}

// bilinearCoordModes maps the coordinate transformations ONNX Runtime's
// bilinear kernel computes in float32 to that computation.
var bilinearCoordModes = map[string]func(o, scale, outLen, inLen float32) float32{
	"half_pixel": func(o, scale, _, _ float32) float32 {
		return float32(float32(o+0.5)/scale) - 0.5
	},
	"pytorch_half_pixel": func(o, scale, outLen, _ float32) float32 {
		if outLen > 1 {
			return float32(float32(o+0.5)/scale) - 0.5
		}
		return 0
	},
	"asymmetric": func(o, scale, _, _ float32) float32 { return o / scale },
	"align_corners": func(o, _, outLen, inLen float32) float32 {
		if outLen == 1 {
			return 0
		}
		return float32(o*(inLen-1)) / (outLen - 1)
	},
}

// bilinear returns ONNX Runtime's bilinear setup when it applies to x:
// float32 linear resizing without antialiasing, of a 2-D input or of the
// last two axes of a 4-D one, with a coordinate transformation it computes
// in float32. scales are the per-axis scales of the plan.
func (r *Resize) bilinear(x Type, out Shape, scales []float64, sizes []int) *ResizeBilinear {
	mode := bilinearCoordModes[r.CoordMode]
	if x.DType != Float32 || r.Mode != "linear" || r.Antialias || mode == nil ||
		r.Axes != nil || (r.KeepAspect != "" && r.KeepAspect != "stretch") {
		return nil
	}
	rank := len(x.Shape)
	if rank != 2 && rank != 4 {
		return nil
	}
	// The scales ONNX Runtime uses: the float32 input, or out/in in float32.
	scale := make([]float32, rank)
	for i := range rank {
		if scales != nil {
			scale[i] = float32(scales[i])
		} else if x.Shape[i] != 0 {
			scale[i] = float32(sizes[i]) / float32(x.Shape[i])
		}
	}
	if rank == 4 && (scale[0] != 1 || scale[1] != 1) {
		return nil
	}
	// align_corners and pytorch_half_pixel use the resized length: ONNX
	// means scale*length, which a scales input may make fractional, ONNX
	// Runtime the integer output length. Only where they agree is ONNX
	// Runtime's form the same semantics rounded differently.
	if r.CoordMode == "align_corners" || r.CoordMode == "pytorch_half_pixel" {
		for i := rank - 2; i < rank; i++ {
			if scales != nil && scales[i]*float64(x.Shape[i]) != float64(out[i]) {
				return nil
			}
		}
	}
	b := &ResizeBilinear{Planes: x.Shape[:rank-2].Size(), H: x.Shape[rank-2], W: x.Shape[rank-1], OH: out[rank-2], OW: out[rank-1]}
	if b.H == 0 || b.W == 0 {
		return nil
	}
	b.Y = bilinearAxis(mode, b.H, b.OH, scale[rank-2])
	b.X = bilinearAxis(mode, b.W, b.OW, scale[rank-1])
	return b
}

// bilinearAxis is ONNX Runtime's SetupUpsampleBilinear for one axis.
func bilinearAxis(coord func(o, scale, outLen, inLen float32) float32, in, out int, scale float32) BilinearAxis {
	a := BilinearAxis{I1: make([]int, out), I2: make([]int, out), D1: make([]float32, out), D2: make([]float32, out)}
	for o := range out {
		c := float32(o)
		if scale != 1 {
			c = coord(float32(o), scale, float32(out), float32(in))
		}
		c = max(0, min(c, float32(in-1)))
		i1 := min(int(c), in-1)
		i2 := min(i1+1, in-1)
		d1 := float32(math.Abs(float64(c - float32(i1))))
		d2 := float32(math.Abs(float64(c - float32(i2))))
		if i1 == i2 {
			d1, d2 = 0.5, 0.5
		}
		a.I1[o], a.I2[o], a.D1[o], a.D2[o] = i1, i2, d1, d2
	}
	return a
}

// Apply resizes float32 data in ONNX Runtime's order of operations; the
// explicit conversions keep Go from fusing a multiply and an add.
func (b *ResizeBilinear) Apply(x []float32) []float32 {
	y := make([]float32, b.Planes*b.OH*b.OW)
	for p := range b.Planes {
		src := x[p*b.H*b.W:]
		dst := y[p*b.OH*b.OW:]
		for oy := range b.OH {
			r1, r2 := src[b.Y.I1[oy]*b.W:], src[b.Y.I2[oy]*b.W:]
			dy1, dy2 := b.Y.D1[oy], b.Y.D2[oy]
			for ox := range b.OW {
				x1, x2 := b.X.I1[ox], b.X.I2[ox]
				dx1, dx2 := b.X.D1[ox], b.X.D2[ox]
				v := float32(float32(dx2*dy2) * r1[x1])
				v = float32(v + float32(float32(dx1*dy2)*r1[x2]))
				v = float32(v + float32(float32(dx2*dy1)*r2[x1]))
				v = float32(v + float32(float32(dx1*dy1)*r2[x2]))
				dst[oy*b.OW+ox] = v
			}
		}
	}
	return y
}
