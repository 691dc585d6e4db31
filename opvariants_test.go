package mlc_test

import (
	"context"
	"math"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
	"github.com/mlc-compiler/mlc/verify"
)

// One-node models for the opset variants and kernel paths the ONNX backend
// cases do not reach (old opsets, constant parameters, other dtypes). Each
// is compiled and run in Wasm, and compared with the reference interpreter
// and, where given, with values worked out by hand.

type namedTensor struct {
	name string
	t    *ir.Tensor
}

type opVariant struct {
	name     string
	opset    int64
	op       string
	attrs    []*onnxpb.AttributeProto
	inputs   []string      // node inputs ("" for omitted)
	feeds    []namedTensor // run-time graph inputs
	consts   []namedTensor // initializers
	outputs  []string
	declared map[string]ir.Shape // static output shapes the model states
	want     map[string]*ir.Tensor
}

func pstr(s string) *string { return &s }

func aInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: pstr(name), Type: onnxpb.AttributeProto_INT.Enum(), I: &v}
}

func aInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: pstr(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

func aStr(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: pstr(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

func valueInfo(name string, dt ir.DType, shape ir.Shape) *onnxpb.ValueInfoProto {
	code := frontend.DTypeToONNX(dt)
	tt := &onnxpb.TypeProto_Tensor{ElemType: &code}
	if shape != nil {
		tt.Shape = &onnxpb.TensorShapeProto{}
		for _, d := range shape {
			tt.Shape.Dim = append(tt.Shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
		}
	}
	return &onnxpb.ValueInfoProto{Name: pstr(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: tt}}}
}

func (v *opVariant) model(t *testing.T) []byte {
	g := &onnxpb.GraphProto{Name: pstr(v.name)}
	g.Node = []*onnxpb.NodeProto{{OpType: pstr(v.op), Input: v.inputs, Output: v.outputs, Attribute: v.attrs}}
	for _, c := range v.consts {
		g.Initializer = append(g.Initializer, frontend.TensorToProto(c.name, c.t))
	}
	for _, f := range v.feeds {
		g.Input = append(g.Input, valueInfo(f.name, f.t.DType, f.t.Shape))
	}
	for _, o := range v.outputs {
		g.Output = append(g.Output, valueInfo(o, ir.Float32, v.declared[o]))
	}
	m := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: pstr(""), Version: &v.opset}},
		Graph:       g,
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func f32s(shape ir.Shape, v ...float32) *ir.Tensor { return ir.TensorF32(shape, v...) }
func i64s(shape ir.Shape, v ...int64) *ir.Tensor   { return ir.TensorI64(shape, v...) }

func typed(dt ir.DType, shape ir.Shape, v ...float64) *ir.Tensor {
	t := ir.NewTensor(dt, shape)
	for i, x := range v {
		t.SetFloat(i, x)
	}
	return t
}

func TestOpVariants(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	cases := []opVariant{
		{
			name: "TopK-1 k attribute", opset: 1, op: "TopK", attrs: []*onnxpb.AttributeProto{aInt("k", 2)},
			inputs: []string{"x"}, outputs: []string{"v", "i"},
			feeds: []namedTensor{{"x", f32s(ir.Shape{2, 4}, 1, 4, 2, 4, -1, -2, -3, 0)}},
			want:  map[string]*ir.Tensor{"v": f32s(ir.Shape{2, 2}, 4, 4, 0, -1), "i": i64s(ir.Shape{2, 2}, 1, 3, 3, 0)},
		},
		{
			name: "TopK-11 smallest, NaN ranks last", opset: 11, op: "TopK", attrs: []*onnxpb.AttributeProto{aInt("largest", 0)},
			inputs: []string{"x", "k"}, outputs: []string{"v", "i"},
			feeds:  []namedTensor{{"x", f32s(ir.Shape{6}, 3, nan, 1, 3, -inf, 1)}},
			consts: []namedTensor{{"k", i64s(ir.Shape{1}, 5)}},
			want:   map[string]*ir.Tensor{"v": f32s(ir.Shape{5}, -inf, 1, 1, 3, 3), "i": i64s(ir.Shape{5}, 4, 2, 5, 0, 3)},
		},
		{
			name: "TopK-11 largest, NaN ranks first, axis 0", opset: 11, op: "TopK", attrs: []*onnxpb.AttributeProto{aInt("axis", 0)},
			inputs: []string{"x", "k"}, outputs: []string{"v", "i"},
			feeds:  []namedTensor{{"x", f32s(ir.Shape{4, 2}, 3, 1, nan, 1, 3, 2, 0, 2)}},
			consts: []namedTensor{{"k", i64s(ir.Shape{1}, 3)}},
			want:   map[string]*ir.Tensor{"v": f32s(ir.Shape{3, 2}, nan, 2, 3, 2, 3, 1), "i": i64s(ir.Shape{3, 2}, 1, 2, 0, 3, 2, 0)},
		},
		{
			name: "ArgMin-1 int32 first of ties", opset: 1, op: "ArgMin", attrs: []*onnxpb.AttributeProto{aInt("axis", 1), aInt("keepdims", 0)},
			inputs: []string{"x"}, outputs: []string{"y"},
			feeds: []namedTensor{{"x", typed(ir.Int32, ir.Shape{2, 3}, 5, -1, -1, 7, 8, 7)}},
			want:  map[string]*ir.Tensor{"y": i64s(ir.Shape{2}, 1, 0)},
		},
		{
			name: "ArgMax-13 uint8 select last", opset: 13, op: "ArgMax", attrs: []*onnxpb.AttributeProto{aInt("axis", 0), aInt("select_last_index", 1)},
			inputs: []string{"x"}, outputs: []string{"y"},
			feeds: []namedTensor{{"x", typed(ir.Uint8, ir.Shape{3, 2}, 200, 1, 7, 1, 200, 0)}},
			want:  map[string]*ir.Tensor{"y": i64s(ir.Shape{1, 2}, 2, 1)},
		},
		{
			name: "Scatter-9", opset: 9, op: "Scatter", attrs: []*onnxpb.AttributeProto{aInt("axis", 1)},
			inputs: []string{"d", "i", "u"}, outputs: []string{"y"},
			feeds:  []namedTensor{{"d", f32s(ir.Shape{1, 5}, 1, 2, 3, 4, 5)}, {"u", f32s(ir.Shape{1, 2}, 1.1, 2.1)}},
			consts: []namedTensor{{"i", i64s(ir.Shape{1, 2}, 1, -2)}},
			want:   map[string]*ir.Tensor{"y": f32s(ir.Shape{1, 5}, 1, 1.1, 3, 2.1, 5)},
		},
		{
			name: "ScatterElements-18 add on bool is or", opset: 18, op: "ScatterElements", attrs: []*onnxpb.AttributeProto{aStr("reduction", "add")},
			inputs: []string{"d", "i", "u"}, outputs: []string{"y"},
			feeds: []namedTensor{{"d", typed(ir.Bool, ir.Shape{3}, 0, 1, 0)}, {"i", typed(ir.Int32, ir.Shape{3}, 0, 0, 1)}, {"u", typed(ir.Bool, ir.Shape{3}, 1, 1, 1)}},
			want:  map[string]*ir.Tensor{"y": typed(ir.Bool, ir.Shape{3}, 1, 1, 0)},
		},
		{
			name: "ScatterND-18 max on uint32", opset: 18, op: "ScatterND", attrs: []*onnxpb.AttributeProto{aStr("reduction", "max")},
			inputs: []string{"d", "i", "u"}, outputs: []string{"y"},
			feeds: []namedTensor{{"d", typed(ir.Uint32, ir.Shape{2, 2}, 1, 3e9, 5, 6)}, {"i", i64s(ir.Shape{2, 1}, 0, 0)}, {"u", typed(ir.Uint32, ir.Shape{2, 2}, 4e9, 2, 0, 4e9)}},
			want:  map[string]*ir.Tensor{"y": typed(ir.Uint32, ir.Shape{2, 2}, 4e9, 4e9, 5, 6)},
		},
		{
			name: "GatherND-11 int64", opset: 11, op: "GatherND",
			inputs: []string{"d", "i"}, outputs: []string{"y"},
			feeds: []namedTensor{{"d", i64s(ir.Shape{2, 2}, 10, 11, 12, 13)}, {"i", i64s(ir.Shape{3, 2}, 1, 0, -1, -1, 0, 1)}},
			want:  map[string]*ir.Tensor{"y": i64s(ir.Shape{3}, 12, 13, 11)},
		},
		{
			name: "GatherElements-13 float16, int32 indices", opset: 13, op: "GatherElements", attrs: []*onnxpb.AttributeProto{aInt("axis", 1)},
			inputs: []string{"d", "i"}, outputs: []string{"y"},
			feeds: []namedTensor{{"d", typed(ir.Float16, ir.Shape{2, 3}, 1, 2, 3, 4, 5, 6)}, {"i", typed(ir.Int32, ir.Shape{2, 2}, 2, -3, 0, 1)}},
			want:  map[string]*ir.Tensor{"y": typed(ir.Float16, ir.Shape{2, 2}, 3, 1, 4, 5)},
		},
		{
			name: "TensorScatter-24 without write_indices", opset: 24, op: "TensorScatter", attrs: []*onnxpb.AttributeProto{aInt("axis", 1)},
			inputs: []string{"c", "u"}, outputs: []string{"y"},
			feeds: []namedTensor{{"c", f32s(ir.Shape{2, 3}, 1, 2, 3, 4, 5, 6)}, {"u", f32s(ir.Shape{2, 2}, 7, 8, 9, 10)}},
			want:  map[string]*ir.Tensor{"y": f32s(ir.Shape{2, 3}, 7, 8, 3, 9, 10, 6)},
		},
		{
			name: "CumSum-11 constant axis, exclusive reverse", opset: 11, op: "CumSum", attrs: []*onnxpb.AttributeProto{aInt("exclusive", 1), aInt("reverse", 1)},
			inputs: []string{"x", "a"}, outputs: []string{"y"},
			feeds:  []namedTensor{{"x", typed(ir.Float64, ir.Shape{2, 3}, 1, 2, 3, 4, 5, 6)}},
			consts: []namedTensor{{"a", typed(ir.Int32, ir.Shape{}, 1)}},
			want:   map[string]*ir.Tensor{"y": typed(ir.Float64, ir.Shape{2, 3}, 5, 3, 0, 11, 6, 0)},
		},
		{
			name: "CumProd-26 float16 constant axis rounds each step", opset: 26, op: "CumProd",
			inputs: []string{"x", "a"}, outputs: []string{"y"},
			feeds:  []namedTensor{{"x", typed(ir.Float16, ir.Shape{4, 1}, 1.001, 1.001, 1.001, 3)}},
			consts: []namedTensor{{"a", i64s(ir.Shape{}, -2)}},
		},
		{
			name: "Compress-11 constant condition", opset: 11, op: "Compress", attrs: []*onnxpb.AttributeProto{aInt("axis", -1)},
			inputs: []string{"x", "c"}, outputs: []string{"y"},
			feeds:  []namedTensor{{"x", f32s(ir.Shape{2, 3}, 1, 2, 3, 4, 5, 6)}},
			consts: []namedTensor{{"c", typed(ir.Bool, ir.Shape{2}, 0, 1)}},
			want:   map[string]*ir.Tensor{"y": f32s(ir.Shape{2, 1}, 2, 5)},
		},
		{
			name: "NonZero-13 float, NaN counts, -0 does not", opset: 13, op: "NonZero",
			inputs: []string{"x"}, outputs: []string{"y"}, declared: map[string]ir.Shape{"y": {2, 2}},
			feeds: []namedTensor{{"x", f32s(ir.Shape{2, 2}, float32(math.Copysign(0, -1)), nan, 3, 0)}},
			want:  map[string]*ir.Tensor{"y": i64s(ir.Shape{2, 2}, 0, 1, 1, 0)},
		},
		{
			name: "Unique-11 unsorted with axis", opset: 11, op: "Unique", attrs: []*onnxpb.AttributeProto{aInt("sorted", 0), aInt("axis", 1)},
			inputs: []string{"x"}, outputs: []string{"y", "i", "inv", "n"}, declared: map[string]ir.Shape{"i": {2}},
			feeds: []namedTensor{{"x", typed(ir.Int32, ir.Shape{2, 3}, 2, 1, 2, 0, 5, 0)}},
			want: map[string]*ir.Tensor{"y": typed(ir.Int32, ir.Shape{2, 2}, 2, 1, 0, 5), "i": i64s(ir.Shape{2}, 0, 1),
				"inv": i64s(ir.Shape{3}, 0, 1, 0), "n": i64s(ir.Shape{2}, 2, 1)},
		},
		{
			name: "DFT-17 dft_length pads, onesided", opset: 17, op: "DFT", attrs: []*onnxpb.AttributeProto{aInt("onesided", 1)},
			inputs: []string{"x", "n"}, outputs: []string{"y"},
			feeds:  []namedTensor{{"x", f32s(ir.Shape{1, 5, 1}, 1, 2, 3, 4, 5)}},
			consts: []namedTensor{{"n", i64s(ir.Shape{}, 8)}},
		},
		{
			name: "DFT-17 dft_length truncates, complex", opset: 17, op: "DFT", attrs: []*onnxpb.AttributeProto{aInt("axis", -2)},
			inputs: []string{"x", "n"}, outputs: []string{"y"},
			feeds:  []namedTensor{{"x", f32s(ir.Shape{1, 4, 2}, 1, 0, 2, 1, 3, -1, 4, 2)}},
			consts: []namedTensor{{"n", i64s(ir.Shape{}, 3)}},
		},
		{
			name: "DFT-20 constant axis, float64 inverse", opset: 20, op: "DFT", attrs: []*onnxpb.AttributeProto{aInt("inverse", 1)},
			inputs: []string{"x", "", "a"}, outputs: []string{"y"},
			feeds:  []namedTensor{{"x", typed(ir.Float64, ir.Shape{4, 3, 2}, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24)}},
			consts: []namedTensor{{"a", i64s(ir.Shape{}, -3)}},
		},
		{
			name: "DFT-20 irfft odd length", opset: 20, op: "DFT", attrs: []*onnxpb.AttributeProto{aInt("inverse", 1), aInt("onesided", 1)},
			inputs: []string{"x", "n", "a"}, outputs: []string{"y"},
			feeds:  []namedTensor{{"x", f32s(ir.Shape{3, 2}, 6, 0, -1, 2, 0.5, -1)}},
			consts: []namedTensor{{"n", i64s(ir.Shape{}, 5)}, {"a", i64s(ir.Shape{}, 0)}},
		},
		{
			name: "STFT-17 constant step, whole signal, complex", opset: 17, op: "STFT", attrs: []*onnxpb.AttributeProto{aInt("onesided", 0)},
			inputs: []string{"x", "s"}, outputs: []string{"y"},
			feeds:  []namedTensor{{"x", f32s(ir.Shape{1, 4, 2}, 1, 0, 0, 1, -1, 0, 0, -1)}},
			consts: []namedTensor{{"s", i64s(ir.Shape{}, 2)}},
		},
		{
			name: "Col2Im-18 constant shapes", opset: 18, op: "Col2Im", attrs: []*onnxpb.AttributeProto{aInts("strides", 1, 2), aInts("pads", 0, 1, 1, 0)},
			inputs: []string{"x", "img", "blk"}, outputs: []string{"y"},
			feeds:  []namedTensor{{"x", f32s(ir.Shape{1, 4, 6}, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24)}},
			consts: []namedTensor{{"img", i64s(ir.Shape{2}, 3, 4)}, {"blk", i64s(ir.Shape{2}, 2, 2)}},
		},
		{
			name: "MaxUnpool-11 constant larger output shape", opset: 11, op: "MaxUnpool", attrs: []*onnxpb.AttributeProto{aInts("kernel_shape", 2), aInts("strides", 2)},
			inputs: []string{"x", "i", "s"}, outputs: []string{"y"},
			feeds:  []namedTensor{{"x", f32s(ir.Shape{1, 2, 2}, 1, 2, 3, 4)}, {"i", i64s(ir.Shape{1, 2, 2}, 1, 2, 4, 7)}},
			consts: []namedTensor{{"s", i64s(ir.Shape{3}, 1, 2, 5)}},
			want:   map[string]*ir.Tensor{"y": f32s(ir.Shape{1, 2, 5}, 0, 1, 2, 0, 0, 3, 0, 0, 4, 0)},
		},
		{
			name: "NonMaxSuppression-10 without thresholds", opset: 10, op: "NonMaxSuppression",
			inputs: []string{"b", "s", "m"}, outputs: []string{"y"}, declared: map[string]ir.Shape{"y": {2, 3}},
			feeds:  []namedTensor{{"b", f32s(ir.Shape{1, 3, 4}, 0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3)}, {"s", f32s(ir.Shape{1, 1, 3}, 0.5, 0.9, 0.1)}},
			consts: []namedTensor{{"m", i64s(ir.Shape{1}, 5)}},
			want:   map[string]*ir.Tensor{"y": i64s(ir.Shape{2, 3}, 0, 0, 1, 0, 0, 2)},
		},
		{
			name: "HammingWindow-17 double from a constant size", opset: 17, op: "HammingWindow", attrs: []*onnxpb.AttributeProto{aInt("output_datatype", 11), aInt("periodic", 0)},
			inputs: []string{"n"}, outputs: []string{"y"},
			consts: []namedTensor{{"n", i64s(ir.Shape{}, 3)}},
			want:   map[string]*ir.Tensor{"y": typed(ir.Float64, ir.Shape{3}, 4.0/46, 1, 4.0/46)},
		},
	}
	ctx := context.Background()
	rt, err := host.NewRuntime(ctx, host.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			model := c.model(t)
			res, err := mlc.Compile(model, "", mlc.DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			feed := map[string]*ir.Tensor{}
			for _, f := range c.feeds {
				feed[f.name] = f.t
			}
			m, err := rt.Load(ctx, res.Wasm)
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Run(ctx, feed)
			if err != nil {
				t.Fatal(err)
			}
			ref := reference(t, model, c.feeds)
			for i, o := range c.outputs {
				var r verify.OutputResult
				if msg := verify.Compare(got[o], ref[i], 1e-6, 1e-12, &r); msg != "" {
					t.Errorf("output %s: Wasm and the reference interpreter differ: %s", o, msg)
				}
				if w := c.want[o]; w != nil {
					if msg := verify.Compare(got[o], w, 1e-3, 1e-6, &r); msg != "" {
						t.Errorf("output %s: %s", o, msg)
					}
				}
			}
		})
	}
}

// reference runs the imported graph in the interpreter.
func reference(t *testing.T, model []byte, feeds []namedTensor) []*ir.Tensor {
	t.Helper()
	m, err := frontend.Import(model, "", frontend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	env := ir.Env{}
	for _, v := range m.Graph.Inputs {
		for _, f := range feeds {
			if f.name == v.Name {
				env[v] = f.t
			}
		}
	}
	out, err := ir.Run(m.Graph, env)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
