package quant

import (
	"fmt"
	"math"
	"slices"

	"github.com/mlc-compiler/mlc/ir"
)

// foldBatchNorm merges BatchNormalization into the Conv before it (when the
// BatchNormalization is the convolution's only reader and its parameters
// are constant), so that the per-channel weight scales absorb it and no
// float op remains between a convolution and its activation.
func foldBatchNorm(g *ir.Graph) error {
	uses := g.Uses()
	prod := g.Producers()
	outs := map[*ir.Value]bool{}
	for _, v := range g.Outputs {
		outs[v] = true
	}
	var drop []*ir.Node
	for _, bn := range g.Nodes {
		op, ok := bn.Op.(*ir.BatchNorm)
		if !ok || len(bn.Outputs) != 1 {
			continue
		}
		x := bn.In(0)
		conv := prod[x]
		if conv == nil || len(uses[x]) != 1 || outs[x] {
			continue
		}
		if _, ok := conv.Op.(*ir.Conv); !ok || x.Type.DType != ir.Float32 {
			continue
		}
		w := conv.In(1)
		if w == nil || w.Const == nil || conv.In(2) != nil && conv.In(2).Const == nil {
			continue
		}
		params := make([][]float64, 4)
		okp := true
		for i := range params {
			p := bn.In(i + 1)
			if p == nil || p.Const == nil || p.Type.Shape.Size() != w.Type.Shape[0] {
				okp = false
				break
			}
			params[i] = p.Const.Floats()
		}
		if !okp {
			continue
		}
		scale, bias, mean, vr := params[0], params[1], params[2], params[3]
		M := w.Type.Shape[0]
		per := w.Type.Shape.Size() / M
		nw := ir.NewTensor(ir.Float32, w.Type.Shape)
		nb := ir.NewTensor(ir.Float32, ir.Shape{M})
		wf := w.Const.Floats()
		for m := 0; m < M; m++ {
			k := scale[m] / math.Sqrt(vr[m]+float64(op.Epsilon))
			for i := m * per; i < (m+1)*per; i++ {
				nw.F32()[i] = float32(wf[i] * k)
			}
			b := 0.0
			if conv.In(2) != nil {
				b = conv.In(2).Const.Float(m)
			}
			nb.F32()[m] = float32((b-mean[m])*k + bias[m])
		}
		conv.Inputs = append(slices.Clone(conv.Inputs[:1]), ir.NewConst(w.Name+"/bn", nw), ir.NewConst(bn.Name+"/bias", nb))
		conv.Outputs[0] = bn.Outputs[0]
		drop = append(drop, bn)
	}
	g.Nodes = slices.DeleteFunc(g.Nodes, func(n *ir.Node) bool { return slices.Contains(drop, n) })
	return ir.InferGraph(g)
}

// replaceReads makes every node of g except skip read new instead of old.
func replaceReads(g *ir.Graph, old, new *ir.Value, skip *ir.Node) {
	for _, n := range g.Nodes {
		if n == skip {
			continue
		}
		for i, v := range n.Inputs {
			if v == old {
				n.Inputs[i] = new
			}
		}
	}
}

// insertAfterProducer puts nodes right after the node producing v, or
// first when v is a graph input.
func insertAfterProducer(g *ir.Graph, v *ir.Value, nodes ...*ir.Node) {
	at := 0
	for i, n := range g.Nodes {
		if slices.Contains(n.Outputs, v) {
			at = i + 1
			break
		}
	}
	g.Nodes = slices.Insert(g.Nodes, at, nodes...)
}

func typed(n *ir.Node) (*ir.Node, error) {
	if err := ir.InferNode(n); err != nil {
		return nil, fmt.Errorf("quantizer: %w", err)
	}
	return n, nil
}
