package ir_test

import (
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc/internal/irtest"
	"github.com/mlc-compiler/mlc/ir"
)

// chain builds x -> Neg a -> Relu b -> Reshape c (a view) -> output, with
// an If reading b inside its branches.
func chain(t *testing.T) (*irtest.B, *ir.Graph) {
	b := irtest.New(t)
	b.In("x", ir.Float32, 2, 3)
	b.In("cond", ir.Bool)
	b.Const("shape", ir.TensorI64(ir.Shape{1}, 6))
	b.Op("a", &ir.Unary{Fn: ir.FnNeg}, "x")
	b.Op("b", &ir.Unary{Fn: ir.FnRelu}, "a")
	b.Op("c", &ir.Reshape{}, "b", "shape")
	then := b.Sub("then", func(s *irtest.B) { s.Out(s.Op("t", &ir.Unary{Fn: ir.FnExp}, "c").Name) })
	els := b.Sub("else", func(s *irtest.B) { s.Out("c") })
	b.Op("d", &ir.If{Then: then, Else: els}, "cond")
	return b, b.Out("d")
}

func TestVerifyAcceptsValidGraph(t *testing.T) {
	_, g := chain(t)
	if err := ir.Verify(g); err != nil {
		t.Fatalf("a valid graph fails: %v\n%s", err, g)
	}
}

// TestVerifyFinds breaks one invariant at a time; Verify must name it.
func TestVerifyFinds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(b *irtest.B, g *ir.Graph)
		want   string
	}{
		{"out of order", func(b *irtest.B, g *ir.Graph) {
			g.Nodes[0], g.Nodes[1] = g.Nodes[1], g.Nodes[0]
		}, `reads "a" before it is defined`},
		{"undefined input", func(b *irtest.B, g *ir.Graph) {
			stray := ir.NewInput("stray", ir.Type{DType: ir.Float32, Shape: ir.Shape{2, 3}})
			g.Nodes[1].Inputs[0] = stray
		}, `reads "stray", which nothing defines`},
		{"two producers", func(b *irtest.B, g *ir.Graph) {
			g.Nodes[1].Outputs[0] = b.V("a")
		}, `defines "a" float32[2,3], already defined`},
		{"output is a graph input", func(b *irtest.B, g *ir.Graph) {
			g.Nodes[0].Outputs[0] = b.V("x")
		}, `already defined by graph input`},
		{"node twice", func(b *irtest.B, g *ir.Graph) {
			g.Nodes = append(g.Nodes, g.Nodes[0])
		}, `appears twice`},
		{"untyped value", func(b *irtest.B, g *ir.Graph) {
			v := &ir.Value{Name: "u"}
			g.Nodes[0].Outputs[0] = v
			g.Nodes[1].Inputs[0] = v
		}, `"u" has no type`},
		{"wrong type", func(b *irtest.B, g *ir.Graph) {
			b.V("b").SetType(ir.Type{DType: ir.Float32, Shape: ir.Shape{3, 2}})
		}, `output "b" is typed float32[3,2], its op gives float32[2,3]`},
		{"shape rule fails", func(b *irtest.B, g *ir.Graph) {
			g.Nodes[2].Inputs[1] = ir.NewConst("bad", ir.TensorI64(ir.Shape{1}, 4))
		}, `node "c" (Reshape): its shape rule fails`},
		{"view changes size", func(b *irtest.B, g *ir.Graph) {
			// A Reshape whose output claims another size (its shape rule
			// is bypassed by an op that does not check: Identity).
			g.Nodes[2].Op = &ir.Identity{}
			g.Nodes[2].Inputs = g.Nodes[2].Inputs[:1]
			b.V("c").SetType(ir.Type{DType: ir.Float32, Shape: ir.Shape{5}})
		}, `changes the buffer's size`},
		{"subgraph reads a later value", func(b *irtest.B, g *ir.Graph) {
			// the If moves before the Reshape its branches read
			g.Nodes[2], g.Nodes[3] = g.Nodes[3], g.Nodes[2]
		}, `reads "c" before it is defined`},
		{"subgraph output undefined", func(b *irtest.B, g *ir.Graph) {
			op := g.Nodes[3].Op.(*ir.If)
			op.Else.Outputs[0] = ir.NewInput("nowhere", ir.Type{DType: ir.Float32, Shape: ir.Shape{6}})
		}, `reads "nowhere", which nothing defines`},
		{"graph output undefined", func(b *irtest.B, g *ir.Graph) {
			g.Nodes = g.Nodes[:3]
		}, `graph output: reads "d", which nothing defines`},
		{"constant mistyped", func(b *irtest.B, g *ir.Graph) {
			b.V("shape").Type = ir.Type{DType: ir.Int64, Shape: ir.Shape{2}}
		}, `constant "shape" is typed int64[2] but holds int64[1]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, g := chain(t)
			tc.break_(b, g)
			err := ir.Verify(g)
			if err == nil {
				t.Fatalf("Verify accepts the broken graph:\n%s", g)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Verify says %q, want it to say %q", err, tc.want)
			}
		})
	}
}

// TestVerifyUntakenBranch: the branch a constant condition does not take
// may stay untyped until opt's inlineif removes it; its structure is still
// checked.
func TestVerifyUntakenBranch(t *testing.T) {
	b := irtest.New(t)
	b.In("x", ir.Float32, 3)
	b.Const("yes", ir.FromFloats(ir.Bool, ir.Shape{}, []float64{1}))
	then := b.Sub("then", func(s *irtest.B) { s.Out(s.Op("t", &ir.Unary{Fn: ir.FnNeg}, "x").Name) })
	els := b.Sub("else", func(s *irtest.B) { s.Out(s.Raw("e", &ir.Concat{}, "x", "x").Name) })
	b.Op("y", &ir.If{Then: then, Else: els}, "yes")
	g := b.Out("y")
	if err := ir.Verify(g); err != nil {
		t.Fatalf("%v\n%s", err, g)
	}
	els.Nodes[0].Inputs[0] = &ir.Value{Name: "ghost"}
	if err := ir.Verify(g); err == nil || !strings.Contains(err.Error(), `reads "ghost"`) {
		t.Errorf("an untaken branch reading an undefined value: %v", err)
	}
}

// TestVerifyLimitsReport: a graph with many problems gets a bounded report.
func TestVerifyLimitsReport(t *testing.T) {
	b := irtest.New(t)
	b.In("x", ir.Float32, 1)
	g := b.Graph()
	for range 30 {
		g.Nodes = append(g.Nodes, &ir.Node{Op: &ir.Unary{Fn: ir.FnNeg}, Inputs: []*ir.Value{{Name: "nothing"}}})
	}
	err := ir.Verify(g)
	if err == nil || strings.Count(err.Error(), "\n") > 11 || !strings.Contains(err.Error(), "and 20 more") {
		t.Errorf("report: %v", err)
	}
}
