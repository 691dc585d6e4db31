package e2e_test

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/quant"
)

// TestQuantizeControlFlow: a model with control flow quantizes its
// main-graph layers, the subgraphs staying float (openWakeWord's hey_jarvis
// runs a verifier model in an If branch on the classifier's score).
// Calibration and the report compile copies of the graph, so the copies'
// subgraphs must read the copies' values.
func TestQuantizeControlFlow(t *testing.T) {
	dir := filepath.Join(testenv.Shared(t), "models", "oww_hey_jarvis")
	sets := readSets(t, dir)
	fl, err := mlc.CompileFile(filepath.Join(dir, "model.onnx"), mlc.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	fo := runSets(t, fl.Wasm, sets)
	for _, mode := range []quant.Mode{quant.Int8Weights, quant.Int8} {
		t.Run(string(mode), func(t *testing.T) {
			o := mlc.DefaultOptions()
			o.Quantize, o.Calibration = mode, dir
			q, err := mlc.CompileFile(filepath.Join(dir, "model.onnx"), o)
			if err != nil {
				t.Fatal(err)
			}
			hasIf := false
			for _, n := range q.Graph.Nodes {
				switch n.Op.(type) {
				case *ir.Gemm, *ir.MatMul:
					if mode == quant.Int8 {
						t.Errorf("%s stayed a float op", n.Label())
					}
				case *ir.If:
					hasIf = true
				}
			}
			if !hasIf {
				t.Fatal("the If is gone: the test no longer covers control flow")
			}
			if len(q.Wasm) > len(fl.Wasm)*3/4 {
				t.Errorf("module %d bytes, float %d: the weights were not quantized", len(q.Wasm), len(fl.Wasm))
			}
			qo := runSets(t, q.Wasm, sets)
			for i := range sets {
				for name, f := range fo[i] {
					for j, v := range f.F32() {
						if d := math.Abs(float64(v - qo[i][name].F32()[j])); d > 0.02 {
							t.Errorf("test_data_set_%d %s[%d]: %g quantized, %g float", i, name, j, qo[i][name].F32()[j], v)
						}
					}
				}
			}
		})
	}
}
