package ir

import "fmt"

// HeadedConv is a FusedConv (Body) whose only reader is a 1x1 FusedConv
// to few output channels (Head: a dot over the body's channels per
// pixel), run as one node: the head is computed on each band of the
// body's output while that band is in cache, so the body's output is
// never written whole (docs/design.md, "head"). Inputs: X, Body's W and
// B, Head's W and B (either B may be nil); neither conv has a residual.
// The intermediate (Mid) is no value of the graph: code generation keeps
// one band of it in the node's workspace.
type HeadedConv struct {
	Body, Head *FusedConv
	Mid        Type
}

func (h *HeadedConv) OpType() string { return "HeadedConv" }

// Parts are n's two convs as nodes of their own, the intermediate at mid:
// what the kernel, the flop count and the profile's class see.
func (h *HeadedConv) Parts(n *Node, mid *Value) (body, head *Node) {
	body = &Node{Name: n.Name, Op: h.Body, Inputs: []*Value{n.Inputs[0], n.Inputs[1], n.In(2)}, Outputs: []*Value{mid}}
	head = &Node{Name: n.Name, Op: h.Head, Inputs: []*Value{mid, n.Inputs[3], n.In(4)}, Outputs: n.Outputs}
	return body, head
}

func (h *HeadedConv) Infer(in []*Value) ([]Type, error) {
	if h.Body.Residual || h.Head.Residual {
		return nil, fmt.Errorf("headed Conv: no residual")
	}
	mid, err := h.Body.Infer([]*Value{in[0], in[1], getIn(in, 2)})
	if err != nil {
		return nil, err
	}
	m := &Value{Type: mid[0], typed: true}
	return h.Head.Infer([]*Value{m, in[3], getIn(in, 4)})
}

func (h *HeadedConv) Eval(in []*Tensor) ([]*Tensor, error) {
	mid, err := h.Body.Eval([]*Tensor{in[0], in[1], getT(in, 2)})
	if err != nil {
		return nil, err
	}
	return h.Head.Eval([]*Tensor{mid[0], in[3], getT(in, 4)})
}
