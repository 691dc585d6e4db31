// Package mlctest keeps golden-output tests of a project's own ONNX models
// in a few lines:
//
//	func TestClassifier(t *testing.T) {
//		mlctest.Verify(t, "testdata/classifier.onnx", "testdata/classifier_cases")
//	}
//
// The cases folder holds test_data_set_*/input_N.pb and output_N.pb (the
// ONNX backend-test layout) and may hold a meta.json with the tolerance
// (see verify.MetaFile): golden data from ONNX Runtime or PyTorch, or data
// mlctest made. Verify compiles the model, runs every data set on wazero
// and fails the test when an output differs.
//
// With MLCTEST_UPDATE=1 in the environment, Verify (re)makes the cases
// instead, the way `mlc verify MODEL.onnx --save` does: inputs drawn from a
// seed, outputs from mlc's reference interpreter (package ir), which
// shares no code with the compiled kernels; the module must match them
// before they are written. Commit the folder; from then on the test
// catches any change in what the compiled model computes.
package mlctest

import (
	"context"
	"os"
	"testing"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/verify"
)

// UpdateEnv is the environment variable that makes Verify write the cases.
const UpdateEnv = "MLCTEST_UPDATE"

// Option changes how Verify compiles or compares.
type Option func(*verify.Options)

// WithCompile compiles with o instead of mlc.HostOptions() (mlctest runs
// modules on wazero, so its default is the wazero tune). Use it for input
// shapes, or to test the module exactly as it ships (mlc.DefaultOptions()).
func WithCompile(o mlc.Options) Option { return func(v *verify.Options) { v.Compile = o } }

// WithInputShapes pins input shapes (dynamic dimensions need it).
func WithInputShapes(shapes map[string][]int) Option {
	return func(v *verify.Options) { v.Compile.InputShapes = shapes }
}

// WithTolerance replaces the cases' own tolerance (their meta.json, or
// when mlctest makes them, verify.GeneratedTolerance).
func WithTolerance(rtol, atol float64) Option {
	return func(v *verify.Options) { v.Tolerance = &verify.Tolerance{RTol: rtol, ATol: atol} }
}

// WithSeed draws the inputs of cases Verify makes from seed (default 1).
func WithSeed(seed int64) Option { return func(v *verify.Options) { v.Seed = seed } }

// Verify checks the model at modelPath against the cases in casesDir, or
// makes them with MLCTEST_UPDATE=1 (see the package doc). It reports
// failures through t and returns whether the model passed.
func Verify(t testing.TB, modelPath, casesDir string, opts ...Option) bool {
	t.Helper()
	ctx := context.Background()
	runner, err := verify.NewWazeroRunner(ctx)
	if err != nil {
		t.Fatalf("mlctest: %v", err)
	}
	defer runner.RT.Close(ctx)
	o := verify.Options{Compile: mlc.HostOptions(), Runner: runner, Seed: 1}
	for _, opt := range opts {
		opt(&o)
	}
	if os.Getenv(UpdateEnv) != "" {
		res, gc := verify.Generated(ctx, modelPath, o)
		if res.Status != verify.Pass {
			t.Errorf("mlctest: %s: the module does not match the reference interpreter, so no cases were written: %s: %s", modelPath, res.Status, res.Message)
			return false
		}
		if err := os.RemoveAll(casesDir); err != nil {
			t.Fatalf("mlctest: %v", err)
		}
		if err := gc.SaveData(casesDir); err != nil {
			t.Fatalf("mlctest: writing %s: %v", casesDir, err)
		}
		t.Logf("mlctest: wrote %s (%s=1)", casesDir, UpdateEnv)
		return true
	}
	if _, err := os.Stat(casesDir); err != nil {
		t.Fatalf("mlctest: %v: make the cases with %s=1 go test", err, UpdateEnv)
	}
	res := verify.Check(ctx, modelPath, casesDir, o)
	if res.Status != verify.Pass {
		t.Errorf("mlctest: %s against %s: %s: %s", modelPath, casesDir, res.Status, res.Message)
		return false
	}
	return true
}
