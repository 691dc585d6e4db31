package e2e_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/verify"
)

// TestORTCases runs the cases in testdata/ort (made by
// bench/make-ort-cases.mjs: dilated convolutions whose taps read padding,
// asymmetric pads, a DeepLab ASPP-like head, Concats whose inputs the
// memory plan puts in place; golden outputs from ONNX Runtime) for every kernel shape on wazero, with Node giving the very
// same bytes. Tolerance: each case's own (meta.json: rtol 1e-4, atol 1e-5,
// float32 sums of at most a few thousand products in another order than
// ONNX Runtime's), which `mlc verify DIR` uses too.
func TestORTCases(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(testenv.Root(), "testdata", "ort", "*"))
	if len(dirs) == 0 {
		t.Fatal("no cases in testdata/ort")
	}
	testenv.Node(t)
	ctx := context.Background()
	wz, err := verify.NewWazeroRunner(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nr, err := verify.NewNodeRunner()
	if err != nil {
		t.Fatal(err)
	}
	defer nr.Close()
	for _, tune := range []string{"portable", "v8", "wazero"} {
		for _, dir := range dirs {
			t.Run(tune+"/"+filepath.Base(dir), func(t *testing.T) {
				o := verify.DefaultOptions()
				o.Compile.Tune = tune
				o.Runner, o.Also = wz, []verify.Runner{nr}
				r := verify.Case(ctx, dir, o)
				if r.Status != verify.Pass {
					t.Fatalf("%s: %s", r.Status, r.Message)
				}
				testenv.Validate(t, r.Wasm)
			})
		}
	}
}
