package codegen

import (
	"fmt"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// A matrix-vector product (MatMul with fewer than 4 rows, v8 tune): the
// 4x8 tile would compute 3 garbage rows for every real one, so a row is
// computed 32 columns at a time instead (four packed B panels, 8
// accumulators), one broadcast of A per k.

// gemvKernel returns the shared function
//
//	(a, b, c, bias, K, panel, cols, res, tmp) -> ()
//
// a: the row of A; b: the first of four B panels, panel bytes apart; c: the
// output row's first column; cols: how many of the 32 columns exist; res:
// the residual's address minus C's; tmp: 128 bytes of scratch.
//
// The loop (gemvDot) stores its accumulators to tmp, which the epilogue
// loads: with them flowing straight into the epilogue's branches (or
// returned from a function of the loop alone), V8 ran the loop 1.6x slower
// from L3, ~8% from DRAM; with the loop and the epilogue in one function,
// wazero ran it 1.15x slower (docs/design.md "gemv").
func (k *Ctx) gemvKernel(ep *ir.Epilogue, hasBias bool) uint32 {
	name := fmt.Sprintf("gemv1x32_%s%s", k.md.opts.Tune, epilogueKey(ep, hasBias))
	params := make([]wasm.ValueType, 9)
	for i := range params {
		params[i] = asm.I32
	}
	dot := k.gemvDot()
	return k.Helper(name, params, nil, func(h *asm.Func) {
		pa, pb, pc, pbias, kq, panel, cols, res, tmp := h.Param(0), h.Param(1), h.Param(2), h.Param(3), h.Param(4), h.Param(5), h.Param(6), h.Param(7), h.Param(8)
		h.Get(pa).Get(pb).Get(kq).Get(panel).Get(cols).Get(tmp).Call(dot)
		acc := make([]asm.Local, 8)
		for j := range acc {
			acc[j] = h.Local(asm.V128)
			h.Get(tmp).V128Load(uint32(16 * j)).Set(acc[j])
		}
		x := fxFor(h, asm.F32, true)
		ptr, n := h.Local(asm.I32), h.Local(asm.I32)
		for j := 0; j < 8; j++ {
			h.Get(cols).I32Const(int32(4 * j)).Op(wasm.OpcodeI32GtS).If()
			v := acc[j]
			if hasBias {
				h.Get(v).Get(pbias).V128Load(uint32(16 * j)).Vec(wasm.OpcodeVecF32x4Add).Set(v)
			}
			h.Get(pc).I32Const(int32(16 * j)).Op(wasm.OpcodeI32Add).Set(ptr)
			k.vecEpilogue(x, ep, v, ptr, res)
			h.Get(cols).I32Const(int32(4 * j)).Op(wasm.OpcodeI32Sub).Set(n)
			storeLanesN(h, ptr, v, n)
			h.End()
		}
	})
}

// gemvDot is gemvKernel's loop, in a function of its own that stores the
// 8 accumulators to tmp:
//
//	(a, b, K, panel, cols, tmp) -> ()
func (k *Ctx) gemvDot() uint32 {
	name := fmt.Sprintf("gemv1x32_dot_%s", k.md.opts.Tune)
	params := []wasm.ValueType{asm.I32, asm.I32, asm.I32, asm.I32, asm.I32, asm.I32}
	return k.Helper(name, params, nil, func(h *asm.Func) {
		pa, pb, kq, panel, cols, tmp := h.Param(0), h.Param(1), h.Param(2), h.Param(3), h.Param(4), h.Param(5)
		acc := make([]asm.Local, 8)
		for i := range acc {
			acc[i] = h.Local(asm.V128) // zero: the locals' initial value
		}
		bp := []asm.Local{pb, h.Local(asm.I32), h.Local(asm.I32), h.Local(asm.I32)}
		// Panels past the last column repeat the last one that exists:
		// reading past the weights could leave linear memory (a lone
		// 1x2048 x 2048x1000 MatMul trapped in V8).
		for p := 1; p < 4; p++ {
			h.Get(bp[p-1]).Get(panel).Op(wasm.OpcodeI32Add).Get(bp[p-1]).Get(cols).I32Const(int32(8 * p)).Op(wasm.OpcodeI32GtS).Select().Set(bp[p])
		}
		av, bv := h.Local(asm.V128), h.Local(asm.V128)
		h.Loop() // V8 unrolls only nested loops
		h.Loop32(kq, func() {
			h.Get(pa).V128Load32Splat(0).Set(av)
			for p := 0; p < 4; p++ {
				for v := 0; v < 2; v++ {
					a := acc[p*2+v]
					h.Get(bp[p]).V128Load(uint32(16 * v)).Set(bv)
					k.madd(h, a, av, bv)
				}
				h.AddI32(bp[p], 32)
			}
			h.AddI32(pa, 4)
		})
		h.End()
		for j, a := range acc {
			h.Get(tmp).Get(a).V128Store(uint32(16 * j))
		}
	})
}

// matmulRows runs a fused MatMul with M < 4 rows through gemvKernel.
func (k *Ctx) matmulRows(n *ir.Node, op *ir.FusedMatMul, M int) {
	f := k.F
	a, w, out := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	bias := n.In(2)
	K, N := op.K, op.N
	K4 := ir.PackedK(K)
	mk := k.gemvKernel(&op.Epilogue, bias != nil)
	tmp, size := k.ScratchAddr() // FusedMatMul's A panels: at least 256 bytes
	if size < 128 {
		panic(fmt.Sprintf("gemv: %d bytes of scratch", size))
	}
	pa, pw, po, pbias, cols, jc, mc, prow := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(k.Addr(a)).Set(pa)
	f.I32Const(k.Addr(out)).Set(prow)
	f.Counted(mc, M, func() {
		f.Get(prow).Set(po)
		f.I32Const(k.Addr(w)).Set(pw)
		if bias != nil {
			f.I32Const(k.Addr(bias)).Set(pbias)
		}
		f.SetI32(cols, int32(N))
		f.Counted(jc, (N+31)/32, func() {
			f.Get(pa).Get(pw).Get(po).Get(pbias)
			f.I32Const(int32(K)).I32Const(int32(K4 * 32))
			f.I32Const(32).Get(cols).Get(cols).I32Const(32).Op(wasm.OpcodeI32GtS).Select()
			f.I32Const(k.residualOffset(n, &op.Epilogue)).I32Const(tmp).Call(mk)
			f.AddI32(pw, int32(4*K4*32))
			f.AddI32(po, 128)
			f.AddI32(pbias, 128)
			f.AddI32(cols, -32)
		})
		f.AddI32(pa, int32(K*4))
		f.AddI32(prow, int32(N*4))
	})
}
