package opt

import "github.com/mlc-compiler/mlc/ir"

// headConvs merges a FusedConv and the 1x1 FusedConv to few channels that
// is its only reader (a segmentation or matting head: a dot over the
// channels per pixel, constant weights) into one HeadedConv where code
// generation's hook (Options.Heads) says so: the body's kernel computes
// the head on each band of its output while the band is in cache, so the
// body's output is neither written to nor read back from memory whole,
// and needs no buffer in the arena. The merged node takes the body's
// place (the head reads nothing else but constants). It runs after
// pieces, so that a body reading a Concat's pieces keeps its op as that
// pass set it.
func headConvs(g *ir.Graph, o *Options) error {
	if o.Heads == nil || !o.SIMD {
		return nil
	}
	r := newReaders(g)
	outputs := outputSet(g)
	for i, n := range g.Nodes {
		if n == nil { // a head merged before
			continue
		}
		o.visit(n)
		body, ok := n.Op.(*ir.FusedConv)
		y := n.Out(0)
		if !ok || len(n.Outputs) != 1 || y == nil || outputs[y] || body.Residual {
			continue
		}
		u := r.only(y)
		if u == nil || len(u.Outputs) != 1 || len(u.Inputs) > 3 || u.Inputs[0] != y {
			continue
		}
		head, ok := u.Op.(*ir.FusedConv)
		if !ok || head.Residual || u.Inputs[1].Const == nil || (u.In(2) != nil && u.In(2).Const == nil) || !o.Heads(n, u) {
			continue
		}
		g.Nodes[i] = &ir.Node{Name: n.Name, Op: &ir.HeadedConv{Body: body, Head: head, Mid: y.Type},
			Inputs:  []*ir.Value{n.Inputs[0], n.Inputs[1], n.In(2), u.Inputs[1], u.In(2)},
			Outputs: u.Outputs}
		g.Nodes[r.pos[u]] = nil // compact drops it
	}
	r.compact()
	return nil
}
