package frontend_test

import (
	"errors"
	"flag"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc/internal/onnxcase"
	"github.com/mlc-compiler/mlc/ir"
)

var update = flag.Bool("update", false, "rewrite testdata/imports.txt with the ONNX backend cases that import")

// TestImportBackendCases imports every ONNX backend test case with its
// inputs pinned to the data sets' shapes and checks what the frontend
// promises: the graph is valid IR (ir.Verify), its outputs are the
// model's, in order, with the dtypes and shapes of ONNX's expected
// outputs, and importing twice gives the same graph (the same text), so
// that the same model compiles to the same module. A case that does not
// import must fail with an error that names what is unsupported
// (ir.Unsupported), never another error or a panic; testdata/imports.txt
// lists the cases that import, and one of them failing to is a
// regression. (ir's tests run the imported graphs against ONNX's outputs.)
func TestImportBackendCases(t *testing.T) {
	dirs := onnxcase.TestDirs(t)
	type result struct {
		imported bool
		problem  string // a broken promise
	}
	results := onnxcase.Each(dirs, runtime.GOMAXPROCS(0), func(dir string) (r result) {
		defer func() {
			if p := recover(); p != nil {
				r.problem = fmt.Sprintf("panic: %v", p)
			}
		}()
		c, err := onnxcase.Load(dir)
		if err != nil {
			return result{} // sequence or map test data: not a tensor case
		}
		m, err := c.Import(0)
		if err != nil {
			if !ir.IsUnsupported(err) {
				return result{problem: "an error that is not ir.Unsupported: " + err.Error()}
			}
			var u *ir.Unsupported
			if errors.As(err, &u) && (u.Where == "" || u.What == "") {
				return result{problem: "an Unsupported error that does not say where or what: " + err.Error()}
			}
			return result{problem: ""}
		}
		g := m.Graph
		if err := ir.Verify(g); err != nil {
			return result{true, "invalid IR: " + err.Error()}
		}
		outs := c.Model.Graph.Output
		if len(g.Outputs) != len(outs) {
			return result{true, fmt.Sprintf("%d outputs, the model has %d", len(g.Outputs), len(outs))}
		}
		for i, v := range g.Outputs {
			want := c.Sets[0].Outputs[i]
			if v.Name != outs[i].GetName() {
				return result{true, fmt.Sprintf("output %d is %q, the model's %q", i, v.Name, outs[i].GetName())}
			}
			if v.Type.DType != want.DType || !v.Type.Shape.Equal(want.Shape) {
				return result{true, fmt.Sprintf("output %q is typed %s, ONNX's expected output is %s", v.Name, v.Type, want.Type)}
			}
		}
		again, err := c.Import(0)
		if err != nil {
			return result{true, "the second import fails: " + err.Error()}
		}
		if a, b := g.Format(nil), again.Graph.Format(nil); a != b {
			return result{true, "importing twice gives different graphs"}
		}
		return result{imported: true}
	})
	ok := make([]bool, len(dirs))
	why := make([]string, len(dirs))
	var problems []string
	for i, r := range results {
		ok[i], why[i] = r.imported && r.problem == "", r.problem
		if !r.imported {
			why[i] = "does not import"
		}
		if r.problem != "" {
			problems = append(problems, onnxcase.Key(dirs[i])+": "+r.problem)
		}
	}
	if len(problems) > 0 {
		t.Errorf("%d cases:\n%s", len(problems), strings.Join(problems, "\n"))
	}
	onnxcase.Track(t, "testdata/imports.txt", "ONNX backend cases the frontend imports; go test ./frontend -run ImportBackendCases -update rewrites it", *update, dirs, ok, why)
}
