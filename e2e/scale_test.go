package e2e_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/ir"
)

// Compile time must grow about linearly with the node count (issue 13: a
// 100,000-node chain did not compile in a minute; fusion recomputed every
// value's readers after each merge). Two shapes of graph: a chain of
// elementwise nodes, each reading the last, and a wide graph of nodes all
// reading the input, joined by one Concat. docs/benchmarks.md reports
//
//	go test ./e2e -run XXX -bench 'Compile(Chain|Wide|CLI)' -benchtime 1x

// chainModel: x -> Add(c) -> Mul(c) -> Relu -> Sub(c) -> ... n nodes.
func chainModel(n int) []byte {
	g := &onnxpb.GraphProto{
		Name:  proto.String(fmt.Sprintf("chain%d", n)),
		Input: []*onnxpb.ValueInfoProto{optest.Value("x", ir.Float32, 1, 64)},
		Node:  []*onnxpb.NodeProto{optest.Const("c", ir.TensorF32(ir.Shape{64}, make([]float32, 64)...))},
	}
	prev := "x"
	for i := range n {
		out := fmt.Sprintf("v%d", i)
		switch i % 4 {
		case 0:
			g.Node = append(g.Node, optest.Op("Add", []string{prev, "c"}, []string{out}))
		case 1:
			g.Node = append(g.Node, optest.Op("Mul", []string{prev, "c"}, []string{out}))
		case 2:
			g.Node = append(g.Node, optest.Op("Relu", []string{prev}, []string{out}))
		case 3:
			g.Node = append(g.Node, optest.Op("Sub", []string{prev, "c"}, []string{out}))
		}
		prev = out
	}
	g.Output = []*onnxpb.ValueInfoProto{optest.Value(prev, ir.Float32, 1, 64)}
	return optest.GraphModel(13, g)
}

// wideModel: n-1 nodes each reading x, their outputs joined by one Concat.
func wideModel(n int) []byte {
	g := &onnxpb.GraphProto{
		Name:  proto.String(fmt.Sprintf("wide%d", n)),
		Input: []*onnxpb.ValueInfoProto{optest.Value("x", ir.Float32, 1, 4)},
	}
	var outs []string
	for i := range n - 1 {
		out := fmt.Sprintf("v%d", i)
		ops := []string{"Relu", "Neg", "Abs", "Exp"}
		g.Node = append(g.Node, optest.Op(ops[i%4], []string{"x"}, []string{out}))
		outs = append(outs, out)
	}
	g.Node = append(g.Node, optest.Op("Concat", outs, []string{"y"}, optest.Int("axis", 0)))
	g.Output = []*onnxpb.ValueInfoProto{optest.Value("y", ir.Float32, n-1, 4)}
	return optest.GraphModel(13, g)
}

func benchCompile(b *testing.B, model []byte, o mlc.Options) {
	b.SetBytes(int64(len(model)))
	for b.Loop() {
		if _, err := mlc.Compile(model, "", o); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompileChain(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		model := chainModel(n)
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) { benchCompile(b, model, mlc.DefaultOptions()) })
		b.Run(fmt.Sprintf("n=%d/O0", n), func(b *testing.B) {
			o := mlc.DefaultOptions()
			o.OptLevel = 0
			benchCompile(b, model, o)
		})
	}
}

func BenchmarkCompileWide(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		model := wideModel(n)
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) { benchCompile(b, model, mlc.DefaultOptions()) })
		b.Run(fmt.Sprintf("n=%d/O0", n), func(b *testing.B) {
			o := mlc.DefaultOptions()
			o.OptLevel = 0
			benchCompile(b, model, o)
		})
	}
}

// BenchmarkCompileCLI times `mlc compile` itself on the 100,000-node
// graphs: test binaries verify the IR after every pass (opt.Run), which
// the in-process benchmarks above include and the CLI does not.
func BenchmarkCompileCLI(b *testing.B) {
	bin := buildCLI(b)
	dir := b.TempDir()
	for _, tc := range []struct {
		name  string
		model []byte
	}{{"chain/n=100000", chainModel(100_000)}, {"wide/n=100000", wideModel(100_000)}} {
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, "/", "_")+".onnx")
		if err := os.WriteFile(path, tc.model, 0o644); err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if out, err := exec.Command(bin, "compile", path, "-o", filepath.Join(dir, "out.wasm")).CombinedOutput(); err != nil {
					b.Fatalf("%v: %s", err, out)
				}
			}
		})
	}
}

// TestCompileScales is the CI guard of the benchmarks above: 20,000-node
// graphs of both shapes compile (a quadratic pass took minutes there);
// it states no time, only that the work finishes, and logs it.
func TestCompileScales(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles two 20,000-node graphs")
	}
	for name, model := range map[string][]byte{"chain": chainModel(20_000), "wide": wideModel(20_000)} {
		start := time.Now()
		res, err := mlc.Compile(model, "", mlc.DefaultOptions())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s: %d nodes compile in %v to %d bytes", name, 20_000, time.Since(start), len(res.Wasm))
	}
}

// TestCompileGrowsLinearly is the deterministic guard of near-linear
// compile time: the bytes the compiler allocates, unlike its time, do not
// depend on the machine's load, and they grew with the square of the node
// count where a pass did (on the commit before issue 13's fix, 1,000 ->
// 4,000 nodes allocated 16x as much for the chain at -O2 and 14x for the
// wide graph at -O2 and -O0; linear is 4x).
func TestCompileGrowsLinearly(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles graphs of up to 8,000 nodes")
	}
	const n = 2000
	for _, level := range []int{2, 0} {
		for _, shape := range []struct {
			name  string
			model func(int) []byte
		}{{"chain", chainModel}, {"wide", wideModel}} {
			var alloc [2]uint64
			for i, nodes := range []int{n, 4 * n} {
				model := shape.model(nodes)
				o := mlc.DefaultOptions()
				o.OptLevel = level
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				if _, err := mlc.Compile(model, "", o); err != nil {
					t.Fatalf("%s of %d nodes at -O%d: %v", shape.name, nodes, level, err)
				}
				runtime.ReadMemStats(&after)
				alloc[i] = after.TotalAlloc - before.TotalAlloc
			}
			growth := float64(alloc[1]) / float64(alloc[0])
			t.Logf("%s -O%d: %d -> %d nodes allocate %.1f -> %.1f MB (%.1fx)", shape.name, level, n, 4*n, float64(alloc[0])/1e6, float64(alloc[1])/1e6, growth)
			if growth > 6 {
				t.Errorf("%s -O%d: 4x the nodes allocate %.1fx as much: a pass grows faster than linearly", shape.name, level, growth)
			}
		}
	}
}
