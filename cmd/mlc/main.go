// Command mlc compiles ONNX models to standalone WebAssembly modules and
// runs, verifies, benchmarks and inspects them.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/ir"
)

func main() {
	root := &cobra.Command{
		Use:           "mlc",
		Short:         "mlc compiles ONNX models into standalone WebAssembly modules",
		Version:       mlc.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(compileCmd(), runCmd(), verifyCmd(), inspectCmd(), opsCmd(), benchCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "mlc:", err)
		os.Exit(1)
	}
}

// compileFlags are shared by compile, verify and bench.
type compileFlags struct {
	shapes  []string
	values  []string
	simd    bool
	level   int
	profile bool
	tune    string
	fp16    string
	debug   debugFlags
}

func (c *compileFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&c.shapes, "input-shape", nil, "pin an input shape: NAME=d0,d1,... (repeatable; NAME= pins a scalar)")
	cmd.Flags().StringArrayVar(&c.values, "input-value", nil, "specialize on an input's value: NAME=FILE (.npy or .pb); the module then rejects other values")
	cmd.Flags().BoolVar(&c.simd, "simd", true, "emit SIMD128 code (--simd=false for scalar code)")
	cmd.Flags().IntVarP(&c.level, "opt", "O", 2, "optimization level: 0 runs only the passes code generation needs")
	cmd.Flags().StringVar(&c.tune, "tune", mlc.DefaultTune, "kernel shape: portable (fast on every engine), or one engine's: v8, wazero or generic")
	cmd.Flags().BoolVar(&c.profile, "profile", false, "add the per-node entry point that mlc bench --profile times")
	cmd.Flags().StringVar(&c.fp16, "fp16", mlc.FP16Float32, "float16 arithmetic: float32 (compute in float32 between the model's float16 edges, as ONNX Runtime does on CPUs) or exact (round every node's result to float16, as ONNX specifies)")
	c.debug.add(cmd)
}

func (c *compileFlags) options() (mlc.Options, error) {
	o := mlc.DefaultOptions()
	o.NoSIMD = !c.simd
	o.OptLevel = c.level
	o.Profile = c.profile
	o.Tune = c.tune
	o.FP16 = c.fp16
	dbg, err := c.debug.debug(os.Stderr)
	if err != nil {
		return o, err
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
			return o, fmt.Errorf("--input-value %q: want NAME=FILE", spec)
		}
		t, err := readTensor(file)
		if err != nil {
			return o, err
		}
		if o.InputValues == nil {
			o.InputValues = map[string]*ir.Tensor{}
		}
		o.InputValues[name] = t
	}
	return o, nil
}

// parseShapes reads --input-shape NAME=d0,d1,... flags.
func parseShapes(specs []string) (map[string]ir.Shape, error) {
	out := map[string]ir.Shape{}
	for _, s := range specs {
		i := strings.LastIndex(s, "=")
		if i <= 0 {
			return nil, fmt.Errorf("--input-shape %q: want NAME=d0,d1,... (NAME= for a scalar)", s)
		}
		name, dims := s[:i], s[i+1:]
		shape := ir.Shape{}
		if dims != "" {
			for _, d := range strings.Split(dims, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(d))
				if err != nil || n < 0 {
					return nil, fmt.Errorf("--input-shape %q: dimension %q is not a non-negative integer", s, d)
				}
				shape = append(shape, n)
			}
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("--input-shape gives %q twice", name)
		}
		out[name] = shape
	}
	return out, nil
}
