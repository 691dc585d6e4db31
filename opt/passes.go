// Package opt rewrites the IR graph before code generation. Every pass is
// one function in its own file; Passes lists them in the order they run.
package opt

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/memplan"
)

// Options configure the pipeline.
type Options struct {
	// Level 0 runs only the passes code generation needs (-O0).
	Level int
	// SIMD tells whether kernels may use SIMD128 (prepacked weights need it).
	SIMD bool
	// ConvWeights is code generation's schedule choice for a fused
	// convolution whose constant weights prepack can rearrange
	// (codegen.ConvWeightsFunc): ir.WeightsWinograd or WeightsWinograd4
	// where a Winograd kernel fits (prepack then keeps the transformed weights,
	// or, to save memory, the stored ones for the kernel to transform),
	// ir.WeightsPackA or ir.WeightsPackB.
	// nil, or ir.WeightsPlain, leaves the weights as imported.
	ConvWeights func(n *ir.Node, op *ir.FusedConv) ir.WeightLayout
	// Workspace reports the scratch bytes a node's kernel needs.
	Workspace func(*ir.Node) int
	// ReadsPieces is code generation's answer (codegen.ReadsPieces)
	// whether a fused convolution's kernel can read its input as the
	// pieces of a Concat, upsamplings among them computed as it reads
	// them (the pieces pass); nil: never.
	ReadsPieces func(n *ir.Node, op *ir.FusedConv) bool
	// Heads tells whether a FusedConv and the 1x1 FusedConv to few
	// channels that alone reads it run as one HeadedConv
	// (codegen.HeadsFunc); nil never merges them.
	Heads func(body, head *ir.Node) bool
	// FP16 is how float16 graphs compute: FP16Float32 ("", the default)
	// or FP16Exact.
	FP16 string
	// Debug are the hooks for looking into the pipeline.
	Debug Debug

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

// Debug are the optimizer's hooks for finding a miscompile (mlc compile
// --dump-after, --disable-pass, --verify-ir).
type Debug struct {
	// Disable names optional passes (MinLevel > 0) to skip.
	Disable []string
	// Dump, when set, sees the graph at each stage: "start" (as Run
	// receives it), after each pass that ran, and "plan" (with the plan).
	Dump func(stage string, g *ir.Graph, p *memplan.Plan)
	// Verify checks the graph with ir.Verify at each stage. Test binaries
	// always do (testing.Testing), so every test that compiles checks
	// every pass.
	Verify bool
}

// Stages lists the names Debug.Dump sees, in order.
func Stages() []string {
	s := []string{"start"}
	for _, p := range Passes {
		s = append(s, p.Name)
	}
	return append(s, "plan")
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
	{"pieces", 1, lazyPieces},
	{"head", 1, headConvs},
}

// passOrder are the constraints on the order of Passes, each with its
// reason; init checks them, as Go's SSA backend checks its passOrder.
var passOrder = []struct{ before, after, why string }{
	{"fold", "inlineif", "an If's condition may become a constant only by folding"},
	{"inlineif", "identity", "inlining leaves an Identity for each output of the If"},
	{"inlineif", "qdq", "the passes after inlining see the nodes of taken branches"},
	{"qdq", "fuse", "qdq lowers plain Conv, MatMul and Gemm between DequantizeLinear and QuantizeLinear; fuse would make them fused float ops"},
	{"widenhalf", "fuse", "widened float16 Conv, MatMul and Gemm are float32 ops that fuse then takes"},
	{"bnfold", "widenhalf", "a float16 Conv and its BatchNormalization fold into float16 weights, as ONNX Runtime's ConvBNFusion does before it moves the graph to float32"},
	{"bnfold", "fuse", "bnfold folds a BatchNormalization into a plain Conv, which fuse turns into a FusedConv"},
	{"fuse", "chain", "convolution and matrix epilogues take their activations before chains do"},
	{"fuse", "prepack", "prepack packs the weights of the fused ops that fuse makes"},
	{"transpose", "dce", "merging two Transposes leaves the first one unread, for dce"},
	{"qdq", "dce", "qdq leaves the DequantizeLinear nodes it replaced unread, for dce"},
	{"prepack", "pieces", "pieces asks code generation about a convolution's kernel, which its weights' layout chooses"},
	{"dce", "pieces", "pieces counts a value's readers, which must all be live"},
	{"pieces", "head", "a body reading a Concat's pieces keeps the op pieces gave it"},
	{"prepack", "head", "a headed pair keeps each conv's prepacked weights"},
}

func init() {
	if err := checkPassOrder(Passes); err != nil {
		panic("opt: " + err.Error())
	}
}

// checkPassOrder checks passes against passOrder.
func checkPassOrder(passes []Pass) error {
	at := map[string]int{}
	for i, p := range passes {
		if _, dup := at[p.Name]; dup {
			return fmt.Errorf("two passes named %s", p.Name)
		}
		at[p.Name] = i
	}
	for _, c := range passOrder {
		i, ok1 := at[c.before]
		j, ok2 := at[c.after]
		if !ok1 || !ok2 {
			return fmt.Errorf("passOrder names a pass that Passes lacks: %s before %s", c.before, c.after)
		}
		if i >= j {
			return fmt.Errorf("pass %s must run before %s: %s", c.before, c.after, c.why)
		}
	}
	return nil
}

// Run optimizes g in place and plans its memory.
func Run(g *ir.Graph, o Options) (*memplan.Plan, error) {
	if o.Workspace == nil {
		o.Workspace = func(*ir.Node) int { return 0 }
	}
	if err := checkDisable(o.Debug.Disable); err != nil {
		return nil, err
	}
	verify := o.Debug.Verify || testing.Testing()
	stage := func(name string, p *memplan.Plan) error {
		// The graph Run receives may be untyped: fold types it.
		if verify && name != "start" {
			if err := ir.Verify(g); err != nil {
				return fmt.Errorf("invalid IR after %s: %w", name, err)
			}
		}
		if o.Debug.Dump != nil {
			o.Debug.Dump(name, g, p)
		}
		return nil
	}
	if err := stage("start", nil); err != nil {
		return nil, err
	}
	for _, p := range Passes {
		if o.Level < p.MinLevel || slices.Contains(o.Debug.Disable, p.Name) {
			continue
		}
		if _, err := runPass(p, g, &o); err != nil {
			return nil, fmt.Errorf("pass %s: %w", p.Name, err)
		}
		if err := stage(p.Name, nil); err != nil {
			return nil, err
		}
	}
	plan, err := runPass(Pass{Name: "memplan"}, g, &o)
	if err != nil {
		return nil, err
	}
	if o.Debug.Dump != nil {
		o.Debug.Dump("plan", g, plan)
	}
	return plan, nil
}

// runPass runs one pass (the memory plan when p.Run is nil); a panic
// becomes an ir.InternalError naming the node the pass was at.
func runPass(p Pass, g *ir.Graph, o *Options) (plan *memplan.Plan, err error) {
	o.node = nil
	defer func() {
		if r := recover(); r != nil {
			err = ir.Recovered(o.node, "the graph", "optimization pass "+p.Name, r)
		}
	}()
	if p.Run == nil {
		return memplan.PlanMemory(g, o.Workspace)
	}
	return nil, p.Run(g, o)
}

// checkDisable accepts only names of optional passes: the required ones
// (MinLevel 0) are needed for code generation to work at all.
func checkDisable(names []string) error {
	for _, name := range names {
		i := slices.IndexFunc(Passes, func(p Pass) bool { return p.Name == name })
		if i < 0 {
			var optional []string
			for _, p := range Passes {
				if p.MinLevel > 0 {
					optional = append(optional, p.Name)
				}
			}
			return fmt.Errorf("cannot disable pass %q: no such pass (optional passes: %s)", name, strings.Join(optional, ", "))
		}
		if Passes[i].MinLevel == 0 {
			return fmt.Errorf("cannot disable pass %q: code generation needs it", name)
		}
	}
	return nil
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
			for _, sg := range n.Subgraphs() {
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
