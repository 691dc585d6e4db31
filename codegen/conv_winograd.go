package codegen

import (
	"fmt"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Winograd F(2x2,3x3) for stride-1 3x3 convolutions (v8 tune): each 2x2
// output tile comes from a 4x4 input patch, V = B^T d B, multiplied
// position by position with the weights' transform U = G g G^T (done at
// compile time, ir.WinogradU) and brought back with Y = A^T M A: 16
// products per tile and channel pair instead of 36. The 16 products are 16
// GEMMs [M, C] x [C, tiles] through the packed micro-kernel; the
// transforms run in f32x4 lanes over four neighbouring tiles.

type winogradPlan struct {
	N, C, M, H, W, Ho, Wo int
	padT, padL            int
	TH, G, TWp, Tp        int // tile rows, groups of 4 tile columns, padded tile columns, tiles
	Hp, Wp                int // bordered input plane
	padBytes, vBytes      int
	mBytes, yBytes        int
}

func planWinograd(n *ir.Node, op *ir.FusedConv) (*winogradPlan, error) {
	x := n.Inputs[0].Type.Shape
	g, err := op.Geometry(x, op.WShape)
	if err != nil {
		return nil, err
	}
	p := &winogradPlan{N: x[0], C: x[1], M: op.WShape[0], H: g.In[0], W: g.In[1], Ho: g.Out[0], Wo: g.Out[1], padT: g.PadBegin[0], padL: g.PadBegin[1]}
	p.TH = (p.Ho + 1) / 2
	tw := (p.Wo + 1) / 2
	p.G = (tw + 3) / 4
	p.TWp = 4 * p.G
	p.Tp = p.TH * p.TWp
	p.Hp = max(2*p.TH+2, p.padT+p.H)
	p.Wp = max(8*p.G+4, p.padL+p.W)
	p.padBytes = alignUp((p.C*p.Hp*p.Wp+4)*4, 16)
	p.vBytes = 16 * p.C * p.Tp * 4
	p.mBytes = 16 * p.M * p.Tp * 4
	p.yBytes = alignUp((p.M*2*p.TH*8*p.G+4)*4, 16)
	return p, nil
}

func (p *winogradPlan) workspace() int { return p.padBytes + p.vBytes + p.mBytes + p.yBytes }

var (
	evenLanes = [16]byte{0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27}
	oddLanes  = [16]byte{4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31}
	zipLo     = [16]byte{0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23}
	zipHi     = [16]byte{8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31}
)

func (k *Ctx) convWinograd(n *ir.Node, op *ir.FusedConv) error {
	p, err := planWinograd(n, op)
	if err != nil {
		return err
	}
	f := k.F
	x, u, out := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	bias, resOff := n.In(2), k.residualOffset(n, &op.Epilogue)
	padBuf := k.WorkspaceAddr()
	vBuf := padBuf + int32(p.padBytes)
	mBuf := vBuf + int32(p.vBytes)
	yBuf := mBuf + int32(p.mBytes)
	C, M, Tp := p.C, p.M, p.Tp

	xBase, outBase, img := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(k.Addr(x)).Set(xBase)
	f.I32Const(k.Addr(out)).Set(outBase)
	f.Counted(img, p.N, func() {
		// 1. Bordered copy of the image.
		f.I32Const(padBuf).I32Const(0).I32Const(int32(p.padBytes)).MemoryFill()
		src, dst, c1, c2 := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		f.Get(xBase).Set(src)
		f.I32Const(padBuf + int32((p.padT*p.Wp+p.padL)*4)).Set(dst)
		f.Counted(c1, C, func() {
			f.Counted(c2, p.H, func() {
				copyRow(f, true, dst, src, p.W*4)
				f.AddI32(dst, int32(p.Wp*4))
				f.AddI32(src, int32(p.W*4))
			})
			f.AddI32(dst, int32((p.Hp-p.H)*p.Wp*4))
		})

		// 2. Input transform, one channel per call of a shared function.
		inT := k.winogradIn(p)
		k.Parallel(C, float64(Tp*16*8)*nsPerLaneOp/4, func(s Span) {
			rowIn, rowV, cc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
			s.Base(padBuf, int32(p.Hp*p.Wp*4))
			f.Set(rowIn)
			s.Base(vBuf, int32(Tp*4))
			f.Set(rowV)
			s.Counted(cc, func() {
				f.Get(rowIn).Get(rowV).Call(inT)
				f.AddI32(rowIn, int32(p.Hp*p.Wp*4))
				f.AddI32(rowV, int32(Tp*4))
			})
		})

		// 3. 16 GEMMs: M_xi [M, Tp] = U_xi [M, C] x V_xi [C, Tp].
		mk := k.microKernel(storeRows, &ir.Epilogue{}, biasNone)
		panels := (M + 3) / 4
		// Units of one product xi and one panel of 4 output channels.
		k.Parallel(16*panels, float64(2*C*4*Tp)*nsPerFlop, func(s Span) {
			xi, mp, mpc, tc, t0, rows, cols := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
			uA, vB, mC := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
			// panel emits the products of panel mp of product xi.
			panel := func() {
				tileLen(f, rows, mp, 4, M)
				// a = U + (xi*panels + mp) * C*16 ; b = V + xi*C*Tp*4 ; c = Mb + (xi*M + mp*4)*Tp*4
				f.Get(xi).I32Const(int32(panels)).Op(wasm.OpcodeI32Mul).Get(mp).Op(wasm.OpcodeI32Add).I32Const(int32(C * 16)).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(u)).Op(wasm.OpcodeI32Add).Set(uA)
				f.Get(xi).I32Const(int32(C * Tp * 4)).Op(wasm.OpcodeI32Mul).I32Const(vBuf).Op(wasm.OpcodeI32Add).Set(vB)
				f.Get(xi).I32Const(int32(M)).Op(wasm.OpcodeI32Mul).Get(mp).I32Const(4).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).I32Const(int32(Tp * 4)).Op(wasm.OpcodeI32Mul).I32Const(mBuf).Op(wasm.OpcodeI32Add).Set(mC)
				f.SetI32(t0, 0)
				f.Counted(tc, (Tp+7)/8, func() {
					f.I32Const(8).I32Const(int32(Tp)).Get(t0).Op(wasm.OpcodeI32Sub).Tee(cols).Get(cols).I32Const(8).Op(wasm.OpcodeI32GtS).Select().Set(cols)
					f.Get(uA)
					f.Get(vB).Get(t0).I32Const(4).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
					f.Get(mC).Get(t0).I32Const(4).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
					f.I32Const(0).I32Const(int32(C)).I32Const(int32(Tp * 4)).Get(rows).Get(cols).I32Const(0).I32Const(int32(Tp * 4))
					f.Call(mk)
					f.AddI32(t0, 8)
				})
			}
			if s.Parallel() {
				u := f.Local(asm.I32)
				s.For(u, func() {
					f.Get(u).I32Const(int32(panels)).Op(wasm.OpcodeI32DivU).Set(xi)
					f.Get(u).I32Const(int32(panels)).Op(wasm.OpcodeI32RemU).Set(mp)
					panel()
				})
				return
			}
			f.SetI32(xi, 0)
			f.Counted(f.Local(asm.I32), 16, func() {
				f.SetI32(mp, 0)
				f.Counted(mpc, panels, func() {
					panel()
					f.AddI32(mp, 1)
				})
				f.AddI32(xi, 1)
			})
		})

		// 4. Output transform Y = A^T M A (+ bias) into the tile-aligned
		// buffer, one output channel per call of a shared function.
		outT := k.winogradOut(p, bias != nil)
		k.Parallel(M, float64(Tp*16*6)*nsPerLaneOp/4, func(s Span) {
			mc, mrow, yrow, bp := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
			s.Base(mBuf, int32(Tp*4))
			f.Set(mrow)
			s.Base(yBuf, int32(2*p.TH*8*p.G*4))
			f.Set(yrow)
			if bias != nil {
				s.Base(k.Addr(bias), 4)
				f.Set(bp)
			}
			s.Counted(mc, func() {
				f.Get(mrow).Get(yrow).Get(bp).Call(outT)
				f.AddI32(mrow, int32(Tp*4))
				f.AddI32(yrow, int32(2*p.TH*8*p.G*4))
				f.AddI32(bp, 4)
			})
		})

		// 5. Valid region into the output, with residual and activations.
		k.winogradStore(p, op, yBuf, outBase, resOff)

		f.AddI32(xBase, int32(C*p.H*p.W*4))
		f.AddI32(outBase, int32(M*p.Ho*p.Wo*4))
	})
	return nil
}

// winogradStore copies rows of the tile-aligned buffer into the output,
// applying the residual and activations when the epilogue has them.
func (k *Ctx) winogradStore(p *winogradPlan, op *ir.FusedConv, yBuf int32, outBase asm.Local, resOff int32) {
	f := k.F
	ys, od, mc, oc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	yStride := int32(8 * p.G * 4)
	f.I32Const(yBuf).Set(ys)
	f.Get(outBase).Set(od)
	plain := !op.Residual && len(op.Acts) == 0
	v := f.Local(asm.V128)
	x4 := fxFor(f, asm.F32, true)
	yp := f.Local(asm.I32)
	f.Counted(mc, p.M, func() {
		f.Counted(oc, p.Ho, func() {
			if plain {
				copyRow(f, true, od, ys, p.Wo*4)
				f.AddI32(od, int32(p.Wo*4))
			} else {
				f.Get(ys).Set(yp)
				group := func(lanes int) {
					f.Get(yp).V128Load(0).Set(v)
					if op.Residual {
						f.Get(v).Get(od).I32Const(resOff).Op(wasm.OpcodeI32Add).V128Load(0).Vec(wasm.OpcodeVecF32x4Add).Set(v)
					}
					k.vecActs(x4, op.Acts, v)
					storeLanes(f, od, v, lanes)
					f.AddI32(od, int32(4*lanes))
					f.AddI32(yp, 16)
				}
				gc := f.Local(asm.I32)
				f.Counted(gc, p.Wo/4, func() { group(4) })
				if r := p.Wo % 4; r > 0 {
					group(r)
				}
			}
			f.AddI32(ys, yStride)
		})
		f.AddI32(ys, int32(2*p.TH-p.Ho)*yStride)
	})
}

// winogradIn returns the shared function (in, v) transforming one channel:
// in is its first bordered row, v its row of V for position 0.
func (k *Ctx) winogradIn(p *winogradPlan) uint32 {
	name := fmt.Sprintf("winograd_in_%d_%d_%d_%d", p.Wp, p.TH, p.G, p.C*p.Tp)
	i32 := asm.I32
	return k.Helper(name, []wasm.ValueType{i32, i32}, nil, func(f *asm.Func) {
		rowIn, rowV := f.Param(0), f.Param(1)
		vec := func() asm.Local { return f.Local(asm.V128) }
		add := func(a, b asm.Local) { f.Get(a).Get(b).Vec(wasm.OpcodeVecF32x4Add) }
		sub := func(a, b asm.Local) { f.Get(a).Get(b).Vec(wasm.OpcodeVecF32x4Sub) }
		in, vp, tyc, gc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		a, b := vec(), vec()
		R := make([]asm.Local, 16) // R[rr*4+j]
		for i := range R {
			R[i] = vec()
		}
		f.Counted(tyc, p.TH, func() {
			f.Get(rowIn).Set(in)
			f.Get(rowV).Set(vp)
			f.Counted(gc, p.G, func() {
				for rr := 0; rr < 4; rr++ {
					base := uint32(rr * p.Wp * 4)
					e0, o1, e2, o3 := R[rr*4], R[rr*4+1], R[rr*4+2], R[rr*4+3]
					f.Get(in).V128Load(base).Set(a)
					f.Get(in).V128Load(base + 16).Set(b)
					f.Get(a).Get(b).I8x16Shuffle(evenLanes).Set(e0)
					f.Get(a).Get(b).I8x16Shuffle(oddLanes).Set(o1)
					f.Get(in).V128Load(base + 8).Set(a)
					f.Get(in).V128Load(base + 24).Set(b)
					f.Get(a).Get(b).I8x16Shuffle(evenLanes).Set(e2)
					f.Get(a).Get(b).I8x16Shuffle(oddLanes).Set(o3)
					// B^T along the row: R0 = d0-d2, R1 = d1+d2,
					// R2 = d2-d1, R3 = d1-d3, into the same four slots.
					sub(e0, e2)
					f.Set(a) // R0
					sub(e2, o1)
					f.Set(b) // R2
					add(o1, e2)
					f.Set(e2) // R1, moved to slot 1 below
					sub(o1, o3)
					f.Set(o3) // R3
					f.Get(a).Set(e0)
					f.Get(e2).Set(o1)
					f.Get(b).Set(e2)
				}
				// B^T down the column: V_ij from R[0..3][j].
				for j := 0; j < 4; j++ {
					r0, r1, r2, r3 := R[j], R[4+j], R[8+j], R[12+j]
					for i := 0; i < 4; i++ {
						xi := i*4 + j
						f.Get(vp)
						switch i {
						case 0:
							sub(r0, r2)
						case 1:
							add(r1, r2)
						case 2:
							sub(r2, r1)
						case 3:
							sub(r1, r3)
						}
						f.V128Store(uint32(xi * p.C * p.Tp * 4))
					}
				}
				f.AddI32(in, 32)
				f.AddI32(vp, 16)
			})
			f.AddI32(rowIn, int32(2*p.Wp*4))
			f.AddI32(rowV, int32(p.TWp*4))
		})
	})
}

// winogradOut returns the shared function (m, y, bias) bringing one output
// channel back: m is its row of M for position 0, y its tile-aligned plane.
func (k *Ctx) winogradOut(p *winogradPlan, hasBias bool) uint32 {
	name := fmt.Sprintf("winograd_out_%d_%d_%d_%v", p.TH, p.G, p.M*p.Tp, hasBias)
	i32 := asm.I32
	return k.Helper(name, []wasm.ValueType{i32, i32, i32}, nil, func(f *asm.Func) {
		mp2, yp, bp := f.Param(0), f.Param(1), f.Param(2)
		vec := func() asm.Local { return f.Local(asm.V128) }
		add := func(a, b asm.Local) { f.Get(a).Get(b).Vec(wasm.OpcodeVecF32x4Add) }
		sub := func(a, b asm.Local) { f.Get(a).Get(b).Vec(wasm.OpcodeVecF32x4Sub) }
		mm := make([]asm.Local, 16)
		for i := range mm {
			mm[i] = vec()
		}
		s := make([]asm.Local, 8) // S[p*4+j]
		for i := range s {
			s[i] = vec()
		}
		bv, y0, y1 := vec(), vec(), vec()
		tyc, gc := f.Local(asm.I32), f.Local(asm.I32)
		if hasBias {
			f.Get(bp).V128Load32Splat(0).Set(bv)
		} else {
			f.V128Const([16]byte{}).Set(bv)
		}
		yStride := int32(8 * p.G * 4)
		f.Counted(tyc, p.TH, func() {
			f.Counted(gc, p.G, func() {
				for i := 0; i < 16; i++ {
					f.Get(mp2).V128Load(uint32(i * p.M * p.Tp * 4)).Set(mm[i])
				}
				for j := 0; j < 4; j++ {
					add(mm[j], mm[4+j])
					f.Get(mm[8+j]).Vec(wasm.OpcodeVecF32x4Add).Set(s[j])
					sub(mm[4+j], mm[8+j])
					f.Get(mm[12+j]).Vec(wasm.OpcodeVecF32x4Sub).Set(s[4+j])
				}
				for q := 0; q < 2; q++ {
					s0, s1, s2, s3 := s[q*4], s[q*4+1], s[q*4+2], s[q*4+3]
					add(s0, s1)
					f.Get(s2).Vec(wasm.OpcodeVecF32x4Add).Get(bv).Vec(wasm.OpcodeVecF32x4Add).Set(y0)
					sub(s1, s2)
					f.Get(s3).Vec(wasm.OpcodeVecF32x4Sub).Get(bv).Vec(wasm.OpcodeVecF32x4Add).Set(y1)
					off := uint32(int32(q) * yStride)
					f.Get(yp).Get(y0).Get(y1).I8x16Shuffle(zipLo).V128Store(off)
					f.Get(yp).Get(y0).Get(y1).I8x16Shuffle(zipHi).V128Store(off + 16)
				}
				f.AddI32(mp2, 16)
				f.AddI32(yp, 32)
			})
			f.AddI32(yp, yStride) // the tile row's second output row is done
		})
	})
}
