package frontend_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/ir"
)

// batchModel is x float32[1,4] -> nodes -> y.
func batchModel(consts map[string]*ir.Tensor, nodes ...*onnxpb.NodeProto) []byte {
	g := &onnxpb.GraphProto{
		Name:   proto.String("rebatch"),
		Node:   nodes,
		Input:  []*onnxpb.ValueInfoProto{optest.Value("x", ir.Float32, 1, 4)},
		Output: []*onnxpb.ValueInfoProto{optest.Untyped("y")},
	}
	for name, t := range consts {
		g.Initializer = append(g.Initializer, frontend.TensorToProto(name, t))
	}
	return optest.GraphModel(13, g)
}

func TestRebatch(t *testing.T) {
	two := frontend.Options{InputShapes: map[string]ir.Shape{"x": {2, 4}}}
	for _, c := range []struct {
		name  string
		model []byte
		want  string // "" when re-batching works
	}{
		{"relu", batchModel(nil, optest.Op("Relu", []string{"x"}, []string{"y"})), ""},
		{"reshape -1", batchModel(map[string]*ir.Tensor{"s": ir.TensorI64(nil, -1, 2, 2)}, optest.Op("Reshape", []string{"x", "s"}, []string{"y"})), ""},
		{"reshape literal 1", batchModel(map[string]*ir.Tensor{"s": ir.TensorI64(nil, 1, 2, -1)}, optest.Op("Reshape", []string{"x", "s"}, []string{"y"})),
			`Reshape node "" reshapes to the literal shape [1,2,-1]`},
		{"first item", batchModel(map[string]*ir.Tensor{"st": ir.TensorI64(nil, 0), "en": ir.TensorI64(nil, 1), "ax": ir.TensorI64(nil, 0)},
			optest.Op("Slice", []string{"x", "st", "en", "ax"}, []string{"y"})), `output "y" is [1,4] at batch 1 but [1,4] at batch 2, not [2,4]`},
	} {
		m, err := frontend.Import(c.model, "", two)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want == "" && !m.Graph.Outputs[0].Type.Shape.Equal(ir.Shape{2, 4}) && m.Graph.Outputs[0].Type.Shape[0] != 2:
			t.Errorf("%s: output %s", c.name, m.Graph.Outputs[0].Type)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "not possible")):
			t.Errorf("%s: got %v, want an error with %q", c.name, err, c.want)
		}
	}
	// Only a first dimension of 1 may change.
	_, err := frontend.Import(batchModel(nil, optest.Op("Relu", []string{"x"}, []string{"y"})), "", frontend.Options{InputShapes: map[string]ir.Shape{"x": {1, 5}}})
	if err == nil || !strings.Contains(err.Error(), "only a first dimension of 1 may change") {
		t.Errorf("dimension 1: %v", err)
	}
}
