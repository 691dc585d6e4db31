package codegen

import (
	"fmt"
	"slices"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Convolution as im2col + GEMM over N spatial dimensions: the input is
// copied once into a zero-padded buffer, the columns gathered from it
// without bounds checks, and W[M/g, C/g*k] x col[C/g*k, P] gives the
// output of each group directly in NCHW order.

type convPlan struct {
	g                *ir.Geometry
	N, C, M, group   int
	cg, mg, kSize, P int
	padded           []int // padded spatial sizes
	padBytes         int   // one image, all channels, padded
	colBytes         int   // one group's column matrix
	direct           bool  // 1x1, stride 1, no padding: the input is the column matrix
}

func planConv(n *ir.Node, op *ir.Conv) (*convPlan, error) {
	x, w := n.Inputs[0].Type.Shape, n.Inputs[1].Type.Shape
	g, err := op.Geometry(x, w)
	if err != nil {
		return nil, err
	}
	p := &convPlan{g: g, N: x[0], C: x[1], M: w[0], group: op.Group}
	p.cg, p.mg = p.C/p.group, p.M/p.group
	p.kSize = ir.Shape(g.Kernel).Size()
	p.P = ir.Shape(g.Out).Size()
	p.direct = true
	p.padded = make([]int, len(g.In))
	for d := range g.In {
		// The padded extent covers every window position, ceil-mode style.
		need := (g.Out[d]-1)*g.Strides[d] + (g.Kernel[d]-1)*g.Dilations[d] + 1
		p.padded[d] = max(g.In[d]+g.PadBegin[d]+g.PadEnd[d], need)
		if g.Kernel[d] != 1 || g.Strides[d] != 1 || g.PadBegin[d] != 0 || g.PadEnd[d] != 0 {
			p.direct = false
		}
	}
	sz := 4
	if dt := n.Inputs[0].Type.DType; dt.Bits() >= 8 {
		sz = elemBytes(dt)
	}
	if !p.direct {
		// Without padding (a strided 1x1 layer: resnets' downsamples) the
		// padded image is the input itself: col is gathered from it in
		// place and no padded copy is planned.
		if !p.inPlace() {
			p.padBytes = alignUp(p.C*ir.Shape(p.padded).Size()*sz, 16)
		}
		p.colBytes = alignUp(p.cg*p.kSize*p.P*sz, 16)
	}
	return p, nil
}

// inPlace reports whether col is gathered from the input itself: no
// padding, so the padded image would be a copy of the input.
func (p *convPlan) inPlace() bool { return !p.direct && !gatherCopy && unpadded(p) }

// gatherCopy (tests only) makes convolutions without padding gather col
// from a copy of their input, as before they read it in place.
var gatherCopy bool

func init() {
	registerWorkspace(func(n *ir.Node, op *ir.Conv) int {
		p, err := planConv(n, op)
		if err != nil {
			return 0
		}
		return p.padBytes + p.colBytes
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Conv) error { return k.convGeneric(n, op) })
	ir.DeclareKernelDTypes[*ir.Conv](convDTypes...)
}

// convDTypes are what convGeneric (and so Conv) computes on.
var convDTypes = []ir.DType{ir.Float16, ir.Float32, ir.Float64}

// convGeneric is im2col + emitMatMul for every float dtype, group and
// rank: the path for what the packed kernels do not cover.
func (k *Ctx) convGeneric(n *ir.Node, op *ir.Conv) error {
	p, err := planConv(n, op)
	if err != nil {
		return err
	}
	x, w, out := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	dt := x.Type.DType
	if !slices.Contains(convDTypes, dt) {
		return ir.NotSupportedf("Conv on %s", dt)
	}
	if out.Type.Shape.Size() == 0 {
		return nil
	}
	sz := int32(elemBytes(dt))
	f := k.F
	pa, pb, pc, img := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	xImg := int32(p.C * ir.Shape(p.g.In).Size())
	padBuf := k.WorkspaceAddr()
	colBuf := padBuf + int32(p.padBytes)
	nc := f.Local(asm.I32)
	f.SetI32(img, 0)
	var err2 error
	f.Counted(nc, p.N, func() {
		xBase := f.Local(asm.I32)
		f.Get(img).I32Const(xImg * sz).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(x)).Op(wasm.OpcodeI32Add).Set(xBase)
		var src func()
		if !p.direct {
			src = k.im2colSource(p, xBase, padBuf, sz)
		}
		gc := f.Local(asm.I32)
		gi := f.Local(asm.I32)
		f.SetI32(gi, 0)
		f.Counted(gc, p.group, func() {
			if p.direct {
				// col = the group's channels of the image itself
				f.Get(xBase).Get(gi).I32Const(int32(p.cg*p.P) * sz).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(pb)
			} else {
				k.im2colFrom(src, gi, colBuf, p, sz)
				f.I32Const(colBuf).Set(pb)
			}
			f.I32Const(k.Addr(w)).Get(gi).I32Const(int32(p.mg*p.cg*p.kSize) * sz).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(pa)
			// out + (img*M + gi*mg) * P
			f.Get(img).I32Const(int32(p.M)).Op(wasm.OpcodeI32Mul).Get(gi).I32Const(int32(p.mg)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
			f.I32Const(int32(p.P) * sz).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(out)).Op(wasm.OpcodeI32Add).Set(pc)
			if e := k.emitMatMul(mm{M: p.mg, K: p.cg * p.kSize, N: p.P, dt: dt, a: matrix{pa, p.cg * p.kSize, 1}, b: matrix{pb, p.P, 1}, c: pc}); e != nil {
				err2 = e
			}
			f.AddI32(gi, 1)
		})
		f.AddI32(img, 1)
	})
	if err2 != nil {
		return err2
	}
	if b := n.In(2); b != nil {
		return k.addChannelBias(out, b)
	}
	return nil
}

// padCopy copies C channels of spatial size g.In from src into dst laid out
// with the padded sizes, the border filled with fill (zero when nil; the
// buffer is cleared first).
func (k *Ctx) padCopy(src asm.Local, dst int32, C int, g *ir.Geometry, padded []int, sz int32, fill *float32) {
	f := k.F
	total := int32(C*ir.Shape(padded).Size()) * sz
	if fill == nil {
		f.I32Const(dst).I32Const(0).I32Const(total).MemoryFill()
	} else {
		// Fill with a float32 pattern, four bytes at a time.
		p, c := f.Local(asm.I32), f.Local(asm.I32)
		f.I32Const(dst).Set(p)
		f.Counted(c, int(total/4), func() {
			f.Get(p).F32Const(*fill).F32Store(0)
			f.AddI32(p, 4)
		})
	}
	srcPtr, dstPtr := f.Local(asm.I32), f.Local(asm.I32)
	f.Get(src).Set(srcPtr)
	// dst element of (c, i...) = dst + (c*padded + (i+padBegin)...)
	offset := padOffset(g, padded)
	chanC := f.Local(asm.I32)
	chanBase := f.Local(asm.I32)
	f.I32Const(dst + int32(offset)*sz).Set(chanBase)
	f.Counted(chanC, C, func() {
		f.Get(chanBase).Set(dstPtr)
		k.padCopyChannel(dstPtr, srcPtr, g, padded, sz)
		f.AddI32(chanBase, int32(ir.Shape(padded).Size())*sz)
	})
}

// padOffset is the elements from a padded channel's start to its first
// copied element.
func padOffset(g *ir.Geometry, padded []int) int {
	dstStr := ir.Shape(padded).Strides()
	offset := 0
	for d := range g.In {
		offset += g.PadBegin[d] * dstStr[d]
	}
	return offset
}

// padCopyChannel copies one channel's rows from srcPtr (moved past them)
// into its padded plane at dstPtr (its first copied element; moved).
func (k *Ctx) padCopyChannel(dstPtr, srcPtr asm.Local, g *ir.Geometry, padded []int, sz int32) {
	f := k.F
	nd := len(g.In)
	dstStr := ir.Shape(padded).Strides()
	rowBytes := int32(g.In[nd-1]) * sz
	var level func(d int)
	level = func(d int) {
		if d == nd-1 {
			copyRow(f, k.SIMD(), dstPtr, srcPtr, int(rowBytes))
			f.AddI32(srcPtr, rowBytes)
			return
		}
		c := f.Local(asm.I32)
		start := f.Local(asm.I32)
		f.Get(dstPtr).Set(start)
		f.Counted(c, g.In[d], func() {
			level(d + 1)
			f.Get(start).I32Const(int32(dstStr[d]) * sz).Op(wasm.OpcodeI32Add).Tee(start).Set(dstPtr)
		})
	}
	level(0)
}

// im2colSource is what im2col reads one image from: the image at xBase
// itself without padding (inPlace), else its padded copy at padBuf, made
// here. It returns the function that pushes that address.
func (k *Ctx) im2colSource(p *convPlan, xBase asm.Local, padBuf, sz int32) func() {
	f := k.F
	if p.inPlace() {
		return func() { f.Get(xBase) }
	}
	k.padCopy(xBase, padBuf, p.C, p.g, p.padded, sz, nil)
	return func() { f.I32Const(padBuf) }
}

// im2colFrom gathers group gi's columns from the padded image whose
// address padBuf pushes (the input itself where it has no padding; a band
// of output rows reads from its first row's window): row (c, k...) holds,
// for every output position, the input element under kernel tap k.
func (k *Ctx) im2colFrom(padBuf func(), gi asm.Local, colBuf int32, p *convPlan, sz int32) {
	k.im2colInto(padBuf, gi, func() { k.F.I32Const(colBuf) }, p, sz)
}

// im2colInto is im2colFrom into the col whose address colBuf pushes (a
// thread's own band of col).
func (k *Ctx) im2colInto(padBuf func(), gi asm.Local, colBuf func(), p *convPlan, sz int32) {
	f := k.F
	chanBytes := int32(ir.Shape(p.padded).Size()) * sz
	dst := f.Local(asm.I32)
	colBuf()
	f.Set(dst)
	chanPtr := f.Local(asm.I32)
	// first channel of the group
	f.Get(gi).I32Const(int32(p.cg) * chanBytes).Op(wasm.OpcodeI32Mul)
	padBuf()
	f.Op(wasm.OpcodeI32Add).Set(chanPtr)
	cc := f.Local(asm.I32)
	f.Counted(cc, p.cg, func() {
		k.im2colChannel(chanPtr, dst, p, sz)
		f.AddI32(chanPtr, chanBytes)
	})
}

// im2colChannel writes the col rows of the padded channel at chanPtr (one
// per kernel tap) at dst, moving dst past them.
func (k *Ctx) im2colChannel(chanPtr, dst asm.Local, p *convPlan, sz int32) {
	f := k.F
	g := p.g
	nd := len(g.In)
	padStr := ir.Shape(p.padded).Strides()
	tapBase := f.Local(asm.I32)
	f.Get(chanPtr).Set(tapBase)
	eachOffset(f, tapBase, g.Kernel[:nd], func(d int) int32 { return int32(g.Dilations[d]*padStr[d]) * sz }, func(base asm.Local) {
		k.gatherOutputs(base, dst, g, padStr, sz)
	})
}

// eachOffset emits nested counted loops over counts (outermost first),
// the pointer of level d advancing by step(d) bytes, and body once in the
// innermost, given that level's pointer (a fresh local per level, so that
// body may move it).
func eachOffset(f *asm.Func, base asm.Local, counts []int, step func(d int) int32, body func(ptr asm.Local)) {
	var level func(d int, ptr asm.Local)
	level = func(d int, ptr asm.Local) {
		if d == len(counts) {
			body(ptr)
			return
		}
		c := f.Local(asm.I32)
		cur := f.Local(asm.I32)
		f.Get(ptr).Set(cur)
		f.Counted(c, counts[d], func() {
			next := f.Local(asm.I32)
			f.Get(cur).Set(next)
			level(d+1, next)
			f.AddI32(cur, step(d))
		})
	}
	level(0, base)
}

// gatherOutputs writes, for every output position, the padded element at
// base + sum(o_d * stride_d * padStr_d), advancing dst.
func (k *Ctx) gatherOutputs(base, dst asm.Local, g *ir.Geometry, padStr []int, sz int32) {
	f := k.F
	nd := len(g.Out)
	step := func(d int) int32 { return int32(g.Strides[d]*padStr[d]) * sz }
	eachOffset(f, base, g.Out[:nd-1], step, func(ptr asm.Local) {
		d := nd - 1
		if g.Strides[d] == 1 {
			n := int32(g.Out[d]) * sz
			copyRow(f, k.SIMD(), dst, ptr, int(n))
			f.AddI32(dst, n)
			return
		}
		if sz == 4 && g.Strides[d] == 2 && k.SIMD() {
			// A shared row function: f32x4 gathers, and optimized
			// early by V8 since every row calls it.
			f.Get(dst).Get(ptr).Call(k.gatherStride2(g.Out[d]))
			f.AddI32(dst, int32(g.Out[d])*sz)
			return
		}
		c := f.Local(asm.I32)
		p := f.Local(asm.I32)
		f.Get(ptr).Set(p)
		f.Counted(c, g.Out[d], func() {
			f.Get(dst).Get(p)
			k.copyElemBytes(sz)
			f.AddI32(p, step(d))
			f.AddI32(dst, sz)
		})
	})
}

// addChannelBias adds b[c] to every element of channel c (axis 1) of out.
func (k *Ctx) addChannelBias(out, b *ir.Value) error {
	s := out.Type.Shape
	bs := make(ir.Shape, len(s))
	for i := range bs {
		bs[i] = 1
	}
	bs[1] = s[1]
	view := k.ValueAt(b.Name, ir.Type{DType: b.Type.DType, Shape: bs}, k.Addr(b))
	fn, err := k.binaryFn(ir.FnAdd, out.Type.DType, b.Type.DType)
	if err != nil {
		return err
	}
	return k.elementwise(&ir.Node{Op: &ir.Binary{Fn: ir.FnAdd}, Inputs: []*ir.Value{out, view}, Outputs: []*ir.Value{out}}, fn)
}

// gatherStride2 returns the shared function (dst, src) copying n float32s
// from every second element of src: two loads and one shuffle per four.
func (k *Ctx) gatherStride2(n int) uint32 {
	name := fmt.Sprintf("gather_stride2_%d", n)
	i32 := asm.I32
	return k.Helper(name, []wasm.ValueType{i32, i32}, nil, func(f *asm.Func) {
		dst, src := f.Param(0), f.Param(1)
		c := f.Local(asm.I32)
		f.Counted(c, n/4, func() {
			f.Get(dst).Get(src).V128Load(0).Get(src).V128Load(16)
			f.I8x16Shuffle(evenLanes).V128Store(0)
			f.AddI32(dst, 16)
			f.AddI32(src, 32)
		})
		for i := 0; i < n%4; i++ {
			f.Get(dst).Get(src).F32Load(uint32(8 * i)).F32Store(uint32(4 * i))
		}
	})
}
