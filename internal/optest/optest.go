// Package optest checks operator kernels against the reference
// interpreter: it builds one-node ONNX models, compiles them, runs the
// module on wazero and compares every output with ir's evaluation of the
// same graph. Tests use it where the ONNX backend cases leave dtypes,
// attributes or opset versions uncovered; its builders and runtime serve
// tests of hand-written graphs too. With MLC_OPTEST_DUMP=dir set, every
// module Check compiles is also written to dir (for wasm-validate).
package optest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
)

// Node describes the one node of a test model.
type Node struct {
	Op      string
	Domain  string // "" for ONNX's default domain; another is imported at version 1
	Opset   int
	Inputs  []string // names; "" for an omitted optional input
	Outputs []string // names; "" for an omitted optional output
	Attrs   []*onnxpb.AttributeProto
	// Declared are static output types the model states, for ops whose
	// output shape depends on run-time data.
	Declared map[string]ir.Type
}

// Model encodes a model whose graph is the node. runtime are the graph
// inputs fed at run time (their shapes are static); consts become
// initializers. Output types are left to inference unless declared.
func Model(n Node, runtime, consts map[string]*ir.Tensor) ([]byte, error) {
	g := &onnxpb.GraphProto{Name: proto.String("optest")}
	for _, name := range n.Inputs {
		if name == "" {
			continue
		}
		if t, ok := consts[name]; ok {
			g.Initializer = append(g.Initializer, frontend.TensorToProto(name, t))
			continue
		}
		t, ok := runtime[name]
		if !ok {
			return nil, fmt.Errorf("input %q has no tensor", name)
		}
		g.Input = append(g.Input, Value(name, t.DType, t.Shape...))
	}
	for _, name := range n.Outputs {
		if t, ok := n.Declared[name]; ok {
			g.Output = append(g.Output, Value(name, t.DType, t.Shape...))
		} else if name != "" {
			g.Output = append(g.Output, Untyped(name))
		}
	}
	np := Op(n.Op, n.Inputs, n.Outputs, n.Attrs...)
	if n.Domain != "" {
		np.Domain = &n.Domain
	}
	g.Node = []*onnxpb.NodeProto{np}
	return encode(g, n.Opset, n.Domain), nil
}

var (
	rtOnce sync.Once
	rt     *host.Runtime
	rtErr  error
)

// sharedRuntime is one wazero runtime for all tests of the process (wazero
// runtimes are safe for concurrent use), so that each test need not start
// its own.
func sharedRuntime() (*host.Runtime, error) {
	rtOnce.Do(func() { rt, rtErr = host.NewRuntime(context.Background(), host.Config{}) })
	return rt, rtErr
}

// Runtime returns the shared runtime, for tests that run modules as WASI
// commands. It is never closed.
func Runtime(t testing.TB) *host.Runtime {
	t.Helper()
	r, err := sharedRuntime()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Load instantiates a module on the shared runtime; the instance is
// closed when t ends.
func Load(t testing.TB, wasm []byte) *host.Model {
	t.Helper()
	m, err := Runtime(t).Load(context.Background(), wasm)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

// Check compiles the node's model, runs it on the runtime inputs and
// compares each output with the reference interpreter: bytes must match
// exactly, except that NaNs of float outputs may differ in payload. Each
// of opts is compiled and run in turn; without any, mlc.DefaultOptions.
func Check(t testing.TB, n Node, runtime, consts map[string]*ir.Tensor, opts ...mlc.Options) {
	t.Helper()
	if msg := Run(n, runtime, consts, opts...); msg != "" {
		t.Error(msg)
	}
}

// Run is Check returning the first mismatch ("" when all outputs match).
func Run(n Node, runtime, consts map[string]*ir.Tensor, opts ...mlc.Options) string {
	model, err := Model(n, runtime, consts)
	if err != nil {
		return err.Error()
	}
	want, err := Reference(model, runtime)
	if err != nil {
		return fmt.Sprintf("%s: reference: %v", n.Op, err)
	}
	if len(opts) == 0 {
		opts = []mlc.Options{mlc.DefaultOptions()}
	}
	for _, o := range opts {
		if msg := run(n, model, o, runtime, want); msg != "" {
			if len(opts) > 1 {
				msg = fmt.Sprintf("simd=%v O%d: %s", !o.NoSIMD, o.OptLevel, msg)
			}
			return msg
		}
	}
	return ""
}

func run(n Node, model []byte, o mlc.Options, runtime, want map[string]*ir.Tensor) string {
	res, err := mlc.Compile(model, "", o)
	if err != nil {
		return fmt.Sprintf("%s: compile: %v", n.Op, err)
	}
	if dir := os.Getenv("MLC_OPTEST_DUMP"); dir != "" {
		// Keep the modules, e.g. to run wasm-validate over them.
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s_%x.wasm", n.Op, sha256.Sum256(res.Wasm))), res.Wasm, 0o644)
	}
	ran := false
	res.Graph.Walk(func(gn *ir.Node) { ran = ran || gn.Op.OpType() == n.Op })
	if !ran {
		return fmt.Sprintf("%s folded at compile time: the test does not reach its kernel", n.Op)
	}
	r, err := sharedRuntime()
	if err != nil {
		return err.Error()
	}
	ctx := context.Background()
	mod, err := r.Load(ctx, res.Wasm)
	if err != nil {
		return fmt.Sprintf("%s: load: %v", n.Op, err)
	}
	defer mod.Close(ctx)
	got, err := hostir.Run(ctx, mod, runtime)
	if err != nil {
		return fmt.Sprintf("%s: run: %v", n.Op, err)
	}
	for _, name := range n.Outputs {
		if name == "" {
			continue
		}
		if msg := Same(got[name], want[name]); msg != "" {
			return fmt.Sprintf("%s output %s: %s", n.Op, name, msg)
		}
	}
	return ""
}

// Reference runs the model in the reference interpreter on the runtime
// inputs and returns its outputs by name.
func Reference(model []byte, runtime map[string]*ir.Tensor) (map[string]*ir.Tensor, error) {
	m, err := frontend.Import(model, "", frontend.Options{})
	if err != nil {
		return nil, err
	}
	env := ir.Env{}
	for _, v := range m.Graph.Inputs {
		env[v] = runtime[v.Name]
	}
	outs, err := ir.Run(m.Graph, env)
	if err != nil {
		return nil, err
	}
	res := map[string]*ir.Tensor{}
	for i, v := range m.Graph.Outputs {
		res[v.Name] = outs[i]
	}
	return res, nil
}

// Same compares two tensors bit for bit; NaNs of float types match any NaN.
func Same(got, want *ir.Tensor) string {
	if got == nil {
		return "missing"
	}
	if got.DType != want.DType || !got.Shape.Equal(want.Shape) {
		return fmt.Sprintf("got %s, want %s", got.Type, want.Type)
	}
	if string(got.Data) == string(want.Data) {
		return ""
	}
	for i := 0; i < want.Len(); i++ {
		if want.DType.IsFloat() {
			g, w := got.Float(i), want.Float(i)
			if math.IsNaN(g) && math.IsNaN(w) {
				continue
			}
			if g == w && math.Signbit(g) == math.Signbit(w) {
				continue
			}
			return fmt.Sprintf("element %d is %v, want %v", i, g, w)
		}
		if got.Int(i) != want.Int(i) {
			return fmt.Sprintf("element %d is %d, want %d", i, got.Int(i), want.Int(i))
		}
	}
	return ""
}
