package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/quant"
)

func compileCmd() *cobra.Command {
	var cf compileFlags
	var out, jsonOut string
	var q quantFlags
	var emit emitFlags
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
			res, err := mlc.CompileFile(args[0], o)
			if err != nil {
				return err
			}
			if err := emit.write(cmd.OutOrStdout(), args[0], out, res); err != nil {
				return err
			}
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
	cmd.Flags().StringVarP(&out, "output", "o", "", "output file (default: the model's name with .wasm); with --emit js, a folder (default: .)")
	emit.add(cmd)
	cmd.Flags().StringVar(&jsonOut, "json", "", "write the quantization report to this file as JSON")
	q.add(cmd)
	return cmd
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
