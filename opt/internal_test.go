package opt

import (
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc/ir"
)

// A panic inside a pass becomes an ir.InternalError naming the node the
// pass was at (issue 13: only inference and evaluation recovered, and the
// CLI printed the Go stack).
func TestPassPanicIsInternalError(t *testing.T) {
	x := ir.NewInput("x", ir.Type{DType: ir.Float32, Shape: ir.Shape{4}})
	y := &ir.Value{Name: "y"}
	g := &ir.Graph{Inputs: []*ir.Value{x}, Outputs: []*ir.Value{y}, Nodes: []*ir.Node{
		{Name: "relu", Op: &ir.Unary{Fn: ir.FnRelu}, Inputs: []*ir.Value{x}, Outputs: []*ir.Value{y}},
	}}
	if err := ir.InferGraph(g); err != nil {
		t.Fatal(err)
	}
	saved := Passes
	defer func() { Passes = saved }()
	Passes = append(append([]Pass{}, saved...), Pass{"broken", 0, func(g *ir.Graph, o *Options) error {
		for _, n := range g.Nodes {
			o.visit(n)
			var m map[string]int
			m["boom"]++ // a nil map write: a bug in a pass
		}
		return nil
	}})
	_, err := Run(g, Options{Level: 2})
	if !ir.IsInternal(err) {
		t.Fatalf("got %v, want an internal error", err)
	}
	for _, want := range []string{`node "relu" (Relu)`, "internal error in optimization pass broken", "please report"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "goroutine ") {
		t.Errorf("the message holds a stack trace: %v", err)
	}
}
