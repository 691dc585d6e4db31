package codegen_test

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/mlc-compiler/mlc/codegen"
	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/opt"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
	"github.com/mlc-compiler/mlc/tune"
)

// TestFusedConvKernels runs one fused Conv (+bias, residual, activation)
// per kernel path on wazero, against the reference Conv: the packed GEMM
// of each tune with pixel and channel tails, K chunks, Winograd with odd
// sizes, depthwise with strides, one output channel, and a batch of two.
func TestFusedConvKernels(t *testing.T) {
	cases := []struct {
		N, C, H, W, M, k, stride, pad, group, dil int
	}{
		{2, 8, 13, 15, 12, 3, 1, 1, 1, 1},  // Winograd (v8), odd sizes, channel tail, batch
		{1, 16, 13, 13, 10, 3, 1, 1, 1, 1}, // Winograd, 13x13
		{1, 16, 69, 71, 16, 3, 1, 1, 1, 1}, // Winograd in bands of tile rows, the last one overlapping, odd rows
		{2, 64, 40, 30, 64, 3, 1, 1, 1, 1}, // Winograd in bands, batch: each band's rows copied, top and bottom ones bordered
		{2, 8, 17, 17, 12, 3, 1, 1, 1, 1},  // Winograd F(2x2,3x3) (winograd4Pays), batch
		{1, 16, 301, 6, 10, 3, 1, 1, 1, 1}, // F(2x2,3x3) in bands of tile rows, the last one overlapping
		{1, 7, 10, 9, 5, 3, 2, 1, 1, 1},    // stride 2, row and channel tails
		{2, 6, 7, 7, 9, 1, 1, 0, 1, 1},     // 1x1 direct
		{1, 3, 23, 23, 8, 7, 2, 3, 1, 1},   // 7x7 stride 2
		{1, 600, 4, 4, 20, 3, 1, 1, 1, 1},  // long K in two chunks, few pixels
		{2, 12, 9, 10, 12, 3, 1, 1, 12, 1}, // depthwise
		{1, 8, 11, 11, 8, 3, 2, 1, 8, 1},
		{1, 8, 15, 13, 8, 3, 2, 2, 8, 2}, // depthwise, stride 2, dilation 2   // depthwise, stride 2
		{1, 8, 16, 17, 8, 3, 2, 0, 8, 1}, // depthwise, stride 2, no border, odd width
		{1, 6, 19, 18, 6, 5, 2, 2, 6, 1}, // depthwise 5x5, stride 2
		{1, 4, 2, 9, 4, 3, 2, 1, 4, 1},   // depthwise, stride 2, one output row
		// Stride 1 without Winograd (portable: taps over regions).
		{1, 8, 32, 32, 16, 3, 1, 12, 1, 12}, // ASPP-like: dilation 12 on 32x32
		{2, 5, 9, 11, 6, 3, 1, 2, 1, 2},     // dilation 2, odd sizes, batch
		{1, 6, 7, 7, 9, 3, 1, 1, 1, 1},      // few channels, narrow map
		{1, 4, 6, 6, 5, 3, 1, 7, 1, 3},      // padding beyond every tap: bias-only rows
		{1, 3, 12, 12, 4, 5, 1, 4, 1, 2},    // 5x5, dilation 2
		{1, 16, 20, 20, 8, 3, 1, 36, 1, 36}, // dilation 36: the centre tap only
		{1, 64, 16, 16, 8, 3, 1, 8, 1, 8},   // taps over regions (TestTapConvPlan)
		{2, 64, 15, 17, 6, 3, 1, 9, 1, 9},   // the same, odd sizes, batch
		// 1x1 with one output channel: a dot over channels per pixel.
		{1, 40, 13, 15, 1, 1, 1, 0, 1, 1}, // channels in a loop, 3 pixels past the 16-pixel groups
		{1, 7, 9, 9, 1, 1, 1, 0, 1, 1},    // channels unrolled, one pixel past
		{1, 5, 2, 2, 1, 1, 1, 0, 1, 1},    // fewer pixels than a group
	}
	ctx, rt := testRuntime(t)
	for _, c := range cases {
		for _, tune := range []string{tune.Portable, tune.V8, tune.Wazero} {
			name := fmt.Sprintf("%+v/%s", c, tune)
			r := rand.New(rand.NewSource(int64(c.C*100 + c.M)))
			x := ir.NewInput("x", ir.Type{DType: ir.Float32, Shape: ir.Shape{c.N, c.C, c.H, c.W}})
			w := randomConst("w", ir.Shape{c.M, c.C / c.group, c.k, c.k}, r.Int63())
			b := randomConst("b", ir.Shape{c.M}, r.Int63())
			dil := max(c.dil, 1)
			op := &ir.Conv{Window: ir.Window{Pads: []int{c.pad, c.pad, c.pad, c.pad}, Strides: []int{c.stride, c.stride}, Dilations: []int{dil, dil}}, Group: c.group}
			g0, err := op.Geometry(x.Type.Shape, w.Type.Shape)
			if err != nil {
				t.Fatal(err)
			}
			outShape := ir.Shape{c.N, c.M, g0.Out[0], g0.Out[1]}
			res := ir.NewInput("r", ir.Type{DType: ir.Float32, Shape: outShape})
			y, s, z := &ir.Value{Name: "y"}, &ir.Value{Name: "s"}, &ir.Value{Name: "z"}
			conv := &ir.Node{Name: "conv", Op: op, Inputs: []*ir.Value{x, w, b}, Outputs: []*ir.Value{y}}
			add := &ir.Node{Op: &ir.Binary{Fn: ir.FnAdd}, Inputs: []*ir.Value{y, res}, Outputs: []*ir.Value{s}}
			act := &ir.Node{Op: &ir.Unary{Fn: ir.FnLeakyRelu, Alpha: 0.1}, Inputs: []*ir.Value{s}, Outputs: []*ir.Value{z}}
			g := &ir.Graph{Inputs: []*ir.Value{x, res}, Outputs: []*ir.Value{z}, Nodes: []*ir.Node{conv, add, act}}
			checkFusedKernel(ctx, t, rt, g, r, tune, name, "the Conv, Add and LeakyRelu", 1e-4)
		}
	}
}

// TestFusedMatMulKernels runs MatMul + bias + residual + Relu through each
// MatMul path (GEMV for 1-3 rows, A read in place for whole 4-row panels,
// packed A otherwise, and the wazero tune), against the reference.
func TestFusedMatMulKernels(t *testing.T) {
	ctx, rt := testRuntime(t)
	for _, s := range []struct{ M, K, N int }{{1, 37, 70}, {3, 64, 33}, {8, 29, 17}, {10, 40, 100}, {1, 2048, 1000}} {
		for _, tune := range []string{tune.Portable, tune.V8, tune.Wazero} {
			name := fmt.Sprintf("%+v/%s", s, tune)
			r := rand.New(rand.NewSource(int64(s.M*1000 + s.N)))
			x := ir.NewInput("x", ir.Type{DType: ir.Float32, Shape: ir.Shape{s.M, s.K}})
			res := ir.NewInput("r", ir.Type{DType: ir.Float32, Shape: ir.Shape{s.M, s.N}})
			y, yb, ys, z := &ir.Value{Name: "y"}, &ir.Value{Name: "yb"}, &ir.Value{Name: "ys"}, &ir.Value{Name: "z"}
			g := &ir.Graph{Inputs: []*ir.Value{x, res}, Outputs: []*ir.Value{z}, Nodes: []*ir.Node{
				{Op: &ir.MatMul{}, Inputs: []*ir.Value{x, randomConst("w", ir.Shape{s.K, s.N}, r.Int63())}, Outputs: []*ir.Value{y}},
				{Op: &ir.Binary{Fn: ir.FnAdd}, Inputs: []*ir.Value{y, randomConst("b", ir.Shape{s.N}, r.Int63())}, Outputs: []*ir.Value{yb}},
				{Op: &ir.Binary{Fn: ir.FnAdd}, Inputs: []*ir.Value{res, yb}, Outputs: []*ir.Value{ys}},
				{Op: &ir.Unary{Fn: ir.FnRelu}, Inputs: []*ir.Value{ys}, Outputs: []*ir.Value{z}},
			}}
			checkFusedKernel(ctx, t, rt, g, r, tune, name, "MatMul, bias, residual and Relu", 1e-5)
		}
	}
}

// checkFusedKernel feeds g's inputs from r, compiles g for tune, requires
// that what fused into one node, and compares output z with the reference
// within tol, absolute and relative.
func checkFusedKernel(ctx context.Context, t *testing.T, rt *host.Runtime, g *ir.Graph, r *rand.Rand, tune, name, what string, tol float64) {
	t.Helper()
	feeds, want := fusedFeeds(t, g, r)
	got := runFused(ctx, t, rt, g, feeds, tune, name, what)
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > tol+tol*math.Abs(float64(want[i])) {
			t.Errorf("%s: element %d is %g, want %g", name, i, got[i], want[i])
			break
		}
	}
}

// fusedFeeds infers g, fills its inputs from r (uniform in [-1, 1)) and
// returns them with the reference output.
func fusedFeeds(t *testing.T, g *ir.Graph, r *rand.Rand) (map[string]*ir.Tensor, []float32) {
	t.Helper()
	if err := ir.InferGraph(g); err != nil {
		t.Fatal(err)
	}
	feeds := map[string]*ir.Tensor{}
	env := ir.Env{}
	for _, v := range g.Inputs {
		tv := ir.NewTensor(ir.Float32, v.Type.Shape)
		for i := range tv.F32() {
			tv.F32()[i] = r.Float32()*2 - 1
		}
		feeds[v.Name], env[v] = tv, tv
	}
	want, err := ir.Run(g, env)
	if err != nil {
		t.Fatal(err)
	}
	return feeds, want[0].F32()
}

// formsSameBits runs g with two forms of a kernel, set(false) choosing
// forms[0] and set(true) forms[1], and requires sameBits of their outputs.
func formsSameBits(ctx context.Context, t *testing.T, rt *host.Runtime, g *ir.Graph, r *rand.Rand, tune, name, what string, forms [2]string, set func(second bool), tol float64) {
	t.Helper()
	feeds, want := fusedFeeds(t, g, r)
	var outs [2][]float32
	for i := range outs {
		set(i == 1)
		g, _ := g.Clone()
		outs[i] = runFused(ctx, t, rt, g, feeds, tune, name, what)
	}
	sameBits(t, name, forms, outs, want, tol)
}

// sameBits requires outs[1] (the form named forms[1]) to be the bits of
// outs[0] and outs[0] within rtol = atol = tol of want.
func sameBits(t *testing.T, name string, forms [2]string, outs [2][]float32, want []float32, tol float64) {
	t.Helper()
	for i := range want {
		if math.Float32bits(outs[0][i]) != math.Float32bits(outs[1][i]) {
			t.Errorf("%s: element %d is %g %s, %g %s", name, i, outs[1][i], forms[1], outs[0][i], forms[0])
			return
		}
		if d := math.Abs(float64(outs[0][i] - want[i])); d > tol+tol*math.Abs(float64(want[i])) {
			t.Errorf("%s: element %d is %g, want %g", name, i, outs[0][i], want[i])
			return
		}
	}
}

// runFused compiles g (optimized in place) for tune, requires that what
// fused into one node, and returns output z for feeds on wazero.
func runFused(ctx context.Context, t *testing.T, rt *host.Runtime, g *ir.Graph, feeds map[string]*ir.Tensor, tune, name, what string) []float32 {
	t.Helper()
	plan, err := opt.Run(g, opt.Options{Level: 2, SIMD: true, ConvWeights: codegen.ConvWeightsFunc(tune), Workspace: codegen.Workspace})
	if err != nil {
		t.Fatal(err)
	}
	kernels := 0
	for _, n := range g.Nodes {
		if _, ok := n.Op.(*ir.PrepareWeights); !ok {
			kernels++
		}
	}
	if kernels != 1 {
		t.Fatalf("%s: %s did not fuse: %d nodes", name, what, kernels)
	}
	wasm, err := codegen.Build(g, plan, codegen.Options{SIMD: true, Tune: tune, Producer: "test"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := rt.Load(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	out, err := hostir.Run(ctx, m, feeds)
	if err != nil {
		t.Fatal(err)
	}
	return out["z"].F32()
}

// TestWinograd4Rule: F(4x4,3x3) where its products over whole groups of
// four tiles are at most winograd4Share of F(2x2,3x3)'s (16x16: 0.56,
// 20x20: 0.75), F(2x2,3x3) where its 16-column groups waste more (17x17:
// 0.83, 24x6: 1.13); maps under 12x12 take F(2x2,3x3) only where its
// products are at most 0.6 of the direct form's.
func TestWinograd4Rule(t *testing.T) {
	for _, c := range []struct {
		H, W int
		want ir.WeightLayout
	}{
		{16, 16, ir.WeightsWinograd4},
		{20, 20, ir.WeightsWinograd4},
		{1024, 1024, ir.WeightsWinograd4},
		{17, 17, ir.WeightsWinograd},
		{24, 6, ir.WeightsWinograd},
		{7, 7, ir.WeightsWinograd}, // F(2x2,3x3): 0.58 of the direct multiplies
		{6, 6, ir.WeightsWinograd}, // 0.59
		{10, 10, ir.WeightsPackA},  // 0.71: too much of its tiles wasted
		{5, 5, ir.WeightsPackA},    // 0.85
	} {
		x := ir.NewInput("x", ir.Type{DType: ir.Float32, Shape: ir.Shape{1, 16, c.H, c.W}})
		w := randomConst("w", ir.Shape{16, 16, 3, 3}, 1)
		op := &ir.FusedConv{Conv: ir.Conv{Window: ir.Window{Pads: []int{1, 1, 1, 1}}, Group: 1}}
		n := &ir.Node{Op: op, Inputs: []*ir.Value{x, w}, Outputs: []*ir.Value{{Name: "y"}}}
		if got := codegen.ConvWeightsFunc(tune.V8)(n, op); got != c.want {
			t.Errorf("%dx%d: %s, want %s", c.H, c.W, got, c.want)
		}
	}
}

// testRuntime is a wazero host for a test's modules, closed when the test
// ends.
func testRuntime(tb testing.TB) (context.Context, *host.Runtime) {
	tb.Helper()
	ctx := context.Background()
	rt, err := host.NewRuntime(ctx, host.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rt.Close(ctx) })
	return ctx, rt
}
