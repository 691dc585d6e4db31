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
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/mlc-compiler/mlc/abi"
)

// Runtime owns a wazero runtime with WASI; one Runtime can load many models.
type Runtime struct {
	rt      wazero.Runtime
	threads int
}

// Config selects the wazero engine.
type Config struct {
	Interpreter bool // wazero's interpreter instead of its compiler
	// Cancellable lets a cancelled context stop a running module (verify's
	// per-case timeout). wazero then checks for cancellation on every loop
	// back-edge, which makes kernels several times slower: leave it off
	// where speed matters (run, bench).
	Cancellable bool
	// Threads caps the threads a threaded module (ABI v2 and v3, mlc compile
	// --threads N) runs on: the calling goroutine plus Threads-1 worker
	// goroutines. 0 means as many as the module allows and the machine
	// has CPUs; 1 runs it on the calling goroutine alone.
	Threads int
}

// NewRuntime starts a wazero runtime with the WASI imports mlc modules use.
func NewRuntime(ctx context.Context, cfg Config) (*Runtime, error) {
	rc := wazero.NewRuntimeConfig()
	if cfg.Interpreter {
		rc = wazero.NewRuntimeConfigInterpreter()
	}
	// Threads (shared memory, atomics) for ABI v2 and v3 modules; other modules
	// use none of it.
	rc = rc.WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesThreads)
	rt := wazero.NewRuntimeWithConfig(ctx, rc.WithCloseOnContextDone(cfg.Cancellable))
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, err
	}
	return &Runtime{rt: rt, threads: cfg.Threads}, nil
}

// Close releases the runtime and every model loaded from it.
func (r *Runtime) Close(ctx context.Context) error { return r.rt.Close(ctx) }

// Model is one instantiated module (with its workers, for a threaded one).
type Model struct {
	Meta *abi.Metadata
	mod  api.Module
	run  api.Function
	mem  api.Memory

	// A threaded module's shared memory (its own module), the workers'
	// instances, and the goroutines running mlc_worker on them.
	memMod  api.Module
	workers []api.Module
	wg      sync.WaitGroup
	errs    chan error
}

// Load compiles and instantiates module bytes without running _start. A
// threaded module (ABI v2 or v3) gets its shared memory and its worker
// goroutines (Config.Threads), which sleep until mlc_run hands out work
// and end with Close.
func (r *Runtime) Load(ctx context.Context, wasm []byte) (*Model, error) {
	meta, err := abi.Read(wasm)
	if err != nil {
		return nil, err
	}
	cm, err := r.rt.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("compiling module: %w", err)
	}
	m := &Model{Meta: meta}
	ictx := ctx
	if abi.Threaded(meta.ABI) {
		pages, err := sharedPages(meta, cm.ImportedMemories())
		if err != nil {
			return nil, err
		}
		if m.memMod, err = r.sharedMemory(ctx, pages); err != nil {
			return nil, err
		}
		ictx = withMemory(ctx, m.memMod)
	}
	cfg := moduleConfig()
	mod, err := r.rt.InstantiateModule(ictx, cm, cfg)
	if err != nil {
		m.Close(ctx)
		return nil, fmt.Errorf("instantiating module: %w", err)
	}
	m.mod, m.run, m.mem = mod, mod.ExportedFunction(abi.ExportRun), mod.Memory()
	if m.run == nil || m.mem == nil {
		m.Close(ctx)
		return nil, fmt.Errorf("module does not export %s and memory", abi.ExportRun)
	}
	// Offsets and sizes are trusted below only once they fit the memory.
	if err := meta.Validate(uint64(m.mem.Size())); err != nil {
		m.Close(ctx)
		return nil, err
	}
	if abi.Threaded(meta.ABI) {
		if err := m.startWorkers(ictx, r, cm, r.workers(meta)); err != nil {
			m.Close(ctx)
			return nil, err
		}
	}
	return m, nil
}

// workers is how many worker goroutines a threaded module gets.
func (r *Runtime) workers(meta *abi.Metadata) int {
	n := r.threads
	if n <= 0 {
		n = runtime.NumCPU()
	}
	return max(0, min(n, meta.Threads)-1)
}

// sharedPages is the size in pages of a threaded module's shared memory,
// which the host creates from the metadata before the module exists: the
// metadata is validated first against the memory it asks for (at most
// Wasm32's 4 GiB, every tensor inside it), and that memory must be one the
// module's memory import accepts (imported: its declared limits; nil when
// the caller has not compiled the module), so that a hostile memory_bytes
// cannot choose the allocation.
func sharedPages(meta *abi.Metadata, imported []api.MemoryDefinition) (int, error) {
	pages := meta.Pages()
	if err := meta.Validate(uint64(pages) * 65536); err != nil {
		return 0, err
	}
	if imported == nil {
		return pages, nil
	}
	if len(imported) != 1 {
		return 0, fmt.Errorf("mlc metadata: ABI %d, but the module imports %d memories (want %s.%s)", meta.ABI, len(imported), abi.MemoryModule, abi.MemoryName)
	}
	lo := imported[0].Min()
	hi, hasMax := imported[0].Max()
	if uint32(pages) < lo || (hasMax && uint32(pages) > hi) {
		return 0, fmt.Errorf("mlc metadata: memory_bytes %d (%d pages), but the module's memory import takes %d to %d pages", meta.MemoryBytes, pages, lo, hi)
	}
	return pages, nil
}

// sharedMemory instantiates a module of its own holding a threaded
// module's memory: wazero creates memories only by instantiating a module
// that defines one.
func (r *Runtime) sharedMemory(ctx context.Context, pages int) (api.Module, error) {
	mod, err := r.rt.Instantiate(ctx, sharedMemoryModule(uint32(pages)))
	if err != nil {
		return nil, fmt.Errorf("creating the shared memory: %w", err)
	}
	return mod, nil
}

// sharedMemoryModule is (module (memory (export "memory") pages pages shared)).
func sharedMemoryModule(pages uint32) []byte {
	limits := append([]byte{0x03}, uleb(pages)...)
	limits = append(limits, uleb(pages)...)
	mem := append([]byte{1}, limits...)
	exp := append([]byte{1, byte(len(abi.MemoryName))}, abi.MemoryName...)
	exp = append(exp, 0x02, 0)
	b := []byte("\x00asm\x01\x00\x00\x00")
	b = append(b, 5)
	b = append(b, uleb(uint32(len(mem)))...)
	b = append(b, mem...)
	b = append(b, 7)
	b = append(b, uleb(uint32(len(exp)))...)
	return append(b, exp...)
}

func uleb(v uint32) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// withMemory makes the instantiations under ctx import mem as the threaded
// module's memory (each model has its own, so the name cannot come from
// the runtime's namespace).
func withMemory(ctx context.Context, mem api.Module) context.Context {
	return experimental.WithImportResolver(ctx, func(name string) api.Module {
		if name == abi.MemoryModule {
			return mem
		}
		return nil
	})
}

// moduleConfig is an anonymous instance (many models may share one
// runtime) on the real monotonic clock: a threaded module (ABI 3) times
// the nodes it splits with clock_time_get, and wazero's default clock is a
// fake one.
func moduleConfig() wazero.ModuleConfig {
	return wazero.NewModuleConfig().WithStartFunctions().WithName("").WithSysNanotime()
}

// startWorkers instantiates n more instances on the shared memory and runs
// mlc_worker(1..n) on each in a goroutine of its own.
func (m *Model) startWorkers(ctx context.Context, r *Runtime, cm wazero.CompiledModule, n int) error {
	m.errs = make(chan error, n)
	for id := 1; id <= n; id++ {
		w, err := r.rt.InstantiateModule(ctx, cm, moduleConfig())
		if err != nil {
			return fmt.Errorf("instantiating worker %d: %w", id, err)
		}
		m.workers = append(m.workers, w)
		fn := w.ExportedFunction(abi.ExportWorker)
		if fn == nil {
			return fmt.Errorf("threaded module does not export %s", abi.ExportWorker)
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			// The worker's own context: a cancelled Load context must not
			// stop it (Close does).
			res, err := fn.Call(context.WithoutCancel(ctx), uint64(id))
			switch {
			case err != nil:
				m.errs <- fmt.Errorf("worker %d: %w", id, err)
			case res[0] != abi.WorkerStopped:
				m.errs <- fmt.Errorf("worker %d: %s returned %d", id, abi.ExportWorker, res[0])
			}
		}()
	}
	return nil
}

// Threads is the number of threads the model runs on: 1 for a
// single-threaded module, else the calling goroutine and its workers.
func (m *Model) Threads() int { return 1 + len(m.workers) }

// Close stops a threaded module's workers and releases the instances.
func (m *Model) Close(ctx context.Context) error {
	var err error
	if len(m.workers) > 0 && m.mod != nil {
		if stop := m.mod.ExportedFunction(abi.ExportStop); stop != nil {
			_, err = stop.Call(ctx)
		}
		m.wg.Wait()
		close(m.errs)
		for e := range m.errs {
			if err == nil {
				err = e
			}
		}
	}
	for _, w := range m.workers {
		w.Close(ctx)
	}
	if m.mod != nil {
		if e := m.mod.Close(ctx); err == nil {
			err = e
		}
	}
	if m.memMod != nil {
		m.memMod.Close(ctx)
	}
	return err
}

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
	cfg := wazero.NewModuleConfig().WithStdin(bytes.NewReader(stdin)).WithStdout(&out).WithStderr(&errb).WithName("").WithSysNanotime()
	ictx := ctx
	// A threaded module runs as a command on one thread: it gets its
	// memory, and no workers.
	if meta, merr := abi.Read(wasm); merr == nil && abi.Threaded(meta.ABI) {
		pages, err := sharedPages(meta, nil)
		if err != nil {
			return nil, nil, 0, err
		}
		mem, err := r.sharedMemory(ctx, pages)
		if err != nil {
			return nil, nil, 0, err
		}
		defer mem.Close(ctx)
		ictx = withMemory(ctx, mem)
	}
	mod, err := r.rt.InstantiateWithConfig(ictx, wasm, cfg)
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
