package codegen

import (
	"encoding/binary"
	"math"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Resize applies its compile-time plan (ir.ResizePlan): one pass per
// resized axis, each output position reading a few input positions along
// that axis. The taps (byte offsets and weights) are read-only tables in
// data segments; passes ping-pong between two workspace buffers.
// Nearest-mode plans copy elements (any dtype, bit-exact); other plans
// compute in f32 (float32, float16, bfloat16) or f64 (float64, integers).

type resizeLayout struct {
	plan   *ir.ResizePlan
	dt     ir.DType
	ct     wasm.ValueType // compute type of interpolating plans
	tmpSz  int            // bytes per element of the intermediate buffers
	wSz    int            // bytes per weight
	tables [][]byte
	buf    [2]int
	bytes  int
}

// resizeTapsInRegisters bounds the taps kept in locals; wider filters
// (antialiased downscaling) read their taps from the table per element.
const resizeTapsInRegisters = 8

func layoutResize(n *ir.Node, op *ir.Resize) (*resizeLayout, error) {
	p, err := op.PlanFor(n.Inputs)
	if err != nil {
		return nil, err
	}
	dt := n.Inputs[0].Type.DType
	l := &resizeLayout{plan: p, dt: dt}
	if p.Bilinear != nil { // one pass over read-only tables, no workspace
		return l, nil
	}
	if p.Selection {
		l.tmpSz = elemBytes(dt)
	} else {
		switch dt {
		case ir.Float32, ir.Float16, ir.BFloat16:
			l.ct, l.wSz = asm.F32, 4
		default:
			if !dt.IsFloat() && !dt.IsInt() {
				return nil, ir.NotSupportedf("Resize %s interpolation of %s", op.Mode, dt)
			}
			l.ct, l.wSz = asm.F64, 8
		}
		l.tmpSz = l.wSz
	}
	shape := n.Inputs[0].Type.Shape.Clone()
	maxTmp := 0
	for i, ax := range p.Passes {
		srcSz := l.tmpSz
		if i == 0 {
			srcSz = elemBytes(dt)
		}
		inner := shape[ax.Axis+1:].Size()
		shape[ax.Axis] = ax.Out
		if i < len(p.Passes)-1 {
			maxTmp = max(maxTmp, shape.Size())
		}
		l.tables = append(l.tables, l.table(&ax, inner*srcSz))
	}
	tmpBytes := alignUp(maxTmp*l.tmpSz, 16)
	l.buf = [2]int{0, tmpBytes}
	l.bytes = 2 * tmpBytes
	return l, nil
}

// table encodes one pass: per output position, its taps' source byte
// offsets (relative to the start of the row) then their weights; -1 as
// the first offset marks an extrapolated position. Selection passes store
// one offset per position.
func (l *resizeLayout) table(ax *ir.ResizeAxis, rowBytes int) []byte {
	var b []byte
	if sel, ok := ax.Select(); ok && l.plan.Selection {
		for _, s := range sel {
			b = binary.LittleEndian.AppendUint32(b, uint32(s*rowBytes))
		}
		return b
	}
	for o := range ax.Out {
		for t := range ax.Taps {
			off := uint32(ax.Index[o*ax.Taps+t] * rowBytes)
			if t == 0 && ax.Extrapolated != nil && ax.Extrapolated[o] {
				off = math.MaxUint32
			}
			b = binary.LittleEndian.AppendUint32(b, off)
		}
		for t := range ax.Taps {
			w := ax.Weight[o*ax.Taps+t]
			if l.wSz == 4 {
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(w)))
			} else {
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(w))
			}
		}
	}
	return b
}

func init() {
	registerWorkspace(func(n *ir.Node, op *ir.Resize) int {
		l, err := layoutResize(n, op)
		if err != nil {
			return 0
		}
		return l.bytes
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Resize) error {
		l, err := layoutResize(n, op)
		if err != nil {
			return err
		}
		return k.resize(n, op, l)
	})
}

func (k *Ctx) resize(n *ir.Node, op *ir.Resize, l *resizeLayout) error {
	f := k.F
	x, y := n.Inputs[0], n.Outputs[0]
	if y.Type.Shape.Size() == 0 {
		return nil
	}
	p := l.plan
	if len(p.Passes) == 0 {
		f.I32Const(k.Addr(y)).I32Const(k.Addr(x)).I32Const(int32(y.Type.Bytes())).MemoryCopy()
		return nil
	}
	if p.Bilinear != nil {
		k.resizeBilinear(n, p.Bilinear)
		return nil
	}
	ws := k.WorkspaceAddr()
	shape := x.Type.Shape.Clone()
	for i, ax := range p.Passes {
		src, dst := ws+int32(l.buf[(i+1)%2]), ws+int32(l.buf[i%2])
		if i == 0 {
			src = k.Addr(x)
		}
		last := i == len(p.Passes)-1
		if last {
			dst = k.Addr(y)
		}
		outer, inner := shape[:ax.Axis].Size(), shape[ax.Axis+1:].Size()
		shape[ax.Axis] = ax.Out
		table := k.Table("resize:"+string(l.tables[i]), l.tables[i])
		if p.Selection {
			k.resizeSelect(&ax, outer, inner, int32(l.tmpSz), src, dst, table)
			continue
		}
		pass := resizePass{ax: &ax, outer: outer, inner: inner, src: src, dst: dst, table: table, l: l, first: i == 0, last: last, extrap: op.Extrapolation}
		if err := k.resizeInterp(&pass); err != nil {
			return err
		}
	}
	return nil
}

// resizeSelect copies, for every outer block and output position, the
// selected input row of inner elements.
func (k *Ctx) resizeSelect(ax *ir.ResizeAxis, outer, inner int, sz, src, dst, table int32) {
	f := k.F
	row := int32(inner) * sz
	k.Parallel(outer, float64(int32(ax.Out)*row)*nsPerCopy+float64(ax.Out)*nsPerScalar, func(s Span) {
		srcOuter, dstPtr, rec, oc, pc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		s.Base(src, int32(ax.In)*row)
		f.Set(srcOuter)
		s.Base(dst, int32(ax.Out)*row)
		f.Set(dstPtr)
		s.Counted(oc, func() {
			f.I32Const(table).Set(rec)
			f.Counted(pc, ax.Out, func() {
				f.Get(dstPtr).Get(rec).I32Load(0).Get(srcOuter).Op(wasm.OpcodeI32Add)
				if inner == 1 {
					k.copyElemBytes(sz)
				} else {
					f.I32Const(row).MemoryCopy()
				}
				f.AddI32(dstPtr, row)
				f.AddI32(rec, 4)
			})
			f.AddI32(srcOuter, int32(ax.In)*row)
		})
	})
}

type resizePass struct {
	ax              *ir.ResizeAxis
	outer, inner    int
	src, dst, table int32
	l               *resizeLayout
	first, last     bool
	extrap          float64
}

// resizeInterp emits one interpolating pass.
func (k *Ctx) resizeInterp(p *resizePass) error {
	f := k.F
	l, ax := p.l, p.ax
	ct := l.ct
	xf := fxFor(f, ct, false)
	srcDT, dstDT := ir.Float32, ir.Float32 // the storage of src and dst elements
	if ct == asm.F64 {
		srcDT, dstDT = ir.Float64, ir.Float64
	}
	if p.first {
		srcDT = l.dt
	}
	if p.last {
		dstDT = l.dt
	}
	srcSz, dstSz := int32(elemBytes(srcDT)), int32(elemBytes(dstDT))
	T := ax.Taps
	recSize := int32(T * (4 + l.wSz))
	inRegs := T <= resizeTapsInRegisters
	vec := k.SIMD() && srcDT == ir.Float32 && dstDT == ir.Float32 && p.inner >= 4 && inRegs
	var err error
	unitNs := float64(ax.Out*p.inner*T) * nsPerScalar
	if vec {
		unitNs /= 4
	}
	k.Parallel(p.outer, unitNs, func(s Span) {
		srcOuter, dstPtr, rec, oc, pc, jc := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		acc, v := f.Local(ct), f.Local(ct)
		offs := make([]asm.Local, T)
		ws := make([]asm.Local, T)
		wv := make([]asm.Local, T)
		if inRegs {
			for t := range T {
				offs[t], ws[t] = f.Local(asm.I32), f.Local(ct)
				if vec {
					wv[t] = f.Local(asm.V128)
				}
			}
		}
		tc, tOff, tW := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		loadSrc := func() {
			if e := k.loadElem(srcDT, 0); e != nil {
				err = e
			}
			if !srcDT.IsFloat() {
				convert(f, intCompute(srcDT), ct, srcDT.IsUnsigned())
			} else if srcDT != ir.Float64 && ct == asm.F64 {
				// float8 types load as f32 and compute in f64
				convert(f, asm.F32, asm.F64, false)
			}
		}
		loadWeight := func(off uint32) {
			if l.wSz == 4 {
				f.F32Load(off)
			} else {
				f.F64Load(off)
			}
		}
		// store writes the compute value in local val to dstPtr, saturating
		// like the reference's final cast.
		store := func(val asm.Local) {
			f.Get(dstPtr)
			xf.get(val)
			if p.last {
				lo, hi := ir.DTypeRange(l.dt)
				if l.dt.IsInt() {
					xf.nearest()
				}
				if l.dt != ir.Float64 {
					xf.c(hi).min().c(lo).max()
				}
				if l.dt.IsInt() {
					convert(f, asm.F64, intCompute(l.dt), l.dt.IsUnsigned())
				} else if ct == asm.F64 && l.dt != ir.Float64 {
					// float8: to f32 rounding to odd, so that storing rounds once
					f.Call(k.f64ToF32Odd())
				}
			}
			if e := k.storeElem(dstDT, 0); e != nil {
				err = e
			}
			f.AddI32(dstPtr, dstSz)
		}
		scalarElem := func() {
			constOf(f, ct, 0)
			f.Set(acc)
			if inRegs {
				for t := range T {
					f.Get(offs[t])
					loadSrc()
					xf.get(ws[t]).mul().get(acc).add().set(acc)
					f.AddI32(offs[t], srcSz)
				}
			} else {
				f.Get(rec).Set(tOff)
				f.Get(rec).I32Const(int32(4 * T)).Op(wasm.OpcodeI32Add).Set(tW)
				f.Counted(tc, T, func() {
					f.Get(tOff).I32Load(0).Get(srcOuter).Op(wasm.OpcodeI32Add)
					loadSrc()
					f.Get(tW)
					loadWeight(0)
					xf.mul().get(acc).add().set(acc)
					f.AddI32(tOff, 4)
					f.AddI32(tW, int32(l.wSz))
				})
				// the next element of the row
				f.AddI32(srcOuter, srcSz)
			}
			store(acc)
		}
		s.Base(p.src, int32(ax.In*p.inner)*srcSz)
		f.Set(srcOuter)
		s.Base(p.dst, int32(ax.Out*p.inner)*dstSz)
		f.Set(dstPtr)
		s.Counted(oc, func() {
			f.I32Const(p.table).Set(rec)
			f.Counted(pc, ax.Out, func() {
				if ax.Extrapolated != nil {
					f.Get(rec).I32Load(0).I32Const(-1).Op(wasm.OpcodeI32Eq).If()
					constOf(f, ct, p.extrap)
					f.Set(v)
					f.Counted(jc, p.inner, func() { store(v) })
					f.Else()
				}
				if inRegs {
					for t := range T {
						f.Get(rec).I32Load(uint32(4 * t)).Get(srcOuter).Op(wasm.OpcodeI32Add).Set(offs[t])
						f.Get(rec)
						loadWeight(uint32(4*T + l.wSz*t))
						f.Set(ws[t])
						if vec {
							f.Get(ws[t]).Vec(wasm.OpcodeVecF32x4Splat).Set(wv[t])
						}
					}
				}
				rest := p.inner
				if vec {
					vacc := f.Local(asm.V128)
					vx := fxFor(f, asm.F32, true)
					f.Counted(jc, p.inner/4, func() {
						vx.c(0).set(vacc)
						for t := range T {
							f.Get(offs[t]).V128Load(0)
							vx.get(wv[t]).mul().get(vacc).add().set(vacc)
							f.AddI32(offs[t], 16)
						}
						f.Get(dstPtr)
						vx.get(vacc)
						if p.last {
							vx.c(math.MaxFloat32).min().c(-math.MaxFloat32).max()
						}
						f.V128Store(0)
						f.AddI32(dstPtr, 16)
					})
					rest = p.inner % 4
				}
				if inRegs {
					f.Counted(jc, rest, scalarElem)
				} else {
					// srcOuter walks the row; restore it afterwards
					f.Counted(jc, rest, scalarElem)
					f.Get(srcOuter).I32Const(int32(rest) * srcSz).Op(wasm.OpcodeI32Sub).Set(srcOuter)
				}
				if ax.Extrapolated != nil {
					f.End()
				}
				f.AddI32(rec, recSize)
			})
			f.AddI32(srcOuter, int32(ax.In*p.inner)*srcSz)
		})
	})
	return err
}

// intCompute is the Wasm type integers of dt load as.
func intCompute(dt ir.DType) wasm.ValueType {
	if dt.Bits() == 64 {
		return asm.I64
	}
	return asm.I32
}
