package jsshim_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/internal/testenv"
)

// TestShim runs the package's own tests (node --test, tests/cases.mjs) on
// Node against the project's tiny model, compiled by the current compiler.
func TestShim(t *testing.T) {
	node := testenv.Node(t)
	o := mlc.DefaultOptions()
	o.InputShapes = map[string][]int{"image": {1, 1, 8, 8}}
	res, err := mlc.CompileFile(filepath.Join(testenv.Root(), "testdata", "tiny_cnn", "model.onnx"), o)
	if err != nil {
		t.Fatal(err)
	}
	mod := filepath.Join(t.TempDir(), "tiny.wasm")
	if err := os.WriteFile(mod, res.Wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	// The same model threaded, every splittable loop split: the package's
	// fixture tests/fixtures/tiny_cnn_threads.wasm (MLC_WRITE_FIXTURES=1
	// rewrites it).
	o.Threads, o.ParallelAll = 2, true
	res, err = mlc.CompileFile(filepath.Join(testenv.Root(), "testdata", "tiny_cnn", "model.onnx"), o)
	if err != nil {
		t.Fatal(err)
	}
	threaded := filepath.Join(t.TempDir(), "tiny_threads.wasm")
	if os.Getenv("MLC_WRITE_FIXTURES") != "" {
		threaded = filepath.Join("tests", "fixtures", "tiny_cnn_threads.wasm")
	}
	if err := os.WriteFile(threaded, res.Wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "--test")
	cmd.Env = append(os.Environ(), "MLC_TEST_MODULE="+mod, "MLC_TEST_THREADED_MODULE="+threaded)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
}
