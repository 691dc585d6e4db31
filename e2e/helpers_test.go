package e2e_test

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/verify"
)

// Helpers shared by the tests of hand-written models; the ONNX builders
// are optest's.

type tensors = map[string]*ir.Tensor

// runModel compiles the model, checks it with wasm-validate and runs it on
// wazero; every output must also agree bit for bit with the reference
// interpreter's. Errors of compiling or running are returned.
func runModel(t *testing.T, model []byte, in tensors) (tensors, error) {
	t.Helper()
	res, err := mlc.Compile(model, "", mlc.DefaultOptions())
	if err != nil {
		return nil, err
	}
	testenv.Validate(t, res.Wasm)
	out, err := hostir.Run(context.Background(), optest.Load(t, res.Wasm), in)
	if err != nil {
		return nil, err
	}
	want, err := optest.Reference(model, in)
	if err != nil {
		t.Fatalf("interpreter: %v", err)
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if msg := optest.Same(out[name], want[name]); msg != "" {
			t.Errorf("output %s: Wasm and the interpreter differ: %s", name, msg)
		}
	}
	return out, nil
}

// wantFloats checks an output against a shape and values worked out by hand.
func wantFloats(t *testing.T, out tensors, name string, shape ir.Shape, vals ...float64) {
	t.Helper()
	got := out[name]
	if got == nil {
		t.Fatalf("no output %s", name)
	}
	if !got.Shape.Equal(shape) || !slices.Equal(got.Floats(), vals) {
		t.Errorf("%s = %v%v, want %v%v", name, got.Shape, got.Floats(), shape, vals)
	}
}

func i64(v int64) *ir.Tensor { return ir.TensorI64(ir.Shape{}, v) }

func boolScalar(b bool) *ir.Tensor {
	t := ir.NewTensor(ir.Bool, ir.Shape{})
	if b {
		t.Data[0] = 1
	}
	return t
}

func vecF32(vals ...float32) *ir.Tensor { return ir.TensorF32(ir.Shape{len(vals)}, vals...) }

// readModel reads and decodes a case folder's model.onnx.
func readModel(t *testing.T, dir string) ([]byte, *onnxpb.ModelProto) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	mp, err := frontend.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return data, mp
}

// readPB reads a TensorProto file of the ONNX test layout.
func readPB(t *testing.T, path string) *ir.Tensor {
	t.Helper()
	v, _, err := frontend.ReadTensorFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// runners starts a wazero runner and a Node runner (closed when t ends).
func runners(t *testing.T) (*verify.WazeroRunner, *verify.NodeRunner) {
	t.Helper()
	testenv.Node(t)
	wz, err := verify.NewWazeroRunner(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	nr, err := verify.NewNodeRunner()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nr.Close)
	return wz, nr
}
