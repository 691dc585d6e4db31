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
	// FP16 is how float16 graphs compute: FP16Float32 ("", the default)
	// or FP16Exact.
	FP16 string
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
	{"bnfold", 1, foldBatchNorm},
	{"widenhalf", 1, widenHalf},
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
		if err := p.Run(g, &o); err != nil {
			return nil, fmt.Errorf("pass %s: %w", p.Name, err)
		}
	}
	return PlanMemory(g, o.Workspace)
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
