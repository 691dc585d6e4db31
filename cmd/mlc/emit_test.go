package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc/abi"
)

func TestEmitJS(t *testing.T) {
	res, err := compileTiny(t, debugFlags{}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join("somewhere", "tiny_cnn", "model.onnx") // named after its folder
	dir := t.TempDir()
	var out bytes.Buffer
	if _, err := (&emitFlags{kind: "js"}).writeJS(&out, model, dir, res); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"tiny_cnn.wasm", "tiny_cnn.mjs", "tiny_cnn.d.mts", "mlc.mjs", "mlc.d.mts", "pool.mjs", "threads.mjs", "wasm-bytes.mjs", "worker.mjs"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("--emit js did not write %s (%s)", f, out.String())
		}
	}
	wasm, _ := os.ReadFile(filepath.Join(dir, "tiny_cnn.wasm"))
	if !bytes.Equal(wasm, res.Wasm) {
		t.Error("the written module is not the compiled one")
	}
	if _, err := abi.Read(wasm); err != nil {
		t.Error(err)
	}
	dts, _ := os.ReadFile(filepath.Join(dir, "tiny_cnn.d.mts"))
	if !strings.Contains(string(dts), `"image": { dtype: "float32"; shape: [1, 1, 8, 8] };`) || !strings.Contains(string(dts), `"probs": { dtype: "float32"; shape: [1, 10] };`) {
		t.Errorf("tiny_cnn.d.mts:\n%s", dts)
	}

	// --js-runtime imports the package instead of copying the runtime.
	dir2 := t.TempDir()
	if _, err := (&emitFlags{kind: "js", runtime: "@mlc-compiler/runtime"}).writeJS(&out, "net.onnx", dir2, res); err != nil {
		t.Fatal(err)
	}
	js, _ := os.ReadFile(filepath.Join(dir2, "net.mjs"))
	if _, err := os.Stat(filepath.Join(dir2, "mlc.mjs")); err == nil || !strings.Contains(string(js), `from "@mlc-compiler/runtime";`) {
		t.Errorf("with --js-runtime: runtime copied (%v) or not imported:\n%s", err == nil, js)
	}

	for _, c := range []struct {
		e   emitFlags
		out string
	}{{emitFlags{kind: "c"}, "x.wasm"}, {emitFlags{kind: "wasm", runtime: "x"}, "x.wasm"}, {emitFlags{kind: "js"}, "-"}} {
		if err := c.e.check(c.out); err == nil {
			t.Errorf("%+v -o %s: no error", c.e, c.out)
		}
	}
}
