package opt

import (
	"github.com/mlc-compiler/mlc/ir"
)

// prepackWeights rearranges the constant right-hand matrix of fused Conv
// (group 1) and MatMul nodes into the GEMM micro-kernel's panels
// (ir.PackB), so that no packing of weights happens at run time. The
// conditions match the packed kernels' (2-D convolutions of group 1).
//
// The module stores weights no larger than the model does: packed
// matrices whose values are all float16 (a float16 model's) are stored in
// float16, and Winograd's transformed weights (16/9 the size) are not
// stored at all; an ir.PrepareWeights node computes the float32 layout the
// kernel reads from them at run time (see stored below).
func prepackWeights(g *ir.Graph, o *Options) error {
	if !o.SIMD {
		return nil // the scalar kernels read weights as imported
	}
	var nodes []*ir.Node
	defer func() { g.Nodes = nodes }()
	for _, n := range g.Nodes {
		nodes = append(nodes, n)
		switch op := n.Op.(type) {
		case *ir.FusedConv:
			w := n.Inputs[1]
			if op.Layout != ir.WeightsPlain || op.Group != 1 || w.Const == nil || w.Type.DType != ir.Float32 || len(w.Type.Shape) != 4 {
				continue
			}
			M, K := w.Type.Shape[0], w.Type.Shape[1:].Size()
			src := w.Const.F32()
			op.WShape = w.Type.Shape.Clone()
			y := n.Outputs[0].Type.Shape
			pixels := y.Size() / max(y[1], 1) // output pixels, batch included
			if o.Tune == "v8" && winogradFits(n, op) {
				// F(2x2,3x3) does 2.25x fewer multiplies; its weights are
				// 16/9 the size, so layers whose few pixels make weight
				// bytes dominate (7x7 maps) keep the direct form.
				op.Layout, op.Plain = ir.WeightsWinograd, w.Const
				tiles := pixels / (y[2] * y[3]) * ((y[2] + 1) / 2) * ((y[3] + 1) / 2)
				n.Inputs[1] = stored(&nodes, w.Name+"_winograd", ir.WinogradSource(narrowed(w.Const)), op.Layout, tiles)
			} else if o.Tune == "v8" {
				// V8 broadcasts weights for free: they are the A side.
				op.Layout = ir.WeightsPackA
				n.Inputs[1] = stored(&nodes, w.Name+"_packed", ir.PackA(M, K, func(m, k int) float32 { return src[m*K+k] }), op.Layout, pixels)
			} else {
				op.Layout = ir.WeightsPackB
				n.Inputs[1] = stored(&nodes, w.Name+"_packed", ir.PackB(K, M, func(k, m int) float32 { return src[m*K+k] }), op.Layout, pixels)
			}
		case *ir.FusedMatMul:
			b := n.Inputs[1]
			if op.Packed || b.Const == nil {
				continue
			}
			src := b.Const.F32()
			N := op.N
			rows := n.Inputs[0].Type.Shape.Size() / max(op.K, 1)
			n.Inputs[1] = stored(&nodes, b.Name+"_packed", ir.PackB(op.K, N, func(k, j int) float32 { return src[k*N+j] }), ir.WeightsPackB, rows)
			op.Packed = true
		}
	}
	return nil
}

// stored returns the value a kernel reads for weights t in layout l (t is
// PackA or PackB float32 data, or WinogradSource data of any float dtype):
// t itself as a constant, or, when the module can store it smaller, the
// output of a PrepareWeights node (appended to nodes before the reader)
// computing it from the smaller constant.
//
// The node prepares the weights before every run of the reader (into the
// arena, so that memory holds only the stored weights) when that costs at
// most 1% of the reader's time, else once, at the first run, into a buffer
// kept for good. reuse is how many times the kernel reads each prepared
// weight: output pixels of a packed GEMM (2 flops per 4-byte weight),
// tiles of a Winograd product (2 flops per 4 bytes of U). Measured on this
// machine, preparing writes about 2 GB/s (1.6-2.0 for Winograd, 1.8-4.4
// for widening float16, on wazero and V8) while the kernels run near 30
// GFLOP/s: 1% at reuse 30/0.01 = 3000 (a 55x55 map packed, 110x110 with
// Winograd).
func stored(nodes *[]*ir.Node, name string, t *ir.Tensor, l ir.WeightLayout, reuse int) *ir.Value {
	if l != ir.WeightsWinograd {
		if !halfExact(t) {
			return ir.NewConst(name, t)
		}
		t = ir.CastTensor(t, ir.Float16, false, ir.RoundNearest)
	}
	reader := (*nodes)[len(*nodes)-1]
	src := ir.NewConst(name+"_stored", t)
	p := &ir.PrepareWeights{Layout: l, EachRun: reuse >= prepareEachRunReuse}
	types, err := p.Infer([]*ir.Value{src})
	if err != nil {
		panic(err) // the layouts above always fit
	}
	out := typedValue(name, types[0].DType, types[0].Shape)
	*nodes = append((*nodes)[:len(*nodes)-1], &ir.Node{Name: name + "/prepare", Op: p, Inputs: []*ir.Value{src}, Outputs: []*ir.Value{out}}, reader)
	return out
}

// prepareEachRunReuse is the reuse from which weights are prepared before
// every run (see stored).
const prepareEachRunReuse = 3000

// narrowed is w in float16 when that holds every value exactly.
func narrowed(w *ir.Tensor) *ir.Tensor {
	if w.DType == ir.Float32 && halfExact(w) {
		return ir.CastTensor(w, ir.Float16, false, ir.RoundNearest)
	}
	return w
}

// halfExact: every value of the float32 tensor t is a float16 value (a
// float16 model's weights, widened), NaNs aside.
func halfExact(t *ir.Tensor) bool {
	if t.DType != ir.Float32 {
		return false
	}
	for _, v := range t.F32() {
		if ir.RoundHalf(v) != v && v == v {
			return false
		}
	}
	return true
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
