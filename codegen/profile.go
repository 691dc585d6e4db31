package codegen

import (
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
}

func profileNode(n *ir.Node, fn string) ProfileNode {
	p := ProfileNode{Func: fn, Op: n.Op.OpType(), FLOPs: ir.FLOPs(n), Shape: []int{}}
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
