package e2e_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/internal/testenv"
)

// FuzzCompile runs the whole pipeline on arbitrary bytes: a hostile model
// may fail to compile, but never panic. Run it with
//
//	go test -run XXX -fuzz FuzzCompile -fuzzminimizetime 1s ./e2e
func FuzzCompile(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join(testenv.Root(), "testdata", "tiny_cnn", "model.onnx"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		o := mlc.DefaultOptions()
		o.InputShapes = map[string][]int{"image": {1, 1, 8, 8}}
		res, err := mlc.Compile(data, "", o)
		if err == nil && len(res.Wasm) == 0 {
			t.Fatal("no error and no module")
		}
	})
}
