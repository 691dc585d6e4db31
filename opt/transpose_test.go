package opt

import (
	"math/rand"
	"testing"

	"github.com/mlc-compiler/mlc/ir"
)

// TestSimplifyTransposes: two Transposes in a row become one, a Transpose
// that keeps the order of the non-unit dims becomes a view, and the graph
// still computes the same values.
func TestSimplifyTransposes(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	x := ir.NewInput("x", ir.Type{DType: ir.Float32, Shape: ir.Shape{2, 1, 3, 4}})
	a, b, c, d := &ir.Value{Name: "a"}, &ir.Value{Name: "b"}, &ir.Value{Name: "c"}, &ir.Value{Name: "d"}
	g := &ir.Graph{Inputs: []*ir.Value{x}, Outputs: []*ir.Value{b, c, d}, Nodes: []*ir.Node{
		// two data-moving Transposes that undo each other: one view
		{Op: &ir.Transpose{Perm: []int{3, 1, 2, 0}}, Inputs: []*ir.Value{x}, Outputs: []*ir.Value{a}},
		{Op: &ir.Transpose{Perm: []int{3, 1, 2, 0}}, Inputs: []*ir.Value{a}, Outputs: []*ir.Value{b}},
		// moves only the unit axis: a view
		{Op: &ir.Transpose{Perm: []int{1, 0, 2, 3}}, Inputs: []*ir.Value{x}, Outputs: []*ir.Value{c}},
		// moves data: stays
		{Op: &ir.Transpose{Perm: []int{3, 2, 1, 0}}, Inputs: []*ir.Value{x}, Outputs: []*ir.Value{d}},
	}}
	if err := ir.InferGraph(g); err != nil {
		t.Fatal(err)
	}
	in := randConst("in", x.Type.Shape, r).Const
	want, err := ir.Run(g, ir.Env{x: in})
	if err != nil {
		t.Fatal(err)
	}
	if err := simplifyTransposes(g, nil); err != nil {
		t.Fatal(err)
	}
	if err := deadCode(g, nil); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, n := range g.Nodes {
		kinds[n.Op.OpType()]++
	}
	if kinds["Transpose"] != 1 || kinds["Reshape"] != 2 || len(g.Nodes) != 3 {
		t.Errorf("nodes after the pass: %v, want one Transpose and two Reshapes", kinds)
	}
	got, err := ir.Run(g, ir.Env{x: in})
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if string(got[i].Data) != string(want[i].Data) || !got[i].Shape.Equal(want[i].Shape) {
			t.Errorf("output %d changed", i)
		}
	}
}
