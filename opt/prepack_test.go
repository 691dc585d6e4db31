package opt

import (
	"testing"

	"github.com/mlc-compiler/mlc/ir"
)

// TestPrepareWeightsPlacement: Winograd weights are stored untransformed
// and float16-exact ones in float16; a layer with few tiles prepares them
// once (its stored form staged in the arena), one with many before every
// run (the stored form kept, the prepared form an activation).
func TestPrepareWeightsPlacement(t *testing.T) {
	for _, c := range []struct {
		size    int
		eachRun bool
	}{{16, false}, {120, true}} {
		x := ir.NewInput("x", ir.Type{DType: ir.Float32, Shape: ir.Shape{1, 8, c.size, c.size}})
		wv := make([]float64, 8*8*9)
		for i := range wv {
			wv[i] = float64(i%7) - 3 // float16-exact
		}
		w := ir.NewConst("w", ir.FromFloats(ir.Float32, ir.Shape{8, 8, 3, 3}, wv))
		y := &ir.Value{Name: "y"}
		op := &ir.Conv{Window: ir.Window{Pads: []int{1, 1, 1, 1}}, Group: 1}
		g := &ir.Graph{Inputs: []*ir.Value{x}, Outputs: []*ir.Value{y}, Nodes: []*ir.Node{{Name: "conv", Op: op, Inputs: []*ir.Value{x, w}, Outputs: []*ir.Value{y}}}}
		if err := ir.InferGraph(g); err != nil {
			t.Fatal(err)
		}
		plan, err := Run(g, Options{Level: 2, SIMD: true, Tune: "v8"})
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Nodes) != 2 {
			t.Fatalf("%d: want PrepareWeights and the Conv, got %d nodes", c.size, len(g.Nodes))
		}
		prep, ok := g.Nodes[0].Op.(*ir.PrepareWeights)
		if !ok || prep.Layout != ir.WeightsWinograd || prep.EachRun != c.eachRun {
			t.Fatalf("%d: first node %s, want a Winograd PrepareWeights with EachRun %v", c.size, g.Nodes[0].Label(), c.eachRun)
		}
		src := g.Nodes[0].Inputs[0]
		if src.Type.DType != ir.Float16 || !src.Type.Shape.Equal(ir.Shape{2, 8, 9, 4}) {
			t.Errorf("%d: stored weights %s, want float16[2,8,9,4]", c.size, src.Type)
		}
		staged := plan.Addr(src) >= plan.ArenaStart
		if staged == c.eachRun || plan.Once[g.Nodes[0]] == c.eachRun {
			t.Errorf("%d: stored weights staged %v, once %v; want %v", c.size, staged, plan.Once[g.Nodes[0]], !c.eachRun)
		}
	}
}
