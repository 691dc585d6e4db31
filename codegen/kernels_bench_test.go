package codegen_test

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/mlc-compiler/mlc/codegen"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/opt"
	"github.com/mlc-compiler/mlc/tune"
)

// Benchmarks of the GEMM and convolution kernels on wazero (compiler, no
// context checks), each reporting GFLOP/s:
//
//	go test ./codegen -run '^$' -bench Kernel
//
// The v8 tune's code is included to show why wazero wants its own.

func randomConst(name string, shape ir.Shape, seed int64) *ir.Value {
	t := ir.NewTensor(ir.Float32, shape)
	r := rand.New(rand.NewSource(seed))
	for i := range t.F32() {
		t.F32()[i] = r.Float32() - 0.5
	}
	return ir.NewConst(name, t)
}

// buildOne compiles a one-node graph.
func buildOne(b *testing.B, op ir.Op, x *ir.Value, consts []*ir.Value, tune string) ([]byte, int64) {
	b.Helper()
	y := &ir.Value{Name: "y"}
	n := &ir.Node{Name: "k", Op: op, Inputs: append([]*ir.Value{x}, consts...), Outputs: []*ir.Value{y}}
	g := &ir.Graph{Name: "bench", Inputs: []*ir.Value{x}, Outputs: []*ir.Value{y}, Nodes: []*ir.Node{n}}
	if err := ir.InferGraph(g); err != nil {
		b.Fatal(err)
	}
	flops := ir.FLOPs(n)
	plan, err := opt.Run(g, opt.Options{Level: 2, SIMD: true, ConvWeights: codegen.ConvWeightsFunc(tune), Workspace: codegen.Workspace})
	if err != nil {
		b.Fatal(err)
	}
	wasm, err := codegen.Build(g, plan, codegen.Options{SIMD: true, Tune: tune, Producer: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	return wasm, flops
}

func runWazero(b *testing.B, wasm []byte, flops int64) {
	ctx, rt := testRuntime(b)
	m, err := rt.Load(ctx, wasm)
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Invoke(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		if err := m.Invoke(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(flops)*float64(b.N)/time.Since(t0).Seconds()/1e9, "GFLOP/s")
}

func BenchmarkKernelGEMM(b *testing.B) {
	for _, s := range []struct{ M, K, N int }{{256, 256, 256}, {3136, 576, 64}, {3136, 32, 64}, {196, 1152, 256}} {
		for _, tune := range []string{tune.Wazero, tune.V8} {
			b.Run(fmt.Sprintf("%dx%dx%d/%s", s.M, s.K, s.N, tune), func(b *testing.B) {
				x := ir.NewInput("x", ir.Type{DType: ir.Float32, Shape: ir.Shape{s.M, s.K}})
				wasm, flops := buildOne(b, &ir.MatMul{}, x, []*ir.Value{randomConst("w", ir.Shape{s.K, s.N}, 1)}, tune)
				runWazero(b, wasm, flops)
			})
		}
	}
}

func BenchmarkKernelConv(b *testing.B) {
	for _, s := range []struct{ C, H, M, k, stride int }{{64, 56, 64, 3, 1}, {128, 28, 128, 3, 1}, {256, 14, 256, 3, 1}, {64, 56, 64, 1, 1}, {3, 224, 64, 7, 2}} {
		for _, tune := range []string{tune.Wazero, tune.V8} {
			b.Run(fmt.Sprintf("c%d_%dx%d_m%d_k%d_s%d/%s", s.C, s.H, s.H, s.M, s.k, s.stride, tune), func(b *testing.B) {
				x := ir.NewInput("x", ir.Type{DType: ir.Float32, Shape: ir.Shape{1, s.C, s.H, s.H}})
				p := s.k / 2
				op := &ir.Conv{Window: ir.Window{Pads: []int{p, p, p, p}, Strides: []int{s.stride, s.stride}}, Group: 1}
				consts := []*ir.Value{randomConst("w", ir.Shape{s.M, s.C, s.k, s.k}, 2), randomConst("b", ir.Shape{s.M}, 3)}
				wasm, flops := buildOne(b, op, x, consts, tune)
				runWazero(b, wasm, flops)
			})
		}
	}
}
