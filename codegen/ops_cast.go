package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Cast: every pair of numeric dtypes, with the semantics of ir.CastTensor.

func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Cast) error {
		return k.cast(n, op)
	})
}

func (k *Ctx) cast(n *ir.Node, op *ir.Cast) error {
	f := k.F
	x, y := n.Inputs[0], n.Outputs[0]
	src, dst := x.Type.DType, y.Type.DType
	if src == ir.String || dst == ir.String {
		return ir.NotSupportedf("Cast from %s to %s at run time (string tensors cannot live in Wasm memory; only constant strings fold)", src, dst)
	}
	count := y.Type.Shape.Size()
	if count == 0 {
		return nil
	}
	if src == dst {
		f.I32Const(k.Addr(y)).I32Const(k.Addr(x)).I32Const(int32(y.Type.Bytes())).MemoryCopy()
		return nil
	}
	// float8 results are encoded by the conversion itself (its saturate
	// and round_mode), then stored as raw bytes.
	store := dst
	if isSmallFloat8(dst) {
		store = ir.Uint8
	}
	sct, err := computeType(src)
	if err != nil {
		return err
	}
	if src.Bits() >= 8 && dst.Bits() >= 8 {
		// Input 1 of a CastLike in a subgraph only names the dtype.
		n1 := &ir.Node{Name: n.Name, Op: n.Op, Inputs: n.Inputs[:1], Outputs: n.Outputs}
		return k.elementwise(n1, ewFn{in: []ir.DType{src}, out: store, emit: func(a []asm.Local, _ bool) error {
			return k.castValue(src, dst, op, a[0])
		}})
	}
	// Sub-byte types: a flat loop by element index.
	dct, err := computeType(store)
	if err != nil {
		return err
	}
	k.zeroValue(y)
	i, v, r := f.Local(asm.I32), f.Local(sct), f.Local(dct)
	f.Repeat(i, count, func() {
		if e := k.loadElemAt(src, k.Addr(x), i); e != nil && err == nil {
			err = e
		}
		f.Set(v)
		if e := k.castValue(src, dst, op, v); e != nil && err == nil {
			err = e
		}
		f.Set(r)
		if e := k.storeElemAt(store, k.Addr(y), i, r); e != nil && err == nil {
			err = e
		}
	})
	return err
}

// castValue pushes the value of local v (src's compute type) converted to
// dst's compute type; for float8 targets, the encoded byte as i32.
func (k *Ctx) castValue(src, dst ir.DType, op *ir.Cast, v asm.Local) error {
	f := k.F
	sct, err := computeType(src)
	if err != nil {
		return err
	}
	dct, err := computeType(dst)
	if err != nil {
		return err
	}
	f.Get(v)
	if src.IsFloat() {
		switch {
		case dst == ir.Float64 || dst == ir.Float32:
			convert(f, sct, dct, false)
		case dst == ir.Float8E8M0:
			// The ONNX reference rounds to float32 first.
			convert(f, sct, asm.F32, false)
			f.Call(k.encodeSmallFloat(dst, op.Saturate, op.RoundMode))
		case dst.IsFloat():
			if sct == asm.F64 {
				f.Call(k.f64ToF32Odd())
			}
			if isSmallFloat8(dst) {
				f.Call(k.encodeSmallFloat(dst, op.Saturate, op.RoundMode))
			}
		case dst == ir.Bool:
			constOf(f, sct, 0)
			f.Op(map[bool]wasm.Opcode{false: wasm.OpcodeF32Ne, true: wasm.OpcodeF64Ne}[sct == asm.F64])
		case dst == ir.Uint64:
			// Negative values wrap as signed ones; NaN gives 0.
			convert(f, sct, asm.I64, true)
			f.Get(v)
			convert(f, sct, asm.I64, false)
			f.Get(v)
			constOf(f, sct, 0)
			f.Op(map[bool]wasm.Opcode{false: wasm.OpcodeF32Ge, true: wasm.OpcodeF64Ge}[sct == asm.F64])
			f.Select()
		default:
			// Truncate, saturating to int64 (NaN gives 0), then wrap.
			convert(f, sct, asm.I64, false)
			convert(f, asm.I64, dct, false)
		}
		return nil
	}
	unsigned := src.IsUnsigned()
	switch {
	case dst == ir.Float64:
		convert(f, sct, asm.F64, unsigned)
	case dst.IsFloat():
		convert(f, sct, asm.F32, unsigned)
		if isSmallFloat8(dst) {
			f.Call(k.encodeSmallFloat(dst, op.Saturate, op.RoundMode))
		}
	case dst == ir.Bool:
		f.Op(map[bool]wasm.Opcode{false: wasm.OpcodeI32Eqz, true: wasm.OpcodeI64Eqz}[sct == asm.I64]).Op(wasm.OpcodeI32Eqz)
	default:
		convert(f, sct, dct, unsigned)
	}
	return nil
}
