package frontend_test

import (
	"flag"
	"testing"

	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/internal/fuzzmodel"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/ir"
)

// fuzzing reports whether the test binary runs a fuzz target (-fuzz): only
// then are the large models seeds; a plain test run replays the small
// ones and the regression inputs in testdata/fuzz.
func fuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

// FuzzImport feeds arbitrary bytes to the frontend: a hostile or truncated
// file must give a clean error, never a panic, recovered or not. Seeds:
// testdata/tiny_cnn, the shared models (up to 25 MB when fuzzing) and every
// 20th ONNX backend case. Run it with
//
//	go test ./frontend -run XXX -fuzz FuzzImport -fuzzminimizetime 1s
//
// (minimizing a new input of a few KB otherwise stalls the fuzzer for minutes).
func FuzzImport(f *testing.F) {
	if err := fuzzmodel.LimitWorkerMemory(); err != nil {
		f.Fatal(err)
	}
	maxBytes := int64(2 << 20)
	if fuzzing() {
		maxBytes = 25 << 20 // all but resnet18/50: see e2e's fuzzSeedBytes
	}
	seeds, err := fuzzmodel.Corpus(testenv.Root(), testenv.Shared(f), maxBytes, 20)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range seeds {
		f.Add(s.Model)
	}
	f.Add(seeds[0].Model[:len(seeds[0].Model)/2])
	f.Add(seeds[0].Model[:7])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		shapes := map[string]ir.Shape{}
		for name, s := range fuzzmodel.PinShapes(data) {
			shapes[name] = s
		}
		m, err := frontend.Import(data, "", frontend.Options{InputShapes: shapes})
		if err := fuzzmodel.Clean(err); err != nil {
			t.Fatal(err)
		}
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
