// Package mlc compiles ONNX models into standalone WebAssembly modules.
//
// Data flows through one package per phase:
//
//	.onnx -> frontend (ONNX -> ir) -> opt (passes, memory plan)
//	      -> codegen (ir -> Wasm) -> .wasm -> runtime-shim (hosts)
//
// Compile is the whole pipeline; the CLI in cmd/mlc is a thin layer on it.
//
// A Go program uses three packages and no others of the compiler: mlc to
// compile (Compile, CompileFile with Options from DefaultOptions or
// HostOptions), runtime-shim/host to run a module on wazero with its own
// host.Tensor, and npy to read and write numpy files. Package verify
// checks models against golden data or the reference interpreter, and
// mlctest wraps it for a project's own tests.
package mlc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/codegen"
	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/memplan"
	"github.com/mlc-compiler/mlc/opt"
	"github.com/mlc-compiler/mlc/quant"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
	"github.com/mlc-compiler/mlc/tune"
)

// Version is written into every module's metadata as the producer.
const Version = "0.1.0"

// Options are the compile flags. Start from DefaultOptions (what mlc
// compile does) or HostOptions (for a module the Go program runs itself):
// the zero Options is -O0. Every option that changes the code is recorded
// in the module's metadata ("options"); the same model and Options give
// the same bytes.
type Options struct {
	// InputShapes pins input shapes by name, like --input-shape: dynamic
	// dimensions need it, and a first dimension of 1 may become a batch
	// when the graph allows (re-batching). An empty shape pins a scalar.
	InputShapes map[string][]int
	// InputValues specializes the module on input values, like
	// --input-value: the graph sees them as constants (so shapes computed
	// from them become static), and the module's mlc_run returns 2 when
	// given another value.
	InputValues map[string]*host.Tensor
	// NoSIMD emits scalar code only (--simd=false), for engines without
	// Wasm SIMD128.
	NoSIMD bool
	// OptLevel 0 runs only the passes code generation needs (-O0); 2, the
	// default, runs them all.
	OptLevel int
	// Profile adds the per-node entry point mlc bench --profile times.
	Profile bool
	// Tune shapes kernels: "portable" (DefaultTune: fast in V8, on wazero
	// and on wasmtime alike), or, for experts, one engine's: "v8" (Node,
	// Chromium), "wazero" or "generic" (the wazero shape). Any tune runs
	// everywhere with the same outputs; only speed differs. "" means
	// DefaultTune.
	Tune string
	// Threads > 1 makes a threaded module (--threads N, ABI v2): heavy
	// nodes split their work across up to Threads threads sharing one
	// memory, with bit-identical results (docs/abi.md). 0 and 1 are the
	// single-threaded ABI v1 module.
	Threads int
	// ParallelAll is for tests of threaded modules: every loop that can be
	// split is, however short, so that small cases exercise the threads.
	ParallelAll bool
	// RelaxedSIMD (--relaxed-simd) makes the GEMM, convolution, Winograd,
	// GEMV and attention kernels' multiply-adds f32x4.relaxed_madd: faster
	// where the engine fuses them (V8 with relaxed SIMD), not bit-identical
	// to the plain module, and rejected by engines without relaxed SIMD
	// (wazero, Node 20 without --experimental-wasm-relaxed-simd).
	RelaxedSIMD bool
	// FP16 is how float16 graphs compute: "" or FP16Float32 (in float32,
	// as ONNX Runtime does on CPUs) or FP16Exact (every node's result
	// rounded to float16, as ONNX specifies).
	FP16 string
	// Quantize is "" (float), quant.Int8 (weights and activations, needs
	// Calibration) or quant.Int8Weights (weights only); see
	// docs/quantization.md.
	Quantize quant.Mode
	// Calibration is the calibration data's path (see quant.LoadData): a
	// .npy batch along axis 0, or a folder of test_data_set_* folders.
	// CalibrationSamples > 0 uses only the first samples.
	Calibration        string
	CalibrationSamples int
	// CalibrationMethod picks activation ranges: quant.MinMax (""),
	// quant.Percentile or quant.MSE.
	CalibrationMethod quant.Method
	// Int16Layers > 0 keeps the activations of the first layers in int16
	// (quant.Config.Int16Layers).
	Int16Layers int
	// Progress receives the quantizer's progress (nil: none): a bar on a
	// terminal, one line per stage elsewhere.
	Progress io.Writer
	// MaxLoopIterations bounds the Loop iterations of one run of the module
	// (all Loops together); past it mlc_run returns abi.ErrLoopLimit. 0
	// means abi.DefaultMaxLoopIterations.
	MaxLoopIterations int64
	// Debug looks into the optimizer (mlc compile --dump-after,
	// --disable-pass, --verify-ir); disabled passes are recorded in the
	// module's flags.
	Debug opt.Debug
	// Output, when set, receives the module instead of Result.Wasm (left
	// nil): the weights go from the graph to the writer without a copy of
	// the whole module in memory.
	Output io.Writer
}

// DefaultOptions are mlc compile's defaults: the portable kernel shape,
// fast on every engine. The CLI and the API give the same bytes for the
// same flags.
func DefaultOptions() Options { return Options{OptLevel: 2, Tune: DefaultTune} }

// HostOptions are what a Go program that runs the module itself
// (runtime-shim/host) should compile with, and what mlctest uses: since
// the portable shape is fast on wazero too, the same as DefaultOptions
// (docs/design.md, "The Go API's tune"), kept so that callers need not
// change if the two ever part again.
func HostOptions() Options { return DefaultOptions() }

// How float16 graphs compute (Options.FP16).
const (
	FP16Float32 = opt.FP16Float32
	FP16Exact   = opt.FP16Exact
)

// MaxThreads bounds Options.Threads.
const MaxThreads = codegen.MaxThreads

// DefaultTune is the engine the kernels are shaped for unless told.
const DefaultTune = tune.Portable

// Result is a compiled module.
type Result struct {
	Wasm  []byte // nil with Options.Output
	Bytes int    // the module's size
	Meta  *abi.Metadata
	Graph *ir.Graph     // the optimized graph, for inspection
	Plan  *memplan.Plan // its memory plan
	// Report is the quantization report (with Options.Quantize).
	Report *quant.Report
	// Memory says where the module's linear memory goes.
	Memory Memory
}

// Memory is a module's linear memory by use, in bytes.
type Memory struct {
	Total    int // the memory's size
	Weights  int // constants kept for the whole run, at their stored width
	Staged   int // constants only the first run reads: in the arena, overwritten later
	Prepared int // weights in the layout kernels read, computed at the first run
	IO       int // inputs, at fixed addresses (outputs are arena buffers); the name predates that
	Arena    int // activations and kernel workspaces, reused as they die
	// Peak is the most the arena must hold at once (at node PeakNode): the
	// activations live then and that node's workspace. Arena - Peak is lost
	// to fragmentation.
	Peak          int
	PeakLive      int
	PeakWorkspace int
	PeakNode      string
	Other         int // scratch, flags, alignment, read-only kernel tables
}

func memoryOf(g *ir.Graph, p *memplan.Plan, total int) Memory {
	m := Memory{Total: total, Weights: p.ConstBytes, Staged: p.StagedBytes, Prepared: p.OnceBytes,
		IO: p.FixedBytes - p.OnceBytes, Arena: p.ArenaBytes, Peak: p.Peak, PeakLive: p.PeakLive, PeakWorkspace: p.PeakWorkspace}
	m.PeakNode = "(the first run's Once nodes)"
	if p.PeakStep >= 0 && p.PeakStep < len(g.Nodes) {
		m.PeakNode = g.Nodes[p.PeakStep].Label()
	}
	m.Other = total - m.Weights - m.Prepared - m.IO - m.Arena
	return m
}

// CompileFile compiles the model at path (external data files are read
// from its folder).
func CompileFile(path string, o Options) (*Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Compile(data, filepath.Dir(path), o)
}

// Compile compiles model bytes; dir locates external data files. An error
// that ir.IsUnsupported reports names what mlc does not support (the node,
// op, opset and what is missing); others say why the model is invalid.
func Compile(model []byte, dir string, o Options) (res *Result, err error) {
	defer recoverInternal(&err)
	if !tune.Valid(o.tune()) {
		return nil, fmt.Errorf("--tune %q: want portable, v8, wazero or generic", o.Tune)
	}
	if o.Threads < 0 || o.Threads > codegen.MaxThreads {
		return nil, fmt.Errorf("--threads %d: want 1 to %d", o.Threads, codegen.MaxThreads)
	}
	switch o.FP16 {
	case "", opt.FP16Float32, opt.FP16Exact:
	default:
		return nil, fmt.Errorf("--fp16 %q: want %s or %s", o.FP16, opt.FP16Float32, opt.FP16Exact)
	}
	fo, err := o.Frontend()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(model)
	big := len(model) > 64<<20
	m, err := frontend.Import(model, dir, fo)
	if err != nil {
		return nil, err
	}
	if big {
		// The model's bytes are garbage now (the graph holds the decoded
		// weights): free them before the passes allocate packed weights,
		// rather than when the heap next doubles. Weights are pointer-free,
		// so this collection is quick.
		runtime.GC()
	}
	var rep *quant.Report
	if o.Quantize != "" {
		if rep, err = quantize(m.Graph, o); err != nil {
			return nil, err
		}
	}
	res, err = compileGraph(m.Graph, hex.EncodeToString(sum[:]), o)
	if err != nil {
		return nil, err
	}
	res.Report = rep
	return res, nil
}

// Frontend returns the import options o implies.
func (o Options) Frontend() (frontend.Options, error) {
	fo := frontend.Options{}
	if o.InputShapes != nil {
		fo.InputShapes = map[string]ir.Shape{}
		for k, v := range o.InputShapes {
			fo.InputShapes[k] = v
		}
	}
	if o.InputValues != nil {
		vals, err := hostir.FromHostMap(o.InputValues)
		if err != nil {
			return fo, fmt.Errorf("input value %w", err)
		}
		fo.InputValues = vals
	}
	return fo, nil
}

// quantize rewrites g into a quantized graph (package quant).
func quantize(g *ir.Graph, o Options) (*quant.Report, error) {
	cfg := quant.Config{Mode: o.Quantize, Method: o.CalibrationMethod, Progress: o.Progress, Int16Layers: o.Int16Layers}
	if o.Calibration != "" {
		data, err := quant.LoadData(o.Calibration, g.Inputs, o.CalibrationSamples)
		if err != nil {
			return nil, err
		}
		cfg.Data = data
	}
	// Calibration and the report run the float and quantized models with
	// the same code generation options.
	// They run on wazero, so its tune is the fast one there.
	plain := Options{NoSIMD: o.NoSIMD, OptLevel: o.OptLevel, Tune: tune.Wazero}
	cfg.Compile = func(g *ir.Graph) ([]byte, error) {
		r, err := compileGraph(g, "", plain)
		if err != nil {
			return nil, err
		}
		return r.Wasm, nil
	}
	return quant.Quantize(context.Background(), g, cfg)
}

// CompileGraph compiles an IR graph, which it optimizes in place; the
// metadata's model_sha256 is then empty.
func CompileGraph(g *ir.Graph, o Options) (res *Result, err error) {
	defer recoverInternal(&err)
	return compileGraph(g, "", o)
}

// recoverInternal turns a panic that no phase caught into an internal
// error: a user sees a request to report it, never a Go stack trace. The
// phases recover per node themselves, so that their errors name it.
func recoverInternal(err *error) {
	if r := recover(); r != nil {
		*err = ir.Recovered(nil, "model", "the compiler", r)
	}
}

func compileGraph(g *ir.Graph, modelSHA256 string, o Options) (*Result, error) {
	plan, err := opt.Run(g, opt.Options{Level: o.OptLevel, SIMD: !o.NoSIMD, ConvWeights: codegen.ConvWeightsFunc(o.tune()), Workspace: codegen.WorkspaceFunc(o.Threads), ReadsPieces: codegen.ReadsPieces, Heads: codegen.HeadsFunc(o.Threads), FP16: o.FP16, Debug: o.Debug})
	if err != nil {
		return nil, err
	}
	copts := codegen.Options{
		SIMD:        !o.NoSIMD,
		Producer:    "mlc " + Version,
		ModelSHA256: modelSHA256,
		Flags:       o.flags(),
		Profile:     o.Profile,
		Tune:        o.tune(),
		Threads:     o.Threads,
		ParallelAll: o.ParallelAll,
		RelaxedSIMD: o.RelaxedSIMD && !o.NoSIMD,

		MaxLoopIterations: o.MaxLoopIterations,
	}
	res := &Result{Graph: g}
	if o.Output != nil {
		cw := &countingWriter{w: o.Output}
		if res.Meta, err = codegen.BuildTo(cw, g, plan, copts); err != nil {
			return nil, err
		}
		res.Bytes = cw.n
	} else {
		if res.Wasm, err = codegen.Build(g, plan, copts); err != nil {
			return nil, err
		}
		if res.Meta, err = abi.Read(res.Wasm); err != nil {
			return nil, fmt.Errorf("internal error: emitted module has bad metadata: %w", err)
		}
		res.Bytes = len(res.Wasm)
	}
	res.Plan = plan
	res.Memory = memoryOf(g, plan, res.Meta.MemoryBytes)
	return res, nil
}

type countingWriter struct {
	w io.Writer
	n int
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += n
	return n, err
}

// flags lists the options that shaped the code, in a stable order.
func (o Options) flags() []string {
	var f []string
	if o.NoSIMD {
		f = append(f, "simd=false")
	}
	if o.Profile {
		f = append(f, "profile")
	}
	if o.tune() != DefaultTune {
		f = append(f, "tune="+o.tune())
	}
	if o.OptLevel != 2 {
		f = append(f, fmt.Sprintf("O%d", o.OptLevel))
	}
	if o.RelaxedSIMD && !o.NoSIMD {
		f = append(f, "relaxed-simd")
	}
	if o.Threads > 1 {
		f = append(f, fmt.Sprintf("threads=%d", o.Threads))
		if o.ParallelAll {
			f = append(f, "parallel-all")
		}
	}
	if o.MaxLoopIterations > 0 && o.MaxLoopIterations != abi.DefaultMaxLoopIterations {
		f = append(f, fmt.Sprintf("max-loop-iterations=%d", o.MaxLoopIterations))
	}
	if o.FP16 == opt.FP16Exact {
		f = append(f, "fp16="+o.FP16)
	}
	if len(o.Debug.Disable) > 0 {
		f = append(f, "disable-pass="+strings.Join(slices.Sorted(slices.Values(o.Debug.Disable)), ","))
	}
	if o.Quantize != "" {
		f = append(f, "quantize="+string(o.Quantize))
		if o.Calibration != "" {
			method := o.CalibrationMethod
			if method == "" {
				method = quant.MinMax
			}
			f = append(f, "calibration-method="+string(method))
			if o.CalibrationSamples > 0 {
				f = append(f, fmt.Sprintf("calibration-samples=%d", o.CalibrationSamples))
			}
			if o.Int16Layers > 0 {
				f = append(f, fmt.Sprintf("quantize-int16=%d", o.Int16Layers))
			}
		}
	}
	names := make([]string, 0, len(o.InputShapes))
	for n := range o.InputShapes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		dims := make([]string, len(o.InputShapes[n]))
		for i, d := range o.InputShapes[n] {
			dims[i] = fmt.Sprint(d)
		}
		f = append(f, fmt.Sprintf("input-shape=%s=%s", n, strings.Join(dims, ",")))
	}
	names = names[:0]
	for n := range o.InputValues {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sum := sha256.Sum256(o.InputValues[n].Data)
		f = append(f, fmt.Sprintf("input-value=%s=sha256:%s", n, hex.EncodeToString(sum[:8])))
	}
	return f
}

func (o Options) tune() string {
	if o.Tune == "" {
		return DefaultTune
	}
	return o.Tune
}
