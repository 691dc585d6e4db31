package opt

import "github.com/mlc-compiler/mlc/ir"

// deadCode removes nodes none of whose outputs is read by a later node, a
// subgraph or the graph outputs, and recurses into subgraphs.
func deadCode(g *ir.Graph, _ *Options) error {
	live := outputSet(g)
	kept := make([]*ir.Node, 0, len(g.Nodes))
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		_, used := n.Op.(ir.Effect)
		for _, o := range n.Outputs {
			if o != nil && live[o] {
				used = true
			}
		}
		if !used {
			continue
		}
		for j, o := range n.Outputs {
			if o != nil && !live[o] {
				n.Outputs[j] = nil // nobody reads it: the kernel may skip it
			}
		}
		for _, sg := range subgraphsOf(n) {
			if err := deadCode(sg, nil); err != nil {
				return err
			}
		}
		for _, v := range n.ReadValues() {
			live[v] = true
		}
		kept = append(kept, n)
	}
	for i, j := 0, len(kept)-1; i < j; i, j = i+1, j-1 {
		kept[i], kept[j] = kept[j], kept[i]
	}
	g.Nodes = kept
	return nil
}

// removeIdentity drops Identity nodes whose output is not a graph output,
// reading their input directly instead.
func removeIdentity(g *ir.Graph, _ *Options) error {
	outputs := outputSet(g)
	kept := g.Nodes[:0]
	for _, n := range g.Nodes {
		if _, ok := n.Op.(*ir.Identity); ok && !outputs[n.Outputs[0]] {
			replaceUses(g, n.Outputs[0], n.Inputs[0])
			continue
		}
		for _, sg := range subgraphsOf(n) {
			removeIdentity(sg, nil)
		}
		kept = append(kept, n)
	}
	g.Nodes = kept
	return nil
}
