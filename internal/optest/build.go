package optest

import (
	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/ir"
)

// Builders of ONNX protos, for tests that write graphs by hand.

// Int, Ints, Float, Floats, String, Strings, DType and Graph build
// attributes.
func Int(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: &name, Type: onnxpb.AttributeProto_INT.Enum(), I: &v}
}

func Ints(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: &name, Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

func Float(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: &name, Type: onnxpb.AttributeProto_FLOAT.Enum(), F: &v}
}

func Floats(name string, v ...float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: &name, Type: onnxpb.AttributeProto_FLOATS.Enum(), Floats: v}
}

func String(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: &name, Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

func Strings(name string, v ...string) *onnxpb.AttributeProto {
	a := &onnxpb.AttributeProto{Name: &name, Type: onnxpb.AttributeProto_STRINGS.Enum()}
	for _, s := range v {
		a.Strings = append(a.Strings, []byte(s))
	}
	return a
}

// DType is an int attribute holding dt's ONNX code (Cast's to, ...).
func DType(name string, dt ir.DType) *onnxpb.AttributeProto {
	return Int(name, int64(frontend.DTypeToONNX(dt)))
}

func Graph(name string, g *onnxpb.GraphProto) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: &name, Type: onnxpb.AttributeProto_GRAPH.Enum(), G: g}
}

// Op builds a node; "" among inputs or outputs omits an optional one.
func Op(op string, inputs, outputs []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: &op, Input: inputs, Output: outputs, Attribute: attrs}
}

// Const builds a Constant node holding t.
func Const(name string, t *ir.Tensor) *onnxpb.NodeProto {
	value := &onnxpb.AttributeProto{Name: proto.String("value"), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: frontend.TensorToProto(name, t)}
	return Op("Constant", nil, []string{name}, value)
}

// Value declares a value of static shape (a scalar without dims).
func Value(name string, dt ir.DType, dims ...int) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
	}
	vi := Unshaped(name, dt)
	vi.Type.GetTensorType().Shape = shape
	return vi
}

// Unshaped declares a tensor value whose shape is left to inference.
func Unshaped(name string, dt ir.DType) *onnxpb.ValueInfoProto {
	elem := frontend.DTypeToONNX(dt)
	return &onnxpb.ValueInfoProto{Name: &name, Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: &elem},
	}}}
}

// Untyped names a value and leaves its type to inference.
func Untyped(name string) *onnxpb.ValueInfoProto {
	return &onnxpb.ValueInfoProto{Name: &name}
}

// GraphModel encodes a model of g importing ONNX's default domain at opset.
func GraphModel(opset int, g *onnxpb.GraphProto) []byte {
	return encode(g, opset, "")
}

// encode also imports domain (when not "") at version 1. A valid proto2
// message always marshals, so an error is a bug in the test.
func encode(g *onnxpb.GraphProto, opset int, domain string) []byte {
	m := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(10),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(int64(opset))}},
		Graph:       g,
	}
	if domain != "" {
		m.OpsetImport = append(m.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: &domain, Version: proto.Int64(1)})
	}
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}
