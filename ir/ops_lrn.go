package ir

import (
	"fmt"
	"math"
)

// LRN is local response normalization across channels (axis 1):
// y = x / (Bias + Alpha/Size * sum of x^2 over the channel window)^Beta,
// the window running from c - floor((Size-1)/2) to c + ceil((Size-1)/2).
type LRN struct {
	Size              int
	Alpha, Beta, Bias float32
}

func (*LRN) OpType() string { return "LRN" }

// Window is the channel offsets below and above c that LRN sums.
func (l *LRN) Window() (below, above int) { return (l.Size - 1) / 2, l.Size / 2 }

func (l *LRN) Infer(in []*Value) ([]Type, error) {
	t := in[0].Type
	if !t.DType.IsFloat() {
		return nil, NotSupportedf("LRN on %s", t.DType)
	}
	if len(t.Shape) < 2 {
		return nil, fmt.Errorf("LRN needs an input of shape (N, C, ...), got %s", t.Shape)
	}
	if l.Size < 1 {
		return nil, fmt.Errorf("LRN size %d must be positive", l.Size)
	}
	return Types(t), nil
}

func (l *LRN) Eval(in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	n, c, s := x.Shape[0], x.Shape[1], x.Shape[2:].Size()
	below, above := l.Window()
	out := NewTensor(x.DType, x.Shape)
	for b := 0; b < n; b++ {
		for ch := 0; ch < c; ch++ {
			for i := 0; i < s; i++ {
				sum := 0.0
				for k := max(0, ch-below); k <= min(c-1, ch+above); k++ {
					v := x.Float((b*c+k)*s + i)
					sum += v * v
				}
				at := (b*c+ch)*s + i
				d := math.Pow(float64(l.Bias)+float64(l.Alpha)/float64(l.Size)*sum, float64(l.Beta))
				out.SetFloat(at, x.Float(at)/d)
			}
		}
	}
	return []*Tensor{out}, nil
}
