package jsshim_test

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/internal/testenv"
	jsshim "github.com/mlc-compiler/mlc/runtime-shim/js"
)

// TestPackage packs the npm package as `npm pack` would publish it and
// uses it as a user would: a fresh TypeScript project (typecheck/app)
// installs the tarball, imports it and typed bindings written by
// WriteBindings (one set importing the package, one with the runtime copied
// beside it), and must type-check with zero errors under tsc --strict with
// node16, nodenext and bundler module resolution; each @ts-expect-error in
// it is a mistake the types must catch. The compiled app then runs on Node,
// and the unpacked package's own tests pass under node --test.
func TestPackage(t *testing.T) {
	node := testenv.Node(t)
	npm, err := exec.LookPath("npm")
	if err != nil {
		testenv.Missing(t, "npm is not on PATH")
	}
	here, _ := filepath.Abs(".")
	tsc := filepath.Join(here, "typecheck", "node_modules", "typescript", "bin", "tsc")
	if _, err := os.Stat(tsc); err != nil {
		testenv.Missing(t, "TypeScript is not installed: run npm ci in runtime-shim/js/typecheck")
	}
	tmp := t.TempDir()
	run := func(dir string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	packOut := run(here, npm, "pack", "--json", "--pack-destination", tmp)
	var packed []struct {
		Filename string `json:"filename"`
		Files    []struct {
			Path string `json:"path"`
		} `json:"files"`
	}
	if err := json.Unmarshal([]byte(packOut[strings.Index(packOut, "["):]), &packed); err != nil || len(packed) != 1 {
		t.Fatalf("npm pack --json: %v\n%s", err, packOut)
	}
	var names []string
	for _, f := range packed[0].Files {
		names = append(names, f.Path)
	}
	for _, want := range []string{"package.json", "README.md", "mlc.mjs", "mlc.d.mts", "pool.mjs", "threads.mjs", "wasm-bytes.mjs", "worker.mjs", "ort.mjs", "ort.d.mts", "tests/node.test.mjs"} {
		if !contains(names, want) {
			t.Errorf("the package lacks %s (it has %v)", want, names)
		}
	}
	for _, n := range names {
		if strings.HasSuffix(n, ".go") || strings.HasPrefix(n, "typecheck/") || n == "runner.mjs" {
			t.Errorf("the package ships %s, which is not for its users", n)
		}
	}
	unpacked := filepath.Join(tmp, "unpacked")
	os.MkdirAll(unpacked, 0o755)
	run(tmp, "tar", "xzf", filepath.Join(tmp, packed[0].Filename), "-C", unpacked)
	pkg := filepath.Join(unpacked, "package")

	// The package's own tests, as shipped.
	if out := run(pkg, node, "--test"); !strings.Contains(out, "# fail 0") || strings.Contains(out, "# pass 0") {
		t.Fatalf("node --test in the unpacked package:\n%s", out)
	}

	// A fresh project: the app, the package in node_modules, two sets of bindings.
	app := filepath.Join(tmp, "app")
	run(here, "cp", "-r", filepath.Join("typecheck", "app"), app)
	os.MkdirAll(filepath.Join(app, "node_modules", "@mlc-compiler"), 0o755)
	run(tmp, "cp", "-r", pkg, filepath.Join(app, "node_modules", "@mlc-compiler", "runtime"))
	o := mlc.DefaultOptions()
	o.InputShapes = map[string][]int{"image": {1, 1, 8, 8}}
	res, err := mlc.CompileFile(filepath.Join(testenv.Root(), "testdata", "tiny_cnn", "model.onnx"), o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jsshim.WriteBindings(filepath.Join(app, "tiny"), res.Wasm, jsshim.BindingOptions{Name: "tiny_cnn", Runtime: "@mlc-compiler/runtime"}); err != nil {
		t.Fatal(err)
	}
	if _, err := jsshim.WriteBindings(filepath.Join(app, "tiny-local"), res.Wasm, jsshim.BindingOptions{Name: "tiny_cnn"}); err != nil {
		t.Fatal(err)
	}
	// Bindings for names no identifier could hold (ONNX names are any string).
	odd, err := renamed(res.Wasm, oddInput, oddOutput)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jsshim.WriteBindings(filepath.Join(app, "odd"), odd, jsshim.BindingOptions{Name: "odd names", Runtime: "@mlc-compiler/runtime"}); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"node16", "nodenext", "bundler"} {
		run(app, node, tsc, "-p", "tsconfig."+mode+".json")
	}
	var got struct {
		Probs, Worker, Generic, Odd []float64
		Shape                       []int
		ORT                         struct {
			Dims []int
			Data []float64
		}
	}
	out := run(app, node, "main.js")
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("the app's output: %v\n%s", err, out)
	}
	if len(got.Probs) != 10 || len(got.Shape) != 2 || got.Shape[1] != 10 {
		t.Fatalf("the app's output: %s", out)
	}
	for name, v := range map[string][]float64{"worker": got.Worker, "generic": got.Generic, "ort": got.ORT.Data, "odd names": got.Odd} {
		if len(v) != 10 {
			t.Fatalf("%s: %v", name, v)
		}
		for i := range v {
			if v[i] != got.Probs[i] {
				t.Errorf("%s output %d is %v, the bindings' %v", name, i, v[i], got.Probs[i])
			}
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// The odd names typecheck/app/main.ts uses (keep them in step).
const (
	oddInput  = "x:0 \"quoted\" */ `${tpl}` \u2028 end"
	oddOutput = "out/1.\\"
)

// renamed is the module with its first input and output renamed in the
// metadata (the memory layout is unchanged, so it still runs).
func renamed(wasm []byte, in, out string) ([]byte, error) {
	meta, err := abi.Read(wasm)
	if err != nil {
		return nil, err
	}
	meta.Inputs[0].Name, meta.Outputs[0].Name = in, out
	js, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	secs, err := abi.ReadSections(wasm)
	if err != nil {
		return nil, err
	}
	b := append([]byte{}, wasm[:8]...)
	for _, s := range secs {
		body := s.Data
		if s.ID == 0 {
			data := s.Data
			if s.Name == abi.SectionName {
				data = js
			}
			body = append(binary.AppendUvarint(nil, uint64(len(s.Name))), s.Name...)
			body = append(body, data...)
		}
		b = append(b, s.ID)
		b = binary.AppendUvarint(b, uint64(len(body)))
		b = append(b, body...)
	}
	return b, nil
}
