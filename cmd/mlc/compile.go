package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/quant"
)

// compileJSON is the schema mlc.compile (docs/cli.md).
type compileJSON struct {
	header
	Output       string        `json:"output"` // the file written, "-" for stdout
	ModuleBytes  int           `json:"module_bytes"`
	ModuleSHA256 string        `json:"module_sha256"`
	MemoryBytes  int           `json:"memory_bytes"`
	Inputs       []tensorJSON  `json:"inputs"`
	Outputs      []tensorJSON  `json:"outputs"`
	Options      []string      `json:"options"`
	Quantization *quant.Report `json:"quantization"` // null without --quantize
}

// tensorJSON describes a module input or output.
type tensorJSON struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	Shape []int  `json:"shape"`
}

func tensorsJSON(ts []abi.Tensor) []tensorJSON {
	out := make([]tensorJSON, len(ts))
	for i, t := range ts {
		out[i] = tensorJSON{t.Name, t.DType, t.Shape}
	}
	return out
}

func compileCmd() *cobra.Command {
	var cf compileFlags
	var out string
	var js jsonFlag
	var q quantFlags
	var emit emitFlags
	cmd := &cobra.Command{
		Use:   "compile MODEL.onnx|-",
		Short: "Compile an ONNX model into a WebAssembly module",
		Long: `compile turns an ONNX model into one WebAssembly module with the weights
inside. MODEL - reads the model from stdin (external data files are then
looked up in the current folder, and -o is required); -o - writes the
module to stdout (the summary then goes to stderr).`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := cf.options()
			if err != nil {
				return err
			}
			if err := q.apply(&o, cmd.ErrOrStderr()); err != nil {
				return err
			}
			if out == "-" && js.path == "-" {
				return usageErrorf("-o - and --json - both want stdout")
			}
			if err := emit.check(out); err != nil {
				return err
			}
			model, dir, err := readModelArg(cmd, args[0])
			if err != nil {
				return err
			}
			if out == "" && !emit.js() {
				if args[0] == "-" {
					return usageErrorf("compile - (the model on stdin) needs -o FILE or -o -")
				}
				out = strings.TrimSuffix(filepath.Base(args[0]), filepath.Ext(args[0])) + ".wasm"
			}
			// The module goes to its file (or stdout) as it is encoded,
			// hashed on the way: no copy of it in memory. The Go heap is
			// held near twice the model plus 256 MiB: a compiler's data are
			// mostly pointer-free weights, which its collector scans
			// cheaply, so collecting more often costs little and bounds
			// the peak (docs/design.md, "Compiling large models").
			debug.SetMemoryLimit(2*int64(len(model)) + 256<<20)
			h := sha256.New()
			var res *mlc.Result
			compile := func(w io.Writer) error {
				o.Output = io.MultiWriter(w, h)
				var err error
				if res, err = mlc.Compile(model, dir, o); err != nil {
					return modelError(err)
				}
				return nil
			}
			text := js.text(cmd)
			if emit.js() {
				if res, err = mlc.Compile(model, dir, o); err != nil {
					return modelError(err)
				}
				h.Write(res.Wasm)
				if out, err = emit.writeJS(text, args[0], out, res); err != nil {
					return err
				}
			} else if out == "-" {
				w := bufio.NewWriterSize(cmd.OutOrStdout(), 1<<20)
				if err := compile(w); err != nil {
					return err
				}
				if err := w.Flush(); err != nil {
					return ioError(err)
				}
				text = cmd.ErrOrStderr() // stdout holds the module
			} else if err := writeFileFrom(out, compile); err != nil {
				return err
			}
			if !emit.js() {
				where := out
				if out == "-" {
					where = "the module to stdout"
				}
				fmt.Fprintf(text, "wrote %s (%d bytes, %d KiB memory)\n", where, res.Bytes, res.Meta.MemoryBytes/1024)
			}
			if res.Report != nil {
				res.Report.Write(text)
			}
			return js.write(cmd, compileJSON{
				header: newHeader("mlc.compile"), Output: out,
				ModuleBytes: res.Bytes, ModuleSHA256: hex.EncodeToString(h.Sum(nil)), MemoryBytes: res.Meta.MemoryBytes,
				Inputs: tensorsJSON(res.Meta.Inputs), Outputs: tensorsJSON(res.Meta.Outputs),
				Options: append([]string{}, res.Meta.Options...), Quantization: res.Report,
			})
		},
	}
	cf.add(cmd, mlc.DefaultTune)
	cmd.Flags().StringVarP(&out, "output", "o", "", "output file, - for stdout (default: the model's name with .wasm); with --emit js, a folder (default: .)")
	emit.add(cmd)
	js.add(cmd, "a summary (and the quantization report)")
	q.add(cmd)
	return cmd
}

// writeFileFrom writes the file at path with write, through a temporary
// file renamed at the end, so that a failure leaves no partial file.
// write's own errors come back as they are; the file's are I/O errors.
func writeFileFrom(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return ioError(err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err := write(w); err != nil {
		tmp.Close()
		return err
	}
	err = w.Flush()
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	return ioError(err)
}

type quantFlags struct {
	mode, data, method string
	samples, int16     int
}

func (q *quantFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&q.mode, "quantize", "", "quantize: int8 (weights and activations, needs --calibration) or int8-weights (weights only)")
	cmd.Flags().StringVar(&q.data, "calibration", "", "calibration data: a .npy batch along axis 0 (one-input models) or a folder of test_data_set_* folders")
	cmd.Flags().StringVar(&q.method, "calibration-method", "minmax", "how calibration sets activation ranges: minmax, percentile (keeps 99.99% of the values) or mse (least squared error)")
	cmd.Flags().IntVar(&q.samples, "calibration-samples", 0, "use only the first N calibration samples (0: all)")
	cmd.Flags().IntVar(&q.int16, "quantize-int16", 0, "with --quantize int8: keep the activations read by the first N integer layers in int16 where the kernels allow (more accuracy, more memory traffic)")
	completeValues(cmd, "quantize", string(quant.Int8), string(quant.Int8Weights))
	completeValues(cmd, "calibration-method", string(quant.MinMax), string(quant.Percentile), string(quant.MSE))
}

func (q *quantFlags) apply(o *mlc.Options, progress io.Writer) error {
	if q.mode == "" {
		if q.data != "" {
			return usageErrorf("--calibration needs --quantize")
		}
		return nil
	}
	switch quant.Mode(q.mode) {
	case quant.Int8:
		if q.data == "" {
			return usageErrorf("--quantize int8 needs --calibration DATA")
		}
	case quant.Int8Weights:
	default:
		return usageErrorf("--quantize %q: want int8 or int8-weights", q.mode)
	}
	switch quant.Method(q.method) {
	case quant.MinMax, quant.Percentile, quant.MSE:
	default:
		return usageErrorf("--calibration-method %q: want minmax, percentile or mse", q.method)
	}
	if q.int16 < 0 || q.int16 > 0 && quant.Mode(q.mode) != quant.Int8 {
		return usageErrorf("--quantize-int16 %d: want a count of layers, with --quantize int8", q.int16)
	}
	o.Quantize, o.Calibration, o.CalibrationMethod, o.CalibrationSamples = quant.Mode(q.mode), q.data, quant.Method(q.method), q.samples
	o.Int16Layers = q.int16
	o.Progress = progress
	return nil
}
