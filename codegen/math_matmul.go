package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Matrix multiplication: the core used by Gemm, MatMul, Conv, ConvTranspose,
// the RNNs and DeformConv (mm); the packed and threaded forms are in
// math_gemm_packed.go and ops_fused_matmul.go.

// matrix addresses a 2-D operand: element (r, c) is at base + (r*rs + c*cs)
// elements; base is a local so batch loops can move it.
type matrix struct {
	base   asm.Local
	rs, cs int
}

// mm describes C[M,N] = A[M,K] x B[K,N] with C row-major (row stride N).
type mm struct {
	M, K, N int
	dt      ir.DType
	a, b    matrix
	c       asm.Local
}

// emitMatMul writes C = A x B.
func (k *Ctx) emitMatMul(p mm) error {
	if p.dt == ir.Float32 && k.SIMD() && p.b.cs == 1 && p.N >= 4 {
		k.matmulSIMD(p)
		return nil
	}
	return k.matmulScalar(p)
}

// matmulScalar is the reference-shaped loop for every dtype.
func (k *Ctx) matmulScalar(p mm) error {
	f := k.F
	ct, err := computeType(p.dt)
	if err != nil {
		return err
	}
	if p.dt == ir.Float16 || p.dt == ir.BFloat16 {
		ct = asm.F32
	}
	sz := int32(elemBytes(p.dt))
	add := map[wasm.ValueType]wasm.Opcode{asm.F32: wasm.OpcodeF32Add, asm.F64: wasm.OpcodeF64Add, asm.I32: wasm.OpcodeI32Add, asm.I64: wasm.OpcodeI64Add}[ct]
	mul := map[wasm.ValueType]wasm.Opcode{asm.F32: wasm.OpcodeF32Mul, asm.F64: wasm.OpcodeF64Mul, asm.I32: wasm.OpcodeI32Mul, asm.I64: wasm.OpcodeI64Mul}[ct]
	i, j, kk := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	pa, pb, pc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	acc := f.Local(ct)
	f.Get(p.c).Set(pc)
	var err2 error
	f.Repeat(i, p.M, func() {
		f.Repeat(j, p.N, func() {
			constOf(f, ct, 0)
			f.Set(acc)
			// pa = a + i*rs*sz ; pb = b + j*cs*sz
			f.Get(p.a.base).Get(i).I32Const(int32(p.a.rs) * sz).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(pa)
			f.Get(p.b.base).Get(j).I32Const(int32(p.b.cs) * sz).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(pb)
			f.Repeat(kk, p.K, func() {
				f.Get(acc)
				f.Get(pa)
				if e := k.loadElem(p.dt, 0); e != nil {
					err2 = e
				}
				f.Get(pb)
				k.loadElem(p.dt, 0)
				f.Op(mul).Op(add).Set(acc)
				f.AddI32(pa, int32(p.a.cs)*sz)
				f.AddI32(pb, int32(p.b.rs)*sz)
			})
			f.Get(pc).Get(acc)
			if e := k.storeElem(p.dt, 0); e != nil {
				err2 = e
			}
			f.AddI32(pc, sz)
		})
	})
	return err2
}

// matmulSIMD register-blocks C in tiles of up to 4 rows by 8 columns: each
// k step loads two B vectors and broadcasts one A element per row.
func (k *Ctx) matmulSIMD(p mm) {
	f := k.F
	// Row tiles: M/4 of 4 rows, then one of the rest (kept as runs, not
	// one entry per tile: M comes from the model and may be huge).
	type tileRun struct{ rows, reps int }
	var rowRuns []tileRun
	if p.M >= 4 {
		rowRuns = append(rowRuns, tileRun{4, p.M / 4})
	}
	if p.M%4 > 0 {
		rowRuns = append(rowRuns, tileRun{p.M % 4, 1})
	}
	// Column blocks: 8-wide, then one 4-wide, then a scalar remainder.
	n8 := p.N / 8 * 8
	n4 := (p.N - n8) / 4 * 4
	nRest := p.N - n8 - n4

	pa := make([]asm.Local, 4)
	for r := range pa {
		pa[r] = f.Local(asm.I32)
	}
	pb, pc, rowA, rowC, col := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	accs := make([]asm.Local, 8)
	for i := range accs {
		accs[i] = f.Local(asm.V128)
	}
	bv := []asm.Local{f.Local(asm.V128), f.Local(asm.V128)}
	av := f.Local(asm.V128)
	kc := f.Local(asm.I32)
	sacc := make([]asm.Local, 4)
	for i := range sacc {
		sacc[i] = f.Local(asm.F32)
	}
	aRow := int32(p.a.rs * 4)
	aCol := int32(p.a.cs * 4)
	bRow := int32(p.b.rs * 4)

	// tile emits one rows x vecs*4 tile whose C address is pc, B column
	// address pb and A row addresses pa[0..rows).
	tile := func(rows, vecs int) {
		for i := 0; i < rows*vecs; i++ {
			f.V128Const([16]byte{}).Set(accs[i])
		}
		f.Counted(kc, p.K, func() {
			for v := 0; v < vecs; v++ {
				f.Get(pb).V128Load(uint32(16 * v)).Set(bv[v])
			}
			for r := 0; r < rows; r++ {
				f.Get(pa[r]).V128Load32Splat(0).Set(av)
				for v := 0; v < vecs; v++ {
					a := accs[r*vecs+v]
					k.madd(f, a, av, bv[v])
				}
				f.AddI32(pa[r], aCol)
			}
			f.AddI32(pb, bRow)
		})
		for r := 0; r < rows; r++ {
			for v := 0; v < vecs; v++ {
				f.Get(pc).Get(accs[r*vecs+v]).V128Store(uint32(r*p.N*4 + 16*v))
			}
		}
	}
	scalarCols := func(rows int) {
		for i := 0; i < rows; i++ {
			f.F32Const(0).Set(sacc[i])
		}
		f.Counted(kc, p.K, func() {
			for r := 0; r < rows; r++ {
				f.Get(sacc[r]).Get(pa[r]).F32Load(0).Get(pb).F32Load(0).Op(wasm.OpcodeF32Mul).Op(wasm.OpcodeF32Add).Set(sacc[r])
				f.AddI32(pa[r], aCol)
			}
			f.AddI32(pb, bRow)
		})
		for r := 0; r < rows; r++ {
			f.Get(pc).Get(sacc[r]).F32Store(uint32(r * p.N * 4))
		}
	}
	// setTilePtrs points pa[0..rows), pb and pc at the tile in column col.
	setTilePtrs := func(rows int) {
		for r := 0; r < rows; r++ {
			f.Get(rowA).I32Const(int32(r) * aRow).Op(wasm.OpcodeI32Add).Set(pa[r])
		}
		f.Get(p.b.base).Get(col).I32Const(4).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(pb)
		f.Get(rowC).Get(col).I32Const(4).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(pc)
	}
	f.Get(p.a.base).Set(rowA)
	f.Get(p.c).Set(rowC)
	for _, run := range rowRuns {
		rows, reps := run.rows, run.reps
		rc := f.Local(asm.I32)
		f.Counted(rc, reps, func() {
			// column blocks of 8
			f.SetI32(col, 0)
			if n8 > 0 {
				cc := f.Local(asm.I32)
				f.Counted(cc, n8/8, func() {
					setTilePtrs(rows)
					tile(rows, 2)
					f.AddI32(col, 8)
				})
			}
			if n4 > 0 {
				setTilePtrs(rows)
				tile(rows, 1)
				f.AddI32(col, 4)
			}
			if nRest > 0 {
				cc := f.Local(asm.I32)
				f.Counted(cc, nRest, func() {
					setTilePtrs(rows)
					scalarCols(rows)
					f.AddI32(col, 1)
				})
			}
			f.AddI32(rowA, int32(rows)*aRow)
			f.AddI32(rowC, int32(rows*p.N*4))
		})
	}
}
