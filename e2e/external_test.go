package e2e_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc/internal/testenv"
)

// compileAndRun is a program outside this module that compiles a model
// and runs it with the public API only: mlc, runtime-shim/host and npy.
const compileAndRun = `package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/npy"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
)

func main() {
	o := mlc.HostOptions()
	o.InputShapes = map[string][]int{"image": {1, 1, 8, 8}}
	res, err := mlc.CompileFile(os.Args[1], o)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	rt, err := host.NewRuntime(ctx, host.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close(ctx)
	m, err := rt.Load(ctx, res.Wasm)
	if err != nil {
		log.Fatal(err)
	}
	image, err := host.Zeros("float32", []int{1, 1, 8, 8})
	if err != nil {
		log.Fatal(err)
	}
	out, err := m.Run(ctx, map[string]*host.Tensor{"image": image})
	if err != nil {
		log.Fatal(err)
	}
	if err := npy.WriteFile(os.Args[2], out["probs"]); err != nil {
		log.Fatal(err)
	}
	fmt.Println("probs", out["probs"])
}
`

// runOnly runs a module file and needs nothing of the compiler.
const runOnly = `package main

import (
	"context"
	"log"
	"os"

	"github.com/mlc-compiler/mlc/npy"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
)

func main() {
	wasm, err := os.ReadFile(os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	rt, err := host.NewRuntime(ctx, host.Config{})
	if err != nil {
		log.Fatal(err)
	}
	m, err := rt.Load(ctx, wasm)
	if err != nil {
		log.Fatal(err)
	}
	in, _ := npy.ReadFile(os.Args[2])
	out, err := m.Run(ctx, map[string]*host.Tensor{m.Meta.Inputs[0].Name: in})
	if err != nil {
		log.Fatal(err)
	}
	log.Println(out[m.Meta.Outputs[0].Name])
}
`

// generated compiles its model with go generate and embeds the module, as
// docs/pipelines.md shows.
const generated = `package main

//go:generate go run github.com/mlc-compiler/mlc/cmd/mlc compile ../model.onnx --input-shape image=1,1,8,8 -o model.wasm --json model.json

import (
	"context"
	_ "embed"
	"fmt"
	"log"

	"github.com/mlc-compiler/mlc/runtime-shim/host"
)

//go:embed model.wasm
var module []byte

func main() {
	ctx := context.Background()
	rt, err := host.NewRuntime(ctx, host.Config{})
	if err != nil {
		log.Fatal(err)
	}
	m, err := rt.Load(ctx, module)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("embedded", m.Meta.Inputs[0].Name, host.ShapeString(m.Meta.Inputs[0].Shape))
}
`

// TestExternalModule builds Go programs in a module of their own (with a
// replace directive to this repository): one compiles and runs a model
// without importing ir, one only runs modules and links nothing of the
// compiler, and one compiles its model with go generate and embeds it.
func TestExternalModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two programs")
	}
	root, err := filepath.Abs(testenv.Root())
	if err != nil {
		t.Fatal(err)
	}
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	dir := t.TempDir()
	goMod := "module example.com/user\n\ngo 1.26\n\nrequire github.com/mlc-compiler/mlc v0.0.0\n\nreplace github.com/mlc-compiler/mlc => " + root + "\n"
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"go.mod": goMod, "go.sum": string(sum),
		"compile/main.go": compileAndRun, "runner/main.go": runOnly, "gen/main.go": generated,
	} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(gobin, args...)
		cmd.Dir = dir
		// Offline: every module comes from this repository's build.
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	imports := strings.Fields(goCmd("list", "-f", "{{join .Imports \" \"}}", "./compile"))
	if slices.Contains(imports, "github.com/mlc-compiler/mlc/ir") {
		t.Errorf("the program imports ir: %v", imports)
	}
	deps := strings.Fields(goCmd("list", "-deps", "./runner"))
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/mlc-compiler/mlc/") && !slices.Contains([]string{"github.com/mlc-compiler/mlc/abi", "github.com/mlc-compiler/mlc/npy", "github.com/mlc-compiler/mlc/runtime-shim/host"}, d) {
			t.Errorf("a program that only runs modules links %s", d)
		}
	}
	model := filepath.Join(root, "testdata", "tiny_cnn", "model.onnx")
	probs := filepath.Join(dir, "probs.npy")
	if out := goCmd("run", "./compile", model, probs); !strings.Contains(out, "probs float32[1,10]") {
		t.Errorf("compile program printed %q", out)
	}
	if _, err := os.Stat(probs); err != nil {
		t.Error(err)
	}
	// go generate runs mlc compile; the program embeds the module.
	modelCopy, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "model.onnx"), modelCopy, 0o644)
	goCmd("generate", "./gen")
	if b, err := os.ReadFile(filepath.Join(dir, "gen", "model.json")); err != nil || !strings.Contains(string(b), `"schema": "mlc.compile"`) {
		t.Errorf("go generate wrote no compile summary: %v %s", err, b)
	}
	if out := goCmd("run", "./gen"); !strings.Contains(out, "embedded image [1,1,8,8]") {
		t.Errorf("generated program printed %q", out)
	}
}
