package frontend_test

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/ir"
)

func node(op string, in, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: proto.String(op), Input: in, Output: out, Attribute: attrs}
}

func tensorValue(name string, dt ir.DType, dims ...int64) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	elem := frontend.DTypeToONNX(dt)
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: &elem, Shape: shape},
	}}}
}

func graphAttr(name string, g *onnxpb.GraphProto) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: g}
}

// TestNodesOutOfOrder: a graph whose nodes are not in topological order
// (onnxconverter-common's float16 conversion appends the Cast of each
// graph input after its readers) imports sorted, as ONNX Runtime does,
// and computes what the model says. The If's branches capture a value a
// later node computes. (Moved here from the end-to-end tests: it tests the
// import.)
func TestNodesOutOfOrder(t *testing.T) {
	to := func(dt ir.DType) *onnxpb.AttributeProto {
		v := int64(frontend.DTypeToONNX(dt))
		return &onnxpb.AttributeProto{Name: proto.String("to"), Type: onnxpb.AttributeProto_INT.Enum(), I: &v}
	}
	branch := func(name, op string, in ...string) *onnxpb.GraphProto {
		return &onnxpb.GraphProto{Name: proto.String(name), Node: []*onnxpb.NodeProto{node(op, in, []string{name + "_out"})},
			Output: []*onnxpb.ValueInfoProto{tensorValue(name+"_out", ir.Float32, 3)}}
	}
	g := &onnxpb.GraphProto{
		Name: proto.String("unsorted"),
		Node: []*onnxpb.NodeProto{
			node("If", []string{"c"}, []string{"y"}, graphAttr("then_branch", branch("then", "Add", "h", "h")), graphAttr("else_branch", branch("else", "Neg", "h"))),
			node("Relu", []string{"x16to32"}, []string{"h"}),
			node("Cast", []string{"x"}, []string{"x16"}, to(ir.Float16)),
			node("Cast", []string{"x16"}, []string{"x16to32"}, to(ir.Float32)),
		},
		Input:  []*onnxpb.ValueInfoProto{tensorValue("x", ir.Float32, 3), tensorValue("c", ir.Bool)},
		Output: []*onnxpb.ValueInfoProto{tensorValue("y", ir.Float32, 3)},
	}
	mp := &onnxpb.ModelProto{IrVersion: proto.Int64(10), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}}}
	m, err := frontend.ImportProto(mp, "", frontend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(m.Graph); err != nil {
		t.Fatalf("the import is not in order: %v\n%s", err, m.Graph)
	}
	x := ir.TensorF32(ir.Shape{3}, -1, 2, 3)
	for _, tc := range []struct {
		cond bool
		want []float64
	}{{true, []float64{0, 4, 6}}, {false, []float64{0, -2, -3}}} {
		c := ir.NewTensor(ir.Bool, ir.Shape{})
		if tc.cond {
			c.Data[0] = 1
		}
		env := ir.Env{}
		for _, v := range m.Graph.Inputs {
			env[v] = map[string]*ir.Tensor{"x": x, "c": c}[v.Name]
		}
		out, err := ir.Run(m.Graph, env)
		if err != nil {
			t.Fatal(err)
		}
		if got := out[0].Floats(); !slices.Equal(got, tc.want) {
			t.Errorf("c=%v: y = %v, want %v", tc.cond, got, tc.want)
		}
	}
}

// TestNodesOnACycle: nodes that read each other cannot be ordered; the
// import names the input that nothing before them defines.
func TestNodesOnACycle(t *testing.T) {
	g := &onnxpb.GraphProto{
		Name: proto.String("cycle"),
		Node: []*onnxpb.NodeProto{
			node("Add", []string{"x", "b"}, []string{"a"}),
			node("Neg", []string{"a"}, []string{"b"}),
		},
		Input:  []*onnxpb.ValueInfoProto{tensorValue("x", ir.Float32, 3)},
		Output: []*onnxpb.ValueInfoProto{tensorValue("b", ir.Float32, 3)},
	}
	mp := &onnxpb.ModelProto{IrVersion: proto.Int64(10), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}}}
	_, err := frontend.ImportProto(mp, "", frontend.Options{})
	if err == nil || !strings.Contains(err.Error(), `"b"`) {
		t.Errorf("import of a cycle: %v, want an error naming b", err)
	}
}
