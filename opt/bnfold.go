package opt

import (
	"math"

	"github.com/mlc-compiler/mlc/ir"
)

// foldBatchNorm folds an inference BatchNormalization into the Conv that
// feeds it when the Conv's weights and every BN parameter are constant and
// nothing else reads the Conv's output: W'[m] = W[m]*s[m] and
// B'[m] = (B[m]-mean[m])*s[m] + beta[m] with s = scale/sqrt(var+eps).
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
		if w.Const == nil || w.Type.DType != ir.Float32 || x.Type.DType != ir.Float32 {
			continue
		}
		b := conv.In(2)
		if b != nil && b.Const == nil {
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
