package frontend

import (
	"github.com/mlc-compiler/mlc/ir"
)

// Slice bounds computed at run time. The output shape stays static when
// the model declares it, or when every run-time end differs from its start
// by a compile-time constant (x[i:i+k], with i the loop's iteration
// number): the bounds are traced back through reshapes, additions of
// constants and concatenations to a common run-time value. This only
// predicts the shape: the kernel resolves the actual bounds and fails the
// run unless they select exactly that shape, so a wrong prediction can
// never give a wrong result.

// term is one element of an integer tensor: root's element idx plus off,
// or the constant off when root is nil.
type term struct {
	root *ir.Value
	idx  int
	off  int64
}

const maxAffineDepth = 16

// producer finds the node of the current graph that computes v.
func (c *nodeCtx) producer(v *ir.Value) *ir.Node {
	for i := len(c.g.Nodes) - 1; i >= 0; i-- {
		for _, o := range c.g.Nodes[i].Outputs {
			if o == v {
				return c.g.Nodes[i]
			}
		}
	}
	return nil
}

// affine writes each element of the small integer tensor v as a term;
// what it cannot see through is a root of its own.
func (c *nodeCtx) affine(v *ir.Value, depth int) []term {
	size := v.Type.Shape.Size()
	if v.Const != nil {
		out := make([]term, size)
		for i := range out {
			out[i] = term{off: v.Const.Int(i)}
		}
		return out
	}
	opaque := func() []term {
		out := make([]term, size)
		for i := range out {
			out[i] = term{root: v, idx: i}
		}
		return out
	}
	p := c.producer(v)
	if p == nil || depth >= maxAffineDepth {
		return opaque()
	}
	in := func(i int) []term {
		if x := p.In(i); x != nil && x.Typed() && x.Type.DType.IsInt() {
			return c.affine(x, depth+1)
		}
		return nil
	}
	switch op := p.Op.(type) {
	case ir.Aliaser: // Identity, Reshape, Squeeze, Unsqueeze, Flatten
		if t := in(0); len(t) == size {
			return t
		}
	case *ir.Concat:
		if len(v.Type.Shape) == 1 {
			var out []term
			for i := range p.Inputs {
				t := in(i)
				if t == nil {
					return opaque()
				}
				out = append(out, t...)
			}
			if len(out) == size {
				return out
			}
		}
	case *ir.Binary:
		if op.Fn != ir.FnAdd && op.Fn != ir.FnSub {
			break
		}
		a, b := in(0), in(1)
		if a == nil || b == nil || (len(a) != size && len(a) != 1) || (len(b) != size && len(b) != 1) {
			break
		}
		out := make([]term, size)
		for i := range out {
			x, y := a[min(i, len(a)-1)], b[min(i, len(b)-1)]
			switch {
			case y.root == nil && op.Fn == ir.FnAdd:
				out[i] = term{x.root, x.idx, x.off + y.off}
			case y.root == nil:
				out[i] = term{x.root, x.idx, x.off - y.off}
			case x.root == nil && op.Fn == ir.FnAdd:
				out[i] = term{y.root, y.idx, x.off + y.off}
			default:
				out[i] = term{root: v, idx: i}
			}
		}
		return out
	}
	return opaque()
}

// runTimeSliceShape predicts the static output shape of a Slice whose
// starts or ends are run-time data (see above); ok is false when neither
// the model nor the bounds give it.
func (c *nodeCtx) runTimeSliceShape(x, starts, ends, axesV, stepsV *ir.Value) (ir.Shape, bool) {
	if t, ok := c.Declared(0); ok && t.DType == x.Type.DType && len(t.Shape) == len(x.Type.Shape) {
		return t.Shape, true
	}
	for _, v := range []*ir.Value{starts, ends} {
		if !v.Type.DType.IsInt() || len(v.Type.Shape) != 1 || v.Type.Shape[0] > len(x.Type.Shape) {
			return nil, false
		}
	}
	ts, te := c.affine(starts, 0), c.affine(ends, 0)
	k := len(ts)
	axes, err1 := ir.ConstInts(axesV, "axes")
	steps, err2 := ir.ConstInts(stepsV, "steps")
	if err1 != nil || err2 != nil || len(te) != k || (axes != nil && len(axes) != k) || (steps != nil && len(steps) != k) {
		return nil, false
	}
	shape := x.Type.Shape.Clone()
	for i := range k {
		a, step := i, 1
		if axes != nil {
			a = axes[i]
		}
		if steps != nil {
			step = steps[i]
		}
		if a < 0 {
			a += len(shape)
		}
		if a < 0 || a >= len(shape) || step == 0 {
			return nil, false
		}
		s, e := ts[i], te[i]
		switch {
		case s.root == nil && e.root == nil:
			dims, err := ir.ResolveSlice(x.Type.Shape, []int{int(s.off)}, []int{int(e.off)}, []int{a}, []int{step})
			if err != nil {
				return nil, false
			}
			shape[a] = dims[a].Len
		case s.root == e.root && s.idx == e.idx:
			diff, mag := e.off-s.off, int64(step)
			if step < 0 {
				diff, mag = -diff, -mag
			}
			// At most the whole axis, computed without overflow.
			n := int64(x.Type.Shape[a])
			mag = min(mag, n+1)
			diff = min(max(diff, 0), n)
			shape[a] = int((diff + mag - 1) / mag)
		default:
			return nil, false
		}
	}
	return shape, true
}
