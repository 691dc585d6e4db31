package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
)

// Loop forms built on Ctx.Parallel (emit_threads.go). Each leaves the
// single-threaded module's code exactly as it was.

// rowBlock is how many elements of one flat row make a unit of work when a
// row is cut across threads: a multiple of 16 (four f32x4 groups), so that
// every unit but the last runs the vector loop alone and the scalar tail
// stays where it was, in the last unit.
const rowBlock = 4096

// parallelNest is nest with its outermost dimension handed out to the
// threads (a flat loop is cut into blocks of rowBlock elements). Every
// element must be independent of the others. unitNs estimates the time of
// one element.
func (k *Ctx) parallelNest(shape []int, streams []stream, elemNs float64, inner func(ptrs []asm.Local, n int, strides []int)) {
	if k.Threads() == 1 {
		k.nest(shape, streams, inner)
		return
	}
	if len(shape) == 1 {
		k.parallelRow(shape[0], streams, elemNs, inner)
		return
	}
	rest := 1
	for _, d := range shape[1:] {
		rest *= d
	}
	k.Parallel(shape[0], elemNs*float64(rest), func(s Span) {
		if !s.Parallel() {
			k.nest(shape, streams, inner)
			return
		}
		f := s.F
		ptrs := make([]asm.Local, len(streams))
		for i, st := range streams {
			ptrs[i] = f.Local(asm.I32)
			s.Base(st.base, int32(st.strides[0]*st.size))
			f.Set(ptrs[i])
		}
		inStreams := make([]stream, len(streams))
		for i, st := range streams {
			inStreams[i] = stream{base: st.base, strides: st.strides[1:], size: st.size}
		}
		c := f.Local(asm.I32)
		s.Counted(c, func() {
			cur := make([]asm.Local, len(streams))
			for i := range streams {
				cur[i] = f.Local(asm.I32)
				f.Get(ptrs[i]).Set(cur[i])
			}
			k.nestFrom(shape[1:], inStreams, cur, inner)
			for i, st := range streams {
				if step := st.strides[0] * st.size; step != 0 {
					f.AddI32(ptrs[i], int32(step))
				}
			}
		})
	})
}

// copyBlock is the unit of work of a split memory.copy.
const copyBlock = 64 << 10

// parallelCopy copies n bytes from src to dst (compile-time addresses),
// split into blocks across the threads when long: one memory.copy
// otherwise, as before threads.
func (k *Ctx) parallelCopy(dst, src int32, n int) {
	units := (n + copyBlock - 1) / copyBlock
	k.Parallel(units, copyBlock*nsPerCopy, func(s Span) {
		f := s.F
		if !s.Parallel() {
			f.I32Const(dst).I32Const(src).I32Const(int32(n)).MemoryCopy()
			return
		}
		s.Base(dst, copyBlock)
		s.Base(src, copyBlock)
		// min(hi*block, n) - lo*block
		s.Hi()
		f.I32Const(copyBlock).Op(wasm.OpcodeI32Mul).I32Const(int32(n))
		s.Hi()
		f.I32Const(copyBlock).Op(wasm.OpcodeI32Mul).I32Const(int32(n)).Op(wasm.OpcodeI32LtS).Select()
		s.Lo()
		f.I32Const(copyBlock).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Sub)
		f.MemoryCopy()
	})
}

// parallelRow cuts one row of n elements into units of rowBlock elements
// (the last one shorter).
func (k *Ctx) parallelRow(n int, streams []stream, elemNs float64, inner func(ptrs []asm.Local, n int, strides []int)) {
	full, rem := n/rowBlock, n%rowBlock
	units := full
	if rem > 0 {
		units++
	}
	strides := make([]int, len(streams))
	for i, st := range streams {
		strides[i] = st.strides[0]
	}
	k.Parallel(units, elemNs*rowBlock, func(s Span) {
		if !s.Parallel() {
			k.nest([]int{n}, streams, inner)
			return
		}
		f := s.F
		ptrs := make([]asm.Local, len(streams))
		for i := range streams {
			ptrs[i] = f.Local(asm.I32)
		}
		u := f.Local(asm.I32)
		s.For(u, func() {
			// Each unit's pointers from its index: an inner that does not
			// advance them (a row copied by one memory.copy) would otherwise
			// redo the span's first unit and leave the rest unwritten.
			for i, st := range streams {
				f.Get(u).I32Const(int32(st.strides[0] * st.size * rowBlock)).Op(wasm.OpcodeI32Mul).I32Const(st.base).Op(wasm.OpcodeI32Add).Set(ptrs[i])
			}
			if rem == 0 {
				inner(ptrs, rowBlock, strides)
				return
			}
			f.Get(u).I32Const(int32(full)).Op(wasm.OpcodeI32LtS).If()
			inner(ptrs, rowBlock, strides)
			f.Else()
			inner(ptrs, rem, strides)
			f.End()
		})
	})
}
