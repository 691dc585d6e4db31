package opt

import (
	"testing"

	"github.com/mlc-compiler/mlc/codegen"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/tune"
)

// TestPrepareWeightsPlacement: Winograd weights are stored untransformed
// and float16-exact ones in float16. A layer with many tiles prepares
// them before every run (the stored form kept, the prepared form an
// activation); one with fewer keeps them prepared (its stored form staged
// in the arena) while they fit the budget; one whose Winograd weights
// do not fit (past the 16 MB floor) reads them as stored, in float16, and
// transforms them itself (no PrepareWeights node), in F(4x4,3x3) where
// that pays even when F(2x2,3x3)'s weights would fit. A layer of at most
// 16 tiles in whole 8-channel panels (ir.WinogradTilesAsA) reads them as
// stored even where the budget would keep them prepared.
func TestPrepareWeightsPlacement(t *testing.T) {
	for _, c := range []struct {
		channels, size int
		layout         ir.WeightLayout
		eachRun        bool
		inKernel       bool
	}{
		{8, 40, ir.WeightsWinograd4, false, false},
		{8, 240, ir.WeightsWinograd4, true, false},
		{560, 16, ir.WeightsWinograd4, false, true},
		{400, 16, ir.WeightsWinograd4, false, true},
		{640, 7, ir.WeightsWinograd, false, true},
		{64, 16, ir.WeightsWinograd4, false, true},
		{68, 16, ir.WeightsWinograd4, false, false},
	} {
		C := c.channels
		x := ir.NewInput("x", ir.Type{DType: ir.Float32, Shape: ir.Shape{1, C, c.size, c.size}})
		wv := make([]float64, C*C*9)
		for i := range wv {
			wv[i] = float64(i%7) - 3 // float16-exact
		}
		w := ir.NewConst("w", ir.FromFloats(ir.Float32, ir.Shape{C, C, 3, 3}, wv))
		y := &ir.Value{Name: "y"}
		op := &ir.Conv{Window: ir.Window{Pads: []int{1, 1, 1, 1}}, Group: 1}
		g := &ir.Graph{Inputs: []*ir.Value{x}, Outputs: []*ir.Value{y}, Nodes: []*ir.Node{{Name: "conv", Op: op, Inputs: []*ir.Value{x, w}, Outputs: []*ir.Value{y}}}}
		if err := ir.InferGraph(g); err != nil {
			t.Fatal(err)
		}
		plan, err := Run(g, Options{Level: 2, SIMD: true, ConvWeights: codegen.ConvWeightsFunc(tune.V8)})
		if err != nil {
			t.Fatal(err)
		}
		if c.inKernel {
			conv, ok := g.Nodes[len(g.Nodes)-1].Op.(*ir.FusedConv)
			w := g.Nodes[len(g.Nodes)-1].Inputs[1]
			if len(g.Nodes) != 1 || !ok || conv.Layout != c.layout || !conv.WinogradFromSource(w.Type.Shape) || w.Const == nil || w.Type.DType != ir.Float16 {
				t.Fatalf("%+v: want one Conv (%s) reading float16 WinogradSource weights, got %d nodes, %s", c, c.layout, len(g.Nodes), w.Type)
			}
			continue
		}
		if len(g.Nodes) != 2 {
			t.Fatalf("%+v: want PrepareWeights and the Conv, got %d nodes", c, len(g.Nodes))
		}
		prep, ok := g.Nodes[0].Op.(*ir.PrepareWeights)
		if !ok || prep.Layout != c.layout || prep.EachRun != c.eachRun {
			t.Fatalf("%+v: first node %s %+v", c, g.Nodes[0].Label(), g.Nodes[0].Op)
		}
		if src := g.Nodes[0].Inputs[0]; src.Type.DType != ir.Float16 {
			t.Errorf("%+v: stored weights %s, want float16", c, src.Type)
		}
		staged := plan.Addr(g.Nodes[0].Inputs[0]) >= plan.ArenaStart
		if staged == c.eachRun || plan.Once[g.Nodes[0]] == c.eachRun {
			t.Errorf("%+v: stored weights staged %v, once %v; want %v", c, staged, plan.Once[g.Nodes[0]], !c.eachRun)
		}
	}
}

// TestPrepackFollowsConvWeights: prepack packs a convolution's weights in
// the layout code generation asks for (opt.Options.ConvWeights), and
// leaves them as imported without the hook.
func TestPrepackFollowsConvWeights(t *testing.T) {
	for _, c := range []struct {
		hook func(*ir.Node, *ir.FusedConv) ir.WeightLayout
		want ir.WeightLayout
	}{
		{nil, ir.WeightsPlain},
		{codegen.ConvWeightsFunc(tune.Wazero), ir.WeightsPackB},
		{codegen.ConvWeightsFunc(tune.Portable), ir.WeightsPackA}, // 1x1: no Winograd
		{func(*ir.Node, *ir.FusedConv) ir.WeightLayout { return ir.WeightsPackB }, ir.WeightsPackB},
	} {
		x := ir.NewInput("x", ir.Type{DType: ir.Float32, Shape: ir.Shape{1, 8, 16, 16}})
		wv := make([]float64, 16*8)
		for i := range wv {
			wv[i] = float64(i%5) / 3 // not float16-exact: stored packed, no PrepareWeights
		}
		w := ir.NewConst("w", ir.FromFloats(ir.Float32, ir.Shape{16, 8, 1, 1}, wv))
		y := &ir.Value{Name: "y"}
		g := &ir.Graph{Inputs: []*ir.Value{x}, Outputs: []*ir.Value{y}, Nodes: []*ir.Node{{Name: "conv", Op: &ir.Conv{Group: 1}, Inputs: []*ir.Value{x, w}, Outputs: []*ir.Value{y}}}}
		if err := ir.InferGraph(g); err != nil {
			t.Fatal(err)
		}
		if _, err := Run(g, Options{Level: 2, SIMD: true, ConvWeights: c.hook}); err != nil {
			t.Fatal(err)
		}
		var got []ir.WeightLayout
		g.Walk(func(n *ir.Node) {
			if op, ok := n.Op.(*ir.FusedConv); ok {
				got = append(got, op.Layout)
			}
		})
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("want one FusedConv with %s weights, got %v", c.want, got)
		}
	}
}

// TestPrepareEachRunWhereFree: a low-resolution Winograd layer after a
// large one (an encoder's deep layer) prepares its weights before every
// run, in the arena beside the little that is live there, instead of
// keeping them prepared outside it (which the budget would allow); the
// same layer alone, where its weights would raise the largest
// activations, reads them as stored (prepared, they would cost their size
// in or beside the arena). A 32x32 layer (64 F(4x4,3x3) tiles, 256 of
// F(2x2,3x3)) deep in the net prepares every run too.
func TestPrepareEachRunWhereFree(t *testing.T) {
	for _, c := range []struct {
		deep bool
		pool int
	}{{true, 4}, {true, 8}, {false, 0}} {
		deep := c.deep
		C := 16
		conv := func(name string, x *ir.Value) (*ir.Node, *ir.Value) {
			wv := make([]float64, C*C*9)
			for i := range wv {
				wv[i] = float64(i%7) - 3
			}
			w := ir.NewConst(name+"_w", ir.FromFloats(ir.Float32, ir.Shape{C, C, 3, 3}, wv))
			y := &ir.Value{Name: name}
			return &ir.Node{Name: name, Op: &ir.Conv{Window: ir.Window{Pads: []int{1, 1, 1, 1}}, Group: 1}, Inputs: []*ir.Value{x, w}, Outputs: []*ir.Value{y}}, y
		}
		size := 64
		if deep {
			size = 256
		}
		x := ir.NewInput("x", ir.Type{DType: ir.Float32, Shape: ir.Shape{1, C, size, size}})
		g := &ir.Graph{Inputs: []*ir.Value{x}}
		last := x
		if deep {
			c0, y0 := conv("c0", x)
			p := &ir.Value{Name: "pool"}
			pool := &ir.Node{Name: "pool", Op: &ir.Pool{Kind: ir.PoolMax, Window: ir.Window{Kernel: []int{c.pool, c.pool}, Strides: []int{c.pool, c.pool}, Pads: []int{0, 0, 0, 0}}}, Inputs: []*ir.Value{y0}, Outputs: []*ir.Value{p}}
			g.Nodes = append(g.Nodes, c0, pool)
			last = p
		}
		c1, y1 := conv("c1", last)
		g.Nodes = append(g.Nodes, c1)
		g.Outputs = []*ir.Value{y1}
		if err := ir.InferGraph(g); err != nil {
			t.Fatal(err)
		}
		if _, err := Run(g, Options{Level: 2, SIMD: true, ConvWeights: codegen.ConvWeightsFunc(tune.V8)}); err != nil {
			t.Fatal(err)
		}
		var prep *ir.PrepareWeights
		var layer *ir.Node
		for i, n := range g.Nodes {
			if n.Outputs[0] == y1 {
				layer = n
				if i > 0 {
					prep, _ = g.Nodes[i-1].Op.(*ir.PrepareWeights)
				}
			}
		}
		if !deep {
			if op, ok := layer.Op.(*ir.FusedConv); prep != nil || !ok || op.Layout != ir.WeightsWinograd4 || !op.WinogradFromSource(layer.Inputs[1].Type.Shape) {
				t.Errorf("%+v: the layer alone, want F(4x4,3x3) from its stored weights:\n%s", c, g.Format(nil))
			}
			continue
		}
		if prep == nil || prep.Layout != ir.WeightsWinograd4 || !prep.EachRun {
			t.Errorf("%+v: the last layer's weights prepared %+v, want Winograd F(4x4,3x3), every run:\n%s", c, prep, g.Format(nil))
		}
	}
}
