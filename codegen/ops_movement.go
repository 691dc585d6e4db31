package codegen

import (
	"encoding/binary"
	"fmt"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Kernels of ir/ops_movement.go. The view ops (Slice, Split, Expand, Tile,
// DepthToSpace, SpaceToDepth) are one strided copy per output; Pad and
// CenterCropPad fill and then copy a region; the rest are small loops.

func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Slice) error { return k.slice(n, op) })
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Split) error { return k.views(n, op) })
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Expand) error { return k.views(n, op) })
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Tile) error { return k.views(n, op) })
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.DepthToSpace) error { return k.views(n, op) })
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.SpaceToDepth) error { return k.views(n, op) })
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Pad) error { return k.pad(n, op) })
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.CenterCropPad) error { return k.centerCropPad(n, op) })
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Where) error { return k.where(n) })
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Trilu) error { return k.trilu(n, op) })
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.ReverseSequence) error { return k.reverseSequence(n, op) })
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Range) error { return k.rangeKernel(n, op) })
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.OneHot) error { return k.oneHot(n, op) })
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.EyeLike) error { return k.eyeLike(n, op) })
}

// region is a strided set of elements of the tensor at addr: element
// (i0, i1, ...) is number off + sum(i_d * strides[d]).
type region struct {
	addr    int32
	off     int
	strides []int
}

// copyRegion copies shape-many elements of dtype dt from src to dst.
// Sub-byte types are moved element by element as raw bits, merging into
// the destination bytes.
func (k *Ctx) copyRegion(dt ir.DType, shape []int, dst, src region) error {
	return k.copyRegionFrom(dt, shape, dst, src, nil)
}

// copyRegionFrom is copyRegion with the source moved by the run-time
// element offset in dyn, when not nil.
func (k *Ctx) copyRegionFrom(dt ir.DType, shape []int, dst, src region, dyn *asm.Local) error {
	if dt == ir.String {
		return ir.NotSupportedf("moving string data in Wasm")
	}
	if ir.Shape(shape).Size() == 0 {
		return nil
	}
	f := k.F
	if dt.Bits() < 8 {
		raw := ir.Uint4
		if dt.Bits() == 2 {
			raw = ir.Uint2
		}
		// Streams count elements (size 1), not bytes.
		streams := []stream{{base: int32(dst.off), strides: dst.strides, size: 1}, {base: int32(src.off), strides: src.strides, size: 1}}
		cshape, cstreams := collapse(shape, streams)
		var err error
		k.nest(cshape, cstreams, func(ptrs []asm.Local, count int, st []int) {
			if dyn != nil {
				f.Get(ptrs[1]).Get(*dyn).Op(wasm.OpcodeI32Add).Set(ptrs[1])
			}
			v, c := f.Local(asm.I32), f.Local(asm.I32)
			f.Counted(c, count, func() {
				if e := k.loadElemAt(raw, src.addr, ptrs[1]); e != nil {
					err = e
				}
				f.Set(v)
				if e := k.storeElemAt(raw, dst.addr, ptrs[0], v); e != nil {
					err = e
				}
				f.AddI32(ptrs[0], int32(st[0]))
				f.AddI32(ptrs[1], int32(st[1]))
			})
		})
		return err
	}
	sz := elemBytes(dt)
	streams := []stream{
		{base: dst.addr + int32(dst.off*sz), strides: dst.strides, size: sz},
		{base: src.addr + int32(src.off*sz), strides: src.strides, size: sz},
	}
	cshape, cstreams := collapse(shape, streams)
	var dynBytes asm.Local
	if dyn != nil {
		dynBytes = f.Local(asm.I32)
		f.Get(*dyn).I32Const(int32(sz)).Op(wasm.OpcodeI32Mul).Set(dynBytes)
	}
	nest := k.nest
	if dyn == nil {
		// Rows copied whole stream; others move an element at a time.
		last := len(cshape) - 1
		elemNs := nsPerScalar
		if cstreams[0].strides[last] == 1 && cstreams[1].strides[last] == 1 {
			elemNs = float64(2*sz) * nsPerCopy
		}
		nest = func(shape []int, streams []stream, inner func(ptrs []asm.Local, n int, strides []int)) {
			k.parallelNest(shape, streams, elemNs, inner)
		}
	}
	nest(cshape, cstreams, func(ptrs []asm.Local, count int, st []int) {
		if dyn != nil {
			f.Get(ptrs[1]).Get(dynBytes).Op(wasm.OpcodeI32Add).Set(ptrs[1])
		}
		if st[0] == 1 && st[1] == 1 {
			f.Get(ptrs[0]).Get(ptrs[1]).I32Const(int32(count * sz)).MemoryCopy()
			return
		}
		c := f.Local(asm.I32)
		f.Counted(c, count, func() {
			f.Get(ptrs[0]).Get(ptrs[1])
			k.copyElemBytes(int32(sz))
			f.AddI32(ptrs[0], int32(st[0]*sz))
			f.AddI32(ptrs[1], int32(st[1]*sz))
		})
	})
	return nil
}

// zeroTail clears the last byte of a sub-byte tensor whose element count
// leaves padding bits in it, so that element-wise stores leave them zero.
func (k *Ctx) zeroTail(y *ir.Value) {
	dt := y.Type.DType
	if dt.Bits() >= 8 || y.Type.Shape.Size()%subBytePerByte(dt) == 0 {
		return
	}
	k.F.I32Const(k.Addr(y) + int32(y.Type.Bytes()-1)).I32Const(0).I32Store8(0)
}

// views copies every output of a Viewer op from its view of input 0.
func (k *Ctx) views(n *ir.Node, op ir.Viewer) error {
	views, err := op.Views(n.Inputs)
	if err != nil {
		return err
	}
	x := n.Inputs[0]
	for i, v := range views {
		y := n.Outputs[i]
		if y == nil {
			continue
		}
		k.zeroTail(y)
		if err := k.copyRegion(x.Type.DType, v.Shape, region{k.Addr(y), 0, v.Shape.Strides()}, region{k.Addr(x), v.Base, v.Strides}); err != nil {
			return err
		}
	}
	return nil
}

// slice copies a Slice. With run-time starts or ends it resolves each
// bound as ONNX does (negative from the end, clamped to the axis), fails
// the run unless the slice has the static output shape, and copies from
// the resolved start.
func (k *Ctx) slice(n *ir.Node, op *ir.Slice) error {
	starts, ends := n.In(1), n.In(2)
	if starts.Const != nil && ends.Const != nil {
		return k.views(n, op)
	}
	axes, steps, err := op.RunTimeBounds(n.Inputs)
	if err != nil {
		return err
	}
	x, y := n.Inputs[0], n.Outputs[0]
	xs, ys := x.Type.Shape, y.Type.Shape
	st := xs.Strides()
	srcStrides := append([]int{}, st...)
	f := k.F
	off := f.Local(asm.I32)
	f.I32Const(0).Set(off)
	b, e := f.Local(asm.I64), f.Local(asm.I64)
	for i, a := range axes {
		step, dim, want := int64(steps[i]), int64(xs[a]), ys[a]
		srcStrides[a] = st[a] * steps[i]
		lo, hi := int64(0), dim
		if step < 0 {
			lo, hi = -1, dim-1
		}
		for j, bound := range []asm.Local{b, e} {
			v := []*ir.Value{starts, ends}[j]
			f.I32Const(k.Addr(v))
			k.loadAs(v.Type.DType, uint32(i*elemBytes(v.Type.DType)), asm.I64)
			f.Set(bound)
			f.Get(bound).I64Const(dim).Op(wasm.OpcodeI64Add).Get(bound).Get(bound).I64Const(0).Op(wasm.OpcodeI64LtS).Select().Set(bound)
			f.I64Const(lo).Get(bound).Get(bound).I64Const(lo).Op(wasm.OpcodeI64LtS).Select().Set(bound)
			f.I64Const(hi).Get(bound).Get(bound).I64Const(hi).Op(wasm.OpcodeI64GtS).Select().Set(bound)
		}
		// The length: ceil(distance / |step|) when the bounds go the
		// step's way, else 0; |step| above the axis length acts as length+1.
		mag := min(max(step, -step), dim+1)
		first, last := e, b
		if step < 0 {
			first, last = b, e
		}
		f.Get(first).Get(last).Op(wasm.OpcodeI64Sub).I64Const(mag - 1).Op(wasm.OpcodeI64Add).I64Const(mag).Op(wasm.OpcodeI64DivS)
		f.I64Const(0)
		f.Get(first).Get(last).Op(wasm.OpcodeI64GtS).Select()
		f.I64Const(int64(want)).Op(wasm.OpcodeI64Ne)
		k.Fail(abi.ErrShapeMismatch)
		if want > 0 {
			f.Get(off).Get(b).Op(wasm.OpcodeI32WrapI64).I32Const(int32(st[a])).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(off)
		}
	}
	k.zeroTail(y)
	return k.copyRegionFrom(x.Type.DType, ys, region{k.Addr(y), 0, ys.Strides()}, region{k.Addr(x), 0, srcStrides}, &off)
}

// fillFrom sets every element of y to the element at address src (a
// run-time value): one copy, then copies doubling the filled prefix.
func (k *Ctx) fillFrom(y *ir.Value, src int32) error {
	dt := y.Type.DType
	if dt.Bits() < 8 || dt == ir.String {
		return ir.NotSupportedf("filling %s from a run-time value", dt)
	}
	total := y.Type.Bytes()
	if total == 0 {
		return nil
	}
	f := k.F
	sz := elemBytes(dt)
	dst := k.Addr(y)
	f.I32Const(dst).I32Const(src).I32Const(int32(sz)).MemoryCopy()
	for done := sz; done < total; done *= 2 {
		f.I32Const(dst + int32(done)).I32Const(dst).I32Const(int32(min(done, total-done))).MemoryCopy()
	}
	return nil
}

// fillValue sets every element of y to v, a constant or run-time scalar
// (nil: zero).
func (k *Ctx) fillValue(y, v *ir.Value) error {
	switch {
	case v == nil || (v.Const != nil && allZero(v.Const.Data)):
		k.zeroValue(y)
		return nil
	case v.Const != nil:
		return k.fill(y, v.Const)
	}
	return k.fillFrom(y, k.Addr(v))
}

// zeroValue sets every byte of y to zero.
func (k *Ctx) zeroValue(y *ir.Value) {
	if b := y.Type.Bytes(); b > 0 {
		k.F.I32Const(k.Addr(y)).I32Const(0).I32Const(int32(b)).MemoryFill()
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func (k *Ctx) pad(n *ir.Node, op *ir.Pad) error {
	x, y := n.Inputs[0], n.Outputs[0]
	dims, err := op.Dims(n.Inputs)
	if err != nil {
		return err
	}
	if y.Type.Shape.Size() == 0 {
		return nil
	}
	dt := x.Type.DType
	xs, ys := x.Type.Shape.Strides(), y.Type.Shape.Strides()
	if op.Mode == ir.PadConstant {
		if err := k.fillValue(y, n.In(2)); err != nil {
			return err
		}
		shape := make([]int, len(dims))
		var src, dst region
		src, dst = region{addr: k.Addr(x), strides: xs}, region{addr: k.Addr(y), strides: ys}
		for d, pd := range dims {
			shape[d] = pd.N
			src.off += pd.Lo * xs[d]
			dst.off += pd.Before * ys[d]
		}
		return k.copyRegion(dt, shape, dst, src)
	}
	if dt.Bits() < 8 || dt == ir.String {
		return ir.NotSupportedf("Pad mode %s of %s", op.Mode, dt)
	}
	// Every output index of each dimension reads a precomputed input
	// offset: one small table per dimension.
	sz := elemBytes(dt)
	tableBytes := 0.0
	for _, pd := range dims {
		tableBytes += 4 * float64(pd.Out)
	}
	if err := ir.CheckAlloc("Pad's index tables", tableBytes); err != nil {
		return err
	}
	tables := make([]int32, len(dims))
	for d, pd := range dims {
		data := make([]byte, 4*pd.Out)
		for o := range pd.Out {
			binary.LittleEndian.PutUint32(data[4*o:], uint32(pd.Src(op.Mode, o)*xs[d]*sz))
		}
		tables[d] = k.Table("bytes:"+string(data), data)
	}
	f := k.F
	py := f.Local(asm.I32)
	f.I32Const(k.Addr(y)).Set(py)
	if len(dims) == 0 {
		f.Get(py).I32Const(k.Addr(x))
		k.copyElemBytes(int32(sz))
		return nil
	}
	last := len(dims) - 1
	var level func(d int, base asm.Local)
	level = func(d int, base asm.Local) {
		i, s := f.Local(asm.I32), f.Local(asm.I32)
		if d < last {
			f.Repeat(i, dims[d].Out, func() {
				f.Get(base).Get(i).I32Const(2).Op(wasm.OpcodeI32Shl).I32Load(uint32(tables[d])).Op(wasm.OpcodeI32Add).Set(s)
				level(d+1, s)
			})
			return
		}
		// Innermost row: padding through the table, the kept run at once.
		pd := dims[d]
		border := func(from, to int) {
			f.ForStep(i, from, to, 1, func() {
				f.Get(py).Get(base).Get(i).I32Const(2).Op(wasm.OpcodeI32Shl).I32Load(uint32(tables[d])).Op(wasm.OpcodeI32Add)
				k.copyElemBytes(int32(sz))
				f.AddI32(py, int32(sz))
			})
		}
		border(0, pd.Before)
		if pd.N > 0 {
			f.Get(py).Get(base).I32Const(int32(pd.Lo * xs[d] * sz)).Op(wasm.OpcodeI32Add).I32Const(int32(pd.N * sz)).MemoryCopy()
			f.AddI32(py, int32(pd.N*sz))
		}
		border(pd.Before+pd.N, pd.Out)
	}
	base := f.Local(asm.I32)
	f.I32Const(k.Addr(x)).Set(base)
	level(0, base)
	return nil
}

func (k *Ctx) centerCropPad(n *ir.Node, op *ir.CenterCropPad) error {
	x, y := n.Inputs[0], n.Outputs[0]
	out, inStart, outStart, err := op.Dims(n.Inputs)
	if err != nil {
		return err
	}
	k.zeroValue(y)
	xs, ys := x.Type.Shape.Strides(), out.Strides()
	shape := make([]int, len(out))
	src, dst := region{addr: k.Addr(x), strides: xs}, region{addr: k.Addr(y), strides: ys}
	for d := range out {
		shape[d] = min(out[d], x.Type.Shape[d])
		src.off += inStart[d] * xs[d]
		dst.off += outStart[d] * ys[d]
	}
	return k.copyRegion(x.Type.DType, shape, dst, src)
}

// rawDType is an integer dtype of dt's width, to move elements unchanged.
func rawDType(dt ir.DType) (ir.DType, error) {
	switch {
	case dt == ir.String || dt.Bits() < 8:
		return 0, ir.NotSupportedf("%s elements in this kernel", dt)
	case dt.Bits() == 8:
		return ir.Uint8, nil
	case dt.Bits() == 16:
		return ir.Uint16, nil
	case dt.Bits() == 32:
		return ir.Uint32, nil
	}
	return ir.Uint64, nil
}

// where selects raw element bits, so every dtype (and NaN payload) passes
// through unchanged.
func (k *Ctx) where(n *ir.Node) error {
	raw, err := rawDType(n.Outputs[0].Type.DType)
	if err != nil {
		return err
	}
	if raw == ir.Uint32 && k.SIMD() {
		k.where32x4(n)
		return nil
	}
	f := k.F
	return k.elementwise(n, ewFn{in: []ir.DType{ir.Bool, raw, raw}, out: raw, emit: func(a []asm.Local, _ bool) error {
		f.Get(a[1]).Get(a[2]).Get(a[0]).Select()
		return nil
	}})
}

// where32x4 is Where on 4-byte elements with rows of four lanes: four
// condition bytes widen to a lane mask for v128.bitselect.
func (k *Ctx) where32x4(n *ir.Node) {
	f := k.F
	y := n.Outputs[0]
	shape := y.Type.Shape
	if shape.Size() == 0 {
		return
	}
	streams := []stream{{base: k.Addr(y), strides: shape.Strides(), size: 4}}
	for i, v := range n.Inputs {
		streams = append(streams, stream{base: k.Addr(v), strides: ir.BroadcastStrides(v.Type.Shape, shape), size: []int{1, 4, 4}[i]})
	}
	cshape, cstreams := collapse(shape, streams)
	k.nest(cshape, cstreams, func(ptrs []asm.Local, count int, st []int) {
		done := 0
		vec := count >= 4 && st[0] == 1
		for _, s := range st[1:] {
			vec = vec && (s == 0 || s == 1)
		}
		if vec {
			// Broadcast operands become vectors once, before the loop.
			vs := make([]asm.Local, 3)
			for i := range vs {
				vs[i] = f.Local(asm.V128)
				if st[i+1] == 0 {
					k.whereLanes(i, ptrs[i+1], true)
					f.Set(vs[i])
				}
			}
			c := f.Local(asm.I32)
			f.Counted(c, count/4, func() {
				f.Get(ptrs[0])
				for _, i := range []int{1, 2, 0} {
					if st[i+1] == 0 {
						f.Get(vs[i])
					} else {
						k.whereLanes(i, ptrs[i+1], false)
					}
				}
				f.Vec(wasm.OpcodeVecV128Bitselect).V128Store(0)
				f.AddI32(ptrs[0], 16)
				for i := 1; i < 4; i++ {
					if st[i] == 1 {
						f.AddI32(ptrs[i], int32(4*streams[i].size))
					}
				}
			})
			done = count / 4 * 4
		}
		c := f.Local(asm.I32)
		f.Counted(c, count-done, func() {
			f.Get(ptrs[0]).Get(ptrs[2]).I32Load(0).Get(ptrs[3]).I32Load(0).Get(ptrs[1]).I32Load8U(0).Select().I32Store(0)
			for i, p := range ptrs {
				if d := st[i] * streams[i].size; d != 0 {
					f.AddI32(p, int32(d))
				}
			}
		})
	})
}

// whereLanes pushes four lanes of Where operand i (0 the condition, as a
// mask; 1 and 2 the values) read at p: four consecutive ones, or one
// splat when splat is set.
func (k *Ctx) whereLanes(i int, p asm.Local, splat bool) {
	f := k.F
	if i > 0 {
		if splat {
			f.Get(p).I32Load(0).Vec(wasm.OpcodeVecI32x4Splat)
		} else {
			f.Get(p).V128Load(0)
		}
		return
	}
	if splat {
		// 0 or -1 in every lane
		f.I32Const(0).Get(p).I32Load8U(0).I32Const(0).Op(wasm.OpcodeI32Ne).Op(wasm.OpcodeI32Sub).Vec(wasm.OpcodeVecI32x4Splat)
		return
	}
	// bytes b0..b3 -> 0x00/0xff -> sign-extended to 32-bit lanes
	f.Get(p).I32Load(0).Vec(wasm.OpcodeVecI32x4Splat).I32x4Const(0).Vec(wasm.OpcodeVecI8x16Ne)
	f.Vec(wasm.OpcodeVecI16x8ExtendLowI8x16S).Vec(wasm.OpcodeVecI32x4ExtendLowI16x8S)
}

// trilu copies each row's kept columns and zeroes the others; k may be a
// run-time value, so the split column is computed per row.
func (k *Ctx) trilu(n *ir.Node, op *ir.Trilu) error {
	x, y := n.Inputs[0], n.Outputs[0]
	dt := x.Type.DType
	if err := byteMovable("Trilu", dt); err != nil {
		return err
	}
	s := x.Type.Shape
	rows, cols := s[len(s)-2], s[len(s)-1]
	batch := s[:len(s)-2].Size()
	if batch*rows*cols == 0 {
		return nil
	}
	f := k.F
	sz := int32(elemBytes(dt))
	kk, split, px, py, i, b := f.Local(asm.I64), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	if kv := n.In(1); kv != nil {
		// Clamped to [-rows-1, cols+1], which changes no result, so that
		// i+k below cannot overflow.
		f.I32Const(k.Addr(kv)).I64Load(0).Set(kk)
		f.I64Const(int64(-rows - 1)).Get(kk).Get(kk).I64Const(int64(-rows - 1)).Op(wasm.OpcodeI64LtS).Select().Set(kk)
		f.I64Const(int64(cols + 1)).Get(kk).Get(kk).I64Const(int64(cols + 1)).Op(wasm.OpcodeI64GtS).Select().Set(kk)
	}
	// upper keeps columns j >= i+k; lower keeps j <= i+k, i.e. j < i+k+1.
	bias := int64(0)
	if !op.Upper {
		bias = 1
	}
	f.I32Const(k.Addr(x)).Set(px)
	f.I32Const(k.Addr(y)).Set(py)
	rowBytes := int32(cols) * sz
	f.Counted(b, batch, func() {
		f.Repeat(i, rows, func() {
			// split = clamp(i + k + bias, 0, cols), in i64 so that any k works
			t := f.Local(asm.I64)
			f.Get(i).Op(wasm.OpcodeI64ExtendI32U).Get(kk).Op(wasm.OpcodeI64Add).I64Const(bias).Op(wasm.OpcodeI64Add).Set(t)
			f.I64Const(0).Get(t).Get(t).I64Const(0).Op(wasm.OpcodeI64LtS).Select().Set(t)
			f.I64Const(int64(cols)).Get(t).Get(t).I64Const(int64(cols)).Op(wasm.OpcodeI64GtS).Select()
			f.Op(wasm.OpcodeI32WrapI64).I32Const(sz).Op(wasm.OpcodeI32Mul).Set(split)
			zeroFirst := op.Upper
			// [0, split) and [split, row)
			f.Get(py).Get(px)
			if zeroFirst {
				f.Drop().I32Const(0).Get(split).MemoryFill()
			} else {
				f.Get(split).MemoryCopy()
			}
			f.Get(py).Get(split).Op(wasm.OpcodeI32Add)
			if zeroFirst {
				f.Get(px).Get(split).Op(wasm.OpcodeI32Add).I32Const(rowBytes).Get(split).Op(wasm.OpcodeI32Sub).MemoryCopy()
			} else {
				f.I32Const(0).I32Const(rowBytes).Get(split).Op(wasm.OpcodeI32Sub).MemoryFill()
			}
			f.AddI32(px, rowBytes)
			f.AddI32(py, rowBytes)
		})
	})
	return nil
}

func (k *Ctx) reverseSequence(n *ir.Node, op *ir.ReverseSequence) error {
	x, lens, y := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	dt := x.Type.DType
	if err := byteMovable("ReverseSequence", dt); err != nil {
		return err
	}
	s := x.Type.Shape
	if s.Size() == 0 {
		return nil
	}
	f := k.F
	sz := int32(elemBytes(dt))
	st := s.Strides()
	steps, batches := s[op.TimeAxis], s[op.BatchAxis]
	block := int32(s[2:].Size()) * sz
	bStride, tStride := int32(st[op.BatchAxis])*sz, int32(st[op.TimeAxis])*sz
	px, py, pl, b, t, ln, src := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(k.Addr(x)).Set(px)
	f.I32Const(k.Addr(y)).Set(py)
	f.I32Const(k.Addr(lens)).Set(pl)
	f.Counted(b, batches, func() {
		k.loadIndex(lens.Type.DType, pl)
		f.Tee(ln).I32Const(int32(steps)).Op(wasm.OpcodeI32GtU) // negative lengths too
		k.Fail(abi.ErrIndexOutOfRange)
		f.Repeat(t, steps, func() {
			// source step: len-1-t inside the sequence, t after it
			f.Get(ln).I32Const(1).Op(wasm.OpcodeI32Sub).Get(t).Op(wasm.OpcodeI32Sub).Get(t)
			f.Get(t).Get(ln).Op(wasm.OpcodeI32LtS).Select().Set(src)
			f.Get(py).Get(t).I32Const(tStride).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
			f.Get(px).Get(src).I32Const(tStride).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
			f.I32Const(block).MemoryCopy()
		})
		f.AddI32(px, bStride)
		f.AddI32(py, bStride)
		f.AddI32(pl, int32(elemBytes(lens.Type.DType)))
	})
	return nil
}

func (k *Ctx) rangeKernel(n *ir.Node, op *ir.Range) error {
	y := n.Outputs[0]
	dt := y.Type.DType
	start, _, delta, count, err := ir.RangeArgs(n.Inputs)
	if err != nil {
		return err
	}
	if count == 0 {
		return nil
	}
	f := k.F
	ct, err := computeType(dt)
	if err != nil {
		return err
	}
	p, i := f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(k.Addr(y)).Set(p)
	sz := int32(elemBytes(dt))
	if dt.IsInt() {
		// A running sum wraps exactly like start + i*delta.
		v := f.Local(ct)
		a, d := n.Inputs[0].Const.Int(0), n.Inputs[2].Const.Int(0)
		intConst(f, ct, a)
		f.Set(v)
		c := f.Local(asm.I32)
		f.Counted(c, count, func() {
			f.Get(p).Get(v)
			k.storeElem(dt, 0)
			f.Get(v)
			intConst(f, ct, d)
			f.Op(iop(ct, wasm.OpcodeI32Add, wasm.OpcodeI64Add)).Set(v)
			f.AddI32(p, sz)
		})
		return nil
	}
	// start + i*delta in the stash precision, then rounded like a Cast.
	stash := asm.F64
	if op.Stash == ir.Float32 {
		stash = asm.F32
	}
	v := f.Local(stash)
	var castErr error
	f.Repeat(i, count, func() {
		f.Get(i)
		convert(f, asm.I32, stash, false)
		constOf(f, stash, delta)
		f.Op(map[bool]wasm.Opcode{true: wasm.OpcodeF32Mul, false: wasm.OpcodeF64Mul}[stash == asm.F32])
		constOf(f, stash, start)
		f.Op(map[bool]wasm.Opcode{true: wasm.OpcodeF32Add, false: wasm.OpcodeF64Add}[stash == asm.F32]).Set(v)
		f.Get(p)
		src := ir.Float64
		if stash == asm.F32 {
			src = ir.Float32
		}
		if e := k.castValue(src, dt, &ir.Cast{To: dt, Saturate: true}, v); e != nil {
			castErr = e
		}
		if e := k.storeElem(dt, 0); e != nil {
			castErr = e
		}
		f.AddI32(p, sz)
	})
	return castErr
}

func (k *Ctx) oneHot(n *ir.Node, op *ir.OneHot) error {
	idx, vals, y := n.Inputs[0], n.Inputs[2], n.Outputs[0]
	_, axis, depth, err := op.Layout(n.Inputs)
	if err != nil {
		return err
	}
	dt := y.Type.DType
	if err := byteMovable("OneHot", dt); err != nil {
		return err
	}
	if y.Type.Shape.Size() == 0 {
		return nil
	}
	f := k.F
	sz := int32(elemBytes(dt))
	var off *ir.Value
	if vals.Const != nil {
		t := ir.NewTensor(dt, ir.Shape{})
		copy(t.Data, vals.Const.Data[:sz])
		off = ir.NewConst(vals.Name+"/off", t)
		if err := k.fillValue(y, off); err != nil {
			return err
		}
	} else if err := k.fillFrom(y, k.Addr(vals)); err != nil {
		return err
	}
	is := idx.Type.Shape
	outer, inner := is[:axis].Size(), is[axis:].Size()
	idt := idx.Type.DType
	ict, err := computeType(idt)
	if err != nil {
		return err
	}
	pi, po, a, b, v := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I64)
	raw := f.Local(ict)
	f.I32Const(k.Addr(idx)).Set(pi)
	f.I32Const(k.Addr(y)).Set(po)
	f.Counted(a, outer, func() {
		f.Counted(b, inner, func() {
			f.Get(pi)
			k.loadElem(idt, 0)
			f.Set(raw)
			f.Get(raw)
			if idt.IsFloat() {
				convert(f, ict, asm.I64, false) // truncate, saturating
			} else {
				convert(f, ict, asm.I64, idt.IsUnsigned())
			}
			f.Set(v)
			if op.NegativeIndices {
				f.Get(v).I64Const(int64(depth)).Op(wasm.OpcodeI64Add).Get(v).Get(v).I64Const(0).Op(wasm.OpcodeI64LtS).Select().Set(v)
			}
			f.Get(v).I64Const(int64(depth)).Op(wasm.OpcodeI64LtU).If()
			f.Get(po).Get(v).Op(wasm.OpcodeI32WrapI64).I32Const(int32(inner) * sz).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
			f.I32Const(k.Addr(vals) + sz)
			k.copyElemBytes(sz)
			f.End()
			f.AddI32(pi, int32(elemBytes(idt)))
			f.AddI32(po, sz)
		})
		f.AddI32(po, int32(inner*(depth-1))*sz)
	})
	return nil
}

func (k *Ctx) eyeLike(n *ir.Node, op *ir.EyeLike) error {
	y := n.Outputs[0]
	dt := y.Type.DType
	if err := byteMovable("EyeLike", dt); err != nil {
		return err
	}
	f := k.F
	k.zeroValue(y)
	rows, cols := y.Type.Shape[0], y.Type.Shape[1]
	first, last := max(0, -op.K), min(rows, cols-op.K)
	if last <= first {
		return nil
	}
	one := ir.NewTensor(dt, ir.Shape{})
	one.SetFloat(0, 1)
	sz := int32(elemBytes(dt))
	p, c := f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(k.Addr(y) + int32(first*cols+first+op.K)*sz).Set(p)
	f.Counted(c, last-first, func() {
		f.Get(p)
		storeBits(f, one.Data)
		f.AddI32(p, int32(cols+1)*sz)
	})
	return nil
}

// storeBits stores the little-endian bytes b (1, 2, 4 or 8 of them) to the
// address on the stack.
func storeBits(f *asm.Func, b []byte) {
	switch len(b) {
	case 1:
		f.I32Const(int32(b[0])).I32Store8(0)
	case 2:
		f.I32Const(int32(binary.LittleEndian.Uint16(b))).I32Store16(0)
	case 4:
		f.I32Const(int32(binary.LittleEndian.Uint32(b))).I32Store(0)
	case 8:
		f.I64Const(int64(binary.LittleEndian.Uint64(b))).I64Store(0)
	default:
		panic(fmt.Sprintf("storeBits of %d bytes", len(b)))
	}
}
