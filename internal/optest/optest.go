// Package optest checks operator kernels against the reference
// interpreter: it builds one-node ONNX models, compiles them, runs the
// module on wazero and compares every output with ir's evaluation of the
// same graph. Tests use it where the ONNX backend cases leave dtypes,
// attributes or opset versions uncovered. With MLC_OPTEST_DUMP=dir set,
// every compiled module is also written to dir (for wasm-validate).
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
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
)

// Node describes the one node of a test model.
type Node struct {
	Op      string
	Opset   int
	Inputs  []string // names; "" for an omitted optional input
	Outputs []string
	Attrs   []*onnxpb.AttributeProto
}

// Int, Ints, Float and String build attributes.
func Int(name string, v int64) *onnxpb.AttributeProto {
	t := onnxpb.AttributeProto_INT
	return &onnxpb.AttributeProto{Name: &name, Type: &t, I: &v}
}

func Ints(name string, v ...int64) *onnxpb.AttributeProto {
	t := onnxpb.AttributeProto_INTS
	return &onnxpb.AttributeProto{Name: &name, Type: &t, Ints: v}
}

func Float(name string, v float32) *onnxpb.AttributeProto {
	t := onnxpb.AttributeProto_FLOAT
	return &onnxpb.AttributeProto{Name: &name, Type: &t, F: &v}
}

func String(name, v string) *onnxpb.AttributeProto {
	t := onnxpb.AttributeProto_STRING
	return &onnxpb.AttributeProto{Name: &name, Type: &t, S: []byte(v)}
}

// Model encodes a model whose graph is the node. runtime are the graph
// inputs fed at run time (their shapes are static); consts become
// initializers. Output types are left to inference.
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
		g.Input = append(g.Input, ValueInfo(name, t.Type))
	}
	for _, name := range n.Outputs {
		if name != "" {
			g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: proto.String(name)})
		}
	}
	g.Node = []*onnxpb.NodeProto{{OpType: proto.String(n.Op), Input: n.Inputs, Output: n.Outputs, Attribute: n.Attrs}}
	m := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(10),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(int64(n.Opset))}},
		Graph:       g,
	}
	return proto.Marshal(m)
}

// ValueInfo describes a tensor of static type t for a model's inputs and outputs.
func ValueInfo(name string, t ir.Type) *onnxpb.ValueInfoProto {
	var dims []*onnxpb.TensorShapeProto_Dimension
	for _, d := range t.Shape {
		dims = append(dims, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
	}
	elem := frontend.DTypeToONNX(t.DType)
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: &elem, Shape: &onnxpb.TensorShapeProto{Dim: dims}},
	}}}
}

var (
	rtOnce sync.Once
	rt     *host.Runtime
	rtErr  error
)

// Check compiles the node's model, runs it on the runtime inputs and
// compares each output with the reference interpreter: bytes must match
// exactly, except that NaNs of float outputs may differ in payload.
func Check(t testing.TB, n Node, runtime, consts map[string]*ir.Tensor) {
	t.Helper()
	if msg := Run(n, runtime, consts); msg != "" {
		t.Error(msg)
	}
}

// Run is Check returning the first mismatch ("" when all outputs match).
func Run(n Node, runtime, consts map[string]*ir.Tensor) string {
	model, err := Model(n, runtime, consts)
	if err != nil {
		return err.Error()
	}
	want, err := reference(model, runtime)
	if err != nil {
		return fmt.Sprintf("%s: reference: %v", n.Op, err)
	}
	res, err := mlc.Compile(model, "", mlc.DefaultOptions())
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
	ctx := context.Background()
	rtOnce.Do(func() { rt, rtErr = host.NewRuntime(ctx, host.Config{}) })
	if rtErr != nil {
		return rtErr.Error()
	}
	mod, err := rt.Load(ctx, res.Wasm)
	if err != nil {
		return fmt.Sprintf("%s: load: %v", n.Op, err)
	}
	defer mod.Close(ctx)
	got, err := mod.Run(ctx, runtime)
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

func reference(model []byte, runtime map[string]*ir.Tensor) (map[string]*ir.Tensor, error) {
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
