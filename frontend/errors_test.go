package frontend_test

import (
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/ir"
)

// Import errors that tell the user what to do (moved here from the
// end-to-end tests: they test the import).

// TestDynamicInputNeedsPin: a symbolic dimension left open is an error
// naming the input, the dimension and the flag that pins it.
func TestDynamicInputNeedsPin(t *testing.T) {
	path := filepath.Join("..", "testdata", "tiny_cnn", "model.onnx")
	_, err := frontend.Load(path, frontend.Options{})
	if err == nil || !ir.IsUnsupported(err) || !strings.Contains(err.Error(), `input "image"`) || !strings.Contains(err.Error(), `dimension 0 ("batch")`) || !strings.Contains(err.Error(), "--input-shape image=") {
		t.Fatalf("got %v, want an error naming the input, the dimension and --input-shape", err)
	}
	m, err := frontend.Load(path, frontend.Options{InputShapes: map[string]ir.Shape{"image": {3, 1, 8, 8}}})
	if err != nil {
		t.Fatalf("with the shape pinned: %v", err)
	}
	if got := m.Graph.Inputs[0].Type.Shape; !got.Equal(ir.Shape{3, 1, 8, 8}) {
		t.Errorf("pinned input shape %s", got)
	}
}

// TestSliceRunTimeBoundsUnsupported: without a declared shape, bounds that
// do not differ by a constant stay a NotConstant error.
func TestSliceRunTimeBoundsUnsupported(t *testing.T) {
	g := &onnxpb.GraphProto{
		Name:   proto.String("bad"),
		Input:  []*onnxpb.ValueInfoProto{tensorValue("x", ir.Float32, 9), tensorValue("s", ir.Int64, 1), tensorValue("e", ir.Int64, 1)},
		Node:   []*onnxpb.NodeProto{node("Slice", []string{"x", "s", "e"}, []string{"y"})},
		Output: []*onnxpb.ValueInfoProto{{Name: proto.String("y")}},
	}
	mp := &onnxpb.ModelProto{IrVersion: proto.Int64(10), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}}}
	_, err := frontend.ImportProto(mp, "", frontend.Options{})
	if err == nil || !ir.IsUnsupported(err) || !strings.Contains(err.Error(), "Slice's starts") {
		t.Errorf("got %v, want the unsupported run-time starts error", err)
	}
}
