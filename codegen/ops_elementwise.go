package codegen

import (
	"fmt"
	"math"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Elementwise kernels: Unary, Binary and Clip share one loop generator with
// broadcasting, SIMD rows for float32 and a scalar form for every dtype.

// ewFn computes one result from argument values held in locals (in their
// compute types, or as f32x4 vectors when vec is set) and leaves it on the
// stack.
type ewFn struct {
	in  []ir.DType
	out ir.DType
	vec bool // an f32x4 form exists
	// outer: emit reads locals it did not create (set up in the node
	// function), so its loop cannot move into a function of its own.
	outer bool
	emit  func(args []asm.Local, vec bool) error
}

func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Unary) error {
		fn, err := k.unaryFn(op, n.Inputs[0].Type.DType)
		if err != nil {
			return err
		}
		return k.elementwise(n, fn)
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Binary) error {
		fn, err := k.binaryFn(op.Fn, n.Inputs[0].Type.DType, n.Inputs[1].Type.DType)
		if err != nil {
			return err
		}
		return k.elementwise(n, fn)
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Clip) error {
		fn, err := k.clipFn(n)
		if err != nil {
			return err
		}
		return k.elementwise(&ir.Node{Name: n.Name, Op: op, Inputs: n.Inputs[:1], Outputs: n.Outputs}, fn)
	})
}

// ewElemNs estimates an elementwise kernel's time per element (a few
// vector operations and the loads and stores, mostly from L2).
const ewElemNs = 0.5

// elementwise emits out = fn(inputs...) with numpy broadcasting.
func (k *Ctx) elementwise(n *ir.Node, fn ewFn) error {
	out := n.Outputs[0]
	if out.Type.Shape.Size() == 0 {
		return nil
	}
	shape := out.Type.Shape
	streams := []stream{{base: k.Addr(out), strides: shape.Strides(), size: elemBytes(out.Type.DType)}}
	for _, v := range n.Inputs {
		streams = append(streams, stream{base: k.Addr(v), strides: ir.BroadcastStrides(v.Type.Shape, shape), size: elemBytes(v.Type.DType)})
	}
	for _, dt := range append([]ir.DType{fn.out}, fn.in...) {
		if dt.Bits() < 8 {
			return ir.NotSupportedf("elementwise kernels on %s", dt)
		}
	}
	cshape, cstreams := collapse(shape, streams)
	var err error
	k.parallelNest(cshape, cstreams, ewElemNs, func(ptrs []asm.Local, count int, strides []int) {
		if e := k.ewRow(fn, ptrs, count, strides, cstreams); e != nil && err == nil {
			err = e
		}
	})
	return err
}

// ewRow emits one innermost row: a SIMD loop over groups of four where the
// function and the strides allow it, then a scalar loop for the rest.
func (k *Ctx) ewRow(fn ewFn, ptrs []asm.Local, count int, strides []int, streams []stream) error {
	f := k.F
	nin := len(ptrs) - 1
	// f32x4 rows need float32 in memory: float16 and bfloat16 compute as
	// f32 too, but their loads and stores are per element.
	vec := fn.vec && k.SIMD() && count >= 4 && fn.out == ir.Float32
	for _, dt := range fn.in {
		if dt != ir.Float32 {
			vec = false
		}
	}
	for _, s := range strides[1:] {
		if s != 0 && s != 1 {
			vec = false
		}
	}
	if strides[0] != 1 {
		vec = false
	}
	// Broadcast inputs (stride 0 in the row) are loaded once, outside the loop.
	args := make([]asm.Local, nin)
	vargs := make([]asm.Local, nin)
	for i := 0; i < nin; i++ {
		if strides[i+1] != 0 {
			continue
		}
		ct, err := computeType(fn.in[i])
		if err != nil {
			return err
		}
		args[i] = f.Local(ct)
		f.Get(ptrs[i+1])
		if err := k.loadElem(fn.in[i], 0); err != nil {
			return err
		}
		f.Set(args[i])
		if vec {
			vargs[i] = f.Local(asm.V128)
			f.Get(args[i]).Vec(wasm.OpcodeVecF32x4Splat).Set(vargs[i])
		}
	}
	done := 0
	if vec {
		groups := count / 4
		if chunks := groups / ewChunkGroups; chunks >= ewMinChunks && !k.inPar && !fn.outer {
			if err := k.ewChunks(fn, ptrs, strides, chunks); err != nil {
				return err
			}
			groups -= chunks * ewChunkGroups
			done = chunks * ewChunkGroups * 4
		}
		if err := k.ewGroups(fn, ptrs, vargs, strides, groups); err != nil {
			return err
		}
		done += groups * 4
	}
	if done == count {
		return nil
	}
	for i := 0; i < nin; i++ {
		if strides[i+1] != 0 {
			ct, err := computeType(fn.in[i])
			if err != nil {
				return err
			}
			args[i] = f.Local(ct)
		}
	}
	c := f.Local(asm.I32)
	var err error
	f.Counted(c, count-done, func() {
		for i := 0; i < nin; i++ {
			if strides[i+1] != 0 {
				f.Get(ptrs[i+1])
				if e := k.loadElem(fn.in[i], 0); e != nil {
					err = e
				}
				f.Set(args[i])
			}
		}
		f.Get(ptrs[0])
		if e := fn.emit(args, false); e != nil {
			err = e
		}
		if e := k.storeElem(fn.out, 0); e != nil {
			err = e
		}
		for i, p := range ptrs {
			if st := strides[i] * streams[i].size; st != 0 {
				f.Get(p).I32Const(int32(st)).Op(wasm.OpcodeI32Add).Set(p)
			}
		}
	})
	return err
}

// ewGroups emits the f32x4 loop over groups of four elements of a row,
// advancing the row's pointers; vargs holds the splats of the broadcast
// inputs (stride 0), the others are loaded here.
func (k *Ctx) ewGroups(fn ewFn, ptrs, vargs []asm.Local, strides []int, groups int) error {
	f := k.F
	nin := len(ptrs) - 1
	c := f.Local(asm.I32)
	loaded := make([]asm.Local, nin)
	for i := 0; i < nin; i++ {
		loaded[i] = vargs[i]
		if strides[i+1] != 0 {
			loaded[i] = f.Local(asm.V128)
		}
	}
	var err error
	f.Counted(c, groups, func() {
		for i := 0; i < nin; i++ {
			if strides[i+1] != 0 {
				f.Get(ptrs[i+1]).V128Load(0).Set(loaded[i])
			}
		}
		f.Get(ptrs[0])
		if e := fn.emit(loaded, true); e != nil {
			err = e
		}
		f.V128Store(0)
		for i, p := range ptrs {
			if i == 0 || strides[i] != 0 {
				f.Get(p).I32Const(16).Op(wasm.OpcodeI32Add).Set(p)
			}
		}
	})
	return err
}

// A long f32x4 row of a single-threaded module runs in chunks of
// ewChunkGroups groups, each a call of a function of the node's (the row's
// pointers as parameters): a node function is called once per run, so V8
// runs all of the first run's loop in its baseline code, whereas a
// function called on chunks is tiered up after its first chunks (unet_1024's
// final Sigmoid over 1M elements: 5-6 ms of the cold start in Liftoff's code).
const (
	ewChunkGroups = 1024 // 16 KB of each stream a call
	ewMinChunks   = 4
)

// ewChunks emits chunks calls of the chunk function, which runs
// ewChunkGroups groups from the pointers it is given; the row's pointers
// advance past them.
func (k *Ctx) ewChunks(fn ewFn, ptrs []asm.Local, strides []int, chunks int) error {
	f := k.F
	params := make([]wasm.ValueType, len(ptrs))
	for i := range params {
		params[i] = asm.I32
	}
	end := f.Divert(params, nil)
	args := make([]asm.Local, len(ptrs))
	vargs := make([]asm.Local, len(ptrs)-1)
	for i := range ptrs {
		args[i] = f.Param(i)
	}
	for i := range vargs {
		if strides[i+1] != 0 {
			continue
		}
		vargs[i] = f.Local(asm.V128)
		f.Get(args[i+1]).V128Load32Splat(0).Set(vargs[i])
	}
	err := k.ewGroups(fn, args, vargs, strides, ewChunkGroups)
	chunk := k.md.addFunc(fmt.Sprintf("%s_rows%d", k.name, len(k.md.funcs)), end())
	if err != nil {
		return err
	}
	c := f.Local(asm.I32)
	f.Counted(c, chunks, func() {
		for _, p := range ptrs {
			f.Get(p)
		}
		f.Call(chunk)
		for i, p := range ptrs {
			if i == 0 || strides[i] != 0 {
				f.AddI32(p, 16*ewChunkGroups)
			}
		}
	})
	return nil
}

// unaryFn lowers a unary function for input dtype dt.
func (k *Ctx) unaryFn(u *ir.Unary, dt ir.DType) (ewFn, error) {
	f := k.F
	ct, err := computeType(dt)
	if err != nil {
		return ewFn{}, err
	}
	outDT := dt
	if u.Fn == ir.FnIsNaN || u.Fn == ir.FnIsInf {
		outDT = ir.Bool
	}
	fn := ewFn{in: []ir.DType{dt}, out: outDT}
	if ct == asm.F32 || ct == asm.F64 {
		fn.vec = ct == asm.F32 && outDT == dt && u.Fn.Vectorizes() // ir/traits.go
		fn.emit = func(a []asm.Local, vec bool) error { return k.floatUnary(fxFor(f, ct, vec), u, a[0]) }
		return fn, nil
	}
	fn.emit = func(a []asm.Local, _ bool) error { return intUnary(f, u, ct, dt, a[0]) }
	return fn, nil
}

// floatUnary leaves fn(x) on the stack.
func (k *Ctx) floatUnary(x fx, u *ir.Unary, in asm.Local) error {
	alpha, beta, gamma := float64(u.Alpha), float64(u.Beta), float64(u.Gamma)
	switch u.Fn {
	case ir.FnAbs:
		x.get(in).abs()
	case ir.FnNeg:
		x.get(in).neg()
	case ir.FnRelu:
		x.get(in).c(0).atLeast()
	case ir.FnSigmoid:
		x.sigmoid(in)
	case ir.FnTanh:
		x.tanh(in)
	case ir.FnExp:
		x.exp(in)
	case ir.FnLog:
		x.log(in)
	case ir.FnSqrt:
		x.get(in).sqrt()
	case ir.FnReciprocal:
		x.c(1).get(in).div()
	case ir.FnFloor:
		x.get(in).floor()
	case ir.FnCeil:
		x.get(in).ceil()
	case ir.FnRound:
		x.get(in).nearest()
	case ir.FnErf:
		x.erf(in)
	case ir.FnSoftsign:
		x.get(in).get(in).abs().c(1).add().div()
	case ir.FnSoftplus:
		// max(x, 0) + log1p(e^-|x|) never overflows nor cancels.
		t := x.local()
		x.get(in).abs().neg().set(t)
		x.exp(t).set(t)
		x.get(in).c(0).max().log1p(t).add()
	case ir.FnElu:
		t := x.local()
		x.expm1(in).c(alpha).mul().set(t)
		x.get(in).get(t).get(in).c(0).lt().sel0()
	case ir.FnSelu:
		t := x.local()
		x.exp(in).c(alpha).mul().c(alpha).sub().c(gamma).mul().set(t)
		x.get(in).c(gamma).mul().get(t).get(in).c(0).le().sel0()
	case ir.FnCelu:
		t := x.local()
		x.get(in).c(1 / alpha).mul().set(t)
		x.expm1(t).c(alpha).mul().c(0).min().get(in).c(0).max().add()
	case ir.FnLeakyRelu:
		x.get(in).get(in).c(alpha).mul().get(in).c(0).lt().sel0()
	case ir.FnHardSigmoid:
		x.get(in).c(alpha).mul().c(beta).add().c(1).atMost().c(0).atLeast()
	case ir.FnHardSwish:
		x.get(in).get(in).c(1.0 / 6).mul().c(0.5).add().c(1).atMost().c(0).atLeast().mul()
	case ir.FnThresholdedRelu:
		x.c(0).get(in).get(in).c(alpha).gt().sel0()
	case ir.FnMish:
		// x * tanh(softplus(x))
		sp, t := x.local(), x.local()
		x.get(in).abs().neg().set(t)
		x.exp(t).set(t)
		x.get(in).c(0).max().log1p(t).add().set(sp)
		x.get(in).tanh(sp).mul()
	case ir.FnGelu:
		t := x.local()
		x.get(in).c(1 / math.Sqrt2).mul().set(t)
		x.get(in).c(0.5).mul().erf(t).c(1).add().mul()
	case ir.FnGeluTanh:
		t := x.local()
		x.get(in).get(in).mul().get(in).mul().c(0.044715).mul().get(in).add().c(math.Sqrt(2 / math.Pi)).mul().set(t)
		x.get(in).c(0.5).mul().tanh(t).c(1).add().mul()
	case ir.FnSwish:
		t := x.local()
		x.get(in).c(alpha).mul().set(t)
		x.get(in).sigmoid(t).mul()
	case ir.FnShrink:
		// x < -l: x + b; x > l: x - b; else 0
		x.c(0).get(in).c(beta).sub().get(in).c(alpha).gt().sel0()
		x.get(in).c(beta).add().get(in).c(-alpha).lt().sel0()
	case ir.FnSign:
		// 1 for x > 0, -1 for x < 0, x itself for 0, -0 and NaN.
		x.get(in).c(1).get(in).c(0).gt().sel0().c(-1).get(in).c(0).lt().sel0()
	case ir.FnSin:
		x.trig(in, trigSin, k.trigBig(trigSin))
	case ir.FnCos:
		x.trig(in, trigCos, k.trigBig(trigCos))
	case ir.FnTan:
		x.trig(in, trigTan, k.trigBig(trigTan))
	case ir.FnAsin:
		x.asin(in)
	case ir.FnAcos:
		x.acos(in)
	case ir.FnAtan:
		x.atan(in)
	case ir.FnSinh:
		x.sinh(in)
	case ir.FnCosh:
		x.cosh(in)
	case ir.FnAsinh:
		x.asinh(in)
	case ir.FnAcosh:
		x.acosh(in)
	case ir.FnAtanh:
		x.atanh(in)
	case ir.FnIsNaN:
		x.get(in).get(in).ne()
	case ir.FnIsInf:
		k.F.I32Const(0)
		if alpha != 0 {
			x.get(in).c(math.Inf(1)).eq()
			k.F.Op(wasm.OpcodeI32Or)
		}
		if beta != 0 {
			x.get(in).c(math.Inf(-1)).eq()
			k.F.Op(wasm.OpcodeI32Or)
		}
	default:
		return ir.NotSupportedf("%s on %s has no Wasm kernel yet", u.Fn, map[bool]string{true: "float64", false: "float32"}[x.f64])
	}
	return nil
}

// iops picks the i32 or i64 opcode.
func iop(ct wasm.ValueType, op32, op64 wasm.Opcode) wasm.Opcode {
	if ct == asm.I64 {
		return op64
	}
	return op32
}

// intOp picks the signed or unsigned integer opcode for compute type ct;
// s32/u32 and s64/u64 are the i32 and i64 opcodes.
func intOp(ct wasm.ValueType, unsigned bool, s32, u32, s64, u64 wasm.Opcode) wasm.Opcode {
	if unsigned {
		return iop(ct, u32, u64)
	}
	return iop(ct, s32, s64)
}

func intConst(f *asm.Func, ct wasm.ValueType, v int64) {
	if ct == asm.I64 {
		f.I64Const(v)
	} else {
		f.I32Const(int32(v))
	}
}

func intUnary(f *asm.Func, u *ir.Unary, ct wasm.ValueType, dt ir.DType, in asm.Local) error {
	lt := iop(ct, wasm.OpcodeI32LtS, wasm.OpcodeI64LtS)
	switch u.Fn {
	case ir.FnAbs:
		if dt.IsUnsigned() {
			f.Get(in)
			return nil
		}
		intConst(f, ct, 0)
		f.Get(in).Op(iop(ct, wasm.OpcodeI32Sub, wasm.OpcodeI64Sub)).Get(in).Get(in)
		intConst(f, ct, 0)
		f.Op(lt).Select()
	case ir.FnNeg:
		intConst(f, ct, 0)
		f.Get(in).Op(iop(ct, wasm.OpcodeI32Sub, wasm.OpcodeI64Sub))
	case ir.FnRelu:
		if dt.IsUnsigned() {
			f.Get(in)
			return nil
		}
		f.Get(in)
		intConst(f, ct, 0)
		f.Get(in)
		intConst(f, ct, 0)
		f.Op(iop(ct, wasm.OpcodeI32GtS, wasm.OpcodeI64GtS)).Select()
	case ir.FnSign:
		// (x > 0) - (x < 0), as the compute type
		gt := iop(ct, wasm.OpcodeI32GtS, wasm.OpcodeI64GtS)
		if dt.IsUnsigned() {
			gt, lt = iop(ct, wasm.OpcodeI32GtU, wasm.OpcodeI64GtU), 0
		}
		f.Get(in)
		intConst(f, ct, 0)
		f.Op(gt)
		if lt != 0 {
			f.Get(in)
			intConst(f, ct, 0)
			f.Op(lt).Op(wasm.OpcodeI32Sub)
		}
		if ct == asm.I64 {
			f.Op(wasm.OpcodeI64ExtendI32S)
		}
	case ir.FnNot:
		f.Get(in).Op(wasm.OpcodeI32Eqz)
	case ir.FnBitwiseNot:
		f.Get(in)
		intConst(f, ct, -1)
		f.Op(iop(ct, wasm.OpcodeI32Xor, wasm.OpcodeI64Xor))
	default:
		return ir.NotSupportedf("%s on %s", u.Fn, dt)
	}
	return nil
}

// clipFn clamps to constant or run-time bounds (inputs 1 and 2).
func (k *Ctx) clipFn(n *ir.Node) (ewFn, error) {
	dt := n.Inputs[0].Type.DType
	ct, err := computeType(dt)
	if err != nil {
		return ewFn{}, err
	}
	f := k.F
	// Bounds are scalars: load them once into locals.
	bound := func(i int) (asm.Local, bool, error) {
		v := n.In(i)
		if v == nil {
			return 0, false, nil
		}
		l := f.Local(ct)
		f.I32Const(k.Addr(v))
		if err := k.loadElem(dt, 0); err != nil {
			return 0, false, err
		}
		f.Set(l)
		return l, true, nil
	}
	lo, hasLo, err := bound(1)
	if err != nil {
		return ewFn{}, err
	}
	hi, hasHi, err := bound(2)
	if err != nil {
		return ewFn{}, err
	}
	fn := ewFn{in: []ir.DType{dt}, out: dt, vec: ct == asm.F32}
	var vlo, vhi asm.Local
	if fn.vec && k.SIMD() {
		if hasLo {
			vlo = f.Local(asm.V128)
			f.Get(lo).Vec(wasm.OpcodeVecF32x4Splat).Set(vlo)
		}
		if hasHi {
			vhi = f.Local(asm.V128)
			f.Get(hi).Vec(wasm.OpcodeVecF32x4Splat).Set(vhi)
		}
	}
	fn.outer = hasLo || hasHi
	fn.emit = func(a []asm.Local, vec bool) error {
		if ct == asm.F32 || ct == asm.F64 {
			x := fxFor(f, ct, vec)
			l, h := lo, hi
			if vec {
				l, h = vlo, vhi
			}
			x.get(a[0])
			// ONNX Runtime's std::max/std::min order: NaN inputs stay
			// NaN, a NaN bound is ignored.
			if hasLo {
				x.get(l).atLeast()
			}
			if hasHi {
				x.get(h).atMost()
			}
			return nil
		}
		u := dt.IsUnsigned()
		gt := intOp(ct, u, wasm.OpcodeI32GtS, wasm.OpcodeI32GtU, wasm.OpcodeI64GtS, wasm.OpcodeI64GtU)
		lt := intOp(ct, u, wasm.OpcodeI32LtS, wasm.OpcodeI32LtU, wasm.OpcodeI64LtS, wasm.OpcodeI64LtU)
		f.Get(a[0])
		if hasLo {
			t := f.Local(ct)
			f.Set(t).Get(lo).Get(t).Get(t).Get(lo).Op(lt).Select()
		}
		if hasHi {
			t := f.Local(ct)
			f.Set(t).Get(hi).Get(t).Get(t).Get(hi).Op(gt).Select()
		}
		return nil
	}
	return fn, nil
}

// binaryFn lowers a binary function for operand dtypes a and b.
func (k *Ctx) binaryFn(fnName ir.BinaryFn, a, b ir.DType) (ewFn, error) {
	f := k.F
	ct, err := computeType(a)
	if err != nil {
		return ewFn{}, err
	}
	out := a
	cmp := map[ir.BinaryFn]bool{ir.FnEqual: true, ir.FnLess: true, ir.FnLessOrEqual: true, ir.FnGreater: true, ir.FnGreaterOrEqual: true, ir.FnAnd: true, ir.FnOr: true, ir.FnXor: true}
	if cmp[fnName] {
		out = ir.Bool
	}
	fn := ewFn{in: []ir.DType{a, b}, out: out}
	if a != b {
		if fnName != ir.FnPow {
			return fn, fmt.Errorf("%s operands differ: %s and %s", fnName, a, b)
		}
		return k.powMixed(a, b)
	}
	if ct == asm.F32 || ct == asm.F64 {
		fn.vec = ct == asm.F32 && !cmp[fnName]
		fn.emit = func(args []asm.Local, vec bool) error {
			return k.floatBinary(fxFor(f, ct, vec), fnName, args[0], args[1])
		}
		return fn, nil
	}
	fn.emit = func(args []asm.Local, _ bool) error {
		return k.intBinary(fnName, ct, a, args[0], args[1])
	}
	return fn, nil
}

func (k *Ctx) floatBinary(x fx, fn ir.BinaryFn, a, b asm.Local) error {
	switch fn {
	case ir.FnAdd:
		x.get(a).get(b).add()
	case ir.FnSub:
		x.get(a).get(b).sub()
	case ir.FnMul:
		x.get(a).get(b).mul()
	case ir.FnDiv:
		x.get(a).get(b).div()
	case ir.FnDivOrZero:
		x.get(a).get(b).div().c(0).get(b).c(0).eq().sel0()
	case ir.FnMax:
		x.get(a).get(b).max()
	case ir.FnMin:
		x.get(a).get(b).min()
	case ir.FnPRelu:
		x.get(a).get(a).get(b).mul().get(a).c(0).lt().sel0()
	case ir.FnFmod:
		// a - trunc(a/b)*b, keeping the sign of a (and -0).
		t := x.local()
		x.get(a).get(a).get(b).div().trunc().get(b).mul().sub().set(t)
		x.copySign(t, a)
		// A finite a modulo an infinite b is a.
		x.get(a).get(b).abs().c(math.Inf(1)).eq().get(a).abs().c(math.Inf(1)).lt().condAnd().sel0()
	case ir.FnPow:
		k.pow(x, a, b)
	case ir.FnEqual:
		x.get(a).get(b).eq()
	case ir.FnLess:
		x.get(a).get(b).lt()
	case ir.FnLessOrEqual:
		x.get(a).get(b).le()
	case ir.FnGreater:
		x.get(a).get(b).gt()
	case ir.FnGreaterOrEqual:
		x.get(a).get(b).ge()
	default:
		return ir.NotSupportedf("%s on floats", fn)
	}
	return nil
}

// pow handles negative bases with integral exponents, zero and infinities
// the way C pow does: |a|^b = exp(b*log|a|), negated for odd integral b.
func (k *Ctx) pow(x fx, a, b asm.Local) {
	la, r, odd, absA := x.local(), x.local(), x.local(), x.local()
	x.get(a).abs().set(absA)
	x.log(absA).get(b).mul().set(la)
	x.exp(la).set(r)
	// odd: b is an odd integer -> flip sign for negative a (and -0)
	one := x.local()
	x.c(1).set(one)
	x.get(b).c(0.5).mul().floor().c(2).mul().get(b).sub().abs().set(odd) // 1 when b odd
	x.get(r).get(r).neg().get(odd).c(1).eq().copySign(one, a).c(0).lt().condAnd().sel0()
	// a < 0 with non-integral b -> NaN
	x.c(math.NaN()).get(b).trunc().get(b).ne().get(a).c(0).lt().condAnd().sel0()
	// b == 0 -> 1 (even for NaN a)
	x.c(1).get(b).c(0).eq().sel0()
	// a == 1 -> 1, and (-1)^(+-inf) = 1
	x.c(1).get(a).c(1).eq().sel0()
	x.c(1).get(a).c(-1).eq().get(b).abs().c(math.Inf(1)).eq().condAnd().sel0()
}

// condAnd combines two conditions.
func (x fx) condAnd() fx {
	if x.vec {
		x.f.Vec(wasm.OpcodeVecV128And)
	} else {
		x.f.Op(wasm.OpcodeI32And)
	}
	return x
}

// powMixed is Pow with an exponent of another dtype: both convert to the
// base's compute type (float bases) or the exponent is truncated (ints).
func (k *Ctx) powMixed(a, b ir.DType) (ewFn, error) {
	f := k.F
	ca, err := computeType(a)
	if err != nil {
		return ewFn{}, err
	}
	cb, err := computeType(b)
	if err != nil {
		return ewFn{}, err
	}
	fn := ewFn{in: []ir.DType{a, b}, out: a}
	fn.emit = func(args []asm.Local, _ bool) error {
		if ca == asm.F32 || ca == asm.F64 {
			eb := f.Local(ca)
			f.Get(args[1])
			convert(f, cb, ca, b.IsUnsigned())
			f.Set(eb)
			k.pow(fxFor(f, ca, false), args[0], eb)
			return nil
		}
		// Integer base: an integral exponent uses exact integer power; a
		// fractional one computes in f64 and truncates, as numpy's cast.
		x := fxFor(f, asm.F64, false)
		fa, fb := f.Local(asm.F64), f.Local(asm.F64)
		f.Get(args[1])
		convert(f, cb, asm.F64, b.IsUnsigned())
		f.Set(fb)
		x.get(fb).trunc().get(fb).eq()
		f.IfT(ca)
		ib := f.Local(ca)
		x.get(fb)
		convert(f, asm.F64, ca, false)
		f.Set(ib)
		if err := k.intPow(ca, false, args[0], ib); err != nil {
			return err
		}
		f.Else()
		f.Get(args[0])
		convert(f, ca, asm.F64, a.IsUnsigned())
		f.Set(fa)
		k.pow(x, fa, fb)
		convert(f, asm.F64, ca, a.IsUnsigned())
		f.End()
		return nil
	}
	return fn, nil
}

// convert changes a compute value's type (floats to ints truncate, saturating).
func convert(f *asm.Func, from, to wasm.ValueType, unsigned bool) {
	if from == to {
		return
	}
	type pair struct{ a, b wasm.ValueType }
	var op wasm.Opcode
	var misc wasm.OpcodeMisc = 0xff
	switch (pair{from, to}) {
	case pair{asm.I32, asm.I64}:
		op = map[bool]wasm.Opcode{false: wasm.OpcodeI64ExtendI32S, true: wasm.OpcodeI64ExtendI32U}[unsigned]
	case pair{asm.I64, asm.I32}:
		op = wasm.OpcodeI32WrapI64
	case pair{asm.I32, asm.F32}:
		op = map[bool]wasm.Opcode{false: wasm.OpcodeF32ConvertI32S, true: wasm.OpcodeF32ConvertI32U}[unsigned]
	case pair{asm.I32, asm.F64}:
		op = map[bool]wasm.Opcode{false: wasm.OpcodeF64ConvertI32S, true: wasm.OpcodeF64ConvertI32U}[unsigned]
	case pair{asm.I64, asm.F32}:
		op = map[bool]wasm.Opcode{false: wasm.OpcodeF32ConvertI64S, true: wasm.OpcodeF32ConvertI64U}[unsigned]
	case pair{asm.I64, asm.F64}:
		op = map[bool]wasm.Opcode{false: wasm.OpcodeF64ConvertI64S, true: wasm.OpcodeF64ConvertI64U}[unsigned]
	case pair{asm.F32, asm.F64}:
		op = wasm.OpcodeF64PromoteF32
	case pair{asm.F64, asm.F32}:
		op = wasm.OpcodeF32DemoteF64
	case pair{asm.F32, asm.I32}:
		misc = map[bool]wasm.OpcodeMisc{false: wasm.OpcodeMiscI32TruncSatF32S, true: wasm.OpcodeMiscI32TruncSatF32U}[unsigned]
	case pair{asm.F64, asm.I32}:
		misc = map[bool]wasm.OpcodeMisc{false: wasm.OpcodeMiscI32TruncSatF64S, true: wasm.OpcodeMiscI32TruncSatF64U}[unsigned]
	case pair{asm.F32, asm.I64}:
		misc = map[bool]wasm.OpcodeMisc{false: wasm.OpcodeMiscI64TruncSatF32S, true: wasm.OpcodeMiscI64TruncSatF32U}[unsigned]
	case pair{asm.F64, asm.I64}:
		misc = map[bool]wasm.OpcodeMisc{false: wasm.OpcodeMiscI64TruncSatF64S, true: wasm.OpcodeMiscI64TruncSatF64U}[unsigned]
	default:
		panic(fmt.Sprintf("convert %v -> %v", from, to))
	}
	if misc != 0xff {
		f.Misc(misc)
	} else {
		f.Op(op)
	}
}

func (k *Ctx) intBinary(fn ir.BinaryFn, ct wasm.ValueType, dt ir.DType, a, b asm.Local) error {
	f := k.F
	u := dt.IsUnsigned() || dt == ir.Bool
	pick := func(s32, u32, s64, u64 wasm.Opcode) wasm.Opcode { return intOp(ct, u, s32, u32, s64, u64) }
	bin := func(op32, op64 wasm.Opcode) { f.Get(a).Get(b).Op(iop(ct, op32, op64)) }
	zero := func() { intConst(f, ct, 0) }
	eqz := iop(ct, wasm.OpcodeI32Eqz, wasm.OpcodeI64Eqz)
	switch fn {
	case ir.FnAdd:
		bin(wasm.OpcodeI32Add, wasm.OpcodeI64Add)
	case ir.FnSub:
		bin(wasm.OpcodeI32Sub, wasm.OpcodeI64Sub)
	case ir.FnMul:
		bin(wasm.OpcodeI32Mul, wasm.OpcodeI64Mul)
	case ir.FnDiv, ir.FnFmod, ir.FnMod:
		// Division by zero gives 0 (ONNX leaves it undefined, Wasm would
		// trap); MIN/-1 is computed as a negation/zero instead of trapping.
		div := pick(wasm.OpcodeI32DivS, wasm.OpcodeI32DivU, wasm.OpcodeI64DivS, wasm.OpcodeI64DivU)
		rem := pick(wasm.OpcodeI32RemS, wasm.OpcodeI32RemU, wasm.OpcodeI64RemS, wasm.OpcodeI64RemU)
		safeB := f.Local(ct)
		// safeB = (b == 0 || (!u && b == -1)) ? 1 : b
		f.Get(b).Op(eqz)
		if !u {
			f.Get(b)
			intConst(f, ct, -1)
			f.Op(iop(ct, wasm.OpcodeI32Eq, wasm.OpcodeI64Eq)).Op(wasm.OpcodeI32Or)
		}
		cond := f.Local(asm.I32)
		f.Set(cond)
		intConst(f, ct, 1)
		f.Get(b).Get(cond).Select().Set(safeB)
		r := f.Local(ct)
		switch fn {
		case ir.FnDiv:
			f.Get(a).Get(safeB).Op(div).Set(r)
			// b == -1: -a ; b == 0: 0
			if !u {
				zero()
				f.Get(a).Op(iop(ct, wasm.OpcodeI32Sub, wasm.OpcodeI64Sub)).Get(r).Get(b)
				intConst(f, ct, -1)
				f.Op(iop(ct, wasm.OpcodeI32Eq, wasm.OpcodeI64Eq)).Select().Set(r)
			}
		default:
			f.Get(a).Get(safeB).Op(rem).Set(r)
			zero()
			f.Get(r).Get(cond).Select().Set(r)
			if fn == ir.FnMod && !u {
				// Python modulo: add b when the signs of r and b differ.
				f.Get(r).Get(b).Op(iop(ct, wasm.OpcodeI32Add, wasm.OpcodeI64Add)).Get(r)
				f.Get(r).Op(eqz).Op(wasm.OpcodeI32Eqz)
				f.Get(r).Get(b).Op(iop(ct, wasm.OpcodeI32Xor, wasm.OpcodeI64Xor))
				zero()
				f.Op(iop(ct, wasm.OpcodeI32LtS, wasm.OpcodeI64LtS)).Op(wasm.OpcodeI32And)
				f.Select().Set(r)
			}
		}
		zero()
		f.Get(r).Get(b).Op(eqz).Select()
	case ir.FnMax, ir.FnMin:
		cmp := pick(wasm.OpcodeI32GtS, wasm.OpcodeI32GtU, wasm.OpcodeI64GtS, wasm.OpcodeI64GtU)
		if fn == ir.FnMin {
			cmp = pick(wasm.OpcodeI32LtS, wasm.OpcodeI32LtU, wasm.OpcodeI64LtS, wasm.OpcodeI64LtU)
		}
		f.Get(a).Get(b).Get(a).Get(b).Op(cmp).Select()
	case ir.FnEqual:
		bin(wasm.OpcodeI32Eq, wasm.OpcodeI64Eq)
	case ir.FnLess:
		f.Get(a).Get(b).Op(pick(wasm.OpcodeI32LtS, wasm.OpcodeI32LtU, wasm.OpcodeI64LtS, wasm.OpcodeI64LtU))
	case ir.FnLessOrEqual:
		f.Get(a).Get(b).Op(pick(wasm.OpcodeI32LeS, wasm.OpcodeI32LeU, wasm.OpcodeI64LeS, wasm.OpcodeI64LeU))
	case ir.FnGreater:
		f.Get(a).Get(b).Op(pick(wasm.OpcodeI32GtS, wasm.OpcodeI32GtU, wasm.OpcodeI64GtS, wasm.OpcodeI64GtU))
	case ir.FnGreaterOrEqual:
		f.Get(a).Get(b).Op(pick(wasm.OpcodeI32GeS, wasm.OpcodeI32GeU, wasm.OpcodeI64GeS, wasm.OpcodeI64GeU))
	case ir.FnAnd:
		f.Get(a).Get(b).Op(wasm.OpcodeI32And)
	case ir.FnOr:
		f.Get(a).Get(b).Op(wasm.OpcodeI32Or)
	case ir.FnXor:
		f.Get(a).Get(b).Op(wasm.OpcodeI32Xor)
	case ir.FnBitwiseAnd:
		bin(wasm.OpcodeI32And, wasm.OpcodeI64And)
	case ir.FnBitwiseOr:
		bin(wasm.OpcodeI32Or, wasm.OpcodeI64Or)
	case ir.FnBitwiseXor:
		bin(wasm.OpcodeI32Xor, wasm.OpcodeI64Xor)
	case ir.FnBitShiftLeft, ir.FnBitShiftRight:
		// Counts of the element width or more give 0 (Wasm masks the count).
		width := int64(dt.Bits())
		op := iop(ct, wasm.OpcodeI32Shl, wasm.OpcodeI64Shl)
		if fn == ir.FnBitShiftRight {
			op = iop(ct, wasm.OpcodeI32ShrU, wasm.OpcodeI64ShrU)
		}
		bin(op, op)
		zero()
		f.Get(b)
		intConst(f, ct, width)
		f.Op(iop(ct, wasm.OpcodeI32LtU, wasm.OpcodeI64LtU)).Select()
	case ir.FnPRelu:
		f.Get(a).Get(b).Op(iop(ct, wasm.OpcodeI32Mul, wasm.OpcodeI64Mul)).Get(a).Get(a)
		zero()
		f.Op(iop(ct, wasm.OpcodeI32LtS, wasm.OpcodeI64LtS)).Select()
	case ir.FnPow:
		// Exponentiation by squaring; negative exponents give 0 except for
		// bases 1 and -1 (as the reference).
		return k.intPow(ct, u, a, b)
	default:
		return ir.NotSupportedf("%s on %s", fn, dt)
	}
	return nil
}

// intPow is exponentiation by squaring; unsigned exponents are never
// negative.
func (k *Ctx) intPow(ct wasm.ValueType, unsigned bool, a, b asm.Local) error {
	f := k.F
	name := "ipow_i32"
	if ct == asm.I64 {
		name = "ipow_i64"
	}
	if unsigned {
		name += "u"
	}
	idx := k.Helper(name, []wasm.ValueType{ct, ct}, []wasm.ValueType{ct}, func(h *asm.Func) {
		base, exp := h.Param(0), h.Param(1)
		r := h.Local(ct)
		mul := iop(ct, wasm.OpcodeI32Mul, wasm.OpcodeI64Mul)
		and := iop(ct, wasm.OpcodeI32And, wasm.OpcodeI64And)
		shr := iop(ct, wasm.OpcodeI32ShrS, wasm.OpcodeI64ShrS)
		if unsigned {
			shr = iop(ct, wasm.OpcodeI32ShrU, wasm.OpcodeI64ShrU)
		}
		eqz := iop(ct, wasm.OpcodeI32Eqz, wasm.OpcodeI64Eqz)
		lts := iop(ct, wasm.OpcodeI32LtS, wasm.OpcodeI64LtS)
		// negative exponent
		if unsigned {
			h.I32Const(0)
		} else {
			h.Get(exp)
			intConst(h, ct, 0)
			h.Op(lts)
		}
		h.If()
		h.Get(base)
		intConst(h, ct, 1)
		h.Op(iop(ct, wasm.OpcodeI32Eq, wasm.OpcodeI64Eq)).If()
		intConst(h, ct, 1)
		h.Return().End()
		h.Get(base)
		intConst(h, ct, -1)
		h.Op(iop(ct, wasm.OpcodeI32Eq, wasm.OpcodeI64Eq)).If()
		// (-1)^b: 1 for even b, -1 for odd
		intConst(h, ct, -1)
		intConst(h, ct, 1)
		h.Get(exp)
		intConst(h, ct, 1)
		h.Op(and)
		if ct == asm.I64 {
			h.Op(wasm.OpcodeI32WrapI64)
		}
		h.Select().Return().End()
		intConst(h, ct, 0)
		h.Return().End()
		intConst(h, ct, 1)
		h.Set(r)
		h.Block().Loop()
		h.Get(exp).Op(eqz).BrIf(1)
		h.Get(exp)
		intConst(h, ct, 1)
		h.Op(and)
		if ct == asm.I64 {
			h.Op(wasm.OpcodeI32WrapI64)
		}
		h.If().Get(r).Get(base).Op(mul).Set(r).End()
		h.Get(base).Get(base).Op(mul).Set(base)
		h.Get(exp)
		intConst(h, ct, 1)
		h.Op(shr).Set(exp)
		h.Br(0)
		h.End().End()
		h.Get(r)
	})
	f.Get(a).Get(b).Call(idx)
	return nil
}
