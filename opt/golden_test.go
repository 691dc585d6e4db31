package opt

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mlc-compiler/mlc/codegen"
	"github.com/mlc-compiler/mlc/internal/irtest"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/memplan"
	"github.com/mlc-compiler/mlc/tune"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/passes")

// A golden case is a small graph that gives one pass work. Its file in
// testdata/passes holds the graph as built ("start") and after every
// stage that changed it, ending with the memory plan: a reviewer reads
// what each pass did, and any change to a pass shows up as a diff. The
// reference interpreter must give the same outputs before and after, to
// the case's tolerance (relative to each output's largest magnitude).
type goldenCase struct {
	name, about string
	opts        Options
	tol         float64
	build       func(b *irtest.B) *ir.Graph
}

var goldenCases = []goldenCase{
	{name: "fold", about: "fold types the graph and evaluates what is constant: the shape arithmetic and the sum of two constants go; Shape of a run-time input is constant too",
		build: func(b *irtest.B) *ir.Graph {
			b.In("x", ir.Float32, 2, 3)
			b.Const("one", ir.TensorF32(ir.Shape{3}, 1, 2, 3))
			b.Const("two", ir.TensorF32(ir.Shape{3}, 0.5, 0.25, 0.125))
			b.Const("minus1", ir.TensorI64(ir.Shape{1}, -1))
			b.Raw("sum", &ir.Binary{Fn: ir.FnAdd}, "one", "two")
			b.Raw("y", &ir.Binary{Fn: ir.FnMul}, "x", "sum")
			b.Raw("s", &ir.ShapeOf{}, "x")
			b.Raw("n", &ir.Reduce{Kind: ir.ReduceProd, All: true, KeepDims: true}, "s")
			b.Raw("flat_shape", &ir.Concat{}, "n", "minus1")
			b.Raw("flat", &ir.Reshape{}, "y", "flat_shape")
			return b.Out("flat")
		}},
	{name: "inlineif", about: "an If whose condition folds to a constant becomes the branch it takes; the other branch does not type with these shapes",
		build: func(b *irtest.B) *ir.Graph {
			b.In("x", ir.Float32, 3)
			b.Const("three", ir.TensorI64(ir.Shape{}, 3))
			b.Raw("size", &ir.Size{}, "x")
			b.Raw("cond", &ir.Binary{Fn: ir.FnEqual}, "size", "three")
			then := b.Sub("then", func(s *irtest.B) { s.Out(s.Raw("t", &ir.Binary{Fn: ir.FnAdd}, "x", "x").Name) })
			els := b.Sub("else", func(s *irtest.B) { s.Out(s.Raw("e", &ir.Concat{}, "x", "x").Name) })
			b.Raw("y", &ir.If{Then: then, Else: els}, "cond")
			return b.Out("y")
		}},
	{name: "qdq", tol: 1.001 / 127, about: "QuantizeLinear/DequantizeLinear around a Conv with int8 weights, a bias and a Relu become one QConv writing int8; the residual Add of two dequantized tensors becomes a QAdd; a MaxPool moves below its DequantizeLinear. The integer path rounds differently: outputs agree to one quantization step",
		build: func(b *irtest.B) *ir.Graph {
			b.In("x", ir.Float32, 1, 4, 6, 6)
			scalar := func(name string, v float32) { b.Const(name, ir.ScalarF32(v)) }
			scalar("sx", 1.0/64)
			scalar("sy", 1.0/32)
			scalar("sz", 1.0/16)
			b.Const("zero", ir.NewTensor(ir.Int8, ir.Shape{}))
			w := irtest.Rand(3, ir.Int8, 4, 4, 3, 3)
			b.Const("wq", w)
			b.Const("sw", ir.TensorF32(ir.Shape{4}, 1.0/64, 1.0/32, 1.0/64, 1.0/16))
			b.Const("bias", ir.TensorF32(ir.Shape{4}, 0.1, -0.2, 0.05, 0))
			b.Op("xq", &ir.QuantizeLinear{}, "x", "sx", "zero")
			b.Op("xd", &ir.DequantizeLinear{}, "xq", "sx", "zero")
			b.Op("wd", &ir.DequantizeLinear{Axis: 0}, "wq", "sw")
			b.Op("conv", &ir.Conv{Window: ir.Window{Pads: []int{1, 1, 1, 1}}, Group: 1}, "xd", "wd", "bias")
			b.Op("relu", &ir.Unary{Fn: ir.FnRelu}, "conv")
			b.Op("yq", &ir.QuantizeLinear{}, "relu", "sy", "zero")
			b.Op("yd", &ir.DequantizeLinear{}, "yq", "sy", "zero")
			b.Op("pool", &ir.Pool{Kind: ir.PoolMax, Window: ir.Window{Kernel: []int{2, 2}, Strides: []int{2, 2}}}, "yd")
			b.Op("xp", &ir.Pool{Kind: ir.PoolMax, Window: ir.Window{Kernel: []int{2, 2}, Strides: []int{2, 2}}}, "xd")
			b.Op("sum", &ir.Binary{Fn: ir.FnAdd}, "pool", "xp")
			b.Op("zq", &ir.QuantizeLinear{}, "sum", "sz", "zero")
			b.Op("z", &ir.DequantizeLinear{}, "zq", "sz", "zero")
			return b.Out("z")
		}},
	{name: "qdq_matmul", tol: 1.001 / 127, about: "a QDQ MatMul with a per-channel bias Add and a Clip becomes a QMatMul writing int8; a Gemm with transposed per-channel weights and a bias, then LeakyRelu and Max with a constant, becomes a QMatMul writing float32 (its reader is no QuantizeLinear); QuantizeLinear(DequantizeLinear(y)) with y's parameters is y",
		build: func(b *irtest.B) *ir.Graph {
			b.In("x", ir.Float32, 3, 16)
			b.Const("sx", ir.ScalarF32(1.0/128))
			b.Const("zx", ir.FromFloats(ir.Uint8, ir.Shape{}, []float64{128}))
			b.Const("sy", ir.ScalarF32(6.0/127))
			b.Const("zero", ir.NewTensor(ir.Int8, ir.Shape{}))
			b.Const("wq", irtest.Rand(1, ir.Int8, 16, 8))
			b.Const("sw", ir.ScalarF32(1.0/32))
			b.Const("bias", irtest.Rand(2, ir.Float32, 8))
			b.Const("lo", ir.ScalarF32(0))
			b.Const("hi", ir.ScalarF32(6))
			b.Const("gq", irtest.Rand(3, ir.Int8, 4, 8))
			b.Const("sg", ir.TensorF32(ir.Shape{4}, 1.0/16, 1.0/32, 1.0/64, 1.0/16))
			b.Const("gc", irtest.Rand(4, ir.Float32, 4))
			b.Const("floor", ir.ScalarF32(-0.5))
			b.Op("xq", &ir.QuantizeLinear{}, "x", "sx", "zx")
			b.Op("xd", &ir.DequantizeLinear{}, "xq", "sx", "zx")
			b.Op("wd", &ir.DequantizeLinear{}, "wq", "sw")
			b.Op("mm", &ir.MatMul{}, "xd", "wd")
			b.Op("biased", &ir.Binary{Fn: ir.FnAdd}, "mm", "bias")
			b.Op("clip", &ir.Clip{}, "biased", "lo", "hi")
			b.Op("yq", &ir.QuantizeLinear{}, "clip", "sy", "zero")
			b.Op("yd", &ir.DequantizeLinear{}, "yq", "sy", "zero")
			b.Op("gd", &ir.DequantizeLinear{Axis: 0}, "gq", "sg")
			b.Op("gemm", &ir.Gemm{Alpha: 1, Beta: 1, TransB: true}, "yd", "gd", "gc")
			b.Op("leaky", &ir.Unary{Fn: ir.FnLeakyRelu, Alpha: 0.1}, "gemm")
			b.Op("z", &ir.Binary{Fn: ir.FnMax}, "leaky", "floor")
			b.Op("rq", &ir.QuantizeLinear{}, "yd", "sy", "zero")
			b.Op("r", &ir.DequantizeLinear{}, "rq", "sy", "zero")
			return b.Out("z", "r")
		}},
	{name: "qdq_conv", tol: 1.001 / 127, about: "QDQ convolutions: a 1x1 one gets int16-widened weights prepared at the first run; a 3x3 one whose output rows hold at least 12 pixels gets Winograd-domain weights, and takes the residual Add of a dequantized tensor and the Relu after it",
		build: func(b *irtest.B) *ir.Graph {
			b.In("x", ir.Float32, 1, 8, 6, 12)
			b.Const("s", ir.ScalarF32(1.0/64))
			b.Const("s2", ir.ScalarF32(1.0/16))
			b.Const("zero", ir.NewTensor(ir.Int8, ir.Shape{}))
			b.Const("w1", irtest.Rand(1, ir.Int8, 8, 8, 1, 1))
			b.Const("w3", irtest.Rand(2, ir.Int8, 8, 8, 3, 3))
			b.Const("sw", ir.ScalarF32(1.0/64))
			b.Op("xq", &ir.QuantizeLinear{}, "x", "s", "zero")
			b.Op("xd", &ir.DequantizeLinear{}, "xq", "s", "zero")
			b.Op("w1d", &ir.DequantizeLinear{}, "w1", "sw")
			b.Op("w3d", &ir.DequantizeLinear{}, "w3", "sw")
			b.Op("p", &ir.Conv{Group: 1}, "xd", "w1d")
			b.Op("pq", &ir.QuantizeLinear{}, "p", "s", "zero")
			b.Op("pd", &ir.DequantizeLinear{}, "pq", "s", "zero")
			b.Op("c", &ir.Conv{Window: ir.Window{Pads: []int{1, 1, 1, 1}}, Group: 1}, "pd", "w3d")
			b.Op("res", &ir.Binary{Fn: ir.FnAdd}, "c", "xd")
			b.Op("relu", &ir.Unary{Fn: ir.FnRelu}, "res")
			b.Op("yq", &ir.QuantizeLinear{}, "relu", "s2", "zero")
			b.Op("y", &ir.DequantizeLinear{}, "yq", "s2", "zero")
			return b.Out("y")
		}},
	{name: "transpose", about: "two Transposes that undo each other become one view; a Transpose that moves only a unit axis becomes a Reshape; one that moves data stays",
		build: func(b *irtest.B) *ir.Graph {
			b.In("x", ir.Float32, 2, 1, 3, 4)
			b.Op("a", &ir.Transpose{Perm: []int{3, 1, 2, 0}}, "x")
			b.Op("b", &ir.Transpose{Perm: []int{3, 1, 2, 0}}, "a")
			b.Op("c", &ir.Transpose{Perm: []int{1, 0, 2, 3}}, "x")
			b.Op("d", &ir.Transpose{Perm: []int{3, 2, 1, 0}}, "x")
			return b.Out("b", "c", "d")
		}},
	{name: "identity", about: "an Identity inside the graph goes, its readers read its input; one that writes a graph output stays (the output keeps its name)",
		build: func(b *irtest.B) *ir.Graph {
			b.In("x", ir.Float32, 4)
			b.Op("i", &ir.Identity{}, "x")
			b.Op("n", &ir.Unary{Fn: ir.FnNeg}, "i")
			b.Op("out", &ir.Identity{}, "n")
			return b.Out("out")
		}},
	{name: "strength", about: "Pow(x, 2) becomes x*x; Pow(x, 3) and a Pow whose exponent broadcasts the shape up stay",
		build: func(b *irtest.B) *ir.Graph {
			b.In("x", ir.Float32, 2, 3)
			b.Const("two", ir.ScalarF32(2))
			b.Const("three", ir.ScalarF32(3))
			b.Const("twos", ir.TensorF32(ir.Shape{2, 2, 3}, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2))
			b.Op("sq", &ir.Binary{Fn: ir.FnPow}, "x", "two")
			b.Op("cube", &ir.Binary{Fn: ir.FnPow}, "x", "three")
			b.Op("wide", &ir.Binary{Fn: ir.FnPow}, "x", "twos")
			return b.Out("sq", "cube", "wide")
		}},
	{name: "widenhalf", about: "a float16 Conv with constant weights computes in float32 between Casts, with its weights converted at compile time, so that it takes the fused kernels; the Relu after it stays float16",
		build: func(b *irtest.B) *ir.Graph {
			b.In("x", ir.Float16, 1, 2, 5, 5)
			b.Const("w", irtest.Rand(1, ir.Float16, 3, 2, 3, 3))
			b.Const("b", irtest.Rand(2, ir.Float16, 3))
			b.Op("y", &ir.Conv{Window: ir.Window{Pads: []int{1, 1, 1, 1}}, Group: 1}, "x", "w", "b")
			b.Op("r", &ir.Unary{Fn: ir.FnRelu}, "y")
			return b.Out("r")
		}},
	{name: "bnfold", tol: 1e-6, about: "a BatchNormalization after a Conv with constant weights folds into the Conv's weights and bias; one after an Add stays",
		build: func(b *irtest.B) *ir.Graph {
			b.In("x", ir.Float32, 1, 2, 4, 4)
			b.Const("w", irtest.Rand(1, ir.Float32, 3, 2, 3, 3))
			for i, p := range []string{"scale", "beta", "mean"} {
				b.Const(p, irtest.Rand(int64(10+i), ir.Float32, 3))
			}
			b.Const("var", ir.TensorF32(ir.Shape{3}, 0.5, 1, 2))
			b.Const("scale2", irtest.Rand(20, ir.Float32, 2))
			b.Const("beta2", irtest.Rand(21, ir.Float32, 2))
			b.Const("mean2", irtest.Rand(22, ir.Float32, 2))
			b.Const("var2", ir.TensorF32(ir.Shape{2}, 1, 3))
			b.Op("conv", &ir.Conv{Window: ir.Window{Pads: []int{1, 1, 1, 1}}, Group: 1}, "x", "w")
			b.Op("bn", &ir.BatchNorm{Epsilon: 1e-5}, "conv", "scale", "beta", "mean", "var")
			b.Op("xx", &ir.Binary{Fn: ir.FnAdd}, "x", "x")
			b.Op("bn2", &ir.BatchNorm{Epsilon: 1e-5}, "xx", "scale2", "beta2", "mean2", "var2")
			return b.Out("bn", "bn2")
		}},
	{name: "fuse", tol: 1e-6, about: "a Conv absorbs a residual Add and a Relu; a MatMul with constant weights absorbs its bias Add and a Sigmoid; a Gemm with transposed B becomes a MatMul; prepack then packs their weights (v8: the Conv's as the A side)",
		build: func(b *irtest.B) *ir.Graph {
			b.In("x", ir.Float32, 1, 4, 5, 5)
			b.Const("w", irtest.Rand(1, ir.Float32, 4, 4, 3, 3))
			b.Const("b", irtest.Rand(2, ir.Float32, 4))
			b.Const("shape", ir.TensorI64(ir.Shape{2}, 4, 25))
			b.Const("m", irtest.Rand(3, ir.Float32, 25, 6))
			b.Const("mb", irtest.Rand(4, ir.Float32, 6))
			b.Const("g", irtest.Rand(5, ir.Float32, 3, 6))
			b.Op("conv", &ir.Conv{Window: ir.Window{Pads: []int{1, 1, 1, 1}}, Group: 1}, "x", "w", "b")
			b.Op("res", &ir.Binary{Fn: ir.FnAdd}, "conv", "x")
			b.Op("relu", &ir.Unary{Fn: ir.FnRelu}, "res")
			b.Op("flat", &ir.Reshape{}, "relu", "shape")
			b.Op("mm", &ir.MatMul{}, "flat", "m")
			b.Op("biased", &ir.Binary{Fn: ir.FnAdd}, "mm", "mb")
			b.Op("sig", &ir.Unary{Fn: ir.FnSigmoid}, "biased")
			b.Op("gemm", &ir.Gemm{Alpha: 1, Beta: 1, TransB: true}, "sig", "g")
			return b.Out("gemm")
		}},
	{name: "fuse_epilogues", tol: 1e-6, about: "a Conv absorbs a per-channel constant Add into its bias (CNTK's bias), then Max and Min with constant scalars as one-sided clamps; a Gemm's bias C scaled by beta becomes the fused MatMul's bias; a MatMul whose right-hand side is not constant stays",
		build: func(b *irtest.B) *ir.Graph {
			b.In("x", ir.Float32, 1, 3, 4, 4)
			b.In("m", ir.Float32, 16, 2)
			b.Const("w", irtest.Rand(1, ir.Float32, 3, 3, 3, 3))
			b.Const("b", irtest.Rand(2, ir.Float32, 3))
			b.Const("chan", irtest.Rand(3, ir.Float32, 3, 1, 1))
			b.Const("lo", ir.ScalarF32(-0.25))
			b.Const("hi", ir.ScalarF32(0.75))
			b.Const("shape", ir.TensorI64(ir.Shape{2}, 3, 16))
			b.Const("g", irtest.Rand(4, ir.Float32, 2, 5))
			b.Const("gc", irtest.Rand(5, ir.Float32, 5))
			b.Op("conv", &ir.Conv{Window: ir.Window{Pads: []int{1, 1, 1, 1}}, Group: 1}, "x", "w", "b")
			b.Op("plus", &ir.Binary{Fn: ir.FnAdd}, "conv", "chan")
			b.Op("floor", &ir.Binary{Fn: ir.FnMax}, "plus", "lo")
			b.Op("ceil", &ir.Binary{Fn: ir.FnMin}, "hi", "floor")
			b.Op("flat", &ir.Reshape{}, "ceil", "shape")
			b.Op("mm", &ir.MatMul{}, "flat", "m")
			b.Op("gemm", &ir.Gemm{Alpha: 1, Beta: 0.5}, "mm", "g", "gc")
			return b.Out("gemm")
		}},
	{name: "chain_heads", tol: 1e-6, about: "chains may start with a Clip of constant bounds or a binary op, whose second input is the chain's input 1; a Clip with an omitted bound chains too, with that bound infinite",
		build: func(b *irtest.B) *ir.Graph {
			b.In("x", ir.Float32, 8)
			b.In("y", ir.Float32, 8)
			b.Const("lo", ir.ScalarF32(-0.5))
			b.Const("hi", ir.ScalarF32(0.5))
			b.Op("c", &ir.Clip{}, "x", "lo", "hi")
			b.Op("c1", &ir.Clip{}, "x", "lo", "")
			b.Op("e", &ir.Unary{Fn: ir.FnExp}, "c")
			b.Op("s", &ir.Binary{Fn: ir.FnAdd}, "x", "y")
			b.Op("n", &ir.Unary{Fn: ir.FnNeg}, "s")
			b.Op("d", &ir.Binary{Fn: ir.FnDiv}, "n", "y")
			b.Op("e1", &ir.Unary{Fn: ir.FnExp}, "c1")
			return b.Out("e", "d", "e1")
		}},
	{name: "chain", tol: 1e-6, about: "a chain of float32 elementwise ops whose intermediates have one reader becomes one FusedElementwise loop; x*x of the running value and a value read twice end a chain",
		build: func(b *irtest.B) *ir.Graph {
			b.In("x", ir.Float32, 2, 8)
			b.In("y", ir.Float32, 8)
			b.Const("half", ir.ScalarF32(0.5))
			b.Const("lo", ir.ScalarF32(-1))
			b.Const("hi", ir.ScalarF32(1))
			b.Op("e", &ir.Unary{Fn: ir.FnExp}, "x")
			b.Op("m", &ir.Binary{Fn: ir.FnMul}, "e", "half")
			b.Op("s", &ir.Binary{Fn: ir.FnSub}, "y", "m")
			b.Op("c", &ir.Clip{}, "s", "lo", "hi")
			b.Op("sq", &ir.Binary{Fn: ir.FnMul}, "c", "c")
			b.Op("t", &ir.Unary{Fn: ir.FnTanh}, "sq")
			b.Op("u", &ir.Binary{Fn: ir.FnAdd}, "t", "sq")
			return b.Out("u")
		}},
	{name: "prepack", tol: 1e-5, about: "with the v8 tune a 3x3 stride-1 Conv with 8 input channels and at least 12x12 outputs takes Winograd-domain weights, a 1x1 Conv packed A-side weights",
		build: func(b *irtest.B) *ir.Graph {
			b.In("x", ir.Float32, 1, 8, 12, 12)
			b.Const("w3", irtest.Rand(1, ir.Float32, 4, 8, 3, 3))
			b.Const("w1", irtest.Rand(2, ir.Float32, 4, 4, 1, 1))
			b.Op("c3", &ir.Conv{Window: ir.Window{Pads: []int{1, 1, 1, 1}}, Group: 1}, "x", "w3")
			b.Op("c1", &ir.Conv{Group: 1}, "c3", "w1")
			return b.Out("c1")
		}},
	{name: "prepack_wazero", tol: 1e-5, about: "with the wazero tune a Conv's weights are packed as the B side, and no Winograd",
		opts: Options{Level: 2, SIMD: true, ConvWeights: codegen.ConvWeightsFunc(tune.Wazero)},
		build: func(b *irtest.B) *ir.Graph {
			b.In("x", ir.Float32, 1, 8, 12, 12)
			b.Const("w3", irtest.Rand(1, ir.Float32, 4, 8, 3, 3))
			b.Op("c3", &ir.Conv{Window: ir.Window{Pads: []int{1, 1, 1, 1}}, Group: 1}, "x", "w3")
			return b.Out("c3")
		}},
	{name: "rnnpack", tol: 1e-6, about: "an LSTM with constant weights becomes a PackedRNN, its weights in the step kernel's layout",
		build: func(b *irtest.B) *ir.Graph {
			acts, err := ir.ResolveRNNActivations(ir.KindLSTM, 1, nil, nil, nil)
			if err != nil {
				panic(err)
			}
			b.In("x", ir.Float32, 3, 1, 2)
			b.Const("W", irtest.Rand(1, ir.Float32, 1, 16, 2))
			b.Const("R", irtest.Rand(2, ir.Float32, 1, 16, 4))
			b.Const("B", irtest.Rand(3, ir.Float32, 1, 32))
			b.Op("Y,Yh,Yc", &ir.RNN{Kind: ir.KindLSTM, Direction: "forward", HiddenSize: 4, Activations: acts}, "x", "W", "R", "B")
			return b.Out("Y", "Yc")
		}},
	{name: "qpack", about: "MatMulInteger with constant 2-D weights gets them packed for the integer GEMM, their zero point folded in",
		build: func(b *irtest.B) *ir.Graph {
			b.In("a", ir.Uint8, 3, 16)
			b.Const("w", irtest.Rand(1, ir.Int8, 16, 5))
			b.Const("az", ir.FromFloats(ir.Uint8, ir.Shape{}, []float64{3}))
			b.Const("wz", ir.FromFloats(ir.Int8, ir.Shape{}, []float64{-2}))
			b.Op("y", &ir.MatMulInteger{}, "a", "w", "az", "wz")
			return b.Out("y")
		}},
	{name: "dce", about: "nodes nobody reads go, and so do unused outputs of the nodes that stay (TopK's indices)",
		build: func(b *irtest.B) *ir.Graph {
			b.In("x", ir.Float32, 2, 6)
			b.Const("k", ir.TensorI64(ir.Shape{1}, 2))
			b.Op("dead", &ir.Unary{Fn: ir.FnExp}, "x")
			b.Op("deader", &ir.Unary{Fn: ir.FnNeg}, "dead")
			b.Op("v,i", &ir.TopK{Axis: -1, Largest: true, K: -1}, "x", "k")
			return b.Out("v")
		}},
}

func TestGoldenPasses(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			b := irtest.New(t)
			g := c.build(b)
			g.Name = c.name
			in := irtest.Inputs(g)
			want := irtest.Eval(t, g, in)
			var text strings.Builder
			fmt.Fprintf(&text, "# %s\n", wrap(c.about, 76, "# "))
			prev := ""
			o := c.opts
			if o.Level == 0 {
				o = Options{Level: 2, SIMD: true, ConvWeights: codegen.ConvWeightsFunc(tune.V8)} // mlc compile's defaults
			}
			o.Debug.Verify = true
			o.Debug.Dump = func(stage string, g *ir.Graph, p *memplan.Plan) {
				s := g.Format(nil)
				if p != nil {
					s = "# " + p.Summary() + "\n" + g.Format(p)
				}
				if s != prev {
					fmt.Fprintf(&text, "\n== %s\n%s", stage, s)
				}
				prev = s
			}
			if _, err := Run(g, o); err != nil {
				t.Fatal(err)
			}
			irtest.SameOutputs(t, g, in, want, c.tol)
			checkGolden(t, filepath.Join("testdata", "passes", c.name+".txt"), text.String())
		})
	}
}

// checkGolden compares got with the file, or rewrites it under -update.
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./opt -run Golden -update writes it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got); if the change is meant, go test ./opt -run Golden -update:\n%s", path, diff)
	}
}

// wrap breaks text into lines of at most width, each after the first
// starting with prefix.
func wrap(text string, width int, prefix string) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	lines = append(lines, line)
	return strings.Join(lines, "\n"+prefix)
}
