package codegen

import (
	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Spatial scatter and selection: NonMaxSuppression, MaxUnpool, Col2Im.

func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.NonMaxSuppression) error {
		return k.nms(n, op)
	})
	registerWorkspace(func(n *ir.Node, op *ir.NonMaxSuppression) int {
		// candidates and selected boxes of one class: int32 each
		return 8 * n.Inputs[0].Type.Shape[1]
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.MaxUnpool) error {
		return k.maxUnpool(n, op)
	})
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Col2Im) error {
		return k.col2imOp(n, op)
	})
}

// nmsSuppress is a helper (box a, box b, iou threshold) -> i32: whether the
// boxes overlap by more than the threshold, in float32 and in the order of
// operations of the ONNX reference (ir.nmsSuppress).
func (k *Ctx) nmsSuppress(center bool) uint32 {
	name := "nms_suppress_corners"
	if center {
		name = "nms_suppress_center"
	}
	return k.Helper(name, []wasm.ValueType{asm.I32, asm.I32, asm.F32}, []wasm.ValueType{asm.I32}, func(f *asm.Func) {
		pa, pb, iou := f.Param(0), f.Param(1), f.Param(2)
		var c [8]asm.Local // x0, x1, y0, y1 of a, then of b
		for i := range c {
			c[i] = f.Local(asm.F32)
		}
		t, u := f.Local(asm.F32), f.Local(asm.F32)
		for bi, p := range []asm.Local{pa, pb} {
			x0, x1, y0, y1 := c[4*bi], c[4*bi+1], c[4*bi+2], c[4*bi+3]
			if center {
				// [x_center, y_center, width, height]
				f.Get(p).F32Load(8).F32Const(2).Op(wasm.OpcodeF32Div).Set(t)
				f.Get(p).F32Load(0).Get(t).Op(wasm.OpcodeF32Sub).Set(x0)
				f.Get(p).F32Load(0).Get(t).Op(wasm.OpcodeF32Add).Set(x1)
				f.Get(p).F32Load(12).F32Const(2).Op(wasm.OpcodeF32Div).Set(t)
				f.Get(p).F32Load(4).Get(t).Op(wasm.OpcodeF32Sub).Set(y0)
				f.Get(p).F32Load(4).Get(t).Op(wasm.OpcodeF32Add).Set(y1)
				continue
			}
			// [y1, x1, y2, x2] in either order: min and max as the
			// reference's max_min (l >= r ? (r, l) : (l, r))
			for _, pr := range [][3]any{{x0, x1, [2]uint32{4, 12}}, {y0, y1, [2]uint32{0, 8}}} {
				lo, hi, off := pr[0].(asm.Local), pr[1].(asm.Local), pr[2].([2]uint32)
				f.Get(p).F32Load(off[0]).Set(t)
				f.Get(p).F32Load(off[1]).Set(u)
				f.Get(u).Get(t).Get(t).Get(u).Op(wasm.OpcodeF32Ge).Select().Set(lo)
				f.Get(t).Get(u).Get(t).Get(u).Op(wasm.OpcodeF32Ge).Select().Set(hi)
			}
		}
		i0, i1, j0, j1 := f.Local(asm.F32), f.Local(asm.F32), f.Local(asm.F32), f.Local(asm.F32)
		// Python's max(a, b) is b if b > a else a; min likewise.
		pyMax := func(a, b, dst asm.Local) {
			f.Get(b).Get(a).Get(b).Get(a).Op(wasm.OpcodeF32Gt).Select().Set(dst)
		}
		pyMin := func(a, b, dst asm.Local) {
			f.Get(b).Get(a).Get(b).Get(a).Op(wasm.OpcodeF32Lt).Select().Set(dst)
		}
		pyMax(c[0], c[4], i0)
		pyMin(c[1], c[5], i1)
		f.Get(i1).Get(i0).Op(wasm.OpcodeF32Le).If().I32Const(0).Return().End()
		pyMax(c[2], c[6], j0)
		pyMin(c[3], c[7], j1)
		f.Get(j1).Get(j0).Op(wasm.OpcodeF32Le).If().I32Const(0).Return().End()
		inter, areaA, areaB, union := f.Local(asm.F32), f.Local(asm.F32), f.Local(asm.F32), f.Local(asm.F32)
		f.Get(i1).Get(i0).Op(wasm.OpcodeF32Sub).Get(j1).Get(j0).Op(wasm.OpcodeF32Sub).Op(wasm.OpcodeF32Mul).Tee(inter)
		f.F32Const(0).Op(wasm.OpcodeF32Le).If().I32Const(0).Return().End()
		f.Get(c[1]).Get(c[0]).Op(wasm.OpcodeF32Sub).Get(c[3]).Get(c[2]).Op(wasm.OpcodeF32Sub).Op(wasm.OpcodeF32Mul).Set(areaA)
		f.Get(c[5]).Get(c[4]).Op(wasm.OpcodeF32Sub).Get(c[7]).Get(c[6]).Op(wasm.OpcodeF32Sub).Op(wasm.OpcodeF32Mul).Set(areaB)
		f.Get(areaA).Get(areaB).Op(wasm.OpcodeF32Add).Get(inter).Op(wasm.OpcodeF32Sub).Set(union)
		f.Get(areaA).F32Const(0).Op(wasm.OpcodeF32Le)
		f.Get(areaB).F32Const(0).Op(wasm.OpcodeF32Le).Op(wasm.OpcodeI32Or)
		f.Get(union).F32Const(0).Op(wasm.OpcodeF32Le).Op(wasm.OpcodeI32Or)
		f.If().I32Const(0).Return().End()
		f.Get(inter).Get(union).Op(wasm.OpcodeF32Div).Get(iou).Op(wasm.OpcodeF32Gt)
	})
}

func (k *Ctx) nms(n *ir.Node, op *ir.NonMaxSuppression) error {
	f := k.F
	boxes, scores, y := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	maxIn, iouIn, thrIn := n.In(2), n.In(3), n.In(4)
	nb, nc, nbox := scores.Type.Shape[0], scores.Type.Shape[1], scores.Type.Shape[2]
	count := y.Type.Shape[0]
	ws := uint32(k.WorkspaceAddr())
	cand, sel := ws, ws+uint32(4*nbox)
	suppress := k.nmsSuppress(op.CenterPointBox)

	maxOut, iou, thr := f.Local(asm.I32), f.Local(asm.F32), f.Local(asm.F32)
	f.I32Const(0).Set(maxOut)
	if maxIn != nil {
		m := f.Local(asm.I64)
		f.I32Const(k.Addr(maxIn)).I64Load(0).Set(m)
		// clamp to [0, boxes]: more can never be selected
		f.I64Const(0).Get(m).Get(m).I64Const(0).Op(wasm.OpcodeI64LtS).Select().Set(m)
		f.I64Const(int64(nbox)).Get(m).Get(m).I64Const(int64(nbox)).Op(wasm.OpcodeI64GtS).Select()
		f.Op(wasm.OpcodeI32WrapI64).Set(maxOut)
	}
	f.F32Const(0).Set(iou)
	if iouIn != nil {
		f.I32Const(k.Addr(iouIn)).F32Load(0).Set(iou)
	}
	if thrIn != nil {
		f.I32Const(k.Addr(thrIn)).F32Load(0).Set(thr)
	}
	b, c, i, p, q, t, nCand, nSel, total, keep, ps, pbox := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	s := f.Local(asm.F32)
	at := func(l asm.Local) { f.Get(l).I32Const(4).Op(wasm.OpcodeI32Mul) }
	boxAddr := func(idx func()) {
		f.Get(pbox)
		idx()
		f.I32Const(16).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add)
	}
	f.I32Const(0).Set(total)
	f.I32Const(k.Addr(scores)).Set(ps)
	f.Repeat(b, nb, func() {
		f.Get(b).I32Const(int32(nbox * 16)).Op(wasm.OpcodeI32Mul).I32Const(k.Addr(boxes)).Op(wasm.OpcodeI32Add).Set(pbox)
		f.Repeat(c, nc, func() {
			// candidates above the score threshold, best score first,
			// ties by lower index
			f.I32Const(0).Set(nCand)
			f.Repeat(i, nbox, func() {
				f.Get(ps).Get(i).I32Const(4).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).F32Load(0).Set(s)
				if thrIn != nil {
					f.Get(s).Get(thr).Op(wasm.OpcodeF32Gt)
				} else {
					f.I32Const(1)
				}
				f.If()
				f.Get(nCand).Set(p)
				k.insertSlot(cand, p, q, func() {
					f.Get(s).Get(ps).Get(q).I32Const(4).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).F32Load(0).Op(wasm.OpcodeF32Gt)
				})
				at(p)
				f.Get(i).I32Store(cand)
				f.AddI32(nCand, 1)
				f.End()
			})
			// greedy selection
			f.I32Const(0).Set(nSel)
			k.whileBelow(q, nCand, func(exit int) {
				f.Get(nSel).Get(maxOut).Op(wasm.OpcodeI32GeS).BrIf(uint32(f.Depth() - exit))
				at(q)
				f.I32Load(cand).Set(i)
				f.I32Const(1).Set(keep)
				k.whileBelow(t, nSel, func(exit2 int) {
					boxAddr(func() { f.Get(i) })
					boxAddr(func() { at(t); f.I32Load(sel) })
					f.Get(iou).Call(suppress)
					f.If()
					f.I32Const(0).Set(keep)
					f.Br(uint32(f.Depth() - exit2))
					f.End()
				})
				f.Get(keep).If()
				at(nSel)
				f.Get(i).I32Store(sel)
				f.AddI32(nSel, 1)
				f.Get(total).I32Const(int32(count)).Op(wasm.OpcodeI32GeS)
				k.Fail(abi.ErrShapeMismatch)
				for col, v := range []asm.Local{b, c, i} {
					f.Get(total).I32Const(24).Op(wasm.OpcodeI32Mul).Get(v).Op(wasm.OpcodeI64ExtendI32U).I64Store(uint32(k.Addr(y) + int32(8*col)))
				}
				f.AddI32(total, 1)
				f.End()
			})
			f.AddI32(ps, int32(4*nbox))
		})
	})
	f.Get(total).I32Const(int32(count)).Op(wasm.OpcodeI32Ne)
	k.Fail(abi.ErrShapeMismatch)
	return nil
}

func (k *Ctx) maxUnpool(n *ir.Node, op *ir.MaxUnpool) error {
	f := k.F
	x, idx, y := n.Inputs[0], n.Inputs[1], n.Outputs[0]
	dt := x.Type.DType
	if err := byteMovable("MaxUnpool", dt); err != nil {
		return err
	}
	if s := n.In(2); s != nil && s.Const == nil {
		if err := k.checkShape(s, y.Type.Shape...); err != nil {
			return err
		}
	}
	k.zeroValue(y)
	inf, _ := op.Inferred(x.Type.Shape)
	out := y.Type.Shape
	total := inf.Size()
	sz := int32(elemBytes(dt))
	ist, ost := inf.Strides(), out.Strides()
	px, pi, i, off, c := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
	v := f.Local(asm.I64)
	f.I32Const(k.Addr(x)).Set(px)
	f.I32Const(k.Addr(idx)).Set(pi)
	f.Counted(c, x.Type.Shape.Size(), func() {
		f.Get(pi).I64Load(0).Tee(v).I64Const(int64(total)).Op(wasm.OpcodeI64GeU)
		k.Fail(abi.ErrIndexOutOfRange)
		f.Get(v).Op(wasm.OpcodeI32WrapI64).Set(i)
		if out.Equal(inf) {
			f.Get(i).I32Const(sz).Op(wasm.OpcodeI32Mul).Set(off)
		} else {
			// the position in the unpooled shape, placed in the larger output
			f.I32Const(0).Set(off)
			for d := range inf {
				f.Get(i).I32Const(int32(ist[d])).Op(wasm.OpcodeI32DivU).I32Const(int32(inf[d])).Op(wasm.OpcodeI32RemU)
				f.I32Const(int32(ost[d]) * sz).Op(wasm.OpcodeI32Mul).Get(off).Op(wasm.OpcodeI32Add).Set(off)
			}
		}
		f.Get(off).I32Const(k.Addr(y)).Op(wasm.OpcodeI32Add).Get(px)
		k.copyElemBytes(sz)
		f.AddI32(px, sz)
		f.AddI32(pi, 8)
	})
	return nil
}

func (k *Ctx) col2imOp(n *ir.Node, op *ir.Col2Im) error {
	f := k.F
	x, img, blk, y := n.Inputs[0], n.Inputs[1], n.Inputs[2], n.Outputs[0]
	dt := x.Type.DType
	ct, err := computeType(dt)
	if err != nil {
		return err
	}
	if dt == ir.Bool {
		return ir.NotSupportedf("Col2Im of bool")
	}
	image := y.Type.Shape[2:]
	if img.Const == nil {
		if err := k.checkShape(img, image...); err != nil {
			return err
		}
	}
	blocks := op.Blocks
	if blk.Const != nil {
		blocks = [][]int{blk.Const.Ints()}
	}
	k.zeroValue(y)
	d := len(image)
	sz := int32(elemBytes(dt))
	ist := image.Strides()
	planes := y.Type.Shape[:2].Size()
	imgBytes := int32(image.Size()) * sz
	variant := func(block []int) error {
		_, nblocks, err := op.Geometry(x.Type.Shape, image, block)
		if err != nil {
			return err
		}
		px, yb, pc, addr := f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32), f.Local(asm.I32)
		a, v := f.Local(ct), f.Local(ct)
		pos := make([]asm.Local, d)
		for i := range pos {
			pos[i] = f.Local(asm.I32)
		}
		f.I32Const(k.Addr(x)).Set(px)
		f.I32Const(k.Addr(y)).Set(yb)
		var err2 error
		f.Counted(pc, planes, func() {
			// x is [plane, kernel position, block position] in memory
			// order, so px walks it linearly.
			k.indexLoops(append(append([]int{}, block...), nblocks...), func(idx []asm.Local) {
				f.I32Const(0)
				for i := 0; i < d; i++ {
					dil, st, pb, _ := op.AxisWindow(i, d)
					f.Get(idx[d+i]).I32Const(int32(st)).Op(wasm.OpcodeI32Mul).I32Const(int32(-pb)).Op(wasm.OpcodeI32Add)
					f.Get(idx[i]).I32Const(int32(dil)).Op(wasm.OpcodeI32Mul).Op(wasm.OpcodeI32Add).Tee(pos[i])
					f.I32Const(int32(image[i])).Op(wasm.OpcodeI32GeU).Op(wasm.OpcodeI32Or)
				}
				f.Op(wasm.OpcodeI32Eqz).If()
				f.Get(yb).Set(addr)
				for i := 0; i < d; i++ {
					f.Get(pos[i]).I32Const(int32(ist[i]) * sz).Op(wasm.OpcodeI32Mul).Get(addr).Op(wasm.OpcodeI32Add).Set(addr)
				}
				f.Get(addr)
				k.loadElem(dt, 0)
				f.Set(a)
				f.Get(px)
				k.loadElem(dt, 0)
				f.Set(v)
				f.Get(addr)
				if e := k.scatterCombine(dt, ir.ScatterAdd, a, v); e != nil {
					err2 = e
				}
				k.storeElem(dt, 0)
				f.End()
				f.AddI32(px, sz)
			})
			f.AddI32(yb, imgBytes)
		})
		return err2
	}
	if blk.Const != nil {
		return variant(blocks[0])
	}
	// block_shape is run-time data: it chooses.
	return k.variants(len(blocks), func(j int) {
		f.I32Const(1)
		for i, b := range blocks[j] {
			f.I32Const(k.Addr(blk)).I64Load(uint32(8 * i)).I64Const(int64(b)).Op(wasm.OpcodeI64Eq).Op(wasm.OpcodeI32And)
		}
	}, func(j int) error { return variant(blocks[j]) })
}
