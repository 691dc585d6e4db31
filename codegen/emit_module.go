// Package codegen turns an optimized, memory-planned ir.Graph into one Wasm
// module: a function per node (from the kernel of its op family), mlc_run
// calling them in order, the WASI entry point, the weights in data
// segments and the ABI metadata.
package codegen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/tetratelabs/wabin/leb128"
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/memplan"
)

// Options steer code generation.
type Options struct {
	SIMD        bool
	Producer    string
	ModelSHA256 string
	Flags       []string // recorded in the metadata
	// Profile adds the per-node entry point mlc_profile_node and the
	// "mlc.profile" custom section naming the nodes (see docs/design.md).
	Profile bool
	// Tune picks the code shape for an engine: tune.V8, tune.Wazero or
	// tune.Generic (see docs/design.md).
	Tune string
	// Threads > 1 makes a threaded module (ABI v3, emit_threads.go): a shared
	// memory imported, heavy loops handed out to up to Threads-1 workers.
	Threads int
	// ParallelAll (tests) hands out every parallel loop of a threaded
	// module however short, in as many chunks as it allows, so that small
	// test cases exercise the parallel code.
	ParallelAll bool
	// RelaxedSIMD uses relaxed_madd in the multiply-add kernels (math_relaxed.go).
	RelaxedSIMD bool
	// MaxLoopIterations bounds the Loop iterations of one mlc_run, all
	// Loops together (nested ones included): past it mlc_run returns
	// abi.ErrLoopLimit instead of running on. 0 means
	// abi.DefaultMaxLoopIterations.
	MaxLoopIterations int64
}

// module assembles the Wasm module.
type module struct {
	m       *wasm.Module
	opts    Options
	plan    *memplan.Plan
	imports int
	funcs   []*asm.Func
	names   []string
	helpers map[string]uint32
	types   map[string]uint32
	// staticData holds non-tensor bytes (the WASI entry's messages).
	staticData []dataSeg
	// tables are read-only kernel data (lookup tables) placed after the
	// planned memory; tableAddr finds one by key, tableEnd is the first
	// byte after them.
	tables    []dataSeg
	tableAddr map[string]int
	tableEnd  int
	// th is set in threaded modules (Options.Threads > 1).
	th *threading
	// lazy maps the outputs of the main graph's lazy nodes (ir.Node.Lazy)
	// to them: their reader computes them (convPieces).
	lazy map[*ir.Value]*ir.Node
	// loopBudget is the index of the global counting down the Loop
	// iterations mlc_run may still run (hasLoopBudget: Loop kernels use it).
	loopBudget    uint32
	hasLoopBudget bool
}

type dataSeg struct {
	off  int
	data []byte
}

// WASI imports, in function index order.
const (
	fnFdRead = iota
	fnFdWrite
	fnProcExit
	numImports
)

func newModule(plan *memplan.Plan, opts Options) *module {
	md := &module{m: &wasm.Module{}, opts: opts, plan: plan, helpers: map[string]uint32{}, types: map[string]uint32{},
		tableAddr: map[string]int{}, tableEnd: plan.MemoryBytes}
	i32 := []wasm.ValueType{asm.I32}
	imp := func(name string, params, results []wasm.ValueType) {
		md.m.ImportSection = append(md.m.ImportSection, &wasm.Import{
			Type: wasm.ExternTypeFunc, Module: abi.WASIModule, Name: name, DescFunc: md.typeIndex(params, results),
		})
	}
	imp("fd_read", []wasm.ValueType{asm.I32, asm.I32, asm.I32, asm.I32}, i32)
	imp("fd_write", []wasm.ValueType{asm.I32, asm.I32, asm.I32, asm.I32}, i32)
	imp("proc_exit", i32, nil)
	md.imports = numImports
	md.setupThreads()
	return md
}

func (md *module) typeIndex(params, results []wasm.ValueType) uint32 {
	key := fmt.Sprint(params, results)
	if i, ok := md.types[key]; ok {
		return i
	}
	i := uint32(len(md.m.TypeSection))
	md.m.TypeSection = append(md.m.TypeSection, &wasm.FunctionType{Params: params, Results: results})
	md.types[key] = i
	return i
}

// addFunc appends a finished function and returns its index.
func (md *module) addFunc(name string, f *asm.Func) uint32 {
	md.funcs = append(md.funcs, f)
	md.names = append(md.names, name)
	return uint32(md.imports + len(md.funcs) - 1)
}

// helper returns the index of a shared function, building it on first use.
// The index is reserved before build runs so that helpers may recurse into
// other helpers.
func (md *module) helper(name string, params, results []wasm.ValueType, build func(f *asm.Func)) uint32 {
	if i, ok := md.helpers[name]; ok {
		return i
	}
	f := asm.NewFunc(params, results)
	idx := md.addFunc(name, f)
	md.helpers[name] = idx
	build(f)
	return idx
}

// table returns the address of read-only data shared by kernels, adding it
// after the planned memory on first use of key. Tables are 16-byte aligned
// and never written, so the memory plan need not know them.
func (md *module) table(key string, data []byte) int32 {
	if a, ok := md.tableAddr[key]; ok {
		return int32(a)
	}
	a := (md.tableEnd + 15) &^ 15
	md.tableAddr[key] = a
	md.tables = append(md.tables, dataSeg{a, append([]byte{}, data...)})
	md.tableEnd = a + len(data)
	return int32(a)
}

// maxLoopIterations is the bound of Options.MaxLoopIterations in effect.
func (md *module) maxLoopIterations() int64 {
	if md.opts.MaxLoopIterations > 0 {
		return md.opts.MaxLoopIterations
	}
	return abi.DefaultMaxLoopIterations
}

// loopBudgetGlobal returns the index of the mutable i64 global holding the
// Loop iterations left, adding it on first use.
func (md *module) loopBudgetGlobal() uint32 {
	if !md.hasLoopBudget {
		md.hasLoopBudget = true
		md.loopBudget = uint32(len(md.m.GlobalSection))
		md.m.GlobalSection = append(md.m.GlobalSection, &wasm.Global{
			Type: &wasm.GlobalType{ValType: asm.I64, Mutable: true},
			Init: &wasm.ConstantExpression{Opcode: wasm.OpcodeI64Const, Data: leb128.EncodeInt64(md.maxLoopIterations())},
		})
	}
	return md.loopBudget
}

// resetLoopBudget emits the start of a run: the full Loop budget again
// (nothing in modules without Loops).
func (md *module) resetLoopBudget(f *asm.Func) {
	if md.hasLoopBudget {
		f.I64Const(md.maxLoopIterations()).GlobalSet(md.loopBudget)
	}
}

// builtHook, when a test sets it, sees every module BuildTo builds once
// its functions are complete.
var builtHook func(*module)

// Build generates the module.
func Build(g *ir.Graph, plan *memplan.Plan, opts Options) ([]byte, error) {
	var b bytes.Buffer
	if _, err := BuildTo(&b, g, plan, opts); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// BuildTo generates the module into w, writing the weights from the
// graph's constants without a copy of the whole module in memory, and
// returns its metadata.
func BuildTo(w io.Writer, g *ir.Graph, plan *memplan.Plan, opts Options) (*abi.Metadata, error) {
	md := newModule(plan, opts)
	md.lazy = g.LazyProducers()
	var nodeFuncs, onceFuncs []uint32
	var profiled []ProfileNode
	for i, n := range g.Nodes {
		idx, err := md.nodeFunc(n, nodeFuncName("", i, n))
		if err != nil {
			return nil, err
		}
		switch {
		case idx < 0:
		case plan.Once[n]:
			onceFuncs = append(onceFuncs, uint32(idx))
		default:
			nodeFuncs = append(nodeFuncs, uint32(idx))
			profiled = append(profiled, profileNode(n, md.names[int(idx)-md.imports]))
		}
	}
	meta := md.metadata(g)
	passive := md.constSegments()
	init := md.addFunc("mlc_init", initFunc(passive, int32(plan.DataFlag), onceFuncs, int32(plan.OnceFlag)))
	run := md.addFunc(abi.ExportRun, md.runFunc(nodeFuncs, init))
	start := md.addFunc("_start", md.startFunc(meta, run))
	var profileFn uint32
	if opts.Profile {
		profileFn = md.addFunc(ExportProfileNode, md.profileFunc(nodeFuncs, init))
	}

	if builtHook != nil {
		builtHook(md)
	}
	if md.tableEnd > 65536*65536 {
		return nil, fmt.Errorf("the model needs %d bytes of memory, more than a Wasm32 memory's 4 GiB", md.tableEnd)
	}
	pages := uint32((md.tableEnd + 65535) / 65536)
	pages = max(pages, 1)
	var worker, stop uint32
	if md.threaded() {
		worker, stop = md.finishThreads(pages)
	} else {
		md.m.MemorySection = &wasm.Memory{Min: pages, Max: pages, IsMaxEncoded: true}
	}
	for _, f := range md.funcs {
		md.m.FunctionSection = append(md.m.FunctionSection, md.typeIndex(f.Params, f.Results))
		md.m.CodeSection = append(md.m.CodeSection, f.Code())
	}
	md.m.ExportSection = []*wasm.Export{
		{Type: wasm.ExternTypeMemory, Name: "memory", Index: 0},
		{Type: wasm.ExternTypeFunc, Name: "_start", Index: start},
		{Type: wasm.ExternTypeFunc, Name: abi.ExportRun, Index: run},
	}
	if opts.Profile {
		md.m.ExportSection = append(md.m.ExportSection, &wasm.Export{Type: wasm.ExternTypeFunc, Name: ExportProfileNode, Index: profileFn})
	}
	if md.threaded() {
		md.m.ExportSection = append(md.m.ExportSection,
			&wasm.Export{Type: wasm.ExternTypeFunc, Name: ExportWorker, Index: worker},
			&wasm.Export{Type: wasm.ExternTypeFunc, Name: ExportStop, Index: stop})
	}
	names := &wasm.NameSection{}
	for i, n := range md.names {
		names.FunctionNames = append(names.FunctionNames, &wasm.NameAssoc{Index: uint32(md.imports + i), Name: n})
	}
	md.m.NameSection = names
	js, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	md.m.CustomSections = append(md.m.CustomSections, &wasm.CustomSection{Name: abi.SectionName, Data: js})
	if len(passive) > 0 {
		md.m.CustomSections = append(md.m.CustomSections, &wasm.CustomSection{Name: DataSection, Data: dataLayout(passive, plan.DataFlag)})
	}
	if opts.Profile {
		pj, err := json.Marshal(profiled)
		if err != nil {
			return nil, err
		}
		md.m.CustomSections = append(md.m.CustomSections, &wasm.CustomSection{Name: ProfileSection, Data: pj})
	}
	return meta, md.encode(w, passive, append(md.staticData, md.tables...))
}

// nodeFuncName names the function of node i of a graph; prefix is empty
// for the main graph and names the owning function and subgraph otherwise.
func nodeFuncName(prefix string, i int, n *ir.Node) string {
	name := fmt.Sprintf("%snode%d_%s", prefix, i, n.Op.OpType())
	if n.Name != "" {
		name += "_" + n.Name
	}
	return name
}

// nodeFunc generates the function of one node, or returns -1 for nodes
// that need no code (aliasing views). Nodes inside subgraphs get functions
// too: the kernel of the op owning the subgraph calls them (callGraph).
func (md *module) nodeFunc(n *ir.Node, name string) (idx int, err error) {
	defer func() {
		if r := recover(); r != nil {
			idx, err = 0, ir.Recovered(n, "", "code generation", r)
		}
	}()
	if _, ok := n.Op.(ir.Aliaser); ok || n.Lazy {
		return -1, nil
	}
	k := lookupKernel(n.Op)
	if k == nil {
		return 0, ir.Unsupportedf(n, "no Wasm kernel for %s", n.Op.OpType())
	}
	emit := func(ctx *Ctx) error {
		if err := k.Emit(ctx, n); err != nil {
			if ir.IsUnsupported(err) {
				var u *ir.Unsupported
				if asUnsupported(err, &u) {
					return err
				}
				return ir.Unsupportedf(n, "%v", err)
			}
			return fmt.Errorf("%s: code generation: %w", n.Label(), err)
		}
		ctx.F.I32Const(0)
		return nil
	}
	ctx := &Ctx{md: md, F: asm.NewFunc(nil, []wasm.ValueType{asm.I32}), Node: n, name: name}
	if err := emit(ctx); err != nil {
		return 0, err
	}
	if ctx.state != 0 {
		idx, err := md.nodeForms(ctx, emit)
		return int(idx), err
	}
	return int(md.addFunc(name, ctx.F)), nil
}

// initFunc brings memory to the state the nodes expect, on the first call
// only: the constants copied in from the passive segments (the i32 at
// dataFlag then becomes 1), then the functions of once called (the i32 at
// onceFlag then becomes 1). It returns the first non-zero status.
func initFunc(segs []*segment, dataFlag int32, once []uint32, onceFlag int32) *asm.Func {
	f := asm.NewFunc(nil, []wasm.ValueType{asm.I32})
	st := f.Local(asm.I32)
	initData(f, segs, dataFlag)
	if len(once) > 0 {
		f.I32Const(onceFlag).I32Load(0).Op(wasm.OpcodeI32Eqz).If()
		for _, idx := range once {
			f.Call(idx).Tee(st).If().Get(st).Return().End()
		}
		f.I32Const(onceFlag).I32Const(1).I32Store(0)
		f.End()
	}
	f.I32Const(0)
	return f
}

// runFunc calls init, then every node function, and stops at the first
// non-zero status. A run starts with the full Loop budget.
func (md *module) runFunc(nodes []uint32, init uint32) *asm.Func {
	f := asm.NewFunc(nil, []wasm.ValueType{asm.I32})
	st := f.Local(asm.I32)
	md.resetLoopBudget(f)
	f.Call(init).Tee(st).If().Get(st).Return().End()
	for _, idx := range nodes {
		f.Call(idx).Tee(st).If().Get(st).Return().End()
	}
	f.I32Const(0)
	return f
}

func tensorMeta(v *ir.Value, plan *memplan.Plan) abi.Tensor {
	shape := append([]int{}, v.Type.Shape...)
	return abi.Tensor{Name: v.Name, DType: v.Type.DType.String(), Shape: shape, Offset: plan.Addr(v), Bytes: v.Type.Bytes()}
}

func (md *module) metadata(g *ir.Graph) *abi.Metadata {
	m := &abi.Metadata{
		ABI: abi.Version, Producer: md.opts.Producer, ModelSHA256: md.opts.ModelSHA256,
		MemoryBytes: md.tableEnd, SIMD: md.opts.SIMD, Options: md.opts.Flags,
		Inputs: []abi.Tensor{}, Outputs: []abi.Tensor{}, RunErrors: abi.RunErrorMessages,
	}
	if md.threaded() {
		m.ABI, m.Threads = abi.VersionTimedThreads, md.th.n
	}
	for _, v := range g.Inputs {
		m.Inputs = append(m.Inputs, tensorMeta(v, md.plan))
	}
	for _, v := range g.Outputs {
		m.Outputs = append(m.Outputs, tensorMeta(v, md.plan))
	}
	for _, n := range g.Nodes {
		if _, ok := n.Op.(*ir.CheckEqual); ok {
			m.FixedInputs = append(m.FixedInputs, n.Inputs[0].Name)
		}
	}
	return m
}

func i32leb(v int32) []byte { return leb128.EncodeInt32(v) }
