package opt

import (
	"slices"
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc/codegen"
	"github.com/mlc-compiler/mlc/internal/irtest"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/memplan"
	"github.com/mlc-compiler/mlc/tune"
)

// convRelu is Conv -> Relu -> Exp -> Neg: work for fuse and chain.
func convRelu(t *testing.T) *ir.Graph {
	b := irtest.New(t)
	b.In("x", ir.Float32, 1, 2, 4, 4)
	b.Const("w", irtest.Rand(1, ir.Float32, 2, 2, 3, 3))
	b.Op("c", &ir.Conv{Window: ir.Window{Pads: []int{1, 1, 1, 1}}, Group: 1}, "x", "w")
	b.Op("r", &ir.Unary{Fn: ir.FnRelu}, "c")
	b.Op("e", &ir.Unary{Fn: ir.FnExp}, "r")
	b.Op("n", &ir.Unary{Fn: ir.FnNeg}, "e")
	return b.Out("n")
}

// TestDebugDump: the dump sees "start", then each pass that ran, in the
// order of Stages, then "plan" with the plan; disabled passes and passes
// above the level are not run and not dumped.
func TestDebugDump(t *testing.T) {
	for _, tc := range []struct {
		level   int
		disable []string
		ops     []string
	}{
		{2, nil, []string{"Conv+Relu", "Fused_Exp_Neg"}},
		{2, []string{"chain"}, []string{"Conv+Relu", "Exp", "Neg"}},
		{2, []string{"fuse", "chain"}, []string{"Conv", "Relu", "Exp", "Neg"}},
		{0, nil, []string{"Conv", "Relu", "Exp", "Neg"}},
	} {
		g := convRelu(t)
		var stages []string
		var plan *memplan.Plan
		o := Options{Level: tc.level, SIMD: true, ConvWeights: codegen.ConvWeightsFunc(tune.V8), Debug: Debug{Disable: tc.disable, Dump: func(stage string, g *ir.Graph, p *memplan.Plan) {
			stages = append(stages, stage)
			if (p != nil) != (stage == "plan") {
				t.Errorf("stage %s with plan %v", stage, p)
			}
			plan = p
		}}}
		got, err := Run(g, o)
		if err != nil {
			t.Fatal(err)
		}
		if plan != got {
			t.Error("the plan dumped is not the plan returned")
		}
		all := Stages()
		if stages[0] != "start" || stages[len(stages)-1] != "plan" {
			t.Errorf("stages %v: want start first and plan last", stages)
		}
		for i := 1; i < len(stages); i++ {
			if slices.Index(all, stages[i-1]) >= slices.Index(all, stages[i]) {
				t.Errorf("stages %v are not in the order of %v", stages, all)
			}
		}
		for _, p := range Passes {
			ran := slices.Contains(stages, p.Name)
			want := tc.level >= p.MinLevel && !slices.Contains(tc.disable, p.Name)
			if ran != want {
				t.Errorf("level %d, disable %v: pass %s ran: %v", tc.level, tc.disable, p.Name, ran)
			}
		}
		if ops := irtest.Ops(g); !slices.Equal(ops, tc.ops) {
			t.Errorf("level %d, disable %v: ops %v, want %v", tc.level, tc.disable, ops, tc.ops)
		}
	}
}

func TestDisableOnlyOptionalPasses(t *testing.T) {
	for name, want := range map[string]string{
		"fold":  `cannot disable pass "fold": code generation needs it`,
		"dce":   `cannot disable pass "dce": code generation needs it`,
		"fusee": `no such pass (optional passes: qdq, qpack, transpose, identity, strength, bnfold, widenhalf, fuse, chain, prepack, rnnpack, pieces, head)`,
	} {
		_, err := Run(convRelu(t), Options{Level: 2, Debug: Debug{Disable: []string{name}}})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("disable %s: %v, want %q", name, err, want)
		}
	}
}

// TestVerifyAfterEachPass: a pass that breaks the IR is named.
func TestVerifyAfterEachPass(t *testing.T) {
	saved := Passes
	t.Cleanup(func() { Passes = saved })
	broken := Pass{"reverse", 1, func(g *ir.Graph, _ *Options) error {
		slices.Reverse(g.Nodes)
		return nil
	}}
	Passes = append(slices.Clone(saved[:3]), append([]Pass{broken}, saved[3:]...)...)
	_, err := Run(convRelu(t), Options{Level: 2, Debug: Debug{Verify: true}})
	if err == nil || !strings.Contains(err.Error(), "invalid IR after reverse") || !strings.Contains(err.Error(), "before it is defined") {
		t.Errorf("Run: %v", err)
	}
}

// TestPassOrder: the order of Passes keeps every constraint, and moving
// a pass against one is caught with its reason.
func TestPassOrder(t *testing.T) {
	if err := checkPassOrder(Passes); err != nil {
		t.Fatal(err)
	}
	swapped := slices.Clone(Passes)
	i := slices.IndexFunc(swapped, func(p Pass) bool { return p.Name == "fuse" })
	j := slices.IndexFunc(swapped, func(p Pass) bool { return p.Name == "chain" })
	swapped[i], swapped[j] = swapped[j], swapped[i]
	err := checkPassOrder(swapped)
	if err == nil || !strings.Contains(err.Error(), "fuse must run before chain: convolution and matrix epilogues") {
		t.Errorf("fuse after chain: %v", err)
	}
	if err := checkPassOrder(append(slices.Clone(Passes), Passes[0])); err == nil {
		t.Error("two passes of one name pass")
	}
	if err := checkPassOrder(Passes[1:]); err == nil {
		t.Error("a constraint on a missing pass passes")
	}
}
