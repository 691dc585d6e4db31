package opt

import "github.com/mlc-compiler/mlc/ir"

// bandConvs merges a 1x1 FusedConv and the depthwise FusedConv that is its
// only reader, the very next node, into one BandedConv where code
// generation's hook (Options.Bands) says the pair gains from running in
// bands of rows (its intermediate does not stay in cache between two
// whole nodes). It runs after prepack: each conv keeps the weight layout
// its kernel wants.
func bandConvs(g *ir.Graph, o *Options) error {
	if o.Bands == nil {
		return nil
	}
	r := newReaders(g)
	outputs := outputSet(g)
	kept := g.Nodes[:0]
	for i := 0; i < len(g.Nodes); i++ {
		n := g.Nodes[i]
		o.visit(n)
		if i+1 < len(g.Nodes) {
			u := g.Nodes[i+1]
			pw, ok1 := n.Op.(*ir.FusedConv)
			dw, ok2 := u.Op.(*ir.FusedConv)
			y := n.Out(0)
			if ok1 && ok2 && y != nil && !outputs[y] && r.only(y) == u && u.Inputs[0] == y &&
				len(n.Outputs) == 1 && len(u.Outputs) == 1 && !pw.Residual && !dw.Residual && o.Bands(n, u) {
				n = &ir.Node{Name: n.Name, Op: &ir.BandedConv{Point: pw, Depth: dw, Mid: y.Type},
					Inputs:  []*ir.Value{n.Inputs[0], n.Inputs[1], n.In(2), u.Inputs[1], u.In(2)},
					Outputs: u.Outputs}
				i++
			}
		}
		kept = append(kept, n)
	}
	g.Nodes = kept
	return nil
}
