package opt

import "github.com/mlc-compiler/mlc/ir"

// deadCode removes nodes none of whose outputs is read by a later node, a
// subgraph or the graph outputs, and recurses into subgraphs.
func deadCode(g *ir.Graph, o *Options) error {
	live := outputSet(g)
	kept := make([]*ir.Node, 0, len(g.Nodes))
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		o.visit(n)
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
			if o != nil && !live[o] && (j > 0 || skipsFirstOutput(n.Op)) {
				n.Outputs[j] = nil // nobody reads it: the kernel may skip it
			}
		}
		for _, sg := range n.Subgraphs() {
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

// skipsFirstOutput lists the ops whose kernels leave out a first output
// nobody reads; every other kernel writes its first output, which then
// keeps its buffer (a BatchNormalization whose running mean alone is read
// made its kernel look for the address of the Y it had lost: found by
// FuzzMutate).
func skipsFirstOutput(op ir.Op) bool {
	switch op.(type) {
	case ir.Viewer, *ir.RNN, *ir.PackedRNN, *ir.Attention, *ir.Unique, *ir.DynamicQuantizeLinear,
		*ir.CausalConvWithState, *ir.If, *ir.Loop, *ir.Scan:
		return true
	}
	return false
}

// removeIdentity drops Identity nodes whose output is not a graph output,
// reading their input directly instead.
func removeIdentity(g *ir.Graph, o *Options) error {
	outputs := outputSet(g)
	// Every read of a removed output goes to the Identity's input (the
	// input's own replacement first, for a chain of them), in one walk
	// of the graph rather than one per Identity.
	subst := map[*ir.Value]*ir.Value{}
	kept := g.Nodes[:0]
	for _, n := range g.Nodes {
		o.visit(n)
		if _, ok := n.Op.(*ir.Identity); ok && !outputs[n.Outputs[0]] {
			in := n.Inputs[0]
			if r, ok := subst[in]; ok {
				in = r
			}
			subst[n.Outputs[0]] = in
			continue
		}
		kept = append(kept, n)
	}
	g.Nodes = kept
	if len(subst) > 0 {
		replaceAll(g, subst)
	}
	for _, n := range g.Nodes {
		for _, sg := range n.Subgraphs() {
			removeIdentity(sg, nil)
		}
	}
	return nil
}

// replaceAll redirects every read of a key of subst to its value in g and
// its subgraphs (replaceUses for many values at once).
func replaceAll(g *ir.Graph, subst map[*ir.Value]*ir.Value) {
	for _, n := range g.Nodes {
		for i, v := range n.Inputs {
			if r, ok := subst[v]; ok {
				n.Inputs[i] = r
			}
		}
		for _, sg := range n.Subgraphs() {
			replaceAll(sg, subst)
		}
	}
	for i, v := range g.Outputs {
		if r, ok := subst[v]; ok {
			g.Outputs[i] = r
		}
	}
}
