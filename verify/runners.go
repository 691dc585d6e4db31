package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"

	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
	jsshim "github.com/mlc-compiler/mlc/runtime-shim/js"
)

// WazeroRunner runs modules in-process on wazero.
type WazeroRunner struct{ RT *host.Runtime }

// NewWazeroRunner starts a wazero runtime whose runs stop when their
// context is cancelled (a case that hangs must not stop the others).
func NewWazeroRunner(ctx context.Context) (*WazeroRunner, error) {
	rt, err := host.NewRuntime(ctx, host.Config{Cancellable: true})
	if err != nil {
		return nil, err
	}
	return &WazeroRunner{RT: rt}, nil
}

func (w *WazeroRunner) Run(ctx context.Context, wasm []byte, sets []map[string]*ir.Tensor) ([]map[string]*ir.Tensor, error) {
	m, err := w.RT.Load(ctx, wasm)
	if err != nil {
		return nil, err
	}
	defer m.Close(ctx)
	var out []map[string]*ir.Tensor
	for _, s := range sets {
		r, err := hostir.Run(ctx, m, s)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// NodeRunner runs modules through the JS shim in a Node process.
type NodeRunner struct {
	Node string // the node binary
	// Threads caps a threaded module's threads (0: the runtime's default,
	// the machine's).
	Threads int
	dir     string // the shim files, written once
}

// NewNodeRunner finds node and writes the embedded shim to a temp folder.
func NewNodeRunner() (*NodeRunner, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("--runtime node needs Node.js on PATH: %w", err)
	}
	dir, err := os.MkdirTemp("", "mlc-js-")
	if err != nil {
		return nil, err
	}
	if err := WriteShim(dir); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &NodeRunner{Node: node, dir: dir}, nil
}

// WriteShim copies the embedded JS shim files into dir.
func WriteShim(dir string) error {
	return fs.WalkDir(jsshim.Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := jsshim.Files.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, p), b, 0o644)
	})
}

// Close removes the shim files.
func (r *NodeRunner) Close() { os.RemoveAll(r.dir) }

func (r *NodeRunner) Run(ctx context.Context, wasm []byte, sets []map[string]*ir.Tensor) ([]map[string]*ir.Tensor, error) {
	meta, err := abi.Read(wasm)
	if err != nil {
		return nil, err
	}
	job, err := os.MkdirTemp("", "mlc-job-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(job)
	if err := os.WriteFile(filepath.Join(job, "m.wasm"), wasm, 0o644); err != nil {
		return nil, err
	}
	type jobSet struct {
		Inputs  map[string]string `json:"inputs"`
		Outputs map[string]string `json:"outputs"`
	}
	spec := struct {
		Module  string   `json:"module"`
		Threads int      `json:"threads,omitempty"`
		Sets    []jobSet `json:"sets"`
	}{Module: "m.wasm", Threads: r.Threads}
	for si, s := range sets {
		js := jobSet{Inputs: map[string]string{}, Outputs: map[string]string{}}
		for i, t := range meta.Inputs {
			v, ok := s[t.Name]
			if !ok {
				return nil, fmt.Errorf("missing input %q", t.Name)
			}
			if err := host.CheckInput(t, hostir.ToHost(v)); err != nil {
				return nil, err
			}
			name := fmt.Sprintf("in_%d_%d.bin", si, i)
			js.Inputs[t.Name] = name
			if err := os.WriteFile(filepath.Join(job, name), v.Data, 0o644); err != nil {
				return nil, err
			}
		}
		for i, t := range meta.Outputs {
			js.Outputs[t.Name] = fmt.Sprintf("out_%d_%d.bin", si, i)
		}
		spec.Sets = append(spec.Sets, js)
	}
	b, _ := json.Marshal(spec)
	if err := os.WriteFile(filepath.Join(job, "job.json"), b, 0o644); err != nil {
		return nil, err
	}
	var flags []string
	if slices.Contains(meta.Options, "relaxed-simd") {
		// Node 20 has relaxed SIMD behind a flag (on by default from V8 11.4).
		flags = append(flags, "--experimental-wasm-relaxed-simd")
	}
	cmd := exec.CommandContext(ctx, r.Node, append(flags, filepath.Join(r.dir, "runner.mjs"), job)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("node: %v: %s", err, out)
	}
	var res []map[string]*ir.Tensor
	for si := range sets {
		m := map[string]*ir.Tensor{}
		for _, t := range meta.Outputs {
			data, err := os.ReadFile(filepath.Join(job, spec.Sets[si].Outputs[t.Name]))
			if err != nil {
				return nil, err
			}
			dt, _ := ir.ParseDType(t.DType)
			v, err := ir.TensorFromBytes(dt, ir.Shape(t.Shape), data)
			if err != nil {
				return nil, err
			}
			m[t.Name] = v
		}
		res = append(res, m)
	}
	return res, nil
}
