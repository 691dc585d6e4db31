package codegen

import (
	"fmt"
	"math"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// PrepareWeights writes the float32 weight layout a fused kernel reads
// from the weights as stored: a float16 packed matrix widened, or 3x3
// weights in WinogradSource order transformed into WinogradU's (the same
// float32 operations as ir.WinogradTransform, so the bits agree).
func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.PrepareWeights) error {
		x, y := n.Inputs[0], n.Outputs[0]
		if tile := op.Layout.WinogradTile(); tile > 0 {
			panels, C := x.Type.Shape[0], x.Type.Shape[1]
			fn := k.winogradPrepare(x.Type.DType, tile)
			// units of one panel's C entries (source [panels, C, 9, 4],
			// U's rows panels*C*16 bytes apart)
			k.Parallel(panels, float64(C)*nsPerPrepareEntry, func(s Span) {
				f := s.F
				s.Base(k.Addr(x), int32(C*36*x.Type.DType.Bytes(1)))
				s.Base(k.Addr(y), int32(C*16))
				spanEntries(s, C)
				f.I32Const(int32(panels * C * 16)).Call(fn)
			})
			return nil
		}
		k.F.I32Const(k.Addr(x)).I32Const(k.Addr(y)).I32Const(int32(x.Type.Shape.Size() / 4)).Call(k.widenHalf4())
		return nil
	})
}

// nsPerPrepareEntry: one channel of a panel of Winograd weights
// transformed (winogradPrepare), measured 70-80 ns in V8 (unet_1024's
// per-node profile).
const nsPerPrepareEntry = 75

// spanEntries pushes the entries of a span of units of per entries each.
func spanEntries(s Span, per int) {
	f := s.F
	if !s.Parallel() {
		f.I32Const(int32(s.N * per))
		return
	}
	s.Hi()
	s.Lo()
	f.Op(wasm.OpcodeI32Sub).I32Const(int32(per)).Op(wasm.OpcodeI32Mul)
}

// loadHalf4 pushes the four float16 values at base+off widened to f32x4,
// as f16ToF32 does for one: the bits shifted into place and scaled by
// 2^112 (subnormals included), infinities and NaNs given the full
// exponent, then the sign. h and b are v128 scratch locals.
func loadHalf4(f *asm.Func, base asm.Local, off uint32, h, b asm.Local) {
	f.Get(base).V128Load16x4U(off).Set(h)
	f.Get(h).I32x4Const(0x7fff).Vec(wasm.OpcodeVecV128And).I32Const(13).Vec(wasm.OpcodeVecI32x4Shl).Set(b)
	f.Get(b).I32x4Const(0x7f800000).Vec(wasm.OpcodeVecV128Or)
	f.Get(b).F32x4Const(float32(math.Ldexp(1, 112))).Vec(wasm.OpcodeVecF32x4Mul)
	f.Get(h).I32x4Const(0x7c00).Vec(wasm.OpcodeVecV128And).I32x4Const(0x7c00).Vec(wasm.OpcodeVecI32x4Eq)
	f.Vec(wasm.OpcodeVecV128Bitselect)
	f.Get(h).I32x4Const(0x8000).Vec(wasm.OpcodeVecV128And).I32Const(16).Vec(wasm.OpcodeVecI32x4Shl)
	f.Vec(wasm.OpcodeVecV128Or)
}

// widenHalf4 is a shared function (src, dst, n): n groups of four float16
// values at src become float32 at dst.
func (k *Ctx) widenHalf4() uint32 {
	i32 := asm.I32
	return k.Helper("widen_f16x4", []wasm.ValueType{i32, i32, i32}, nil, func(f *asm.Func) {
		src, dst, n := f.Param(0), f.Param(1), f.Param(2)
		h, b := f.Local(asm.V128), f.Local(asm.V128)
		f.Get(n).Op(wasm.OpcodeI32Eqz).BrIf(0)
		f.Loop()
		f.Get(dst)
		loadHalf4(f, src, 0, h, b)
		f.V128Store(0)
		f.AddI32(src, 8).AddI32(dst, 16)
		f.Get(n).I32Const(1).Op(wasm.OpcodeI32Sub).Tee(n).BrIf(0)
		f.End()
	})
}

// winogradPrepare is a shared function (src, dst, count, stride) for
// source dtype dt and output tiles of side tile (2 or 4): count groups of
// 9 taps x 4 lanes at src become the (tile+2)^2 f32x4 rows of U, row xi at
// dst + xi*stride bytes, in ir.WinogradTransform's (ir.WinogradTransform4's)
// operations, four groups at a time (see winogradUGroups).
func (k *Ctx) winogradPrepare(dt ir.DType, tile int) uint32 {
	i32 := asm.I32
	name := "winograd_prepare_" + dt.String()
	if tile == 4 {
		name += "_f4"
	}
	return k.Helper(name, []wasm.ValueType{i32, i32, i32, i32}, nil, func(f *asm.Func) {
		src, dst, n, stride := f.Param(0), f.Param(1), f.Param(2), f.Param(3)
		winogradUGroups(f, dt, tile, 4, src, n, uDest{dst: dst, stride: stride, step: 16})
	})
}

// winogradPanelU is a shared function (src, dst) for C input channels of
// a WinogradSource panel (9 taps x 4 lanes each, dtype dt): each
// channel's (tile+2)^2 f32x4 values of U, the bits of winogradPrepare,
// row xi at dst + xi*pitch (a compile-time pitch: no address arithmetic
// per store), channels cstep bytes apart (16: a [C, 4] panel; 32: one
// half of a [C, 8] panel whose other half is 16 bytes on).
func (k *Ctx) winogradPanelU(dt ir.DType, tile, C, pitch, cstep int) uint32 {
	i32 := asm.I32
	name := fmt.Sprintf("winograd_panel_u_%s_%d_%d_%d", dt, tile, C, pitch)
	if cstep != 16 {
		name += fmt.Sprintf("_c%d", cstep)
	}
	return k.Helper(name, []wasm.ValueType{i32, i32}, nil, func(f *asm.Func) {
		src, dst := f.Param(0), f.Param(1)
		n := f.Local(i32)
		f.I32Const(int32(C)).Set(n)
		winogradUGroups(f, dt, tile, 1, src, n, uDest{dst: dst, pitch: pitch, step: cstep})
	})
}

// uDest says where winogradUGroups stores U: group gi's value xi at
// dst + xi*stride + gi*step, stride a run-time local (pitch 0: each row's
// addresses computed once per row of a pass), or at dst + xi*pitch +
// gi*step with pitch known at compile time; dst advances step bytes a
// group.
type uDest struct {
	dst, stride asm.Local
	pitch, step int
}

// winogradUGroups emits the loop over n groups of 9 taps x 4 lanes at src
// (dtype dt), computing U = G g G^T for tiles of side tile (2 or 4) in
// ir.WinogradTransform's (ir.WinogradTransform4's) float32 operations,
// into out. It ends the function it is emitted in (n = 0 returns).
//
// Groups go per at a time (then one at a time for the rest), their U
// stored row by row: with per 4 and step 16 each row's 64 bytes, one
// cache line, are written together. One group at a time wrote 16 bytes
// to each of the 36 rows, whose stride (a multiple of 4 KiB on large
// layers) maps them all to one set of L1 and L2, so lines were evicted
// before they were full.
func winogradUGroups(f *asm.Func, dt ir.DType, tile, per int, src, n asm.Local, out uDest) {
	i32 := asm.I32
	a := tile + 2
	h, b, e := f.Local(asm.V128), f.Local(asm.V128), f.Local(asm.V128)
	var g [9]asm.Local
	for i := range g {
		g[i] = f.Local(asm.V128)
	}
	// t[group][i][j]: G applied to the taps' columns
	t := make([][][3]asm.Local, per)
	for gi := range t {
		t[gi] = make([][3]asm.Local, a)
		for i := range t[gi] {
			for j := range t[gi][i] {
				t[gi][i][j] = f.Local(asm.V128)
			}
		}
	}
	var row []asm.Local // dst + (i*a+j)*stride, j < a (run-time stride)
	if out.pitch == 0 {
		row = make([]asm.Local, a)
		for j := range row {
			row[j] = f.Local(i32)
		}
	}
	var q asm.Local // a/4 (F(4x4,3x3))
	if tile == 4 {
		q = f.Local(asm.V128)
	}
	mul := func(c float32) { f.F32x4Const(c).Vec(wasm.OpcodeVecF32x4Mul) }
	add := func(x, y asm.Local) { f.Get(x).Get(y).Vec(wasm.OpcodeVecF32x4Add) }
	sub := func(x, y asm.Local) { f.Get(x).Get(y).Vec(wasm.OpcodeVecF32x4Sub) }
	// apply pushes nothing: it stores G applied to (a, b, c) through
	// put(i), which consumes the value on the stack.
	apply := func(a, bb, c asm.Local, put func(i int, push func())) {
		if tile == 2 {
			put(0, func() { f.Get(a) })
			add(a, c)
			f.Set(e)
			put(1, func() { add(e, bb); mul(0.5) })
			put(2, func() { sub(e, bb); mul(0.5) })
			put(3, func() { f.Get(c) })
			return
		}
		// ir.winogradG4: q = a/4, e = a+c, then q+c and b/2 (in e and
		// h once e is used)
		f.Get(a).F32x4Const(0.25).Vec(wasm.OpcodeVecF32x4Mul).Set(q)
		put(0, func() { f.Get(q) })
		add(a, c)
		f.Set(e)
		put(1, func() { add(e, bb); mul(float32(-1.0 / 6)) })
		put(2, func() { sub(e, bb); mul(float32(-1.0 / 6)) })
		add(q, c)
		f.Set(e)
		f.Get(bb).F32x4Const(0.5).Vec(wasm.OpcodeVecF32x4Mul).Set(h)
		put(3, func() { add(e, h); mul(float32(1.0 / 6)) })
		put(4, func() { sub(e, h); mul(float32(1.0 / 6)) })
		put(5, func() { f.Get(c) })
	}
	es := uint32(dt.Bytes(1))
	// pass transforms m groups (m <= per) at src into out.
	pass := func(m int) {
		for gi := 0; gi < m; gi++ {
			for i := range g {
				off := uint32(gi*9+i) * 4 * es
				if dt == ir.Float16 {
					loadHalf4(f, src, off, h, b)
				} else {
					f.Get(src).V128Load(off)
				}
				f.Set(g[i])
			}
			for j := 0; j < 3; j++ {
				apply(g[j], g[3+j], g[6+j], func(i int, push func()) { push(); f.Set(t[gi][i][j]) })
			}
		}
		for i := 0; i < a; i++ {
			for j := range row {
				f.Get(out.dst)
				if xi := int32(i*a + j); xi > 0 {
					f.Get(out.stride).I32Const(xi).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
				}
				f.Set(row[j])
			}
			for gi := 0; gi < m; gi++ {
				apply(t[gi][i][0], t[gi][i][1], t[gi][i][2], func(j int, push func()) {
					if row != nil {
						f.Get(row[j])
						push()
						f.V128Store(uint32(gi * out.step))
						return
					}
					f.Get(out.dst)
					push()
					f.V128Store(uint32((i*a+j)*out.pitch + gi*out.step))
				})
			}
		}
		f.AddI32(src, int32(m)*36*int32(es)).AddI32(out.dst, int32(m*out.step))
	}
	if per > 1 {
		f.Block()
		f.Get(n).I32Const(int32(per)).Op(wasm.OpcodeI32LtU).BrIf(0)
		f.Loop()
		pass(per)
		f.Get(n).I32Const(int32(per)).Op(wasm.OpcodeI32Sub).Tee(n).I32Const(int32(per)).Op(wasm.OpcodeI32GeU).BrIf(0)
		f.End()
		f.End()
	}
	f.Get(n).Op(wasm.OpcodeI32Eqz).BrIf(0)
	f.Loop32(n, func() { pass(1) })
}
