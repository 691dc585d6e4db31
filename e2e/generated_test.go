package e2e_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/verify"
)

// TestGeneratedModels runs `mlc verify MODEL.onnx --runtime both` on every
// shared model up to 5 GFLOP (all of them with MLC_LARGE_MODELS=1): seeded
// inputs, the reference interpreter's outputs, the module on wazero at
// verify.GeneratedTolerance, and Node's outputs byte for byte the same.
func TestGeneratedModels(t *testing.T) {
	shared := testenv.Shared(t)
	dirs, _ := filepath.Glob(filepath.Join(shared, "models", "*"))
	ctx := context.Background()
	wz, nr := runners(t)
	n := 0
	for _, dir := range dirs {
		if tooLarge(t, dir) {
			continue
		}
		n++
		t.Run(filepath.Base(dir), func(t *testing.T) {
			o := verify.DefaultOptions()
			o.Runner, o.Also = wz, []verify.Runner{nr}
			res, _ := verify.Generated(ctx, filepath.Join(dir, "model.onnx"), o)
			if res.Status != verify.Pass {
				t.Fatalf("%s: %s", res.Status, res.Message)
			}
			for _, out := range res.Outputs {
				t.Logf("%s: max abs %.3g, atol needed at rtol %g: %.3g", out.Name, out.MaxAbsErr, res.Tolerance.RTol, out.ATolNeeded)
			}
		})
	}
	t.Logf("%d models", n)
}
