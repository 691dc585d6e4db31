package quant

import (
	"fmt"
	"math"
	"slices"

	"github.com/mlc-compiler/mlc/ir"
)

// cloneGraph copies g's nodes and values (constants and ops are shared:
// passes replace them rather than change them; ops with subgraphs are
// copied with their subgraphs, whose captures must read the copy's
// values), so that one prepared graph can be compiled several times; vmap
// maps g's values to the copy's.
func cloneGraph(g *ir.Graph) (*ir.Graph, map[*ir.Value]*ir.Value) {
	vmap := map[*ir.Value]*ir.Value{}
	return cloneInto(g, vmap), vmap
}

func cloneInto(g *ir.Graph, vmap map[*ir.Value]*ir.Value) *ir.Graph {
	get := func(v *ir.Value) *ir.Value {
		if v == nil || v.Const != nil {
			return v
		}
		if c, ok := vmap[v]; ok {
			return c
		}
		c := &ir.Value{Name: v.Name}
		c.SetType(v.Type)
		vmap[v] = c
		return c
	}
	c := &ir.Graph{Name: g.Name}
	for _, v := range g.Inputs {
		c.Inputs = append(c.Inputs, get(v))
	}
	for _, n := range g.Nodes {
		m := &ir.Node{Name: n.Name, Op: cloneOp(n.Op, vmap)}
		for _, v := range n.Inputs {
			m.Inputs = append(m.Inputs, get(v))
		}
		for _, v := range n.Outputs {
			m.Outputs = append(m.Outputs, get(v))
		}
		c.Nodes = append(c.Nodes, m)
	}
	for _, v := range g.Outputs {
		c.Outputs = append(c.Outputs, get(v))
	}
	return c
}

// cloneOp copies the control-flow ops with their subgraphs; other ops are
// shared.
func cloneOp(op ir.Op, vmap map[*ir.Value]*ir.Value) ir.Op {
	sub := func(g *ir.Graph) *ir.Graph {
		if g == nil {
			return nil
		}
		return cloneInto(g, vmap)
	}
	switch o := op.(type) {
	case *ir.If:
		c := *o
		c.Then, c.Else = sub(o.Then), sub(o.Else)
		return &c
	case *ir.Loop:
		c := *o
		c.Body = sub(o.Body)
		return &c
	case *ir.Scan:
		c := *o
		c.Body = sub(o.Body)
		return &c
	}
	return op
}

// checkGraph rejects what the quantizer does not handle: control-flow ops
// other than If, Loop and Scan (cloneOp copies those; their subgraphs stay
// float).
func checkGraph(g *ir.Graph) error {
	for _, n := range g.Nodes {
		if _, ok := n.Op.(ir.Subgrapher); ok && cloneOp(n.Op, map[*ir.Value]*ir.Value{}) == n.Op {
			return ir.Unsupportedf(n, "quantizing a model with %s", n.Op.OpType())
		}
	}
	return nil
}

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
