package ir

import (
	"fmt"
	"math"
)

// Convolution and pooling over N spatial dimensions (N = rank - 2).

// Window holds the attributes shared by Conv and the pools, as imported.
// Pads lists all begins then all ends; empty slices mean the defaults.
type Window struct {
	Kernel    []int // kernel_shape; for Conv it may be empty (taken from W)
	Pads      []int
	Strides   []int
	Dilations []int
	AutoPad   string // NOTSET, SAME_UPPER, SAME_LOWER, VALID
	CeilMode  bool   // pools only
}

// Geometry is a window resolved against an input shape.
type Geometry struct {
	In, Out   []int // spatial sizes
	Kernel    []int
	Strides   []int
	Dilations []int
	PadBegin  []int
	PadEnd    []int
}

// Resolve computes the output spatial size and explicit pads for input
// spatial dims in and kernel sizes k.
func (w *Window) Resolve(in []int, k []int) (*Geometry, error) {
	n := len(in)
	if len(k) != n {
		return nil, fmt.Errorf("kernel has %d spatial dims, input has %d", len(k), n)
	}
	g := &Geometry{In: in, Kernel: k, Strides: ones(n), Dilations: ones(n), PadBegin: make([]int, n), PadEnd: make([]int, n), Out: make([]int, n)}
	if len(w.Strides) > 0 {
		if len(w.Strides) != n {
			return nil, fmt.Errorf("strides %v do not match %d spatial dims", w.Strides, n)
		}
		g.Strides = w.Strides
	}
	if len(w.Dilations) > 0 {
		if len(w.Dilations) != n {
			return nil, fmt.Errorf("dilations %v do not match %d spatial dims", w.Dilations, n)
		}
		g.Dilations = w.Dilations
	}
	for i := range n {
		if g.Strides[i] < 1 || g.Dilations[i] < 1 || k[i] < 1 {
			return nil, fmt.Errorf("strides %v, dilations %v and kernel %v must be positive", g.Strides, g.Dilations, k)
		}
	}
	switch w.AutoPad {
	case "", "NOTSET":
		if len(w.Pads) > 0 {
			if len(w.Pads) != 2*n {
				return nil, fmt.Errorf("pads %v do not match %d spatial dims", w.Pads, n)
			}
			copy(g.PadBegin, w.Pads[:n])
			copy(g.PadEnd, w.Pads[n:])
		}
		for i := range n {
			if g.PadBegin[i] < 0 || g.PadEnd[i] < 0 {
				return nil, fmt.Errorf("negative pads %v", w.Pads)
			}
			ek := (k[i]-1)*g.Dilations[i] + 1
			span := in[i] + g.PadBegin[i] + g.PadEnd[i] - ek
			if w.CeilMode {
				g.Out[i] = ceilDiv(span, g.Strides[i]) + 1
				// The last window must start inside the input or left padding.
				if (g.Out[i]-1)*g.Strides[i] >= in[i]+g.PadBegin[i] {
					g.Out[i]--
				}
			} else {
				g.Out[i] = floorDiv(span, g.Strides[i]) + 1
			}
		}
	case "VALID":
		for i := range n {
			ek := (k[i]-1)*g.Dilations[i] + 1
			if w.CeilMode {
				g.Out[i] = ceilDiv(in[i]-ek, g.Strides[i]) + 1
			} else {
				g.Out[i] = floorDiv(in[i]-ek, g.Strides[i]) + 1
			}
		}
	case "SAME_UPPER", "SAME_LOWER":
		for i := range n {
			ek := (k[i]-1)*g.Dilations[i] + 1
			g.Out[i] = ceilDiv(in[i], g.Strides[i])
			total := max(0, (g.Out[i]-1)*g.Strides[i]+ek-in[i])
			small, big := total/2, total-total/2
			if w.AutoPad == "SAME_UPPER" {
				g.PadBegin[i], g.PadEnd[i] = small, big
			} else {
				g.PadBegin[i], g.PadEnd[i] = big, small
			}
		}
	default:
		return nil, NotSupportedf("auto_pad %q", w.AutoPad)
	}
	for i := range n {
		if g.Out[i] < 1 {
			return nil, fmt.Errorf("window %v does not fit input %v (output size %d)", k, in, g.Out[i])
		}
	}
	return g, nil
}

func ones(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = 1
	}
	return s
}

func ceilDiv(a, b int) int  { return -floorDiv(-a, b) }
func floorDiv(a, b int) int { return int(math.Floor(float64(a) / float64(b))) }

// Conv is an N-D grouped convolution: X [N,C,...], W [M,C/group,k...], B [M].
type Conv struct {
	Window
	Group int
}

func (*Conv) OpType() string { return "Conv" }

// Geometry resolves the window for input x and weight w shapes.
func (c *Conv) Geometry(x, w Shape) (*Geometry, error) {
	if len(x) < 3 || len(w) != len(x) {
		return nil, fmt.Errorf("Conv needs X of rank >= 3 and W of the same rank, got %s and %s", x, w)
	}
	if c.Group < 1 || x[1]%c.Group != 0 || w[0]%c.Group != 0 || w[1]*c.Group != x[1] {
		return nil, fmt.Errorf("Conv group %d does not fit X %s and W %s", c.Group, x, w)
	}
	k := []int(w[2:])
	if len(c.Kernel) > 0 && !Shape(c.Kernel).Equal(Shape(k)) {
		return nil, fmt.Errorf("kernel_shape %v does not match W %s", c.Kernel, w)
	}
	return c.Resolve(x[2:], k)
}

func (c *Conv) Infer(in []*Value) ([]Type, error) {
	x, w := in[0].Type, in[1].Type
	if err := SameType(in, 0, 1, 2); err != nil {
		return nil, err
	}
	if !x.DType.IsFloat() {
		return nil, NotSupportedf("Conv on %s", x.DType)
	}
	g, err := c.Geometry(x.Shape, w.Shape)
	if err != nil {
		return nil, err
	}
	if b := getIn(in, 2); b != nil && (len(b.Type.Shape) != 1 || b.Type.Shape[0] != w.Shape[0]) {
		return nil, fmt.Errorf("Conv bias %s does not match %d output channels", b.Type.Shape, w.Shape[0])
	}
	return Types(Type{x.DType, append(Shape{x.Shape[0], w.Shape[0]}, g.Out...)}), nil
}

func (c *Conv) Eval(in []*Tensor) ([]*Tensor, error) {
	x, w, b := in[0], in[1], getT(in, 2)
	g, err := c.Geometry(x.Shape, w.Shape)
	if err != nil {
		return nil, err
	}
	N, C, M := x.Shape[0], x.Shape[1], w.Shape[0]
	cg, mg := C/c.Group, M/c.Group
	xs, ws := x.Floats(), w.Floats()
	outShape := append(Shape{N, M}, g.Out...)
	out := make([]float64, outShape.Size())
	inSize, outSize, kSize := Shape(g.In).Size(), Shape(g.Out).Size(), Shape(g.Kernel).Size()
	nd := len(g.In)
	opos := make([]int, nd)
	kpos := make([]int, nd)
	for n := 0; n < N; n++ {
		for m := 0; m < M; m++ {
			grp := m / mg
			bias := 0.0
			if b != nil {
				bias = b.Float(m)
			}
			for o := 0; o < outSize; o++ {
				unravel(o, g.Out, opos)
				acc := bias
				for ci := 0; ci < cg; ci++ {
					xc := xs[(n*C+grp*cg+ci)*inSize:]
					wc := ws[(m*cg+ci)*kSize:]
					for k := 0; k < kSize; k++ {
						unravel(k, g.Kernel, kpos)
						xi, ok := 0, true
						for d := 0; d < nd; d++ {
							p := opos[d]*g.Strides[d] - g.PadBegin[d] + kpos[d]*g.Dilations[d]
							if p < 0 || p >= g.In[d] {
								ok = false
								break
							}
							xi = xi*g.In[d] + p
						}
						if ok {
							acc += xc[xi] * wc[k]
						}
					}
				}
				out[(n*M+m)*outSize+o] = acc
			}
		}
	}
	return []*Tensor{FromFloats(x.DType, outShape, out)}, nil
}

// unravel writes the row-major multi-index of i within shape s into pos.
func unravel(i int, s []int, pos []int) {
	for d := len(s) - 1; d >= 0; d-- {
		pos[d] = i % s[d]
		i /= s[d]
	}
}

// PoolKind selects the reduction of a pool.
type PoolKind string

const (
	PoolMax     PoolKind = "Max"
	PoolAverage PoolKind = "Average"
	PoolLp      PoolKind = "Lp"
)

// Pool is MaxPool, AveragePool or LpPool over N spatial dims. MaxPool's
// optional second output holds flat indices (StorageOrder 1: column-major).
type Pool struct {
	Window
	Kind            PoolKind
	CountIncludePad bool
	P               int
	StorageOrder    int
}

func (p *Pool) OpType() string { return string(p.Kind) + "Pool" }

func (p *Pool) Geometry(x Shape) (*Geometry, error) {
	if len(x) < 3 {
		return nil, fmt.Errorf("%s needs rank >= 3, got %s", p.OpType(), x)
	}
	if len(p.Kernel) != len(x)-2 {
		return nil, fmt.Errorf("kernel_shape %v does not match input %s", p.Kernel, x)
	}
	return p.Resolve(x[2:], p.Kernel)
}

func (p *Pool) Infer(in []*Value) ([]Type, error) {
	x := in[0].Type
	g, err := p.Geometry(x.Shape)
	if err != nil {
		return nil, err
	}
	if !x.DType.IsFloat() && p.Kind != PoolMax {
		return nil, NotSupportedf("%s on %s", p.OpType(), x.DType)
	}
	s := append(Shape{x.Shape[0], x.Shape[1]}, g.Out...)
	return Types(Type{x.DType, s}, Type{Int64, s}), nil
}

func (p *Pool) Eval(in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	g, err := p.Geometry(x.Shape)
	if err != nil {
		return nil, err
	}
	NC := x.Shape[0] * x.Shape[1]
	outShape := append(Shape{x.Shape[0], x.Shape[1]}, g.Out...)
	inSize, outSize, kSize := Shape(g.In).Size(), Shape(g.Out).Size(), Shape(g.Kernel).Size()
	nd := len(g.In)
	xs := x.Floats()
	out := make([]float64, outShape.Size())
	idx := NewTensor(Int64, outShape)
	opos, kpos, ipos := make([]int, nd), make([]int, nd), make([]int, nd)
	for c := 0; c < NC; c++ {
		for o := 0; o < outSize; o++ {
			unravel(o, g.Out, opos)
			acc, count, best := 0.0, 0, -1
			if p.Kind == PoolMax {
				acc = math.Inf(-1)
			}
			for k := 0; k < kSize; k++ {
				unravel(k, g.Kernel, kpos)
				xi, inside, inPadded := 0, true, true
				for d := 0; d < nd; d++ {
					q := opos[d]*g.Strides[d] - g.PadBegin[d] + kpos[d]*g.Dilations[d]
					ipos[d] = q
					if q < 0 || q >= g.In[d] {
						inside = false
					}
					if q < -g.PadBegin[d] || q >= g.In[d]+g.PadEnd[d] {
						inPadded = false
					}
					xi = xi*g.In[d] + q
				}
				if !inside {
					if inPadded && p.CountIncludePad {
						count++
					}
					continue
				}
				v := xs[c*inSize+xi]
				count++
				switch p.Kind {
				case PoolMax:
					if v > acc || best < 0 {
						acc, best = v, xi
						if p.StorageOrder == 1 {
							best = 0
							for d := nd - 1; d >= 0; d-- {
								best = best*g.In[d] + ipos[d]
							}
						}
					}
				case PoolAverage:
					acc += v
				case PoolLp:
					acc += math.Pow(math.Abs(v), float64(p.P))
				}
			}
			switch p.Kind {
			case PoolAverage:
				if count > 0 {
					acc /= float64(count)
				}
			case PoolLp:
				acc = math.Pow(acc, 1/float64(p.P))
			}
			out[c*outSize+o] = acc
			idx.I64()[c*outSize+o] = int64(c*inSize + best)
		}
	}
	return []*Tensor{FromFloats(x.DType, outShape, out), idx}, nil
}

// GlobalPool reduces all spatial dims: GlobalAveragePool, GlobalMaxPool,
// GlobalLpPool.
type GlobalPool struct {
	Kind PoolKind
	P    int
}

func (p *GlobalPool) OpType() string { return "Global" + string(p.Kind) + "Pool" }

func (p *GlobalPool) Infer(in []*Value) ([]Type, error) {
	x := in[0].Type
	if len(x.Shape) < 2 {
		return nil, fmt.Errorf("%s needs rank >= 2, got %s", p.OpType(), x.Shape)
	}
	if !x.DType.IsFloat() {
		return nil, NotSupportedf("%s on %s", p.OpType(), x.DType)
	}
	s := x.Shape.Clone()
	for i := 2; i < len(s); i++ {
		s[i] = 1
	}
	return Types(Type{x.DType, s}), nil
}

func (p *GlobalPool) Eval(in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	types, _ := p.Infer(constValues(in))
	NC := x.Shape[0] * x.Shape[1]
	inner := x.Shape[2:].Size()
	xs := x.Floats()
	out := make([]float64, NC)
	for c := 0; c < NC; c++ {
		acc := 0.0
		if p.Kind == PoolMax {
			acc = math.Inf(-1)
		}
		for _, v := range xs[c*inner : (c+1)*inner] {
			switch p.Kind {
			case PoolMax:
				acc = max(acc, v)
			case PoolAverage:
				acc += v
			case PoolLp:
				acc += math.Pow(math.Abs(v), float64(p.P))
			}
		}
		switch p.Kind {
		case PoolAverage:
			acc /= float64(inner)
		case PoolLp:
			acc = math.Pow(acc, 1/float64(p.P))
		}
		out[c] = acc
	}
	return []*Tensor{FromFloats(x.DType, types[0].Shape, out)}, nil
}
