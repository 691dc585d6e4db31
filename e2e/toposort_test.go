package e2e_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/ir"
)

// TestNodesOutOfOrder: a graph whose nodes are not in topological order
// (onnxconverter-common's float16 conversion appends the Cast of each
// graph input after its readers) imports sorted, as ONNX Runtime does.
// The If's branch captures a value a later node computes.
func TestNodesOutOfOrder(t *testing.T) {
	then := &onnxpb.GraphProto{Name: proto.String("then"), Node: []*onnxpb.NodeProto{optest.Op("Add", []string{"h", "h"}, []string{"t_out"})}, Output: []*onnxpb.ValueInfoProto{optest.Unshaped("t_out", ir.Float32)}}
	els := &onnxpb.GraphProto{Name: proto.String("else"), Node: []*onnxpb.NodeProto{optest.Op("Neg", []string{"h"}, []string{"e_out"})}, Output: []*onnxpb.ValueInfoProto{optest.Unshaped("e_out", ir.Float32)}}
	g := &onnxpb.GraphProto{
		Name: proto.String("unsorted"),
		Node: []*onnxpb.NodeProto{
			optest.Op("If", []string{"c"}, []string{"y"}, optest.Graph("then_branch", then), optest.Graph("else_branch", els)),
			optest.Op("Relu", []string{"x16to32"}, []string{"h"}),
			optest.Op("Cast", []string{"x"}, []string{"x16"}, optest.DType("to", ir.Float16)),
			optest.Op("Cast", []string{"x16"}, []string{"x16to32"}, optest.DType("to", ir.Float32)),
		},
		Input:  []*onnxpb.ValueInfoProto{optest.Value("x", ir.Float32, 3), optest.Value("c", ir.Bool)},
		Output: []*onnxpb.ValueInfoProto{optest.Value("y", ir.Float32, 3)},
	}
	x := ir.TensorF32(ir.Shape{3}, -1, 2, 3)
	out, err := runModel(t, optest.GraphModel(13, g), tensors{"x": x, "c": boolScalar(true)})
	if err != nil {
		t.Fatal(err)
	}
	wantFloats(t, out, "y", ir.Shape{3}, 0, 4, 6)
	out, err = runModel(t, optest.GraphModel(13, g), tensors{"x": x, "c": boolScalar(false)})
	if err != nil {
		t.Fatal(err)
	}
	wantFloats(t, out, "y", ir.Shape{3}, 0, -2, -3)
}
