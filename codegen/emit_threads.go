package codegen

import (
	"encoding/binary"
	"fmt"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/codegen/asm"
)

// Threads (mlc compile --threads N, ABI v3; docs/abi.md, docs/design.md).
//
// A threaded module imports its memory (shared) instead of defining it, so
// that one host thread per worker can instantiate the same module on the
// same memory. The host calls mlc_run on one instance (the main thread);
// every other instance calls mlc_worker(id), which sleeps on an atomic
// word until the main thread publishes work. A kernel hands work out with
// Ctx.Parallel: the units of a loop whose iterations write disjoint
// outputs are cut into chunks, and every thread, the main one included,
// claims chunks until none is left; the main thread then sleeps until the
// chunks others claimed are done. Nobody spins: a thread with nothing to do
// waits in memory.atomic.wait32, and a host that starts no workers gets the
// whole job run by the main thread. The main thread times each node it
// may split (the WASI monotonic clock, ABI v3) and splits it only while
// that pays (parallelHelper). Each output element is computed by the
// same instructions whichever thread claims it, so results do not depend
// on the number of threads.

// MaxThreads bounds --threads (worker slots in the control block).
const MaxThreads = 64

// Globals of a threaded module: per instance, so thread-local.
const (
	globalTid        = iota // this instance's worker id (0 on the main instance)
	globalBusy              // 1 while the main instance hands out a job
	globalBackoff           // jobs the main instance still runs alone after a stall
	globalBackoffLen        // the next back-off's length (0: stallBackoff)
	globalWins              // split probes that paid so far (probe cascades)
	globalStallWins         // globalWins at the last stall
	numGlobals
)

// The control block, at threading.ctrl: the job words on their own cache
// lines, so that claiming does not bounce the line the sleepers wait on.
const (
	ctrlGen   = 0                        // i32 job generation; workers wait on it
	ctrlStop  = 4                        // i32 1 once mlc_stop ran
	ctrlJob   = 8                        // i32 table index of the job's body
	ctrlN     = 12                       // i32 units
	ctrlChunk = 16                       // i32 the fewest units a chunk has
	ctrlMaxCh = 20                       // i32 the most units a chunk has
	ctrlClaim = 64                       // i64 generation<<32 | next unclaimed unit
	ctrlDone  = 128                      // i32 units finished
	ctrlWork  = 136                      // i64 ns the workers spent on the job's chunks
	ctrlSlots = 192                      // i32 per worker id: 1 while mlc_worker(id) runs
	ctrlClock = ctrlSlots + 4*MaxThreads // per thread id, a cache line: clock_time_get's result
	// the main thread's line: its clock, then where a join started and its
	// stall limit (ns)
	ctrlMainJoin  = ctrlClock + 8
	ctrlMainStall = ctrlClock + 16
	ctrlSize      = ctrlClock + 64*MaxThreads
)

// Exports of a threaded module (ABI v2 and v3).
const (
	ExportWorker = abi.ExportWorker
	ExportStop   = abi.ExportStop
)

// Break-even of handing a loop to the workers: below this estimated time
// (ns) a loop runs on the calling thread alone, and a kernel with a
// threaded form emits its single-threaded code instead (Ctx.splits).
// Publishing a job costs a few atomic operations and one notify (a futex
// wake when a worker sleeps); the woken worker joins some 10-20 us later
// on an otherwise idle core, and the main thread may end up sleeping until
// the worker's last chunk is done and waking again. So a loop of 100 us
// gains perhaps 30 us and costs both threads some 10-20 us of CPU: below
// that the second core buys nothing worth its CPU time (docs/design.md,
// "When a node is split").
const parallelMinNs = 100_000

// minChunkNs keeps a chunk's work well above the cost of claiming it and
// the chunks few: a thread that claims a neighbouring chunk finds its
// inputs in its own cache.
const minChunkNs = 25_000

// Chunks shrink as a job runs out of units (guided self-scheduling): a
// thread claims 1/(guidedDiv*threads) of the units still unclaimed, at
// least about minChunkNs and at most about maxChunkNs of work. The first
// chunks are the size the fixed chunks were (1/8 of a job on two
// threads), the last ones short, so that a thread that runs slower (it
// woke late, finds its inputs in the other core's cache, or shares its
// core with another process) keeps the other waiting at the join for a
// short chunk only. The cap bounds what a worker can hold when it loses
// its core in the middle of a chunk: a CPU-bound neighbour takes a core
// for milliseconds at a time. A claim costs one compare-exchange and a
// worker's two clock reads, well under 1% of a capped chunk
// (docs/design.md, "Chunks that shrink").
const (
	guidedDiv  = 4
	maxChunkNs = 400_000
)

// Rough costs of work, in ns, for Parallel's unitNs (measured orders of
// magnitude in V8 on the project's machine, not promises): an f32 SIMD
// multiply-add in the packed micro-kernels (~45 GFLOP/s: the median of the
// 1x1 convolutions and GEMMs of the shared models, profiled one node at a
// time), one f32x4 operation with its loads, a byte copied or streamed, a
// scalar operation with its loads and stores.
const (
	nsPerFlop   = 0.022
	nsPerLaneOp = 0.1
	nsPerCopy   = 0.05
	nsPerScalar = 0.5
)

type threading struct {
	n        int   // threads, the main one included
	ctrl     int32 // control block address
	bodies   []uint32
	bodyType uint32 // (lo, hi i32) -> ()
	clock    uint32 // the clock_time_get import
	// extra is where threads 1..n-1 keep their copies of a node's
	// per-thread scratch, scratch bytes each, after the planned memory:
	// thread 0's copy is the one the 1-thread module plans, so that the
	// plan, and every address a node's single-threaded form uses, is the
	// 1-thread module's.
	extra, scratch int32
}

func (md *module) threaded() bool { return md.th != nil }

// setupThreads prepares a module for opts.Threads > 1: the memory import
// (its size is set once known), the globals and the control block.
func (md *module) setupThreads() {
	n := md.opts.Threads
	if n <= 1 {
		return
	}
	md.th = &threading{n: n}
	md.m.ImportSection = append([]*wasm.Import{{Type: wasm.ExternTypeMemory, Module: abi.MemoryModule, Name: abi.MemoryName,
		DescMem: &wasm.Memory{IsMaxEncoded: true}}}, md.m.ImportSection...)
	for range numGlobals {
		md.m.GlobalSection = append(md.m.GlobalSection, &wasm.Global{
			Type: &wasm.GlobalType{ValType: asm.I32, Mutable: true},
			Init: &wasm.ConstantExpression{Opcode: wasm.OpcodeI32Const, Data: i32leb(0)},
		})
	}
	md.th.ctrl = md.reserve(ctrlSize)
	for n := range md.plan.Workspace {
		md.th.scratch = max(md.th.scratch, int32(scratchSize(n)))
	}
	if md.th.scratch > 0 {
		md.th.extra = md.reserve(int(md.th.scratch) * (n - 1))
	}
	md.m.ImportSection = append(md.m.ImportSection, &wasm.Import{Type: wasm.ExternTypeFunc, Module: abi.WASIModule, Name: abi.ClockImport,
		DescFunc: md.typeIndex([]wasm.ValueType{asm.I32, asm.I64, asm.I32}, []wasm.ValueType{asm.I32})})
	md.th.clock = uint32(md.imports)
	md.imports++
	md.th.bodyType = md.typeIndex([]wasm.ValueType{asm.I32, asm.I32}, nil)
}

// reserve sets aside zeroed, writable bytes after the planned memory,
// 64-byte aligned (a cache line).
func (md *module) reserve(size int) int32 {
	a := (md.tableEnd + 63) &^ 63
	md.tableEnd = a + size
	return int32(a)
}

// Span is the part of a parallel loop one call of its body covers: every
// unit, with compile-time bounds, when the loop runs on one thread; a
// chunk [lo, hi) known at run time when it is handed out. Kernels write
// their loop once against a Span, and a single-threaded module gets
// exactly the code it had before threads existed.
type Span struct {
	F      *asm.Func
	N      int // units of the whole loop
	par    bool
	lo, hi asm.Local
	th     *threading
	// scratch0 is the node's per-thread scratch, thread 0's copy (its
	// planned address; Ctx.ScratchAddr).
	scratch0 int32
}

// Parallel reports whether the span is a run-time chunk.
func (s Span) Parallel() bool { return s.par }

// Lo pushes the first unit of the span.
func (s Span) Lo() {
	if s.par {
		s.F.Get(s.lo)
	} else {
		s.F.I32Const(0)
	}
}

// Hi pushes the end of the span (one past its last unit).
func (s Span) Hi() {
	if s.par {
		s.F.Get(s.hi)
	} else {
		s.F.I32Const(int32(s.N))
	}
}

// Base pushes base + lo*stride: where the span's first unit starts.
func (s Span) Base(base, stride int32) {
	if !s.par {
		s.F.I32Const(base)
		return
	}
	s.F.Get(s.lo)
	if stride != 1 {
		s.F.I32Const(stride).Op(wasm.OpcodeI32Mul)
	}
	if base != 0 {
		s.F.I32Const(base).Op(wasm.OpcodeI32Add)
	}
}

// Counted runs body once per unit of the span, counting c down, as
// f.Counted(c, N, body) does for the whole loop.
func (s Span) Counted(c asm.Local, body func()) {
	if !s.par {
		s.F.Counted(c, s.N, body)
		return
	}
	s.F.Get(s.hi).Get(s.lo).Op(wasm.OpcodeI32Sub).Set(c)
	s.F.Loop32(c, body)
}

// For runs i over the span's units (i = lo, lo+1, ... < hi); serial
// spans are f.ForStep(i, 0, N, 1, body).
func (s Span) For(i asm.Local, body func()) {
	if !s.par {
		s.F.ForStep(i, 0, s.N, 1, body)
		return
	}
	f := s.F
	f.Get(s.lo).Set(i)
	f.Loop()
	body()
	f.Get(i).I32Const(1).Op(wasm.OpcodeI32Add).Tee(i).Get(s.hi).Op(wasm.OpcodeI32LtS).BrIf(0)
	f.End()
}

// Scratch pushes the address in this thread's copy of the node's
// per-thread scratch (registerScratch) of what is at addr in thread 0's
// copy (Ctx.ScratchAddr, size bytes): thread 0's copy is the planned one,
// thread t's is at th.extra + (t-1)*size.
func (s Span) Scratch(addr int32, size int) {
	f := s.F
	f.I32Const(addr)
	if s.par {
		s.scratchOffset(size)
		f.Op(wasm.OpcodeI32Add)
	}
}

// scratchOffset pushes how far this thread's copy of the node's
// per-thread scratch (size bytes a copy) is from thread 0's: 0 on thread
// 0, else th.extra - scratch0 + (t-1)*size.
func (s Span) scratchOffset(size int) {
	f := s.F
	if int32(size) > s.th.scratch {
		panic(fmt.Sprintf("codegen: per-thread scratch of %d bytes, %d reserved", size, s.th.scratch))
	}
	f.GlobalGet(globalTid).I32Const(1).Op(wasm.OpcodeI32Sub).I32Const(int32(size)).Op(wasm.OpcodeI32Mul).I32Const(s.th.extra - s.scratch0).Op(wasm.OpcodeI32Add)
	f.I32Const(0)
	f.GlobalGet(globalTid).Select()
}

// PerThread pushes addr + t*stride for this thread t: a thread's slice of
// a buffer of the node's workspace cut into one slice per thread.
func (s Span) PerThread(addr int32, stride int) {
	f := s.F
	f.I32Const(addr)
	if s.par {
		f.GlobalGet(globalTid).I32Const(int32(stride)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
	}
}

// Threads is the number of threads the code being emitted may use: the
// number the module is compiled for (1 unless --threads), and 1 in a
// node's single-threaded form (nodeForms), which must be exactly the
// 1-thread module's code: a kernel that chose by the module's thread
// count gave it a threaded module's serial fallback instead (the 7x7
// stems unfolded the whole image's col, 7.4 MB, not L2-sized bands).
func (k *Ctx) Threads() int {
	if k.md.th == nil || k.alone {
		return 1
	}
	return k.md.th.n
}

// Parallel emits a loop over n units of independent work: the iterations
// must write disjoint memory and read nothing another iteration writes.
// unitNs estimates one unit's time (for the break-even and the chunk
// size). In a threaded module, when the loop is long enough, body is
// emitted into a function of its own, called on chunks by every thread;
// otherwise body is emitted here over all n units. While body runs, k.F
// (the same *asm.Func, s.F) emits into the body's function: body must
// create every local it uses, none of the node function's.
func (k *Ctx) Parallel(n int, unitNs float64, body func(s Span)) {
	th := k.md.th
	total := float64(n) * unitNs
	if !k.splits(n, unitNs) {
		body(Span{F: k.F, N: n})
		return
	}
	// ParallelAll (tests) cuts the tail into single units.
	chunk := max(1, min(n/(2*th.n), int(minChunkNs/unitNs)))
	maxChunk := max(chunk, int(maxChunkNs/unitNs))
	if k.md.opts.ParallelAll {
		chunk = 1
	}

	f := k.F
	end := f.Divert([]wasm.ValueType{asm.I32, asm.I32}, nil)
	k.inPar = true
	sc, _ := k.ScratchAddr()
	body(Span{F: f, N: n, par: true, lo: f.Param(0), hi: f.Param(1), th: th, scratch0: sc})
	k.inPar = false
	idx := k.md.addFunc(fmt.Sprintf("%s_par%d", k.name, len(th.bodies)), end())
	th.bodies = append(th.bodies, idx)
	// A chunk that takes far longer than estimated means a thread holding
	// it lost its core (another process runs there): past this the main
	// thread counts a stall (see parallelHelper).
	// The longest chunk is one of the first.
	stallNs := int64(3*min(total/float64(guidedDiv*th.n), float64(maxChunk)*unitNs)) + stallSlackNs
	f.I32Const(int32(len(th.bodies) - 1)).I32Const(int32(n)).I32Const(int32(chunk)).I32Const(int32(maxChunk)).I64Const(stallNs)
	f.I32Const(k.formState())
	f.Call(k.md.parallelHelper())
}

// formState is the address of the node's run-time state (nodeStateSize
// bytes, reserved at the node's first split loop; see nodeForms), or 0 in
// a module built with ParallelAll (tests), which splits every loop untimed.
func (k *Ctx) formState() int32 {
	if k.md.opts.ParallelAll {
		return 0
	}
	if k.state == 0 {
		k.state = k.md.reserve(nodeStateSize)
	}
	return k.state
}

// gemmUnits is how a threaded GEMM-shaped kernel cuts its products for
// Parallel: n units, each one block of rows and a group of per of the
// block's items (weight panels, column tiles; groups groups), of about ns.
type gemmUnits struct {
	n, groups, per int
	ns             float64
}

// splitGEMM cuts blocks row blocks of items items each (itemFlops flops an
// item): at least perThread units a thread, splitting the items too when
// the blocks are few.
func (k *Ctx) splitGEMM(blocks, items, itemFlops, perThread int) gemmUnits {
	groups := min(items, max(1, (perThread*k.Threads()+blocks-1)/blocks))
	per := (items + groups - 1) / groups
	groups = (items + per - 1) / per
	return gemmUnits{n: blocks * groups, groups: groups, per: per, ns: float64(itemFlops*per) * nsPerFlop}
}

// splits reports whether Parallel hands a loop of n units of about
// unitNs each to the threads. A kernel with a threaded form (one that lays
// out its work differently so that it can be cut into units) asks before
// choosing it, and emits its single-threaded code when the answer is no:
// a node too short to split runs exactly as in a 1-thread module.
func (k *Ctx) splits(n int, unitNs float64) bool {
	if k.md.th == nil || k.alone || n < 2 {
		return false
	}
	return k.md.opts.ParallelAll || float64(n)*unitNs >= parallelMinNs
}

// joinSpinNs is how long the main thread polls the done count at a join
// before it sleeps: the chunks it waits for are the last, short ones
// (guided chunks end near minChunkNs), and a thread that sleeps in
// memory.atomic.wait32 on this VM wakes 56-85 us after the notify (its
// vCPU halts), longer than most such waits; the spin costs at most this
// much CPU a join, counted in the node's CPU account (docs/design.md,
// "The join polls before it sleeps").
const joinSpinNs = 50_000

// stallSlackNs is added to the stall threshold: a worker woken for a job
// may start some 10-100 us late without having lost its core.
const stallSlackNs = 200_000

// stallBackoff is how many jobs the main thread runs alone after a stall:
// with the other cores busy, a worker descheduled while it holds a chunk
// makes the main thread wait for a whole time slice (milliseconds), and
// fork-join would be slower than one thread. A stall on the first job
// after a back-off doubles the next one (up to maxStallBackoff: with the
// cores oversubscribed, a model of 40 jobs would otherwise stall about once
// a run); a job that finishes without one halves it again. Results do not
// depend on it.
const (
	stallBackoff    = 32
	maxStallBackoff = 4096
)

// A split node's state, nodeStateSize bytes that its first split loop
// reserves (formState): the main thread's running estimates of the node's
// time in either form, measured with the monotonic clock (ABI 3), in ns,
// and this call's form, start and CPU account.
const (
	stAlone       = 0  // i64: the single-threaded form on the main thread
	stSplit       = 8  // i64: wall time, the threaded form split across the threads
	stSplitCPU    = 16 // i64: split, the CPU time of all threads (no join sleep)
	stCalls       = 24 // i32: calls so far
	stMode        = 28 // i32: 1 while this call runs split
	stT0          = 32 // i64: this call's start
	stExtra       = 40 // i64: this call's workers' chunk time less main's join sleep
	stPays        = 48 // i32: whether splitting paid at the last call
	stGap         = 52 // i32: calls from one probe to the next
	stNext        = 56 // i32: the call that probes next
	stWins        = 60 // i32: globalWins at this node's last probe
	nodeStateSize = 64
)

// Whether a split pays is measured, not only estimated at compile time:
// on a quiet machine the second core may still run a node's chunks slower
// than one core runs them all (the inputs are in the other core's cache, a
// woken core starts late and slow), and under load a worker may not run
// at all. So each split node is first timed both ways (probeCalls calls,
// alternating), then runs the way that pays, and now and then runs the
// other way to notice a change (a busy machine, a quiet one): probeEvery
// calls after the decision last changed, then (from call probeSettle on:
// the first runs' samples include code V8 has not optimized yet, and the
// estimates should settle first) twice as far apart each time up to
// maxProbeGap, since a probe the wrong way costs a slower call (a split
// probe on a busy machine waits for a worker that lost its core).
// Probe cascades: a node's split probe whose own call pays (against the
// node's time alone, by the rules below) is taken as the split estimates
// at once, and every node run alone probes the split at its next call
// unless a join stalled since. A stretch of load (another process, a
// stall) sends nodes alone and spreads their probes out to maxProbeGap
// calls, 13 s of resnet18's runs; without cascades one such stretch
// decided most of a benchmark process's runs (docs/design.md, thr13).
// The busy case keeps its protection: a cascade costs each node at most
// one probe per probe that paid, and a stall ends it.
// Splitting pays when it saves at least 1/splitGainDiv of the node's time
// on one thread, costs at most 1/splitCPUDiv more CPU time (the main
// thread's time less its sleep at the joins, plus the workers' chunk
// time), and no more extra CPU time than it saves wall time. At 1.25x a
// node, mobilenet_v2's runs come to 1.14-1.20x the 1-thread module's CPU
// (issue 11 allows 1.15x); a 1.15x limit a node kept them under it but
// cost every model's gain back to back (docs/design.md, "Under load").
// Results do not depend on it: a node's outputs are the same in either
// form.
const (
	probeCalls   = 8
	probeEvery   = 16
	maxProbeGap  = 256
	probeSettle  = 64
	splitGainDiv = 8
	splitCPUDiv  = 4
)

// nodeForms gives a node of a threaded module that splits a loop its two
// forms, each a function: the threaded form split (as emitted into split)
// and the single-threaded form, exactly the 1-thread module's code (the
// threaded kernel forms lay out their work to be cut, and run some 1-5%
// slower on one thread than the single-threaded code). The node's
// function calls the form mlc_form picks and times it (mlc_form_end), so
// the decision compares the two forms as they run, serial parts included.
func (md *module) nodeForms(split *Ctx, emit func(*Ctx) error) (uint32, error) {
	i32 := []wasm.ValueType{asm.I32}
	si := md.addFunc(split.name+"_split", split.F)
	one := &Ctx{md: md, F: asm.NewFunc(nil, i32), Node: split.Node, name: split.name, alone: true}
	if err := emit(one); err != nil {
		return 0, err
	}
	oi := md.addFunc(split.name+"_one", one.F)
	f := asm.NewFunc(nil, i32)
	s := f.Local(asm.I32)
	f.I32Const(split.state).Call(md.formHelper()).If()
	f.Call(si).Set(s)
	f.Else()
	f.Call(oi).Set(s)
	f.End()
	f.I32Const(split.state).Call(md.formEndHelper())
	f.Get(s)
	return md.addFunc(split.name, f), nil
}

// updateEstimate stores at st+off the running estimate with sample x:
// the first sample, else halfway down to a lower sample or 1/8 of the way
// up to a higher one: a time slice lost to another process moves it
// little, a lasting change soon.
func updateEstimate(f *asm.Func, st asm.Local, off uint32, x, e asm.Local) {
	f.Get(st).I64Load(off).Set(e)
	f.Get(st).Get(x)
	f.Get(e).Get(x).Op(wasm.OpcodeI64Add).I64Const(1).Op(wasm.OpcodeI64ShrU)
	f.Get(e).Get(x).Get(e).Op(wasm.OpcodeI64Sub).I64Const(3).Op(wasm.OpcodeI64ShrS).Op(wasm.OpcodeI64Add)
	f.Get(x).Get(e).Op(wasm.OpcodeI64LtS).Select()
	f.Get(e).Op(wasm.OpcodeI64Eqz).Select()
	f.I64Store(off)
}

// formHelper is mlc_form(state) -> i32, run by the main instance at the
// start of a node with two forms: 1 to run it split, 0 alone. While
// backing off after a stall the node runs alone.
func (md *module) formHelper() uint32 {
	i32 := asm.I32
	return md.helper("mlc_form", []wasm.ValueType{i32}, []wasm.ValueType{i32}, func(f *asm.Func) {
		st := f.Param(0)
		d, calls, g := f.Local(i32), f.Local(i32), f.Local(i32)
		f.GlobalGet(globalBackoff).If()
		f.GlobalGet(globalBackoff).I32Const(1).Op(wasm.OpcodeI32Sub).GlobalSet(globalBackoff)
		f.Else()
		f.Get(st).Get(st).I32Load(stCalls).I32Const(1).Op(wasm.OpcodeI32Add).Tee(calls).I32Store(stCalls)
		// While probing, split but on the last two calls (the first run
		// splits every node it may): every node probes alone on the same
		// two runs, so only two of a model's first probeCalls runs go
		// single-threaded, where alternating made half of them so and
		// cost a large model's first runs (unet_1024's median over 15 runs
		// 1.49x against 1.84x at its best). Afterwards alone unless
		// splitting pays, the other way on a probe.
		f.Get(calls).I32Const(probeCalls).Op(wasm.OpcodeI32LeU).If()
		f.Get(calls).I32Const(probeCalls - 1).Op(wasm.OpcodeI32LtU).Set(d)
		f.Else()
		splitPays(f, st, func() { f.Get(st).I64Load(stSplit) }, func() { f.Get(st).I64Load(stSplitCPU) })
		f.Set(d)
		// A changed decision (or the first) puts the next probe
		// probeEvery calls ahead; each probe doubles the gap.
		f.Get(calls).I32Const(probeCalls + 1).Op(wasm.OpcodeI32Eq).Get(d).Get(st).I32Load(stPays).Op(wasm.OpcodeI32Ne).Op(wasm.OpcodeI32Or).If()
		f.Get(st).I32Const(probeEvery).I32Store(stGap)
		f.Get(st).Get(calls).I32Const(probeEvery).Op(wasm.OpcodeI32Add).I32Store(stNext)
		f.Get(st).GlobalGet(globalWins).I32Store(stWins)
		f.End()
		f.Get(st).Get(d).I32Store(stPays)
		// A node run alone probes the split at this call if another
		// node's split probe paid since its own last probe, and no join
		// stalled since (probe cascades, below).
		f.Get(d).Op(wasm.OpcodeI32Eqz)
		f.Get(st).I32Load(stWins).GlobalGet(globalWins).Op(wasm.OpcodeI32Ne).Op(wasm.OpcodeI32And)
		f.GlobalGet(globalWins).GlobalGet(globalStallWins).Op(wasm.OpcodeI32Ne).Op(wasm.OpcodeI32And)
		f.If().Get(st).Get(calls).I32Store(stNext).End()
		f.Get(calls).Get(st).I32Load(stNext).Op(wasm.OpcodeI32Eq).If()
		f.Get(st).GlobalGet(globalWins).I32Store(stWins)
		f.Get(d).I32Const(1).Op(wasm.OpcodeI32Xor).Set(d)
		// gap = calls < probeSettle ? gap : min(2*gap, maxProbeGap)
		f.Get(st).I32Load(stGap).I32Const(1).Op(wasm.OpcodeI32Shl).Tee(g)
		f.I32Const(maxProbeGap).Get(g).I32Const(maxProbeGap).Op(wasm.OpcodeI32LtU).Select()
		f.Get(st).I32Load(stGap)
		f.Get(calls).I32Const(probeSettle).Op(wasm.OpcodeI32GeU).Select().Set(g)
		f.Get(st).Get(g).I32Store(stGap)
		f.Get(st).Get(st).I32Load(stNext).Get(g).Op(wasm.OpcodeI32Add).I32Store(stNext)
		f.End()
		f.End()
		f.End()
		f.Get(st).Get(d).I32Store(stMode)
		f.Get(st).I64Const(0).I64Store(stExtra)
		f.Get(st).Call(md.nowHelper()).I64Store(stT0)
		f.Get(d)
	})
}

// splitPays pushes whether a split of time split() and CPU time cpu()
// pays against the node's time alone: split*8 < alone*7 && cpu*4 <
// alone*5 && cpu+split < 2*alone.
func splitPays(f *asm.Func, st asm.Local, split, cpu func()) {
	alone := func(mul int64) { f.Get(st).I64Load(stAlone).I64Const(mul).Op(wasm.OpcodeI64Mul) }
	split()
	f.I64Const(splitGainDiv).Op(wasm.OpcodeI64Mul)
	alone(splitGainDiv - 1)
	f.Op(wasm.OpcodeI64LtS)
	cpu()
	f.I64Const(splitCPUDiv).Op(wasm.OpcodeI64Mul)
	alone(splitCPUDiv + 1)
	f.Op(wasm.OpcodeI64LtS).Op(wasm.OpcodeI32And)
	cpu()
	split()
	f.Op(wasm.OpcodeI64Add)
	alone(2)
	f.Op(wasm.OpcodeI64LtS).Op(wasm.OpcodeI32And)
}

// formEndHelper is mlc_form_end(state): the node's call is done; its time
// updates the estimates of the form it ran.
func (md *module) formEndHelper() uint32 {
	return md.helper("mlc_form_end", []wasm.ValueType{asm.I32}, nil, func(f *asm.Func) {
		st := f.Param(0)
		dt, e, cpu := f.Local(asm.I64), f.Local(asm.I64), f.Local(asm.I64)
		f.Call(md.nowHelper()).Get(st).I64Load(stT0).Op(wasm.OpcodeI64Sub).Set(dt)
		f.Get(st).I32Load(stMode).If()
		f.Get(dt).Get(st).I64Load(stExtra).Op(wasm.OpcodeI64Add).Set(cpu)
		// A split probe of a node run alone whose own call pays takes
		// its time as the estimates (the node splits from its next
		// call) and tells the nodes run alone to probe (probe cascades).
		f.Get(st).I32Load(stPays).Op(wasm.OpcodeI32Eqz)
		f.Get(st).I32Load(stCalls).I32Const(probeCalls).Op(wasm.OpcodeI32GtU).Op(wasm.OpcodeI32And)
		splitPays(f, st, func() { f.Get(dt) }, func() { f.Get(cpu) })
		f.Op(wasm.OpcodeI32And).If()
		f.Get(st).Get(dt).I64Store(stSplit)
		f.Get(st).Get(cpu).I64Store(stSplitCPU)
		f.GlobalGet(globalWins).I32Const(1).Op(wasm.OpcodeI32Add).GlobalSet(globalWins)
		f.Get(st).GlobalGet(globalWins).I32Store(stWins)
		f.Else()
		updateEstimate(f, st, stSplit, dt, e)
		updateEstimate(f, st, stSplitCPU, cpu, e)
		f.End()
		f.Else()
		updateEstimate(f, st, stAlone, dt, e)
		f.End()
	})
}

// parallelHelper is mlc_parallel(job, n, chunk, maxChunk, stallNs, state),
// run by the main instance in a node's threaded form: it publishes the
// job, claims chunks like any worker, then waits until every chunk is
// done, and adds the workers' chunk time less its own sleep at the join to
// the node's CPU account (state 0: untimed). Called from a worker or while
// a job is being handed out (never by construction: bodies do not nest),
// or while backing off after a stall, it runs the whole job on the calling
// thread.
func (md *module) parallelHelper() uint32 {
	th := md.th
	i32, i64 := asm.I32, asm.I64
	return md.helper("mlc_parallel", []wasm.ValueType{i32, i32, i32, i32, i64, i32}, nil, func(f *asm.Func) {
		job, n, chunk, maxChunk, stallNs, st := f.Param(0), f.Param(1), f.Param(2), f.Param(3), f.Param(4), f.Param(5)
		g, d, stalled := f.Local(i32), f.Local(i32), f.Local(i32)
		spin := f.Local(i64)
		c := uint32(th.ctrl)
		now := md.nowHelper()
		f.GlobalGet(globalBackoff).If()
		f.GlobalGet(globalBackoff).I32Const(1).Op(wasm.OpcodeI32Sub).GlobalSet(globalBackoff)
		f.I32Const(0).Get(n).Get(job).CallIndirect(th.bodyType)
		f.Return()
		f.End()
		f.GlobalGet(globalTid).GlobalGet(globalBusy).Op(wasm.OpcodeI32Or).If()
		f.I32Const(0).Get(n).Get(job).CallIndirect(th.bodyType)
		f.Return()
		f.End()
		f.I32Const(1).GlobalSet(globalBusy)
		f.I32Const(0).I32AtomicLoad(c + ctrlGen).I32Const(1).Op(wasm.OpcodeI32Add).Set(g)
		// Close claiming before the descriptor changes: a late worker
		// holding the previous job's claim word then fails its exchange.
		f.I32Const(0).Get(g).I32Const(1).Op(wasm.OpcodeI32Sub).Op(wasm.OpcodeI64ExtendI32U).I64Const(32).Op(wasm.OpcodeI64Shl).
			I64Const(0xffffffff).Op(wasm.OpcodeI64Or).I64AtomicStore(c + ctrlClaim)
		for _, w := range []struct {
			off uint32
			v   asm.Local
		}{{ctrlJob, job}, {ctrlN, n}, {ctrlChunk, chunk}, {ctrlMaxCh, maxChunk}} {
			f.I32Const(0).Get(w.v).I32AtomicStore(c + w.off)
		}
		f.I32Const(0).I32Const(0).I32AtomicStore(c + ctrlDone)
		f.I32Const(0).I64Const(0).I64AtomicStore(c + ctrlWork)
		f.I32Const(0).Get(g).Op(wasm.OpcodeI64ExtendI32U).I64Const(32).Op(wasm.OpcodeI64Shl).I64AtomicStore(c + ctrlClaim)
		f.I32Const(0).Get(g).I32AtomicStore(c + ctrlGen)
		f.I32Const(0).I32Const(-1).MemoryAtomicNotify(c + ctrlGen).Drop()
		f.Get(g).Get(job).Get(n).Get(chunk).Get(maxChunk).Call(md.claimHelper())
		// The main thread's CPU time ends with its last chunk and its
		// poll: sleeping at the join costs no CPU. What the join needs after a wait stays
		// in memory, not in i64 locals: V8's baseline compiler (Liftoff,
		// Node 20) sometimes returns from memory.atomic.wait32 with them
		// zeroed (a zeroed join start counted the whole process's age as
		// sleep; a zeroed timeout made every later wait a stall).
		// Poll up to joinSpinNs before sleeping (no wait in between, so
		// the i64 local is safe).
		f.Call(now).Set(spin)
		f.Block().Loop()
		f.I32Const(0).I32AtomicLoad(c + ctrlDone).Get(n).Op(wasm.OpcodeI32Eq).BrIf(1)
		f.Call(now).Get(spin).Op(wasm.OpcodeI64Sub).I64Const(joinSpinNs).Op(wasm.OpcodeI64LtS).BrIf(0)
		f.End().End()
		f.Get(st).If()
		f.I32Const(0).Call(now).I64Store(c + ctrlMainJoin)
		f.End()
		// The stall threshold is at least the node's measured split
		// time: stallNs rests on compile-time unit estimates, and in a
		// job of few long units (Winograd bands, one or two a thread)
		// the join may rightly wait for most of a unit, so an estimate
		// half the real time counted stalls on a quiet machine, each
		// sending the next stallBackoff jobs to one thread (issue 11,
		// docs/design.md "Stalls measured against the node's split time").
		f.Get(st).If()
		f.Get(st).I64Load(stSplit).Set(spin)
		f.Get(spin).Get(stallNs).Get(spin).Get(stallNs).Op(wasm.OpcodeI64GtS).Select().Set(stallNs)
		f.End()
		f.I32Const(0).Get(stallNs).I64Store(c + ctrlMainStall)
		// Sleep until the chunks other threads claimed are done; a wait
		// past stallNs counts as a stall (then wait on without a limit).
		f.Block().Loop()
		f.I32Const(0).I32AtomicLoad(c + ctrlDone).Tee(d).Get(n).Op(wasm.OpcodeI32Eq).BrIf(1)
		f.I32Const(0).Get(d).I32Const(0).I64Load(c + ctrlMainStall).MemoryAtomicWait32(c + ctrlDone).I32Const(2).Op(wasm.OpcodeI32Eq)
		f.If().I32Const(1).Set(stalled).I32Const(0).I64Const(-1).I64Store(c + ctrlMainStall).End()
		f.Br(0)
		f.End().End()
		// extra += the workers' chunk time - (now - join start)
		f.Get(st).If()
		f.Get(st).Get(st).I64Load(stExtra).I32Const(0).I64AtomicLoad(c + ctrlWork).Op(wasm.OpcodeI64Add)
		f.Call(now).I32Const(0).I64Load(c + ctrlMainJoin).Op(wasm.OpcodeI64Sub).Op(wasm.OpcodeI64Sub).I64Store(stExtra)
		f.End()
		// len = stalled ? min(2*len, max) : max(len/2, stallBackoff), with
		// len = stallBackoff before the first stall.
		f.GlobalGet(globalBackoffLen).I32Const(stallBackoff).GlobalGet(globalBackoffLen).Op(wasm.OpcodeI32Eqz).Select().Set(d)
		f.Get(stalled).If()
		f.Get(d).I32Const(1).Op(wasm.OpcodeI32Shl).Tee(d).I32Const(maxStallBackoff).Get(d).I32Const(maxStallBackoff).Op(wasm.OpcodeI32LtU).Select().Set(d)
		f.Get(d).I32Const(1).Op(wasm.OpcodeI32ShrU).GlobalSet(globalBackoff)
		f.GlobalGet(globalWins).GlobalSet(globalStallWins)
		f.Else()
		f.Get(d).I32Const(1).Op(wasm.OpcodeI32ShrU).Tee(d).I32Const(stallBackoff).Get(d).I32Const(stallBackoff).Op(wasm.OpcodeI32GtU).Select().Set(d)
		f.End()
		f.Get(d).GlobalSet(globalBackoffLen)
		f.I32Const(0).GlobalSet(globalBusy)
	})
}

// nowHelper is mlc_now() -> i64: the monotonic clock in ns, read through
// this thread's own slot of the control block.
func (md *module) nowHelper() uint32 {
	th := md.th
	return md.helper("mlc_now", nil, []wasm.ValueType{asm.I64}, func(f *asm.Func) {
		slot := func() { f.GlobalGet(globalTid).I32Const(64).Op(wasm.OpcodeI32Mul) }
		f.I32Const(wasiClockMonotonic).I64Const(1000)
		slot()
		f.I32Const(th.ctrl + ctrlClock).Op(wasm.OpcodeI32Add)
		f.Call(th.clock).Drop()
		slot()
		f.I64Load(uint32(th.ctrl + ctrlClock))
	})
}

// wasiClockMonotonic is WASI's CLOCK_MONOTONIC clock id.
const wasiClockMonotonic = 1

// claimHelper is mlc_claim(gen, job, n, chunk, maxChunk): claim chunks of
// job generation gen, each 1/(guidedDiv*threads) of the units left but
// chunk..maxChunk units, and run them until none is left (or a newer job
// replaced it); the thread finishing the last units wakes the main one.
func (md *module) claimHelper() uint32 {
	th := md.th
	i32 := asm.I32
	return md.helper("mlc_claim", []wasm.ValueType{i32, i32, i32, i32, i32}, nil, func(f *asm.Func) {
		g, job, n, chunk, maxChunk := f.Param(0), f.Param(1), f.Param(2), f.Param(3), f.Param(4)
		w := f.Local(asm.I64)
		next, lo, hi := f.Local(i32), f.Local(i32), f.Local(i32)
		t0 := f.Local(asm.I64)
		c := uint32(th.ctrl)
		now := md.nowHelper()
		f.Block().Loop()
		f.I32Const(0).I64AtomicLoad(c + ctrlClaim).Tee(w).I64Const(32).Op(wasm.OpcodeI64ShrU).Op(wasm.OpcodeI32WrapI64).
			Get(g).Op(wasm.OpcodeI32Ne).BrIf(1)
		f.Get(w).Op(wasm.OpcodeI32WrapI64).Tee(lo).Get(n).Op(wasm.OpcodeI32GeU).BrIf(1)
		// hi = min(n, lo + clamp((n-lo) / (guidedDiv*threads), chunk, maxChunk))
		f.Get(n).Get(lo).Op(wasm.OpcodeI32Sub).I32Const(int32(guidedDiv * th.n)).Op(wasm.OpcodeI32DivU).Tee(next)
		f.Get(maxChunk).Get(next).Get(maxChunk).Op(wasm.OpcodeI32LtU).Select().Tee(next)
		f.Get(chunk).Get(next).Get(chunk).Op(wasm.OpcodeI32GtU).Select()
		f.Get(lo).Op(wasm.OpcodeI32Add).Tee(hi).Get(n).Get(hi).Get(n).Op(wasm.OpcodeI32LtU).Select().Set(hi)
		f.I32Const(0).Get(w).Get(w).I64Const(-1 << 32).Op(wasm.OpcodeI64And).
			Get(hi).Op(wasm.OpcodeI64ExtendI32U).Op(wasm.OpcodeI64Or).I64AtomicCmpxchg(c + ctrlClaim).
			Get(w).Op(wasm.OpcodeI64Ne).BrIf(0)
		// A worker adds its chunk's time to the job's (before the chunk
		// counts as done, so the main thread reads it whole).
		f.GlobalGet(globalTid).If().Call(now).Set(t0).End()
		f.Get(lo).Get(hi).Get(job).CallIndirect(th.bodyType)
		f.GlobalGet(globalTid).If()
		f.I32Const(0).Call(now).Get(t0).Op(wasm.OpcodeI64Sub).I64AtomicAdd(c + ctrlWork).Drop()
		f.End()
		f.I32Const(0).Get(hi).Get(lo).Op(wasm.OpcodeI32Sub).Tee(next).I32AtomicAdd(c + ctrlDone).Get(next).Op(wasm.OpcodeI32Add).Get(n).Op(wasm.OpcodeI32Eq)
		f.If().I32Const(0).I32Const(1).MemoryAtomicNotify(c + ctrlDone).Drop().End()
		f.Br(0)
		f.End().End()
	})
}

// workerFunc is mlc_worker(id) -> i32: a worker's whole life. It sleeps on
// the generation word, runs its share of each job published, and returns
// 0 once mlc_stop is called (1 for an id outside 1..threads-1, 2 for an id
// another worker holds, 3 after mlc_stop).
func (md *module) workerFunc() *asm.Func {
	th := md.th
	c := uint32(th.ctrl)
	f := asm.NewFunc([]wasm.ValueType{asm.I32}, []wasm.ValueType{asm.I32})
	id := f.Param(0)
	my, g := f.Local(asm.I32), f.Local(asm.I32)
	claim := md.claimHelper()
	f.Get(id).I32Const(1).Op(wasm.OpcodeI32LtS).Get(id).I32Const(int32(th.n)).Op(wasm.OpcodeI32GeS).Op(wasm.OpcodeI32Or)
	f.If().I32Const(abi.WorkerBadID).Return().End()
	f.I32Const(0).I32AtomicLoad(c + ctrlStop).If().I32Const(abi.WorkerRefused).Return().End()
	f.Get(id).I32Const(4).Op(wasm.OpcodeI32Mul).I32Const(0).I32Const(1).I32AtomicCmpxchg(c + ctrlSlots)
	f.If().I32Const(abi.WorkerIDInUse).Return().End()
	f.Get(id).GlobalSet(globalTid)
	f.I32Const(0).I32AtomicLoad(c + ctrlGen).Set(my)
	f.Block().Loop()
	f.I32Const(0).I32AtomicLoad(c + ctrlStop).BrIf(1)
	f.I32Const(0).I32AtomicLoad(c + ctrlGen).Tee(g).Get(my).Op(wasm.OpcodeI32Eq).If()
	f.I32Const(0).Get(my).I64Const(-1).MemoryAtomicWait32(c + ctrlGen).Drop()
	f.Br(1)
	f.End()
	f.Get(g).Set(my)
	f.Get(g)
	for _, off := range []uint32{ctrlJob, ctrlN, ctrlChunk, ctrlMaxCh} {
		f.I32Const(0).I32AtomicLoad(c + off)
	}
	f.Call(claim)
	f.Br(0)
	f.End().End()
	f.Get(id).I32Const(4).Op(wasm.OpcodeI32Mul).I32Const(0).I32AtomicStore(c + ctrlSlots)
	f.I32Const(0)
	return f
}

// stopFunc is mlc_stop(): every worker returns from mlc_worker (after the
// chunk it is running). The generation moves on so that a worker about to
// sleep sees a change instead of missing the wake-up.
func (md *module) stopFunc() *asm.Func {
	c := uint32(md.th.ctrl)
	f := asm.NewFunc(nil, nil)
	f.I32Const(0).I32Const(1).I32AtomicStore(c + ctrlStop)
	f.I32Const(0).I32Const(1).I32AtomicAdd(c + ctrlGen).Drop()
	f.I32Const(0).I32Const(-1).MemoryAtomicNotify(c + ctrlGen).Drop()
	return f
}

// finishThreads adds the worker entry points, the table of parallel
// bodies and the memory import's size; it runs once every function exists.
func (md *module) finishThreads(pages uint32) (worker, stop uint32) {
	th := md.th
	md.claimHelper()
	worker = md.addFunc(ExportWorker, md.workerFunc())
	stop = md.addFunc(ExportStop, md.stopFunc())
	mem := md.m.ImportSection[0].DescMem
	mem.Min, mem.Max = pages, pages
	n := uint32(len(th.bodies))
	md.m.TableSection = []*wasm.Table{{Min: n, Max: &n, Type: wasm.RefTypeFuncref}}
	if n > 0 {
		init := make([]*wasm.Index, n)
		for i := range th.bodies {
			init[i] = &th.bodies[i]
		}
		md.m.ElementSection = []*wasm.ElementSegment{{
			OffsetExpr: &wasm.ConstantExpression{Opcode: wasm.OpcodeI32Const, Data: i32leb(0)},
			Init:       init, Type: wasm.RefTypeFuncref, Mode: wasm.ElementModeActive,
		}}
	}
	return worker, stop
}

// markShared sets the shared flag on the memory import of an encoded
// threaded module: wabin encodes limits without it. The import is the
// first of the import section, as setupThreads put it.
func markShared(b []byte) error {
	secs, err := abi.ReadSections(b)
	if err != nil {
		return fmt.Errorf("codegen: %w", err)
	}
	for _, s := range secs {
		if s.ID != wasm.SectionIDImport {
			continue
		}
		// s.Data is b's own bytes: the flag is set in place.
		_, cn := binary.Uvarint(s.Data) // the import count
		want := []byte{byte(len(abi.MemoryModule))}
		want = append(want, abi.MemoryModule...)
		want = append(want, byte(len(abi.MemoryName)))
		want = append(want, abi.MemoryName...)
		want = append(want, wasm.ExternTypeMemory)
		q := s.Data[max(cn, 0):]
		if cn <= 0 || len(q) <= len(want) || string(q[:len(want)]) != string(want) || q[len(want)] != 0x01 {
			return fmt.Errorf("codegen: the memory import is not where it was put")
		}
		q[len(want)] = 0x03 // min, max, shared
		return nil
	}
	return fmt.Errorf("codegen: no import section")
}
