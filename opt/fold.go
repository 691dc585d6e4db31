package opt

import "github.com/mlc-compiler/mlc/ir"

// fold types every node and evaluates, at compile time, nodes whose inputs
// are all constant (through the reference interpreter); folded nodes leave
// the graph. The frontend already folds while importing; this pass catches
// what earlier rewrites made constant.
func fold(g *ir.Graph, _ *Options) error {
	if err := ir.InferGraph(g); err != nil {
		return err
	}
	pruneFolded(g)
	return nil
}

// pruneFolded drops folded nodes from g and its subgraphs.
func pruneFolded(g *ir.Graph) {
	kept := g.Nodes[:0]
	for _, n := range g.Nodes {
		if _, effect := n.Op.(ir.Effect); !effect && allConst(n.Outputs) {
			continue
		}
		for _, sg := range n.Subgraphs() {
			pruneFolded(sg)
		}
		kept = append(kept, n)
	}
	g.Nodes = kept
}

func allConst(vs []*ir.Value) bool {
	for _, v := range vs {
		if v != nil && v.Const == nil {
			return false
		}
	}
	return true
}
