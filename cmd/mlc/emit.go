package main

import (
	"fmt"
	"io"
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

func (e *emitFlags) js() bool { return e.kind == "js" }

// check refuses flag combinations before anything is compiled.
func (e *emitFlags) check(out string) error {
	switch {
	case e.kind != "wasm" && e.kind != "js":
		return usageErrorf("--emit %q: want wasm or js", e.kind)
	case e.kind == "wasm" && e.runtime != "":
		return usageErrorf("--js-runtime needs --emit js")
	case e.kind == "js" && out == "-":
		return usageErrorf("--emit js writes several files into a folder: -o - is not possible")
	}
	return nil
}

// writeJS writes the module and its bindings into the folder out (default
// ".") and returns the module's path.
func (e *emitFlags) writeJS(w io.Writer, model, out string, res *mlc.Result) (string, error) {
	name := strings.TrimSuffix(filepath.Base(model), filepath.Ext(model))
	if out == "" {
		out = "."
	}
	if name == "model" {
		// model.onnx in a folder named after the model (the ONNX test layout).
		if abs, err := filepath.Abs(model); err == nil {
			name = filepath.Base(filepath.Dir(abs))
		}
	}
	if model == "-" {
		name = "model"
	}
	files, err := jsshim.WriteBindings(out, res.Wasm, jsshim.BindingOptions{Name: name, Runtime: e.runtime})
	if err != nil {
		return "", ioError(err)
	}
	fmt.Fprintf(w, "wrote %s (%d bytes, %d KiB memory) and its bindings: %s\n", files[0], len(res.Wasm), res.Meta.MemoryBytes/1024, strings.Join(files[1:], ", "))
	return files[0], nil
}
