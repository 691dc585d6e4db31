package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
)

func runCmd() *cobra.Command {
	var inputs []string
	var outDir string
	cmd := &cobra.Command{
		Use:   "run MODULE.wasm --input NAME=FILE ...",
		Short: "Run a compiled module on .npy or ONNX TensorProto (.pb) inputs",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			wasm, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			feeds := map[string]*ir.Tensor{}
			for _, spec := range inputs {
				name, file, ok := strings.Cut(spec, "=")
				if !ok || name == "" || file == "" {
					return fmt.Errorf("--input %q: want NAME=FILE", spec)
				}
				t, err := readTensor(file)
				if err != nil {
					return err
				}
				feeds[name] = t
			}
			ctx := context.Background()
			m, closeRT, err := loadModule(ctx, wasm)
			if err != nil {
				return err
			}
			defer closeRT()
			outs, err := hostir.Run(ctx, m, feeds)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(outDir, 0o755); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, t := range m.Meta.Outputs {
				v := outs[t.Name]
				path := filepath.Join(outDir, safeName(t.Name)+".npy")
				if err := hostir.WriteNPY(path, v); err != nil {
					return err
				}
				fmt.Fprintf(w, "%s: %s%v -> %s\n  %s\n", t.Name, t.DType, t.Shape, path, summarize(v))
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&inputs, "input", nil, "an input: NAME=FILE (.npy or .pb), repeatable")
	cmd.Flags().StringVar(&outDir, "output-dir", ".", "where to write each output as NAME.npy")
	return cmd
}

// isWasm reports whether a file's bytes are a WebAssembly module (rather
// than an ONNX model).
func isWasm(data []byte) bool { return len(data) >= 4 && string(data[:4]) == "\x00asm" }

// loadModule instantiates wasm on a new wazero runtime; closeRT ends the
// runtime.
func loadModule(ctx context.Context, wasm []byte) (m *host.Model, closeRT func(), err error) {
	rt, err := host.NewRuntime(ctx, host.Config{})
	if err != nil {
		return nil, nil, err
	}
	if m, err = rt.Load(ctx, wasm); err != nil {
		rt.Close(ctx)
		return nil, nil, err
	}
	return m, func() { rt.Close(ctx) }, nil
}

func readTensor(path string) (*ir.Tensor, error) {
	if strings.HasSuffix(path, ".npy") {
		return hostir.ReadNPY(path)
	}
	t, _, err := frontend.ReadTensorFile(path)
	return t, err
}

// safeName turns a tensor name into a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ':' || r == 0 {
			return '_'
		}
		return r
	}, s)
}

// summarize shows a few values and, for float outputs, the argmax.
func summarize(t *ir.Tensor) string {
	n := t.Len()
	if t.DType == ir.String {
		return fmt.Sprintf("%q", t.Strings[:min(n, 5)])
	}
	var parts []string
	for i := 0; i < min(n, 8); i++ {
		if t.DType.IsFloat() {
			parts = append(parts, fmt.Sprintf("%.6g", t.Float(i)))
		} else {
			parts = append(parts, fmt.Sprint(t.Int(i)))
		}
	}
	s := "[" + strings.Join(parts, " ")
	if n > 8 {
		s += " ..."
	}
	s += "]"
	if t.DType.IsFloat() && n > 0 {
		arg := 0
		for i := 1; i < n; i++ {
			if t.Float(i) > t.Float(arg) {
				arg = i
			}
		}
		s += fmt.Sprintf(" argmax %d (%.6g)", arg, t.Float(arg))
	}
	return s
}
