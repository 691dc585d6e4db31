package opt

import "github.com/mlc-compiler/mlc/ir"

// strengthReduce turns Pow with a constant scalar float exponent of 2 into
// x*x: the same correctly rounded square, where exp(2 log|x|) costs some
// 40 operations per element (tiny_transformer's LayerNorms).
func strengthReduce(g *ir.Graph, o *Options) error {
	for _, n := range g.Nodes {
		o.visit(n)
		op, ok := n.Op.(*ir.Binary)
		if !ok || op.Fn != ir.FnPow || len(n.Inputs) != 2 {
			continue
		}
		x, e := n.Inputs[0], n.Inputs[1]
		if e.Const == nil || e.Type.Shape.Size() != 1 || !x.Type.DType.IsFloat() || e.Type.DType != x.Type.DType {
			continue
		}
		y := n.Outputs[0]
		if y == nil || !y.Type.Shape.Equal(x.Type.Shape) {
			continue // the exponent broadcasts the shape up
		}
		if e.Const.Float(0) == 2 {
			n.Op = &ir.Binary{Fn: ir.FnMul}
			n.Inputs = []*ir.Value{x, x}
		}
	}
	return nil
}
