package opt

import (
	"github.com/mlc-compiler/mlc/ir"
)

// prepackWeights rearranges the constant right-hand matrix of fused Conv
// (group 1) and MatMul nodes into the GEMM micro-kernel's panels
// (ir.PackB), so that no packing of weights happens at run time. The
// conditions match the packed kernels' (2-D convolutions of group 1).
func prepackWeights(g *ir.Graph, o *Options) error {
	if !o.SIMD {
		return nil // the scalar kernels read weights as imported
	}
	for _, n := range g.Nodes {
		switch op := n.Op.(type) {
		case *ir.FusedConv:
			w := n.Inputs[1]
			if op.Layout != ir.WeightsPlain || op.Group != 1 || w.Const == nil || w.Type.DType != ir.Float32 || len(w.Type.Shape) != 4 {
				continue
			}
			M, K := w.Type.Shape[0], w.Type.Shape[1:].Size()
			src := w.Const.F32()
			op.WShape = w.Type.Shape.Clone()
			if weightsAsA(o.Tune) && winogradFits(n, op) {
				// F(2x2,3x3) does 2.25x fewer multiplies; its weights are
				// 16/9 the size, so layers whose few pixels make weight
				// bytes dominate (7x7 maps) keep the direct form.
				n.Inputs[1] = ir.NewConst(w.Name+"_winograd", ir.WinogradU(w.Const))
				op.Layout, op.Plain = ir.WeightsWinograd, w.Const
			} else if weightsAsA(o.Tune) {
				// The weights are the broadcast (A) side: V8 broadcasts
				// them for free, the portable shape expands a panel at a
				// time at run time.
				n.Inputs[1] = ir.NewConst(w.Name+"_packed", ir.PackA(M, K, func(m, k int) float32 { return src[m*K+k] }))
				op.Layout = ir.WeightsPackA
			} else {
				n.Inputs[1] = ir.NewConst(w.Name+"_packed", ir.PackB(K, M, func(k, m int) float32 { return src[m*K+k] }))
				op.Layout = ir.WeightsPackB
			}
		case *ir.FusedMatMul:
			b := n.Inputs[1]
			if op.Packed || b.Const == nil {
				continue
			}
			src := b.Const.F32()
			N := op.N
			n.Inputs[1] = ir.NewConst(b.Name+"_packed", ir.PackB(op.K, N, func(k, j int) float32 { return src[k*N+j] }))
			op.Packed = true
		}
	}
	return nil
}

// winogradFits: a 3x3, stride 1, dilation 1 convolution with at least 12x12
// outputs and 8 input channels.
func winogradFits(n *ir.Node, op *ir.FusedConv) bool {
	x, w := n.Inputs[0].Type.Shape, n.Inputs[1].Type.Shape
	if len(w) != 4 || w[2] != 3 || w[3] != 3 || x[1] < 8 {
		return false
	}
	g, err := op.Geometry(x, w)
	if err != nil {
		return false
	}
	for d := 0; d < 2; d++ {
		if g.Strides[d] != 1 || g.Dilations[d] != 1 {
			return false
		}
	}
	return g.Out[0]*g.Out[1] >= 144
}

// weightsAsA tells whether the tune (codegen's) makes convolution weights
// the GEMM's A side, packed in 4-row panels: v8 and portable (the default,
// ""), not wazero or generic.
func weightsAsA(tune string) bool { return tune == "v8" || tune == "portable" || tune == "" }
