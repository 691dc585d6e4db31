package e2e_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/quant"
)

// TestQuantizedCosine quantizes mobilenet_v2 and oww_embedding to int8 and
// checks that on every test data set the outputs keep a cosine similarity
// of at least 0.98 with the float module's. mobilenet_v2 is calibrated on
// synthetic data: per-channel normal noise with the mean and deviation of
// its test inputs (which are such noise), not on the test inputs; the
// oww_embedding inputs are mel spectrograms, which noise does not imitate,
// so it is calibrated on its own two test sets. mobilenet_v2 (random
// weights) amplifies quantization noise: with int8 activations everywhere
// its cosine lands at 0.978-0.985 depending on the calibration samples,
// so its first 8 layers keep int16 activations (weights stay int8, every
// layer an integer kernel).
func TestQuantizedCosine(t *testing.T) {
	shared := testenv.Shared(t)
	for _, c := range []struct {
		model       string
		synthetic   int // samples of synthetic calibration data; 0: the test sets
		int16Layers int
	}{
		{"mobilenet_v2", 16, 8},
		{"oww_embedding", 0, 0},
	} {
		t.Run(c.model, func(t *testing.T) {
			dir := filepath.Join(shared, "models", c.model)
			sets := readSets(t, dir)
			o := mlc.DefaultOptions()
			o.Quantize, o.CalibrationMethod, o.Calibration, o.Int16Layers = quant.Int8, quant.MSE, dir, c.int16Layers
			if c.synthetic > 0 {
				o.Calibration = filepath.Join(t.TempDir(), "calibration.npy")
				if err := hostir.WriteNPY(o.Calibration, noiseLike(sets, c.synthetic)); err != nil {
					t.Fatal(err)
				}
			}
			q, err := mlc.CompileFile(filepath.Join(dir, "model.onnx"), o)
			if err != nil {
				t.Fatal(err)
			}
			fl, err := mlc.CompileFile(filepath.Join(dir, "model.onnx"), mlc.DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("module %d bytes, float %d bytes (%.3fx)", len(q.Wasm), len(fl.Wasm), float64(len(q.Wasm))/float64(len(fl.Wasm)))
			q.Graph.Walk(func(n *ir.Node) {
				switch n.Op.(type) {
				case *ir.Conv, *ir.Gemm, *ir.MatMul:
					t.Errorf("%s stayed a float op", n.Label())
				}
			})
			qo, fo := runSets(t, q.Wasm, sets), runSets(t, fl.Wasm, sets)
			for i := range sets {
				for name, f := range fo[i] {
					cos := cosine(f.F32(), qo[i][name].F32())
					t.Logf("test_data_set_%d %s: cosine %.5f", i, name, cos)
					if cos < 0.98 {
						t.Errorf("test_data_set_%d %s: cosine %.5f with the float output, want at least 0.98", i, name, cos)
					}
				}
			}
		})
	}
}

// noiseLike makes n samples of per-channel (axis 1) normal noise with the
// mean and standard deviation of the sets' single input, from a fixed seed.
func noiseLike(sets []map[string]*ir.Tensor, n int) *ir.Tensor {
	var x *ir.Tensor
	for _, s := range sets {
		for _, t := range s {
			x = t
		}
	}
	C := x.Shape[1]
	per := x.Len() / C
	sum, sq := make([]float64, C), make([]float64, C)
	for _, s := range sets {
		for _, t := range s {
			for i, v := range t.F32() {
				sum[i/per%C] += float64(v)
				sq[i/per%C] += float64(v) * float64(v)
			}
		}
	}
	cnt := float64(len(sets) * per)
	r := rand.New(rand.NewPCG(1, 2))
	out := ir.NewTensor(ir.Float32, append(ir.Shape{n * x.Shape[0]}, x.Shape[1:]...))
	for i := range out.F32() {
		c := i / per % C
		mu := sum[c] / cnt
		out.F32()[i] = float32(mu + math.Sqrt(sq[c]/cnt-mu*mu)*r.NormFloat64())
	}
	return out
}

// readSets reads the inputs of a model folder's test data sets.
func readSets(t *testing.T, dir string) []map[string]*ir.Tensor {
	t.Helper()
	var sets []map[string]*ir.Tensor
	for i := 0; ; i++ {
		p := filepath.Join(dir, fmt.Sprintf("test_data_set_%d", i), "input_0.pb")
		if _, err := os.Stat(p); err != nil {
			break
		}
		sets = append(sets, map[string]*ir.Tensor{"": readPB(t, p)})
	}
	if len(sets) == 0 {
		t.Fatalf("%s has no test data sets", dir)
	}
	return sets
}

// runSets runs a one-input module on each set.
func runSets(t *testing.T, wasm []byte, sets []map[string]*ir.Tensor) []map[string]*ir.Tensor {
	t.Helper()
	ctx := context.Background()
	m := optest.Load(t, wasm)
	var outs []map[string]*ir.Tensor
	for _, s := range sets {
		res, err := hostir.Run(ctx, m, map[string]*ir.Tensor{m.Meta.Inputs[0].Name: s[""]})
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, res)
	}
	return outs
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

// TestQDQModel builds a small QDQ model as quantization tools export them
// (QuantizeLinear/DequantizeLinear around Conv, Relu, MaxPool, Add,
// Flatten and Gemm; per-channel int8 weights; a float bias, an int32 bias
// behind DequantizeLinear) and checks that the qdq pass lowers every
// product and the Add to integer kernels, and that the result stays close
// to the reference interpreter's dequantize-then-float semantics. At -O0
// the model runs as written and matches the reference to float precision.
func TestQDQModel(t *testing.T) {
	model := qdqModel(t)
	r := rand.New(rand.NewPCG(7, 8))
	x := ir.NewTensor(ir.Float32, ir.Shape{1, 4, 10, 10})
	for i := range x.F32() {
		x.F32()[i] = float32(r.NormFloat64() * 2)
	}
	m, err := frontend.Import(model, "", frontend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := ir.Run(m.Graph, ir.Env{m.Graph.Inputs[0]: x})
	if err != nil {
		t.Fatal(err)
	}
	for _, level := range []int{2, 0} {
		o := mlc.DefaultOptions()
		o.OptLevel = level
		res, err := mlc.Compile(model, "", o)
		if err != nil {
			t.Fatal(err)
		}
		counts := map[string]int{}
		res.Graph.Walk(func(n *ir.Node) { counts[n.Op.OpType()]++ })
		got := runSets(t, res.Wasm, []map[string]*ir.Tensor{{"": x}})[0]["y"]
		var se, sr, maxAbs float64
		for i, v := range want[0].F32() {
			d := float64(got.F32()[i] - v)
			se, sr, maxAbs = se+d*d, sr+float64(v)*float64(v), max(maxAbs, math.Abs(d))
		}
		rel := math.Sqrt(se / sr)
		t.Logf("-O%d: ops %v; relative error %.3g, max abs %.3g", level, counts, rel, maxAbs)
		if level == 2 {
			if counts["QConv"] != 2 || counts["QAdd"] != 1 || counts["QMatMul"] != 1 || counts["DequantizeLinear"] != 0 || counts["Conv"]+counts["Gemm"]+counts["Add"] != 0 {
				t.Errorf("lowered graph has ops %v", counts)
			}
			// requantizing in integer kernels rounds differently from
			// dequantize-then-float: a few output steps at most
			if rel > 0.02 {
				t.Errorf("relative error %.3g against the reference", rel)
			}
		} else if maxAbs > 1e-4 {
			t.Errorf("-O0: max abs error %.3g against the reference", maxAbs)
		}
	}
}

// qdqModel encodes the QDQ model of TestQDQModel.
func qdqModel(t *testing.T) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(5, 6))
	g := &onnxpb.GraphProto{Name: proto.String("qdq")}
	init := func(name string, tt *ir.Tensor) {
		g.Initializer = append(g.Initializer, frontend.TensorToProto(name, tt))
	}
	scalar := func(name string, v float32) { init(name, ir.TensorF32(ir.Shape{}, v)) }
	zero := func(name string, dt ir.DType, v int64) {
		z := ir.NewTensor(dt, ir.Shape{})
		z.SetInt(0, v)
		init(name, z)
	}
	randInt := func(name string, dt ir.DType, shape ir.Shape, lo, hi int64) {
		w := ir.NewTensor(dt, shape)
		for i := 0; i < w.Len(); i++ {
			w.SetInt(i, lo+r.Int64N(hi-lo+1))
		}
		init(name, w)
	}
	randF := func(name string, shape ir.Shape, lo, hi float64) {
		w := ir.NewTensor(ir.Float32, shape)
		for i := range w.F32() {
			w.F32()[i] = float32(lo + (hi-lo)*r.Float64())
		}
		init(name, w)
	}
	node := func(op string, in []string, out string, attrs ...*onnxpb.AttributeProto) {
		g.Node = append(g.Node, &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(out), Input: in, Output: []string{out}, Attribute: attrs})
	}
	qdq := func(in, s, z, out string) {
		node("QuantizeLinear", []string{in, s, z}, out+"_q")
		node("DequantizeLinear", []string{out + "_q", s, z}, out)
	}
	scalar("sx", 0.05)
	zero("zx", ir.Uint8, 128)
	scalar("s1", 0.04)
	zero("z1", ir.Uint8, 0)
	scalar("s2", 0.06)
	zero("z2", ir.Uint8, 128)
	scalar("s3", 0.08)
	zero("z3", ir.Uint8, 120)
	randInt("w1", ir.Int8, ir.Shape{8, 4, 3, 3}, -127, 127)
	randF("w1_s", ir.Shape{8}, 0.002, 0.01)
	init("w1_z", ir.NewTensor(ir.Int8, ir.Shape{8}))
	randF("b1", ir.Shape{8}, -0.5, 0.5)
	randInt("w2", ir.Int8, ir.Shape{8, 8, 1, 1}, -127, 127)
	init("w2_s", ir.TensorF32(ir.Shape{8}, 0.01, 0.012, 0.008, 0.009, 0.011, 0.01, 0.007, 0.013))
	b2s := ir.NewTensor(ir.Float32, ir.Shape{8})
	for i, s := range []float32{0.01, 0.012, 0.008, 0.009, 0.011, 0.01, 0.007, 0.013} {
		b2s.F32()[i] = 0.04 * s
	}
	init("b2_s", b2s)
	randInt("b2", ir.Int32, ir.Shape{8}, -500, 500)
	randInt("wf", ir.Int8, ir.Shape{10, 200}, -127, 127)
	randF("wf_s", ir.Shape{10}, 0.001, 0.004)
	randF("bf", ir.Shape{10}, -1, 1)

	qdq("x", "sx", "zx", "x_dq")
	node("DequantizeLinear", []string{"w1", "w1_s", "w1_z"}, "w1_dq", optest.Int("axis", 0))
	node("Conv", []string{"x_dq", "w1_dq", "b1"}, "c1", optest.Ints("pads", 1, 1, 1, 1))
	node("Relu", []string{"c1"}, "r1")
	qdq("r1", "s1", "z1", "r1_dq")
	node("MaxPool", []string{"r1_dq"}, "p1", optest.Ints("kernel_shape", 2, 2), optest.Ints("strides", 2, 2))
	qdq("p1", "s1", "z1", "p1_dq")
	node("DequantizeLinear", []string{"w2", "w2_s"}, "w2_dq", optest.Int("axis", 0))
	node("DequantizeLinear", []string{"b2", "b2_s"}, "b2_dq", optest.Int("axis", 0))
	node("Conv", []string{"p1_dq", "w2_dq", "b2_dq"}, "c2")
	qdq("c2", "s2", "z2", "c2_dq")
	node("Add", []string{"c2_dq", "p1_dq"}, "a")
	qdq("a", "s3", "z3", "a_dq")
	node("Flatten", []string{"a_dq"}, "f")
	qdq("f", "s3", "z3", "f_dq")
	node("DequantizeLinear", []string{"wf", "wf_s"}, "wf_dq", optest.Int("axis", 0))
	node("Gemm", []string{"f_dq", "wf_dq", "bf"}, "y", optest.Int("transB", 1))
	g.Input = []*onnxpb.ValueInfoProto{optest.Value("x", ir.Float32, 1, 4, 10, 10)}
	g.Output = []*onnxpb.ValueInfoProto{{Name: proto.String("y")}}
	mp := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}},
		Graph:       g,
	}
	data, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
