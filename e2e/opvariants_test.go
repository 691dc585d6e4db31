package e2e_test

import (
	"context"
	"math"
	"math/rand"
	"testing"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/verify"
)

// One-node models for the opset variants and kernel paths the ONNX backend
// cases do not reach (old opsets, constant parameters, other dtypes). Each
// is compiled and run in Wasm, and compared with the reference interpreter
// and, where given, with values worked out by hand.

type opVariant struct {
	name     string
	opset    int
	op       string
	attrs    []*onnxpb.AttributeProto
	inputs   []string // node inputs ("" for omitted)
	feeds    tensors  // run-time graph inputs
	consts   tensors  // initializers
	outputs  []string
	declared map[string]ir.Type // static output types the model states
	want     tensors
	fp16     string // mlc.Options.FP16 ("": the default)
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
			name: "TopK-1 k attribute", opset: 1, op: "TopK", attrs: []*onnxpb.AttributeProto{optest.Int("k", 2)},
			inputs: []string{"x"}, outputs: []string{"v", "i"},
			feeds: tensors{"x": f32s(ir.Shape{2, 4}, 1, 4, 2, 4, -1, -2, -3, 0)},
			want:  tensors{"v": f32s(ir.Shape{2, 2}, 4, 4, 0, -1), "i": i64s(ir.Shape{2, 2}, 1, 3, 3, 0)},
		},
		{
			name: "TopK-11 smallest, NaN ranks last", opset: 11, op: "TopK", attrs: []*onnxpb.AttributeProto{optest.Int("largest", 0)},
			inputs: []string{"x", "k"}, outputs: []string{"v", "i"},
			feeds:  tensors{"x": f32s(ir.Shape{6}, 3, nan, 1, 3, -inf, 1)},
			consts: tensors{"k": i64s(ir.Shape{1}, 5)},
			want:   tensors{"v": f32s(ir.Shape{5}, -inf, 1, 1, 3, 3), "i": i64s(ir.Shape{5}, 4, 2, 5, 0, 3)},
		},
		{
			name: "TopK-11 largest, NaN ranks first, axis 0", opset: 11, op: "TopK", attrs: []*onnxpb.AttributeProto{optest.Int("axis", 0)},
			inputs: []string{"x", "k"}, outputs: []string{"v", "i"},
			feeds:  tensors{"x": f32s(ir.Shape{4, 2}, 3, 1, nan, 1, 3, 2, 0, 2)},
			consts: tensors{"k": i64s(ir.Shape{1}, 3)},
			want:   tensors{"v": f32s(ir.Shape{3, 2}, nan, 2, 3, 2, 3, 1), "i": i64s(ir.Shape{3, 2}, 1, 2, 0, 3, 2, 0)},
		},
		{
			name: "ArgMin-1 int32 first of ties", opset: 1, op: "ArgMin", attrs: []*onnxpb.AttributeProto{optest.Int("axis", 1), optest.Int("keepdims", 0)},
			inputs: []string{"x"}, outputs: []string{"y"},
			feeds: tensors{"x": typed(ir.Int32, ir.Shape{2, 3}, 5, -1, -1, 7, 8, 7)},
			want:  tensors{"y": i64s(ir.Shape{2}, 1, 0)},
		},
		{
			name: "ArgMax-13 uint8 select last", opset: 13, op: "ArgMax", attrs: []*onnxpb.AttributeProto{optest.Int("axis", 0), optest.Int("select_last_index", 1)},
			inputs: []string{"x"}, outputs: []string{"y"},
			feeds: tensors{"x": typed(ir.Uint8, ir.Shape{3, 2}, 200, 1, 7, 1, 200, 0)},
			want:  tensors{"y": i64s(ir.Shape{1, 2}, 2, 1)},
		},
		{
			name: "Scatter-9", opset: 9, op: "Scatter", attrs: []*onnxpb.AttributeProto{optest.Int("axis", 1)},
			inputs: []string{"d", "i", "u"}, outputs: []string{"y"},
			feeds:  tensors{"d": f32s(ir.Shape{1, 5}, 1, 2, 3, 4, 5), "u": f32s(ir.Shape{1, 2}, 1.1, 2.1)},
			consts: tensors{"i": i64s(ir.Shape{1, 2}, 1, -2)},
			want:   tensors{"y": f32s(ir.Shape{1, 5}, 1, 1.1, 3, 2.1, 5)},
		},
		{
			name: "ScatterElements-18 add on bool is or", opset: 18, op: "ScatterElements", attrs: []*onnxpb.AttributeProto{optest.String("reduction", "add")},
			inputs: []string{"d", "i", "u"}, outputs: []string{"y"},
			feeds: tensors{"d": typed(ir.Bool, ir.Shape{3}, 0, 1, 0), "i": typed(ir.Int32, ir.Shape{3}, 0, 0, 1), "u": typed(ir.Bool, ir.Shape{3}, 1, 1, 1)},
			want:  tensors{"y": typed(ir.Bool, ir.Shape{3}, 1, 1, 0)},
		},
		{
			name: "ScatterND-18 max on uint32", opset: 18, op: "ScatterND", attrs: []*onnxpb.AttributeProto{optest.String("reduction", "max")},
			inputs: []string{"d", "i", "u"}, outputs: []string{"y"},
			feeds: tensors{"d": typed(ir.Uint32, ir.Shape{2, 2}, 1, 3e9, 5, 6), "i": i64s(ir.Shape{2, 1}, 0, 0), "u": typed(ir.Uint32, ir.Shape{2, 2}, 4e9, 2, 0, 4e9)},
			want:  tensors{"y": typed(ir.Uint32, ir.Shape{2, 2}, 4e9, 4e9, 5, 6)},
		},
		{
			name: "GatherND-11 int64", opset: 11, op: "GatherND",
			inputs: []string{"d", "i"}, outputs: []string{"y"},
			feeds: tensors{"d": i64s(ir.Shape{2, 2}, 10, 11, 12, 13), "i": i64s(ir.Shape{3, 2}, 1, 0, -1, -1, 0, 1)},
			want:  tensors{"y": i64s(ir.Shape{3}, 12, 13, 11)},
		},
		{
			name: "GatherElements-13 float16, int32 indices", opset: 13, op: "GatherElements", attrs: []*onnxpb.AttributeProto{optest.Int("axis", 1)},
			inputs: []string{"d", "i"}, outputs: []string{"y"},
			feeds: tensors{"d": typed(ir.Float16, ir.Shape{2, 3}, 1, 2, 3, 4, 5, 6), "i": typed(ir.Int32, ir.Shape{2, 2}, 2, -3, 0, 1)},
			want:  tensors{"y": typed(ir.Float16, ir.Shape{2, 2}, 3, 1, 4, 5)},
		},
		{
			name: "TensorScatter-24 without write_indices", opset: 24, op: "TensorScatter", attrs: []*onnxpb.AttributeProto{optest.Int("axis", 1)},
			inputs: []string{"c", "u"}, outputs: []string{"y"},
			feeds: tensors{"c": f32s(ir.Shape{2, 3}, 1, 2, 3, 4, 5, 6), "u": f32s(ir.Shape{2, 2}, 7, 8, 9, 10)},
			want:  tensors{"y": f32s(ir.Shape{2, 3}, 7, 8, 3, 9, 10, 6)},
		},
		{
			name: "CumSum-11 constant axis, exclusive reverse", opset: 11, op: "CumSum", attrs: []*onnxpb.AttributeProto{optest.Int("exclusive", 1), optest.Int("reverse", 1)},
			inputs: []string{"x", "a"}, outputs: []string{"y"},
			feeds:  tensors{"x": typed(ir.Float64, ir.Shape{2, 3}, 1, 2, 3, 4, 5, 6)},
			consts: tensors{"a": typed(ir.Int32, ir.Shape{}, 1)},
			want:   tensors{"y": typed(ir.Float64, ir.Shape{2, 3}, 5, 3, 0, 11, 6, 0)},
		},
		{
			// ONNX's float16 semantics (by default mlc multiplies in
			// float32, as ONNX Runtime does).
			name: "CumProd-26 float16 constant axis rounds each step", opset: 26, op: "CumProd", fp16: mlc.FP16Exact,
			inputs: []string{"x", "a"}, outputs: []string{"y"},
			feeds:  tensors{"x": typed(ir.Float16, ir.Shape{4, 1}, 1.001, 1.001, 1.001, 3)},
			consts: tensors{"a": i64s(ir.Shape{}, -2)},
		},
		{
			name: "Compress-11 constant condition", opset: 11, op: "Compress", attrs: []*onnxpb.AttributeProto{optest.Int("axis", -1)},
			inputs: []string{"x", "c"}, outputs: []string{"y"},
			feeds:  tensors{"x": f32s(ir.Shape{2, 3}, 1, 2, 3, 4, 5, 6)},
			consts: tensors{"c": typed(ir.Bool, ir.Shape{2}, 0, 1)},
			want:   tensors{"y": f32s(ir.Shape{2, 1}, 2, 5)},
		},
		{
			name: "NonZero-13 float, NaN counts, -0 does not", opset: 13, op: "NonZero",
			inputs: []string{"x"}, outputs: []string{"y"}, declared: map[string]ir.Type{"y": {DType: ir.Int64, Shape: ir.Shape{2, 2}}},
			feeds: tensors{"x": f32s(ir.Shape{2, 2}, float32(math.Copysign(0, -1)), nan, 3, 0)},
			want:  tensors{"y": i64s(ir.Shape{2, 2}, 0, 1, 1, 0)},
		},
		{
			name: "Unique-11 unsorted with axis", opset: 11, op: "Unique", attrs: []*onnxpb.AttributeProto{optest.Int("sorted", 0), optest.Int("axis", 1)},
			inputs: []string{"x"}, outputs: []string{"y", "i", "inv", "n"}, declared: map[string]ir.Type{"i": {DType: ir.Int64, Shape: ir.Shape{2}}},
			feeds: tensors{"x": typed(ir.Int32, ir.Shape{2, 3}, 2, 1, 2, 0, 5, 0)},
			want: tensors{"y": typed(ir.Int32, ir.Shape{2, 2}, 2, 1, 0, 5), "i": i64s(ir.Shape{2}, 0, 1),
				"inv": i64s(ir.Shape{3}, 0, 1, 0), "n": i64s(ir.Shape{2}, 2, 1)},
		},
		{
			name: "DFT-17 dft_length pads, onesided", opset: 17, op: "DFT", attrs: []*onnxpb.AttributeProto{optest.Int("onesided", 1)},
			inputs: []string{"x", "n"}, outputs: []string{"y"},
			feeds:  tensors{"x": f32s(ir.Shape{1, 5, 1}, 1, 2, 3, 4, 5)},
			consts: tensors{"n": i64s(ir.Shape{}, 8)},
		},
		{
			name: "DFT-17 dft_length truncates, complex", opset: 17, op: "DFT", attrs: []*onnxpb.AttributeProto{optest.Int("axis", -2)},
			inputs: []string{"x", "n"}, outputs: []string{"y"},
			feeds:  tensors{"x": f32s(ir.Shape{1, 4, 2}, 1, 0, 2, 1, 3, -1, 4, 2)},
			consts: tensors{"n": i64s(ir.Shape{}, 3)},
		},
		{
			name: "DFT-20 constant axis, float64 inverse", opset: 20, op: "DFT", attrs: []*onnxpb.AttributeProto{optest.Int("inverse", 1)},
			inputs: []string{"x", "", "a"}, outputs: []string{"y"},
			feeds:  tensors{"x": typed(ir.Float64, ir.Shape{4, 3, 2}, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24)},
			consts: tensors{"a": i64s(ir.Shape{}, -3)},
		},
		{
			name: "DFT-20 irfft odd length", opset: 20, op: "DFT", attrs: []*onnxpb.AttributeProto{optest.Int("inverse", 1), optest.Int("onesided", 1)},
			inputs: []string{"x", "n", "a"}, outputs: []string{"y"},
			feeds:  tensors{"x": f32s(ir.Shape{3, 2}, 6, 0, -1, 2, 0.5, -1)},
			consts: tensors{"n": i64s(ir.Shape{}, 5), "a": i64s(ir.Shape{}, 0)},
		},
		{
			name: "STFT-17 constant step, whole signal, complex", opset: 17, op: "STFT", attrs: []*onnxpb.AttributeProto{optest.Int("onesided", 0)},
			inputs: []string{"x", "s"}, outputs: []string{"y"},
			feeds:  tensors{"x": f32s(ir.Shape{1, 4, 2}, 1, 0, 0, 1, -1, 0, 0, -1)},
			consts: tensors{"s": i64s(ir.Shape{}, 2)},
		},
		{
			name: "Col2Im-18 constant shapes", opset: 18, op: "Col2Im", attrs: []*onnxpb.AttributeProto{optest.Ints("strides", 1, 2), optest.Ints("pads", 0, 1, 1, 0)},
			inputs: []string{"x", "img", "blk"}, outputs: []string{"y"},
			feeds:  tensors{"x": f32s(ir.Shape{1, 4, 6}, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24)},
			consts: tensors{"img": i64s(ir.Shape{2}, 3, 4), "blk": i64s(ir.Shape{2}, 2, 2)},
		},
		{
			name: "MaxUnpool-11 constant larger output shape", opset: 11, op: "MaxUnpool", attrs: []*onnxpb.AttributeProto{optest.Ints("kernel_shape", 2), optest.Ints("strides", 2)},
			inputs: []string{"x", "i", "s"}, outputs: []string{"y"},
			feeds:  tensors{"x": f32s(ir.Shape{1, 2, 2}, 1, 2, 3, 4), "i": i64s(ir.Shape{1, 2, 2}, 1, 2, 4, 7)},
			consts: tensors{"s": i64s(ir.Shape{3}, 1, 2, 5)},
			want:   tensors{"y": f32s(ir.Shape{1, 2, 5}, 0, 1, 2, 0, 0, 3, 0, 0, 4, 0)},
		},
		{
			name: "NonMaxSuppression-10 without thresholds", opset: 10, op: "NonMaxSuppression",
			inputs: []string{"b", "s", "m"}, outputs: []string{"y"}, declared: map[string]ir.Type{"y": {DType: ir.Int64, Shape: ir.Shape{2, 3}}},
			feeds:  tensors{"b": f32s(ir.Shape{1, 3, 4}, 0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3), "s": f32s(ir.Shape{1, 1, 3}, 0.5, 0.9, 0.1)},
			consts: tensors{"m": i64s(ir.Shape{1}, 5)},
			want:   tensors{"y": i64s(ir.Shape{2, 3}, 0, 0, 1, 0, 0, 2)},
		},
		{
			name: "HammingWindow-17 double from a constant size", opset: 17, op: "HammingWindow", attrs: []*onnxpb.AttributeProto{optest.Int("output_datatype", 11), optest.Int("periodic", 0)},
			inputs: []string{"n"}, outputs: []string{"y"},
			consts: tensors{"n": i64s(ir.Shape{}, 3)},
			want:   tensors{"y": typed(ir.Float64, ir.Shape{3}, 4.0/46, 1, 4.0/46)},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := optest.Node{Op: c.op, Opset: c.opset, Inputs: c.inputs, Outputs: c.outputs, Attrs: c.attrs, Declared: c.declared}
			model, err := optest.Model(n, c.feeds, c.consts)
			if err != nil {
				t.Fatal(err)
			}
			o := mlc.DefaultOptions()
			o.FP16 = c.fp16
			res, err := mlc.Compile(model, "", o)
			if err != nil {
				t.Fatal(err)
			}
			got, err := hostir.Run(context.Background(), optest.Load(t, res.Wasm), c.feeds)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := optest.Reference(model, c.feeds)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range c.outputs {
				var r verify.OutputResult
				if msg := verify.Compare(got[o], ref[o], 1e-6, 1e-12, &r); msg != "" {
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

// TestWinogradFromSource: 3x3 layers whose transformed weights do not fit
// prepack's budget read them as stored and transform them a panel at a
// time (F(4x4,3x3) on 16x16, F(2x2,3x3) on a 7x7 map, which Winograd takes
// only in this form; 16 tiles and whole 8-channel panels: the tiles as A),
// in the portable shape and the v8 tune; the outputs match the reference
// interpreter's direct convolution.
func TestWinogradFromSource(t *testing.T) {
	rng := rand.New(rand.NewSource(10))
	for _, c := range []struct{ C, H int }{{400, 16}, {404, 16}, {520, 7}, {400, 28}} {
		n := optest.Node{Op: "Conv", Opset: 13, Inputs: []string{"x", "w", "b"}, Outputs: []string{"y"}, Attrs: []*onnxpb.AttributeProto{optest.Ints("pads", 1, 1, 1, 1)}}
		feed := map[string]*ir.Tensor{"x": randTensor(rng, ir.Float32, 1, 1, c.C, c.H, c.H)}
		consts := map[string]*ir.Tensor{"w": randTensor(rng, ir.Float32, 0.05, c.C, c.C, 3, 3), "b": randTensor(rng, ir.Float32, 1, c.C)}
		model, err := optest.Model(n, feed, consts)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := optest.Reference(model, feed)
		if err != nil {
			t.Fatal(err)
		}
		for _, tune := range []string{mlc.DefaultTune, "v8"} {
			o := mlc.DefaultOptions()
			o.Tune = tune
			res, err := mlc.Compile(model, "", o)
			if err != nil {
				t.Fatal(err)
			}
			got, err := hostir.Run(context.Background(), optest.Load(t, res.Wasm), feed)
			if err != nil {
				t.Fatal(err)
			}
			var r verify.OutputResult
			if msg := verify.Compare(got["y"], ref["y"], 1e-3, 1e-4, &r); msg != "" {
				t.Errorf("%d channels on %dx%d, %s: Wasm and the reference interpreter differ: %s", c.C, c.H, c.H, tune, msg)
			}
		}
	}
}
