package mlc_test

import (
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/ir"
)

// Strings cannot cross the module ABI (v1 has no string dtype and passes
// fixed-size raw bytes), so string inputs and outputs are unsupported with
// that reason; strings inside the graph work while they fold to constants.
func TestStringTensors(t *testing.T) {
	const onnxString = 8
	strs := func(s ...string) *ir.Tensor {
		x := ir.NewTensor(ir.String, ir.Shape{len(s)})
		copy(x.Strings, s)
		return x
	}
	for _, g := range []*onnxpb.GraphProto{
		{Name: cfPtr("in"), Input: []*onnxpb.ValueInfoProto{cfVI("x", onnxString, 2)},
			Node:   []*onnxpb.NodeProto{cfConst("c", strs("a", "b")), cfNode("Equal", []string{"x", "c"}, []string{"y"})},
			Output: []*onnxpb.ValueInfoProto{cfVI("y", onnxBool, 2)}},
		{Name: cfPtr("out"), Input: []*onnxpb.ValueInfoProto{cfVI("x", onnxFloat, 2)},
			Node:   []*onnxpb.NodeProto{cfConst("c", strs("a", "b")), cfNode("Identity", []string{"c"}, []string{"y"})},
			Output: []*onnxpb.ValueInfoProto{cfVI("y", onnxString, 2)}},
	} {
		_, err := mlc.Compile(cfModel(19, g), "", mlc.DefaultOptions())
		if err == nil || !ir.IsUnsupported(err) || !strings.Contains(err.Error(), "ABI v1") {
			t.Errorf("%s: got %v, want unsupported string tensors", g.GetName(), err)
		}
	}
	g := &onnxpb.GraphProto{Name: cfPtr("folded"), Input: []*onnxpb.ValueInfoProto{cfVI("x", onnxFloat, 2)},
		Node: []*onnxpb.NodeProto{cfConst("a", strs("a", "b")), cfConst("b", strs("a", "c")),
			cfNode("Equal", []string{"a", "b"}, []string{"eq"}), cfNode("Cast", []string{"eq"}, []string{"f"}, cfInt("to", onnxFloat)),
			cfNode("Mul", []string{"x", "f"}, []string{"y"})},
		Output: []*onnxpb.ValueInfoProto{cfVI("y", onnxFloat, 2)}}
	out, err := cfRun(t, cfModel(19, g), map[string]*ir.Tensor{"x": seqF32(3, 4)})
	if err != nil {
		t.Fatal(err)
	}
	cfWant(t, out, "y", ir.Shape{2}, 3, 0)
}
