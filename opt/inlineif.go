package opt

import "github.com/mlc-compiler/mlc/ir"

// inlineIf replaces an If whose condition is a compile-time constant by the
// nodes of the branch it takes, in g and its subgraphs. The untaken branch
// may not even have static shapes, and code generation needs none of it.
// Each If output becomes an Identity of the branch output (an alias, no
// code), so that graph outputs keep their names.
func inlineIf(g *ir.Graph, o *Options) error {
	nodes := make([]*ir.Node, 0, len(g.Nodes))
	for _, n := range g.Nodes {
		o.visit(n)
		for _, sg := range n.Subgraphs() {
			if err := inlineIf(sg, nil); err != nil {
				return err
			}
		}
		op, ok := n.Op.(*ir.If)
		if !ok {
			nodes = append(nodes, n)
			continue
		}
		branch := op.Taken(n.In(0))
		if branch == nil {
			nodes = append(nodes, n)
			continue
		}
		nodes = append(nodes, branch.Nodes...)
		for i, o := range n.Outputs {
			if o != nil {
				nodes = append(nodes, &ir.Node{Name: n.Name, Op: &ir.Identity{}, Inputs: []*ir.Value{branch.Outputs[i]}, Outputs: []*ir.Value{o}})
			}
		}
	}
	g.Nodes = nodes
	return nil
}
