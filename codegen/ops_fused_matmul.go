package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/tune"
)

// Fused MatMul/Gemm with a constant B: rows of A packed four at a time,
// tiles of 4x8 stored row-major with bias, residual and activations applied
// in registers.

func init() {
	// The A panels are packed into per-thread scratch: in a threaded
	// module each thread packs the panels of the units it claims.
	registerScratch(func(n *ir.Node, op *ir.FusedMatMul) int {
		if !op.Packed {
			return 0
		}
		rows := n.Inputs[0].Type.Shape.Size() / max(op.K, 1)
		_, b4 := matmulBlock(rows, op.K, 4)
		_, b16 := matmulBlock(rows, op.K, 16)
		return max(b4, b16)
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.FusedMatMul) error {
		out := n.Outputs[0]
		if out.Type.Shape.Size() == 0 {
			return nil
		}
		if op.K == 0 {
			if err := k.zeroFill(out); err != nil {
				return err
			}
		} else if op.Packed && k.SIMD() {
			k.matmulPacked(n, op)
			return nil
		} else if op.Packed {
			return ir.NotSupportedf("prepacked MatMul weights without the SIMD GEMM")
		} else {
			f := k.F
			pa, pb, pc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
			f.I32Const(k.Addr(n.Inputs[0])).Set(pa)
			f.I32Const(k.Addr(n.Inputs[1])).Set(pb)
			f.I32Const(k.Addr(out)).Set(pc)
			M := out.Type.Shape.Size() / op.N
			if err := k.emitMatMul(mm{M: M, K: op.K, N: op.N, dt: ir.Float32, a: matrix{pa, op.K, 1}, b: matrix{pb, op.N, 1}, c: pc}); err != nil {
				return err
			}
		}
		if b := n.In(2); b != nil {
			fn, err := k.binaryFn(ir.FnAdd, ir.Float32, ir.Float32)
			if err != nil {
				return err
			}
			if err := k.elementwise(&ir.Node{Op: &ir.Binary{Fn: ir.FnAdd}, Inputs: []*ir.Value{out, b}, Outputs: []*ir.Value{out}}, fn); err != nil {
				return err
			}
		}
		return k.applyEpilogue(out, &op.Epilogue, n.In(3))
	})
}

// matmulBlock is the number of 4-row panels packed at once and their bytes.
func matmulBlock(rows, K int, as int) (panels, bytes int) {
	total := (rows + 3) / 4
	per := ir.PackedK(K) * 4 * as
	panels = max(1, min(total, aBlockBytes/per))
	return panels, panels * per
}

// panelBlocks loops over panels 4-row panels (at least one) in blocks of
// at most per, calling body with locals holding each block's first panel
// and its panel count.
func panelBlocks(f *asm.Func, panels, per int, body func(start, cnt asm.Local)) {
	start, left, cnt := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.SetI32(start, 0)
	f.SetI32(left, int32(panels))
	f.Loop()
	// cnt = min(per, left)
	f.I32Const(int32(per)).Get(left).Get(left).I32Const(int32(per)).Op(wasm.OpcodeI32GtS).Select().Set(cnt)
	body(start, cnt)
	f.Get(start).Get(cnt).Op(wasm.OpcodeI32Add).Set(start)
	f.Get(left).Get(cnt).Op(wasm.OpcodeI32Sub).Tee(left).BrIf(0)
	f.End()
}

func (k *Ctx) matmulPacked(n *ir.Node, op *ir.FusedMatMul) {
	f := k.F
	a, w, out := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	bias, resOff := n.In(2), k.residualOffset(n, &op.Epilogue)
	K, N := op.K, op.N
	M := out.Type.Shape.Size() / N
	if M < 4 && !k.tuneWazero() {
		k.matmulRows(n, op, M)
		return
	}
	K4 := ir.PackedK(K)
	as := k.aStride()
	panels := (M + 3) / 4
	blockPanels, _ := matmulBlock(M, K, int(as))
	panelBytes := int32(K4 * 4 * int(as))
	aBuf := k.WorkspaceAddr()

	lda := 0
	if k.md.opts.Tune == tune.V8 && M%4 == 0 {
		lda = K * 4
	}
	mk := k.microKernelA(storeRows, &op.Epilogue, biasIf(bias != nil, biasCols), lda, chunkWhole)
	direct := lda > 0
	// packRows packs the rows of panels start .. start+cnt (the last row
	// repeated past M) into dst, as the micro-kernel reads them.
	packRows := func(start, cnt, pi, pc, dst asm.Local) {
		f := k.F
		row := f.Local(asm.I32)
		src := []asm.Local{f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)}
		f.Get(start).Set(pi)
		f.Get(cnt).Set(pc)
		f.Loop32(pc, func() {
			for r := 0; r < 4; r++ {
				f.Get(pi).I32Const(4).Op(wasm.OpcodeI32Mul).I32Const(int32(r)).Op(wasm.OpcodeI32Add).Set(row)
				f.I32Const(int32(M - 1)).Get(row).Get(row).I32Const(int32(M - 1)).Op(wasm.OpcodeI32GtS).Select().Set(row)
				f.Get(row).I32Const(int32(K * 4)).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(a)).Op(wasm.OpcodeI32Add).Set(src[r])
			}
			k.packARows(src, 4, K, dst)
			f.AddI32(pi, 1)
		})
	}
	// blockTiles runs the micro-kernel on column tile nb of panels
	// start .. start+cnt, reading their packed rows from ap on.
	blockTiles := func(start, cnt, pi, pc, ap, nb, rows, cols asm.Local) {
		f := k.F
		f.Get(start).Set(pi)
		f.Get(cnt).Set(pc)
		f.Loop32(pc, func() {
			tileLen(f, rows, pi, 4, M)
			f.Get(ap)
			f.I32Const(k.Addr(w)).Get(nb).I32Const(int32(K4 * 32)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
			// C: out + pi*4*N*4 + nb*32
			f.I32Const(k.Addr(out)).Get(pi).I32Const(int32(16 * N)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Get(nb).I32Const(32).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
			if bias != nil {
				f.I32Const(k.Addr(bias)).Get(nb).I32Const(32).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
			} else {
				f.I32Const(0)
			}
			steps := k.packedSteps(K4)
			if direct {
				steps = int32(K) // B's padding rows are never read
			}
			f.I32Const(steps).I32Const(int32(N * 4)).Get(rows).Get(cols)
			f.I32Const(resOff)
			f.I32Const(32).Call(mk)
			if direct {
				f.AddI32(ap, int32(16*K))
			} else {
				f.AddI32(ap, panelBytes)
			}
			f.AddI32(pi, 1)
		})
	}
	if u := k.matmulUnits(op, M, blockPanels); k.splits(u.n, u.ns) {
		k.matmulPackedThreads(n, op, M, blockPanels, u, direct, packRows, blockTiles)
		return
	}
	panelBlocks(f, panels, blockPanels, func(start, cnt asm.Local) {
		// Pack the block's rows (the v8 tune reads whole panels of rows in place).
		pi, pc := f.Local(asm.I32), f.Local(asm.I32)
		if !direct {
			dst := f.Local(asm.I32)
			f.I32Const(aBuf).Set(dst)
			packRows(start, cnt, pi, pc, dst)
		}
		nb, nbc, ap, rows, cols := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		f.SetI32(nb, 0)
		f.Counted(nbc, (N+7)/8, func() {
			tileLen(f, cols, nb, 8, N)
			if direct {
				f.Get(start).I32Const(int32(16 * K)).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(a)).Op(wasm.OpcodeI32Add).Set(ap)
			} else {
				f.I32Const(aBuf).Set(ap)
			}
			blockTiles(start, cnt, pi, pc, ap, nb, rows, cols)
			f.AddI32(nb, 1)
		})
	})
}

// matmulUnits cuts matmulPackedThreads's products into units of one
// block of 4-row panels and a group of 8-column tiles.
func (k *Ctx) matmulUnits(op *ir.FusedMatMul, M, blockPanels int) gemmUnits {
	panels := (M + 3) / 4
	return k.splitGEMM((panels+blockPanels-1)/blockPanels, (op.N+7)/8, 2*op.K*4*min(blockPanels, panels)*8)
}

// matmulPackedThreads is matmulPacked in a threaded module: the work is
// handed out in units of one block of 4-row panels and a group of 8-column
// tiles; a unit packs its panels (into its thread's scratch) and runs the
// micro-kernel over its tiles, each over the whole of K as the
// single-threaded loop does, so every output element sees the same
// operations whichever thread computes it.
func (k *Ctx) matmulPackedThreads(n *ir.Node, op *ir.FusedMatMul, M, blockPanels int, units gemmUnits, direct bool,
	packRows func(start, cnt, pi, pc, dst asm.Local), blockTiles func(start, cnt, pi, pc, ap, nb, rows, cols asm.Local)) {
	a := n.Inputs[0]
	K, N := op.K, op.N
	buf, bufSize := k.ScratchAddr()
	panels, tiles := (M+3)/4, (N+7)/8
	groups, per := units.groups, units.per
	k.Parallel(units.n, units.ns, func(s Span) {
		f := s.F
		u, start, cnt, nb, nbEnd, ap, ap0, pi, pc, rows, cols := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32),
			f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		s.For(u, func() {
			// start = (u / groups) * blockPanels; cnt = min(blockPanels, panels - start)
			f.Get(u).I32Const(int32(groups)).Op(wasm.OpcodeI32DivU).I32Const(int32(blockPanels)).Op(wasm.OpcodeI32Mul).Set(start)
			f.I32Const(int32(panels)).Get(start).Op(wasm.OpcodeI32Sub).Set(cnt)
			f.I32Const(int32(blockPanels)).Get(cnt).Get(cnt).I32Const(int32(blockPanels)).Op(wasm.OpcodeI32GtS).Select().Set(cnt)
			// tiles nb .. min(nb+per, tiles)
			f.Get(u).I32Const(int32(groups)).Op(wasm.OpcodeI32RemU).I32Const(int32(per)).Op(wasm.OpcodeI32Mul).Tee(nb)
			f.I32Const(int32(per)).Op(wasm.OpcodeI32Add).Tee(nbEnd).I32Const(int32(tiles)).Get(nbEnd).I32Const(int32(tiles)).Op(wasm.OpcodeI32LtS).Select().Set(nbEnd)
			if direct {
				f.Get(start).I32Const(int32(16 * K)).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(a)).Op(wasm.OpcodeI32Add).Set(ap0)
			} else {
				dst := f.Local(asm.I32)
				s.Scratch(buf, bufSize)
				f.Tee(ap0).Set(dst)
				packRows(start, cnt, pi, pc, dst)
			}
			f.Loop()
			tileLen(f, cols, nb, 8, N)
			f.Get(ap0).Set(ap)
			blockTiles(start, cnt, pi, pc, ap, nb, rows, cols)
			f.Get(nb).I32Const(1).Op(wasm.OpcodeI32Add).Tee(nb).Get(nbEnd).Op(wasm.OpcodeI32LtS).BrIf(0)
			f.End()
		})
	})
}
