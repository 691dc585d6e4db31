// Package host runs mlc modules on wazero: load module bytes, read the
// input/output metadata, and run with named tensors. It is what mlc run,
// verify and bench use; the JS shim in ../js does the same for Node and
// browsers.
//
// It depends on nothing of the compiler: its Tensor is its own small type
// (a numpy dtype name, a shape, little-endian bytes), so a program that
// only runs modules imports this package, package abi and wazero.
package host

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/mlc-compiler/mlc/abi"
)

// Runtime owns a wazero runtime with WASI; one Runtime can load many models.
type Runtime struct {
	rt wazero.Runtime
}

// Config selects the wazero engine.
type Config struct {
	Interpreter bool // wazero's interpreter instead of its compiler
	// Cancellable lets a cancelled context stop a running module (verify's
	// per-case timeout). wazero then checks for cancellation on every loop
	// back-edge, which makes kernels several times slower: leave it off
	// where speed matters (run, bench).
	Cancellable bool
}

// NewRuntime starts a wazero runtime with the WASI imports mlc modules use.
func NewRuntime(ctx context.Context, cfg Config) (*Runtime, error) {
	rc := wazero.NewRuntimeConfig()
	if cfg.Interpreter {
		rc = wazero.NewRuntimeConfigInterpreter()
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc.WithCloseOnContextDone(cfg.Cancellable))
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, err
	}
	return &Runtime{rt: rt}, nil
}

// Close releases the runtime and every model loaded from it.
func (r *Runtime) Close(ctx context.Context) error { return r.rt.Close(ctx) }

// Model is one instantiated module.
type Model struct {
	Meta *abi.Metadata
	mod  api.Module
	run  api.Function
	mem  api.Memory
}

// Load compiles and instantiates module bytes without running _start.
func (r *Runtime) Load(ctx context.Context, wasm []byte) (*Model, error) {
	meta, err := abi.Read(wasm)
	if err != nil {
		return nil, err
	}
	cm, err := r.rt.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("compiling module: %w", err)
	}
	// Anonymous instances: many models may share one runtime.
	cfg := wazero.NewModuleConfig().WithStartFunctions().WithName("")
	mod, err := r.rt.InstantiateModule(ctx, cm, cfg)
	if err != nil {
		return nil, fmt.Errorf("instantiating module: %w", err)
	}
	m := &Model{Meta: meta, mod: mod, run: mod.ExportedFunction(abi.ExportRun), mem: mod.Memory()}
	if m.run == nil || m.mem == nil {
		mod.Close(ctx)
		return nil, fmt.Errorf("module does not export %s and memory", abi.ExportRun)
	}
	// Offsets and sizes are trusted below only once they fit the memory.
	if err := meta.Validate(uint64(m.mem.Size())); err != nil {
		mod.Close(ctx)
		return nil, err
	}
	return m, nil
}

// Close releases the instance.
func (m *Model) Close(ctx context.Context) error { return m.mod.Close(ctx) }

// CheckInput validates a tensor against an input's metadata.
func CheckInput(t abi.Tensor, v *Tensor) error {
	if v.DType != t.DType {
		return fmt.Errorf("input %q must be %s, got %s", t.Name, t.DType, v.DType)
	}
	if !slices.Equal(v.Shape, t.Shape) {
		return fmt.Errorf("input %q must have shape %s, got %s", t.Name, ShapeString(t.Shape), ShapeString(v.Shape))
	}
	if len(v.Data) != t.Bytes {
		return fmt.Errorf("input %q must be %d bytes, got %d", t.Name, t.Bytes, len(v.Data))
	}
	return nil
}

// Run writes the inputs, calls mlc_run and reads the outputs. Every input
// must be given, with its exact dtype and shape.
func (m *Model) Run(ctx context.Context, inputs map[string]*Tensor) (map[string]*Tensor, error) {
	if err := m.SetInputs(inputs); err != nil {
		return nil, err
	}
	if err := m.Invoke(ctx); err != nil {
		return nil, err
	}
	return m.Outputs()
}

// SetInputs validates and writes inputs into memory.
func (m *Model) SetInputs(inputs map[string]*Tensor) error {
	for name := range inputs {
		if !hasTensor(m.Meta.Inputs, name) {
			return fmt.Errorf("model has no input %q (inputs: %s)", name, names(m.Meta.Inputs))
		}
	}
	for _, t := range m.Meta.Inputs {
		v, ok := inputs[t.Name]
		if !ok {
			return fmt.Errorf("missing input %q (%s%s)", t.Name, t.DType, ShapeString(t.Shape))
		}
		if err := CheckInput(t, v); err != nil {
			return err
		}
		if !m.mem.Write(uint32(t.Offset), v.Data) {
			return fmt.Errorf("input %q does not fit in memory", t.Name)
		}
	}
	return nil
}

// Invoke calls mlc_run once.
func (m *Model) Invoke(ctx context.Context) error {
	res, err := m.run.Call(ctx)
	if err != nil {
		return fmt.Errorf("mlc_run: %w", err)
	}
	if code := int32(res[0]); code != 0 {
		msg := m.Meta.RunErrors[fmt.Sprint(code)]
		if msg == "" {
			msg = "unknown error"
		}
		return fmt.Errorf("mlc_run returned %d: %s", code, msg)
	}
	return nil
}

// Outputs reads the outputs after a run. The tensors are copies: the next
// run does not change them.
func (m *Model) Outputs() (map[string]*Tensor, error) {
	out := map[string]*Tensor{}
	for _, t := range m.Meta.Outputs {
		v, err := Zeros(t.DType, t.Shape)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", t.Name, err)
		}
		data, ok := m.mem.Read(uint32(t.Offset), uint32(t.Bytes))
		if !ok {
			return nil, fmt.Errorf("output %q lies outside memory", t.Name)
		}
		if len(data) != len(v.Data) {
			return nil, fmt.Errorf("output %q: metadata says %d bytes, %s%s needs %d", t.Name, len(data), t.DType, ShapeString(t.Shape), len(v.Data))
		}
		copy(v.Data, data)
		out[t.Name] = v
	}
	return out, nil
}

func hasTensor(ts []abi.Tensor, name string) bool {
	for _, t := range ts {
		if t.Name == name {
			return true
		}
	}
	return false
}

func names(ts []abi.Tensor) string {
	var s []string
	for _, t := range ts {
		s = append(s, t.Name)
	}
	return strings.Join(s, ", ")
}

// RunCommand runs the module as a WASI command (its _start), feeding stdin
// and returning stdout, stderr and the exit code.
func (r *Runtime) RunCommand(ctx context.Context, wasm []byte, stdin []byte) (stdout, stderr []byte, exit uint32, err error) {
	var out, errb bytes.Buffer
	cfg := wazero.NewModuleConfig().WithStdin(bytes.NewReader(stdin)).WithStdout(&out).WithStderr(&errb).WithName("")
	mod, err := r.rt.InstantiateWithConfig(ctx, wasm, cfg)
	if mod != nil {
		mod.Close(ctx)
	}
	if err != nil {
		if ee, ok := err.(*sys.ExitError); ok {
			return out.Bytes(), errb.Bytes(), ee.ExitCode(), nil
		}
		return out.Bytes(), errb.Bytes(), 0, err
	}
	return out.Bytes(), errb.Bytes(), 0, nil
}

// Export returns an exported function of the instance by name, or nil (for
// optional exports such as a profiling build's mlc_profile_node).
func (m *Model) Export(name string) api.Function { return m.mod.ExportedFunction(name) }
