package e2e_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/ir"
)

// Strings cannot cross the module ABI (v1 has no string dtype and passes
// fixed-size raw bytes), so string inputs and outputs are unsupported with
// that reason; strings inside the graph work while they fold to constants.
func TestStringTensors(t *testing.T) {
	strs := func(s ...string) *ir.Tensor {
		x := ir.NewTensor(ir.String, ir.Shape{len(s)})
		copy(x.Strings, s)
		return x
	}
	for _, g := range []*onnxpb.GraphProto{
		{Name: proto.String("in"), Input: []*onnxpb.ValueInfoProto{optest.Value("x", ir.String, 2)},
			Node:   []*onnxpb.NodeProto{optest.Const("c", strs("a", "b")), optest.Op("Equal", []string{"x", "c"}, []string{"y"})},
			Output: []*onnxpb.ValueInfoProto{optest.Value("y", ir.Bool, 2)}},
		{Name: proto.String("out"), Input: []*onnxpb.ValueInfoProto{optest.Value("x", ir.Float32, 2)},
			Node:   []*onnxpb.NodeProto{optest.Const("c", strs("a", "b")), optest.Op("Identity", []string{"c"}, []string{"y"})},
			Output: []*onnxpb.ValueInfoProto{optest.Value("y", ir.String, 2)}},
	} {
		_, err := mlc.Compile(optest.GraphModel(19, g), "", mlc.DefaultOptions())
		if err == nil || !ir.IsUnsupported(err) || !strings.Contains(err.Error(), "ABI v1") {
			t.Errorf("%s: got %v, want unsupported string tensors", g.GetName(), err)
		}
	}
	g := &onnxpb.GraphProto{Name: proto.String("folded"), Input: []*onnxpb.ValueInfoProto{optest.Value("x", ir.Float32, 2)},
		Node: []*onnxpb.NodeProto{optest.Const("a", strs("a", "b")), optest.Const("b", strs("a", "c")),
			optest.Op("Equal", []string{"a", "b"}, []string{"eq"}), optest.Op("Cast", []string{"eq"}, []string{"f"}, optest.DType("to", ir.Float32)),
			optest.Op("Mul", []string{"x", "f"}, []string{"y"})},
		Output: []*onnxpb.ValueInfoProto{optest.Value("y", ir.Float32, 2)}}
	out, err := runModel(t, optest.GraphModel(19, g), tensors{"x": vecF32(3, 4)})
	if err != nil {
		t.Fatal(err)
	}
	wantFloats(t, out, "y", ir.Shape{2}, 3, 0)
}
