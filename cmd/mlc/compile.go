package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlc-compiler/mlc"
)

func compileCmd() *cobra.Command {
	var cf compileFlags
	var out string
	cmd := &cobra.Command{
		Use:   "compile MODEL.onnx",
		Short: "Compile an ONNX model into a WebAssembly module",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := cf.options()
			if err != nil {
				return err
			}
			res, err := mlc.CompileFile(args[0], o)
			if err != nil {
				return err
			}
			if out == "" {
				out = strings.TrimSuffix(filepath.Base(args[0]), filepath.Ext(args[0])) + ".wasm"
			}
			if err := os.WriteFile(out, res.Wasm, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d bytes, %d KiB memory)\n", out, len(res.Wasm), res.Meta.MemoryBytes/1024)
			return nil
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVarP(&out, "output", "o", "", "output file (default: the model's name with .wasm)")
	return cmd
}
