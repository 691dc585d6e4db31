package mlc_test

import (
	"context"
	"fmt"
	"math/rand"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
	"github.com/mlc-compiler/mlc/verify"
)

// Sequence-model operators (RNN family, attention, ...) checked beyond the
// ONNX backend cases: each configuration is compiled and run as Wasm and
// compared with the reference interpreter on random data.

// opInput is a node input: a graph input with data, or omitted (nil t).
type opInput struct {
	name string
	t    *ir.Tensor
}

type opCase struct {
	op, domain string
	opset      int
	attrs      []*onnxpb.AttributeProto
	inputs     []opInput
	outputs    []string // "" for omitted outputs
	rtol, atol float64
	simd       bool
	graphAttrs map[string]*onnxpb.GraphProto
}

func attrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func attrFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

func attrString(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

func attrStrings(name string, v ...string) *onnxpb.AttributeProto {
	a := &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRINGS.Enum()}
	for _, s := range v {
		a.Strings = append(a.Strings, []byte(s))
	}
	return a
}

func attrFloats(name string, v ...float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOATS.Enum(), Floats: v}
}

func valueInfo(name string, t *ir.Tensor) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range t.Shape {
		shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(frontend.DTypeToONNX(t.DType)), Shape: shape}}}}
}

// model builds a one-node model.
func (c opCase) model() *onnxpb.ModelProto {
	node := &onnxpb.NodeProto{OpType: proto.String(c.op), Domain: proto.String(c.domain), Attribute: c.attrs}
	g := &onnxpb.GraphProto{Name: proto.String("g")}
	for _, in := range c.inputs {
		if in.t == nil {
			node.Input = append(node.Input, "")
			continue
		}
		node.Input = append(node.Input, in.name)
		g.Input = append(g.Input, valueInfo(in.name, in.t))
	}
	for _, o := range c.outputs {
		node.Output = append(node.Output, o)
		if o != "" {
			g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: proto.String(o)})
		}
	}
	for name, sg := range c.graphAttrs {
		node.Attribute = append(node.Attribute, &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_GRAPH.Enum(), G: sg})
	}
	g.Node = []*onnxpb.NodeProto{node}
	mp := &onnxpb.ModelProto{IrVersion: proto.Int64(10), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(int64(c.opset))}}}
	if c.domain != "" {
		mp.OpsetImport = append(mp.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String(c.domain), Version: proto.Int64(1)})
	}
	return mp
}

// check compiles and runs the case and compares every output with the
// reference interpreter.
func (c opCase) check(t *testing.T) {
	t.Helper()
	mp := c.model()
	data, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	m, err := frontend.ImportProto(mp, "", frontend.Options{})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	env := ir.Env{}
	feeds := map[string]*ir.Tensor{}
	for _, v := range m.Graph.Inputs {
		for _, in := range c.inputs {
			if in.name == v.Name {
				env[v] = in.t
				feeds[v.Name] = in.t
			}
		}
	}
	want, err := ir.Run(m.Graph, env)
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	res, err := mlc.Compile(data, "", mlc.Options{OptLevel: 2, NoSIMD: !c.simd})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	ctx := context.Background()
	rt, err := host.NewRuntime(ctx, host.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	mod, err := rt.Load(ctx, res.Wasm)
	if err != nil {
		t.Fatal(err)
	}
	got, err := mod.Run(ctx, feeds)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	rtol, atol := c.rtol, c.atol
	if rtol == 0 {
		rtol, atol = 1e-4, 1e-5
	}
	for i, v := range m.Graph.Outputs {
		var r verify.OutputResult
		if msg := verify.Compare(got[v.Name], want[i], rtol, atol, &r); msg != "" {
			t.Errorf("output %s: %s (max abs err %.3g)", v.Name, msg, r.MaxAbsErr)
		}
	}
}

func randTensor(rng *rand.Rand, dt ir.DType, scale float64, shape ...int) *ir.Tensor {
	s := ir.Shape(shape)
	v := make([]float64, s.Size())
	for i := range v {
		v[i] = (rng.Float64()*2 - 1) * scale
	}
	return ir.FromFloats(dt, s, v)
}

func TestRNNFamily(t *testing.T) {
	type cfg struct {
		kind            string
		dir             string
		layout          int
		seqLens, bias   bool
		init, peep      bool
		lbr, forget     bool
		clip            float32
		acts            []string
		alphas, betas   []float32
		dt              ir.DType
		noY, noYh, simd bool
	}
	var cfgs []cfg
	for _, kind := range []string{"RNN", "GRU", "LSTM"} {
		for _, dir := range []string{"forward", "reverse", "bidirectional"} {
			for _, layout := range []int{0, 1} {
				for _, seq := range []bool{false, true} {
					cfgs = append(cfgs, cfg{kind: kind, dir: dir, layout: layout, seqLens: seq, bias: true, init: true, peep: true, dt: ir.Float32, simd: true})
				}
			}
		}
		cfgs = append(cfgs,
			cfg{kind: kind, dir: "bidirectional", dt: ir.Float32},
			cfg{kind: kind, dir: "forward", dt: ir.Float64, bias: true, seqLens: true, init: true, peep: true, simd: true},
			cfg{kind: kind, dir: "bidirectional", dt: ir.Float16, bias: true, init: true, simd: true},
			cfg{kind: kind, dir: "reverse", dt: ir.Float32, clip: 0.5, bias: true, simd: true, noY: true},
			cfg{kind: kind, dir: "forward", dt: ir.Float32, bias: true, simd: true, noYh: true},
		)
	}
	cfgs = append(cfgs,
		cfg{kind: "GRU", dir: "bidirectional", lbr: true, bias: true, init: true, seqLens: true, dt: ir.Float32, simd: true},
		cfg{kind: "GRU", dir: "forward", lbr: true, layout: 1, bias: true, dt: ir.Float32},
		cfg{kind: "LSTM", dir: "bidirectional", forget: true, bias: true, peep: true, seqLens: true, dt: ir.Float32, simd: true},
		cfg{kind: "LSTM", dir: "forward", acts: []string{"HardSigmoid", "LeakyRelu", "Softsign"}, alphas: []float32{0.3, 0.2}, betas: []float32{0.4}, bias: true, dt: ir.Float32, simd: true},
		cfg{kind: "LSTM", dir: "bidirectional", acts: []string{"Sigmoid", "Elu", "Softplus", "Sigmoid", "ScaledTanh", "Affine"}, alphas: []float32{0.7, 1.5, 0.5}, betas: []float32{0.8, 0.1}, bias: true, dt: ir.Float32, simd: true},
		cfg{kind: "GRU", dir: "forward", acts: []string{"Relu", "ThresholdedRelu"}, alphas: []float32{0.1}, bias: true, dt: ir.Float32, simd: true},
		cfg{kind: "RNN", dir: "bidirectional", acts: []string{"Relu", "Affine"}, alphas: []float32{0.5}, betas: []float32{0.2}, bias: true, dt: ir.Float64},
	)
	for i, c := range cfgs {
		name := fmt.Sprintf("%d_%s_%s_l%d_seq%v_%s", i, c.kind, c.dir, c.layout, c.seqLens, c.dt)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewSource(int64(i)))
			seq, batch, in, hidden := 5, 3, 6, 7
			if c.simd {
				hidden = 9 // two SIMD groups and a scalar tail
			}
			dirs := 1
			if c.dir == "bidirectional" {
				dirs = 2
			}
			g := map[string]int{"RNN": 1, "GRU": 3, "LSTM": 4}[c.kind]
			x := randTensor(rng, c.dt, 1, seq, batch, in)
			state := []int{dirs, batch, hidden}
			if c.layout == 1 {
				x = randTensor(rng, c.dt, 1, batch, seq, in)
				state = []int{batch, dirs, hidden}
			}
			ins := []opInput{{"X", x}, {"W", randTensor(rng, c.dt, 0.5, dirs, g*hidden, in)}, {"R", randTensor(rng, c.dt, 0.5, dirs, g*hidden, hidden)}, {"B", nil}, {"sequence_lens", nil}, {"initial_h", nil}}
			if c.bias {
				ins[3].t = randTensor(rng, c.dt, 0.5, dirs, 2*g*hidden)
			}
			if c.seqLens {
				ins[4].t = &ir.Tensor{Type: ir.Type{DType: ir.Int32, Shape: ir.Shape{batch}}, Data: make([]byte, 4*batch)}
				for b, l := range []int32{5, 0, 3} {
					ins[4].t.I32()[b] = l
				}
			}
			if c.init {
				ins[5].t = randTensor(rng, c.dt, 1, state...)
			}
			outs := []string{"Y", "Y_h"}
			if c.noY {
				outs[0] = ""
			}
			if c.noYh {
				outs[1] = ""
			}
			if c.kind == "LSTM" {
				ins = append(ins, opInput{"initial_c", nil}, opInput{"P", nil})
				if c.init {
					ins[6].t = randTensor(rng, c.dt, 1, state...)
				}
				if c.peep {
					ins[7].t = randTensor(rng, c.dt, 0.5, dirs, 3*hidden)
				}
				outs = append(outs, "Y_c")
			}
			attrs := []*onnxpb.AttributeProto{attrInt("hidden_size", int64(hidden)), attrString("direction", c.dir), attrInt("layout", int64(c.layout))}
			if c.clip > 0 {
				attrs = append(attrs, attrFloat("clip", c.clip))
			}
			if c.lbr {
				attrs = append(attrs, attrInt("linear_before_reset", 1))
			}
			if c.forget {
				attrs = append(attrs, attrInt("input_forget", 1))
			}
			if c.acts != nil {
				attrs = append(attrs, attrStrings("activations", c.acts...))
			}
			if c.alphas != nil {
				attrs = append(attrs, attrFloats("activation_alpha", c.alphas...))
			}
			if c.betas != nil {
				attrs = append(attrs, attrFloats("activation_beta", c.betas...))
			}
			oc := opCase{op: c.kind, opset: 22, attrs: attrs, inputs: ins, outputs: outs, simd: c.simd}
			if c.dt == ir.Float16 {
				oc.rtol, oc.atol = 2e-3, 2e-3
			}
			oc.check(t)
		})
	}
}
