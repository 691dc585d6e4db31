package codegen

import (
	"fmt"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// MatMulInteger, QLinearMatMul, ConvInteger and QLinearConv on the integer
// GEMM core (math_qgemm.go), and the fused QMatMul and QConv (registered in
// ops_qfused.go). Scales and zero points are read at run time.

// qmmArgs are the operands of an integer matrix product; the scales are
// nil for MatMulInteger (int32 output).
type qmmArgs struct {
	a, b, za, zb   *ir.Value
	sa, sb, sy, zy *ir.Value
	packed         *ir.QPacked // b holds B packed at compile time
	fused          *ir.QMatMul // with mult and add, the fused op's epilogue
	mult, add      *ir.Value
}

func qmmArgsOf(n *ir.Node) qmmArgs {
	switch op := n.Op.(type) {
	case *ir.QLinearMatMul:
		return qmmArgs{a: n.In(0), sa: n.In(1), za: n.In(2), b: n.In(3), sb: n.In(4), zb: n.In(5), sy: n.In(6), zy: n.In(7), packed: op.Packed}
	case *ir.MatMulInteger:
		return qmmArgs{a: n.In(0), b: n.In(1), za: n.In(2), zb: n.In(3), packed: op.Packed}
	case *ir.QMatMul:
		return qmmArgs{a: n.In(0), b: n.In(1), packed: &op.Packed, fused: op, mult: n.In(2), add: n.In(3)}
	}
	panic("qmmArgsOf " + n.Op.OpType())
}

// bType is B's type before any packing.
func (q qmmArgs) bType() ir.Type {
	if q.packed != nil {
		return q.packed.Orig
	}
	return q.b.Type
}

// packedWidth is the byte width of a compile-time packed operand.
func packedWidth(v *ir.Value) int { return v.Type.DType.Bits() / 8 }

type qmmPlan struct {
	batch             ir.Shape
	as, bs            ir.Shape // operands with 1-D ones promoted to 2-D
	M, K, N, Kp, Np   int
	na, nb            int // scales per row of A / per column of B (1: one)
	aBytes, bBytes    int
	tabBytes, tabMode int
}

func planQMatMul(n *ir.Node) (*qmmPlan, error) {
	q := qmmArgsOf(n)
	bt := q.bType()
	batch, M, K, N, _, err := ir.MatMulShapes(q.a.Type.Shape, bt.Shape)
	if err != nil {
		return nil, err
	}
	p := &qmmPlan{batch: batch, M: M, K: K, N: N, Kp: qPadK(K), Np: qPadN(N), na: 1, nb: 1}
	p.as, p.bs = q.a.Type.Shape, bt.Shape
	if len(p.as) == 1 {
		p.as = ir.Shape{1, p.as[0]}
	}
	if len(p.bs) == 1 {
		p.bs = ir.Shape{p.bs[0], 1}
	}
	p.aBytes = alignUp(M*p.Kp*2, 16)
	if q.packed == nil {
		p.bBytes = alignUp(p.Np*p.Kp*2, 16)
	}
	if q.sa != nil {
		if p.na, err = ir.RowParam(q.sa.Type.Shape, q.a.Type.Shape, true); err != nil {
			return nil, err
		}
		if p.nb, err = ir.RowParam(q.sb.Type.Shape, bt.Shape, false); err != nil {
			return nil, err
		}
		switch {
		case p.na > 1 && p.nb > 1:
			p.tabMode, p.tabBytes = multElem, M*p.Np*8
		case p.na > 1:
			p.tabMode, p.tabBytes = multRow, M*8
		case p.nb > 1:
			p.tabMode, p.tabBytes = multCol, p.Np*8
		}
	}
	return p, nil
}

// zeroPointPtr sets a local to a zero point's address; nil when absent.
func (k *Ctx) zeroPointPtr(z *ir.Value) *asm.Local {
	if z == nil {
		return nil
	}
	l := k.F.Local(asm.I32)
	k.F.I32Const(k.Addr(z)).Set(l)
	return &l
}

// qMultipliers computes mult(i, j) = f64(round(round(s1[i]*s2[j]) / s3)),
// rounding to the scales' type as numpy does, for i < n1 and j < n2 (an
// n of 1 reads element 0): into one f64 local when n1 = n2 = 1, otherwise
// into the table at tab (row stride ld when both vary).
func (k *Ctx) qMultipliers(s1, s2, s3 *ir.Value, n1, n2, ld int, tab int32, one asm.Local) error {
	f := k.F
	dt := s1.Type.DType
	i, j, zero := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.SetI32(zero, 0)
	var errs firstErr
	value := func(ii, jj asm.Local) {
		errs.check(k.loadElemAt(dt, k.Addr(s1), ii))
		errs.check(k.loadElemAt(dt, k.Addr(s2), jj))
		f.Op(wasm.OpcodeF32Mul)
		k.roundTo(dt)
		errs.check(k.loadElemAt(dt, k.Addr(s3), zero))
		f.Op(wasm.OpcodeF32Div)
		k.roundTo(dt)
		f.Op(wasm.OpcodeF64PromoteF32)
	}
	if n1 == 1 && n2 == 1 {
		value(zero, zero)
		f.Set(one)
		return nil
	}
	ii, jj := zero, zero
	if n1 > 1 {
		ii = i
	}
	if n2 > 1 {
		jj = j
	}
	f.Repeat(i, n1, func() {
		f.Repeat(j, n2, func() {
			// tab + (i*ld + j)*8
			f.Get(ii)
			if n1 > 1 && n2 > 1 {
				f.I32Const(int32(ld)).Op(wasm.OpcodeI32Mul)
			}
			f.Get(jj).Op(wasm.OpcodeI32Add).I32Const(3).Op(wasm.OpcodeI32Shl)
			value(ii, jj)
			f.F64Store(uint32(tab))
		})
	})
	return errs.err
}

// qOutputZero sets an f64 local to the output zero point (0 when absent).
func (k *Ctx) qOutputZero(zy *ir.Value) (asm.Local, error) {
	f := k.F
	l := f.Local(asm.F64)
	if zy == nil {
		f.F64Const(0).Set(l)
		return l, nil
	}
	zero := f.Local(asm.I32)
	f.SetI32(zero, 0)
	if err := k.loadElemAt(zy.Type.DType, k.Addr(zy), zero); err != nil {
		return l, err
	}
	f.Op(wasm.OpcodeF64ConvertI32S).Set(l)
	return l, nil
}

func (k *Ctx) qmatmul(n *ir.Node) error {
	p, err := planQMatMul(n)
	if err != nil {
		return err
	}
	q := qmmArgsOf(n)
	out := n.Outputs[0]
	if out.Type.Shape.Size() == 0 {
		return nil
	}
	f := k.F
	ws := k.WorkspaceAddr()
	aBuf, bBuf := ws, ws+int32(p.aBytes)
	tab := bBuf + int32(p.bBytes)
	if p.aBytes+p.bBytes > 0 {
		f.I32Const(ws).I32Const(0).I32Const(int32(p.aBytes + p.bBytes)).MemoryFill()
	}
	pa, pb, pc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(aBuf).Set(pa)
	f.I32Const(bBuf).Set(pb)
	var epi qepi
	outSize := 4
	switch {
	case q.fused != nil:
		fe := newQEpiF32(k, pc, p.N, q.fused.Out, false, q.mult, q.add)
		fe.bound(maxRowSum(q.b.Const)*255, q.mult, q.add)
		epi = fe
		outSize = out.Type.DType.Bits() / 8
	case q.sa == nil:
		epi = &qStoreI32{k: k, base: pc, ld: p.N}
	default:
		outSize = 1
		mult := f.Local(asm.F64)
		// mult(m, n) = sa[m] * sb[n] / sy
		if err := k.qMultipliers(q.sa, q.sb, q.sy, p.na, p.nb, p.Np, tab, mult); err != nil {
			return err
		}
		if p.tabMode != multTensor {
			// the requantization reads the table instead
			mult = f.Local(asm.I32)
			f.I32Const(tab).Set(mult)
		}
		zy, err := k.qOutputZero(q.zy)
		if err != nil {
			return err
		}
		epi = newRequant(k, pc, p.N, out.Type.DType, nil, p.tabMode, mult, p.Np, zy)
	}
	za, zb := k.zeroPointPtr(q.za), k.zeroPointPtr(q.zb)
	if q.fused != nil && q.fused.AZero != 0 {
		l := f.Local(asm.I32)
		f.I32Const(k.Table(fmt.Sprintf("zero_point_%d", uint8(q.fused.AZero)), []byte{byte(q.fused.AZero)})).Set(l)
		za = &l
	}
	zaStride, zbStride := 0, 0
	if q.za != nil && q.za.Type.Shape.Size() > 1 {
		zaStride = 1
	}
	if q.zb != nil && q.zb.Type.Shape.Size() > 1 {
		zbStride = 1
	}
	adt, bdt := q.a.Type.DType, q.bType().DType
	packA := func(src asm.Local) { k.qPackRows(pa, src, p.M, p.K, p.Kp, p.K, 1, adt, za, zaStride) }
	packB := func(src asm.Local) { k.qPackRows(pb, src, p.N, p.K, p.Kp, 1, p.N, bdt, zb, zbStride) }
	aStr := scaleInts(ir.BroadcastStrides(p.as[:len(p.as)-2], p.batch), p.M*p.K)
	bStr := scaleInts(ir.BroadcastStrides(p.bs[:len(p.bs)-2], p.batch), p.K*p.N)
	aInv, bInv := allZeroInts(aStr), allZeroInts(bStr)
	src := f.Local(asm.I32)
	bWidth := 2
	if q.packed != nil {
		f.I32Const(k.Addr(q.b)).Set(pb)
		bWidth = packedWidth(q.b)
		bInv = false
	}
	// Operands that do not change along the batch are packed once.
	if aInv {
		f.I32Const(k.Addr(q.a)).Set(src)
		packA(src)
	}
	if bInv && q.packed == nil {
		f.I32Const(k.Addr(q.b)).Set(src)
		packB(src)
	}
	streams := []stream{
		{base: k.Addr(out), strides: append(scaleInts(p.batch.Strides(), p.M*p.N), 0), size: outSize},
		{base: k.Addr(q.a), strides: append(aStr, 0), size: 1},
		{base: k.Addr(q.b), strides: append(bStr, 0), size: 1},
	}
	k.nest(append(p.batch.Clone(), 1), streams, func(ptrs []asm.Local, _ int, _ []int) {
		if !aInv {
			packA(ptrs[1])
		}
		if !bInv && q.packed == nil {
			packB(ptrs[2])
		}
		f.Get(ptrs[0]).Set(pc)
		k.emitQGemm(qgemm{M: p.M, N: p.N, K: p.K, Kp: p.Kp, a: qpacked{pa, 2}, b: qpacked{pb, bWidth}, epi: epi})
	})
	return nil
}

func allZeroInts(s []int) bool {
	for _, v := range s {
		if v != 0 {
			return false
		}
	}
	return true
}

// qconvPlan lays out an integer convolution as GEMMs per image and group:
// W[mg, cg*k] x col[P, cg*k]^T, col gathered from a zero-padded int16 copy
// of the image with its zero point subtracted.
type qconvPlan struct {
	g                    *ir.Geometry
	N, C, M, group       int
	cg, mg, kSize, P     int
	K, Kp, Pp            int
	padded               []int
	wBytes, padBytes     int
	colBytes, tabBytes   int
	perChannel           bool // w_scale or w_zero_point per output channel
	pointwise            bool // 1x1 kernel, stride 1, no padding: columns transpose x
	pairs                bool // pointwise with one group: qPointwise
	dw                   bool // depthwise: qDepthwise
	winoBytes            int  // Winograd QConv: its workspace (qWinograd)
	xdt, wdt             ir.DType
	x, w, zx, zw, b, out *ir.Value
	sx, sw, sy, zy       *ir.Value
	packed               *ir.QPacked // w holds W packed at compile time
	fused                *ir.QConv   // with mult and add, the fused op's epilogue
	mult, add            *ir.Value
}

func planQConv(n *ir.Node) (*qconvPlan, error) {
	p := &qconvPlan{out: n.Outputs[0]}
	var g *ir.Geometry
	var err error
	switch op := n.Op.(type) {
	case *ir.ConvInteger:
		p.x, p.w, p.zx, p.zw = n.In(0), n.In(1), n.In(2), n.In(3)
		p.group, p.packed = op.Group, op.Packed
	case *ir.QLinearConv:
		p.x, p.sx, p.zx, p.w, p.sw, p.zw, p.sy, p.zy, p.b = n.In(0), n.In(1), n.In(2), n.In(3), n.In(4), n.In(5), n.In(6), n.In(7), n.In(8)
		p.group, p.packed = op.Group, op.Packed
	case *ir.QConv:
		p.x, p.w, p.mult, p.add = n.In(0), n.In(1), n.In(2), n.In(3)
		p.group, p.packed, p.fused = op.Group, &op.Packed, op
	}
	wt := p.w.Type
	if p.packed != nil {
		wt = p.packed.Orig
	}
	g, err = (&ir.Conv{Window: convWindow(n.Op), Group: p.group}).Geometry(p.x.Type.Shape, wt.Shape)
	if err != nil {
		return nil, err
	}
	xs, wsh := p.x.Type.Shape, wt.Shape
	p.g, p.N, p.C, p.M = g, xs[0], xs[1], wsh[0]
	p.xdt, p.wdt = p.x.Type.DType, wt.DType
	p.cg, p.mg = p.C/p.group, p.M/p.group
	p.kSize = ir.Shape(g.Kernel).Size()
	p.P = ir.Shape(g.Out).Size()
	p.K, p.Kp, p.Pp = p.cg*p.kSize, qPadK(p.cg*p.kSize), qPadN(p.P)
	p.padded = make([]int, len(g.In))
	for d := range g.In {
		need := (g.Out[d]-1)*g.Strides[d] + (g.Kernel[d]-1)*g.Dilations[d] + 1
		p.padded[d] = max(g.In[d]+g.PadBegin[d]+g.PadEnd[d], need)
	}
	if p.packed == nil {
		p.wBytes = alignUp(p.M*p.Kp*2, 16)
	}
	// int16 inputs of grouped pointwise convolutions take the general
	// path (qTransposeCols reads 8-bit values)
	x16 := p.xdt == ir.Int16
	p.pointwise = p.kSize == 1 && !(x16 && p.group > 1)
	for d := range g.In {
		if g.Strides[d] != 1 || g.PadBegin[d] != 0 || g.PadEnd[d] != 0 {
			p.pointwise = false
		}
	}
	if !p.pointwise {
		p.padBytes = alignUp(p.C*ir.Shape(p.padded).Size()*2, 16)
	}
	// 16 bytes of slack: the SIMD gather stores whole vectors (qIm2colT)
	p.colBytes = alignUp(p.Pp*p.Kp*2+16, 16)
	if p.pairs = p.pointwise && p.group == 1; p.pairs {
		p.colBytes = pwPanelBytes(p.C)
	}
	if p.dw = !p.pointwise && p.depthwise(); p.dw {
		p.padBytes, p.colBytes = 0, alignUp(p.dwPlaneBytes(), 16)
	}
	if p.fused != nil && p.fused.Winograd {
		p.winoBytes = p.wino().bytes()
	}
	p.perChannel = p.sw != nil && p.sw.Type.Shape.Size() > 1
	if p.perChannel {
		p.tabBytes = p.M * 8
	}
	return p, nil
}

func convWindow(op ir.Op) ir.Window {
	switch op := op.(type) {
	case *ir.ConvInteger:
		return op.Window
	case *ir.QLinearConv:
		return op.Window
	case *ir.QConv:
		return op.Window
	}
	panic("convWindow " + op.OpType())
}

func (p *qconvPlan) workspace() int {
	return max(p.wBytes+p.padBytes+p.colBytes+p.tabBytes, p.winoBytes)
}

// maxTaps bounds the kernel taps the gather unrolls.
const maxTaps = 1024

func (k *Ctx) qconv(n *ir.Node) error {
	p, err := planQConv(n)
	if err != nil {
		return err
	}
	if p.out.Type.Shape.Size() == 0 {
		return nil
	}
	if p.kSize > maxTaps {
		return ir.NotSupportedf("integer convolution with %d kernel taps (at most %d)", p.kSize, maxTaps)
	}
	f := k.F
	ws := k.WorkspaceAddr()
	wBuf := ws
	padBuf := wBuf + int32(p.wBytes)
	colBuf := padBuf + int32(p.padBytes)
	tab := colBuf + int32(p.colBytes)
	if !(p.winoBytes > 0 && k.SIMD()) {
		f.I32Const(ws).I32Const(0).I32Const(int32(p.wBytes + p.padBytes + p.colBytes)).MemoryFill()
	}

	wWidth := 2
	if p.packed != nil {
		wBuf, wWidth = k.Addr(p.w), packedWidth(p.w)
	} else {
		// Pack all of W: M rows of cg*k values, zero point per channel or one.
		pw, src := f.Local(asm.I32), f.Local(asm.I32)
		f.I32Const(wBuf).Set(pw)
		f.I32Const(k.Addr(p.w)).Set(src)
		zwStride := 0
		if p.zw != nil && p.zw.Type.Shape.Size() > 1 {
			zwStride = 1
		}
		k.qPackRows(pw, src, p.M, p.K, p.Kp, p.K, 1, p.wdt, k.zeroPointPtr(p.zw), zwStride)
	}

	zx := f.Local(asm.I32)
	f.SetI32(zx, 0)
	if p.fused != nil {
		f.SetI32(zx, p.fused.XZero)
	}
	if p.zx != nil {
		zero := f.Local(asm.I32)
		f.SetI32(zero, 0)
		if err := k.loadElemAt(p.xdt, k.Addr(p.zx), zero); err != nil {
			return err
		}
		f.Set(zx)
	}

	pc, pa, pb := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	var bias *asm.Local
	var epi qepi
	mult := f.Local(asm.F64)
	tabPtr := f.Local(asm.I32)
	outSize := 4
	var fusedEpi *qEpiF32
	switch {
	case p.fused != nil:
		fusedEpi = newQEpiF32(k, pc, p.P, p.fused.Out, true, p.mult, p.add)
		epi, outSize = fusedEpi, p.out.Type.DType.Bits()/8
		if r := n.In(4); r != nil {
			fusedEpi.setResidual(r, p.fused.RZero, p.fused.RMult)
		}
		xmax := 255.0
		if p.xdt == ir.Int16 {
			xmax = 32768
		}
		fusedEpi.bound(maxRowSum(p.w.Const)*xmax, p.mult, p.add)
	case p.sx == nil:
		epi = &qStoreI32{k: k, base: pc, ld: p.P}
	default:
		outSize = 1
		nw := 1
		if p.perChannel {
			nw = p.M
		}
		// per channel m: sw[m] * sx / sy (multiplication commutes exactly)
		if err := k.qMultipliers(p.sw, p.sx, p.sy, nw, 1, 1, tab, mult); err != nil {
			return err
		}
		zy, err := k.qOutputZero(p.zy)
		if err != nil {
			return err
		}
		if p.b != nil {
			bl := f.Local(asm.I32)
			bias = &bl
		}
		mode, m := multTensor, mult
		if p.perChannel {
			mode, m = multRow, tabPtr
		}
		epi = newRequant(k, pc, p.P, p.out.Type.DType, bias, mode, m, 0, zy)
	}

	xImg := int32(p.C * ir.Shape(p.g.In).Size() * p.xdt.Bits() / 8)
	img, gi := f.Local(asm.I32), f.Local(asm.I32)
	f.SetI32(img, 0)
	nc, gc := f.Local(asm.I32), f.Local(asm.I32)
	f.Counted(nc, p.N, func() {
		xBase := f.Local(asm.I32)
		f.Get(img).I32Const(xImg).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(p.x)).Op(wasm.OpcodeI32Add).Set(xBase)
		wino := p.winoBytes > 0 && k.SIMD()
		if !p.pointwise && !p.dw && !wino {
			k.qPadCopy(xBase, padBuf, p, zx)
		}
		f.SetI32(gi, 0)
		// qDepthwise does every group at once, from group 0's pointers
		groups := p.group
		if p.dw {
			groups = 1
		}
		f.Counted(gc, groups, func() {
			switch {
			case p.pairs, p.dw, wino:
			case p.pointwise:
				k.qTransposeCols(xBase, gi, colBuf, p, zx)
			default:
				k.qIm2colT(padBuf, gi, colBuf, p)
			}
			f.Get(gi).I32Const(int32(p.mg * p.Kp * wWidth)).Op(wasm.OpcodeI32Mul).I32Const(wBuf).Op(wasm.OpcodeI32Add).Set(pa)
			f.I32Const(colBuf).Set(pb)
			// out + (img*M + gi*mg) * P * outSize
			f.Get(img).I32Const(int32(p.M)).Op(wasm.OpcodeI32Mul).Get(gi).I32Const(int32(p.mg)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
			f.I32Const(int32(p.P * outSize)).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(p.out)).Op(wasm.OpcodeI32Add).Set(pc)
			if bias != nil {
				f.Get(gi).I32Const(int32(p.mg * 4)).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(p.b)).Op(wasm.OpcodeI32Add).Set(*bias)
			}
			if p.perChannel {
				f.Get(gi).I32Const(int32(p.mg * 8)).Op(wasm.OpcodeI32Mul).I32Const(tab).Op(wasm.OpcodeI32Add).Set(tabPtr)
			}
			if fusedEpi != nil {
				c0 := f.Local(asm.I32)
				f.Get(gi).I32Const(int32(p.mg)).Op(wasm.OpcodeI32Mul).Set(c0)
				fusedEpi.setChannelBase(p.mult, p.add, c0)
				if fusedEpi.res != nil {
					// the residual's C(0, 0): (img*M + gi*mg) * P bytes in
					f.Get(img).I32Const(int32(p.M)).Op(wasm.OpcodeI32Mul).Get(c0).Op(wasm.OpcodeI32Add)
					f.I32Const(int32(p.P * n.In(4).Type.DType.Bits() / 8)).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(n.In(4))).Op(wasm.OpcodeI32Add).Set(*fusedEpi.res)
				}
			}
			switch {
			case wino:
				k.qWinograd(xBase, p, n.In(5), ws, zx, epi)
			case p.dw:
				k.qDepthwise(xBase, p, wBuf, wWidth, colBuf, zx, epi)
			case p.pairs && p.fused != nil && p.fused.Widened && k.SIMD():
				// weight pairs broadcast in one instruction from the int16 copy
				k.qPointwise(xBase, p, k.Addr(n.In(5)), 2, colBuf, zx, epi)
			case p.pairs:
				k.qPointwise(xBase, p, wBuf, wWidth, colBuf, zx, epi)
			default:
				k.emitQGemm(qgemm{M: p.mg, N: p.P, K: p.K, Kp: p.Kp, a: qpacked{pa, wWidth}, b: qpacked{pb, 2}, epi: epi})
			}
			f.AddI32(gi, 1)
		})
		f.AddI32(img, 1)
	})
	return nil
}

// qPadCopy copies one image's C channels from src (8-bit) into the padded
// int16 buffer with the zero point zx subtracted; the border stays zero.
func (k *Ctx) qPadCopy(src asm.Local, dst int32, p *qconvPlan, zx asm.Local) {
	f := k.F
	g := p.g
	nd := len(g.In)
	dstStr := ir.Shape(p.padded).Strides()
	offset := 0
	for d := 0; d < nd; d++ {
		offset += g.PadBegin[d] * dstStr[d]
	}
	ext := wasm.OpcodeVecI16x8ExtendLowI8x16U
	if p.xdt == ir.Int8 {
		ext = wasm.OpcodeVecI16x8ExtendLowI8x16S
	}
	sp, dp, chanBase, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	zvec := f.Local(asm.V128)
	if k.SIMD() {
		f.Get(zx).Vec(wasm.OpcodeVecI16x8Splat).Set(zvec)
	}
	f.Get(src).Set(sp)
	f.I32Const(dst + int32(offset)*2).Set(chanBase)
	width := g.In[nd-1]
	xsz := int32(p.xdt.Bits() / 8)
	row := func() {
		rowStart := f.Local(asm.I32)
		f.Get(dp).Set(rowStart)
		rest := width
		if k.SIMD() && width >= 8 {
			f.Counted(c, width/8, func() {
				f.Get(dp).Get(sp)
				if p.xdt == ir.Int16 {
					f.V128Load(0)
				} else {
					f.V128Load64Zero(0).Vec(ext)
				}
				f.Get(zvec).Vec(wasm.OpcodeVecI16x8Sub).V128Store(0)
				f.AddI32(sp, 8*xsz)
				f.AddI32(dp, 16)
			})
			rest = width % 8
		}
		f.Counted(c, rest, func() {
			f.Get(dp).Get(sp)
			k.loadElem(p.xdt, 0)
			f.Get(zx).Op(wasm.OpcodeI32Sub).I32Store16(0)
			f.AddI32(sp, xsz)
			f.AddI32(dp, 2)
		})
		f.Get(rowStart).Set(dp)
	}
	cc := f.Local(asm.I32)
	f.Counted(cc, p.C, func() {
		f.Get(chanBase).Set(dp)
		var level func(d int)
		level = func(d int) {
			if d == nd-1 {
				row()
				return
			}
			lc, start := f.Local(asm.I32), f.Local(asm.I32)
			f.Get(dp).Set(start)
			f.Counted(lc, g.In[d], func() {
				level(d + 1)
				f.Get(start).I32Const(int32(dstStr[d] * 2)).Op(wasm.OpcodeI32Add).Tee(start).Set(dp)
			})
		}
		level(0)
		f.AddI32(chanBase, int32(ir.Shape(p.padded).Size()*2))
	})
}

// qIm2colT writes group gi's columns transposed: row p (output position)
// holds, for each channel c of the group and kernel tap t, the padded
// value under that tap at value c*kSize + t. Rows are Kp long; the padding
// stays zero.
func (k *Ctx) qIm2colT(padBuf int32, gi asm.Local, colBuf int32, p *qconvPlan) {
	f := k.F
	g := p.g
	nd := len(g.Out)
	padStr := ir.Shape(p.padded).Strides()
	chanBytes := int32(ir.Shape(p.padded).Size() * 2)
	taps := make([]int32, 0, p.kSize)
	kpos := make([]int, nd)
	for t := 0; t < p.kSize; t++ {
		rem := t
		for d := nd - 1; d >= 0; d-- {
			kpos[d] = rem % g.Kernel[d]
			rem /= g.Kernel[d]
		}
		off := 0
		for d := 0; d < nd; d++ {
			off += kpos[d] * g.Dilations[d] * padStr[d]
		}
		taps = append(taps, int32(off*2))
	}
	// With SIMD and undilated rows of at most 8 taps, each kernel row is
	// one 8-lane copy: the lanes past the row land where later stores (or
	// the zero weights of the padding columns) make them harmless, and the
	// reads past a padded row stay inside the workspace.
	kw := g.Kernel[nd-1]
	rowCopy := k.SIMD() && g.Dilations[nd-1] == 1 && kw >= 2 && kw <= 8
	dRow, dp, cp := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.I32Const(colBuf).Set(dRow)
	base := f.Local(asm.I32)
	// first channel of the group
	f.Get(gi).I32Const(int32(p.cg) * chanBytes).Op(wasm.OpcodeI32Mul).I32Const(padBuf).Op(wasm.OpcodeI32Add).Set(base)
	var level func(d int, pos asm.Local)
	level = func(d int, pos asm.Local) {
		step := int32(g.Strides[d] * padStr[d] * 2)
		lc, cur := f.Local(asm.I32), f.Local(asm.I32)
		f.Get(pos).Set(cur)
		f.Counted(lc, g.Out[d], func() {
			if d < nd-1 {
				level(d+1, cur)
			} else {
				f.Get(dRow).Set(dp)
				f.Get(cur).Set(cp)
				cc := f.Local(asm.I32)
				f.Counted(cc, p.cg, func() {
					if rowCopy {
						for t := 0; t < p.kSize; t += kw {
							f.Get(dp).Get(cp).V128Load(uint32(taps[t])).V128Store(uint32(2 * t))
						}
					} else {
						for t, off := range taps {
							f.Get(dp).Get(cp).I32Load16U(uint32(off)).I32Store16(uint32(2 * t))
						}
					}
					f.AddI32(dp, int32(2*p.kSize))
					f.AddI32(cp, chanBytes)
				})
				f.AddI32(dRow, int32(2*p.Kp))
			}
			f.AddI32(cur, step)
		})
	}
	level(0, base)
}

// qTransposeCols writes the columns of a pointwise convolution: row p
// holds x[c, p] - zx for the group's channels c. SIMD transposes 8x8
// blocks (8 channels by 8 positions); the edges are copied one by one.
func (k *Ctx) qTransposeCols(xBase, gi asm.Local, colBuf int32, p *qconvPlan, zx asm.Local) {
	f := k.F
	P, cg, rowBytes := p.P, p.cg, int32(2*p.Kp)
	src := f.Local(asm.I32) // the group's first channel
	f.Get(gi).I32Const(int32(cg * P)).Op(wasm.OpcodeI32Mul).Get(xBase).Op(wasm.OpcodeI32Add).Set(src)
	// scalar copies rows [p0, p1) and channels [c0, c1)
	scalar := func(p0, p1, c0, c1 int) {
		if p0 >= p1 || c0 >= c1 {
			return
		}
		rp, cp, sp, dp := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		f.Get(src).I32Const(int32(c0*P + p0)).Op(wasm.OpcodeI32Add).Set(rp)
		f.I32Const(colBuf + int32(p0)*rowBytes + int32(2*c0)).Set(dp)
		pc, cc := f.Local(asm.I32), f.Local(asm.I32)
		f.Counted(pc, p1-p0, func() {
			f.Get(rp).Set(sp)
			f.Get(dp).Set(cp)
			f.Counted(cc, c1-c0, func() {
				f.Get(cp).Get(sp)
				k.loadElem(p.xdt, 0)
				f.Get(zx).Op(wasm.OpcodeI32Sub).I32Store16(0)
				f.AddI32(sp, int32(P))
				f.AddI32(cp, 2)
			})
			f.AddI32(rp, 1)
			f.AddI32(dp, rowBytes)
		})
	}
	P8, C8 := P/8*8, cg/8*8
	if !k.SIMD() || P8 == 0 || C8 == 0 {
		scalar(0, P, 0, cg)
		return
	}
	zvec := f.Local(asm.V128)
	f.Get(zx).Vec(wasm.OpcodeVecI16x8Splat).Set(zvec)
	var v, t [8]asm.Local
	for i := range v {
		v[i], t[i] = f.Local(asm.V128), f.Local(asm.V128)
	}
	shuffle := func(dst, a, b asm.Local, lanes [16]byte) {
		f.Get(a).Get(b).I8x16Shuffle(lanes)
		f.Set(dst)
	}
	lo16 := [16]byte{0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23}
	hi16 := [16]byte{8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31}
	lo32 := [16]byte{0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23}
	hi32 := [16]byte{8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31}
	lo64 := [16]byte{0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23}
	hi64 := [16]byte{8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31}
	rowSrc, sp, rowDst, dp := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	f.Get(src).Set(rowSrc)
	f.I32Const(colBuf).Set(rowDst)
	pc, cc := f.Local(asm.I32), f.Local(asm.I32)
	f.Counted(pc, P8/8, func() {
		f.Get(rowSrc).Set(sp)
		f.Get(rowDst).Set(dp)
		f.Counted(cc, C8/8, func() {
			// v[i]: channel c+i at positions p..p+7, widened, minus zx
			// (the farthest load first, for wazero's bounds checks)
			for i := 7; i >= 0; i-- {
				f.Get(sp)
				if p.xdt == ir.Int8 {
					f.V128Load8x8S(uint32(i * P))
				} else {
					f.V128Load8x8U(uint32(i * P))
				}
				f.Get(zvec).Vec(wasm.OpcodeVecI16x8Sub).Set(v[i])
			}
			// 8x8 transpose by interleaving 16-, 32- then 64-bit lanes
			for i := 0; i < 8; i += 2 {
				shuffle(t[i], v[i], v[i+1], lo16)
				shuffle(t[i+1], v[i], v[i+1], hi16)
			}
			for _, q := range [][4]int{{0, 2, 0, 1}, {1, 3, 2, 3}, {4, 6, 4, 5}, {5, 7, 6, 7}} {
				shuffle(v[q[2]], t[q[0]], t[q[1]], lo32)
				shuffle(v[q[3]], t[q[0]], t[q[1]], hi32)
			}
			// v[0..3]: positions 0-1, 2-3, 4-5, 6-7 of channels 0-3;
			// v[4..7]: the same for channels 4-7.
			for j := 7; j >= 0; j-- {
				src := [8][2]int{{0, 4}, {0, 4}, {1, 5}, {1, 5}, {2, 6}, {2, 6}, {3, 7}, {3, 7}}[j]
				lanes := lo64
				if j%2 == 1 {
					lanes = hi64
				}
				f.Get(dp).Get(v[src[0]]).Get(v[src[1]]).I8x16Shuffle(lanes).V128Store(uint32(int32(j) * rowBytes))
			}
			f.AddI32(sp, int32(8*P))
			f.AddI32(dp, 16)
		})
		f.AddI32(rowSrc, 8)
		f.AddI32(rowDst, 8*rowBytes)
	})
	scalar(0, P8, C8, cg)
	scalar(P8, P, 0, cg)
}

func init() {
	registerWorkspace(func(n *ir.Node, op *ir.MatMulInteger) int {
		p, err := planQMatMul(n)
		if err != nil {
			return 0
		}
		return p.aBytes + p.bBytes
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.MatMulInteger) error { return k.qmatmul(n) })
	registerWorkspace(func(n *ir.Node, op *ir.QLinearMatMul) int {
		p, err := planQMatMul(n)
		if err != nil {
			return 0
		}
		return p.aBytes + p.bBytes + p.tabBytes
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.QLinearMatMul) error { return k.qmatmul(n) })
	registerWorkspace(func(n *ir.Node, op *ir.ConvInteger) int {
		p, err := planQConv(n)
		if err != nil {
			return 0
		}
		return p.workspace()
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.ConvInteger) error { return k.qconv(n) })
	registerWorkspace(func(n *ir.Node, op *ir.QLinearConv) int {
		p, err := planQConv(n)
		if err != nil {
			return 0
		}
		return p.workspace()
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.QLinearConv) error { return k.qconv(n) })
}
