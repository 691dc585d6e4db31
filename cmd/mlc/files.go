package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/npy"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
)

// readModelArg reads a model argument: a file, or stdin for "-". dir is
// where its external data files are.
func readModelArg(cmd *cobra.Command, arg string) (data []byte, dir string, err error) {
	if arg == "-" {
		data, err = io.ReadAll(cmd.InOrStdin())
		if err != nil {
			return nil, "", ioError(fmt.Errorf("reading stdin: %w", err))
		}
		return data, ".", nil
	}
	data, err = os.ReadFile(arg)
	if err != nil {
		return nil, "", ioError(err)
	}
	return data, filepath.Dir(arg), nil
}

// loadWasm reads a module argument, or compiles a model argument in memory
// with the flags (a model is anything that is not a WebAssembly module).
func loadWasm(cmd *cobra.Command, arg string, cf *compileFlags) ([]byte, error) {
	data, dir, err := readModelArg(cmd, arg)
	if err != nil || isWasm(data) {
		return data, err
	}
	o, err := cf.options()
	if err != nil {
		return nil, err
	}
	res, err := mlc.Compile(data, dir, o)
	if err != nil {
		return nil, modelError(err)
	}
	return res.Wasm, nil
}

func writeFile(path string, data []byte) error {
	return ioError(os.WriteFile(path, data, 0o644))
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
		return nil, nil, modelError(err)
	}
	return m, func() { rt.Close(ctx) }, nil
}

// readTensor reads one tensor from a .npy file, an .npz archive holding
// one array, or a serialized ONNX TensorProto (.pb, or any other name).
func readTensor(path string) (*ir.Tensor, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npy":
		t, err := npy.ReadFile(path)
		if err != nil {
			return nil, fileError(err)
		}
		return irTensor(path, t)
	case ".npz":
		entries, err := npy.ReadNPZFile(path)
		if err != nil {
			return nil, fileError(err)
		}
		if len(entries) != 1 {
			return nil, usageErrorf("%s holds %d arrays: give it as --input FILE.npz to feed inputs by name, or NAME=FILE with a one-array archive", path, len(entries))
		}
		return irTensor(path, entries[0].Tensor)
	}
	t, _, err := frontend.ReadTensorFile(path)
	if err != nil {
		return nil, fileError(err)
	}
	return t, nil
}

// fileError classifies an error reading a data file: unreadable is I/O,
// unparsable is a usage error (the wrong file was given).
func fileError(err error) error {
	if isIOError(err) {
		return ioError(err)
	}
	return withCode(exitUsage, err)
}

func irTensor(path string, t *host.Tensor) (*ir.Tensor, error) {
	x, err := hostir.FromHost(t)
	if err != nil {
		return nil, usageErrorf("%s: %v", path, err)
	}
	return x, nil
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
