package frontend_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/ir"
)

// FuzzImport feeds arbitrary bytes to the frontend: a hostile or truncated
// file must give an error, never a panic. Run it with
//
//	go test ./frontend -run XXX -fuzz FuzzImport -fuzzminimizetime 1s
//
// (minimizing a new input of a few KB otherwise stalls the fuzzer for minutes).
func FuzzImport(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("..", "testdata", "tiny_cnn", "model.onnx"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Add(seed[:7])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := frontend.Import(data, "", frontend.Options{InputShapes: map[string]ir.Shape{"image": {1, 1, 8, 8}}})
		if err == nil && m.Graph == nil {
			t.Fatal("no error and no graph")
		}
	})
}

func TestImportRejectsGarbage(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("not a model"), {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}} {
		if _, err := frontend.Import(data, "", frontend.Options{}); err == nil {
			t.Errorf("%q: no error", data)
		}
	}
}
