package ir

import (
	"fmt"
	"math"
)

// Matrix products and the normalizations built on channel/axis statistics.

// Gemm is Y = Alpha*op(A)*op(B) + Beta*C with C broadcast to [M,N].
type Gemm struct {
	Alpha, Beta    float32
	TransA, TransB bool
}

func (*Gemm) OpType() string { return "Gemm" }

// Dims returns M, K, N for the given A and B shapes.
func (g *Gemm) Dims(a, b Shape) (m, k, n int, err error) {
	if len(a) != 2 || len(b) != 2 {
		return 0, 0, 0, fmt.Errorf("Gemm needs 2-D A and B, got %s and %s", a, b)
	}
	m, k = a[0], a[1]
	if g.TransA {
		m, k = k, m
	}
	kb, n := b[0], b[1]
	if g.TransB {
		kb, n = n, kb
	}
	if k != kb {
		return 0, 0, 0, fmt.Errorf("Gemm inner dimensions differ: A %s, B %s (transA=%v transB=%v)", a, b, g.TransA, g.TransB)
	}
	return m, k, n, nil
}

func (g *Gemm) Infer(in []*Value) ([]Type, error) {
	if err := SameType(in, 0, 1, 2); err != nil {
		return nil, err
	}
	m, _, n, err := g.Dims(in[0].Type.Shape, in[1].Type.Shape)
	if err != nil {
		return nil, err
	}
	if c := getIn(in, 2); c != nil {
		if _, err := BroadcastShapes(c.Type.Shape, Shape{m, n}); err != nil || len(c.Type.Shape) > 2 {
			return nil, fmt.Errorf("Gemm C %s does not broadcast to [%d,%d]", c.Type.Shape, m, n)
		}
	}
	return Types(Type{in[0].Type.DType, Shape{m, n}}), nil
}

func (g *Gemm) Eval(in []*Tensor) ([]*Tensor, error) {
	a, b, c := in[0], in[1], getT(in, 2)
	M, K, N, err := g.Dims(a.Shape, b.Shape)
	if err != nil {
		return nil, err
	}
	av, bv := a.Floats(), b.Floats()
	out := make([]float64, M*N)
	var cs []int
	var cv []float64
	if c != nil {
		cs = BroadcastStrides(c.Shape, Shape{M, N})
		cv = c.Floats()
	}
	for i := 0; i < M; i++ {
		for j := 0; j < N; j++ {
			acc := 0.0
			for k := 0; k < K; k++ {
				var x, y float64
				if g.TransA {
					x = av[k*M+i]
				} else {
					x = av[i*K+k]
				}
				if g.TransB {
					y = bv[j*K+k]
				} else {
					y = bv[k*N+j]
				}
				acc += x * y
			}
			acc *= float64(g.Alpha)
			if c != nil && g.Beta != 0 {
				acc += float64(g.Beta) * cv[i*cs[0]+j*cs[1]]
			}
			out[i*N+j] = acc
		}
	}
	return []*Tensor{FromFloats(a.DType, Shape{M, N}, out)}, nil
}

// MatMul is numpy matmul: batch dims broadcast, 1-D operands are promoted.
type MatMul struct{}

func (*MatMul) OpType() string { return "MatMul" }

// MatMulShapes returns the broadcast batch shape, M, K, N and the output shape.
func MatMulShapes(a, b Shape) (batch Shape, m, k, n int, out Shape, err error) {
	if len(a) == 0 || len(b) == 0 {
		return nil, 0, 0, 0, nil, fmt.Errorf("MatMul operands must have rank >= 1, got %s and %s", a, b)
	}
	aa, bb := a, b
	if len(a) == 1 {
		aa = Shape{1, a[0]}
	}
	if len(b) == 1 {
		bb = Shape{b[0], 1}
	}
	m, k = aa[len(aa)-2], aa[len(aa)-1]
	kb := bb[len(bb)-2]
	n = bb[len(bb)-1]
	if k != kb {
		return nil, 0, 0, 0, nil, fmt.Errorf("MatMul inner dimensions differ: %s and %s", a, b)
	}
	batch, err = BroadcastShapes(aa[:len(aa)-2], bb[:len(bb)-2])
	if err != nil {
		return nil, 0, 0, 0, nil, err
	}
	out = batch.Clone()
	if len(a) > 1 {
		out = append(out, m)
	}
	if len(b) > 1 {
		out = append(out, n)
	}
	return batch, m, k, n, out, nil
}

func (*MatMul) Infer(in []*Value) ([]Type, error) {
	if err := SameType(in, 0, 1); err != nil {
		return nil, err
	}
	_, _, _, _, out, err := MatMulShapes(in[0].Type.Shape, in[1].Type.Shape)
	return Types(Type{in[0].Type.DType, out}), err
}

func (*MatMul) Eval(in []*Tensor) ([]*Tensor, error) {
	a, b := in[0], in[1]
	batch, M, K, N, outShape, err := MatMulShapes(a.Shape, b.Shape)
	if err != nil {
		return nil, err
	}
	as, bs := a.Shape, b.Shape
	if len(as) == 1 {
		as = Shape{1, as[0]}
	}
	if len(bs) == 1 {
		bs = Shape{bs[0], 1}
	}
	aStr := BroadcastStrides(as[:len(as)-2], batch)
	bStr := BroadcastStrides(bs[:len(bs)-2], batch)
	av, bv := a.Floats(), b.Floats()
	out := make([]float64, outShape.Size())
	if !a.DType.IsFloat() {
		// Integer matmul must not lose precision through float64 rounding.
		outT := NewTensor(a.DType, outShape)
		ForEachIndex(batch, [][]int{aStr, bStr}, func(o int, offs []int) {
			for i := 0; i < M; i++ {
				for j := 0; j < N; j++ {
					var acc int64
					for k := 0; k < K; k++ {
						acc += a.Int(offs[0]*M*K+i*K+k) * b.Int(offs[1]*K*N+k*N+j)
					}
					outT.SetInt(o*M*N+i*N+j, acc)
				}
			}
		})
		return []*Tensor{outT}, nil
	}
	ForEachIndex(batch, [][]int{aStr, bStr}, func(o int, offs []int) {
		ab, bb := av[offs[0]*M*K:], bv[offs[1]*K*N:]
		ob := out[o*M*N:]
		for i := 0; i < M; i++ {
			for j := 0; j < N; j++ {
				acc := 0.0
				for k := 0; k < K; k++ {
					acc += ab[i*K+k] * bb[k*N+j]
				}
				ob[i*N+j] = acc
			}
		}
	})
	return []*Tensor{FromFloats(a.DType, outShape, out)}, nil
}

// SoftmaxKind selects Softmax, LogSoftmax or Hardmax.
type SoftmaxKind string

const (
	KindSoftmax    SoftmaxKind = "Softmax"
	KindLogSoftmax SoftmaxKind = "LogSoftmax"
	KindHardmax    SoftmaxKind = "Hardmax"
)

// Softmax normalizes along one axis (opset 13 semantics; the frontend
// rewrites the older flatten-to-2-D semantics into Flatten/Softmax/Reshape).
type Softmax struct {
	Kind SoftmaxKind
	Axis int
}

func (s *Softmax) OpType() string { return string(s.Kind) }

func (s *Softmax) Infer(in []*Value) ([]Type, error) {
	t := in[0].Type
	if !t.DType.IsFloat() {
		return nil, NotSupportedf("%s on %s", s.Kind, t.DType)
	}
	if _, err := NormAxis(s.Axis, len(t.Shape)); err != nil {
		return nil, err
	}
	return Types(t), nil
}

func (s *Softmax) Eval(in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	axis, err := NormAxis(s.Axis, len(x.Shape))
	if err != nil {
		return nil, err
	}
	outer, n, inner := x.Shape[:axis].Size(), x.Shape[axis], x.Shape[axis+1:].Size()
	xs := x.Floats()
	out := make([]float64, len(xs))
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			at := func(j int) int { return (o*n+j)*inner + i }
			mx, arg := math.Inf(-1), 0
			for j := 0; j < n; j++ {
				if v := xs[at(j)]; v > mx {
					mx, arg = v, j
				}
			}
			switch s.Kind {
			case KindHardmax:
				out[at(arg)] = 1
			default:
				sum := 0.0
				for j := 0; j < n; j++ {
					sum += math.Exp(xs[at(j)] - mx)
				}
				for j := 0; j < n; j++ {
					if s.Kind == KindSoftmax {
						out[at(j)] = math.Exp(xs[at(j)]-mx) / sum
					} else {
						out[at(j)] = xs[at(j)] - mx - math.Log(sum)
					}
				}
			}
		}
	}
	return []*Tensor{FromFloats(x.DType, x.Shape, out)}, nil
}

// BatchNorm is BatchNormalization in inference mode:
// Y = (X - mean) / sqrt(var + Epsilon) * scale + B, per channel (axis 1).
type BatchNorm struct{ Epsilon float32 }

func (*BatchNorm) OpType() string { return "BatchNormalization" }

func (*BatchNorm) Infer(in []*Value) ([]Type, error) {
	x := in[0].Type
	if len(x.Shape) < 2 {
		return nil, fmt.Errorf("BatchNormalization needs rank >= 2, got %s", x.Shape)
	}
	for i := 1; i < 5; i++ {
		if s := in[i].Type.Shape; len(s) != 1 || s[0] != x.Shape[1] {
			return nil, fmt.Errorf("BatchNormalization input %d has shape %s, want [%d]", i, s, x.Shape[1])
		}
	}
	if !x.DType.IsFloat() {
		return nil, NotSupportedf("BatchNormalization on %s", x.DType)
	}
	return Types(x), nil
}

func (b *BatchNorm) Eval(in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	scale, bias, mean, vr := in[1].Floats(), in[2].Floats(), in[3].Floats(), in[4].Floats()
	C := x.Shape[1]
	inner := x.Shape[2:].Size()
	xs := x.Floats()
	out := make([]float64, len(xs))
	for i := range xs {
		c := (i / inner) % C
		out[i] = (xs[i]-mean[c])/math.Sqrt(vr[c]+float64(b.Epsilon))*scale[c] + bias[c]
	}
	return []*Tensor{FromFloats(x.DType, x.Shape, out)}, nil
}
