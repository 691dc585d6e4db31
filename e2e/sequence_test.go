package e2e_test

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/ir"
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
	rtol, atol float64  // 0: 1e-4 and 1e-5
	simd       bool
	consts     []string // inputs given as initializers
}

// check compiles and runs the case and compares every output with the
// reference interpreter.
func (c opCase) check(t *testing.T) {
	t.Helper()
	n := optest.Node{Op: c.op, Domain: c.domain, Opset: c.opset, Attrs: c.attrs, Outputs: c.outputs}
	feeds, consts := tensors{}, tensors{}
	for _, in := range c.inputs {
		if in.t == nil {
			n.Inputs = append(n.Inputs, "")
			continue
		}
		n.Inputs = append(n.Inputs, in.name)
		if slices.Contains(c.consts, in.name) {
			consts[in.name] = in.t
		} else {
			feeds[in.name] = in.t
		}
	}
	model, err := optest.Model(n, feeds, consts)
	if err != nil {
		t.Fatal(err)
	}
	want, err := optest.Reference(model, feeds)
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	o := mlc.DefaultOptions()
	o.NoSIMD = !c.simd
	res, err := mlc.Compile(model, "", o)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	got, err := hostir.Run(context.Background(), optest.Load(t, res.Wasm), feeds)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	rtol, atol := c.rtol, c.atol
	if rtol == 0 {
		rtol, atol = 1e-4, 1e-5
	}
	for _, name := range c.outputs {
		if name == "" {
			continue
		}
		var r verify.OutputResult
		if msg := verify.Compare(got[name], want[name], rtol, atol, &r); msg != "" {
			t.Errorf("output %s: %s (max abs err %.3g)", name, msg, r.MaxAbsErr)
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
		big             bool // hidden size above the unrolled recurrent product
		constW          bool // W, R, B and P are initializers (packed at compile time)
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
		cfg{kind: "LSTM", dir: "bidirectional", bias: true, init: true, seqLens: true, dt: ir.Float32, simd: true, big: true},
		cfg{kind: "GRU", dir: "forward", bias: true, init: true, dt: ir.Float32, simd: true, big: true},
		cfg{kind: "GRU", dir: "forward", acts: []string{"Relu", "ThresholdedRelu"}, alphas: []float32{0.1}, bias: true, dt: ir.Float32, simd: true},
		cfg{kind: "RNN", dir: "bidirectional", acts: []string{"Relu", "Affine"}, alphas: []float32{0.5}, betas: []float32{0.2}, bias: true, dt: ir.Float64},
	)
	for _, c := range cfgs {
		if c.simd && c.dt == ir.Float32 {
			c.constW = true
			cfgs = append(cfgs, c)
		}
	}
	for i, c := range cfgs {
		name := fmt.Sprintf("%d_%s_%s_l%d_seq%v_%s_const%v", i, c.kind, c.dir, c.layout, c.seqLens, c.dt, c.constW)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewSource(int64(i)))
			seq, batch, in, hidden := 5, 3, 6, 7
			if c.simd {
				hidden = 9 // two SIMD groups and a scalar tail
			}
			if c.big {
				hidden = 67
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
			attrs := []*onnxpb.AttributeProto{optest.Int("hidden_size", int64(hidden)), optest.String("direction", c.dir), optest.Int("layout", int64(c.layout))}
			if c.clip > 0 {
				attrs = append(attrs, optest.Float("clip", c.clip))
			}
			if c.lbr {
				attrs = append(attrs, optest.Int("linear_before_reset", 1))
			}
			if c.forget {
				attrs = append(attrs, optest.Int("input_forget", 1))
			}
			if c.acts != nil {
				attrs = append(attrs, optest.Strings("activations", c.acts...))
			}
			if c.alphas != nil {
				attrs = append(attrs, optest.Floats("activation_alpha", c.alphas...))
			}
			if c.betas != nil {
				attrs = append(attrs, optest.Floats("activation_beta", c.betas...))
			}
			oc := opCase{op: c.kind, opset: 22, attrs: attrs, inputs: ins, outputs: outs, simd: c.simd}
			if c.constW {
				oc.consts = []string{"W", "R", "B", "P"}
			}
			if c.dt == ir.Float16 {
				oc.rtol, oc.atol = 2e-3, 2e-3
			}
			oc.check(t)
		})
	}
}

func boolTensor(rng *rand.Rand, p float64, shape ...int) *ir.Tensor {
	s := ir.Shape(shape)
	t := ir.NewTensor(ir.Bool, s)
	for i := range t.Data {
		if rng.Float64() < p {
			t.Data[i] = 1
		}
	}
	return t
}

func TestAttention(t *testing.T) {
	type cfg struct {
		opset                       int
		threeD                      bool
		B, Hq, Hkv, L, S, P, Dk, Dv int
		mask                        []int // mask shape; nil for none
		boolMask                    bool
		causal, nonpad              bool
		scale, softcap              float32
		mode                        int
		precision                   int64
		qk, present                 bool
		dt                          ir.DType
		simd                        bool
	}
	cfgs := []cfg{
		{opset: 23, B: 2, Hq: 3, Hkv: 3, L: 4, S: 6, Dk: 8, Dv: 8, dt: ir.Float32, simd: true},
		{opset: 23, threeD: true, B: 2, Hq: 6, Hkv: 2, L: 3, S: 5, P: 4, Dk: 5, Dv: 7, mask: []int{3, 9}, causal: true, qk: true, present: true, mode: 2, dt: ir.Float32, simd: true},
		{opset: 23, B: 1, Hq: 4, Hkv: 1, L: 5, S: 5, Dk: 36, Dv: 44, mask: []int{1, 4, 5, 1}, boolMask: true, qk: true, mode: 3, dt: ir.Float32, simd: true},
		{opset: 24, B: 2, Hq: 2, Hkv: 2, L: 3, S: 7, Dk: 8, Dv: 12, mask: []int{2, 1, 3, 4}, nonpad: true, causal: true, qk: true, mode: 1, softcap: 1.5, dt: ir.Float32, simd: true},
		{opset: 24, threeD: true, B: 3, Hq: 4, Hkv: 2, L: 1, S: 9, Dk: 132, Dv: 9, nonpad: true, causal: true, dt: ir.Float32, simd: true},
		{opset: 24, B: 2, Hq: 2, Hkv: 1, L: 4, S: 4, P: 3, Dk: 6, Dv: 6, causal: true, mask: []int{4, 7}, boolMask: true, present: true, qk: true, mode: 0, scale: 0.3, dt: ir.Float64, simd: true},
		{opset: 24, B: 2, Hq: 2, Hkv: 2, L: 4, S: 6, P: 2, Dk: 8, Dv: 8, mask: []int{2, 1, 4, 8}, present: true, qk: true, mode: 3, dt: ir.Float16, simd: true},
		{opset: 24, threeD: true, B: 2, Hq: 2, Hkv: 2, L: 3, S: 6, Dk: 8, Dv: 8, causal: true, softcap: 2, dt: ir.Float32},
		{opset: 23, B: 1, Hq: 2, Hkv: 2, L: 3, S: 3, P: 2, Dk: 4, Dv: 4, causal: true, dt: ir.Float32, simd: true},
		{opset: 24, B: 1, Hq: 2, Hkv: 2, L: 3, S: 5, Dk: 8, Dv: 8, mask: []int{3, 5}, qk: true, mode: 3, precision: 10, dt: ir.Float32, simd: true},
		{opset: 24, B: 1, Hq: 2, Hkv: 1, L: 3, S: 5, Dk: 8, Dv: 8, causal: true, precision: 16, dt: ir.Float16, simd: true},
	}
	for i, c := range cfgs {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewSource(int64(100 + i)))
			var q, k, v *ir.Tensor
			if c.threeD {
				q = randTensor(rng, c.dt, 1, c.B, c.L, c.Hq*c.Dk)
				k = randTensor(rng, c.dt, 1, c.B, c.S, c.Hkv*c.Dk)
				v = randTensor(rng, c.dt, 1, c.B, c.S, c.Hkv*c.Dv)
			} else {
				q = randTensor(rng, c.dt, 1, c.B, c.Hq, c.L, c.Dk)
				k = randTensor(rng, c.dt, 1, c.B, c.Hkv, c.S, c.Dk)
				v = randTensor(rng, c.dt, 1, c.B, c.Hkv, c.S, c.Dv)
			}
			ins := []opInput{{"Q", q}, {"K", k}, {"V", v}, {"attn_mask", nil}, {"past_key", nil}, {"past_value", nil}}
			if c.mask != nil {
				if c.boolMask {
					ins[3].t = boolTensor(rng, 0.7, c.mask...)
				} else {
					ins[3].t = randTensor(rng, c.dt, 2, c.mask...)
				}
			}
			if c.P > 0 {
				ins[4].t = randTensor(rng, c.dt, 1, c.B, c.Hkv, c.P, c.Dk)
				ins[5].t = randTensor(rng, c.dt, 1, c.B, c.Hkv, c.P, c.Dv)
			}
			if c.nonpad {
				np := ir.NewTensor(ir.Int64, ir.Shape{c.B})
				for b := range c.B {
					np.I64()[b] = int64([]int{c.S, 2, 0}[b%3])
				}
				ins = append(ins, opInput{"nonpad_kv_seqlen", np})
			}
			outs := []string{"Y", "", "", ""}
			if c.present {
				outs[1], outs[2] = "present_key", "present_value"
			}
			if c.qk {
				outs[3] = "qk"
			}
			attrs := []*onnxpb.AttributeProto{optest.Int("qk_matmul_output_mode", int64(c.mode))}
			if c.threeD {
				attrs = append(attrs, optest.Int("q_num_heads", int64(c.Hq)), optest.Int("kv_num_heads", int64(c.Hkv)))
			}
			if c.causal {
				attrs = append(attrs, optest.Int("is_causal", 1))
			}
			if c.scale != 0 {
				attrs = append(attrs, optest.Float("scale", c.scale))
			}
			if c.softcap != 0 {
				attrs = append(attrs, optest.Float("softcap", c.softcap))
			}
			if c.precision != 0 {
				attrs = append(attrs, optest.Int("softmax_precision", c.precision))
			}
			oc := opCase{op: "Attention", opset: c.opset, attrs: attrs, inputs: ins, outputs: outs, simd: c.simd}
			if c.dt == ir.Float16 {
				oc.rtol, oc.atol = 3e-3, 3e-3
			}
			oc.check(t)
		})
	}
}

func TestFlexAttention(t *testing.T) {
	// score_mod adds a bias tensor; prob_mod scales the probabilities.
	mod := func(op string, dt ir.DType, vals ...float64) *onnxpb.GraphProto {
		return &onnxpb.GraphProto{Name: proto.String(op), Input: []*onnxpb.ValueInfoProto{optest.Untyped("x")}, Output: []*onnxpb.ValueInfoProto{optest.Untyped("y")},
			Initializer: []*onnxpb.TensorProto{frontend.TensorToProto("c", ir.FromFloats(dt, ir.Shape{len(vals)}, vals))},
			Node:        []*onnxpb.NodeProto{optest.Op(op, []string{"x", "c"}, []string{"y"})}}
	}
	type cfg struct {
		B, Hq, Hkv, L, S, E, Ev int
		dt                      ir.DType
		scale                   float32
		score, prob             bool
	}
	for i, c := range []cfg{
		{B: 2, Hq: 4, Hkv: 2, L: 3, S: 5, E: 8, Ev: 6, dt: ir.Float32, score: true, prob: true},
		{B: 1, Hq: 2, Hkv: 1, L: 4, S: 4, E: 5, Ev: 9, dt: ir.Float64, scale: 0.2, score: true},
		{B: 1, Hq: 3, Hkv: 3, L: 2, S: 6, E: 16, Ev: 16, dt: ir.Float16, prob: true},
		{B: 1, Hq: 2, Hkv: 2, L: 2, S: 3, E: 4, Ev: 4, dt: ir.Float64},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewSource(int64(200 + i)))
			oc := opCase{op: "FlexAttention", domain: "ai.onnx.preview", opset: 26, simd: true, outputs: []string{"Y"},
				inputs: []opInput{{"Q", randTensor(rng, c.dt, 1, c.B, c.Hq, c.L, c.E)}, {"K", randTensor(rng, c.dt, 1, c.B, c.Hkv, c.S, c.E)}, {"V", randTensor(rng, c.dt, 1, c.B, c.Hkv, c.S, c.Ev)}}}
			sdt := ir.Float32
			if c.dt == ir.Float64 {
				sdt = ir.Float64
			}
			if c.score {
				vals := make([]float64, c.S)
				for j := range vals {
					vals[j] = float64(j) * 0.3
				}
				oc.attrs = append(oc.attrs, optest.Graph("score_mod", mod("Add", sdt, vals...)))
			}
			if c.prob {
				oc.attrs = append(oc.attrs, optest.Graph("prob_mod", mod("Mul", sdt, 0.5)))
			}
			if c.scale != 0 {
				oc.attrs = append(oc.attrs, optest.Float("scale", c.scale))
			}
			if c.dt == ir.Float16 {
				oc.rtol, oc.atol = 3e-3, 3e-3
			}
			oc.check(t)
		})
	}
}

func TestRotaryEmbedding(t *testing.T) {
	type cfg struct {
		threeD, interleaved bool
		B, H, S, D, rot     int
		pos                 []int // position_ids shape; nil: 3-D caches
		cache               []int // cache batch and seq dims without position_ids
		dt                  ir.DType
		simd                bool
	}
	for i, c := range []cfg{
		{B: 2, H: 3, S: 4, D: 16, pos: []int{2, 4}, dt: ir.Float32, simd: true},
		{B: 2, H: 3, S: 4, D: 16, rot: 10, pos: []int{1, 4}, dt: ir.Float32, simd: true},
		{threeD: true, B: 2, H: 2, S: 3, D: 12, interleaved: true, pos: []int{2, 3}, dt: ir.Float32, simd: true},
		{threeD: true, B: 2, H: 2, S: 3, D: 8, rot: 4, cache: []int{1, 3}, dt: ir.Float32, simd: true},
		{B: 2, H: 2, S: 3, D: 8, cache: []int{2, 3}, interleaved: true, rot: 6, dt: ir.Float16, simd: true},
		{B: 1, H: 2, S: 5, D: 6, pos: []int{1, 5}, dt: ir.Float32},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewSource(int64(300 + i)))
			rot := c.rot
			if rot == 0 {
				rot = c.D
			}
			x := randTensor(rng, c.dt, 1, c.B, c.H, c.S, c.D)
			attrs := []*onnxpb.AttributeProto{optest.Int("rotary_embedding_dim", int64(c.rot))}
			if c.threeD {
				x = randTensor(rng, c.dt, 1, c.B, c.S, c.H*c.D)
				attrs = append(attrs, optest.Int("num_heads", int64(c.H)))
			}
			if c.interleaved {
				attrs = append(attrs, optest.Int("interleaved", 1))
			}
			ins := []opInput{{"X", x}}
			if c.pos != nil {
				ins = append(ins, opInput{"cos", randTensor(rng, c.dt, 1, 20, rot/2)}, opInput{"sin", randTensor(rng, c.dt, 1, 20, rot/2)})
				p := ir.NewTensor(ir.Int64, ir.Shape(c.pos))
				for j := range p.I64() {
					p.I64()[j] = int64(rng.Intn(20))
				}
				ins = append(ins, opInput{"position_ids", p})
			} else {
				ins = append(ins, opInput{"cos", randTensor(rng, c.dt, 1, c.cache[0], c.cache[1], rot/2)}, opInput{"sin", randTensor(rng, c.dt, 1, c.cache[0], c.cache[1], rot/2)})
			}
			oc := opCase{op: "RotaryEmbedding", opset: 23, attrs: attrs, inputs: ins, outputs: []string{"Y"}, simd: c.simd}
			if c.dt == ir.Float16 {
				oc.rtol, oc.atol = 2e-3, 2e-3
			}
			oc.check(t)
		})
	}
}

func TestLinearAttention(t *testing.T) {
	type cfg struct {
		rule              string
		B, T, Hq, Hkv     int
		Dk, Dv            int
		past, decayPerKey bool
		betaPerHead       bool
		scale             float32
		dt, sdt           ir.DType
		simd              bool
	}
	for i, c := range []cfg{
		{rule: "linear", B: 2, T: 3, Hq: 2, Hkv: 2, Dk: 4, Dv: 8, dt: ir.Float32, simd: true},
		{rule: "gated", B: 1, T: 4, Hq: 4, Hkv: 2, Dk: 5, Dv: 6, decayPerKey: true, past: true, dt: ir.Float32, simd: true},
		{rule: "gated", B: 2, T: 2, Hq: 3, Hkv: 1, Dk: 3, Dv: 9, dt: ir.Float32, simd: true, scale: 0.7},
		{rule: "delta", B: 1, T: 5, Hq: 2, Hkv: 2, Dk: 4, Dv: 4, betaPerHead: true, past: true, dt: ir.Float32, simd: true},
		{rule: "gated_delta", B: 2, T: 3, Hq: 4, Hkv: 2, Dk: 8, Dv: 12, decayPerKey: true, betaPerHead: true, past: true, dt: ir.Float32},
		{rule: "gated_delta", B: 1, T: 3, Hq: 2, Hkv: 2, Dk: 4, Dv: 8, past: true, dt: ir.Float16, sdt: ir.Float32, simd: true},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewSource(int64(400 + i)))
			sdt := c.sdt
			if sdt == 0 {
				sdt = c.dt
			}
			ins := []opInput{
				{"q", randTensor(rng, c.dt, 1, c.B, c.T, c.Hq*c.Dk)},
				{"k", randTensor(rng, c.dt, 0.5, c.B, c.T, c.Hkv*c.Dk)},
				{"v", randTensor(rng, c.dt, 1, c.B, c.T, c.Hkv*c.Dv)},
				{"past", nil}, {"decay", nil}, {"beta", nil},
			}
			if c.past {
				ins[3].t = randTensor(rng, sdt, 1, c.B, c.Hkv, c.Dk, c.Dv)
			}
			if c.rule == "gated" || c.rule == "gated_delta" {
				w := c.Hkv
				if c.decayPerKey {
					w = c.Hkv * c.Dk
				}
				ins[4].t = randTensor(rng, c.dt, 0.5, c.B, c.T, w)
			}
			if c.rule == "delta" || c.rule == "gated_delta" {
				w := 1
				if c.betaPerHead {
					w = c.Hkv
				}
				ins[5].t = randTensor(rng, c.dt, 1, c.B, c.T, w)
			}
			attrs := []*onnxpb.AttributeProto{optest.String("update_rule", c.rule), optest.Int("q_num_heads", int64(c.Hq)), optest.Int("kv_num_heads", int64(c.Hkv)), optest.Int("chunk_size", 16)}
			if c.scale != 0 {
				attrs = append(attrs, optest.Float("scale", c.scale))
			}
			oc := opCase{op: "LinearAttention", opset: 27, attrs: attrs, inputs: ins, outputs: []string{"out", "state"}, simd: c.simd}
			if c.dt == ir.Float16 {
				oc.rtol, oc.atol = 2e-3, 2e-3
			}
			oc.check(t)
		})
	}
}

func TestCausalConvWithState(t *testing.T) {
	type cfg struct {
		B, C, L, K       int
		bias, past, silu bool
		dt               ir.DType
		simd             bool
	}
	for i, c := range []cfg{
		{B: 2, C: 3, L: 9, K: 4, bias: true, past: true, silu: true, dt: ir.Float32, simd: true},
		{B: 1, C: 2, L: 2, K: 5, dt: ir.Float32, simd: true},
		{B: 2, C: 2, L: 7, K: 1, bias: true, dt: ir.Float32, simd: true},
		{B: 1, C: 3, L: 6, K: 3, past: true, silu: true, dt: ir.Float64, simd: true},
		{B: 2, C: 2, L: 5, K: 3, past: true, bias: true, silu: true, dt: ir.Float16, simd: true},
		{B: 1, C: 2, L: 8, K: 2, past: true, silu: true, dt: ir.Float32},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewSource(int64(500 + i)))
			ins := []opInput{{"x", randTensor(rng, c.dt, 1, c.B, c.C, c.L)}, {"w", randTensor(rng, c.dt, 1, c.C, 1, c.K)}, {"b", nil}, {"past", nil}}
			if c.bias {
				ins[2].t = randTensor(rng, c.dt, 1, c.C)
			}
			if c.past {
				ins[3].t = randTensor(rng, c.dt, 1, c.B, c.C, c.K-1)
			}
			var attrs []*onnxpb.AttributeProto
			if c.silu {
				attrs = append(attrs, optest.String("activation", "silu"))
			}
			oc := opCase{op: "CausalConvWithState", opset: 27, attrs: attrs, inputs: ins, outputs: []string{"y", "state"}, simd: c.simd}
			if c.dt == ir.Float16 {
				oc.rtol, oc.atol = 2e-3, 2e-3
			}
			oc.check(t)
		})
	}
}

func TestSwiGLU(t *testing.T) {
	for i, dt := range []ir.DType{ir.Float32, ir.Float64, ir.Float16, ir.BFloat16} {
		t.Run(dt.String(), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewSource(int64(600 + i)))
			oc := opCase{op: "SwiGLU", opset: 28, attrs: []*onnxpb.AttributeProto{optest.Float("alpha", 1.7)}, simd: true, outputs: []string{"y"},
				inputs: []opInput{{"a", randTensor(rng, dt, 4, 3, 7)}, {"b", randTensor(rng, dt, 2, 3, 7)}}}
			if dt == ir.Float16 || dt == ir.BFloat16 {
				oc.rtol, oc.atol = 1e-2, 1e-2
			}
			oc.check(t)
		})
	}
}
