package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
)

// Loops beyond asm's: one with a run-time bound, and nests over tensors
// whose shapes are known at compile time.

// firstErr keeps the first error of the emitters a loop body calls, since
// the body cannot return one.
type firstErr struct{ err error }

func (e *firstErr) check(err error) {
	if err != nil && e.err == nil {
		e.err = err
	}
}

// whileBelow runs body for i = 0, 1, ... while i < the value of local n (a
// run-time bound). exit is the depth of the enclosing block: body leaves
// the loop with Br(f.Depth() - exit).
func (k *Ctx) whileBelow(i, n asm.Local, body func(exit int)) {
	f := k.F
	f.I32Const(0).Set(i)
	f.Block()
	exit := f.Depth()
	f.Loop()
	f.Get(i).Get(n).Op(wasm.OpcodeI32GeS).BrIf(1)
	body(exit)
	f.AddI32(i, 1)
	f.Br(0)
	f.End()
	f.End()
}

// insertSlot is one step of an insertion sort over the i32 array at list
// whose first p entries are sorted: it moves up one place every entry the
// new item ranks before, from the end down, and leaves in p the slot the
// new item goes to. before pushes 1 when the new item ranks before the
// entry in local q.
func (k *Ctx) insertSlot(list uint32, p, q asm.Local, before func()) {
	f := k.F
	at := func(l asm.Local) { f.Get(l).I32Const(4).Op(wasm.OpcodeI32Mul) }
	f.Block()
	exit := f.Depth()
	f.Loop()
	f.Get(p).Op(wasm.OpcodeI32Eqz).BrIf(uint32(f.Depth() - exit))
	at(p)
	f.I32Load(list - 4).Set(q)
	before()
	f.Op(wasm.OpcodeI32Eqz).BrIf(uint32(f.Depth() - exit))
	at(p)
	f.Get(q).I32Store(list)
	f.AddI32(p, -1)
	f.Br(0)
	f.End()
	f.End()
}

// stream is one tensor walked by a loop nest.
type stream struct {
	base    int32 // address of element 0
	strides []int // element strides per dimension of the iteration shape
	size    int   // bytes per element
}

// collapse drops size-1 dimensions and merges neighbours that every stream
// walks contiguously, so most elementwise loops become one flat loop.
func collapse(shape []int, streams []stream) ([]int, []stream) {
	var outShape []int
	outStr := make([][]int, len(streams))
	for d, n := range shape {
		if n == 1 {
			continue
		}
		if len(outShape) > 0 {
			last := len(outShape) - 1
			ok := true
			for i, s := range streams {
				if outStr[i][last] != s.strides[d]*n {
					ok = false
					break
				}
			}
			if ok {
				outShape[last] *= n
				for i, s := range streams {
					outStr[i][last] = s.strides[d]
				}
				continue
			}
		}
		outShape = append(outShape, n)
		for i, s := range streams {
			outStr[i] = append(outStr[i], s.strides[d])
		}
	}
	if len(outShape) == 0 {
		outShape = []int{1}
		for i := range streams {
			outStr[i] = []int{0}
		}
	}
	out := make([]stream, len(streams))
	for i, s := range streams {
		out[i] = stream{base: s.base, strides: outStr[i], size: s.size}
	}
	return outShape, out
}

// nest emits loops over all but the last dimension of shape and calls inner
// with locals holding each stream's address at the start of the innermost
// row; inner emits the row itself (n elements, with the given strides).
func (k *Ctx) nest(shape []int, streams []stream, inner func(ptrs []asm.Local, n int, strides []int)) {
	f := k.F
	ptrs := make([]asm.Local, len(streams))
	for i, s := range streams {
		ptrs[i] = f.Local(asm.I32)
		f.I32Const(s.base).Set(ptrs[i])
	}
	k.nestFrom(shape, streams, ptrs, inner)
}

// nestFrom is nest from addresses held in ptrs (one per stream, which the
// loops advance); the streams' bases are not used.
func (k *Ctx) nestFrom(shape []int, streams []stream, ptrs []asm.Local, inner func(ptrs []asm.Local, n int, strides []int)) {
	f := k.F
	last := len(shape) - 1
	innerStrides := make([]int, len(streams))
	for i, s := range streams {
		innerStrides[i] = s.strides[last]
	}
	var level func(d int, base []asm.Local)
	level = func(d int, base []asm.Local) {
		if d == last {
			inner(base, shape[last], innerStrides)
			return
		}
		// Each level keeps its own copies so that inner levels may advance
		// their pointers freely.
		cur := make([]asm.Local, len(streams))
		for i := range streams {
			cur[i] = f.Local(asm.I32)
			f.Get(base[i]).Set(cur[i])
		}
		c := f.Local(asm.I32)
		f.Counted(c, shape[d], func() {
			next := make([]asm.Local, len(streams))
			for i := range streams {
				next[i] = f.Local(asm.I32)
				f.Get(cur[i]).Set(next[i])
			}
			level(d+1, next)
			for i, s := range streams {
				if st := s.strides[d] * s.size; st != 0 {
					f.Get(cur[i]).I32Const(int32(st)).Op(wasm.OpcodeI32Add).Set(cur[i])
				}
			}
		})
	}
	level(0, ptrs)
}

// copyRow copies n bytes (a compile-time count) from the address in src to
// the address in dst. Short rows are copied with unrolled v128 moves:
// memory.copy costs a call into the engine each time (V8 turns it into a
// memmove call), which dominated im2col of narrow images (oww_embedding).
func copyRow(f *asm.Func, simd bool, dst, src asm.Local, n int) {
	if !simd || n > 256 {
		f.Get(dst).Get(src).I32Const(int32(n)).MemoryCopy()
		return
	}
	copyBytes(f, dst, 0, src, 0, n)
	for off := n / 4 * 4; off < n; off++ {
		f.Get(dst).Get(src).I32Load8U(uint32(off)).I32Store8(uint32(off))
	}
}

// copyBytes copies n bytes (known at compile time) from src+so to dst+do
// in f32x4, i64 and i32 moves, up to the last whole four bytes.
func copyBytes(f *asm.Func, dst asm.Local, do int, src asm.Local, so, n int) {
	off := 0
	for ; off+16 <= n; off += 16 {
		f.Get(dst).Get(src).V128Load(uint32(so + off)).V128Store(uint32(do + off))
	}
	for ; off+8 <= n; off += 8 {
		f.Get(dst).Get(src).I64Load(uint32(so + off)).I64Store(uint32(do + off))
	}
	for ; off+4 <= n; off += 4 {
		f.Get(dst).Get(src).I32Load(uint32(so + off)).I32Store(uint32(do + off))
	}
}

// zeroBytes stores n zero bytes (a multiple of 4, known at compile time)
// at dst+do.
func zeroBytes(f *asm.Func, dst asm.Local, do, n int) {
	off := 0
	for ; off+16 <= n; off += 16 {
		f.Get(dst).V128Const([16]byte{}).V128Store(uint32(do + off))
	}
	for ; off+8 <= n; off += 8 {
		f.Get(dst).I64Const(0).I64Store(uint32(do + off))
	}
	for ; off+4 <= n; off += 4 {
		f.Get(dst).I32Const(0).I32Store(uint32(do + off))
	}
}

// storeLanes stores the first n (1..4, known at compile time) lanes of the
// f32x4 vector in v at the address in ptr.
func storeLanes(f *asm.Func, ptr, v asm.Local, n int) {
	switch n {
	case 4:
		f.Get(ptr).Get(v).V128Store(0)
	case 3:
		f.Get(ptr).Get(v).V128Store64Lane(0, 0)
		f.Get(ptr).Get(v).V128Store32Lane(8, 2)
	case 2:
		f.Get(ptr).Get(v).V128Store64Lane(0, 0)
	case 1:
		f.Get(ptr).Get(v).V128Store32Lane(0, 0)
	}
}

// copyPlane copies an H x W float32 plane from the address in src
// (advanced past it) into a bordered buffer of row width wp at
// buf + (top*wp + left) floats.
func copyPlane(f *asm.Func, buf, src asm.Local, H, W, wp, top, left int) {
	p, c := f.Local(asm.I32), f.Local(asm.I32)
	f.Get(buf).I32Const(int32((top*wp + left) * 4)).Op(wasm.OpcodeI32Add).Set(p)
	f.Counted(c, H, func() {
		copyRow(f, true, p, src, W*4)
		f.AddI32(p, int32(wp*4))
		f.AddI32(src, int32(W*4))
	})
}

// loadStrided leaves on the stack four float32s at in+off, one every
// stride (1 or 2) elements: a plain load, or two loads and a shuffle.
func loadStrided(f *asm.Func, in asm.Local, off uint32, stride int, hi asm.Local) {
	if stride == 1 {
		f.Get(in).V128Load(off)
		return
	}
	f.Get(in).V128Load(off + 16).Set(hi)
	f.Get(in).V128Load(off).Get(hi).I8x16Shuffle(evenLanes)
}

// storeLanesN is storeLanes with the lane count in a local at run time
// (4 or more stores the whole vector).
func storeLanesN(f *asm.Func, ptr, v, n asm.Local) {
	f.Get(n).I32Const(4).Op(wasm.OpcodeI32GeS).If()
	f.Get(ptr).Get(v).V128Store(0)
	f.Else()
	f.Get(n).I32Const(2).Op(wasm.OpcodeI32GeS).If()
	f.Get(ptr).Get(v).V128Store64Lane(0, 0)
	f.Get(n).I32Const(3).Op(wasm.OpcodeI32Eq).If()
	f.Get(ptr).Get(v).V128Store32Lane(8, 2)
	f.End()
	f.Else()
	f.Get(ptr).Get(v).V128Store32Lane(0, 0)
	f.End()
	f.End()
}
