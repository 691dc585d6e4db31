package codegen

import "github.com/mlc-compiler/mlc/ir"

// Workspace layout and plain memory helpers every kernel family uses.

func alignUp(n, a int) int { return (n + a - 1) / a * a }

// wsLayout places workspace buffers of sz-byte elements one after
// another, each on a 16-byte boundary; end is the bytes placed so far.
type wsLayout struct{ sz, end int }

// alloc places a buffer of n elements and returns its offset.
func (w *wsLayout) alloc(n int) int {
	at := w.end
	w.end += alignUp(n*w.sz, 16)
	return at
}

// copyElemBytes copies one element: stack dst, src.
func (k *Ctx) copyElemBytes(sz int32) {
	f := k.F
	switch sz {
	case 8:
		f.I64Load(0).I64Store(0)
	case 4:
		f.I32Load(0).I32Store(0)
	case 2:
		f.I32Load16U(0).I32Store16(0)
	default:
		f.I32Load8U(0).I32Store8(0)
	}
}

// zeroFill clears a value's memory.
func (k *Ctx) zeroFill(v *ir.Value) error {
	if b := v.Type.Bytes(); b > 0 {
		k.F.I32Const(k.Addr(v)).I32Const(0).I32Const(int32(b)).MemoryFill()
	}
	return nil
}
