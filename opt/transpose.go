package opt

import "github.com/mlc-compiler/mlc/ir"

// simplifyTransposes removes data movement that moves nothing: a Transpose
// of a Transpose that nobody else reads becomes one Transpose, and a
// Transpose whose permutation keeps every dimension larger than 1 in order
// (an identity, or one that only moves size-1 axes, as exporters write
// around channel and sequence dims) becomes a Reshape, which is a view with
// no code.
func simplifyTransposes(g *ir.Graph, o *Options) error {
	uses := g.Uses()
	producers := g.Producers()
	outputs := outputSet(g)
	for _, n := range g.Nodes {
		o.visit(n)
		t, ok := n.Op.(*ir.Transpose)
		if !ok {
			continue
		}
		x := n.Inputs[0]
		perm := t.ResolvedPerm(len(x.Type.Shape))
		if p := producers[x]; p != nil && len(uses[x]) == 1 && !outputs[x] {
			if inner, ok := p.Op.(*ir.Transpose); ok {
				// out[i] = x[perm[i]] = src[innerPerm[perm[i]]]
				ip := inner.ResolvedPerm(len(p.Inputs[0].Type.Shape))
				composed := make([]int, len(perm))
				for i, a := range perm {
					composed[i] = ip[a]
				}
				x, perm = p.Inputs[0], composed
				n.Op, n.Inputs[0] = &ir.Transpose{Perm: composed}, x
				// p now feeds nothing; dce removes it.
			}
		}
		if keepsOrder(x.Type.Shape, perm) {
			shape := n.Outputs[0].Type.Shape
			dims := make([]int64, len(shape))
			for i, d := range shape {
				dims[i] = int64(d)
			}
			n.Op = &ir.Reshape{}
			n.Inputs = []*ir.Value{x, ir.NewConst(n.Outputs[0].Name+"/shape", ir.TensorI64(ir.Shape{len(dims)}, dims...))}
		}
	}
	return nil
}

// keepsOrder reports whether perm visits the dimensions of size > 1 in
// their original order, so that the elements stay where they are in memory.
func keepsOrder(shape ir.Shape, perm []int) bool {
	last := -1
	for _, a := range perm {
		if shape[a] == 1 {
			continue
		}
		if a < last {
			return false
		}
		last = a
	}
	return true
}
