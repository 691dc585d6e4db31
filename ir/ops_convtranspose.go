package ir

import "fmt"

// ConvTranspose is the N-D transposed (fractionally strided) convolution:
// X [N,C,...], W [C,M/group,k...], B [M]. Input element i under kernel tap
// k lands on output position i*stride + k*dilation - padBegin.
type ConvTranspose struct {
	Window
	Group         int
	OutputPadding []int
	OutputShape   []int // spatial output sizes; empty when not given
	// LegacySplit is opset 1's rule for splitting derived padding: the
	// larger half goes first under SAME_UPPER, last otherwise (opset 11
	// reversed it).
	LegacySplit bool
}

func (*ConvTranspose) OpType() string { return "ConvTranspose" }

// Geometry resolves the window for input x and weight w shapes. Only In,
// Out, Kernel, Strides, Dilations and PadBegin are meaningful.
func (c *ConvTranspose) Geometry(x, w Shape) (*Geometry, error) {
	if len(x) < 3 || len(w) != len(x) {
		return nil, fmt.Errorf("ConvTranspose needs X of rank >= 3 and W of the same rank, got %s and %s", x, w)
	}
	if c.Group < 1 || x[1]%c.Group != 0 || w[0] != x[1] {
		return nil, fmt.Errorf("ConvTranspose group %d does not fit X %s and W %s", c.Group, x, w)
	}
	n := len(x) - 2
	in, k := []int(x[2:]), []int(w[2:])
	if len(c.Kernel) > 0 && !Shape(c.Kernel).Equal(Shape(k)) {
		return nil, fmt.Errorf("kernel_shape %v does not match W %s", c.Kernel, w)
	}
	for _, v := range k {
		if v < 1 {
			return nil, fmt.Errorf("ConvTranspose kernel %v must be positive", k)
		}
	}
	g := &Geometry{In: in, Kernel: k, Strides: ones(n), Dilations: ones(n), PadBegin: make([]int, n), PadEnd: make([]int, n), Out: make([]int, n)}
	for _, a := range []struct {
		name string
		v    []int
		dst  *[]int
	}{{"strides", c.Strides, &g.Strides}, {"dilations", c.Dilations, &g.Dilations}} {
		if len(a.v) == 0 {
			continue
		}
		if len(a.v) != n {
			return nil, fmt.Errorf("%s %v do not match %d spatial dims", a.name, a.v, n)
		}
		for _, s := range a.v {
			if s < 1 {
				return nil, fmt.Errorf("%s %v must be positive", a.name, a.v)
			}
		}
		*a.dst = a.v
	}
	outPad := make([]int, n)
	if len(c.OutputPadding) > 0 {
		if len(c.OutputPadding) != n {
			return nil, fmt.Errorf("output_padding %v does not match %d spatial dims", c.OutputPadding, n)
		}
		copy(outPad, c.OutputPadding)
	}
	outShape := c.OutputShape
	if len(outShape) == n+2 {
		outShape = outShape[2:] // some exporters include N and C
	}
	if len(outShape) > 0 && len(outShape) != n {
		return nil, fmt.Errorf("output_shape %v does not match %d spatial dims", c.OutputShape, n)
	}
	same := c.AutoPad == "SAME_UPPER" || c.AutoPad == "SAME_LOWER"
	for i := range n {
		if outPad[i] < 0 {
			return nil, fmt.Errorf("negative output_padding %v", c.OutputPadding)
		}
		full := g.Strides[i]*(in[i]-1) + outPad[i] + (k[i]-1)*g.Dilations[i] + 1
		switch {
		case len(outShape) > 0 || same:
			// The output size is given (or in*stride for SAME) and the pads
			// follow from it; SAME_UPPER puts the smaller half first.
			if len(outShape) > 0 {
				g.Out[i] = outShape[i]
			} else {
				g.Out[i] = in[i] * g.Strides[i]
			}
			total := full - g.Out[i]
			if (c.AutoPad == "SAME_UPPER") != c.LegacySplit {
				g.PadBegin[i] = floorDiv(total, 2)
			} else {
				g.PadBegin[i] = total - floorDiv(total, 2)
			}
			g.PadEnd[i] = total - g.PadBegin[i]
		default:
			if len(c.Pads) > 0 && c.AutoPad != "VALID" {
				if len(c.Pads) != 2*n {
					return nil, fmt.Errorf("pads %v do not match %d spatial dims", c.Pads, n)
				}
				g.PadBegin[i], g.PadEnd[i] = c.Pads[i], c.Pads[i+n]
				if g.PadBegin[i] < 0 || g.PadEnd[i] < 0 {
					return nil, fmt.Errorf("negative pads %v", c.Pads)
				}
			}
			g.Out[i] = full - g.PadBegin[i] - g.PadEnd[i]
		}
		if g.Out[i] < 0 {
			return nil, fmt.Errorf("ConvTranspose output size %d is negative", g.Out[i])
		}
	}
	return g, nil
}

func (c *ConvTranspose) Infer(in []*Value) ([]Type, error) {
	x, w := in[0].Type, in[1].Type
	if err := SameType(in, 0, 1, 2); err != nil {
		return nil, err
	}
	if !x.DType.IsFloat() {
		return nil, NotSupportedf("ConvTranspose on %s", x.DType)
	}
	g, err := c.Geometry(x.Shape, w.Shape)
	if err != nil {
		return nil, err
	}
	m := w.Shape[1] * c.Group
	if b := getIn(in, 2); b != nil && (len(b.Type.Shape) != 1 || b.Type.Shape[0] != m) {
		return nil, fmt.Errorf("ConvTranspose bias %s does not match %d output channels", b.Type.Shape, m)
	}
	return Types(Type{x.DType, append(Shape{x.Shape[0], m}, g.Out...)}), nil
}

func (c *ConvTranspose) Eval(in []*Tensor) ([]*Tensor, error) {
	x, w, b := in[0], in[1], getT(in, 2)
	g, err := c.Geometry(x.Shape, w.Shape)
	if err != nil {
		return nil, err
	}
	N, C := x.Shape[0], x.Shape[1]
	mg := w.Shape[1]
	M := mg * c.Group
	cg := C / c.Group
	xs, ws := x.Floats(), w.Floats()
	outShape := append(Shape{N, M}, g.Out...)
	out := make([]float64, outShape.Size())
	inSize, outSize, kSize := Shape(g.In).Size(), Shape(g.Out).Size(), Shape(g.Kernel).Size()
	nd := len(g.In)
	ipos, kpos := make([]int, nd), make([]int, nd)
	for n := range N {
		for ch := range C {
			grp := ch / cg
			for i := range inSize {
				unravel(i, g.In, ipos)
				xv := xs[(n*C+ch)*inSize+i]
				for mi := range mg {
					m := grp*mg + mi
					wk := ws[(ch*mg+mi)*kSize:]
					yc := out[(n*M+m)*outSize:]
					for k := range kSize {
						unravel(k, g.Kernel, kpos)
						o, ok := 0, true
						for d := range nd {
							p := ipos[d]*g.Strides[d] + kpos[d]*g.Dilations[d] - g.PadBegin[d]
							if p < 0 || p >= g.Out[d] {
								ok = false
								break
							}
							o = o*g.Out[d] + p
						}
						if ok {
							yc[o] += xv * wk[k]
						}
					}
				}
			}
		}
	}
	if b != nil {
		for n := range N {
			for m := range M {
				bv := b.Float(m)
				for o := range outSize {
					out[(n*M+m)*outSize+o] += bv
				}
			}
		}
	}
	return []*Tensor{FromFloats(x.DType, outShape, out)}, nil
}
