package codegen

import (
	"math"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss.

func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.NLLLoss) error {
		x := n.Inputs[0]
		return k.nllLoss(k.Addr(x), x.Type, n.Inputs[1], n.In(2), n.Outputs[0], op)
	})
	registerWorkspace(func(n *ir.Node, op *ir.SoftmaxCrossEntropyLoss) int {
		if n.Out(1) != nil {
			return 0
		}
		return n.Inputs[0].Type.Bytes()
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.SoftmaxCrossEntropyLoss) error {
		// Log probabilities go to the second output, or the workspace.
		x := n.Inputs[0]
		lp := n.Out(1)
		if lp == nil {
			lp = k.ValueAt(n.Name+"/log_prob", x.Type, k.WorkspaceAddr())
		}
		sm := &ir.Softmax{Kind: ir.KindLogSoftmax, Axis: 1}
		if err := k.softmax(&ir.Node{Name: n.Name, Op: sm, Inputs: []*ir.Value{x}, Outputs: []*ir.Value{lp}}, sm); err != nil {
			return err
		}
		return k.nllLoss(k.Addr(lp), x.Type, n.Inputs[1], n.In(2), n.Outputs[0], &op.NLLLoss)
	})
}

// nllLoss computes the loss of the log probabilities at xAddr. A target
// outside [0, C) that is not ignored stops the run with an error.
func (k *Ctx) nllLoss(xAddr int32, xt ir.Type, target, weight, y *ir.Value, op *ir.NLLLoss) error {
	f := k.F
	dt := xt.DType
	ct, err := computeType(dt)
	if err != nil {
		return err
	}
	N, C, D := xt.Shape[0], xt.Shape[1], xt.Shape[2:].Size()
	if N*D == 0 {
		if op.Reduction == ir.LossNone {
			return nil
		}
		// An empty sum; the mean of nothing is 0/0.
		v := ir.NewTensor(dt, nil)
		if op.Reduction == ir.LossMean {
			v.SetFloat(0, math.NaN())
		}
		return k.fill(y, v)
	}
	sz := int32(elemBytes(dt))
	x := fxFor(f, ct, false)
	pt, px, py, cn, cd := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	t64, ti := f.Local(asm.I64), f.Local(asm.I32)
	loss, w, sumL, sumW := x.local(), x.local(), x.local(), x.local()
	f.I32Const(k.Addr(target)).Set(pt)
	f.I32Const(xAddr).Set(px)
	f.I32Const(k.Addr(y)).Set(py)
	x.c(0).set(sumL)
	x.c(0).set(sumW)
	var err2 error
	load := func() {
		if e := k.loadElem(dt, 0); e != nil {
			err2 = e
		}
	}
	f.Counted(cn, N, func() {
		f.Counted(cd, D, func() {
			f.Get(pt)
			k.loadAs(target.Type.DType, 0, asm.I64)
			f.Set(t64)
			if op.HasIgnore {
				f.Get(t64).I64Const(op.IgnoreIndex).Op(wasm.OpcodeI64Eq)
			} else {
				f.I32Const(0)
			}
			f.If()
			x.c(0).set(loss)
			x.c(0).set(w)
			f.Else()
			f.Get(t64).I64Const(int64(C)).Op(wasm.OpcodeI64GeU)
			k.Fail(abi.ErrIndexOutOfRange)
			f.Get(t64).Op(wasm.OpcodeI32WrapI64).Set(ti)
			if weight != nil {
				f.Get(ti).I32Const(sz).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(weight)).Op(wasm.OpcodeI32Add)
				load()
			} else {
				x.c(1)
			}
			x.set(w)
			f.Get(ti).I32Const(int32(D) * sz).Op(wasm.OpcodeI32Mul).Get(px).Op(wasm.OpcodeI32Add)
			load()
			x.neg().get(w).mul().set(loss)
			f.End()
			if op.Reduction == ir.LossNone {
				f.Get(py).Get(loss)
				if e := k.storeElem(dt, 0); e != nil {
					err2 = e
				}
				f.AddI32(py, sz)
			} else {
				x.get(sumL).get(loss).add().set(sumL)
				x.get(sumW).get(w).add().set(sumW)
			}
			f.AddI32(pt, int32(elemBytes(target.Type.DType)))
			f.AddI32(px, sz)
		})
		// The d loop advanced one class plane; skip the other C-1.
		f.AddI32(px, int32((C-1)*D)*sz)
	})
	if op.Reduction != ir.LossNone {
		f.Get(py).Get(sumL)
		if op.Reduction == ir.LossMean {
			x.get(sumW).div()
		}
		if e := k.storeElem(dt, 0); e != nil {
			err2 = e
		}
	}
	return err2
}
