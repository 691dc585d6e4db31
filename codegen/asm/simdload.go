package asm

import "github.com/tetratelabs/wabin/wasm"

// Extending loads: 8 bytes widened to i16x8.
func (f *Func) V128Load8x8S(off uint32) *Func { return f.vmem(wasm.OpcodeVecV128Load8x8s, 3, off) }
func (f *Func) V128Load8x8U(off uint32) *Func { return f.vmem(wasm.OpcodeVecV128Load8x8u, 3, off) }

// V128Load32Zero loads 4 bytes into lane 0 and zeroes the rest.
func (f *Func) V128Load32Zero(off uint32) *Func { return f.vmem(wasm.OpcodeVecV128Load32zero, 2, off) }

// V128Load16Splat loads 2 bytes into every 16-bit lane.
func (f *Func) V128Load16Splat(off uint32) *Func {
	return f.vmem(wasm.OpcodeVecV128Load16Splat, 1, off)
}

// V128Load16x4U loads 4 uint16 widened to i32x4.
func (f *Func) V128Load16x4U(off uint32) *Func { return f.vmem(wasm.OpcodeVecV128Load16x4u, 3, off) }
