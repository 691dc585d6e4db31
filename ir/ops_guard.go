package ir

import (
	"bytes"
	"fmt"
)

// CheckEqual guards a module specialized on an input's value: at run time
// input 0 (the graph input) must equal input 1 (the constant it was
// compiled with), or the run fails. It has no outputs.
type CheckEqual struct{}

func (*CheckEqual) OpType() string { return "mlc.CheckEqual" }
func (*CheckEqual) Impure()        {}
func (*CheckEqual) Effect()        {}

func (*CheckEqual) Infer(in []*Value) ([]Type, error) {
	if in[0].Type.DType != in[1].Type.DType || !in[0].Type.Shape.Equal(in[1].Type.Shape) {
		return nil, fmt.Errorf("input %s cannot be fixed to a %s value", in[0].Type, in[1].Type)
	}
	return nil, nil
}

func (*CheckEqual) Eval(in []*Tensor) ([]*Tensor, error) {
	if !bytes.Equal(in[0].Data, in[1].Data) {
		return nil, fmt.Errorf("input differs from the value the module was compiled for")
	}
	return nil, nil
}
