package codegen

import (
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/memplan"
)

// brokenOp is an op whose kernel panics, standing for a codegen bug.
type brokenOp struct{ ir.Unary }

func (*brokenOp) OpType() string { return "Broken" }

// A panic while generating a node's code becomes an ir.InternalError
// naming the node (issue 13), not a crash with a Go stack trace.
func TestKernelPanicIsInternalError(t *testing.T) {
	registerKernel(func(k *Ctx, n *ir.Node, op *brokenOp) error {
		var s []int
		_ = s[len(n.Inputs)+1] // an index out of range: a bug in a kernel
		return nil
	})
	x := ir.NewInput("x", ir.Type{DType: ir.Float32, Shape: ir.Shape{4}})
	y := &ir.Value{Name: "y"}
	g := &ir.Graph{Inputs: []*ir.Value{x}, Outputs: []*ir.Value{y}, Nodes: []*ir.Node{
		{Name: "b", Op: &brokenOp{ir.Unary{Fn: ir.FnRelu}}, Inputs: []*ir.Value{x}, Outputs: []*ir.Value{y}},
	}}
	if err := ir.InferGraph(g); err != nil {
		t.Fatal(err)
	}
	plan, err := memplan.PlanMemory(g, Workspace)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build(g, plan, Options{SIMD: true})
	if !ir.IsInternal(err) {
		t.Fatalf("got %v, want an internal error", err)
	}
	for _, want := range []string{`node "b" (Broken)`, "internal error in code generation", "please report"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
}
