// Command gentestdata writes the project's own small test models into
// testdata/ (run from the repository root: go run ./internal/gentestdata).
// Weights come from a fixed-seed generator, so the files are reproducible.
package main

import (
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/ir"
)

func main() {
	if err := tinyCNN(filepath.Join("testdata", "tiny_cnn")); err != nil {
		log.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

func randTensor(r *rand.Rand, name string, scale float32, shape ...int) *onnxpb.TensorProto {
	t := ir.NewTensor(ir.Float32, ir.Shape(shape))
	for i := range t.F32() {
		t.F32()[i] = (r.Float32()*2 - 1) * scale
	}
	return frontend.TensorToProto(name, t)
}

func attrInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: ptr(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

func attrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: ptr(name), Type: onnxpb.AttributeProto_INT.Enum(), I: ptr(v)}
}

func node(op string, in, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: ptr(op), Name: ptr(op + "_" + out[0]), Input: in, Output: out, Attribute: attrs}
}

func tensorType(dims ...any) *onnxpb.TypeProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		switch d := d.(type) {
		case int:
			shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
		case string:
			shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d}})
		}
	}
	return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: ptr(int32(1)), Shape: shape}}}
}

// tinyCNN is a digit-classifier-shaped network on 8x8 images with a
// symbolic batch dimension: Conv-Relu-MaxPool-Flatten-Gemm-Softmax.
func tinyCNN(dir string) error {
	r := rand.New(rand.NewPCG(1, 2))
	g := &onnxpb.GraphProto{
		Name: ptr("tiny_cnn"),
		Initializer: []*onnxpb.TensorProto{
			randTensor(r, "conv.w", 0.5, 4, 1, 3, 3),
			randTensor(r, "conv.b", 0.1, 4),
			randTensor(r, "fc.w", 0.3, 10, 64),
			randTensor(r, "fc.b", 0.1, 10),
		},
		Node: []*onnxpb.NodeProto{
			node("Conv", []string{"image", "conv.w", "conv.b"}, []string{"conv"}, attrInts("pads", 1, 1, 1, 1), attrInts("kernel_shape", 3, 3)),
			node("Relu", []string{"conv"}, []string{"relu"}),
			node("MaxPool", []string{"relu"}, []string{"pool"}, attrInts("kernel_shape", 2, 2), attrInts("strides", 2, 2)),
			node("Flatten", []string{"pool"}, []string{"flat"}, attrInt("axis", 1)),
			node("Gemm", []string{"flat", "fc.w", "fc.b"}, []string{"logits"}, attrInt("transB", 1)),
			node("Softmax", []string{"logits"}, []string{"probs"}, attrInt("axis", 1)),
		},
		Input:  []*onnxpb.ValueInfoProto{{Name: ptr("image"), Type: tensorType("batch", 1, 8, 8)}},
		Output: []*onnxpb.ValueInfoProto{{Name: ptr("probs"), Type: tensorType("batch", 10)}},
	}
	m := &onnxpb.ModelProto{
		IrVersion:    ptr(int64(8)),
		ProducerName: ptr("mlc gentestdata"),
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Domain: ptr(""), Version: ptr(int64(13))}},
		Graph:        g,
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "model.onnx"), b, 0o644)
}
