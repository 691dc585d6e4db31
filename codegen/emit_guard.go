package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Run-time shape guards for kernels whose output shape depends on input data.

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
