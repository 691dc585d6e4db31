package e2e_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
	"github.com/mlc-compiler/mlc/tune"
	"github.com/mlc-compiler/mlc/verify"
)

// threadRunners are a wazero runner with two goroutines and a Node runner
// with two worker threads for threaded modules.
func threadRunners(t *testing.T) (*verify.WazeroRunner, *verify.NodeRunner) {
	t.Helper()
	testenv.Node(t)
	rt, err := host.NewRuntime(context.Background(), host.Config{Cancellable: true, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	nr, err := verify.NewNodeRunner()
	if err != nil {
		t.Fatal(err)
	}
	nr.Threads = 2
	t.Cleanup(nr.Close)
	return &verify.WazeroRunner{RT: rt}, nr
}

// singleThreaded is the baseline of a threaded compile: the same options
// with one thread.
func singleThreaded(o mlc.Options) mlc.Options {
	o.Threads, o.ParallelAll = 1, false
	return o
}

// TestThreadsSameOutputs checks the promise of --threads: a threaded
// module's outputs are the same bytes as the single-threaded module's, on
// wazero (two goroutines) and on Node (two worker threads), for every
// shared model up to 5 GFLOP (all with MLC_LARGE_MODELS=1) and a sample of
// the ONNX backend cases. The cases are compiled with ParallelAll, so that
// every loop that can be split is, however small, into as many chunks as
// it allows; the models as mlc compile --threads 2 compiles them.
func TestThreadsSameOutputs(t *testing.T) {
	shared := testenv.Shared(t)
	ctx := context.Background()
	wz, nr := threadRunners(t)
	check := func(t *testing.T, dir string, all bool) {
		o := verify.DefaultOptions()
		o.Compile.Threads, o.Compile.ParallelAll = 2, all
		o.Runner, o.Also = wz, []verify.Runner{nr}
		o.SameAs = singleThreaded
		r := verify.Case(ctx, dir, o)
		switch {
		case r.Status == verify.Pass:
			testenv.Validate(t, r.Wasm)
		case r.Stage == "compare" && !strings.Contains(r.Message, "disagree"):
			// Differences from the golden outputs are the other tests'
			// concern: this one compares thread counts.
		case r.Status == verify.Unsupported:
			t.Skipf("unsupported: %s", r.Message)
		default:
			t.Fatalf("%s at %s: %s", r.Status, r.Stage, r.Message)
		}
	}
	t.Run("models", func(t *testing.T) {
		dirs, _ := filepath.Glob(filepath.Join(shared, "models", "*"))
		for _, dir := range dirs {
			if tooLarge(t, dir) {
				continue
			}
			t.Run(filepath.Base(dir), func(t *testing.T) { check(t, dir, false) })
		}
	})
	t.Run("onnx", func(t *testing.T) {
		for _, dir := range threadCases(t, shared) {
			t.Run(filepath.Base(dir), func(t *testing.T) {
				t.Parallel()
				check(t, dir, true)
			})
		}
	})
}

// threadCases is a sample of the ONNX backend cases (about 100): every
// 6th case of the op families whose kernels split their work, and every
// 40th of the rest.
func threadCases(t *testing.T, shared string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(shared, "onnx-tests", "index.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n")[1:] {
		f := strings.Split(line, "\t")
		if len(f) < 3 {
			continue
		}
		if (splitOps(f[2]) && i%6 != 0) || (!splitOps(f[2]) && i%40 != 0) {
			continue
		}
		dirs = append(dirs, filepath.Join(shared, "onnx-tests", f[0], f[1]))
	}
	return dirs
}

// splitOps tells whether a case's ops (comma-separated) include one whose
// kernel hands out work to threads.
func splitOps(ops string) bool {
	for _, op := range strings.Split(ops, ",") {
		if splitFamilies[op] || strings.HasPrefix(op, "Reduce") {
			return true
		}
	}
	return false
}

var splitFamilies = map[string]bool{}

func init() {
	for _, op := range strings.Fields(`Add Sub Mul Div Relu Sigmoid Tanh Exp Clip Pow
		MaxPool AveragePool LpPool GlobalAveragePool GlobalMaxPool GlobalLpPool
		Softmax LogSoftmax Hardmax LayerNormalization InstanceNormalization GroupNormalization RMSNormalization
		Resize Upsample Concat Transpose Slice Expand Tile Split DepthToSpace SpaceToDepth Conv
		MatMul Gemm`) {
		splitFamilies[op] = true
	}
}

// TestRelaxedSIMD runs every shared model up to 5 GFLOP compiled with
// --relaxed-simd on Node (with --experimental-wasm-relaxed-simd) against
// its golden outputs at the model's own tolerance: fused multiply-adds
// round differently, so the outputs are held to ONNX Runtime's, not to the
// plain module's bytes.
func TestRelaxedSIMD(t *testing.T) {
	shared := testenv.Shared(t)
	testenv.Node(t)
	nr, err := verify.NewNodeRunner()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nr.Close)
	dirs, _ := filepath.Glob(filepath.Join(shared, "models", "*"))
	for _, dir := range dirs {
		if tooLarge(t, dir) {
			continue
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			o := verify.DefaultOptions()
			o.Compile.RelaxedSIMD = true
			o.Runner = nr
			r := verify.Case(context.Background(), dir, o)
			if r.Status != verify.Pass {
				t.Fatalf("%s at %s: %s", r.Status, r.Stage, r.Message)
			}
			testenv.Validate(t, r.Wasm)
			for _, out := range r.Outputs {
				t.Logf("%s: max abs %.3g (tolerance rtol %g atol %g)", out.Name, out.MaxAbsErr, r.Tolerance.RTol, r.Tolerance.ATol)
			}
		})
	}
}

// TestThreadsMatMulTiles checks the split of packed MatMul/Gemm (constant
// B): shapes with partial 4-row panels and 8-column tiles, several panel
// blocks, bias and an activation, compiled with every loop split; the
// threaded module's outputs are the single-threaded module's bytes on
// wazero and Node.
func TestThreadsMatMulTiles(t *testing.T) {
	wz, nr := threadRunners(t)
	rng := rand.New(rand.NewSource(11))
	for _, sh := range [][3]int{{37, 70, 50}, {8, 16, 8}, {200, 96, 20}, {5, 300, 130}} {
		M, K, N := sh[0], sh[1], sh[2]
		t.Run(fmt.Sprintf("%dx%dx%d", M, K, N), func(t *testing.T) {
			n := optest.Node{Op: "Gemm", Opset: 13, Inputs: []string{"a", "b", "c"}, Outputs: []string{"y"}}
			feed := map[string]*ir.Tensor{"a": randTensor(rng, ir.Float32, 1, M, K)}
			consts := map[string]*ir.Tensor{"b": randTensor(rng, ir.Float32, 1, K, N), "c": randTensor(rng, ir.Float32, 1, N)}
			model, err := optest.Model(n, feed, consts)
			if err != nil {
				t.Fatal(err)
			}
			sameThreadedOutputs(t, wz, nr, model, feed, "y", "")
		})
	}
}

// sameThreadedOutputs compiles model with one thread and with two (every
// loop split), runs both on wazero and Node, and checks that output y of
// every run is the single-threaded module's bytes on wazero; tune is the
// kernel shape ("" for the default).
func sameThreadedOutputs(t *testing.T, wz *verify.WazeroRunner, nr *verify.NodeRunner, model []byte, feed map[string]*ir.Tensor, y, tune string) {
	t.Helper()
	ctx := context.Background()
	var outs [][]map[string]*ir.Tensor
	for _, threads := range []int{1, 2} {
		o := mlc.DefaultOptions()
		o.Threads, o.ParallelAll = threads, threads > 1
		if tune != "" {
			o.Tune = tune
		}
		res, err := mlc.Compile(model, "", o)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []verify.Runner{wz, nr} {
			out, err := r.Run(ctx, res.Wasm, []map[string]*ir.Tensor{feed})
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, out)
		}
	}
	for i, out := range outs[1:] {
		if !bytes.Equal(out[0][y].Data, outs[0][0][y].Data) {
			t.Errorf("threads %d on %s: outputs differ from the single-threaded module's on wazero", (i+1)/2+1, []string{"wazero", "Node"}[(i+1)%2])
		}
	}
}

// TestThreadsConvForms checks the split of the default (portable) shape's
// convolutions: Winograd F(4x4,3x3) and F(2x2,3x3) (narrow maps) in many
// bands of tile rows (whole bands handed out, each thread in its own copy
// of the workspace, the last band overlapping the one before it; few
// bands re-cut into thinner ones for the threads), each
// Winograd form in a few bands (each channel's band copy and input
// transform, products with each thread's own expanded U panel, output
// transform and store of each output channel split inside each band), the packed-A GEMM (strided: each thread expands
// weight panels into its own scratch), the tap form (single-threaded
// in a threaded module) and the one-output-channel 1x1 (16-pixel groups
// handed out), with bias and partial panels, in the default
// shape and in v8's (one 4x8 tile per call, no expanded panels); the
// threaded module's outputs are the single-threaded module's bytes on
// wazero and Node.
func TestThreadsConvForms(t *testing.T) {
	wz, nr := threadRunners(t)
	rng := rand.New(rand.NewSource(12))
	for _, c := range []struct {
		name           string
		C, M, H        int
		stride, dilate int64
		kernel         int64 // 3 unless set
		W              int   // H unless set
	}{
		{"winograd_band_parallel", 16, 22, 90, 1, 1, 0, 0},
		{"winograd_bands", 16, 22, 40, 1, 1, 0, 0},
		// two bands of 8 tile rows, re-cut into four of 4 (the last
		// overlapping the third) for two threads
		{"winograd_few_bands_recut", 64, 64, 56, 1, 1, 0, 0},
		// two bands of 17 tile rows of 8 tiles: too few tiles to re-cut,
		// so the jobs split each band's steps
		{"winograd_few_bands", 16, 22, 72, 1, 1, 0, 24},
		// one band of 7 tile rows, prepared U: the steps handed out, the
		// last 4-row panel of two rows
		{"winograd_one_band_panel_groups", 48, 70, 28, 1, 1, 0, 0},
		{"winograd2_band_parallel", 16, 22, 700, 1, 1, 0, 6},
		{"winograd2_bands", 16, 22, 17, 1, 1, 0, 0},
		// weights past prepack's budget: transformed by the kernel, a
		// panel at a time (whole panels per thread); 16 tiles: the tiles
		// as A, in 8-channel panels (M%8 == 0) or not
		{"winograd_from_source", 400, 400, 16, 1, 1, 0, 0},
		{"winograd_from_source_4ch_panels", 404, 404, 16, 1, 1, 0, 0},
		{"winograd_from_source_7x7", 512, 512, 7, 1, 1, 0, 0},
		{"packA_strided", 12, 30, 41, 2, 1, 0, 0},
		{"taps_dilated", 64, 42, 24, 1, 8, 0, 0},
		{"pixels_as_A", 96, 76, 7, 1, 1, 1, 0},
		{"pixels_as_A_strided", 80, 68, 13, 2, 1, 1, 0},
		// strided 1x1 without padding: col gathered from the input in
		// place (even and odd maps: the odd one's rows end one short of a
		// pair)
		{"packA_strided_1x1", 64, 40, 56, 2, 1, 1, 0},
		{"packA_strided_1x1_odd", 48, 36, 55, 2, 1, 1, 0},
		{"packA_bands", 3, 16, 300, 2, 1, 7, 0},
		{"dot_pixels", 24, 1, 150, 1, 1, 1, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			kernel := cmp.Or(c.kernel, 3)
			pad := c.dilate * (kernel / 2)
			n := optest.Node{Op: "Conv", Opset: 13, Inputs: []string{"x", "w", "b"}, Outputs: []string{"y"}, Attrs: []*onnxpb.AttributeProto{
				optest.Ints("pads", pad, pad, pad, pad), optest.Ints("strides", c.stride, c.stride), optest.Ints("dilations", c.dilate, c.dilate)}}
			feed := map[string]*ir.Tensor{"x": randTensor(rng, ir.Float32, 1, 1, c.C, c.H, cmp.Or(c.W, c.H))}
			consts := map[string]*ir.Tensor{"w": randTensor(rng, ir.Float32, 1, c.M, c.C, int(kernel), int(kernel)), "b": randTensor(rng, ir.Float32, 1, c.M)}
			model, err := optest.Model(n, feed, consts)
			if err != nil {
				t.Fatal(err)
			}
			for _, tune := range []string{mlc.DefaultTune, "v8"} {
				t.Run(tune, func(t *testing.T) { sameThreadedOutputs(t, wz, nr, model, feed, "y", tune) })
			}
		})
	}
}

// TestThreadsResizeBilinear checks the split of the SIMD bilinear resize
// (planes handed out, with a partial group of 4 columns): the threaded
// module's outputs are the single-threaded module's bytes on wazero and
// Node.
func TestThreadsResizeBilinear(t *testing.T) {
	wz, nr := threadRunners(t)
	rng := rand.New(rand.NewSource(13))
	n := optest.Node{Op: "Resize", Opset: 13, Inputs: []string{"x", "", "", "sizes"}, Outputs: []string{"y"},
		Attrs: []*onnxpb.AttributeProto{optest.String("mode", "linear"), optest.String("coordinate_transformation_mode", "half_pixel")}}
	feed := map[string]*ir.Tensor{"x": randTensor(rng, ir.Float32, 1, 1, 5, 20, 19)}
	consts := map[string]*ir.Tensor{"sizes": ir.TensorI64(ir.Shape{4}, 1, 5, 40, 38)}
	model, err := optest.Model(n, feed, consts)
	if err != nil {
		t.Fatal(err)
	}
	sameThreadedOutputs(t, wz, nr, model, feed, "y", "")
}

// TestThreadsTimedRuns checks a module as mlc compile --threads 2 emits it
// (ABI 3: each node split or not as its run-time timings say) over enough
// runs to pass the probing calls, split and alone alternating, and the
// decided ones: every run's outputs are the single-threaded module's bytes,
// on wazero and on Node.
func TestThreadsTimedRuns(t *testing.T) {
	dir := filepath.Join(testenv.Shared(t), "models", "squeezenet1_1")
	model, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	in := readPB(t, filepath.Join(dir, "test_data_set_0", "input_0.pb"))
	wz, nr := threadRunners(t)
	ctx := context.Background()
	var want map[string]*ir.Tensor
	for _, threads := range []int{1, 2} {
		o := mlc.DefaultOptions()
		o.Threads = threads
		res, err := mlc.Compile(model, "", o)
		if err != nil {
			t.Fatal(err)
		}
		meta, err := abi.Read(res.Wasm)
		if err != nil {
			t.Fatal(err)
		}
		feed := map[string]*ir.Tensor{meta.Inputs[0].Name: in}
		if threads == 1 {
			out, err := wz.Run(ctx, res.Wasm, []map[string]*ir.Tensor{feed})
			if err != nil {
				t.Fatal(err)
			}
			want = out[0]
			continue
		}
		testenv.Validate(t, res.Wasm)
		sets := make([]map[string]*ir.Tensor, 40)
		for i := range sets {
			sets[i] = feed
		}
		for _, r := range []verify.Runner{wz, nr} {
			outs, err := r.Run(ctx, res.Wasm, sets)
			if err != nil {
				t.Fatal(err)
			}
			for i, out := range outs {
				for name, v := range want {
					if !bytes.Equal(out[name].Data, v.Data) {
						t.Fatalf("%T run %d: output %s differs from the single-threaded module's", r, i, name)
					}
				}
			}
		}
	}
}

// TestRelaxedSIMDKernels checks that --relaxed-simd reaches the
// multiply-add kernels under every tune: a Gemm with constant B (packed
// GEMM), a MatMul of two run-time operands (the plain GEMM core), a 3x3
// Conv (direct and Winograd products) and a depthwise Conv must each
// contain more f32x4.relaxed_madd opcodes in the relaxed build's code than
// in the plain build's (which has none: counting in the plain build too
// keeps an immediate that happens to hold those bytes from passing the
// test). The default tune's micro-kernel once kept its mul+add, so the
// relaxed default module ran no faster than the plain one.
func TestRelaxedSIMDKernels(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	conv := func(group int, C, M int) (optest.Node, map[string]*ir.Tensor, map[string]*ir.Tensor) {
		n := optest.Node{Op: "Conv", Opset: 13, Inputs: []string{"x", "w"}, Outputs: []string{"y"}, Attrs: []*onnxpb.AttributeProto{
			optest.Ints("pads", 1, 1, 1, 1), optest.Int("group", int64(group))}}
		return n, map[string]*ir.Tensor{"x": randTensor(rng, ir.Float32, 1, 1, C, 40, 40)},
			map[string]*ir.Tensor{"w": randTensor(rng, ir.Float32, 1, M, C/group, 3, 3)}
	}
	type model struct {
		name         string
		n            optest.Node
		feed, consts map[string]*ir.Tensor
	}
	var models []model
	models = append(models, model{"gemm", optest.Node{Op: "Gemm", Opset: 13, Inputs: []string{"a", "b"}, Outputs: []string{"y"}},
		map[string]*ir.Tensor{"a": randTensor(rng, ir.Float32, 1, 64, 96)}, map[string]*ir.Tensor{"b": randTensor(rng, ir.Float32, 1, 96, 64)}})
	models = append(models, model{"matmul_runtime", optest.Node{Op: "MatMul", Opset: 13, Inputs: []string{"a", "b"}, Outputs: []string{"y"}},
		map[string]*ir.Tensor{"a": randTensor(rng, ir.Float32, 1, 64, 96), "b": randTensor(rng, ir.Float32, 1, 96, 64)}, nil})
	n, feed, consts := conv(1, 32, 32)
	models = append(models, model{"conv3x3", n, feed, consts})
	n, feed, consts = conv(32, 32, 32)
	models = append(models, model{"depthwise", n, feed, consts})
	for _, m := range models {
		onnx, err := optest.Model(m.n, m.feed, m.consts)
		if err != nil {
			t.Fatal(err)
		}
		for _, tn := range tune.Names() {
			t.Run(m.name+"/"+tn, func(t *testing.T) {
				count := func(relaxed bool) int {
					o := mlc.DefaultOptions()
					o.Tune, o.RelaxedSIMD = tn, relaxed
					res, err := mlc.Compile(onnx, "", o)
					if err != nil {
						t.Fatal(err)
					}
					return bytes.Count(codeSection(t, res.Wasm), []byte{0xfd, 0x85, 0x02})
				}
				if plain, relaxed := count(false), count(true); relaxed <= plain {
					t.Errorf("relaxed_madd in the code: %d with --relaxed-simd, %d without", relaxed, plain)
				}
			})
		}
	}
}

// codeSection returns the body of a module's code section.
func codeSection(t *testing.T, b []byte) []byte {
	t.Helper()
	for p := 8; p < len(b); {
		id := b[p]
		size, n := 0, 0
		for shift := 0; ; shift += 7 {
			c := b[p+1+n]
			size |= int(c&0x7f) << shift
			n++
			if c&0x80 == 0 {
				break
			}
		}
		body := p + 1 + n
		if id == 10 {
			return b[body : body+size]
		}
		p = body + size
	}
	t.Fatal("no code section")
	return nil
}
