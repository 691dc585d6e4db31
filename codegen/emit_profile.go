package codegen

import (
	"fmt"

	"github.com/tetratelabs/wabin/wasm"

	"github.com/mlc-compiler/mlc/codegen/asm"
	"github.com/mlc-compiler/mlc/ir"
)

// Profiling builds (mlc compile --profile) keep ABI v1 as it is and add an
// export and a custom section that hosts may ignore: mlc_profile_node(i)
// runs the i-th node function alone (what mlc_run does, one call at a
// time) and returns its status, -1 past the last; the "mlc.profile" section
// lists those nodes in order. A host times each call with its own clock, so
// the module needs no clock import and normal builds are unchanged.
const (
	ExportProfileNode = "mlc_profile_node"
	ProfileSection    = "mlc.profile"
)

// ProfileNode describes one entry of mlc_profile_node.
type ProfileNode struct {
	Func  string `json:"func"` // the function's name in the name section
	Op    string `json:"op"`
	Shape []int  `json:"shape"` // of the first output
	FLOPs int64  `json:"flops,omitempty"`
	// Class groups nodes by the kind of work their kernel does, for
	// per-class GFLOP/s (docs/benchmarks.md): "conv 1x1", "winograd",
	// "depthwise s2", ...
	Class string `json:"class,omitempty"`
}

func profileNode(n *ir.Node, fn string) ProfileNode {
	p := ProfileNode{Func: fn, Op: n.Op.OpType(), FLOPs: ir.FLOPs(n), Shape: []int{}, Class: LayerClass(n)}
	if len(n.Outputs) > 0 && n.Outputs[0] != nil {
		p.Shape = append(p.Shape, n.Outputs[0].Type.Shape...)
	}
	return p
}

// profileFunc dispatches on its argument with a chain of compares: a few
// nanoseconds per call, against nodes that run for microseconds.
func (md *module) profileFunc(nodes []uint32, init uint32) *asm.Func {
	f := asm.NewFunc([]wasm.ValueType{asm.I32}, []wasm.ValueType{asm.I32})
	st := f.Local(asm.I32)
	md.resetLoopBudget(f) // each node runs as if alone in a run
	f.Call(init).Tee(st).If().Get(st).Return().End()
	for i, idx := range nodes {
		f.Get(f.Param(0)).I32Const(int32(i)).Op(wasm.OpcodeI32Eq).If().Call(idx).Return().End()
	}
	f.I32Const(-1)
	return f
}

// LayerClass names the kind of work node n is, as the profiles group it:
// convolutions by kernel form (1x1, Winograd, direct kxk, dilated,
// depthwise by stride, grouped), GEMM and GEMV (at most 3 rows), pooling,
// resize, concat, elementwise, else the op type.
func LayerClass(n *ir.Node) string {
	switch op := n.Op.(type) {
	case *ir.FusedConv:
		return convClass(n, &op.Conv, op.WShape, op.Layout)
	case *ir.Conv:
		return convClass(n, op, nil, ir.WeightsPlain)
	case *ir.HeadedConv:
		// the body's class: the head's dot over the channels (its flops
		// counted in the node's) runs on the body's bands in cache
		body, _ := op.Parts(n, &ir.Value{Type: op.Mid})
		return convClass(body, &op.Body.Conv, op.Body.WShape, op.Body.Layout)
	case *ir.FusedMatMul:
		if rows := n.Inputs[0].Type.Shape.Size() / max(op.K, 1); rows <= 3 {
			return "gemv"
		}
		return "gemm"
	case *ir.MatMul, *ir.Gemm:
		return "gemm"
	case *ir.Pool, *ir.GlobalPool:
		return "pool"
	case *ir.Resize:
		return "resize"
	case *ir.Concat:
		return "concat"
	case *ir.FusedElementwise, *ir.Unary, *ir.Binary:
		return "elementwise"
	}
	return n.Op.OpType()
}

func convClass(n *ir.Node, c *ir.Conv, wshape ir.Shape, layout ir.WeightLayout) string {
	x := n.Inputs[0].Type.Shape
	if wshape == nil {
		wshape = n.Inputs[1].Type.Shape
	}
	g, err := c.Geometry(x, wshape)
	if err != nil || len(x) < 3 {
		return "conv"
	}
	dilated, strided := false, false
	for d := range g.Kernel {
		dilated = dilated || (g.Dilations[d] > 1 && g.Kernel[d] > 1)
		strided = strided || g.Strides[d] > 1
	}
	switch {
	case c.Group > 1 && c.Group == x[1] && wshape[1] == 1:
		if strided {
			return "depthwise s2+"
		}
		return "depthwise s1"
	case c.Group > 1:
		return "grouped conv"
	case layout == ir.WeightsWinograd:
		return "winograd"
	case layout == ir.WeightsWinograd4:
		return "winograd4"
	case dilated:
		return "dilated conv"
	}
	k := ""
	for d, v := range g.Kernel {
		if d > 0 {
			k += "x"
		}
		k += fmt.Sprint(v)
	}
	if k == "1x1" || k == "1" {
		return "conv 1x1"
	}
	return "conv " + k + " direct"
}
