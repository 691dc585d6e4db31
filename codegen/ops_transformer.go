package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// RotaryEmbedding, LinearAttention, CausalConvWithState and SwiGLU.

func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.SwiGLU) error { return k.swiglu(n, op) })
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.RotaryEmbedding) error { return k.rope(n, op) })
	registerWorkspace(func(n *ir.Node, op *ir.LinearAttention) int {
		d, err := op.Dims(n.Inputs)
		if err != nil {
			return 0
		}
		return linAttnLayoutFor(d).total
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.LinearAttention) error { return k.linearAttention(n, op) })
	registerWorkspace(func(n *ir.Node, op *ir.CausalConvWithState) int {
		_, _, l, kk, err := op.Dims(n.Inputs)
		if err != nil {
			return 0
		}
		return 8*(kk-1+l) + 8*kk + 32
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.CausalConvWithState) error { return k.causalConv(n, op) })
}

// swiglu is elementwise A * sigmoid(alpha*A) rounded to the input type,
// times B.
func (k *Ctx) swiglu(n *ir.Node, op *ir.SwiGLU) error {
	dt := n.Inputs[0].Type.DType
	ct, err := computeType(dt)
	if err != nil {
		return err
	}
	f := k.F
	fn := ewFn{in: []ir.DType{dt, dt}, out: dt, vec: ct == asm.F32}
	fn.emit = func(a []asm.Local, vec bool) error {
		x := fxFor(f, ct, vec)
		t := x.local()
		x.get(a[0]).c(float64(op.Alpha)).mul().set(t)
		x.sigmoid(t).get(a[0]).mul()
		if !vec {
			k.roundTo(dt)
		}
		x.get(a[1]).mul()
		return nil
	}
	return k.elementwise(n, fn)
}

// rope rotates each head row; half-split rotation is SIMD for float32.
func (k *Ctx) rope(n *ir.Node, op *ir.RotaryEmbedding) error {
	d, err := op.Dims(n.Inputs)
	if err != nil {
		return err
	}
	f := k.F
	x, cos, sin, pos, y := n.In(0), n.In(1), n.In(2), n.In(3), n.Outputs[0]
	dt := x.Type.DType
	ct, err := computeType(dt)
	if err != nil {
		return err
	}
	if y.Type.Shape.Size() == 0 {
		return nil
	}
	xf := fxFor(f, ct, false)
	esz := int32(elemBytes(dt))
	half := d.Rot / 2
	b, s, h, row := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	pc, ps, px, py := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	cv, sv, x1, x2 := xf.local(), xf.local(), xf.local(), xf.local()
	vec := k.SIMD() && dt == ir.Float32 && !op.Interleaved && half >= 4
	c := f.Local(asm.I32)
	var errs firstErr
	// x rows: 4-D [B, H, S, D] or 3-D [B, S, H*D].
	xbs, xss, xhs := d.H*d.S*d.D, d.D, d.S*d.D
	if d.ThreeD {
		xbs, xss, xhs = d.S*d.H*d.D, d.H*d.D, d.D
	}
	f.Repeat(b, d.B, func() {
		f.Repeat(s, d.S, func() {
			k.rowAddr(0, []asm.Local{b, s}, []int{d.CacheB, d.CacheS})
			f.Set(row)
			if pos != nil {
				pdt := pos.Type.DType
				psz := int32(elemBytes(pdt))
				f.Get(row).I32Const(psz).Op(wasm.OpcodeI32Mul)
				errs.check(k.loadAs(pdt, uint32(k.Addr(pos)), asm.I64))
				p := f.Local(asm.I64)
				f.Set(p)
				f.Get(p).I64Const(int64(d.MaxPos)).Op(wasm.OpcodeI64GeU)
				k.Fail(abi.ErrIndexOutOfRange)
				f.Get(p).Op(wasm.OpcodeI32WrapI64).Set(row)
			}
			f.Get(row).I32Const(int32(half) * esz).Op(wasm.OpcodeI32Mul).Tee(pc).I32Const(k.Addr(sin)).Op(wasm.OpcodeI32Add).Set(ps)
			f.Get(pc).I32Const(k.Addr(cos)).Op(wasm.OpcodeI32Add).Set(pc)
			f.Repeat(h, d.H, func() {
				k.rowAddr(k.Addr(x), []asm.Local{b, s, h}, []int{xbs * int(esz), xss * int(esz), xhs * int(esz)})
				f.Set(px)
				k.rowAddr(k.Addr(y), []asm.Local{b, s, h}, []int{xbs * int(esz), xss * int(esz), xhs * int(esz)})
				f.Set(py)
				if d.Rot < d.D {
					f.Get(py).I32Const(int32(d.Rot) * esz).Op(wasm.OpcodeI32Add)
					f.Get(px).I32Const(int32(d.Rot) * esz).Op(wasm.OpcodeI32Add)
					f.I32Const(int32(d.D-d.Rot) * esz).MemoryCopy()
				}
				qc, qs, qx, qy := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
				f.Get(pc).Set(qc)
				f.Get(ps).Set(qs)
				f.Get(px).Set(qx)
				f.Get(py).Set(qy)
				done := 0
				if vec {
					v := fxFor(f, asm.F32, true)
					vc, vs, v1, v2 := v.local(), v.local(), v.local(), v.local()
					off := uint32(half) * 4
					f.Counted(c, half/4, func() {
						f.Get(qc).V128Load(0).Set(vc)
						f.Get(qs).V128Load(0).Set(vs)
						f.Get(qx).V128Load(0).Set(v1)
						f.Get(qx).V128Load(off).Set(v2)
						f.Get(qy)
						v.get(vc).get(v1).mul().get(vs).get(v2).mul().sub()
						f.V128Store(0)
						f.Get(qy)
						v.get(vs).get(v1).mul().get(vc).get(v2).mul().add()
						f.V128Store(off)
						for _, p := range []asm.Local{qc, qs, qx, qy} {
							f.AddI32(p, 16)
						}
					})
					done = half / 4 * 4
				}
				// Scalar pairs: (i, i+half) or (2i, 2i+1).
				o2, step := uint32(half)*uint32(esz), esz
				if op.Interleaved {
					o2, step = uint32(esz), 2*esz
				}
				f.Counted(c, half-done, func() {
					f.Get(qc)
					errs.check(k.loadElem(dt, 0))
					xf.set(cv)
					f.Get(qs)
					errs.check(k.loadElem(dt, 0))
					xf.set(sv)
					f.Get(qx)
					errs.check(k.loadElem(dt, 0))
					xf.set(x1)
					f.Get(qx)
					errs.check(k.loadElem(dt, o2))
					xf.set(x2)
					f.Get(qy)
					xf.get(cv).get(x1).mul().get(sv).get(x2).mul().sub()
					errs.check(k.storeElem(dt, 0))
					f.Get(qy)
					xf.get(sv).get(x1).mul().get(cv).get(x2).mul().add()
					errs.check(k.storeElem(dt, o2))
					f.AddI32(qc, esz)
					f.AddI32(qs, esz)
					f.AddI32(qx, step)
					f.AddI32(qy, step)
				})
			})
		})
	})
	return errs.err
}

type linAttnLayout struct {
	state, qrow, krow, vrow, rrow, erow, total int
}

func linAttnLayoutFor(d ir.LinAttnDims) linAttnLayout {
	var l linAttnLayout
	ws := wsLayout{sz: 4}
	l.state = ws.alloc(d.B * d.Hkv * d.Dk * d.Dv)
	l.qrow = ws.alloc(d.Dk)
	l.krow = ws.alloc(d.Dk)
	l.vrow = ws.alloc(d.Dv)
	l.rrow = ws.alloc(d.Dv)
	l.erow = ws.alloc(d.Dk)
	l.total = ws.end
	return l
}

// linearAttention keeps each head's state [dk, dv] in float32 in the
// workspace; every state pass (decay, retrieval, update, read) is SIMD
// over dv.
func (k *Ctx) linearAttention(n *ir.Node, op *ir.LinearAttention) error {
	d, err := op.Dims(n.Inputs)
	if err != nil {
		return err
	}
	f := k.F
	l := linAttnLayoutFor(d)
	ws := k.WorkspaceAddr()
	q, kk, v, past, decay, beta := n.In(0), n.In(1), n.In(2), n.In(3), n.In(4), n.In(5)
	out, present := n.Outputs[0], n.Out(1)
	dt := q.Type.DType
	esz := elemBytes(dt)
	st := ws + int32(l.state)
	stateBytes := int32(d.B * d.Hkv * d.Dk * d.Dv * 4)
	if stateBytes > 0 {
		if past != nil {
			pd, ps := f.Local(asm.I32), f.Local(asm.I32)
			f.I32Const(st).Set(pd)
			f.I32Const(k.Addr(past)).Set(ps)
			k.copyElems(pd, ps, d.B*d.Hkv*d.Dk*d.Dv, past.Type.DType, ir.Float32)
		} else {
			f.I32Const(st).I32Const(0).I32Const(stateBytes).MemoryFill()
		}
	}
	x := fxFor(f, asm.F32, false)
	scale := op.ScaleValue(d)
	G := d.Hq / d.Hkv
	b, h, t, g, hq := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	pst, p, prow, pout := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	fac := x.local()
	var errs firstErr
	rowBytes := d.Dv * 4
	stateRows := kvSource{rs: rowBytes, dt: ir.Float32}
	// rows runs body over the dk state rows with pst at each row.
	rows := func(body func(i asm.Local)) {
		i := f.Local(asm.I32)
		f.Get(p).Set(pst)
		f.Repeat(i, d.Dk, func() {
			body(i)
			f.AddI32(pst, int32(rowBytes))
		})
	}
	// dvLoop emits body over the dv columns in f32x4 groups and scalars;
	// body gets the shape and the byte offset local from the row start.
	dvLoop := func(body func(x fx, off asm.Local)) {
		off, c := f.Local(asm.I32), f.Local(asm.I32)
		f.I32Const(0).Set(off)
		nv := 0
		if k.SIMD() {
			nv = d.Dv / 4
		}
		if nv > 0 {
			f.Counted(c, nv, func() {
				body(fxFor(f, asm.F32, true), off)
				f.AddI32(off, 16)
			})
		}
		if rest := d.Dv - 4*nv; rest > 0 {
			f.Counted(c, rest, func() {
				body(fxFor(f, asm.F32, false), off)
				f.AddI32(off, 4)
			})
		}
	}
	ld := func(x fx, base asm.Local, off asm.Local) {
		f.Get(base).Get(off).Op(wasm.OpcodeI32Add)
		if x.vec {
			f.V128Load(0)
		} else {
			f.F32Load(0)
		}
	}
	ldc := func(x fx, base int32, off asm.Local) {
		f.Get(off)
		if x.vec {
			f.V128Load(uint32(base))
		} else {
			f.F32Load(uint32(base))
		}
	}
	stc := func(x fx, base int32, off asm.Local, val asm.Local) {
		f.Get(off).Get(val)
		if x.vec {
			f.V128Store(uint32(base))
		} else {
			f.F32Store(uint32(base))
		}
	}
	splat := func(x fx, s asm.Local) {
		f.Get(s)
		if x.vec {
			f.Vec(wasm.OpcodeVecF32x4Splat)
		}
	}
	// update rewrites the state at pst+off with op applied to it.
	update := func(x fx, off asm.Local, op func()) {
		f.Get(pst).Get(off).Op(wasm.OpcodeI32Add)
		ld(x, pst, off)
		op()
		if x.vec {
			f.V128Store(0)
		} else {
			f.F32Store(0)
		}
	}
	f.Repeat(b, d.B, func() {
		f.Repeat(h, d.Hkv, func() {
			f.I32Const(st).Get(b).I32Const(int32(d.Hkv)).Op(wasm.OpcodeI32Mul).Get(h).Op(wasm.OpcodeI32Add)
			f.I32Const(int32(d.Dk * rowBytes)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(p)
			f.Repeat(t, d.T, func() {
				bt := []asm.Local{b, t, h}
				// k and v rows in f32.
				k.rowAddr(k.Addr(kk), bt, []int{d.T * d.Hkv * d.Dk * esz, d.Hkv * d.Dk * esz, d.Dk * esz})
				f.Set(prow)
				errs.check(k.scaledRow(ws+int32(l.krow), prow, dt, ir.Float32, d.Dk, 1, false))
				k.rowAddr(k.Addr(v), bt, []int{d.T * d.Hkv * d.Dv * esz, d.Hkv * d.Dv * esz, d.Dv * esz})
				f.Set(prow)
				errs.check(k.scaledRow(ws+int32(l.vrow), prow, dt, ir.Float32, d.Dv, 1, false))
				if decay != nil {
					// S[i, :] *= exp(g_i) (per key) or exp(g) (per head).
					if d.DecayPerKey {
						k.rowAddr(k.Addr(decay), bt, []int{d.T * d.Hkv * d.Dk * esz, d.Hkv * d.Dk * esz, d.Dk * esz})
					} else {
						k.rowAddr(k.Addr(decay), bt, []int{d.T * d.Hkv * esz, d.Hkv * esz, esz})
					}
					f.Set(prow)
					// fac = exp of the decay at prow
					decayFac := func() {
						f.Get(prow)
						errs.check(k.loadAs(decay.Type.DType, 0, asm.F32))
						x.set(fac)
						x.exp(fac).set(fac)
					}
					if !d.DecayPerKey {
						decayFac()
					}
					rows(func(i asm.Local) {
						if d.DecayPerKey {
							decayFac()
							f.AddI32(prow, int32(esz))
						}
						dvLoop(func(x fx, off asm.Local) {
							update(x, off, func() {
								splat(x, fac)
								x.mul()
							})
						})
					})
				}
				if beta != nil {
					// v' = beta * (v - S^T k)
					pr, pk := f.Local(asm.I32), f.Local(asm.I32)
					f.I32Const(ws + int32(l.rrow)).Set(pr)
					f.I32Const(ws + int32(l.krow)).Set(pk)
					errs.check(k.attnPV(asm.F32, pk, ir.Float32, p, stateRows, d.Dk, d.Dv, pr, ir.Float32))
					if d.BetaPerHead {
						k.rowAddr(k.Addr(beta), bt, []int{d.T * d.Hkv * esz, d.Hkv * esz, esz})
					} else {
						k.rowAddr(k.Addr(beta), bt[:2], []int{d.T * esz, esz})
					}
					errs.check(k.loadAs(beta.Type.DType, 0, asm.F32))
					x.set(fac)
					dvLoop(func(x fx, off asm.Local) {
						a := x.local()
						ldc(x, ws+int32(l.vrow), off)
						ldc(x, ws+int32(l.rrow), off)
						x.sub()
						splat(x, fac)
						x.mul().set(a)
						stc(x, ws+int32(l.vrow), off, a)
					})
				}
				// S[i, :] += k_i * v'
				rows(func(i asm.Local) {
					f.Get(i).I32Const(2).Op(wasm.OpcodeI32Shl).F32Load(uint32(ws + int32(l.krow)))
					x.set(fac)
					dvLoop(func(x fx, off asm.Local) {
						update(x, off, func() {
							splat(x, fac)
							ldc(x, ws+int32(l.vrow), off)
							x.mul().add()
						})
					})
				})
				// Query heads of this key head read the state.
				f.Repeat(g, G, func() {
					f.Get(h).I32Const(int32(G)).Op(wasm.OpcodeI32Mul).Get(g).Op(wasm.OpcodeI32Add).Set(hq)
					qi := []asm.Local{b, t, hq}
					k.rowAddr(k.Addr(q), qi, []int{d.T * d.Hq * d.Dk * esz, d.Hq * d.Dk * esz, d.Dk * esz})
					f.Set(prow)
					errs.check(k.scaledRow(ws+int32(l.qrow), prow, dt, ir.Float32, d.Dk, scale, false))
					osz := elemBytes(out.Type.DType)
					k.rowAddr(k.Addr(out), qi, []int{d.T * d.Hq * d.Dv * osz, d.Hq * d.Dv * osz, d.Dv * osz})
					f.Set(pout)
					pq := f.Local(asm.I32)
					f.I32Const(ws + int32(l.qrow)).Set(pq)
					errs.check(k.attnPV(asm.F32, pq, ir.Float32, p, stateRows, d.Dk, d.Dv, pout, out.Type.DType))
				})
			})
		})
	})
	if present != nil && stateBytes > 0 {
		pd, ps := f.Local(asm.I32), f.Local(asm.I32)
		f.I32Const(k.Addr(present)).Set(pd)
		f.I32Const(st).Set(ps)
		k.copyElems(pd, ps, d.B*d.Hkv*d.Dk*d.Dv, ir.Float32, present.Type.DType)
	}
	return errs.err
}

// causalConv gathers each (batch, channel) row with its left context into
// the workspace in f32 and convolves it, SIMD over output positions.
func (k *Ctx) causalConv(n *ir.Node, op *ir.CausalConvWithState) error {
	B, C, L, K, err := op.Dims(n.Inputs)
	if err != nil {
		return err
	}
	f := k.F
	x, w, bias, past := n.In(0), n.In(1), n.In(2), n.In(3)
	y, present := n.Outputs[0], n.Out(1)
	dt := x.Type.DType
	ct, err := computeType(dt)
	if err != nil {
		return err
	}
	if B*C == 0 {
		return nil
	}
	cdt := ir.Float32
	if ct == asm.F64 {
		cdt = ir.Float64
	}
	csz := int32(elemBytes(cdt))
	esz := int32(elemBytes(dt))
	ws := k.WorkspaceAddr()
	padded := ws
	wrow := ws + ((int32(K-1+L)*csz + 15) &^ 15)
	b, c := f.Local(asm.I32), f.Local(asm.I32)
	px, pp, py, pr, dst, src := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	bv := f.Local(ct)
	cnt := f.Local(asm.I32)
	var errs firstErr
	f.I32Const(k.Addr(x)).Set(px)
	if y != nil { // nil when only present_state is read
		f.I32Const(k.Addr(y)).Set(py)
	}
	if past != nil {
		f.I32Const(k.Addr(past)).Set(pp)
	}
	if present != nil {
		f.I32Const(k.Addr(present)).Set(pr)
	}
	f.Repeat(b, B, func() {
		f.Repeat(c, C, func() {
			// padded = past (or zeros) ++ input row
			f.I32Const(padded).Set(dst)
			if past != nil {
				k.copyElems(dst, pp, K-1, dt, cdt)
			} else if K > 1 {
				f.I32Const(padded).I32Const(0).I32Const(int32(K-1) * csz).MemoryFill()
				f.AddI32(dst, int32(K-1)*csz)
			}
			k.copyElems(dst, px, L, dt, cdt)
			f.I32Const(wrow).Set(dst)
			f.I32Const(k.Addr(w)).Get(c).I32Const(int32(K) * esz).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Set(src)
			k.copyElems(dst, src, K, dt, cdt)
			if bias != nil {
				f.Get(c).I32Const(esz).Op(wasm.OpcodeI32Mul)
				errs.check(k.loadElem(dt, uint32(k.Addr(bias))))
			} else {
				constOf(f, ct, 0)
			}
			f.Set(bv)
			pl := f.Local(asm.I32)
			f.I32Const(padded).Set(pl)
			// one output group of lanes at pl.
			emit := func(vec bool) {
				xf := fxFor(f, ct, vec)
				acc := xf.local()
				f.Get(bv)
				if vec {
					f.Vec(wasm.OpcodeVecF32x4Splat)
				}
				xf.set(acc)
				for i := 0; i < K; i++ {
					xf.get(acc)
					if vec {
						f.I32Const(wrow).V128Load32Splat(uint32(4 * i))
						f.Get(pl).V128Load(uint32(4 * i))
					} else {
						f.I32Const(wrow)
						errs.check(k.loadElem(cdt, uint32(int32(i)*csz)))
						f.Get(pl)
						errs.check(k.loadElem(cdt, uint32(int32(i)*csz)))
					}
					xf.mul().add().set(acc)
				}
				if op.SiLU {
					if !vec {
						xf.get(acc)
						k.roundTo(dt)
						xf.set(acc)
					}
					xf.get(acc).sigmoid(acc).mul().set(acc)
				}
				f.Get(py).Get(acc)
				if vec {
					f.V128Store(0)
				} else {
					errs.check(k.storeElem(dt, 0))
				}
			}
			nv := 0
			if k.SIMD() && dt == ir.Float32 {
				nv = L / 4
			}
			if nv > 0 && y != nil {
				f.Counted(cnt, nv, func() {
					emit(true)
					f.AddI32(pl, 16)
					f.AddI32(py, 16)
				})
			}
			if y != nil {
				f.Counted(cnt, L-4*nv, func() {
					emit(false)
					f.AddI32(pl, csz)
					f.AddI32(py, esz)
				})
			}
			// present_state = the last K-1 entries of the padded row.
			if present != nil {
				f.I32Const(padded + int32(L)*csz).Set(src)
				k.copyElems(pr, src, K-1, cdt, dt)
			}
		})
	})
	return errs.err
}
