// Command genbig writes a large ONNX model for measuring the compiler's
// own time and memory at scale (docs/benchmarks.md): a VGG-like CNN, 3x3
// convolutions with BatchNormalization and Relu at 56x56 to 14x14 maps,
// then fully connected layers, whose weights reach about -mb megabytes.
// Weights come from a fixed-seed generator. The file is not committed:
//
//	go run ./internal/genbig -mb 200 -o /tmp/big.onnx [-fp16]
//	/usr/bin/time -v mlc compile /tmp/big.onnx
package main

import (
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/ir"
)

func main() {
	mb := flag.Int("mb", 200, "weights to generate, in MB (float32)")
	out := flag.String("o", "big.onnx", "output file")
	half := flag.Bool("fp16", false, "float16 weights and activations, float32 input and output through Casts")
	flag.Parse()
	if err := os.WriteFile(*out, build(*mb<<20, *half), 0o644); err != nil {
		log.Fatal(err)
	}
}

func build(budget int, half bool) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	dt := ir.Float32
	if half {
		dt = ir.Float16
	}
	g := &onnxpb.GraphProto{Name: proto.String("big")}
	elem := func(dt ir.DType) *int32 { e := frontend.DTypeToONNX(dt); return &e }
	value := func(name string, dims ...int64) *onnxpb.ValueInfoProto {
		shape := &onnxpb.TensorShapeProto{}
		for _, d := range dims {
			shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		}
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: elem(ir.Float32), Shape: shape}}}}
	}
	used := 0
	weight := func(name string, scale float64, shape ...int) string {
		v := make([]float64, ir.Shape(shape).Size())
		for i := range v {
			v[i] = (r.Float64()*2 - 1) * scale
		}
		t := ir.FromFloats(dt, ir.Shape(shape), v)
		used += 4 * len(v)
		g.Initializer = append(g.Initializer, frontend.TensorToProto(name, t))
		return name
	}
	node := func(op string, in []string, out string, attrs ...*onnxpb.AttributeProto) string {
		g.Node = append(g.Node, &onnxpb.NodeProto{OpType: proto.String(op), Input: in, Output: []string{out}, Attribute: attrs})
		return out
	}
	ints := func(name string, v ...int64) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
	}
	g.Input = []*onnxpb.ValueInfoProto{value("input", 1, 3, 224, 224)}
	x := "input"
	if half {
		x = node("Cast", []string{x}, "input16", &onnxpb.AttributeProto{Name: proto.String("to"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(int64(*elem(dt)))})
	}
	id := 0
	conv := func(x string, c, m, k, stride int) string {
		id++
		p := int64(k / 2)
		y := node("Conv", []string{x, weight(fmt.Sprintf("conv%d.w", id), 1/float64(c*k*k), m, c, k, k), weight(fmt.Sprintf("conv%d.b", id), 0.1, m)},
			fmt.Sprintf("conv%d", id), ints("pads", p, p, p, p), ints("strides", int64(stride), int64(stride)))
		bn := []string{y}
		for _, s := range []string{"scale", "bias", "mean", "var"} {
			v := weight(fmt.Sprintf("bn%d.%s", id, s), 0.5, m)
			bn = append(bn, v)
		}
		y = node("BatchNormalization", bn, fmt.Sprintf("bn%d", id))
		return node("Relu", []string{y}, fmt.Sprintf("relu%d", id))
	}
	// Positive variances: shift the generated ones.
	x = conv(x, 3, 64, 7, 4) // 56x56
	x = conv(x, 64, 128, 3, 1)
	x = conv(x, 128, 256, 3, 2) // 28x28
	x = conv(x, 256, 256, 3, 1)
	x = conv(x, 256, 512, 3, 2) // 14x14
	c := 512
	for used < budget/3 {
		x = conv(x, c, c, 3, 1)
	}
	x = node("MaxPool", []string{x}, "pool", ints("kernel_shape", 2, 2), ints("strides", 2, 2)) // 7x7
	x = node("Flatten", []string{x}, "flat")
	k := 512 * 7 * 7
	for n := 0; used < budget; n++ {
		h := min(4096, (budget-used)/4/k+1)
		x = node("Gemm", []string{x, weight(fmt.Sprintf("fc%d.w", n), 1/float64(k), k, h), weight(fmt.Sprintf("fc%d.b", n), 0.1, h)}, fmt.Sprintf("fc%d", n))
		x = node("Relu", []string{x}, fmt.Sprintf("fcrelu%d", n))
		k = h
	}
	x = node("Gemm", []string{x, weight("head.w", 1/float64(k), k, 1000), weight("head.b", 0.1, 1000)}, "head")
	if half {
		x = node("Cast", []string{x}, "logits", &onnxpb.AttributeProto{Name: proto.String("to"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(int64(*elem(ir.Float32)))})
	}
	for _, t := range g.Initializer { // variances must be positive
		if len(t.GetName()) > 4 && t.GetName()[len(t.GetName())-4:] == ".var" {
			w, _ := frontend.TensorFromProto(t, "")
			for i := range w.Len() {
				w.SetFloat(i, w.Float(i)+1)
			}
			*t = *frontend.TensorToProto(t.GetName(), w)
		}
	}
	g.Output = []*onnxpb.ValueInfoProto{value(x, 1, 1000)}
	m := &onnxpb.ModelProto{IrVersion: proto.Int64(8), OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(13)}}, Graph: g, ProducerName: proto.String("mlc genbig")}
	b, err := proto.Marshal(m)
	if err != nil {
		log.Fatal(err)
	}
	return b
}
