package codegen_test

import (
	"math"
	"math/rand"
	"testing"

	"github.com/mlc-compiler/mlc/codegen"
	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/opt"
	"github.com/mlc-compiler/mlc/tune"
)

// TestPrepareWeights: the run-time weight preparation gives the bits of
// ir's: float16 widened (subnormals, infinities, NaN, -0 included) and the
// Winograd transform from float16 and float32 sources.
func TestPrepareWeights(t *testing.T) {
	ctx, rt := testRuntime(t)
	r := rand.New(rand.NewSource(3))
	special := []float32{0, float32(math.Copysign(0, -1)), 6e-8, -6e-8, 3e-5, 65504, -65504, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	values := func(dt ir.DType, shape ir.Shape) *ir.Tensor {
		v := make([]float64, shape.Size())
		for i := range v {
			if i < len(special) {
				v[i] = float64(special[i])
			} else {
				v[i] = r.NormFloat64() * 3
			}
		}
		return ir.FromFloats(dt, shape, v)
	}
	for _, c := range []struct {
		name   string
		layout ir.WeightLayout
		src    *ir.Tensor
	}{
		{"widen", ir.WeightsPackA, values(ir.Float16, ir.Shape{3, 7, 4})},
		{"winograd f16", ir.WeightsWinograd, values(ir.Float16, ir.Shape{2, 5, 9, 4})},
		{"winograd f32", ir.WeightsWinograd, values(ir.Float32, ir.Shape{3, 3, 9, 4})},
		{"winograd4 f16", ir.WeightsWinograd4, values(ir.Float16, ir.Shape{2, 5, 9, 4})},
		{"winograd4 f32", ir.WeightsWinograd4, values(ir.Float32, ir.Shape{3, 3, 9, 4})},
		{"winograd4 f32 groups of four", ir.WeightsWinograd4, values(ir.Float32, ir.Shape{2, 4, 9, 4})},
		{"winograd f16 groups of four", ir.WeightsWinograd, values(ir.Float16, ir.Shape{3, 7, 9, 4})},
	} {
		t.Run(c.name, func(t *testing.T) {
			op := &ir.PrepareWeights{Layout: c.layout}
			y := &ir.Value{Name: "y"}
			n := &ir.Node{Name: "prep", Op: op, Inputs: []*ir.Value{ir.NewConst("w", c.src)}, Outputs: []*ir.Value{y}}
			g := &ir.Graph{Outputs: []*ir.Value{y}, Nodes: []*ir.Node{n}}
			if err := ir.InferGraph(g); err != nil {
				t.Fatal(err)
			}
			want, err := op.Eval([]*ir.Tensor{c.src})
			if err != nil {
				t.Fatal(err)
			}
			plan, err := opt.Run(g, opt.Options{Level: 2, SIMD: true, ConvWeights: codegen.ConvWeightsFunc(tune.V8), Workspace: codegen.Workspace})
			if err != nil {
				t.Fatal(err)
			}
			wasm, err := codegen.Build(g, plan, codegen.Options{SIMD: true, Tune: tune.V8, Producer: "test"})
			if err != nil {
				t.Fatal(err)
			}
			m, err := rt.Load(ctx, wasm)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close(ctx)
			out, err := hostir.Run(ctx, m, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, ref := out["y"].F32(), want[0].F32()
			for i := range ref {
				if math.Float32bits(got[i]) != math.Float32bits(ref[i]) && !(got[i] != got[i] && ref[i] != ref[i]) {
					t.Fatalf("element %d is %g (%#x), want %g (%#x)", i, got[i], math.Float32bits(got[i]), ref[i], math.Float32bits(ref[i]))
				}
			}
		})
	}
}
