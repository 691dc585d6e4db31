package ir

import "fmt"

// Loss functions: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss
// (LogSoftmax over axis 1, then the same loss).

// Loss reductions.
const (
	LossNone = "none"
	LossSum  = "sum"
	LossMean = "mean"
)

// NLLLoss is NegativeLogLikelihoodLoss: input (N, C, d1...) holds log
// probabilities, target (N, d1...) class indices, the optional weight (C)
// scales each class. loss = -input[n, target, d] * weight[target], 0 where
// target == IgnoreIndex (when HasIgnore); "mean" divides the sum by the sum
// of the weights applied.
type NLLLoss struct {
	Reduction   string
	IgnoreIndex int64
	HasIgnore   bool
}

func (*NLLLoss) OpType() string { return "NegativeLogLikelihoodLoss" }

// lossTypes checks the operands and returns the loss type.
func (l *NLLLoss) lossTypes(in []*Value) (Type, error) {
	if getIn(in, 1) == nil {
		return Type{}, fmt.Errorf("%s needs input and target", l.OpType())
	}
	x, t := in[0].Type, in[1].Type
	if !x.DType.IsFloat() {
		return Type{}, NotSupportedf("%s on %s", l.OpType(), x.DType)
	}
	if t.DType != Int32 && t.DType != Int64 {
		return Type{}, fmt.Errorf("target must be int32 or int64, got %s", t.DType)
	}
	if len(x.Shape) < 2 {
		return Type{}, fmt.Errorf("input must have shape (N, C, ...), got %s", x.Shape)
	}
	want := append(Shape{x.Shape[0]}, x.Shape[2:]...)
	if !t.Shape.Equal(want) {
		return Type{}, fmt.Errorf("target shape %s does not match input %s (want %s)", t.Shape, x.Shape, want)
	}
	if w := getIn(in, 2); w != nil {
		if w.Type.DType != x.DType || !w.Type.Shape.Equal(Shape{x.Shape[1]}) {
			return Type{}, fmt.Errorf("weight must be %s[%d], got %s", x.DType, x.Shape[1], w.Type)
		}
	}
	switch l.Reduction {
	case LossNone:
		return Type{x.DType, t.Shape.Clone()}, nil
	case LossSum, LossMean:
		return Type{x.DType, Shape{}}, nil
	}
	return Type{}, NotSupportedf("reduction %q", l.Reduction)
}

func (l *NLLLoss) Infer(in []*Value) ([]Type, error) {
	t, err := l.lossTypes(in)
	if err != nil {
		return nil, err
	}
	return Types(t), nil
}

func (l *NLLLoss) Eval(in []*Tensor) ([]*Tensor, error) {
	out, err := l.eval(in[0], in[1], getT(in, 2))
	if err != nil {
		return nil, err
	}
	return []*Tensor{out}, nil
}

func (l *NLLLoss) eval(x, target, weight *Tensor) (*Tensor, error) {
	n, c, d := x.Shape[0], x.Shape[1], x.Shape[2:].Size()
	var losses []float64
	sumL, sumW := 0.0, 0.0
	for b := 0; b < n; b++ {
		for i := 0; i < d; i++ {
			t := target.Int(b*d + i)
			loss, w := 0.0, 0.0
			if !l.HasIgnore || t != l.IgnoreIndex {
				if t < 0 || t >= int64(c) {
					return nil, fmt.Errorf("target %d is out of range [0, %d)", t, c)
				}
				w = 1
				if weight != nil {
					w = weight.Float(int(t))
				}
				loss = -x.Float((b*c+int(t))*d+i) * w
			}
			losses = append(losses, loss)
			sumL += loss
			sumW += w
		}
	}
	switch l.Reduction {
	case LossNone:
		return FromFloats(x.DType, target.Shape.Clone(), losses), nil
	case LossSum:
		return FromFloats(x.DType, Shape{}, []float64{sumL}), nil
	}
	return FromFloats(x.DType, Shape{}, []float64{sumL / sumW}), nil
}

// SoftmaxCrossEntropyLoss is NLLLoss of LogSoftmax(scores, axis 1); its
// second output is those log probabilities.
type SoftmaxCrossEntropyLoss struct{ NLLLoss }

func (*SoftmaxCrossEntropyLoss) OpType() string { return "SoftmaxCrossEntropyLoss" }

func (s *SoftmaxCrossEntropyLoss) Infer(in []*Value) ([]Type, error) {
	t, err := s.lossTypes(in)
	if err != nil {
		return nil, err
	}
	return Types(t, in[0].Type), nil
}

func (s *SoftmaxCrossEntropyLoss) Eval(in []*Tensor) ([]*Tensor, error) {
	lp, err := (&Softmax{Kind: KindLogSoftmax, Axis: 1}).Eval(in[:1])
	if err != nil {
		return nil, err
	}
	out, err := s.eval(lp[0], in[1], getT(in, 2))
	if err != nil {
		return nil, err
	}
	return []*Tensor{out, lp[0]}, nil
}
