package e2e_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/verify"
)

// TestRebatch gives every small shared model with batch-1 inputs and two
// data sets a batch of 2 (--input-shape). Either mlc refuses with a
// message saying why re-batching is not possible, or the batch-2 module,
// fed both data sets stacked, gives each set's golden outputs at the
// model's own tolerance.
func TestRebatch(t *testing.T) {
	shared := testenv.Shared(t)
	dirs, _ := filepath.Glob(filepath.Join(shared, "models", "*"))
	accepted, refused := 0, 0
	for _, dir := range dirs {
		sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
		if len(sets) < 2 || tooLarge(t, dir) {
			continue
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			_, mp := readModel(t, dir)
			o := mlc.DefaultOptions()
			o.InputShapes = map[string][]int{}
			var stacked []*ir.Tensor
			var names []string
			for i, vi := range runtimeInputs(mp) {
				a := readPB(t, filepath.Join(sets[0], fmt.Sprintf("input_%d.pb", i)))
				b := readPB(t, filepath.Join(sets[1], fmt.Sprintf("input_%d.pb", i)))
				if len(a.Shape) == 0 || a.Shape[0] != 1 {
					t.Skipf("input %q is %s, not batch 1", vi, a.Type)
				}
				s := ir.NewTensor(a.DType, append(ir.Shape{2}, a.Shape[1:]...))
				copy(s.Data, a.Data)
				copy(s.Data[len(a.Data):], b.Data)
				stacked, names = append(stacked, s), append(names, vi)
				o.InputShapes[vi] = s.Shape
			}
			res, err := mlc.CompileFile(filepath.Join(dir, "model.onnx"), o)
			if err != nil {
				if !strings.Contains(err.Error(), "re-batching") || !strings.Contains(err.Error(), "is not possible") {
					t.Fatalf("refused without saying why: %v", err)
				}
				refused++
				t.Logf("refused: %v", err)
				return
			}
			accepted++
			feed := map[string]*ir.Tensor{}
			for i, n := range names {
				feed[n] = stacked[i]
			}
			out, err := hostir.Run(context.Background(), optest.Load(t, res.Wasm), feed)
			if err != nil {
				t.Fatal(err)
			}
			tol, _, err := verify.CaseTolerance(dir)
			if err != nil {
				t.Fatal(err)
			}
			for i, ot := range res.Meta.Outputs {
				got := out[ot.Name]
				half := len(got.Data) / 2
				for si, set := range sets[:2] {
					want := readPB(t, filepath.Join(set, fmt.Sprintf("output_%d.pb", i)))
					part, err := ir.TensorFromBytes(got.DType, want.Shape, got.Data[si*half:(si+1)*half])
					if err != nil {
						t.Fatalf("output %q is %s: %v", ot.Name, got.Type, err)
					}
					if msg := verify.Compare(part, want, tol.RTol, tol.ATol, &verify.OutputResult{}); msg != "" {
						t.Errorf("output %q, batch item %d: %s", ot.Name, si, msg)
					}
				}
			}
		})
	}
	t.Logf("%d models re-batched, %d refused", accepted, refused)
	if accepted == 0 || refused == 0 {
		t.Errorf("want both kinds among the shared models: %d re-batched, %d refused", accepted, refused)
	}
}

// tooLarge reports a model whose Conv, Gemm and MatMul work exceeds 5
// GFLOP at its own shapes: the 1024x1024 and resnet50-sized nets, which
// these tests leave to MLC_LARGE_MODELS=1 (the reference interpreter alone
// takes minutes on them).
func tooLarge(t *testing.T, dir string) bool {
	if os.Getenv("MLC_LARGE_MODELS") != "" {
		return false
	}
	m, err := frontend.Load(filepath.Join(dir, "model.onnx"), frontend.Options{})
	return err == nil && ir.GraphFLOPs(m.Graph) > 5e9
}

// runtimeInputs lists a model's inputs that are not initializers.
func runtimeInputs(mp *onnxpb.ModelProto) []string {
	inits := map[string]bool{}
	for _, t := range mp.Graph.Initializer {
		inits[t.GetName()] = true
	}
	var names []string
	for _, vi := range mp.Graph.Input {
		if !inits[vi.GetName()] {
			names = append(names, vi.GetName())
		}
	}
	return names
}
