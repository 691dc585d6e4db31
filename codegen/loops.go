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
