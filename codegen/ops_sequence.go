package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// CheckSplit validates run-time split sizes: each must lie in [0, Dim]
// (one unsigned comparison, which also rejects negatives and keeps the sum
// from overflowing), and they must add up to Dim.
func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.CheckSplit) error {
		f := k.F
		x := n.Inputs[0]
		dt := x.Type.DType
		if dt != ir.Int32 && dt != ir.Int64 {
			return ir.NotSupportedf("split sizes of %s", dt)
		}
		p, c := f.Local(asm.I32), f.Local(asm.I32)
		v, sum := f.Local(asm.I64), f.Local(asm.I64)
		f.I32Const(k.Addr(x)).Set(p)
		f.Counted(c, x.Type.Shape.Size(), func() {
			f.Get(p)
			k.loadAs(dt, 0, asm.I64)
			f.Tee(v).I64Const(int64(op.Dim)).Op(wasm.OpcodeI64GtU)
			k.Fail(abi.ErrShapeMismatch)
			f.Get(sum).Get(v).Op(wasm.OpcodeI64Add).Set(sum)
			f.AddI32(p, int32(elemBytes(dt)))
		})
		f.Get(sum).I64Const(int64(op.Dim)).Op(wasm.OpcodeI64Ne)
		k.Fail(abi.ErrShapeMismatch)
		return nil
	})
}
