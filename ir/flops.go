package ir

// FLOPs counts the floating-point operations of a node's arithmetic core
// (a multiply-add is two): convolutions and matrix products, the figure
// benchmarks divide by time to give GFLOP/s. Other ops count as 0.
func FLOPs(n *Node) int64 {
	out := n.Outputs
	if len(out) == 0 || out[0] == nil || !out[0].Typed() {
		return 0
	}
	y := out[0].Type.Shape
	switch op := n.Op.(type) {
	case *Conv:
		w := n.Inputs[1].Type.Shape
		// every output element sums C/group * prod(kernel) products
		return 2 * int64(y.Size()) * int64(w[1:].Size())
	case *FusedConv:
		return 2 * int64(y.Size()) * int64(op.weightShape(n.Inputs[1])[1:].Size())
	case *HeadedConv:
		body, head := op.Parts(n, &Value{Type: op.Mid, typed: true})
		return FLOPs(body) + FLOPs(head)
	case *FusedMatMul:
		return 2 * int64(y.Size()) * int64(op.K)
	case *Gemm:
		_, k, _, err := op.Dims(n.Inputs[0].Type.Shape, n.Inputs[1].Type.Shape)
		if err != nil {
			return 0
		}
		return 2 * int64(y.Size()) * int64(k)
	case *MatMul:
		_, _, k, _, _, err := MatMulShapes(n.Inputs[0].Type.Shape, n.Inputs[1].Type.Shape)
		if err != nil {
			return 0
		}
		return 2 * int64(y.Size()) * int64(k)
	}
	return 0
}

// GraphFLOPs sums FLOPs over g's nodes.
func GraphFLOPs(g *Graph) int64 {
	var t int64
	g.Walk(func(n *Node) { t += FLOPs(n) })
	return t
}
