package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// CheckEqual compares a fixed input's bytes with the value compiled in.
func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.CheckEqual) error {
		f := k.F
		a, b := k.Addr(n.Inputs[0]), k.Addr(n.Inputs[1])
		size := n.Inputs[0].Type.Bytes()
		words := size / 8
		pa, pb, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		f.I32Const(a).Set(pa)
		f.I32Const(b).Set(pb)
		f.Counted(c, words, func() {
			f.Get(pa).I64Load(0).Get(pb).I64Load(0).Op(wasm.OpcodeI64Ne)
			k.Fail(abi.ErrInputMismatch)
			f.AddI32(pa, 8)
			f.AddI32(pb, 8)
		})
		f.Counted(c, size-words*8, func() {
			f.Get(pa).I32Load8U(0).Get(pb).I32Load8U(0).Op(wasm.OpcodeI32Ne)
			k.Fail(abi.ErrInputMismatch)
			f.AddI32(pa, 1)
			f.AddI32(pb, 1)
		})
		return nil
	})
}
