package opt

import (
	"math"

	"github.com/mlc-compiler/mlc/ir"
)

// fuseEpilogues turns float32 Conv, and MatMul/Gemm with a constant 2-D
// right-hand side, into fused ops, then absorbs into them what follows:
// a bias Add (MatMul), a residual Add and elementwise activations, each
// when the fused op's output has no other reader. The fused node takes the
// absorbed node's place in the order, where every input it now reads
// exists.
func fuseEpilogues(g *ir.Graph, o *Options) error {
	for _, n := range g.Nodes {
		switch op := n.Op.(type) {
		case *ir.Conv:
			// Fused convolution kernels are SIMD kernels (their workspace is
			// sized for them); scalar builds keep the plain Conv.
			if o.SIMD && n.Inputs[0].Type.DType == ir.Float32 && n.Inputs[1].Const != nil {
				n.Op = &ir.FusedConv{Conv: *op}
			}
		case *ir.MatMul:
			if fm := matmulFusable(n); fm != nil {
				n.Op = fm
				n.Inputs = []*ir.Value{n.Inputs[0], n.Inputs[1], nil}
			}
		case *ir.Gemm:
			if fm, b, bias := gemmFusable(n, op); fm != nil {
				n.Op = fm
				n.Inputs = []*ir.Value{n.Inputs[0], b, bias}
			}
		}
	}
	// One pass in order, a merged node visited again at its new place
	// (see fuseChains).
	r := newReaders(g)
	outputs := outputSet(g)
	for i := 0; i < len(g.Nodes); i++ {
		n := g.Nodes[i]
		if n == nil {
			continue
		}
		o.visit(n)
		ep := epilogueOf(n)
		if ep == nil {
			continue
		}
		y := n.Outputs[0]
		if y == nil || outputs[y] || r.only(y) == nil {
			continue
		}
		u := r.only(y)
		nRead := readSet(n)
		if !absorb(n, ep, u, y) {
			continue
		}
		n.Outputs[0] = u.Outputs[0]
		r.absorb(n, u, y, u.ReadValues(), nRead)
	}
	r.compact()
	return nil
}

func epilogueOf(n *ir.Node) *ir.Epilogue {
	switch op := n.Op.(type) {
	case *ir.FusedConv:
		return &op.Epilogue
	case *ir.FusedMatMul:
		return &op.Epilogue
	}
	return nil
}

// absorb adds u (which reads y, n's output) to n's epilogue if it can.
func absorb(n *ir.Node, ep *ir.Epilogue, u *ir.Node, y *ir.Value) bool {
	if u.Outputs[0] == nil || !sameType(u.Outputs[0].Type, y.Type) {
		return false
	}
	switch op := u.Op.(type) {
	case *ir.Unary:
		if !op.Fn.FusesAsEpilogue() {
			return false
		}
		ep.Acts = append(ep.Acts, ir.Activation{Unary: op})
		return true
	case *ir.Clip:
		lo, hi, ok := clipBounds(u)
		if !ok {
			return false
		}
		ep.Acts = append(ep.Acts, ir.Activation{Lo: lo, Hi: hi})
		return true
	case *ir.Binary:
		if len(u.Inputs) != 2 {
			return false
		}
		other := u.Inputs[0]
		if other == y {
			other = u.Inputs[1]
		}
		if other == y {
			return false
		}
		// Max or Min with a constant scalar is a one-sided clamp
		// (oww_embedding's tf.math.maximum after each LeakyRelu).
		if (op.Fn == ir.FnMax || op.Fn == ir.FnMin) && other.Const != nil && other.Type.Shape.Size() == 1 && other.Type.DType == ir.Float32 {
			c := float32(other.Const.Float(0))
			if c != c {
				return false
			}
			a := ir.Activation{Lo: float32(math.Inf(-1)), Hi: float32(math.Inf(1))}
			if op.Fn == ir.FnMax {
				a.Lo = c
			} else {
				a.Hi = c
			}
			ep.Acts = append(ep.Acts, a)
			return true
		}
		if op.Fn != ir.FnAdd {
			return false
		}
		// A constant bias [N] of a fused MatMul.
		if fm, ok := n.Op.(*ir.FusedMatMul); ok && other.Const != nil && n.In(2) == nil && !ep.Residual && len(ep.Acts) == 0 {
			if isRowVector(other.Type.Shape, fm.N) && other.Type.DType == ir.Float32 {
				n.Inputs[2] = ir.NewConst(other.Name, &ir.Tensor{Type: ir.Type{DType: ir.Float32, Shape: ir.Shape{fm.N}}, Data: other.Const.Data})
				return true
			}
		}
		// A constant per-channel Add of a fused Conv (CNTK's bias) joins
		// the Conv's bias.
		if _, ok := n.Op.(*ir.FusedConv); ok && other.Const != nil && !ep.Residual && len(ep.Acts) == 0 && (n.In(2) == nil || n.In(2).Const != nil) {
			if bias := channelConst(other, y.Type.Shape); bias != nil {
				if b := n.In(2); b != nil {
					for i, v := range b.Const.F32() {
						bias.F32()[i] += v
					}
				}
				for len(n.Inputs) < 3 {
					n.Inputs = append(n.Inputs, nil)
				}
				n.Inputs[2] = ir.NewConst(other.Name+"_bias", bias)
				return true
			}
		}
		if ep.Residual || len(ep.Acts) > 0 || !sameType(other.Type, y.Type) || other.Const != nil {
			return false
		}
		ep.Residual = true
		for len(n.Inputs) < 3 {
			n.Inputs = append(n.Inputs, nil)
		}
		n.Inputs = append(n.Inputs[:3], other)
		return true
	}
	return false
}

func isRowVector(s ir.Shape, n int) bool {
	if s.Size() != n {
		return false
	}
	return len(s) >= 1 && s[len(s)-1] == n
}

// clipBounds reads a Clip's constant bounds (an omitted bound is infinite).
func clipBounds(u *ir.Node) (lo, hi float32, ok bool) {
	lo, hi = float32(math.Inf(-1)), float32(math.Inf(1))
	if u.Inputs[0].Type.DType != ir.Float32 {
		return 0, 0, false
	}
	if v := u.In(1); v != nil {
		if v.Const == nil || v.Type.Shape.Size() != 1 {
			return 0, 0, false
		}
		lo = float32(v.Const.Float(0))
	}
	if v := u.In(2); v != nil {
		if v.Const == nil || v.Type.Shape.Size() != 1 {
			return 0, 0, false
		}
		hi = float32(v.Const.Float(0))
	}
	return lo, hi, lo == lo && hi == hi // NaN bounds stay a Clip node
}

// matmulFusable: A float32 of rank >= 2 times a constant 2-D B.
func matmulFusable(n *ir.Node) *ir.FusedMatMul {
	a, b := n.Inputs[0], n.Inputs[1]
	if a.Type.DType != ir.Float32 || b.Const == nil || len(b.Type.Shape) != 2 || len(a.Type.Shape) < 2 {
		return nil
	}
	return &ir.FusedMatMul{K: b.Type.Shape[0], N: b.Type.Shape[1]}
}

// gemmFusable: alpha 1, A not transposed, constant B, C absent or a
// constant row (beta folded into it).
func gemmFusable(n *ir.Node, op *ir.Gemm) (*ir.FusedMatMul, *ir.Value, *ir.Value) {
	a, b := n.Inputs[0], n.Inputs[1]
	if a.Type.DType != ir.Float32 || b.Const == nil || op.Alpha != 1 || op.TransA {
		return nil, nil, nil
	}
	_, K, N, err := op.Dims(a.Type.Shape, b.Type.Shape)
	if err != nil {
		return nil, nil, nil
	}
	var bias *ir.Value
	if c := n.In(2); c != nil && op.Beta != 0 {
		if c.Const == nil || !isRowVector(c.Type.Shape, N) {
			return nil, nil, nil
		}
		t := ir.NewTensor(ir.Float32, ir.Shape{N})
		for i := 0; i < N; i++ {
			t.F32()[i] = float32(float64(op.Beta) * c.Const.Float(i))
		}
		bias = ir.NewConst(c.Name, t)
	}
	if op.TransB {
		bt := ir.NewTensor(ir.Float32, ir.Shape{K, N})
		src := b.Const.F32()
		for k := 0; k < K; k++ {
			for j := 0; j < N; j++ {
				bt.F32()[k*N+j] = src[j*K+k]
			}
		}
		b = ir.NewConst(b.Name+"_t", bt)
	}
	return &ir.FusedMatMul{K: K, N: N}, b, bias
}

func sameType(a, b ir.Type) bool { return a.DType == b.DType && a.Shape.Equal(b.Shape) }

// channelConst reads a float32 constant that broadcasts over an NCHW-like
// shape y as one value per channel (axis 1) or one value for all, as a
// bias vector of y[1] values; nil when it varies along another axis.
func channelConst(c *ir.Value, y ir.Shape) *ir.Tensor {
	s := c.Type.Shape
	if c.Type.DType != ir.Float32 || len(s) > len(y) || len(y) < 2 {
		return nil
	}
	full := make(ir.Shape, len(y))
	for i := range full {
		full[i] = 1
	}
	copy(full[len(y)-len(s):], s)
	for i, d := range full {
		if d != 1 && (i != 1 || d != y[1]) {
			return nil
		}
	}
	M := y[1]
	t := ir.NewTensor(ir.Float32, ir.Shape{M})
	src := c.Const.F32()
	for m := 0; m < M; m++ {
		if len(src) == 1 {
			t.F32()[m] = src[0]
		} else {
			t.F32()[m] = src[m]
		}
	}
	return t
}
