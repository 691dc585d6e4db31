package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlc-compiler/mlc"
	jsshim "github.com/mlc-compiler/mlc/runtime-shim/js"
)

// emitFlags choose what `mlc compile` writes: the module alone, or the
// module with typed JavaScript bindings (jsshim.WriteBindings).
type emitFlags struct {
	kind, runtime string
}

func (e *emitFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&e.kind, "emit", "wasm", "what to write: wasm (the module) or js (into the -o folder: NAME.wasm, NAME.mjs and NAME.d.mts typed from the module's metadata, and the runtime beside them; NAME is the model file's name, or its folder's for model.onnx)")
	cmd.Flags().StringVar(&e.runtime, "js-runtime", "", "with --emit js: import the runtime from this module specifier (e.g. @mlc-compiler/runtime) instead of copying it beside the bindings")
}

func (e *emitFlags) write(w io.Writer, model, out string, res *mlc.Result) error {
	name := strings.TrimSuffix(filepath.Base(model), filepath.Ext(model))
	switch e.kind {
	case "wasm":
		if e.runtime != "" {
			return fmt.Errorf("--js-runtime needs --emit js")
		}
		if out == "" {
			out = name + ".wasm"
		}
		if err := os.WriteFile(out, res.Wasm, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(w, "wrote %s (%d bytes, %d KiB memory)\n", out, len(res.Wasm), res.Meta.MemoryBytes/1024)
		return nil
	case "js":
		if out == "" {
			out = "."
		}
		if name == "model" {
			// model.onnx in a folder named after the model (the ONNX test layout).
			if abs, err := filepath.Abs(model); err == nil {
				name = filepath.Base(filepath.Dir(abs))
			}
		}
		files, err := jsshim.WriteBindings(out, res.Wasm, jsshim.BindingOptions{Name: name, Runtime: e.runtime})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "wrote %s (%d bytes, %d KiB memory) and its bindings: %s\n", files[0], len(res.Wasm), res.Meta.MemoryBytes/1024, strings.Join(files[1:], ", "))
		return nil
	}
	return fmt.Errorf("--emit %q: want wasm or js", e.kind)
}
