package ir

import "fmt"

// BandedConv is a 1x1 FusedConv (Point) whose only reader is a depthwise
// FusedConv (Depth), run together in bands of rows: the 1x1 computes the
// rows the next band of depthwise outputs needs, and the depthwise layer
// reads them while they are still in cache (docs/design.md, "dwf").
// Inputs: X, Point's W and B, Depth's W and B (B may be nil); neither
// conv has a residual. The intermediate (Mid) is no value of the graph:
// codegen keeps it in the node's workspace.
type BandedConv struct {
	Point, Depth *FusedConv
	Mid          Type
}

func (b *BandedConv) OpType() string { return "BandedConv" }

func (b *BandedConv) Infer(in []*Value) ([]Type, error) {
	if b.Point.Residual || b.Depth.Residual {
		return nil, fmt.Errorf("banded Conv: no residual")
	}
	mid, err := b.Point.Infer([]*Value{in[0], in[1], getIn(in, 2)})
	if err != nil {
		return nil, err
	}
	m := &Value{Type: mid[0], typed: true}
	return b.Depth.Infer([]*Value{m, in[3], getIn(in, 4)})
}

func (b *BandedConv) Eval(in []*Tensor) ([]*Tensor, error) {
	mid, err := b.Point.Eval([]*Tensor{in[0], in[1], getT(in, 2)})
	if err != nil {
		return nil, err
	}
	return b.Depth.Eval([]*Tensor{mid[0], in[3], getT(in, 4)})
}
