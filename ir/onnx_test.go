package ir_test

import (
	"flag"
	"fmt"
	"runtime"
	"testing"

	"github.com/mlc-compiler/mlc/internal/onnxcase"
	"github.com/mlc-compiler/mlc/ir"
)

var update = flag.Bool("update", false, "rewrite testdata/onnx_passing.txt with the cases the interpreter passes")

// TestInterpreterMatchesONNX runs the reference interpreter, the oracle
// of mlc's kernel tests and the engine of constant folding, on the ONNX
// backend test cases (imported by the frontend, inputs pinned to the data
// sets' shapes) and compares its outputs with ONNX's expected outputs at
// ONNX's own tolerances (rtol 1e-3, atol 1e-7). testdata/onnx_passing.txt
// lists the cases it passes (rewritten with -update): any of them failing
// is a regression. Cases the frontend does not import are left to its
// tests; conformance/ checks the compiled modules.
func TestInterpreterMatchesONNX(t *testing.T) {
	dirs := onnxcase.TestDirs(t)
	why := onnxcase.Each(dirs, runtime.GOMAXPROCS(0), interpretCase)
	ok := make([]bool, len(dirs))
	for i, w := range why {
		ok[i] = w == ""
		if w != "" && testing.Verbose() {
			t.Logf("%s: %s", onnxcase.Key(dirs[i]), w)
		}
	}
	onnxcase.Track(t, "testdata/onnx_passing.txt", "ONNX backend cases the reference interpreter passes; go test ./ir -run InterpreterMatchesONNX -update rewrites it", *update, dirs, ok, why)
}

// interpretCase imports one case and runs its data sets; it returns ""
// when every output matches, else why not.
func interpretCase(dir string) (why string) {
	defer func() {
		if r := recover(); r != nil {
			why = fmt.Sprintf("panic: %v", r)
		}
	}()
	c, err := onnxcase.Load(dir)
	if err != nil {
		return err.Error()
	}
	for i, set := range c.Sets {
		m, err := c.Import(i)
		if err != nil {
			return "import: " + err.Error()
		}
		env, err := c.Env(m.Graph, i)
		if err != nil {
			return err.Error()
		}
		got, err := ir.Run(m.Graph, env)
		if err != nil {
			return err.Error()
		}
		if len(got) != len(set.Outputs) {
			return fmt.Sprintf("%d outputs, want %d", len(got), len(set.Outputs))
		}
		for j, want := range set.Outputs {
			if msg := onnxcase.Close(got[j], want, 1e-3, 1e-7); msg != "" {
				return fmt.Sprintf("data set %d output %d: %s", i, j, msg)
			}
		}
	}
	return ""
}
