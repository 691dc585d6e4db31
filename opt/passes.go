// Package opt rewrites the IR graph before code generation. Every pass is
// one function in its own file; Passes lists them in the order they run.
package opt

import (
	"fmt"

	"github.com/mlc-compiler/mlc/ir"
)

// Options configure the pipeline.
type Options struct {
	// Level 0 runs only the passes code generation needs (-O0).
	Level int
	// SIMD tells whether kernels may use SIMD128 (prepacked weights need it).
	SIMD bool
	// Tune is the engine kernels are shaped for (codegen's tunes); it
	// decides how weights are prepacked.
	Tune string
	// Workspace reports the scratch bytes a node's kernel needs.
	Workspace func(*ir.Node) int

	// node is the node a pass is rewriting, for the error a panic
	// becomes (see visit).
	node *ir.Node
}

// visit records that a pass works on n, so that a panic there becomes an
// internal error naming n. o may be nil (passes recursing into subgraphs).
func (o *Options) visit(n *ir.Node) {
	if o != nil {
		o.node = n
	}
}

// Pass is one graph rewrite. MinLevel 0 marks passes that are required
// for correctness or code generation and always run.
type Pass struct {
	Name     string
	MinLevel int
	Run      func(g *ir.Graph, o *Options) error
}

// Passes is the pipeline, in order. Memory planning follows them.
var Passes = []Pass{
	{"fold", 0, fold},
	{"inlineif", 0, inlineIf},
	{"qdq", 1, lowerQDQ},
	{"qpack", 1, packQuantWeights},
	{"transpose", 1, simplifyTransposes},
	{"identity", 1, removeIdentity},
	{"strength", 1, strengthReduce},
	{"widenhalf", 1, widenHalf},
	{"bnfold", 1, foldBatchNorm},
	{"fuse", 1, fuseEpilogues},
	{"chain", 1, fuseChains},
	{"prepack", 1, prepackWeights},
	{"rnnpack", 1, packRNNWeights},
	{"dce", 0, deadCode},
}

// Run optimizes g in place and plans its memory.
func Run(g *ir.Graph, o Options) (*Plan, error) {
	if o.Workspace == nil {
		o.Workspace = func(*ir.Node) int { return 0 }
	}
	for _, p := range Passes {
		if o.Level < p.MinLevel {
			continue
		}
		if _, err := runPass(p, g, &o); err != nil {
			return nil, fmt.Errorf("pass %s: %w", p.Name, err)
		}
	}
	return runPass(Pass{Name: "memplan"}, g, &o)
}

// runPass runs one pass (the memory plan when p.Run is nil); a panic
// becomes an ir.InternalError naming the node the pass was at.
func runPass(p Pass, g *ir.Graph, o *Options) (plan *Plan, err error) {
	o.node = nil
	defer func() {
		if r := recover(); r != nil {
			err = ir.Recovered(o.node, "the graph", "optimization pass "+p.Name, r)
		}
	}()
	if p.Run == nil {
		return PlanMemory(g, o.Workspace)
	}
	return nil, p.Run(g, o)
}

// replaceUses redirects every read of old to new in g and its subgraphs.
func replaceUses(g *ir.Graph, old, new *ir.Value) {
	var walk func(g *ir.Graph)
	walk = func(g *ir.Graph) {
		for _, n := range g.Nodes {
			for i, v := range n.Inputs {
				if v == old {
					n.Inputs[i] = new
				}
			}
			for _, sg := range subgraphsOf(n) {
				walk(sg)
			}
		}
		for i, v := range g.Outputs {
			if v == old && g != nil {
				g.Outputs[i] = new
			}
		}
	}
	walk(g)
}

// outputSet is the set of g's outputs.
func outputSet(g *ir.Graph) map[*ir.Value]bool {
	m := map[*ir.Value]bool{}
	for _, v := range g.Outputs {
		m[v] = true
	}
	return m
}
