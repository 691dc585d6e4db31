package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// MatMul, Gemm and BatchNormalization (linalg in ir); the GEMM core is in
// math_matmul.go, Softmax in ops_linalg_softmax*.go.

func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.MatMul) error {
		a, b, out := n.Inputs[0], n.Inputs[1], n.Outputs[0]
		batch, M, K, N, _, err := ir.MatMulShapes(a.Type.Shape, b.Type.Shape)
		if err != nil {
			return err
		}
		if out.Type.Shape.Size() == 0 {
			return nil
		}
		dt := a.Type.DType
		sz := elemBytes(dt)
		as, bs := a.Type.Shape, b.Type.Shape
		if len(as) == 1 {
			as = ir.Shape{1, as[0]}
		}
		if len(bs) == 1 {
			bs = ir.Shape{bs[0], 1}
		}
		f := k.F
		pa, pb, pc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		p := mm{M: M, K: K, N: N, dt: dt, a: matrix{pa, K, 1}, b: matrix{pb, N, 1}, c: pc}
		if K == 0 {
			return k.zeroFill(out)
		}
		streams := []stream{
			{base: k.Addr(out), strides: scaleInts(batch.Strides(), M*N), size: sz},
			{base: k.Addr(a), strides: scaleInts(ir.BroadcastStrides(as[:len(as)-2], batch), M*K), size: sz},
			{base: k.Addr(b), strides: scaleInts(ir.BroadcastStrides(bs[:len(bs)-2], batch), K*N), size: sz},
		}
		shape := append(batch.Clone(), 1)
		for i := range streams {
			streams[i].strides = append(streams[i].strides, 0)
		}
		var err2 error
		k.nest(shape, streams, func(ptrs []asm.Local, _ int, _ []int) {
			f.Get(ptrs[0]).Set(pc)
			f.Get(ptrs[1]).Set(pa)
			f.Get(ptrs[2]).Set(pb)
			if e := k.emitMatMul(p); e != nil {
				err2 = e
			}
		})
		return err2
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Gemm) error {
		a, b, out := n.Inputs[0], n.Inputs[1], n.Outputs[0]
		M, K, N, err := op.Dims(a.Type.Shape, b.Type.Shape)
		if err != nil {
			return err
		}
		if M*N == 0 {
			return nil
		}
		dt := a.Type.DType
		f := k.F
		pa, pb, pc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		f.I32Const(k.Addr(a)).Set(pa)
		f.I32Const(k.Addr(b)).Set(pb)
		f.I32Const(k.Addr(out)).Set(pc)
		am := matrix{pa, K, 1}
		if op.TransA {
			am = matrix{pa, 1, M}
		}
		bm := matrix{pb, N, 1}
		if op.TransB {
			bm = matrix{pb, 1, K}
		}
		if K == 0 {
			if err := k.zeroFill(out); err != nil {
				return err
			}
		} else if err := k.emitMatMul(mm{M: M, K: K, N: N, dt: dt, a: am, b: bm, c: pc}); err != nil {
			return err
		}
		return k.gemmEpilogue(n, op)
	})
	registerWorkspace(func(n *ir.Node, op *ir.BatchNorm) int {
		return 2 * n.Inputs[0].Type.Shape[1] * max(elemBytes(n.Inputs[0].Type.DType), 1)
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.BatchNorm) error {
		return k.batchNorm(n, op)
	})
}

func scaleInts(s []int, f int) []int {
	out := make([]int, len(s))
	for i, v := range s {
		out[i] = v * f
	}
	return out
}

// gemmEpilogue applies Y = alpha*Y + beta*C in place.
func (k *Ctx) gemmEpilogue(n *ir.Node, op *ir.Gemm) error {
	out := n.Outputs[0]
	c := n.In(2)
	if c != nil && op.Beta == 0 {
		c = nil
	}
	if op.Alpha == 1 && c == nil {
		return nil
	}
	dt := out.Type.DType
	ct, err := computeType(dt)
	if err != nil {
		return err
	}
	f := k.F
	inputs := []*ir.Value{out}
	if c != nil {
		inputs = append(inputs, c)
	}
	fn := ewFn{in: []ir.DType{dt}, out: dt, vec: ct == asm.F32}
	if c != nil {
		fn.in = append(fn.in, c.Type.DType)
	}
	fn.emit = func(args []asm.Local, vec bool) error {
		if ct != asm.F32 && ct != asm.F64 {
			return ir.NotSupportedf("Gemm on %s", dt)
		}
		x := fxFor(f, ct, vec)
		x.get(args[0])
		if op.Alpha != 1 {
			x.c(float64(op.Alpha)).mul()
		}
		if c != nil {
			x.get(args[1])
			if op.Beta != 1 {
				x.c(float64(op.Beta)).mul()
			}
			x.add()
		}
		return nil
	}
	return k.elementwise(&ir.Node{Op: op, Inputs: inputs, Outputs: n.Outputs}, fn)
}

// batchNorm computes per-channel scale and shift into the workspace, then
// y = x*scale[c] + shift[c] elementwise.
func (k *Ctx) batchNorm(n *ir.Node, op *ir.BatchNorm) error {
	f := k.F
	x, y := n.Inputs[0], n.Outputs[0]
	dt := x.Type.DType
	ct, err := computeType(dt)
	if err != nil {
		return err
	}
	if ct != asm.F32 && ct != asm.F64 {
		return ir.NotSupportedf("BatchNormalization on %s", dt)
	}
	for i := 1; i < 5; i++ {
		if n.Inputs[i].Type.DType != dt {
			return ir.NotSupportedf("BatchNormalization with %s statistics for %s input", n.Inputs[i].Type.DType, dt)
		}
	}
	C := x.Type.Shape[1]
	sz := int32(elemBytes(dt))
	ws := k.WorkspaceAddr()
	xf := fxFor(f, ct, false)
	scale, bias, mean, vr := n.Inputs[1], n.Inputs[2], n.Inputs[3], n.Inputs[4]
	c := f.Local(asm.I32)
	sc := f.Local(ct)
	load := func(v *ir.Value) {
		f.Get(c).I32Const(sz).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(v)).Op(wasm.OpcodeI32Add)
		k.loadElem(dt, 0)
	}
	f.Repeat(c, C, func() {
		// scale' = scale / sqrt(var + eps)
		load(scale)
		load(vr)
		xf.c(float64(op.Epsilon)).add().sqrt().div().set(sc)
		f.Get(c).I32Const(sz).Op(wasm.OpcodeI32Mul).I32Const(ws).Op(wasm.OpcodeI32Add).Get(sc)
		k.storeElem(dt, 0)
		// shift = bias - mean*scale'
		f.Get(c).I32Const(sz).Op(wasm.OpcodeI32Mul).I32Const(ws + int32(C)*sz).Op(wasm.OpcodeI32Add)
		load(bias)
		load(mean)
		xf.get(sc).mul().sub()
		k.storeElem(dt, 0)
	})
	bs := make(ir.Shape, len(x.Type.Shape))
	for i := range bs {
		bs[i] = 1
	}
	bs[1] = C
	sView := k.ValueAt("bn_scale", ir.Type{DType: dt, Shape: bs}, ws)
	bView := k.ValueAt("bn_shift", ir.Type{DType: dt, Shape: bs}, ws+int32(C)*sz)
	fn := ewFn{in: []ir.DType{dt, dt, dt}, out: dt, vec: ct == asm.F32}
	fn.emit = func(a []asm.Local, vec bool) error {
		fxFor(f, ct, vec).get(a[0]).get(a[1]).mul().get(a[2]).add()
		return nil
	}
	return k.elementwise(&ir.Node{Op: op, Inputs: []*ir.Value{x, sView, bView}, Outputs: []*ir.Value{y}}, fn)
}
