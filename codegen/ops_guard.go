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

// variants compiles one kernel per value of run-time data that gives the
// compiled output shape, and lets the data choose: selects(i) pushes
// whether the data is value i. Any other value fails the run with
// ErrShapeMismatch.
func (k *Ctx) variants(n int, selects func(i int), emit func(i int) error) error {
	f := k.F
	matched := f.Local(asm.I32)
	f.I32Const(0).Set(matched)
	for i := range n {
		selects(i)
		f.If()
		if err := emit(i); err != nil {
			return err
		}
		f.I32Const(1).Set(matched)
		f.End()
	}
	f.Get(matched).Op(wasm.OpcodeI32Eqz)
	k.Fail(abi.ErrShapeMismatch)
	return nil
}

// checkShape fails the run with ErrShapeMismatch unless the integer input
// v, run-time data the compiled shapes depend on, holds want.
func (k *Ctx) checkShape(v *ir.Value, want ...int) error {
	f := k.F
	dt := v.Type.DType
	for i, w := range want {
		f.I32Const(k.Addr(v))
		switch dt {
		case ir.Int64, ir.Uint64:
			f.I64Load(uint32(8 * i)).I64Const(int64(w)).Op(wasm.OpcodeI64Ne)
		default:
			if err := k.loadElem(dt, uint32(i*elemBytes(dt))); err != nil {
				return err
			}
			f.I32Const(int32(w)).Op(wasm.OpcodeI32Ne)
		}
		k.Fail(abi.ErrShapeMismatch)
	}
	return nil
}
