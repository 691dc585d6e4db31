package opt

import "github.com/mlc-compiler/mlc/ir"

// widenHalf computes float16 Conv, MatMul and Gemm whose weights are
// constants in float32, as ONNX Runtime does on CPUs without float16
// arithmetic (its InsertCastTransformer): the input is cast up, the
// weights are converted at compile time and the result is rounded back to
// float16. The float32 op then takes the fused and packed kernels instead
// of the generic loops over float16 elements: imgly's float16 background
// remover (320 GFLOP in Conv) did not finish its first run in minutes.
func widenHalf(g *ir.Graph, _ *Options) error {
	nodes := make([]*ir.Node, 0, len(g.Nodes))
	for _, n := range g.Nodes {
		for _, sg := range subgraphsOf(n) {
			if err := widenHalf(sg, nil); err != nil {
				return err
			}
		}
		if !halfWithConstWeights(n) {
			nodes = append(nodes, n)
			continue
		}
		x, y := n.Inputs[0], n.Outputs[0]
		x32 := typedValue(x.Name+"/float32", ir.Float32, x.Type.Shape)
		y32 := typedValue(y.Name+"/float32", ir.Float32, y.Type.Shape)
		ins := []*ir.Value{x32}
		for _, w := range n.Inputs[1:] {
			if w != nil {
				w = ir.NewConst(w.Name+"/float32", ir.FromFloats(ir.Float32, w.Type.Shape, w.Const.Floats()))
			}
			ins = append(ins, w)
		}
		up := &ir.Node{Name: n.Name + "/widen", Op: &ir.Cast{To: ir.Float32, Saturate: true}, Inputs: []*ir.Value{x}, Outputs: []*ir.Value{x32}}
		down := &ir.Node{Name: n.Name + "/narrow", Op: &ir.Cast{To: ir.Float16, Saturate: true}, Inputs: []*ir.Value{y32}, Outputs: []*ir.Value{y}}
		n.Inputs, n.Outputs = ins, []*ir.Value{y32}
		nodes = append(nodes, up, n, down)
	}
	g.Nodes = nodes
	return nil
}

// halfWithConstWeights: a float16 Conv, MatMul or Gemm with one output
// whose every input but the first is a constant (or absent).
func halfWithConstWeights(n *ir.Node) bool {
	switch n.Op.(type) {
	case *ir.Conv, *ir.MatMul, *ir.Gemm:
	default:
		return false
	}
	if len(n.Inputs) < 2 || n.In(0) == nil || n.In(0).Type.DType != ir.Float16 || n.In(0).Const != nil ||
		len(n.Outputs) != 1 || n.Outputs[0] == nil {
		return false
	}
	for _, w := range n.Inputs[1:] {
		if w != nil && (w.Const == nil || w.Type.DType != ir.Float16) {
			return false
		}
	}
	return true
}

func typedValue(name string, dt ir.DType, shape ir.Shape) *ir.Value {
	v := &ir.Value{Name: name}
	v.SetType(ir.Type{DType: dt, Shape: shape.Clone()})
	return v
}
