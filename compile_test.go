package mlc_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/internal/npy"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
	"github.com/mlc-compiler/mlc/verify"
)

// nodeModels are verified on Node as well as wazero.
var nodeModels = []string{"mnist_cntk", "mlp_mnist", "squeezenet1_1", "oww_embedding"}

// TestModels runs mlc verify over every folder in ../shared/models with
// the real-model tolerances, checks each module with wasm-validate and that
// compiling twice gives the same bytes.
func TestModels(t *testing.T) {
	shared := testenv.Shared(t)
	dirs, _ := filepath.Glob(filepath.Join(shared, "models", "*"))
	if len(dirs) == 0 {
		t.Fatal("no models in ../shared/models")
	}
	ctx := context.Background()
	wz, err := verify.NewWazeroRunner(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := verify.DefaultOptions()
			o.RTol, o.ATol = 1e-3, 1e-4
			o.Runner = wz
			r := verify.Case(ctx, dir, o)
			if r.Status != verify.Pass {
				t.Fatalf("wazero: %s: %s", r.Status, r.Message)
			}
			for _, out := range r.Outputs {
				t.Logf("wazero %s: max abs err %.3g, module %d bytes", out.Name, out.MaxAbsErr, r.ModuleBytes)
			}
			testenv.Validate(t, r.Wasm)
			again := verify.Case(ctx, dir, o)
			if !bytes.Equal(r.Wasm, again.Wasm) {
				t.Errorf("compiling twice gave different modules")
			}
			if slices.Contains(nodeModels, name) {
				testenv.Node(t)
				nr, err := verify.NewNodeRunner()
				if err != nil {
					t.Fatal(err)
				}
				defer nr.Close()
				o.Runner = nr
				r := verify.Case(ctx, dir, o)
				if r.Status != verify.Pass {
					t.Fatalf("node: %s: %s", r.Status, r.Message)
				}
			}
		})
	}
}

// TestMNISTAccuracy classifies samples 5000-9999 of the MNIST digits with
// the compiled zoo model through mlc_run; ONNX Runtime gets 99.40%.
func TestMNISTAccuracy(t *testing.T) {
	shared := testenv.Shared(t)
	images, err := npy.ReadFile(filepath.Join(shared, "data", "mnist", "images.npy"))
	if err != nil {
		t.Fatal(err)
	}
	labels, err := npy.ReadFile(filepath.Join(shared, "data", "mnist", "labels.npy"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := mlc.CompileFile(filepath.Join(shared, "models", "mnist_cntk", "model.onnx"), mlc.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	acc := classify(t, res.Wasm, images, labels, 5000, 10000)
	t.Logf("accuracy on samples 5000-9999: %.2f%%", acc)
	if acc < 99.35 {
		t.Errorf("accuracy %.2f%%, want within 0.05 points of ONNX Runtime's 99.40%%", acc)
	}
}

// classify runs images[from:to] one by one and returns the accuracy in %.
func classify(t *testing.T, wasm []byte, images, labels *ir.Tensor, from, to int) float64 {
	t.Helper()
	ctx := context.Background()
	rt, err := host.NewRuntime(ctx, host.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	m, err := rt.Load(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	in, out := m.Meta.Inputs[0], m.Meta.Outputs[0]
	per := ir.Shape(in.Shape).Size()
	pix := images.F32()
	correct := 0
	for i := from; i < to; i++ {
		x := ir.TensorF32(ir.Shape(in.Shape), pix[i*per:(i+1)*per]...)
		res, err := m.Run(ctx, map[string]*ir.Tensor{in.Name: x})
		if err != nil {
			t.Fatal(err)
		}
		scores := res[out.Name].F32()
		best := 0
		for j := range scores {
			if scores[j] > scores[best] {
				best = j
			}
		}
		if int64(best) == labels.I64()[i] {
			correct++
		}
	}
	return 100 * float64(correct) / float64(to-from)
}

// TestWASICommand runs a module unchanged as a WASI command on wazero and on
// Node's WASI: stdin carries the raw inputs, stdout the raw outputs, and a
// short or long stdin is an error with a message.
func TestWASICommand(t *testing.T) {
	shared := testenv.Shared(t)
	dir := filepath.Join(shared, "models", "mnist_cntk")
	res, err := mlc.CompileFile(filepath.Join(dir, "model.onnx"), mlc.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	in := readPB(t, filepath.Join(dir, "test_data_set_0", "input_0.pb"))
	ctx := context.Background()
	rt, err := host.NewRuntime(ctx, host.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	m, err := rt.Load(ctx, res.Wasm)
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.Run(ctx, map[string]*ir.Tensor{m.Meta.Inputs[0].Name: in})
	if err != nil {
		t.Fatal(err)
	}
	wantBytes := want[m.Meta.Outputs[0].Name].Data

	stdout, stderr, code, err := rt.RunCommand(ctx, res.Wasm, in.Data)
	if err != nil || code != 0 {
		t.Fatalf("wazero _start: exit %d, %v, stderr %s", code, err, stderr)
	}
	if !bytes.Equal(stdout, wantBytes) {
		t.Errorf("wazero _start output differs from mlc_run's")
	}
	for _, bad := range [][]byte{in.Data[:len(in.Data)-1], append(append([]byte{}, in.Data...), 0)} {
		_, stderr, code, err := rt.RunCommand(ctx, res.Wasm, bad)
		if err != nil || code != 1 || !strings.Contains(string(stderr), "stdin is") {
			t.Errorf("stdin of %d bytes: exit %d, err %v, stderr %q; want exit 1 with a message", len(bad), code, err, stderr)
		}
	}

	node := testenv.Node(t)
	tmp := t.TempDir()
	if err := verify.WriteShim(tmp); err != nil {
		t.Fatal(err)
	}
	mod := filepath.Join(tmp, "m.wasm")
	os.WriteFile(mod, res.Wasm, 0o644)
	cmd := exec.Command(node, "--no-warnings", filepath.Join(tmp, "wasi-command.mjs"), mod)
	cmd.Stdin = bytes.NewReader(in.Data)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("node WASI: %v: %s", err, errb.String())
	}
	if !bytes.Equal(out.Bytes(), wantBytes) {
		t.Errorf("node WASI output differs from mlc_run's")
	}
	cmd = exec.Command(node, "--no-warnings", filepath.Join(tmp, "wasi-command.mjs"), mod)
	cmd.Stdin = bytes.NewReader(in.Data[:10])
	errb.Reset()
	cmd.Stderr = &errb
	if err := cmd.Run(); err == nil || !strings.Contains(errb.String(), "stdin is shorter") {
		t.Errorf("node WASI with short stdin: %v, stderr %q", err, errb.String())
	}
}

func readPB(t *testing.T, path string) *ir.Tensor {
	t.Helper()
	v, _, err := frontend.ReadTensorFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestBadInput: a truncated model, an unknown op and a wrong-size input
// each give a clear error.
func TestBadInput(t *testing.T) {
	shared := testenv.Shared(t)
	model, err := os.ReadFile(filepath.Join(shared, "models", "mnist_cntk", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = mlc.Compile(model[:len(model)/2], "", mlc.DefaultOptions())
	if err == nil || !strings.Contains(err.Error(), "truncated or corrupt") {
		t.Errorf("truncated model: got %v", err)
	}

	unknown := bytes.Replace(model, []byte("MaxPool"), []byte("MaxPoxx"), 1)
	_, err = mlc.Compile(unknown, "", mlc.DefaultOptions())
	if err == nil || !ir.IsUnsupported(err) || !strings.Contains(err.Error(), "MaxPoxx") || !strings.Contains(err.Error(), "opset 7") {
		t.Errorf("unknown op: got %v", err)
	}

	res, err := mlc.Compile(model, "", mlc.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rt, _ := host.NewRuntime(ctx, host.Config{})
	defer rt.Close(ctx)
	m, err := rt.Load(ctx, res.Wasm)
	if err != nil {
		t.Fatal(err)
	}
	name := m.Meta.Inputs[0].Name
	for _, bad := range []*ir.Tensor{
		ir.NewTensor(ir.Float32, ir.Shape{1, 1, 28, 27}),
		ir.NewTensor(ir.Float64, ir.Shape{1, 1, 28, 28}),
	} {
		_, err := m.Run(ctx, map[string]*ir.Tensor{name: bad})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("input %s: got %v, want an error naming the input", bad.Type, err)
		}
	}
	if _, err := m.Run(ctx, map[string]*ir.Tensor{}); err == nil || !strings.Contains(err.Error(), "missing input") {
		t.Errorf("no inputs: got %v", err)
	}
}

// TestDynamicInputNeedsPin: a symbolic dimension left open is a compile
// error naming the input, the dimension and the flag that pins it.
func TestDynamicInputNeedsPin(t *testing.T) {
	path := filepath.Join("testdata", "tiny_cnn", "model.onnx")
	_, err := mlc.CompileFile(path, mlc.DefaultOptions())
	if err == nil || !strings.Contains(err.Error(), `input "image"`) || !strings.Contains(err.Error(), `dimension 0 ("batch")`) || !strings.Contains(err.Error(), "--input-shape image=") {
		t.Fatalf("got %v, want an error naming the input, the dimension and --input-shape", err)
	}
	o := mlc.DefaultOptions()
	o.InputShapes = map[string]ir.Shape{"image": {3, 1, 8, 8}}
	if _, err := mlc.CompileFile(path, o); err != nil {
		t.Fatalf("with the shape pinned: %v", err)
	}
}

// TestInputValue: a module specialized on an input's value computes the
// model for that value and fails the run, with a clear error, for others.
func TestInputValue(t *testing.T) {
	shared := testenv.Shared(t)
	dir := filepath.Join(shared, "onnx-tests", "node", "test_reshape_reordered_all_dims")
	data := readPB(t, filepath.Join(dir, "test_data_set_0", "input_0.pb"))
	shape := readPB(t, filepath.Join(dir, "test_data_set_0", "input_1.pb"))
	want := readPB(t, filepath.Join(dir, "test_data_set_0", "output_0.pb"))
	if _, err := mlc.CompileFile(filepath.Join(dir, "model.onnx"), mlc.DefaultOptions()); err == nil || !strings.Contains(err.Error(), "--input-value") {
		t.Fatalf("without --input-value: got %v, want an error suggesting it", err)
	}
	o := mlc.DefaultOptions()
	o.InputValues = map[string]*ir.Tensor{"shape": shape}
	res, err := mlc.CompileFile(filepath.Join(dir, "model.onnx"), o)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rt, _ := host.NewRuntime(ctx, host.Config{})
	defer rt.Close(ctx)
	m, err := rt.Load(ctx, res.Wasm)
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Run(ctx, map[string]*ir.Tensor{"data": data, "shape": shape})
	if err != nil {
		t.Fatal(err)
	}
	if got := out[m.Meta.Outputs[0].Name]; !bytes.Equal(got.Data, want.Data) || !got.Shape.Equal(want.Shape) {
		t.Errorf("output %s differs from the expected %s", got.Type, want.Type)
	}
	other := shape.Clone()
	other.I64()[0], other.I64()[1] = other.I64()[1], other.I64()[0]
	if _, err := m.Run(ctx, map[string]*ir.Tensor{"data": data, "shape": other}); err == nil || !strings.Contains(err.Error(), "differs from the value") {
		t.Errorf("another shape value: got %v, want the run to fail", err)
	}
}
