package e2e_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/ir"
)

// hostileModel is a small model that asks the compiler for far more than
// it is worth, or that breaks ONNX's rules; want is part of the clean error
// it must get.
type hostileModel struct {
	name  string
	model []byte
	want  string
}

// oneNode is a model of one node over x (float32 of the given shape) with
// constant inputs, and output y.
func oneNode(opset int, x ir.Type, n *onnxpb.NodeProto, consts map[string]*ir.Tensor) []byte {
	g := &onnxpb.GraphProto{Name: proto.String("hostile"), Input: []*onnxpb.ValueInfoProto{optest.Value("x", x.DType, x.Shape...)}}
	for _, name := range n.Input {
		if t, ok := consts[name]; ok {
			g.Initializer = append(g.Initializer, frontend.TensorToProto(name, t))
		}
	}
	g.Node = []*onnxpb.NodeProto{n}
	g.Output = []*onnxpb.ValueInfoProto{optest.Untyped("y")}
	return optest.GraphModel(opset, g)
}

func hostileModels(t *testing.T) []hostileModel {
	f32 := func(dims ...int) ir.Type { return ir.Type{DType: ir.Float32, Shape: dims} }
	op := optest.Op
	resize := func(mode string, scales []float32, sizes []int64) []byte {
		in := []string{"x", "", "scales"}
		consts := map[string]*ir.Tensor{"scales": ir.TensorF32(ir.Shape{len(scales)}, scales...)}
		if sizes != nil {
			in = []string{"x", "", "", "sizes"}
			consts = map[string]*ir.Tensor{"sizes": ir.TensorI64(nil, sizes...)}
		}
		return oneNode(13, f32(1, 1, 2, 2), op("Resize", in, []string{"y"}, optest.String("mode", mode)), consts)
	}
	sparse := &onnxpb.ModelProto{IrVersion: proto.Int64(8), OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(13)}},
		Graph: &onnxpb.GraphProto{
			Name: proto.String("sparse"),
			SparseInitializer: []*onnxpb.SparseTensorProto{{
				Values:  frontend.TensorToProto("w", ir.TensorF32(ir.Shape{1}, 1)),
				Indices: frontend.TensorToProto("i", ir.TensorI64(nil, 5)),
				Dims:    []int64{1 << 31},
			}},
			Node:   []*onnxpb.NodeProto{op("Identity", []string{"w"}, []string{"y"})},
			Output: []*onnxpb.ValueInfoProto{optest.Untyped("y")},
		}}
	sparseModel, err := proto.Marshal(sparse)
	if err != nil {
		t.Fatal(err)
	}
	return []hostileModel{
		// Issue 13: these died with "fatal error: out of memory".
		{"resize scales 1e9", resize("nearest", []float32{1, 1, 1e9, 1e9}, nil), "too large"},
		{"resize sizes 2^40", resize("nearest", nil, []int64{1, 1, 1 << 40, 1}), "too large"},
		{"resize sizes 1e9", resize("linear", nil, []int64{1, 1, 1e9, 1}), "compiler's budget"},
		{"resize scales 3e8 cubic", resize("cubic", []float32{1, 1, 3e8, 1}, nil), "compiler's budget"},
		{"edge pad of 1e9", oneNode(13, ir.Type{DType: ir.Uint8, Shape: ir.Shape{2}}, op("Pad", []string{"x", "pads"}, []string{"y"}, optest.String("mode", "edge")),
			map[string]*ir.Tensor{"pads": ir.TensorI64(nil, 0, 1e9)}), "compiler's budget"},
		{"sparse initializer of 2^31 floats", sparseModel, "compiler's budget"},
		{"ConstantOfShape 2^40", oneNode(13, f32(1), op("ConstantOfShape", []string{"shape"}, []string{"y"}), map[string]*ir.Tensor{"shape": ir.TensorI64(nil, 1<<40)}), "too large"},
		// The first 10-minute FuzzMutate run: an RNN over a sequence of
		// 2^62 steps (an input's declared dimension, no node output that
		// large) ran the compiler out of memory in its matmul tiling.
		{"RNN over 2^62 steps", oneNode(14, f32(1<<62, 3, 3), op("RNN", []string{"x", "w", "r"}, []string{"", "y"}, optest.Int("hidden_size", 5)),
			map[string]*ir.Tensor{"w": ir.TensorF32(ir.Shape{1, 5, 3}, make([]float32, 15)...), "r": ir.TensorF32(ir.Shape{1, 5, 5}, make([]float32, 25)...)}), "too large"},
		{"Expand to 2^20 x 2^20", oneNode(13, f32(1), op("Expand", []string{"x", "shape"}, []string{"y"}), map[string]*ir.Tensor{"shape": ir.TensorI64(nil, 1<<20, 1<<20)}), "too large"},
		// Issue 13: malformed nodes panicked in shape inference, and the
		// CLI printed the Go stack trace.
		{"Add with one input", oneNode(13, f32(2), op("Add", []string{"x"}, []string{"y"}), nil), "invalid node"},
		{"Softmax with none", oneNode(13, f32(2), op("Softmax", nil, []string{"y"}), nil), "invalid node"},
	}
}

// cleanError checks that err is a clean compile error: present, not an
// internal error, and free of Go panics and stack traces.
func cleanError(t *testing.T, what string, err error, want string) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s: compiled", what)
	case ir.IsInternal(err) || strings.Contains(err.Error(), "goroutine ") || strings.Contains(err.Error(), "panic"):
		t.Errorf("%s: not a clean error: %v", what, err)
	case !strings.Contains(err.Error(), want):
		t.Errorf("%s: error %q, want one saying %q", what, err, want)
	}
}

// TestHostileModels: every compile-time allocation whose size a model
// states is checked first, and fails with an error naming the node.
func TestHostileModels(t *testing.T) {
	for _, h := range hostileModels(t) {
		_, err := mlc.Compile(h.model, "", mlc.DefaultOptions())
		cleanError(t, h.name, err, h.want)
	}
}

// buildCLI builds cmd/mlc into a temporary folder.
func buildCLI(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mlc")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/mlc")
	cmd.Dir = testenv.Root()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestHostileModelsUnderMemoryCap runs the CLI on the hostile models with
// its address space capped at 2 GiB (prlimit --as): each must end with a
// clean error, not an out-of-memory death, a panic or a stack trace.
func TestHostileModelsUnderMemoryCap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI")
	}
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		testenv.Missing(t, "prlimit (util-linux) is not on PATH")
	}
	bin := buildCLI(t)
	dir := t.TempDir()
	for _, h := range hostileModels(t) {
		path := filepath.Join(dir, strings.ReplaceAll(h.name, " ", "_")+".onnx")
		if err := os.WriteFile(path, h.model, 0o644); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(prlimit, "--as=2147483648", bin, "compile", path, "-o", filepath.Join(dir, "out.wasm"))
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		out := stdout.String() + stderr.String()
		ee, ok := err.(*exec.ExitError)
		switch {
		case err == nil:
			t.Errorf("%s: compiled", h.name)
		case !ok || !ee.Exited():
			t.Errorf("%s: the CLI died: %v\n%s", h.name, err, out)
		case strings.Contains(out, "goroutine ") || strings.Contains(out, "fatal error") || strings.Contains(out, "panic") || strings.Contains(out, "internal error"):
			t.Errorf("%s: not a clean error:\n%s", h.name, out)
		case !strings.HasPrefix(stderr.String(), "mlc: ") || !strings.Contains(out, h.want):
			t.Errorf("%s: output %q, want an error saying %q", h.name, out, h.want)
		}
	}
}
