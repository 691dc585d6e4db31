// Package asm is mlc's small Wasm instruction emitter: it appends encoded
// instructions to a function body and tracks locals. Opcode constants come
// from wabin; the module around the functions is assembled by codegen.
package asm

import (
	"bytes"
	"math"
	"slices"
	"strings"

	"github.com/tetratelabs/wabin/leb128"
	"github.com/tetratelabs/wabin/wasm"
)

// Value types.
const (
	I32  = wasm.ValueTypeI32
	I64  = wasm.ValueTypeI64
	F32  = wasm.ValueTypeF32
	F64  = wasm.ValueTypeF64
	V128 = wasm.ValueTypeV128
)

// Local is a local variable (or parameter) index.
type Local uint32

// Func accumulates one function body.
type Func struct {
	Params  []wasm.ValueType
	Results []wasm.ValueType
	Locals  []wasm.ValueType
	body    []byte
	depth   int // open blocks, for Br* helpers
	// where the immediates of calls and global accesses start in body:
	// Symbolic names them, so that two modules' functions compare
	// whatever index each module gave the callee or the global
	calls, globals []int
}

// NewFunc starts a function with the given signature.
func NewFunc(params, results []wasm.ValueType) *Func {
	return &Func{Params: params, Results: results}
}

// Param returns parameter i as a local.
func (f *Func) Param(i int) Local { return Local(i) }

// Local allocates a new local of type t.
func (f *Func) Local(t wasm.ValueType) Local {
	f.Locals = append(f.Locals, t)
	return Local(len(f.Params) + len(f.Locals) - 1)
}

// Code finishes the body (appending the final end) for the code section.
func (f *Func) Code() *wasm.Code {
	return &wasm.Code{LocalTypes: f.Locals, Body: append(append([]byte{}, f.body...), wasm.OpcodeEnd)}
}

// Symbolic is the body with every callee and global index replaced by
// the name callee or global gives it ("<name>"): equal for two functions
// that do the same in modules that number their functions or globals
// differently.
func (f *Func) Symbolic(callee, global func(uint32) string) string {
	type site struct {
		at   int
		name func(uint32) string
	}
	var sites []site
	for _, p := range f.calls {
		sites = append(sites, site{p, callee})
	}
	for _, p := range f.globals {
		sites = append(sites, site{p, global})
	}
	slices.SortFunc(sites, func(a, b site) int { return a.at - b.at })
	var b strings.Builder
	at := 0
	for _, s := range sites {
		v, n, err := leb128.DecodeUint32(bytes.NewReader(f.body[s.at:]))
		if err != nil {
			panic(err) // written by u32
		}
		b.Write(f.body[at:s.at])
		b.WriteString("<" + s.name(v) + ">")
		at = s.at + int(n)
	}
	b.Write(f.body[at:])
	return b.String()
}

// Len is the current body size in bytes.
func (f *Func) Len() int { return len(f.body) }

// Op appends a one-byte opcode.
func (f *Func) Op(ops ...wasm.Opcode) *Func {
	f.body = append(f.body, ops...)
	return f
}

func (f *Func) u32(v uint32) *Func {
	f.body = append(f.body, leb128.EncodeUint32(v)...)
	return f
}

// Vec appends a SIMD instruction (0xfd prefix, LEB128 opcode).
func (f *Func) Vec(op wasm.OpcodeVec) *Func {
	f.body = append(f.body, wasm.OpcodeVecPrefix)
	return f.u32(uint32(op))
}

// Misc appends a 0xfc-prefixed instruction.
func (f *Func) Misc(op wasm.OpcodeMisc) *Func {
	f.body = append(f.body, wasm.OpcodeMiscPrefix)
	return f.u32(uint32(op))
}

// Constants.
func (f *Func) I32Const(v int32) *Func {
	f.body = append(f.body, wasm.OpcodeI32Const)
	f.body = append(f.body, leb128.EncodeInt32(v)...)
	return f
}

func (f *Func) I64Const(v int64) *Func {
	f.body = append(f.body, wasm.OpcodeI64Const)
	f.body = append(f.body, leb128.EncodeInt64(v)...)
	return f
}

func (f *Func) F32Const(v float32) *Func {
	b := math.Float32bits(v)
	f.body = append(f.body, wasm.OpcodeF32Const, byte(b), byte(b>>8), byte(b>>16), byte(b>>24))
	return f
}

func (f *Func) F64Const(v float64) *Func {
	b := math.Float64bits(v)
	f.body = append(f.body, wasm.OpcodeF64Const)
	for i := 0; i < 8; i++ {
		f.body = append(f.body, byte(b>>(8*i)))
	}
	return f
}

// V128Const appends a 16-byte vector constant.
func (f *Func) V128Const(b [16]byte) *Func {
	f.Vec(wasm.OpcodeVecV128Const)
	f.body = append(f.body, b[:]...)
	return f
}

// F32x4Const splats v into a vector constant.
func (f *Func) F32x4Const(v float32) *Func { return f.splat32x4(math.Float32bits(v)) }

// I32x4Const splats v into a vector constant.
func (f *Func) I32x4Const(v int32) *Func { return f.splat32x4(uint32(v)) }

// splat32x4 appends a vector constant of four lanes holding the bits u.
func (f *Func) splat32x4(u uint32) *Func {
	var b [16]byte
	for i := 0; i < 4; i++ {
		b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
	}
	return f.V128Const(b)
}

// Locals.
func (f *Func) Get(l Local) *Func {
	f.body = append(f.body, wasm.OpcodeLocalGet)
	return f.u32(uint32(l))
}
func (f *Func) Set(l Local) *Func {
	f.body = append(f.body, wasm.OpcodeLocalSet)
	return f.u32(uint32(l))
}
func (f *Func) Tee(l Local) *Func {
	f.body = append(f.body, wasm.OpcodeLocalTee)
	return f.u32(uint32(l))
}

// GlobalGet and GlobalSet access globals.
func (f *Func) GlobalGet(i uint32) *Func {
	f.body = append(f.body, wasm.OpcodeGlobalGet)
	f.globals = append(f.globals, len(f.body))
	return f.u32(i)
}

func (f *Func) GlobalSet(i uint32) *Func {
	f.body = append(f.body, wasm.OpcodeGlobalSet)
	f.globals = append(f.globals, len(f.body))
	return f.u32(i)
}

// SetI32 stores a constant into an i32 local.
func (f *Func) SetI32(l Local, v int32) *Func { return f.I32Const(v).Set(l) }

// AddI32 adds a constant to an i32 local in place.
func (f *Func) AddI32(l Local, v int32) *Func {
	return f.Get(l).I32Const(v).Op(wasm.OpcodeI32Add).Set(l)
}

// Memory access. offset is the memarg immediate; align is log2 bytes.
func (f *Func) mem(op wasm.Opcode, align, offset uint32) *Func {
	f.body = append(f.body, op)
	return f.u32(align).u32(offset)
}

func (f *Func) vmem(op wasm.OpcodeVec, align, offset uint32) *Func {
	f.Vec(op)
	return f.u32(align).u32(offset)
}

func (f *Func) I32Load(off uint32) *Func    { return f.mem(wasm.OpcodeI32Load, 2, off) }
func (f *Func) I64Load(off uint32) *Func    { return f.mem(wasm.OpcodeI64Load, 3, off) }
func (f *Func) F32Load(off uint32) *Func    { return f.mem(wasm.OpcodeF32Load, 2, off) }
func (f *Func) F64Load(off uint32) *Func    { return f.mem(wasm.OpcodeF64Load, 3, off) }
func (f *Func) I32Load8S(off uint32) *Func  { return f.mem(wasm.OpcodeI32Load8S, 0, off) }
func (f *Func) I32Load8U(off uint32) *Func  { return f.mem(wasm.OpcodeI32Load8U, 0, off) }
func (f *Func) I32Load16S(off uint32) *Func { return f.mem(wasm.OpcodeI32Load16S, 1, off) }
func (f *Func) I32Load16U(off uint32) *Func { return f.mem(wasm.OpcodeI32Load16U, 1, off) }
func (f *Func) I64Load32U(off uint32) *Func { return f.mem(wasm.OpcodeI64Load32U, 2, off) }
func (f *Func) I32Store(off uint32) *Func   { return f.mem(wasm.OpcodeI32Store, 2, off) }
func (f *Func) I64Store(off uint32) *Func   { return f.mem(wasm.OpcodeI64Store, 3, off) }
func (f *Func) F32Store(off uint32) *Func   { return f.mem(wasm.OpcodeF32Store, 2, off) }
func (f *Func) F64Store(off uint32) *Func   { return f.mem(wasm.OpcodeF64Store, 3, off) }
func (f *Func) I32Store8(off uint32) *Func  { return f.mem(wasm.OpcodeI32Store8, 0, off) }
func (f *Func) I32Store16(off uint32) *Func { return f.mem(wasm.OpcodeI32Store16, 1, off) }

// V128Load and V128Store declare 4-byte alignment: it is a hint only, and
// tensors are 16-byte aligned but rows inside them often are not.
func (f *Func) V128Load(off uint32) *Func  { return f.vmem(wasm.OpcodeVecV128Load, 2, off) }
func (f *Func) V128Store(off uint32) *Func { return f.vmem(wasm.OpcodeVecV128Store, 2, off) }
func (f *Func) V128Load32Splat(off uint32) *Func {
	return f.vmem(wasm.OpcodeVecV128Load32Splat, 2, off)
}
func (f *Func) V128Load64Zero(off uint32) *Func { return f.vmem(wasm.OpcodeVecV128Load64zero, 3, off) }

// V128Load32Lane replaces one lane of a vector with a loaded float (stack:
// address, vector).
func (f *Func) V128Load32Lane(off uint32, lane byte) *Func {
	f.vmem(wasm.OpcodeVecV128Load32Lane, 2, off)
	f.body = append(f.body, lane)
	return f
}

// Lane ops take a lane index immediate.
func (f *Func) Lane(op wasm.OpcodeVec, lane byte) *Func {
	f.Vec(op)
	f.body = append(f.body, lane)
	return f
}

// I8x16Shuffle appends a shuffle with 16 lane indices.
func (f *Func) I8x16Shuffle(lanes [16]byte) *Func {
	f.Vec(wasm.OpcodeVecV128i8x16Shuffle)
	f.body = append(f.body, lanes[:]...)
	return f
}

// MemoryCopy and MemoryFill (bulk memory) with dst, src/val, n on the stack.
func (f *Func) MemoryCopy() *Func {
	f.Misc(wasm.OpcodeMiscMemoryCopy)
	f.body = append(f.body, 0, 0)
	return f
}

// MemoryInit copies from passive data segment seg (memory.init).
func (f *Func) MemoryInit(seg uint32) *Func {
	f.Misc(wasm.OpcodeMiscMemoryInit).u32(seg)
	f.body = append(f.body, 0)
	return f
}

// DataDrop releases passive data segment seg (data.drop).
func (f *Func) DataDrop(seg uint32) *Func { return f.Misc(wasm.OpcodeMiscDataDrop).u32(seg) }

func (f *Func) MemoryFill() *Func {
	f.Misc(wasm.OpcodeMiscMemoryFill)
	f.body = append(f.body, 0)
	return f
}

// Control flow. Blocks carry no result type unless given.
func (f *Func) Block() *Func { f.depth++; return f.Op(wasm.OpcodeBlock, 0x40) }
func (f *Func) Loop() *Func  { f.depth++; return f.Op(wasm.OpcodeLoop, 0x40) }
func (f *Func) If() *Func    { f.depth++; return f.Op(wasm.OpcodeIf, 0x40) }

// IfT opens an if whose arms yield a value of type t.
func (f *Func) IfT(t wasm.ValueType) *Func { f.depth++; return f.Op(wasm.OpcodeIf, t) }
func (f *Func) Else() *Func                { return f.Op(wasm.OpcodeElse) }
func (f *Func) End() *Func                 { f.depth--; return f.Op(wasm.OpcodeEnd) }
func (f *Func) Br(depth uint32) *Func      { f.body = append(f.body, wasm.OpcodeBr); return f.u32(depth) }
func (f *Func) BrIf(depth uint32) *Func {
	f.body = append(f.body, wasm.OpcodeBrIf)
	return f.u32(depth)
}
func (f *Func) Return() *Func { return f.Op(wasm.OpcodeReturn) }
func (f *Func) Call(idx uint32) *Func {
	f.body = append(f.body, wasm.OpcodeCall)
	f.calls = append(f.calls, len(f.body))
	return f.u32(idx)
}
func (f *Func) Drop() *Func        { return f.Op(wasm.OpcodeDrop) }
func (f *Func) Select() *Func      { return f.Op(wasm.OpcodeSelect) }
func (f *Func) Unreachable() *Func { return f.Op(wasm.OpcodeUnreachable) }

// Depth is the number of open blocks.
func (f *Func) Depth() int { return f.depth }

// Repeat emits body as a counted loop: i runs from 0 to n-1 (n > 0 known at
// compile time, so the loop is a do-while with one branch per iteration).
// For n == 1 the body is emitted once with i = 0.
func (f *Func) Repeat(i Local, n int, body func()) {
	f.ForStep(i, 0, n, 1, body)
}

// ForStep runs i = start, start+step, ... while i < end (compile-time
// bounds). Nothing is emitted when the range is empty.
func (f *Func) ForStep(i Local, start, end, step int, body func()) {
	if start >= end {
		return
	}
	f.SetI32(i, int32(start))
	if start+step >= end {
		body()
		return
	}
	f.Loop()
	body()
	f.Get(i).I32Const(int32(step)).Op(wasm.OpcodeI32Add).Tee(i).I32Const(int32(end)).Op(wasm.OpcodeI32LtS).BrIf(0)
	f.End()
}

// Counted runs body n times counting the local down to zero (no index is
// needed inside): cheapest loop form.
func (f *Func) Counted(c Local, n int, body func()) {
	if n <= 0 {
		return
	}
	if n == 1 {
		body()
		return
	}
	f.SetI32(c, int32(n))
	f.Loop32(c, body)
}

// V128Store32Lane and V128Store64Lane store one lane of the vector on the
// stack (stack: address, vector).
func (f *Func) V128Store32Lane(off uint32, lane byte) *Func {
	f.vmem(wasm.OpcodeVecV128Store32Lane, 2, off)
	f.body = append(f.body, lane)
	return f
}

func (f *Func) V128Store64Lane(off uint32, lane byte) *Func {
	f.vmem(wasm.OpcodeVecV128Store64Lane, 3, off)
	f.body = append(f.body, lane)
	return f
}

// Loop32 runs body while the i32 local c, counted down by one after each
// pass, stays non-zero: a loop whose count is known only at run time (it
// must be at least 1).
func (f *Func) Loop32(c Local, body func()) {
	f.Loop()
	body()
	f.Get(c).I32Const(1).Op(wasm.OpcodeI32Sub).Tee(c).BrIf(0)
	f.End()
}

// Divert makes f emit a new function with the given signature until the
// returned end is called; end returns that function and gives f its own
// body back. Code that holds f (closures of a kernel) thus emits into the
// new function meanwhile. Locals of f's own cannot be used in between.
func (f *Func) Divert(params, results []wasm.ValueType) (end func() *Func) {
	saved := *f
	*f = Func{Params: params, Results: results}
	return func() *Func {
		g := new(Func)
		*g = *f
		*f = saved
		return g
	}
}
