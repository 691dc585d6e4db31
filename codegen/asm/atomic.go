package asm

import "github.com/tetratelabs/wabin/wasm"

// Threads proposal instructions (0xfe prefix): atomic loads, stores and
// read-modify-writes, and wait/notify. Their memarg alignment must be the
// natural one. wabin has no constants for them.
const atomicPrefix = 0xfe

// Atomic opcodes (after the 0xfe prefix).
const (
	atomicNotify     = 0x00
	atomicWait32     = 0x01
	atomicI32Load    = 0x10
	atomicI64Load    = 0x11
	atomicI32Store   = 0x17
	atomicI64Store   = 0x18
	atomicI32RmwAdd  = 0x1e
	atomicI64RmwAdd  = 0x1f
	atomicI32Cmpxchg = 0x48
	atomicI64Cmpxchg = 0x49
)

func (f *Func) atomic(op byte, align, off uint32) *Func {
	f.body = append(f.body, atomicPrefix, op)
	return f.u32(align).u32(off)
}

// I32AtomicLoad and the rest take the same operands as their plain forms.
func (f *Func) I32AtomicLoad(off uint32) *Func  { return f.atomic(atomicI32Load, 2, off) }
func (f *Func) I64AtomicLoad(off uint32) *Func  { return f.atomic(atomicI64Load, 3, off) }
func (f *Func) I32AtomicStore(off uint32) *Func { return f.atomic(atomicI32Store, 2, off) }
func (f *Func) I64AtomicStore(off uint32) *Func { return f.atomic(atomicI64Store, 3, off) }

// I32AtomicAdd (stack: address, value) leaves the old value.
func (f *Func) I32AtomicAdd(off uint32) *Func { return f.atomic(atomicI32RmwAdd, 2, off) }

// I64AtomicAdd (stack: address, value) leaves the old value.
func (f *Func) I64AtomicAdd(off uint32) *Func { return f.atomic(atomicI64RmwAdd, 3, off) }

// I32AtomicCmpxchg and I64AtomicCmpxchg (stack: address, expected,
// replacement) leave the old value; memory changed only if it was expected.
func (f *Func) I32AtomicCmpxchg(off uint32) *Func { return f.atomic(atomicI32Cmpxchg, 2, off) }
func (f *Func) I64AtomicCmpxchg(off uint32) *Func { return f.atomic(atomicI64Cmpxchg, 3, off) }

// MemoryAtomicWait32 (stack: address, expected i32, timeout i64 in ns, -1
// for none) blocks while the i32 at address equals expected and leaves 0
// (woken), 1 (not equal) or 2 (timed out).
func (f *Func) MemoryAtomicWait32(off uint32) *Func { return f.atomic(atomicWait32, 2, off) }

// MemoryAtomicNotify (stack: address, count) wakes up to count waiters on
// address and leaves how many it woke.
func (f *Func) MemoryAtomicNotify(off uint32) *Func { return f.atomic(atomicNotify, 2, off) }

// CallIndirect calls the function in table 0 at the index on top of the
// stack, with the signature typeIdx.
func (f *Func) CallIndirect(typeIdx uint32) *Func {
	f.body = append(f.body, wasm.OpcodeCallIndirect)
	return f.u32(typeIdx).u32(0)
}

// VecOp appends a SIMD instruction whose opcode does not fit wabin's byte
// type (relaxed SIMD's are 0x100 and up).
func (f *Func) VecOp(op uint32) *Func {
	f.body = append(f.body, wasm.OpcodeVecPrefix)
	return f.u32(op)
}
