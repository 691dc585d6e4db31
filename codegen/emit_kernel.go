package codegen

import (
	"errors"
	"reflect"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// A kernel emits the body of one node's function. Each op family registers
// its kernel from init in its own file, keyed by the op's Go type.
type kernel struct {
	Emit      func(k *Ctx, n *ir.Node) error
	Workspace func(n *ir.Node) int // scratch bytes; nil for none
	// Scratch is scratch memory every thread of a split loop needs a copy
	// of (Span.Scratch), after Workspace's bytes; nil for none.
	Scratch func(n *ir.Node) int
}

var kernels = map[reflect.Type]*kernel{}

// registerKernel adds the kernel of op type T.
func registerKernel[T ir.Op](emit func(k *Ctx, n *ir.Node, op T) error) {
	t := reflect.TypeFor[T]()
	if kernels[t] == nil {
		kernels[t] = &kernel{}
	}
	if kernels[t].Emit != nil {
		panic("codegen: a second kernel for " + t.String())
	}
	kernels[t].Emit = func(k *Ctx, n *ir.Node) error { return emit(k, n, n.Op.(T)) }
}

// registerWorkspace declares the scratch memory of op type T's kernel.
func registerWorkspace[T ir.Op](ws func(n *ir.Node, op T) int) {
	t := reflect.TypeFor[T]()
	if kernels[t] == nil {
		kernels[t] = &kernel{}
	}
	if kernels[t].Workspace != nil {
		panic("codegen: a second workspace rule for " + t.String())
	}
	kernels[t].Workspace = func(n *ir.Node) int { return ws(n, n.Op.(T)) }
}

// registerScratch declares per-thread scratch memory of op type T's
// kernel: planned after the workspace as in a 1-thread module (thread 0's
// copy, Ctx.ScratchAddr); a threaded module keeps the other threads'
// copies after the planned memory (Span.Scratch).
func registerScratch[T ir.Op](ws func(n *ir.Node, op T) int) {
	t := reflect.TypeFor[T]()
	if kernels[t] == nil {
		kernels[t] = &kernel{}
	}
	kernels[t].Scratch = func(n *ir.Node) int { return ws(n, n.Op.(T)) }
}

func lookupKernel(op ir.Op) *kernel {
	k := kernels[reflect.TypeOf(op)]
	if k == nil || k.Emit == nil {
		return nil
	}
	return k
}

// Workspace is the scratch size n's kernel needs in a single-threaded
// module; the memory planner calls it.
func Workspace(n *ir.Node) int { return workspace(n) }

// WorkspaceFunc is Workspace for a module of this many threads: the same
// for any thread count, so that a threaded module's plan is the 1-thread
// module's; per-thread scratch beyond thread 0's copy lives after the
// planned memory (threading.extra).
func WorkspaceFunc(threads int) func(*ir.Node) int {
	return workspace
}

func workspace(n *ir.Node) int {
	k := kernels[reflect.TypeOf(n.Op)]
	if k == nil {
		return 0
	}
	ws := 0
	if k.Workspace != nil {
		ws = k.Workspace(n)
	}
	if k.Scratch != nil {
		ws += k.Scratch(n)
	}
	return ws
}

// scratchSize is n's per-thread scratch (16-byte aligned copies).
func scratchSize(n *ir.Node) int {
	if k := kernels[reflect.TypeOf(n.Op)]; k != nil && k.Scratch != nil {
		return alignUp(k.Scratch(n), 16)
	}
	return 0
}

// Ctx is what a kernel sees: the function being built, the node, and the
// module's addresses and shared helpers.
type Ctx struct {
	md   *module
	F    *asm.Func
	Node *ir.Node
	name string // of the function, to name the functions of subgraph nodes

	// Threaded modules (nodeForms): alone emits the node's single-threaded
	// form (no loop splits); state is the node's run-time state, reserved
	// once the node splits a loop.
	alone bool
	state int32
	// inPar: a parallel loop's body (Parallel) is being emitted.
	inPar bool
	// bandWords: a threaded Winograd node's band words (winogradBandWords).
	bandWords int32
}

// Addr is the memory address of a value.
func (k *Ctx) Addr(v *ir.Value) int32 { return int32(k.md.plan.Addr(v)) }

// In and Out give the node's i-th input and output values.
func (k *Ctx) In(i int) *ir.Value  { return k.Node.In(i) }
func (k *Ctx) Out(i int) *ir.Value { return k.Node.Outputs[i] }

// ValueAt is a value of type t at byte address addr that the plan does not
// know: a view of another buffer or data in the workspace, for a kernel
// that runs another kernel on it.
func (k *Ctx) ValueAt(name string, t ir.Type, addr int32) *ir.Value {
	v := &ir.Value{Name: name, Type: t}
	k.md.plan.Offsets[v] = int(addr)
	return v
}

// WorkspaceAddr is the address of the node's scratch memory.
func (k *Ctx) WorkspaceAddr() int32 { return int32(k.md.plan.Workspace[k.Node]) }

// ScratchAddr is the address of the main thread's copy of the node's
// per-thread scratch (registerScratch), after the workspace, and the size
// of a copy; Span.Scratch gives each thread its own.
func (k *Ctx) ScratchAddr() (addr int32, size int) {
	ws := 0
	if kn := kernels[reflect.TypeOf(k.Node.Op)]; kn != nil && kn.Workspace != nil {
		ws = kn.Workspace(k.Node)
	}
	return k.WorkspaceAddr() + int32(ws), scratchSize(k.Node)
}

// SIMD reports whether SIMD128 code may be emitted.
func (k *Ctx) SIMD() bool { return k.md.opts.SIMD }

// Helper returns a shared function, building it on first use.
func (k *Ctx) Helper(name string, params, results []wasm.ValueType, build func(f *asm.Func)) uint32 {
	return k.md.helper(name, params, results, build)
}

// Table returns the address of constant data the kernel reads (a lookup
// table). Data is stored once per key, so key must identify its contents,
// e.g. "f8e4m3fn_decode". Tables sit after the planned memory, in data
// segments; kernels must never write them.
func (k *Ctx) Table(key string, data []byte) int32 { return k.md.table(key, data) }

// Fail makes the node function return a non-zero mlc_run status when the
// i32 on top of the stack is non-zero.
func (k *Ctx) Fail(code int32) {
	k.F.If().I32Const(code).Return().End()
}

func asUnsupported(err error, u **ir.Unsupported) bool { return errors.As(err, u) }
