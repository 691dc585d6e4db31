// Command mlc compiles ONNX models to standalone WebAssembly modules and
// runs, verifies, benchmarks and inspects them. docs/cli.md documents every
// command, flag, JSON schema and exit code.
package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
	"github.com/mlc-compiler/mlc/tune"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run runs the command line args and returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	// The last guard against a Go stack trace on a user's terminal: a
	// panic no phase recovered is reported as an internal error.
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintln(stderr, "mlc:", ir.Recovered(nil, "mlc", "the command", r))
			code = exitInternal
		}
	}()
	root := newRoot()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err != nil {
		fmt.Fprintln(stderr, "mlc:", err)
	}
	return exitCode(err)
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "mlc",
		Short: "mlc compiles ONNX models into standalone WebAssembly modules",
		Long: `mlc compiles ONNX models into standalone WebAssembly modules, and runs,
verifies, benchmarks and inspects them.

Exit codes: 0 ok, 1 internal error, 2 usage, 3 model invalid or unsupported,
4 verification mismatch, 5 run-time error in the module, 6 I/O error.
Shapes are written d0,d1,... on the command line and float32[1,3,224,224]
in output. See docs/cli.md.`,
		Version:       mlc.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q (see mlc --help)", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{exitUsage, err}
	})
	root.AddCommand(compileCmd(), runCmd(), verifyCmd(), inspectCmd(), opsCmd(), benchCmd())
	return root
}

// compileFlags are the code-generation flags of compile, and of the
// commands that compile a model first (run, verify, bench).
type compileFlags struct {
	shapes  []string
	values  []string
	simd    bool
	level   int
	profile bool
	tune    string
	loops   int64
	fp16    string
	threads int
	relaxed bool
	debug   debugFlags
}

// add registers the flags; defaultTune is the --tune default, the engine
// the command's modules run on.
func (c *compileFlags) add(cmd *cobra.Command, defaultTune string) {
	c.addInputs(cmd)
	c.addCodegen(cmd, defaultTune)
	cmd.Flags().BoolVar(&c.profile, "profile", false, "add the per-node entry point that mlc bench --profile times")
}

// addCodegen registers the flags that shape the optimized graph and the
// code (not --profile, which only adds an export).
func (c *compileFlags) addCodegen(cmd *cobra.Command, defaultTune string) {
	cmd.Flags().BoolVar(&c.simd, "simd", true, "emit SIMD128 code (--simd=false for scalar code)")
	cmd.Flags().IntVarP(&c.level, "opt", "O", 2, "optimization level: 0 runs only the passes code generation needs")
	cmd.Flags().StringVar(&c.tune, "tune", defaultTune, "kernel shape: portable (fast on every engine), or one engine's: v8 (Node, Chromium), wazero or generic")
	cmd.Flags().Int64Var(&c.loops, "max-loop-iterations", abi.DefaultMaxLoopIterations, "bound the Loop iterations of one run (all Loops together); past it mlc_run returns error 5")
	cmd.Flags().StringVar(&c.fp16, "fp16", mlc.FP16Float32, "float16 arithmetic: float32 (compute in float32 between the model's float16 edges, as ONNX Runtime does on CPUs) or exact (round every node's result to float16, as ONNX specifies)")
	cmd.Flags().IntVar(&c.threads, "threads", 1, "threads a module may use: N > 1 splits heavy nodes across up to N threads sharing one memory (ABI v3; the host starts the workers)")
	cmd.Flags().BoolVar(&c.relaxed, "relaxed-simd", false, "use relaxed SIMD multiply-adds (fused where the engine can): faster in V8 with relaxed SIMD, not bit-identical to the plain module; wazero and Node 20 without --experimental-wasm-relaxed-simd reject it")
	c.debug.add(cmd)
	completeValues(cmd, "tune", tune.Names()...)
	completeValues(cmd, "fp16", mlc.FP16Float32, mlc.FP16Exact)
}

// addInputs registers only the flags that say what the inputs are, for
// commands that import a model without generating code (inspect).
func (c *compileFlags) addInputs(cmd *cobra.Command) {
	c.simd, c.level, c.tune, c.fp16 = true, 2, mlc.DefaultTune, mlc.FP16Float32
	cmd.Flags().StringArrayVar(&c.shapes, "input-shape", nil, "pin an input shape: NAME=d0,d1,... (repeatable; NAME= pins a scalar; a first dimension of 1 may become a batch)")
	cmd.Flags().StringArrayVar(&c.values, "input-value", nil, "specialize on an input's value: NAME=FILE (.npy, .npz or .pb); the module then rejects other values")
}

func (c *compileFlags) options() (mlc.Options, error) {
	o := mlc.DefaultOptions()
	o.NoSIMD = !c.simd
	o.OptLevel = c.level
	o.Profile = c.profile
	o.Tune = c.tune
	if c.loops < 1 {
		return o, usageErrorf("--max-loop-iterations %d: want at least 1", c.loops)
	}
	o.MaxLoopIterations = c.loops
	o.FP16 = c.fp16
	o.Threads = c.threads
	o.RelaxedSIMD = c.relaxed
	if c.threads < 1 || c.threads > mlc.MaxThreads {
		return o, usageErrorf("--threads %d: want 1 to %d", c.threads, mlc.MaxThreads)
	}
	if !tune.Valid(c.tune) {
		return o, usageErrorf("--tune %q: want portable, v8, wazero or generic", c.tune)
	}
	switch c.fp16 {
	case mlc.FP16Float32, mlc.FP16Exact:
	default:
		return o, usageErrorf("--fp16 %q: want %s or %s", c.fp16, mlc.FP16Float32, mlc.FP16Exact)
	}
	if c.level < 0 {
		return o, usageErrorf("-O %d: want 0, 1 or 2", c.level)
	}
	dbg, err := c.debug.debug(os.Stderr)
	if err != nil {
		if isIOError(err) {
			return o, ioError(err)
		}
		return o, withCode(exitUsage, err)
	}
	o.Debug = dbg
	shapes, err := parseShapes(c.shapes)
	if err != nil {
		return o, err
	}
	o.InputShapes = shapes
	for _, spec := range c.values {
		name, file, ok := strings.Cut(spec, "=")
		if !ok || name == "" || file == "" {
			return o, usageErrorf("--input-value %q: want NAME=FILE", spec)
		}
		t, err := readTensor(file)
		if err != nil {
			return o, err
		}
		if o.InputValues == nil {
			o.InputValues = map[string]*host.Tensor{}
		}
		o.InputValues[name] = hostir.ToHost(t)
	}
	return o, nil
}

// parseShapes reads --input-shape NAME=d0,d1,... flags.
func parseShapes(specs []string) (map[string][]int, error) {
	out := map[string][]int{}
	for _, s := range specs {
		i := strings.LastIndex(s, "=")
		if i <= 0 {
			return nil, usageErrorf("--input-shape %q: want NAME=d0,d1,... (NAME= for a scalar)", s)
		}
		name, dims := s[:i], s[i+1:]
		shape := []int{}
		if dims != "" {
			for _, d := range strings.Split(dims, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(d))
				if err != nil || n < 0 {
					return nil, usageErrorf("--input-shape %q: dimension %q is not a non-negative integer", s, d)
				}
				shape = append(shape, n)
			}
		}
		if _, dup := out[name]; dup {
			return nil, usageErrorf("--input-shape gives %q twice", name)
		}
		out[name] = shape
	}
	return out, nil
}
