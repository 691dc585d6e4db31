package codegen

import (
	"fmt"
	"math"
	"strings"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/tune"
)

// The packed GEMM: C[M,N] = A[M,K] x B[K,N] in tiles of 4 rows by 8
// columns (8 f32x4 accumulators), one A element broadcast per row and k.
// How the operands are laid out depends on --tune (docs/design.md):
//
//   - v8: A is a 4-row panel of scalars ([K][4], packed weights or rows
//     read in place) broadcast with v128.load32_splat, which V8 turns into
//     one vbroadcastss; B is read along its rows (im2col, V, or 8-column
//     panels of packed weights); one k per loop trip.
//   - wazero: A is packed at run time as [K4][4] vectors already broadcast
//     and read with plain v128.load (wazero lowers splats to
//     pinsrd/insertps with a false dependency: 7 GFLOP/s); B is an
//     8-column panel (ir.PackB); k unrolled by 4, highest offsets first.
//
// The micro-kernel is one shared function per (tune, store form, bias,
// epilogue) with the K trip count, strides and tails as arguments: a
// model has a few of them, so code stays small, and V8 tiers them up to
// optimized code after a few calls (a node function runs once per
// inference and would stay in baseline code on a cold start).

// tuneWazero tells whether kernels take the wazero shape: activations
// packed pre-broadcast as A, weights in 8-column PackB panels as B.
func (k *Ctx) tuneWazero() bool {
	return k.md.opts.Tune == tune.Wazero || k.md.opts.Tune == tune.Generic
}

// portable tells whether kernels take the portable shape (the default):
// the v8 tune's operands (weights as A in PackA panels, activations along
// pixels as B), but every A element a whole vector, expanded from the
// packed panel at run time, and the k loop in a leaf function with four
// steps per trip (see dotPortable).
func (k *Ctx) portable() bool { return tune.IsPortable(k.md.opts.Tune) }

// aStride is the bytes per packed A element.
func (k *Ctx) aStride() int32 {
	if k.tuneWazero() || k.portable() {
		return 16
	}
	return 4
}

// storeForm is how a tile reaches C.
type storeForm int

const (
	// storeRows: row-major C, tile row r at c + r*ldc, columns along lanes.
	storeRows storeForm = iota
	// storeNCHW: tile rows are pixels and columns channels of an NCHW
	// output: each 4x4 block is transposed so that one vector holds four
	// pixels of one channel, stored at c + channel*ldc.
	storeNCHW
)

// epilogueKey names an epilogue for helper sharing.
func epilogueKey(ep *ir.Epilogue, bias bool) string {
	var b strings.Builder
	if bias {
		b.WriteString("_bias")
	}
	if ep.Residual {
		b.WriteString("_res")
	}
	for _, a := range ep.Acts {
		if a.Unary != nil {
			fmt.Fprintf(&b, "_%s(%g,%g,%g)", a.Unary.Fn, a.Unary.Alpha, a.Unary.Beta, a.Unary.Gamma)
		} else {
			fmt.Fprintf(&b, "_clip(%g,%g)", a.Lo, a.Hi)
		}
	}
	return b.String()
}

// biasMode says which tile dimension a bias runs along.
type biasMode int

const (
	biasNone biasMode = iota
	biasCols          // one bias per column (MatMul, transposed Conv tiles)
	biasRows          // one bias per row (Conv tiles whose rows are channels)
)

// microKernel returns the shared tile function:
//
//	(a, b, c, bias, steps, ldc, rows, cols, res, ldb) -> ()
//
// a: packed A panel; b: B at the tile's first column; c: the tile's C
// address; bias: the tile's first bias float (biasCols: 8, biasRows: 4);
// steps: loop trips over k (see dotBody); ldc: C's row (storeRows) or
// channel (storeNCHW) stride in bytes; rows and cols: how many of the
// tile's 4 rows and 8 columns are inside C; res: the residual's address
// minus C's (same layout as C); ldb: B's row stride in bytes (v8 tune; a
// packed B panel has 32).
func (k *Ctx) microKernel(form storeForm, ep *ir.Epilogue, bias biasMode) uint32 {
	return k.microKernelA(form, ep, bias, 0, chunkWhole)
}

// residualOffset is the micro-kernels' res argument for fused node n: the
// address of its residual (input 3) minus its output's, 0 without one.
func (k *Ctx) residualOffset(n *ir.Node, ep *ir.Epilogue) int32 {
	if !ep.Residual {
		return 0
	}
	return k.Addr(n.In(3)) - k.Addr(n.Outputs[0])
}

// tileLen sets dst = min(step, total - i*step): how much of tile i of a
// dimension cut into tiles of step lies inside it.
func tileLen(f *asm.Func, dst, i asm.Local, step, total int) {
	f.I32Const(int32(step)).I32Const(int32(total)).Get(i).I32Const(int32(step)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Sub).Tee(dst).Get(dst).I32Const(int32(step)).Op(wasm.OpcodeI32GtS).Select().Set(dst)
}

// K chunks: a product split along K sums chunk by chunk into C (row-major
// tiles only); only the last chunk applies the epilogue. As bits: chunkAddC
// adds C's earlier sums, chunkRaw stores without the epilogue.
const (
	chunkWhole = 0
	chunkAddC  = 1
	chunkRaw   = 2
	chunkFirst = chunkRaw             // sums from zero, stores raw
	chunkMid   = chunkAddC | chunkRaw // sums onto C, stores raw
	chunkLast  = chunkAddC            // sums onto C, then the epilogue
)

// chunkModeOf is the accumulation mode of K chunk i of n.
func chunkModeOf(i, n int) int {
	switch {
	case n == 1:
		return chunkWhole
	case i == 0:
		return chunkFirst
	case i == n-1:
		return chunkLast
	}
	return chunkMid
}

// microKernelA is microKernel reading A unpacked, four rows lda bytes apart
// (v8 tune; lda 0 means a packed panel): V8 broadcasts straight from the
// rows, so MatMul skips packing A.
func (k *Ctx) microKernelA(form storeForm, ep *ir.Epilogue, bias biasMode, lda, chunk int) uint32 {
	return k.microKernelRow(form, ep, bias, lda, chunk, false)
}

// microKernelRow with row set is the tile function looping over a row of
// tiles: cols is then the row's column count, and B and C move 8 columns
// (32 bytes) per tile. One call per row amortizes the call and its setup
// over narrow products (mobilenet_v2's K=16 1x1 convolutions).
//
// The row form takes one more argument, the K chunk as chunkMode bits, so
// that whole products and every chunk of a split one share one function
// (fewer functions for V8 to warm up on a cold start).
func (k *Ctx) microKernelRow(form storeForm, ep *ir.Epilogue, bias biasMode, lda, chunk int, row bool) uint32 {
	return k.microKernelRowPitch(form, ep, bias, lda, chunk, row, 0)
}

// microKernelPitch is the portable row form for products whose B rows are
// a compile-time pitch apart (ldb, then unused, must equal it): the dot
// then addresses a trip's four B rows from one base (dotPortable).
func (k *Ctx) microKernelPitch(form storeForm, ep *ir.Epilogue, bias biasMode, pitch int) uint32 {
	return k.microKernelRowPitch(form, ep, bias, 0, chunkWhole, true, pitch)
}

func (k *Ctx) microKernelRowPitch(form storeForm, ep *ir.Epilogue, bias biasMode, lda, chunk int, row bool, pitch int) uint32 {
	if !row && (chunk == chunkFirst || chunk == chunkMid) {
		ep, bias = &ir.Epilogue{}, biasNone
	}
	if row {
		chunk = chunkWhole // chosen at run time
	}
	name := fmt.Sprintf("gemm4x8_%s_%d_%d_lda%d_c%d_row%v%s", k.md.opts.Tune, form, bias, lda, chunk, row, epilogueKey(ep, false))
	if pitch > 0 {
		name += fmt.Sprintf("_ldb%d", pitch)
	}
	nparams := 10
	if row {
		nparams = 11
	}
	params := make([]wasm.ValueType, nparams)
	for i := range params {
		params[i] = asm.I32
	}
	return k.Helper(name, params, nil, func(h *asm.Func) {
		// One function: a dot helper returning through memory measured
		// slower in both engines (V8 gemm 256^3 0.716 vs 0.707 ms, wazero
		// 3x3 conv 12.8 vs 10.9 ms).
		pa, pb, pc, steps, cols := h.Param(0), h.Param(1), h.Param(2), h.Param(4), h.Param(7)
		var left, b0, c0 asm.Local
		if row {
			// pa, pb, steps are consumed by the k loop: keep the tile's
			// starting values.
			left, b0, c0 = h.Local(asm.I32), h.Local(asm.I32), h.Local(asm.I32)
			h.Get(cols).Set(left)
			h.Get(pb).Set(b0)
			h.Get(pc).Set(c0)
			pa, pb, steps, cols, pc = h.Local(asm.I32), h.Local(asm.I32), h.Local(asm.I32), h.Local(asm.I32), h.Local(asm.I32)
			h.Loop()
			h.Get(h.Param(0)).Set(pa)
			h.Get(b0).Set(pb)
			h.Get(c0).Set(pc)
			h.Get(h.Param(4)).Set(steps)
			h.I32Const(8).Get(left).Get(left).I32Const(8).Op(wasm.OpcodeI32GtS).Select().Set(cols)
		}
		var acc []asm.Local
		if k.portable() && form == storeNCHW {
			acc = k.dotChunked(h, pa, pb, steps, h.Param(9))
		} else {
			acc = k.dotBody(h, pa, pb, steps, h.Param(9), cols, lda, pitch)
		}
		// earlier chunks' sums
		addC := func() {
			ptr := h.Local(asm.I32)
			h.Get(pc).Set(ptr)
			for r := 0; r < 4; r++ {
				for v := 0; v < 2; v++ {
					h.Get(acc[r*2+v]).Get(ptr).V128Load(uint32(16 * v)).Vec(wasm.OpcodeVecF32x4Add).Set(acc[r*2+v])
				}
				h.Get(ptr).Get(h.Param(5)).Op(wasm.OpcodeI32Add).Set(ptr)
			}
		}
		if row {
			mode := h.Param(10)
			h.Get(mode).I32Const(chunkAddC).Op(wasm.OpcodeI32And).If()
			addC()
			h.End()
			h.Get(mode).I32Const(chunkRaw).Op(wasm.OpcodeI32And).If()
			k.epilogueBody(h, acc, form, &ir.Epilogue{}, biasNone, pc, h.Param(3), h.Param(5), h.Param(6), cols, h.Param(8))
			h.Else()
			k.epilogueBody(h, acc, form, ep, bias, pc, h.Param(3), h.Param(5), h.Param(6), cols, h.Param(8))
			h.End()
		} else {
			if chunk == chunkMid || chunk == chunkLast {
				addC()
			}
			k.epilogueBody(h, acc, form, ep, bias, pc, h.Param(3), h.Param(5), h.Param(6), cols, h.Param(8))
		}
		if row {
			h.AddI32(b0, 32)
			h.AddI32(c0, 32)
			h.Get(left).I32Const(8).Op(wasm.OpcodeI32Sub).Tee(left).I32Const(0).Op(wasm.OpcodeI32GtS).BrIf(0)
			h.End()
		}
	})
}

// dotBody emits the k loop into h and returns the accumulators
// (acc[r*2+v]: row r, columns 4v..4v+3). wazero tunes take four k per trip
// (kq = K4/4) from a packed B panel; v8 takes one (kq = K) from B rows ldb
// bytes apart.
func (k *Ctx) dotBody(h *asm.Func, pa, pb, kq, ldb, cols asm.Local, lda, pitch int) []asm.Local {
	if k.portable() {
		acc := make([]asm.Local, 8)
		for i := range acc {
			acc[i] = h.Local(asm.V128)
		}
		// A tile of at most 4 columns (the last of a row: 49 pixels are 6
		// tiles and 1 column) takes the 4x4 dot: half the arithmetic, the
		// same sums for the columns stored.
		h.Get(cols).I32Const(4).Op(wasm.OpcodeI32LeS).If()
		h.Get(pa).Get(pb).Get(kq).Get(ldb).Call(k.dotPortableVecs(pitch, 1))
		for r := 3; r >= 0; r-- {
			h.Set(acc[r*2])
			h.V128Const([16]byte{}).Set(acc[r*2+1])
		}
		h.Else()
		h.Get(pa).Get(pb).Get(kq).Get(ldb).Call(k.dotPortable(pitch))
		for i := 7; i >= 0; i-- {
			h.Set(acc[i])
		}
		h.End()
		return acc
	}
	wz := k.tuneWazero()
	{
		acc := make([]asm.Local, 8) // acc[r*2+v]
		for i := range acc {
			acc[i] = h.Local(asm.V128)
			h.V128Const([16]byte{}).Set(acc[i])
		}
		b0, b1, av := h.Local(asm.V128), h.Local(asm.V128), h.Local(asm.V128)
		as := uint32(4)
		if wz {
			as = 16
		}
		// wazero needs the k loop unrolled (v128 values carried around a
		// loop get a copy at the back-edge); in V8 unrolling by 4 made the
		// same kernel 1.45x slower (TurboFan hoists the loads and spills),
		// so v8 steps one k per iteration.
		U := 4
		if !wz {
			U = 1
		}
		// V8 unrolls (and drops the stack check from) only loops nested in
		// another loop: an enclosing loop that never branches back makes
		// the k loop one (gemm 256^3 0.606 -> 0.526 ms, tiny_transformer
		// 0.358 -> 0.321 ms in V8).
		h.Loop()
		h.Loop32(kq, func() {
			// Highest offsets first: wazero then bounds-checks each base
			// once per iteration.
			for kk := U - 1; kk >= 0; kk-- {
				h.Get(pb).V128Load(uint32(kk*32 + 16)).Set(b1)
				h.Get(pb).V128Load(uint32(kk * 32)).Set(b0)
				for r := 3; r >= 0; r-- {
					off := uint32(kk*4+r) * as
					if lda > 0 {
						off = uint32(r*lda + kk*4)
					}
					if wz {
						h.Get(pa).V128Load(off).Set(av)
					} else {
						h.Get(pa).V128Load32Splat(off).Set(av)
					}
					a0, a1 := acc[r*2], acc[r*2+1]
					k.madd(h, a1, av, b1)
					k.madd(h, a0, av, b0)
				}
			}
			if lda > 0 {
				h.AddI32(pa, int32(4*U))
			} else {
				h.AddI32(pa, int32(U*4)*int32(as))
			}
			if wz {
				h.AddI32(pb, int32(32*U))
			} else {
				h.Get(pb).Get(ldb).Op(wasm.OpcodeI32Add).Set(pb)
			}
		})
		h.End()
		return acc
	}
}

// dotChunked is the portable dot in chunks of portableMaxK steps, each
// summed from zero and added to the chunks before it: the portable
// storeNCHW tile (pixelsAsA) then rounds as convPackA's K chunks do
// (chunk sums added to C), so that a layer gives the same bits in a
// single-threaded module (pixels as A) as in a threaded one (weights as A).
// pa, pb and steps are consumed.
func (k *Ctx) dotChunked(h *asm.Func, pa, pb, steps, ldb asm.Local) []asm.Local {
	acc, t := make([]asm.Local, 8), make([]asm.Local, 8)
	for i := range acc {
		acc[i], t[i] = h.Local(asm.V128), h.Local(asm.V128)
	}
	n := h.Local(asm.I32)
	// chunk calls the dot on min(steps, portableMaxK) steps into dst.
	chunk := func(dst []asm.Local) {
		h.I32Const(portableMaxK).Get(steps).Get(steps).I32Const(portableMaxK).Op(wasm.OpcodeI32GtU).Select().Set(n)
		h.Get(pa).Get(pb).Get(n).Get(ldb).Call(k.dotPortable(0))
		for i := 7; i >= 0; i-- {
			h.Set(dst[i])
		}
		h.Get(steps).Get(n).Op(wasm.OpcodeI32Sub).Set(steps)
		h.Get(pa).Get(n).I32Const(64).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(pa)
		h.Get(pb).Get(n).Get(ldb).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(pb)
	}
	chunk(acc)
	h.Block()
	h.Loop()
	h.Get(steps).Op(wasm.OpcodeI32Eqz).BrIf(1)
	chunk(t)
	for i := range acc {
		h.Get(t[i]).Get(acc[i]).Vec(wasm.OpcodeVecF32x4Add).Set(acc[i])
	}
	h.Br(0)
	h.End()
	h.End()
	return acc
}

// dotPortable returns the portable shape's k loop as a leaf function
//
//	(a, b, steps, ldb) -> 8 x v128
//
// a: 4 rows of pre-broadcast A per k (64 bytes); b: B at the tile's first
// column, its rows ldb bytes apart; steps >= 1 k steps; the results are
// acc[r*2+v] (row r, columns 4v..4v+3). The same code is fast in V8 and on
// wazero (measured, docs/design.md):
//
//   - A is loaded as whole vectors: wazero lowers load32_splat to
//     pinsrd+pshufd with a false dependency (7 GFLOP/s); V8 pays nothing
//     for the plain load.
//   - A leaf function keeps the loop's few pointers in registers on
//     wazero, whose allocator spilled them inside the micro-kernel.
//   - Four k steps per trip, each followed by its exit test: wazero copies
//     the eight accumulators at every back-edge, so it wants long trips;
//     V8 let the arithmetic of a branch-free unrolled body sink below all
//     its loads and spilled, while the exit branches keep each step's
//     loads next to their arithmetic (V8's own unroller does the same).
//   - Trips run while four steps remain, A addressed from one base per
//     trip (immediate offsets) after a probe of the trip's last A vector:
//     wazero bounds-checks a base once per block and carries the check
//     into blocks with one predecessor, so the probe's one check covers
//     the trip's 16 A loads (the probe's value is dropped; V8 loads and
//     ignores it). The exit tests compare the trip's count with the step
//     (steps > u: cmp+jbe on wazero, no decrement per step), and the trip
//     returns to the loop through an if around br (a br_if of the same
//     comparison became cmp/setnbe/movzx/test/jnz on wazero). The last 1-3
//     steps run one per trip. Each accumulator still sums its k in order,
//     so the results are the same bits.
//   - Four steps per trip, not eight: eight cut wazero's 1x1 layers ~7%
//     (the probes and the back-edge's eight accumulator copies over twice
//     the steps) but made V8 2-7% slower (Winograd products most).
//
// With a pitch (B's rows that many bytes apart, known at compile time;
// ldb is then unused) a trip's B is addressed from one base as well, under
// a second probe: without one, wazero bounds-checks B's base at every step
// (~8 instructions of a ~38-instruction step). Convolutions pass their
// col's or input's row pitch (convPackA, convTaps), Winograd its V's.
func (k *Ctx) dotPortable(pitch int) uint32 { return k.dotPortableVecs(pitch, 2) }

// dotPortableVecs is dotPortable over vecs vectors of B per k step (2: the
// 4x8 tile; 1: a 4x4 tile, returning acc[r], row r's 4 columns).
func (k *Ctx) dotPortableVecs(pitch, vecs int) uint32 {
	i32, v := asm.I32, asm.V128
	res := make([]wasm.ValueType, 4*vecs)
	for i := range res {
		res[i] = v
	}
	name := fmt.Sprintf("dot4x%d_portable", 4*vecs)
	if pitch > 0 {
		name += fmt.Sprintf("_ldb%d", pitch)
	}
	// aStep: A's bytes per k step; aLast: a step's last A vector
	const aStep, aLast = 64, 48
	return k.Helper(name, []wasm.ValueType{i32, i32, i32, i32}, res, func(h *asm.Func) {
		pa, pb, steps, ldb := h.Param(0), h.Param(1), h.Param(2), h.Param(3)
		acc := make([]asm.Local, 4*vecs) // acc[r*vecs+j]: row r, columns 4j..4j+3
		for i := range acc {
			acc[i] = h.Local(asm.V128)
			h.V128Const([16]byte{}).Set(acc[i])
		}
		b := make([]asm.Local, vecs)
		for j := range b {
			b[j] = h.Local(asm.V128)
		}
		av := h.Local(asm.V128)
		// step emits one k step reading A at pa+aoff and B at pb.
		step := func(aoff, boff uint32) {
			for j := vecs - 1; j >= 0; j-- {
				h.Get(pb).V128Load(boff + uint32(16*j)).Set(b[j])
			}
			for r := 3; r >= 0; r-- {
				h.Get(pa).V128Load(aoff + uint32(16*r)).Set(av)
				for j := vecs - 1; j >= 0; j-- {
					k.madd(h, acc[r*vecs+j], av, b[j])
				}
			}
			if pitch == 0 {
				h.Get(pb).Get(ldb).Op(wasm.OpcodeI32Add).Set(pb)
			}
		}
		const U = 4
		h.Get(steps).I32Const(U).Op(wasm.OpcodeI32GeU).If()
		h.Loop()
		h.Get(pa).V128Load(uint32((U-1)*aStep + aLast)).Drop() // the probes
		if pitch > 0 {
			h.Get(pb).V128Load(uint32((U-1)*pitch + 16*(vecs-1))).Drop()
		}
		for u := 0; u < U; u++ {
			step(uint32(aStep*u), uint32(u*pitch))
			if u < U-1 {
				h.Get(steps).I32Const(int32(u + 1)).Op(wasm.OpcodeI32GtU).If()
			}
		}
		h.AddI32(steps, -U)
		h.AddI32(pa, int32(U*aStep))
		if pitch > 0 {
			h.AddI32(pb, int32(U*pitch))
		}
		// to the loop: an if around br, not br_if, which wazero lowers to
		// setnbe/movzx/test/jnz where an if compares and branches
		h.Get(steps).I32Const(U - 1).Op(wasm.OpcodeI32GtU).If()
		h.Br(U)
		h.End()
		for range U + 1 { // the ifs, the loop, the first if
			h.End()
		}
		h.Get(steps).If()
		h.Loop()
		step(0, 0)
		h.AddI32(pa, int32(aStep))
		if pitch > 0 {
			h.AddI32(pb, int32(pitch))
		}
		h.Get(steps).I32Const(1).Op(wasm.OpcodeI32Sub).Tee(steps).BrIf(0)
		h.End()
		h.End()
		for _, a := range acc {
			h.Get(a)
		}
	})
}

// expandPanel returns the shared function (src, dst, n, stride) writing n
// k steps of a PackA panel (4 floats per k, stride bytes apart; 16 when
// contiguous) at src as pre-broadcast vectors (64 bytes per k) at dst: the
// portable shape's A, made per block of pixels so that the module keeps
// the compact weights. A step's four splats are made before its stores:
// wazero's splat (pinsrd+pshufd) writes into its register's old value, and
// with one splat live at a time every splat went through one register, a
// chain across the whole panel (10% of a 1x1 layer's time on wazero);
// four live at once take four registers.
func (k *Ctx) expandPanel() uint32 {
	i32 := asm.I32
	return k.Helper("expand_panel", []wasm.ValueType{i32, i32, i32, i32}, nil, func(h *asm.Func) {
		src, dst, n, stride := h.Param(0), h.Param(1), h.Param(2), h.Param(3)
		var v [4]asm.Local
		for r := range v {
			v[r] = h.Local(asm.V128)
		}
		h.Loop32(n, func() {
			for r := 3; r >= 0; r-- {
				h.Get(src).V128Load32Splat(uint32(4 * r)).Set(v[r])
			}
			for r := 3; r >= 0; r-- {
				h.Get(dst).Get(v[r]).V128Store(uint32(16 * r))
			}
			h.Get(src).Get(stride).Op(wasm.OpcodeI32Add).Set(src)
			h.AddI32(dst, 64)
		})
	})
}

// epilogueBody adds bias and residual to the accumulators, applies the
// activations and stores the tile's valid rows and columns.
func (k *Ctx) epilogueBody(h *asm.Func, acc []asm.Local, form storeForm, ep *ir.Epilogue, bias biasMode, pc, pbias, ldc, rows, cols, res asm.Local) {
	i32 := asm.I32
	{
		b0, b1 := h.Local(asm.V128), h.Local(asm.V128)
		switch bias {
		case biasCols:
			h.Get(pbias).V128Load(16).Set(b1)
			h.Get(pbias).V128Load(0).Set(b0)
			for r := 0; r < 4; r++ {
				h.Get(acc[r*2]).Get(b0).Vec(wasm.OpcodeVecF32x4Add).Set(acc[r*2])
				h.Get(acc[r*2+1]).Get(b1).Vec(wasm.OpcodeVecF32x4Add).Set(acc[r*2+1])
			}
		case biasRows:
			for r := 0; r < 4; r++ {
				h.Get(pbias).V128Load32Splat(uint32(4 * r)).Set(b0)
				h.Get(acc[r*2]).Get(b0).Vec(wasm.OpcodeVecF32x4Add).Set(acc[r*2])
				h.Get(acc[r*2+1]).Get(b0).Vec(wasm.OpcodeVecF32x4Add).Set(acc[r*2+1])
			}
		}
		x := fxFor(h, asm.F32, true)
		finish := func(v asm.Local, ptr asm.Local) { k.vecEpilogue(x, ep, v, ptr, res) }
		store := func(ptr, v, n asm.Local) { storeLanesN(h, ptr, v, n) }
		ptr, n := h.Local(i32), h.Local(i32)
		switch form {
		case storeRows:
			// A whole tile (the common case) stores without per-row and
			// per-vector checks.
			h.Get(rows).I32Const(4).Op(wasm.OpcodeI32Eq).Get(cols).I32Const(8).Op(wasm.OpcodeI32Eq).Op(wasm.OpcodeI32And).If()
			// One base per row, its higher offset first: wazero then
			// bounds-checks each row once (the residual's likewise).
			q := h.Local(i32)
			h.Get(pc).Set(ptr)
			for r := 0; r < 4; r++ {
				a0, a1 := acc[r*2], acc[r*2+1]
				if ep.Residual {
					h.Get(ptr).Get(res).Op(wasm.OpcodeI32Add).Set(q)
					h.Get(a1).Get(q).V128Load(16).Vec(wasm.OpcodeVecF32x4Add).Set(a1)
					h.Get(a0).Get(q).V128Load(0).Vec(wasm.OpcodeVecF32x4Add).Set(a0)
				}
				k.vecActs(x, ep.Acts, a1)
				k.vecActs(x, ep.Acts, a0)
				h.Get(ptr).Get(a1).V128Store(16)
				h.Get(ptr).Get(a0).V128Store(0)
				h.Get(ptr).Get(ldc).Op(wasm.OpcodeI32Add).Set(ptr)
			}
			h.Else()
			// row r: columns 0-3 then 4-7
			for r := 0; r < 4; r++ {
				h.Get(rows).I32Const(int32(r)).Op(wasm.OpcodeI32GtS).If()
				h.Get(pc).Get(ldc).I32Const(int32(r)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(ptr)
				for v := 0; v < 2; v++ {
					h.Get(cols).I32Const(int32(4 * v)).Op(wasm.OpcodeI32GtS).If()
					if v == 1 {
						h.AddI32(ptr, 16)
					}
					h.Get(cols).I32Const(int32(4 * v)).Op(wasm.OpcodeI32Sub).Set(n)
					finish(acc[r*2+v], ptr)
					store(ptr, acc[r*2+v], n)
					h.End()
				}
				h.End()
			}
			h.End()
		case storeNCHW:
			t := []asm.Local{h.Local(asm.V128), h.Local(asm.V128), h.Local(asm.V128), h.Local(asm.V128)}
			for v := 0; v < 2; v++ {
				transpose4(h, acc[v], acc[2+v], acc[4+v], acc[6+v], t)
				for j := 0; j < 4; j++ {
					ch := int32(4*v + j)
					h.Get(cols).I32Const(ch).Op(wasm.OpcodeI32GtS).If()
					h.Get(pc).Get(ldc).I32Const(ch).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(ptr)
					finish(t[j], ptr)
					store(ptr, t[j], rows)
					h.End()
				}
			}
		}
	}
}

// transpose4 sets t[j] to lane j of a, b, c, d (a 4x4 transpose).
func transpose4(h *asm.Func, a, b, c, d asm.Local, t []asm.Local) {
	lo := [16]byte{0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23}
	hi := [16]byte{8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31}
	lo64 := [16]byte{0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23}
	hi64 := [16]byte{8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31}
	ab0, ab1, cd0, cd1 := t[0], t[1], t[2], t[3]
	// ab0 = a0 b0 a1 b1, ab1 = a2 b2 a3 b3, cd likewise; the results go to
	// t in an order that lets each be written once.
	h.Get(a).Get(b).I8x16Shuffle(lo).Set(ab0)
	h.Get(a).Get(b).I8x16Shuffle(hi).Set(ab1)
	h.Get(c).Get(d).I8x16Shuffle(lo).Set(cd0)
	h.Get(c).Get(d).I8x16Shuffle(hi).Set(cd1)
	// a, b, c, d are free now: use them as temporaries.
	h.Get(ab0).Get(cd0).I8x16Shuffle(lo64).Set(a)
	h.Get(ab0).Get(cd0).I8x16Shuffle(hi64).Set(b)
	h.Get(ab1).Get(cd1).I8x16Shuffle(lo64).Set(c)
	h.Get(ab1).Get(cd1).I8x16Shuffle(hi64).Set(d)
	h.Get(a).Set(t[0])
	h.Get(b).Set(t[1])
	h.Get(c).Set(t[2])
	h.Get(d).Set(t[3])
}

// packARows writes one packed A panel from 4 rows given by their element
// addresses in locals src[r] (each row contiguous along k with element
// stride cs bytes), K elements, to dst (advanced past the panel); rows past
// the valid count repeat the last valid row (their results are not stored).
func (k *Ctx) packARows(src []asm.Local, cs int32, K int, dst asm.Local) {
	f := k.F
	wz := k.aStride() == 16
	as := k.aStride()
	c := f.Local(asm.I32)
	loop := func(n int) {
		f.Counted(c, n, func() {
			for r := 0; r < 4; r++ {
				if wz {
					f.Get(dst).Get(src[r]).V128Load32Splat(0).V128Store(uint32(int32(r) * as))
				} else {
					f.Get(dst).Get(src[r]).F32Load(0).F32Store(uint32(int32(r) * as))
				}
				f.AddI32(src[r], cs)
			}
			f.AddI32(dst, 4*as)
		})
	}
	loop(K)
	k.zeroAPad(K, dst)
}

// zeroAPad clears the packed rows from K up to K4, at dst (advanced).
func (k *Ctx) zeroAPad(K int, dst asm.Local) {
	if pad := ir.PackedK(K) - K; pad > 0 {
		n := int32(pad) * 4 * k.aStride()
		k.F.Get(dst).I32Const(0).I32Const(n).MemoryFill()
		k.F.AddI32(dst, n)
	}
}

// vecEpilogue applies a fused epilogue to the f32x4 vector in local v,
// in place: the residual at the address in ptr plus the byte offset in
// res, then the activations.
func (k *Ctx) vecEpilogue(x fx, ep *ir.Epilogue, v, ptr, res asm.Local) {
	if ep.Residual {
		x.f.Get(v).Get(ptr).Get(res).Op(wasm.OpcodeI32Add).V128Load(0).Vec(wasm.OpcodeVecF32x4Add).Set(v)
	}
	k.vecActs(x, ep.Acts, v)
}

// vecActs applies activations to the f32x4 vector in local v, in place.
func (k *Ctx) vecActs(x fx, acts []ir.Activation, v asm.Local) {
	for _, a := range acts {
		if a.Unary != nil {
			k.floatUnary(x, a.Unary, v)
		} else {
			x.get(v)
			if !math.IsInf(float64(a.Lo), -1) {
				x.c(float64(a.Lo)).atLeast()
			}
			if !math.IsInf(float64(a.Hi), 1) {
				x.c(float64(a.Hi)).atMost()
			}
		}
		x.set(v)
	}
}
