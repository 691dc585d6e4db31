package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/npy"
	"github.com/mlc-compiler/mlc/verify"
)

// runJSON is the schema mlc.run (docs/cli.md).
type runJSON struct {
	header
	Module  string          `json:"module"`
	Inputs  []runInputJSON  `json:"inputs"`
	Outputs []runOutputJSON `json:"outputs"`
}

type runInputJSON struct {
	tensorJSON
	Source string `json:"source"` // a file, "zeros" or "random"
}

type runOutputJSON struct {
	tensorJSON
	File string `json:"file,omitempty"` // where --output-dir wrote it
	// Min, Max and Mean summarize numeric outputs with elements.
	Min  *jsonFloat `json:"min,omitempty"`
	Max  *jsonFloat `json:"max,omitempty"`
	Mean *jsonFloat `json:"mean,omitempty"`
	// Values are the elements in C order, when there are at most
	// --max-values of them.
	Values []jsonFloat `json:"values,omitempty"`
	// Top is, per row of the last axis, its --top largest elements.
	Top [][]topJSON `json:"top,omitempty"`
}

type topJSON struct {
	Index int       `json:"index"`
	Value jsonFloat `json:"value"`
}

// jsonFloat writes NaN and the infinities, which JSON numbers cannot hold,
// as the strings "NaN", "Infinity" and "-Infinity".
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Infinity"`), nil
	}
	return json.Marshal(v)
}

func runCmd() *cobra.Command {
	var cf compileFlags
	var inputs []string
	var outDir, outNPZ, fill string
	var cast bool
	var seed int64
	var top, maxValues int
	var js jsonFlag
	cmd := &cobra.Command{
		Use:   "run MODULE.wasm|MODEL.onnx [--input NAME=FILE | --input FILE.npz]...",
		Short: "Run a module (or a model, compiled in memory) on wazero and print or save its outputs",
		Long: `run runs a compiled module, or a model it compiles in memory first (with
the default --tune unless told), once on wazero.

Inputs: --input NAME=FILE gives one input from a .npy file (C or Fortran
order), an ONNX TensorProto (.pb) or an .npz archive holding one array;
--input FILE.npz gives every array of the archive to the input of its
name (numpy's unnamed arr_0, arr_1, ... go to the inputs in order). A file
whose dtype differs from the input's is an error unless --cast converts it.
Inputs not given are an error, or with --fill zeros all zeros, or with
--fill random drawn from --seed as mlc verify MODEL.onnx draws them.

Outputs are summarized (and with --top K, the K largest of each row of the
last axis listed); --output-dir writes each as NAME.npy, --output all in
one .npz; --json writes them as JSON.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch fill {
			case "none", "zeros", "random":
			default:
				return usageErrorf("--fill %q: want none, zeros or random", fill)
			}
			if top < 0 || maxValues < -1 {
				return usageErrorf("--top and --max-values take a count (--max-values -1: all)")
			}
			wasm, err := loadWasm(cmd, args[0], &cf)
			if err != nil {
				return err
			}
			meta, err := abi.Read(wasm)
			if err != nil {
				return modelError(err)
			}
			feeds, sources, err := readInputs(inputs, meta, cast)
			if err != nil {
				return err
			}
			if err := fillInputs(cmd, args[0], &cf, meta, feeds, sources, fill, seed); err != nil {
				return err
			}
			ctx := context.Background()
			m, closeRT, err := loadModule(ctx, wasm)
			if err != nil {
				return err
			}
			defer closeRT()
			outs, err := hostir.Run(ctx, m, feeds)
			if err != nil {
				return runError(err)
			}
			res := runJSON{header: newHeader("mlc.run"), Module: args[0]}
			for _, t := range meta.Inputs {
				res.Inputs = append(res.Inputs, runInputJSON{tensorJSON{t.Name, t.DType, t.Shape}, sources[t.Name]})
			}
			w := js.text(cmd)
			var archive []npy.Entry
			for _, t := range meta.Outputs {
				v := outs[t.Name]
				o := runOutputJSON{tensorJSON: tensorJSON{t.Name, t.DType, t.Shape}}
				line := fmt.Sprintf("%s: %s", t.Name, typeString(t.DType, t.Shape))
				if outDir != "" {
					if err := os.MkdirAll(outDir, 0o755); err != nil {
						return ioError(err)
					}
					o.File = filepath.Join(outDir, safeName(t.Name)+".npy")
					if err := ioError(hostir.WriteNPY(o.File, v)); err != nil {
						return err
					}
					line += " -> " + o.File
				}
				archive = append(archive, npy.Entry{Name: t.Name, Tensor: hostir.ToHost(v)})
				summarize(&o, v, top, maxValues)
				fmt.Fprintf(w, "%s\n  %s\n", line, summaryText(v, o))
				for r, row := range o.Top {
					if r == 8 {
						fmt.Fprintf(w, "  ... %d more rows\n", len(o.Top)-r)
						break
					}
					parts := make([]string, len(row))
					for i, e := range row {
						parts[i] = fmt.Sprintf("%d (%.6g)", e.Index, float64(e.Value))
					}
					fmt.Fprintf(w, "  top %d: %s\n", len(row), strings.Join(parts, ", "))
				}
				res.Outputs = append(res.Outputs, o)
			}
			if outNPZ != "" {
				if err := ioError(npy.WriteNPZFile(outNPZ, archive)); err != nil {
					return err
				}
				fmt.Fprintf(w, "wrote %s\n", outNPZ)
			}
			return js.write(cmd, res)
		},
	}
	cf.add(cmd, mlc.DefaultTune)
	cmd.Flags().StringArrayVar(&inputs, "input", nil, "an input: NAME=FILE (.npy, .pb, or .npz with one array), or FILE.npz for every input by name (repeatable)")
	cmd.Flags().StringVar(&fill, "fill", "none", "inputs not given: none (an error), zeros, or random (seeded, as mlc verify MODEL.onnx draws them)")
	cmd.Flags().Int64Var(&seed, "seed", 1, "the seed of --fill random")
	cmd.Flags().BoolVar(&cast, "cast", false, "convert input files to the dtypes the module takes (e.g. float64 to float32) instead of refusing them")
	cmd.Flags().StringVar(&outDir, "output-dir", "", "write each output to DIR/NAME.npy")
	cmd.Flags().StringVar(&outNPZ, "output", "", "write all outputs to one .npz file")
	cmd.Flags().IntVar(&top, "top", 0, "list the K largest elements of each row of the last axis (a classifier's top-K)")
	cmd.Flags().IntVar(&maxValues, "max-values", 4096, "with --json: include the elements of outputs that have at most N of them (-1: all)")
	js.add(cmd, "the inputs and outputs")
	completeValues(cmd, "fill", "none", "zeros", "random")
	return cmd
}

// readInputs reads the --input flags and checks each against the module.
func readInputs(specs []string, meta *abi.Metadata, cast bool) (map[string]*ir.Tensor, map[string]string, error) {
	feeds, sources := map[string]*ir.Tensor{}, map[string]string{}
	byName := map[string]abi.Tensor{}
	var names []string
	for _, t := range meta.Inputs {
		byName[t.Name] = t
		names = append(names, t.Name)
	}
	add := func(name, file string, t *ir.Tensor) error {
		want, ok := byName[name]
		if !ok {
			return usageErrorf("%s: the module has no input %q (inputs: %s)", file, name, strings.Join(names, ", "))
		}
		if _, dup := feeds[name]; dup {
			return usageErrorf("input %q is given twice", name)
		}
		if t.DType.String() != want.DType {
			dt, _ := ir.ParseDType(want.DType)
			if !cast {
				return usageErrorf("input %q is %s, %s holds %s: convert it, or pass --cast", name, want.DType, file, t.DType)
			}
			if dt == ir.Invalid || t.DType == ir.String {
				return usageErrorf("input %q: cannot cast %s to %s", name, t.DType, want.DType)
			}
			t = t.Convert(dt)
		}
		if !slices.Equal([]int(t.Shape), want.Shape) {
			return usageErrorf("input %q is %s, %s holds %s", name, typeString(want.DType, want.Shape), file, typeString(t.DType.String(), t.Shape))
		}
		feeds[name], sources[name] = t, file
		return nil
	}
	for _, spec := range specs {
		name, file, named := strings.Cut(spec, "=")
		if !named {
			file = spec
			if !strings.EqualFold(filepath.Ext(file), ".npz") {
				return nil, nil, usageErrorf("--input %q: want NAME=FILE, or FILE.npz", spec)
			}
			entries, err := npy.ReadNPZFile(file)
			if err != nil {
				return nil, nil, fileError(err)
			}
			for i, e := range entries {
				n := e.Name
				if _, ok := byName[n]; !ok && n == fmt.Sprintf("arr_%d", i) && i < len(names) {
					n = names[i] // numpy's savez(a, b) names by position
				}
				t, err := irTensor(file, e.Tensor)
				if err != nil {
					return nil, nil, err
				}
				if err := add(n, file+":"+e.Name, t); err != nil {
					return nil, nil, err
				}
			}
			continue
		}
		if name == "" || file == "" {
			return nil, nil, usageErrorf("--input %q: want NAME=FILE", spec)
		}
		t, err := readTensor(file)
		if err != nil {
			return nil, nil, err
		}
		if err := add(name, file, t); err != nil {
			return nil, nil, err
		}
	}
	return feeds, sources, nil
}

// fillInputs gives the inputs no flag gave zeros or random values, or
// names them in an error.
func fillInputs(cmd *cobra.Command, arg string, cf *compileFlags, meta *abi.Metadata, feeds map[string]*ir.Tensor, sources map[string]string, fill string, seed int64) error {
	var missing []*ir.Value
	for _, t := range meta.Inputs {
		if _, ok := feeds[t.Name]; !ok {
			dt, _ := ir.ParseDType(t.DType)
			missing = append(missing, ir.NewInput(t.Name, ir.Type{DType: dt, Shape: ir.Shape(t.Shape)}))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	switch fill {
	case "none":
		var s []string
		for _, v := range missing {
			s = append(s, fmt.Sprintf("%s (%s)", v.Name, v.Type))
		}
		return usageErrorf("no value for input %s: give --input NAME=FILE, or --fill zeros|random", strings.Join(s, ", "))
	case "zeros":
		for _, v := range missing {
			feeds[v.Name], sources[v.Name] = ir.NewTensor(v.Type.DType, v.Type.Shape), "zeros"
		}
		return nil
	}
	// Random: a model's graph tells which inputs index what (verify.Inputs);
	// a module has only its metadata.
	g := &ir.Graph{Inputs: missing}
	if data, dir, err := readModelArg(cmd, arg); err == nil && !isWasm(data) {
		if o, err := cf.options(); err == nil {
			if fo, err := o.Frontend(); err == nil {
				if m, err := frontend.Import(data, dir, fo); err == nil {
					g = m.Graph
				}
			}
		}
	}
	vals, err := verify.Inputs(g, seed)
	if err != nil {
		return modelError(err)
	}
	for _, v := range missing {
		feeds[v.Name], sources[v.Name] = vals[v.Name], "random"
	}
	return nil
}

// summarize fills in o's statistics, values and top-k from v.
func summarize(o *runOutputJSON, v *ir.Tensor, top, maxValues int) {
	n := v.Len()
	if v.DType == ir.String || n == 0 {
		return
	}
	lo, hi, sum := math.Inf(1), math.Inf(-1), 0.0
	for i := 0; i < n; i++ {
		x := value(v, i)
		lo, hi, sum = math.Min(lo, x), math.Max(hi, x), sum+x
	}
	mean := sum / float64(n)
	o.Min, o.Max, o.Mean = (*jsonFloat)(&lo), (*jsonFloat)(&hi), (*jsonFloat)(&mean)
	if n <= maxValues || maxValues < 0 {
		o.Values = make([]jsonFloat, n)
		for i := range o.Values {
			o.Values[i] = jsonFloat(value(v, i))
		}
	}
	if top > 0 {
		last := n
		if len(v.Shape) > 0 {
			last = v.Shape[len(v.Shape)-1]
		}
		for r := 0; last > 0 && r < n/last; r++ {
			idx := make([]int, last)
			for i := range idx {
				idx[i] = i
			}
			slices.SortStableFunc(idx, func(a, b int) int {
				x, y := value(v, r*last+a), value(v, r*last+b)
				switch {
				case x > y || !math.IsNaN(x) && math.IsNaN(y):
					return -1
				case x < y || math.IsNaN(x) && !math.IsNaN(y):
					return 1
				}
				return 0
			})
			var row []topJSON
			for _, i := range idx[:min(top, last)] {
				row = append(row, topJSON{i, jsonFloat(value(v, r*last+i))})
			}
			o.Top = append(o.Top, row)
		}
	}
}

// value reads element i of a numeric tensor.
func value(t *ir.Tensor, i int) float64 {
	switch {
	case t.DType.IsFloat():
		return t.Float(i)
	case t.DType == ir.Uint64:
		return float64(t.Uint(i))
	}
	return float64(t.Int(i))
}

// summaryText shows the first values, the range and, for floats, the
// argmax.
func summaryText(t *ir.Tensor, o runOutputJSON) string {
	n := t.Len()
	if t.DType == ir.String {
		return fmt.Sprintf("%q", t.Strings[:min(n, 5)])
	}
	var parts []string
	for i := 0; i < min(n, 8); i++ {
		parts = append(parts, strconv.FormatFloat(value(t, i), 'g', 6, 64))
	}
	s := "[" + strings.Join(parts, " ")
	if n > 8 {
		s += " ..."
	}
	s += "]"
	if o.Min != nil {
		s += fmt.Sprintf(" min %.6g max %.6g mean %.6g", float64(*o.Min), float64(*o.Max), float64(*o.Mean))
	}
	if t.DType.IsFloat() && n > 0 {
		arg := 0
		for i := 1; i < n; i++ {
			if t.Float(i) > t.Float(arg) {
				arg = i
			}
		}
		s += fmt.Sprintf(" argmax %d", arg)
	}
	return s
}
