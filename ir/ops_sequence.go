package ir

import "fmt"

// Sequences and optionals are resolved by the frontend into lists of
// tensor values; what remains at run time is this check.

// CheckSplit guards SplitToSequence with run-time 1-D split sizes when only
// the number of parts is used: the run fails unless every size is
// non-negative and they add up to Dim, as ONNX requires. It has no outputs.
type CheckSplit struct{ Dim int }

func (*CheckSplit) OpType() string { return "mlc.CheckSplit" }
func (*CheckSplit) Impure()        {}
func (*CheckSplit) Effect()        {}

func (*CheckSplit) Infer(in []*Value) ([]Type, error) {
	if t := in[0].Type; !t.DType.IsInt() || len(t.Shape) != 1 {
		return nil, fmt.Errorf("split sizes must be a 1-D integer tensor, got %s", t)
	}
	return nil, nil
}

func (c *CheckSplit) Eval(in []*Tensor) ([]*Tensor, error) {
	var sum int64
	for i := range in[0].Len() {
		v := in[0].Int(i)
		if v < 0 || v > int64(c.Dim) {
			return nil, fmt.Errorf("split size %d is out of range [0, %d]", v, c.Dim)
		}
		sum += v
	}
	if sum != int64(c.Dim) {
		return nil, fmt.Errorf("split sizes add up to %d, the dimension is %d", sum, c.Dim)
	}
	return nil, nil
}
