package e2e_test

import (
	"context"
	"flag"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/internal/fuzzmodel"
	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/verify"
)

// The fuzz targets of the whole pipeline. A hostile model may fail to
// compile, but only with a clean error: a panic, recovered (an internal
// error) or not, fails the target. Seeds are testdata/tiny_cnn, the shared
// models (up to 25 MB while fuzzing, the small ones in a plain test run)
// and every 20th ONNX backend case; crashers found are kept in
// testdata/fuzz/<target> and replay in every test run. Run one with
//
//	go test ./e2e -run XXX -fuzz 'FuzzCompile$' -fuzzminimizetime 1s
//
// (FuzzCompile, FuzzMutate, FuzzMutantsRun), one at a time. With
// MLC_FUZZ_WORKER_AS=2147483648 the workers run under a 2 GiB address
// space cap (fuzzmodel.LimitWorkerMemory): an input that makes the
// compiler die of memory there is a crash like any other.

// fuzzSeedBytes bounds the seeds while fuzzing: all shared models but
// resnet18 and resnet50 (46 and 99 MB). Go's fuzzing engine keeps every
// seed Go-quoted in memory (about three times its size) in the
// coordinator as well as raw, which under a 2 GiB memory cap leaves no
// room to compile.
const fuzzSeedBytes = 25 << 20

func fuzzing() bool {
	f := flag.Lookup("test.fuzz")
	return f != nil && f.Value.String() != ""
}

func fuzzSeeds(f *testing.F, maxBytes int64) []fuzzmodel.Seed {
	if fuzzing() && maxBytes == 2<<20 {
		maxBytes = fuzzSeedBytes
	}
	seeds, err := fuzzmodel.Corpus(testenv.Root(), testenv.Shared(f), maxBytes, 20)
	if err != nil {
		f.Fatal(err)
	}
	return seeds
}

// compileClean compiles a fuzz input with its dynamic dimensions pinned to
// 1 and fails t on an unclean error.
func compileClean(t *testing.T, data []byte, o mlc.Options) *mlc.Result {
	o.InputShapes = fuzzmodel.PinShapes(data)
	res, err := mlc.Compile(data, "", o)
	if err := fuzzmodel.Clean(err); err != nil {
		t.Fatal(err)
	}
	if err == nil && len(res.Wasm) == 0 {
		t.Fatal("no error and no module")
	}
	return res
}

// FuzzCompile runs the whole pipeline on arbitrary bytes.
func FuzzCompile(f *testing.F) {
	if err := fuzzmodel.LimitWorkerMemory(); err != nil {
		f.Fatal(err)
	}
	for _, s := range fuzzSeeds(f, 2<<20) {
		f.Add(s.Model)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		compileClean(t, data, mlc.DefaultOptions())
	})
}

// FuzzMutate is structure-aware: plan drives edits of a seed model through
// its protobuf types (fuzzmodel.Mutate: op types, attributes, wiring,
// dimensions, dtypes, opset), so that mutants reach the importer's checks,
// shape inference, the passes and code generation.
func FuzzMutate(f *testing.F) {
	if err := fuzzmodel.LimitWorkerMemory(); err != nil {
		f.Fatal(err)
	}
	// Small seeds only, fuzzing too: a mutant of resnet50 compiles for
	// seconds, and the structure is what matters here.
	seeds := fuzzSeeds(f, 2<<20+1)
	for i := range seeds {
		f.Add(uint16(i), []byte{})
		f.Add(uint16(i), []byte{3, 0, 0, 1, 0, 0, 2})
		f.Add(uint16(i), []byte{1, 8, 0, 0, 0, 0, 0, 1, 0, 9})
	}
	f.Fuzz(func(t *testing.T, seed uint16, plan []byte) {
		model := fuzzmodel.Mutate(seeds[int(seed)%len(seeds)].Model, plan)
		if model == nil {
			return
		}
		compileClean(t, model, mlc.DefaultOptions())
	})
}

// FuzzMutantsRun is the run-time differential check: a mutant of a small
// seed that compiles runs on wazero and on Node with inputs drawn from the
// plan, and both must agree with each other (bit for bit, NaNs aside) and
// with the reference interpreter (within a tolerance for float
// reassociation), or fail the run with a documented mlc_run status.
func FuzzMutantsRun(f *testing.F) {
	if err := fuzzmodel.LimitWorkerMemory(); err != nil {
		f.Fatal(err)
	}
	seeds := fuzzSeeds(f, 256<<10)
	for i := range seeds {
		f.Add(uint16(i), []byte{0, 1, 2, 0, 0, 0, 7})
	}
	node, err := verify.NewNodeRunner()
	if err != nil {
		testenv.Node(f)
		f.Fatal(err)
	}
	f.Cleanup(node.Close)
	f.Fuzz(func(t *testing.T, seed uint16, plan []byte) {
		model := fuzzmodel.Mutate(seeds[int(seed)%len(seeds)].Model, plan)
		if model == nil {
			return
		}
		// The interpreter rounds every float16 node's result, as ONNX
		// reads; the default (ORT's float32 between the model's Casts)
		// differs from it by more than reassociation wherever a softmax
		// or a steep function magnifies a half-ulp.
		o := mlc.DefaultOptions()
		o.FP16 = mlc.FP16Exact
		res := compileClean(t, model, o)
		if res == nil || len(res.Wasm) > 4<<20 || !small(res.Graph) {
			return
		}
		feed := fuzzInputs(res.Meta, plan)
		if feed == nil {
			return
		}
		want, refErr := optest.Reference(model, feed)
		ctx := context.Background()
		rt := optest.Runtime(t)
		m, err := rt.Load(ctx, res.Wasm)
		if err != nil {
			t.Fatalf("the module does not load: %v", err)
		}
		defer m.Close(ctx)
		got, runErr := hostir.Run(ctx, m, feed)
		nodeOut, nodeErr := node.Run(ctx, res.Wasm, []map[string]*ir.Tensor{feed})
		switch {
		case (runErr == nil) != (nodeErr == nil):
			t.Fatalf("wazero: %v; Node: %v", runErr, nodeErr)
		case runErr != nil:
			if !documentedStatus(runErr) {
				t.Fatalf("wazero: %v (not a documented mlc_run status)", runErr)
			}
			return
		}
		for name, g := range got {
			if msg := sameButNaN(g, nodeOut[0][name]); msg != "" {
				t.Fatalf("output %s: wazero and Node differ: %s", name, msg)
			}
			if refErr == nil {
				if msg := close(g, want[name]); msg != "" {
					t.Fatalf("output %s: the module and the interpreter differ: %s", name, msg)
				}
			}
		}
	})
}

// small reports a graph the interpreter evaluates quickly.
func small(g *ir.Graph) bool {
	var flops int64
	g.Walk(func(n *ir.Node) {
		if _, ok := n.Op.(ir.Subgrapher); ok {
			flops += 1 << 40 // loops may run for long
		}
		flops += ir.FLOPs(n)
	})
	return flops < 50e6
}

// fuzzInputs fills the module's inputs with values drawn from plan (small
// integers for integer inputs: they are often indices or shapes).
func fuzzInputs(meta *abi.Metadata, plan []byte) map[string]*ir.Tensor {
	feed := map[string]*ir.Tensor{}
	k := 0
	next := func() byte {
		k++
		if len(plan) == 0 {
			return byte(k * 37)
		}
		return plan[k%len(plan)] ^ byte(k*37)
	}
	for _, in := range meta.Inputs {
		dt, ok := ir.ParseDType(in.DType)
		if !ok || in.Bytes > 1<<24 {
			return nil
		}
		t := ir.NewTensor(dt, ir.Shape(in.Shape))
		for i := range t.Len() {
			b := next()
			switch {
			case dt.IsFloat():
				t.SetFloat(i, float64(int8(b))/16)
			case dt == ir.Bool:
				t.SetInt(i, int64(b&1))
			default:
				t.SetInt(i, int64(b%4))
			}
		}
		feed[in.Name] = t
	}
	return feed
}

func documentedStatus(err error) bool {
	for code := range abi.RunErrorMessages {
		if strings.Contains(err.Error(), "mlc_run returned "+code+":") {
			return true
		}
	}
	return false
}

// sameButNaN compares bit for bit, any NaN equal to any NaN (Wasm lets
// engines choose NaN payloads).
func sameButNaN(a, b *ir.Tensor) string {
	if b == nil {
		return "missing"
	}
	if a.DType != b.DType || !a.Shape.Equal(b.Shape) {
		return fmt.Sprintf("%s vs %s", a.Type, b.Type)
	}
	for i := range a.Len() {
		if a.DType.IsFloat() {
			x, y := a.Float(i), b.Float(i)
			if x == y && math.Signbit(x) == math.Signbit(y) || math.IsNaN(x) && math.IsNaN(y) {
				continue
			}
			return fmt.Sprintf("element %d: %v vs %v", i, x, y)
		}
		if a.Int(i) != b.Int(i) {
			return fmt.Sprintf("element %d: %d vs %d", i, a.Int(i), b.Int(i))
		}
	}
	return ""
}

// close compares a module's output with the interpreter's: integers
// exactly, floats within 1e-3 of the output's largest magnitude (kernels
// reassociate sums and use other but correctly rounded elementary
// functions), NaN against NaN, and infinities against values beyond 1e30.
func close(got, want *ir.Tensor) string {
	if want == nil || got.DType != want.DType || !got.Shape.Equal(want.Shape) {
		return fmt.Sprintf("%v vs %v", got.Type, want)
	}
	if !got.DType.IsFloat() {
		return sameButNaN(got, want)
	}
	scale := 0.0
	for i := range want.Len() {
		if v := math.Abs(want.Float(i)); !math.IsInf(v, 0) && !math.IsNaN(v) {
			scale = max(scale, v)
		}
	}
	tol := 1e-3 * max(scale, 1e-3)
	if got.DType == ir.Float16 || got.DType == ir.BFloat16 || got.DType.Bits() <= 8 {
		tol = 0.02 * max(scale, 1)
	}
	for i := range want.Len() {
		g, w := got.Float(i), want.Float(i)
		switch {
		case math.IsNaN(g) || math.IsNaN(w):
			if math.IsNaN(g) != math.IsNaN(w) {
				return fmt.Sprintf("element %d: %v, want %v", i, g, w)
			}
		case math.IsInf(g, 0) || math.IsInf(w, 0):
			if g != w && math.Abs(g)+math.Abs(w) < 1e30 {
				return fmt.Sprintf("element %d: %v, want %v", i, g, w)
			}
		case math.Abs(g-w) > tol:
			return fmt.Sprintf("element %d: %v, want %v (tolerance %g)", i, g, w, tol)
		}
	}
	return ""
}
