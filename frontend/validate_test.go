package frontend_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/ir"
)

// graph makes a graph of nodes over a float32[2,3] input x and b, with y
// as output.
func testGraph(nodes ...*onnxpb.NodeProto) *onnxpb.GraphProto {
	return &onnxpb.GraphProto{
		Name:   proto.String("g"),
		Input:  []*onnxpb.ValueInfoProto{optest.Value("x", ir.Float32, 2, 3), optest.Value("b", ir.Float32, 2, 3)},
		Output: []*onnxpb.ValueInfoProto{optest.Unshaped("y", ir.Float32)},
		Node:   nodes,
	}
}

func importErr(t *testing.T, model []byte) error {
	t.Helper()
	_, err := frontend.Import(model, "", frontend.Options{})
	if err != nil && (strings.Contains(err.Error(), "panic") || strings.Contains(err.Error(), "goroutine ") || ir.IsInternal(err)) {
		t.Errorf("a malformed model must get a clean error, got: %v", err)
	}
	return err
}

// Issue 13: graphs that break ONNX's rules compiled (the last definition
// of a name silently won, a duplicate input or an opset of 10^9 passed),
// and nodes with too few or too many inputs reached shape inference and
// panicked. The frontend checks them the way onnx.checker does.
func TestInvalidModelsRefused(t *testing.T) {
	op := optest.Op
	withAttr := func(n *onnxpb.NodeProto, a *onnxpb.AttributeProto) *onnxpb.NodeProto {
		n.Attribute = append(n.Attribute, a)
		return n
	}
	dupInput := testGraph(op("Add", []string{"x", "b"}, []string{"y"}))
	dupInput.Input = append(dupInput.Input, optest.Value("x", ir.Float32, 2, 3))
	floatAxis := &onnxpb.AttributeProto{Name: proto.String("axis"), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(1)}
	noValue := &onnxpb.AttributeProto{Name: proto.String("value"), Type: onnxpb.AttributeProto_TENSOR.Enum()}
	untyped := &onnxpb.AttributeProto{Name: proto.String("axis"), I: proto.Int64(1)}
	for _, tc := range []struct {
		name  string
		opset int
		g     *onnxpb.GraphProto
		want  string
	}{
		{"duplicate node output", 13, testGraph(op("Add", []string{"x", "b"}, []string{"y"}), op("Sub", []string{"x", "b"}, []string{"y"})), "already defined"},
		{"node output names an input", 13, testGraph(op("Relu", []string{"x"}, []string{"b"}), op("Add", []string{"x", "b"}, []string{"y"})), "already defined"},
		{"duplicate graph input", 13, dupInput, "listed twice"},
		{"opset 10^9", 1e9, testGraph(op("Add", []string{"x", "b"}, []string{"y"})), "newer than any mlc knows"},
		{"opset 0", 0, testGraph(op("Add", []string{"x", "b"}, []string{"y"})), "version 0"},
		{"Add with 1 input", 13, testGraph(op("Add", []string{"x"}, []string{"y"})), "Add-13 takes 2 inputs, the node has 1"},
		{"Add with 3 inputs", 13, testGraph(op("Add", []string{"x", "b", "b"}, []string{"y"})), "takes 2 inputs"},
		{"Relu with none", 13, testGraph(op("Relu", nil, []string{"y"})), "Relu-13 takes 1 input, the node has 0"},
		{"Softmax with none", 13, testGraph(op("Softmax", nil, []string{"y"})), "Softmax-13 takes 1 input,"},
		{"Split with none", 18, testGraph(op("Split", nil, []string{"y"})), "Split-18 takes 1 to 2 inputs"},
		{"Relu with no output", 13, testGraph(op("Relu", []string{"x"}, nil), op("Add", []string{"x", "b"}, []string{"y"})), "takes 1 output, the node has 0"},
		{"empty required input", 13, testGraph(op("Add", []string{"", "b"}, []string{"y"})), "input 0 of Add-13 is required but empty"},
		{"attribute of the wrong type", 13, testGraph(withAttr(op("Softmax", []string{"x"}, []string{"y"}), floatAxis)), `attribute "axis" is FLOAT, Softmax-13 defines it as INT`},
		{"attribute without its value", 13, testGraph(withAttr(op("Constant", nil, []string{"y"}), noValue)), "holds no such value"},
		{"attribute without a type", 13, testGraph(withAttr(op("Softmax", []string{"x"}, []string{"y"}), untyped)), "has no type"},
		{"attribute the op does not define", 13, testGraph(withAttr(op("Relu", []string{"x"}, []string{"y"}), optest.Int("axis", 1))), `Relu-13 has no attribute "axis"`},
		{"empty variadic input", 13, testGraph(withAttr(op("Concat", []string{"x", "", "b"}, []string{"y"}), optest.Int("axis", 0))), "variadic inputs"},
		{"required attribute missing", 13, testGraph(op("Cast", []string{"x"}, []string{"y"})), `Cast-13 needs attribute "to"`},
	} {
		err := importErr(t, optest.GraphModel(tc.opset, tc.g))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
}

// Issue 13: a model without opset_import panicked in reference evaluation
// (lstm_classifier's /lstm/Concat); since IR version 3 it is invalid.
func TestMissingOpsetImport(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testenv.Shared(t), "models", "lstm_classifier", "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	mp, err := frontend.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	mp.OpsetImport = nil
	model, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	if err := importErr(t, model); err == nil || !strings.Contains(err.Error(), "no opset_import") {
		t.Errorf("error %v, want one saying the model has no opset_import", err)
	}
	// An IR version 2 model has none and means opset 1.
	old := &onnxpb.ModelProto{IrVersion: proto.Int64(2), Graph: testGraph(op1("Add", "x", "b"))}
	model, err = proto.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	if err := importErr(t, model); err != nil {
		t.Errorf("IR version 2 without opset_import: %v", err)
	}
}

func op1(op string, inputs ...string) *onnxpb.NodeProto {
	return optest.Op(op, inputs, []string{"y"})
}
