package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/quant"
)

func compileCmd() *cobra.Command {
	var cf compileFlags
	var out, jsonOut string
	var q quantFlags
	cmd := &cobra.Command{
		Use:   "compile MODEL.onnx",
		Short: "Compile an ONNX model into a WebAssembly module",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := cf.options()
			if err != nil {
				return err
			}
			if err := q.apply(&o, cmd.ErrOrStderr()); err != nil {
				return err
			}
			if out == "" {
				out = strings.TrimSuffix(filepath.Base(args[0]), filepath.Ext(args[0])) + ".wasm"
			}
			res, err := compileToFile(args[0], out, o)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d bytes, %d KiB memory)\n", out, res.Bytes, res.Meta.MemoryBytes/1024)
			if res.Report != nil {
				res.Report.Write(cmd.OutOrStdout())
				if jsonOut != "" {
					js, err := json.MarshalIndent(res.Report, "", "  ")
					if err != nil {
						return err
					}
					if err := os.WriteFile(jsonOut, append(js, '\n'), 0o644); err != nil {
						return err
					}
				}
			} else if jsonOut != "" {
				return fmt.Errorf("--json writes the quantization report: it needs --quantize")
			}
			return nil
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVarP(&out, "output", "o", "", "output file (default: the model's name with .wasm)")
	cmd.Flags().StringVar(&jsonOut, "json", "", "write the quantization report to this file as JSON")
	q.add(cmd)
	return cmd
}

// compileToFile compiles the model at path into the file out, writing the
// module as it is encoded (no copy of it in memory), through a temporary
// file renamed at the end, so that a failed compilation leaves no partial
// module. The Go heap is held near twice the model's size plus 256 MiB: a
// compiler's data are mostly weights, which its garbage collector scans
// cheaply, so collecting more often costs little and bounds the peak.
func compileToFile(path, out string, o mlc.Options) (*mlc.Result, error) {
	if fi, err := os.Stat(path); err == nil {
		debug.SetMemoryLimit(2*fi.Size() + 256<<20)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), filepath.Base(out)+".*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriterSize(tmp, 1<<20)
	o.Output = w
	res, err := mlc.CompileFile(path, o)
	if err == nil {
		err = w.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), out)
	}
	return res, err
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
}

func (q *quantFlags) apply(o *mlc.Options, progress io.Writer) error {
	if q.mode == "" {
		if q.data != "" {
			return fmt.Errorf("--calibration needs --quantize")
		}
		return nil
	}
	switch quant.Mode(q.mode) {
	case quant.Int8:
		if q.data == "" {
			return fmt.Errorf("--quantize int8 needs --calibration DATA")
		}
	case quant.Int8Weights:
	default:
		return fmt.Errorf("--quantize %q: want int8 or int8-weights", q.mode)
	}
	switch quant.Method(q.method) {
	case quant.MinMax, quant.Percentile, quant.MSE:
	default:
		return fmt.Errorf("--calibration-method %q: want minmax, percentile or mse", q.method)
	}
	if q.int16 < 0 || q.int16 > 0 && quant.Mode(q.mode) != quant.Int8 {
		return fmt.Errorf("--quantize-int16 %d: want a count of layers, with --quantize int8", q.int16)
	}
	o.Quantize, o.Calibration, o.CalibrationMethod, o.CalibrationSamples = quant.Mode(q.mode), q.data, quant.Method(q.method), q.samples
	o.Int16Layers = q.int16
	o.Progress = progress
	return nil
}
