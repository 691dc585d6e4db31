package codegen

import (
	"math"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Signal processing: DFT, STFT, the windows and MelWeightMatrix. Everything
// computes in float64 and rounds once to the output type. The transforms
// are direct sums over a table of twiddle factors that the kernel fills at
// the start of each run (O(N) sines, then O(N^2) multiply-adds).

func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.SignalWindow) error {
		return k.window(n, op)
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.DFT) error {
		return k.dft(n, op)
	})
	registerWorkspace(func(n *ir.Node, op *ir.DFT) int {
		best := 0
		axes := op.Axes
		if n.In(1) == nil {
			axes = []int{op.Axis}
		}
		for _, a := range axes {
			if _, size, err := op.DFTShape(n.Inputs[0].Type.Shape, a); err == nil {
				best = max(best, size)
			}
		}
		return 32 * best // twiddles and one signal, complex float64 each
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.STFT) error {
		return k.stft(n, op)
	})
	registerWorkspace(func(n *ir.Node, op *ir.STFT) int {
		return 32 * stftMaxLength(n, op)
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.MelWeightMatrix) error {
		return k.melWeightMatrix(n)
	})
	registerWorkspace(func(n *ir.Node, op *ir.MelWeightMatrix) int {
		return 4 * (n.Outputs[0].Type.Shape[1] + 2)
	})
}

// sinQuadrantF64 is a helper (x f64, q i32) -> f64 computing sin(x + q*pi/2), so
// that q = 1 gives the cosine: reduce x by multiples of pi/2 (Cody-Waite,
// two parts) and evaluate fdlibm's sine or cosine polynomial on the
// remainder, |r| <= pi/4. Accurate to about 1e-16 for the arguments the
// kernels use (|x| < 1e6).
func (k *Ctx) sinQuadrantF64() uint32 {
	return k.Helper("sin_quadrant_f64", []wasm.ValueType{asm.F64, asm.I32}, []wasm.ValueType{asm.F64}, func(f *asm.Func) {
		in, shift := f.Param(0), f.Param(1)
		x := fxFor(f, asm.F64, false)
		n, r, z, s, c := x.local(), x.local(), x.local(), x.local(), x.local()
		q := f.Local(asm.I32)
		x.get(in).c(2 / math.Pi).mul().nearest().set(n)
		x.get(in).get(n).c(1.57079632673412561417e+00).mul().sub().get(n).c(6.07710050650619224932e-11).mul().sub().set(r)
		x.get(r).get(r).mul().set(z)
		x.horner(z, []float64{-1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04,
			2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10})
		x.get(r).mul().get(z).mul().get(r).add().set(s)
		x.horner(z, []float64{4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05,
			-2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11})
		x.get(z).mul().get(z).mul().c(1).get(z).c(0.5).mul().sub().add().set(c)
		x.get(n)
		f.Misc(wasm.OpcodeMiscI32TruncSatF64S).Get(shift).Op(wasm.OpcodeI32Add).I32Const(3).Op(wasm.OpcodeI32And).Set(q)
		// quadrant 0: s, 1: c, 2: -s, 3: -c
		x.get(c).get(s)
		f.Get(q).I32Const(1).Op(wasm.OpcodeI32And).Select().Set(s)
		x.get(s).neg().get(s)
		f.Get(q).I32Const(2).Op(wasm.OpcodeI32And).Select()
	})
}

// sinShifted pushes sin(v + q*pi/2) for the f64 on the stack.
func (k *Ctx) sinShifted(q int32) {
	k.F.I32Const(q).Call(k.sinQuadrantF64())
}

func (k *Ctx) window(n *ir.Node, op *ir.SignalWindow) error {
	f := k.F
	size, y := n.Inputs[0], n.Outputs[0]
	dt := op.DType
	if _, err := computeType(dt); err != nil {
		return err
	}
	count := y.Type.Shape[0]
	if size.Const == nil {
		if err := k.checkShape(size, count); err != nil {
			return err
		}
	}
	period := count
	if !op.Periodic {
		period = count - 1
	}
	sz := int32(elemBytes(dt))
	i := f.Local(asm.I32)
	t := f.Local(asm.F64)
	var err error
	f.Repeat(i, count, func() {
		f.Get(i).I32Const(sz).Op(wasm.OpcodeI32Mul)
		// t = 2 pi i / period, as in ir.WindowValue
		f.Get(i).Op(wasm.OpcodeF64ConvertI32S).F64Const(2 * math.Pi).Op(wasm.OpcodeF64Mul).F64Const(float64(period)).Op(wasm.OpcodeF64Div).Set(t)
		switch op.Kind {
		case "Hann":
			f.Get(i).Op(wasm.OpcodeF64ConvertI32S).F64Const(math.Pi).Op(wasm.OpcodeF64Mul).F64Const(float64(period)).Op(wasm.OpcodeF64Div)
			k.sinShifted(0)
			f.Set(t)
			f.Get(t).Get(t).Op(wasm.OpcodeF64Mul)
		case "Hamming":
			f.F64Const(25.0 / 46)
			f.Get(t)
			k.sinShifted(1)
			f.F64Const(21.0 / 46).Op(wasm.OpcodeF64Mul).Op(wasm.OpcodeF64Sub)
		default:
			f.F64Const(0.42)
			f.Get(t)
			k.sinShifted(1)
			f.F64Const(0.5).Op(wasm.OpcodeF64Mul).Op(wasm.OpcodeF64Sub)
			f.Get(t).F64Const(2).Op(wasm.OpcodeF64Mul)
			k.sinShifted(1)
			f.F64Const(0.08).Op(wasm.OpcodeF64Mul).Op(wasm.OpcodeF64Add)
		}
		if e := k.storeAs(dt, uint32(k.Addr(y)), asm.F64); e != nil {
			err = e
		}
	})
	return err
}

// twiddles fills tw[j] = (cos, sin)(2 pi j / n) as f64 pairs.
func (k *Ctx) twiddles(tw uint32, n int) {
	f := k.F
	j, t := f.Local(asm.I32), f.Local(asm.F64)
	f.Repeat(j, n, func() {
		f.Get(j).Op(wasm.OpcodeF64ConvertI32S).F64Const(2 * math.Pi).Op(wasm.OpcodeF64Mul).F64Const(float64(n)).Op(wasm.OpcodeF64Div).Set(t)
		f.Get(j).I32Const(16).Op(wasm.OpcodeI32Mul)
		f.Get(t)
		k.sinShifted(1)
		f.F64Store(tw)
		f.Get(j).I32Const(16).Op(wasm.OpcodeI32Mul)
		f.Get(t)
		k.sinShifted(0)
		f.F64Store(tw + 8)
	})
}

// dftSums leaves in (re, im) the sum over t < n of buf[t] e^(-+2 pi i kk
// t/n) (+ for the inverse, which also divides by n); buf and tw hold n
// complex f64 each, kk is a local in [0, n).
func (k *Ctx) dftSums(tw, buf uint32, n int, kk asm.Local, inverse bool) (re, im asm.Local) {
	f := k.F
	re, im = f.Local(asm.F64), f.Local(asm.F64)
	idx, pb, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	cs, sn, br, bi := f.Local(asm.F64), f.Local(asm.F64), f.Local(asm.F64), f.Local(asm.F64)
	f.F64Const(0).Set(re)
	f.F64Const(0).Set(im)
	f.I32Const(0).Set(idx)
	f.I32Const(0).Set(pb)
	mul, add, sub := wasm.OpcodeF64Mul, wasm.OpcodeF64Add, wasm.OpcodeF64Sub
	f.Counted(c, n, func() {
		f.Get(idx).I32Const(16).Op(wasm.OpcodeI32Mul).F64Load(tw).Set(cs)
		f.Get(idx).I32Const(16).Op(wasm.OpcodeI32Mul).F64Load(tw + 8).Set(sn)
		f.Get(pb).F64Load(buf).Set(br)
		f.Get(pb).F64Load(buf + 8).Set(bi)
		// forward: (br + i bi)(c - i s); inverse: (br + i bi)(c + i s)
		re2, im2 := add, sub
		if inverse {
			re2, im2 = sub, add
		}
		f.Get(re).Get(br).Get(cs).Op(mul).Op(add).Get(bi).Get(sn).Op(mul).Op(re2).Set(re)
		f.Get(im).Get(bi).Get(cs).Op(mul).Op(add).Get(br).Get(sn).Op(mul).Op(im2).Set(im)
		f.AddI32(pb, 16)
		// idx = kk * t mod n, kept incrementally
		f.Get(idx).Get(kk).Op(wasm.OpcodeI32Add).Tee(idx).I32Const(int32(n)).Op(wasm.OpcodeI32GeS).If()
		f.AddI32(idx, int32(-n))
		f.End()
	})
	if inverse {
		f.Get(re).F64Const(float64(n)).Op(wasm.OpcodeF64Div).Set(re)
		f.Get(im).F64Const(float64(n)).Op(wasm.OpcodeF64Div).Set(im)
	}
	return re, im
}

// signalPtr pushes base + t*stride for the i32 local t.
func signalPtr(f *asm.Func, base asm.Local, t asm.Local, stride int32) {
	f.Get(base).Get(t).I32Const(stride).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
}

// loadComplex loads element t of a signal (real, or re/im pairs when
// complex) as two f64 locals; conj negates the imaginary part.
func (k *Ctx) loadComplex(dt ir.DType, base, t asm.Local, stride int32, complexIn, conj bool) (re, im asm.Local) {
	f := k.F
	re, im = f.Local(asm.F64), f.Local(asm.F64)
	signalPtr(f, base, t, stride)
	k.loadAs(dt, 0, asm.F64)
	f.Set(re)
	f.F64Const(0).Set(im)
	if complexIn {
		signalPtr(f, base, t, stride)
		k.loadAs(dt, uint32(elemBytes(dt)), asm.F64)
		if conj {
			f.Op(wasm.OpcodeF64Neg)
		}
		f.Set(im)
	}
	return re, im
}

// storeComplex writes (re, im) to buf[t].
func storeComplex(f *asm.Func, buf uint32, t asm.Local, re, im asm.Local) {
	f.Get(t).I32Const(16).Op(wasm.OpcodeI32Mul).Get(re).F64Store(buf)
	f.Get(t).I32Const(16).Op(wasm.OpcodeI32Mul).Get(im).F64Store(buf + 8)
}

func (k *Ctx) dft(n *ir.Node, op *ir.DFT) error {
	f := k.F
	x, y := n.Inputs[0], n.Outputs[0]
	dt := x.Type.DType
	if _, err := computeType(dt); err != nil {
		return err
	}
	xs := x.Type.Shape
	r := len(xs)
	sz := int32(elemBytes(dt))
	tw := uint32(k.WorkspaceAddr())
	variant := func(axis int) error {
		os, size, err := op.DFTShape(xs, axis)
		if err != nil {
			return err
		}
		if os.Size() == 0 {
			return nil
		}
		buf := tw + uint32(16*size)
		l, cin, cout, kout := xs[axis], xs[r-1], os[r-1], os[axis]
		outer, inner := xs[:axis].Size(), xs[axis+1:r-1].Size()
		xStride, yStride := int32(inner*cin)*sz, int32(inner*cout)*sz
		k.twiddles(tw, size)
		pxo, pyo, pxs, pys, t, kk, c1, c2 := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		f.I32Const(k.Addr(x)).Set(pxo)
		f.I32Const(k.Addr(y)).Set(pyo)
		var err2 error
		f.Counted(c1, outer, func() {
			f.Get(pxo).Set(pxs)
			f.Get(pyo).Set(pys)
			f.Counted(c2, inner, func() {
				f.I32Const(int32(buf)).I32Const(0).I32Const(int32(16 * size)).MemoryFill()
				if op.Inverse && op.Onesided {
					// Hermitian extension of the one-sided spectrum:
					// the real part of the full inverse is the inverse
					// real transform.
					f.ForStep(t, 0, min(l, size/2+1), 1, func() {
						re, im := k.loadComplex(dt, pxs, t, xStride, cin == 2, false)
						storeComplex(f, buf, t, re, im)
					})
					j := f.Local(asm.I32)
					f.ForStep(t, max(size/2+1, size-l+1), size, 1, func() {
						f.I32Const(int32(size)).Get(t).Op(wasm.OpcodeI32Sub).Set(j)
						re, im := k.loadComplex(dt, pxs, j, xStride, cin == 2, true)
						storeComplex(f, buf, t, re, im)
					})
				} else {
					f.ForStep(t, 0, min(l, size), 1, func() {
						re, im := k.loadComplex(dt, pxs, t, xStride, cin == 2, false)
						storeComplex(f, buf, t, re, im)
					})
				}
				f.Repeat(kk, kout, func() {
					re, im := k.dftSums(tw, buf, size, kk, op.Inverse)
					signalPtr(f, pys, kk, yStride)
					f.Get(re)
					if e := k.storeAs(dt, 0, asm.F64); e != nil {
						err2 = e
					}
					if cout == 2 {
						signalPtr(f, pys, kk, yStride)
						f.Get(im)
						k.storeAs(dt, uint32(sz), asm.F64)
					}
				})
				f.AddI32(pxs, int32(cin)*sz)
				f.AddI32(pys, int32(cout)*sz)
			})
			f.AddI32(pxo, int32(l)*xStride)
			f.AddI32(pyo, int32(kout)*yStride)
		})
		return err2
	}
	av := n.In(1)
	if av == nil {
		return variant(op.Axis)
	}
	// The axis is run-time data: normalized, checked, then it chooses.
	a := f.Local(asm.I64)
	f.I32Const(k.Addr(av)).I64Load(0).Set(a)
	f.Get(a).I64Const(int64(r)).Op(wasm.OpcodeI64Add).Get(a).Get(a).I64Const(0).Op(wasm.OpcodeI64LtS).Select().Set(a)
	f.Get(a).I64Const(int64(r - 2)).Op(wasm.OpcodeI64GtU)
	k.Fail(abi.ErrIndexOutOfRange)
	return k.variants(len(op.Axes),
		func(i int) { f.Get(a).I64Const(int64(op.Axes[i])).Op(wasm.OpcodeI64Eq) },
		func(i int) error { return variant(op.Axes[i]) })
}

// stftLengths lists the frame lengths an STFT node is compiled for.
func stftLengths(n *ir.Node, op *ir.STFT) []int {
	x, window, fl := n.Inputs[0], n.In(2), n.In(3)
	switch {
	case fl != nil && fl.Const != nil:
		return []int{int(fl.Const.Int(0))}
	case fl != nil:
		return op.FrameLengths
	case window != nil:
		return []int{window.Type.Shape[0]}
	}
	return []int{x.Type.Shape[1]}
}

func stftMaxLength(n *ir.Node, op *ir.STFT) int {
	best := 0
	for _, l := range stftLengths(n, op) {
		best = max(best, l)
	}
	return best
}

func (k *Ctx) stft(n *ir.Node, op *ir.STFT) error {
	f := k.F
	x, stepv, window, flv, y := n.Inputs[0], n.Inputs[1], n.In(2), n.In(3), n.Outputs[0]
	dt := x.Type.DType
	if _, err := computeType(dt); err != nil {
		return err
	}
	nb, l, ch := x.Type.Shape[0], x.Type.Shape[1], x.Type.Shape[2]
	frames, bins := y.Type.Shape[1], y.Type.Shape[2]
	sz := int32(elemBytes(dt))
	tw := uint32(k.WorkspaceAddr())
	step := f.Local(asm.I32)
	if stepv.Const != nil {
		f.I32Const(int32(stepv.Const.Int(0))).Set(step)
	} else {
		ps := f.Local(asm.I32)
		f.I32Const(k.Addr(stepv)).Set(ps)
		k.loadIndex(stepv.Type.DType, ps)
		f.Set(step)
		f.Get(step).I32Const(1).Op(wasm.OpcodeI32LtS)
		k.Fail(abi.ErrShapeMismatch)
	}
	variant := func(fl int) error {
		if stepv.Const == nil {
			// the run-time step must give the compiled frame count
			f.I32Const(int32(l - fl)).Get(step).Op(wasm.OpcodeI32DivS).I32Const(int32(frames - 1)).Op(wasm.OpcodeI32Ne)
			k.Fail(abi.ErrShapeMismatch)
		}
		buf := tw + uint32(16*fl)
		wlen := fl
		if window != nil {
			wlen = window.Type.Shape[0]
		}
		k.twiddles(tw, fl)
		b, fr, j, p, kk, pyf := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		px := f.Local(asm.I32)
		var err error
		f.I32Const(k.Addr(y)).Set(pyf)
		f.Repeat(b, nb, func() {
			f.Get(b).I32Const(int32(l*ch) * sz).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(x)).Op(wasm.OpcodeI32Add).Set(px)
			f.Repeat(fr, frames, func() {
				f.I32Const(int32(buf)).I32Const(0).I32Const(int32(16 * fl)).MemoryFill()
				f.Repeat(j, min(wlen, fl), func() {
					f.Get(fr).Get(step).Op(wasm.OpcodeI32Mul).Get(j).Op(wasm.OpcodeI32Add).Tee(p)
					f.I32Const(int32(l)).Op(wasm.OpcodeI32LtU).If()
					re, im := k.loadComplex(dt, px, p, int32(ch)*sz, ch == 2, false)
					if window != nil {
						w := f.Local(asm.F64)
						f.I32Const(k.Addr(window)).Get(j).I32Const(sz).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
						k.loadAs(dt, 0, asm.F64)
						f.Set(w)
						f.Get(re).Get(w).Op(wasm.OpcodeF64Mul).Set(re)
						f.Get(im).Get(w).Op(wasm.OpcodeF64Mul).Set(im)
					}
					storeComplex(f, buf, j, re, im)
					f.End()
				})
				f.Repeat(kk, bins, func() {
					re, im := k.dftSums(tw, buf, fl, kk, false)
					f.Get(pyf).Get(re)
					if e := k.storeAs(dt, 0, asm.F64); e != nil {
						err = e
					}
					f.Get(pyf).Get(im)
					k.storeAs(dt, uint32(sz), asm.F64)
					f.AddI32(pyf, 2*sz)
				})
			})
		})
		return err
	}
	lengths := stftLengths(n, op)
	if flv == nil || flv.Const != nil {
		return variant(lengths[0])
	}
	// frame_length is run-time data: it chooses.
	pl, fl := f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(k.Addr(flv)).Set(pl)
	k.loadIndex(flv.Type.DType, pl)
	f.Set(fl)
	return k.variants(len(lengths),
		func(i int) { f.Get(fl).I32Const(int32(lengths[i])).Op(wasm.OpcodeI32Eq) },
		func(i int) error { return variant(lengths[i]) })
}

// roundF64As rounds the f64 on the stack to the precision of float type
// dt, keeping it f64 (numpy computes the mel edges in the edges' type).
func (k *Ctx) roundF64As(dt ir.DType) {
	f := k.F
	if dt == ir.Float64 {
		return
	}
	f.Op(wasm.OpcodeF32DemoteF64)
	k.roundTo(dt)
	f.Op(wasm.OpcodeF64PromoteF32)
}

// loadScalarF64 pushes the scalar input v as f64.
func (k *Ctx) loadScalarF64(v *ir.Value) error {
	f := k.F
	f.I32Const(k.Addr(v))
	return k.loadAs(v.Type.DType, 0, asm.F64)
}

func (k *Ctx) melWeightMatrix(n *ir.Node) error {
	f := k.F
	in, y := n.Inputs, n.Outputs[0]
	dt := y.Type.DType
	if _, err := computeType(dt); err != nil {
		return err
	}
	edge := in[3].Type.DType
	if _, err := computeType(edge); err != nil {
		return err
	}
	bins, mels := y.Type.Shape[0], y.Type.Shape[1]
	if in[0].Const == nil {
		if err := k.checkShape(in[0], mels); err != nil {
			return err
		}
	}
	dl := f.Local(asm.F64)
	if err := k.loadScalarF64(in[1]); err != nil {
		return err
	}
	f.Set(dl)
	if in[1].Const == nil {
		// the number of spectrum bins, dft_length/2 + 1, is compiled in
		f.Get(dl).F64Const(0).Op(wasm.OpcodeF64Lt)
		f.Get(dl).F64Const(2).Op(wasm.OpcodeF64Div).Op(wasm.OpcodeF64Floor).F64Const(float64(bins - 1)).Op(wasm.OpcodeF64Ne)
		f.Op(wasm.OpcodeI32Or)
		k.Fail(abi.ErrShapeMismatch)
	}
	x := fxFor(f, asm.F64, false)
	t := x.local()
	// mel(hz) = 2595 log10(1 + hz/700), rounded like the edges' type
	mel := func(v *ir.Value) (asm.Local, error) {
		m := x.local()
		if err := k.loadScalarF64(v); err != nil {
			return m, err
		}
		x.c(700).div()
		k.roundF64As(edge)
		x.c(1).add()
		k.roundF64As(edge)
		x.set(t)
		x.log(t).c(math.Ln10).div()
		k.roundF64As(edge)
		x.c(2595).mul()
		k.roundF64As(edge)
		x.set(m)
		return m, nil
	}
	lo, err := mel(in[3])
	if err != nil {
		return err
	}
	hi, err := mel(in[4])
	if err != nil {
		return err
	}
	step, sr := x.local(), x.local()
	x.get(hi).get(lo).sub()
	k.roundF64As(edge)
	x.c(float64(mels + 2)).div()
	k.roundF64As(edge)
	x.set(step)
	if err := k.loadScalarF64(in[2]); err != nil {
		return err
	}
	x.set(sr)
	ws := uint32(k.WorkspaceAddr())
	i := f.Local(asm.I32)
	// the band edges as spectrum bins
	f.Repeat(i, mels+2, func() {
		f.Get(i).I32Const(4).Op(wasm.OpcodeI32Mul)
		f.Get(i).Op(wasm.OpcodeF64ConvertI32S)
		x.get(step).mul().get(lo).add().c(2595).div().c(math.Ln10).mul().set(t)
		x.exp(t).c(1).sub().c(700).mul().set(t)
		x.get(dl).c(1).add().get(t).mul().get(sr).div().floor()
		f.Misc(wasm.OpcodeMiscI32TruncSatF64S).I32Store(ws)
	})
	k.zeroValue(y)
	sz := int32(elemBytes(dt))
	lw, cw, hw, j := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	var serr error
	// set stores v (pushed by val) at row j, column i, failing the run
	// when j is not a spectrum bin.
	set := func(val func()) {
		f.Get(j).I32Const(int32(bins)).Op(wasm.OpcodeI32GeU)
		k.Fail(abi.ErrIndexOutOfRange)
		f.Get(j).I32Const(int32(mels)).Op(wasm.OpcodeI32Mul).Get(i).Op(wasm.OpcodeI32Add).I32Const(sz).Op(wasm.OpcodeI32Mul)
		val()
		if e := k.storeAs(dt, uint32(k.Addr(y)), asm.F64); e != nil {
			serr = e
		}
	}
	loop := func(from asm.Local, last asm.Local, inclusive bool, body func()) {
		f.Get(from).Set(j)
		f.Block()
		exit := f.Depth()
		f.Loop()
		f.Get(j).Get(last)
		if inclusive {
			f.Op(wasm.OpcodeI32GtS)
		} else {
			f.Op(wasm.OpcodeI32GeS)
		}
		f.BrIf(uint32(f.Depth() - exit))
		body()
		f.AddI32(j, 1)
		f.Br(0)
		f.End()
		f.End()
	}
	f.Repeat(i, mels, func() {
		f.Get(i).I32Const(4).Op(wasm.OpcodeI32Mul).I32Load(ws).Set(lw)
		f.Get(i).I32Const(4).Op(wasm.OpcodeI32Mul).I32Load(ws + 4).Set(cw)
		f.Get(i).I32Const(4).Op(wasm.OpcodeI32Mul).I32Load(ws + 8).Set(hw)
		f.Get(cw).Get(lw).Op(wasm.OpcodeI32Eq).If()
		f.Get(cw).Set(j)
		set(func() { f.F64Const(1) })
		f.Else()
		loop(lw, cw, true, func() {
			set(func() {
				f.Get(j).Get(lw).Op(wasm.OpcodeI32Sub).Op(wasm.OpcodeF64ConvertI32S)
				f.Get(cw).Get(lw).Op(wasm.OpcodeI32Sub).Op(wasm.OpcodeF64ConvertI32S).Op(wasm.OpcodeF64Div)
			})
		})
		f.End()
		loop(cw, hw, false, func() {
			set(func() {
				f.Get(hw).Get(j).Op(wasm.OpcodeI32Sub).Op(wasm.OpcodeF64ConvertI32S)
				f.Get(hw).Get(cw).Op(wasm.OpcodeI32Sub).Op(wasm.OpcodeF64ConvertI32S).Op(wasm.OpcodeF64Div)
			})
		})
	})
	return serr
}
