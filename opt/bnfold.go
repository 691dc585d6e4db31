package opt

import (
	"math"

	"github.com/mlc-compiler/mlc/ir"
)

// foldBatchNorm folds an inference BatchNormalization into the Conv that
// feeds it when the Conv's weights and every BN parameter are constant and
// nothing else reads the Conv's output: W'[m] = W[m]*s[m] and
// B'[m] = (B[m]-mean[m])*s[m] + beta[m] with s = scale/sqrt(var+eps).
//
// float16 Conv and BN fold too (unless Options.FP16 is FP16Exact, where
// the BN rounds the Conv's float16 result), as ONNX Runtime's ConvBNFusion
// does before it moves the graph to float32: into float16 weights, each
// step of the formula rounded to float16 (var+eps, its square root, s, W*s,
// and B-mean, times s, plus beta). The weights that ONNX Runtime computes
// with are those, and a float16 model's output differs visibly from one
// computed with the unrounded product (unet_1024_fp16: 40% of the
// elements off by more than rtol 1e-3).
func foldBatchNorm(g *ir.Graph, o *Options) error {
	uses := g.Uses()
	outputs := outputSet(g)
	prod := g.Producers()
	drop := map[*ir.Node]bool{}
	for _, bn := range g.Nodes {
		o.visit(bn)
		op, ok := bn.Op.(*ir.BatchNorm)
		if !ok || !allConstFrom(bn.Inputs[1:5]) {
			continue
		}
		x := bn.Inputs[0]
		conv := prod[x]
		if conv == nil || len(uses[x]) != 1 || outputs[x] {
			continue
		}
		if _, ok := conv.Op.(*ir.Conv); !ok {
			continue
		}
		w := conv.Inputs[1]
		if w.Const == nil || w.Type.DType != x.Type.DType {
			continue
		}
		b := conv.In(2)
		if b != nil && (b.Const == nil || b.Type.DType != x.Type.DType) {
			continue
		}
		if x.Type.DType == ir.Float16 && (o == nil || o.FP16 != FP16Exact) && sameDType(bn.Inputs[1:5], ir.Float16) {
			foldBatchNormHalf(conv, bn, op.Epsilon)
			drop[bn] = true
			continue
		}
		if x.Type.DType != ir.Float32 {
			continue
		}
		M := w.Type.Shape[0]
		per := w.Type.Shape[1:].Size()
		scale, beta, mean, vr := bn.Inputs[1].Const.Floats(), bn.Inputs[2].Const.Floats(), bn.Inputs[3].Const.Floats(), bn.Inputs[4].Const.Floats()
		nw := ir.NewTensor(ir.Float32, w.Type.Shape)
		nb := ir.NewTensor(ir.Float32, ir.Shape{M})
		ws, nws, nbs := w.Const.F32(), nw.F32(), nb.F32()
		for m := 0; m < M; m++ {
			s := scale[m] / math.Sqrt(vr[m]+float64(op.Epsilon))
			for i := 0; i < per; i++ {
				nws[m*per+i] = float32(float64(ws[m*per+i]) * s)
			}
			bias := 0.0
			if b != nil {
				bias = b.Const.Float(m)
			}
			nbs[m] = float32((bias-mean[m])*s + beta[m])
		}
		conv.Inputs = []*ir.Value{conv.Inputs[0], ir.NewConst(w.Name+"_bn", nw), ir.NewConst(bn.Outputs[0].Name+"_bias", nb)}
		conv.Outputs[0] = bn.Outputs[0]
		drop[bn] = true
	}
	kept := g.Nodes[:0]
	for _, n := range g.Nodes {
		if !drop[n] {
			kept = append(kept, n)
		}
	}
	g.Nodes = kept
	return nil
}

func allConstFrom(vs []*ir.Value) bool {
	for _, v := range vs {
		if v == nil || v.Const == nil {
			return false
		}
	}
	return true
}

func sameDType(vs []*ir.Value, dt ir.DType) bool {
	for _, v := range vs {
		if v.Type.DType != dt {
			return false
		}
	}
	return true
}

// foldBatchNormHalf folds in float16 as ONNX Runtime's ConvBNFusion does:
// each operation in float32 on float16 operands, rounded to float16.
func foldBatchNormHalf(conv, bn *ir.Node, eps float32) {
	h := ir.RoundHalf
	f := func(v *ir.Value) []float32 { return ir.CastTensor(v.Const, ir.Float32, false, ir.RoundNearest).F32() }
	w := conv.Inputs[1]
	scale, beta, mean, vr := f(bn.Inputs[1]), f(bn.Inputs[2]), f(bn.Inputs[3]), f(bn.Inputs[4])
	ws := f(w)
	M := w.Type.Shape[0]
	per := w.Type.Shape[1:].Size()
	nw := make([]float64, len(ws))
	nb := make([]float64, M)
	var bias []float32
	if b := conv.In(2); b != nil {
		bias = f(b)
	}
	for m := 0; m < M; m++ {
		sd := h(float32(math.Sqrt(float64(h(vr[m] + eps)))))
		s := h(scale[m] / sd)
		for i := 0; i < per; i++ {
			nw[m*per+i] = float64(h(ws[m*per+i] * s))
		}
		if bias != nil {
			nb[m] = float64(h(h(h(bias[m]-mean[m])*s) + beta[m]))
		} else {
			nb[m] = float64(h(beta[m] - h(mean[m]*s)))
		}
	}
	conv.Inputs = []*ir.Value{conv.Inputs[0],
		ir.NewConst(w.Name+"_bn", ir.FromFloats(ir.Float16, w.Type.Shape, nw)),
		ir.NewConst(bn.Outputs[0].Name+"_bias", ir.FromFloats(ir.Float16, ir.Shape{M}, nb))}
	conv.Outputs[0] = bn.Outputs[0]
}
