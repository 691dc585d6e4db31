package ir

import (
	"fmt"
	"math"
	"strings"
)

// Fused operators made by the optimizer (never imported): a convolution or
// matrix product followed, in its kernel's epilogue, by a residual addition
// and elementwise activations, with the constant right-hand matrix possibly
// prepacked for the GEMM micro-kernel.

// Activation is one elementwise step of an epilogue: a unary function, or a
// clamp to constant bounds (Clip).
type Activation struct {
	Unary  *Unary // nil for a clamp
	Lo, Hi float32
}

func (a Activation) String() string {
	if a.Unary != nil {
		return string(a.Unary.Fn)
	}
	return fmt.Sprintf("Clip(%g,%g)", a.Lo, a.Hi)
}

// apply runs the activation over t in place (float tensors).
func (a Activation) apply(t *Tensor) error {
	if a.Unary == nil {
		for i := 0; i < t.Len(); i++ {
			v := t.Float(i)
			if !math.IsNaN(v) {
				v = math.Min(math.Max(v, float64(a.Lo)), float64(a.Hi))
			}
			t.SetFloat(i, v)
		}
		return nil
	}
	out, err := a.Unary.Eval([]*Tensor{t})
	if err != nil {
		return err
	}
	copy(t.Data, out[0].Data)
	return nil
}

// Epilogue is what a fused kernel applies to each output element after its
// sum (and bias): y = acts(y + residual).
type Epilogue struct {
	Residual bool // the op's last input is added, same shape as the output
	Acts     []Activation
}

func (e Epilogue) suffix() string {
	s := ""
	if e.Residual {
		s += "+Add"
	}
	for _, a := range e.Acts {
		s += "+" + a.String()
	}
	return s
}

// run applies the epilogue to y in place; r is the residual or nil.
func (e Epilogue) run(y, r *Tensor) error {
	if e.Residual {
		if r == nil || r.Len() != y.Len() {
			return fmt.Errorf("fused epilogue: residual does not match the output")
		}
		for i := 0; i < y.Len(); i++ {
			y.SetFloat(i, y.Float(i)+r.Float(i))
		}
	}
	for _, a := range e.Acts {
		if err := a.apply(y); err != nil {
			return err
		}
	}
	return nil
}

// PackNR is the width of a packed matrix panel: the micro-kernel's tile
// covers 8 output columns (two f32x4 vectors).
const PackNR = 8

// PackedK is K rounded up to a multiple of 4 (the micro-kernel's unroll).
func PackedK(k int) int { return (k + 3) / 4 * 4 }

// PackB lays a K x N float32 matrix (element (k, n) given by at) out as
// ceil(N/8) panels, each PackedK(K) rows of 8 columns, zero padded: the
// micro-kernel reads one panel row with two v128 loads.
func PackB(K, N int, at func(k, n int) float32) *Tensor {
	kp := PackedK(K)
	panels := (N + PackNR - 1) / PackNR
	t := NewTensor(Float32, Shape{panels, kp, PackNR})
	d := t.F32()
	for p := 0; p < panels; p++ {
		for k := 0; k < K; k++ {
			for j := 0; j < PackNR; j++ {
				if n := p*PackNR + j; n < N {
					d[(p*kp+k)*PackNR+j] = at(k, n)
				}
			}
		}
	}
	return t
}

// unpackB is PackB's inverse.
func unpackB(t *Tensor, K, N int) []float32 {
	kp := PackedK(K)
	d := t.F32()
	out := make([]float32, K*N)
	for k := 0; k < K; k++ {
		for n := 0; n < N; n++ {
			out[k*N+n] = d[((n/PackNR)*kp+k)*PackNR+n%PackNR]
		}
	}
	return out
}

// PackA lays an M x K float32 matrix out as ceil(M/4) panels of K rows by
// 4 columns, zero padded: panel row k holds column k of four rows of the
// matrix, which a micro-kernel broadcasts one by one.
func PackA(M, K int, at func(m, k int) float32) *Tensor {
	panels := (M + 3) / 4
	t := NewTensor(Float32, Shape{panels, K, 4})
	d := t.F32()
	for p := 0; p < panels; p++ {
		for k := 0; k < K; k++ {
			for r := 0; r < 4; r++ {
				if m := p*4 + r; m < M {
					d[(p*K+k)*4+r] = at(m, k)
				}
			}
		}
	}
	return t
}

func unpackA(t *Tensor, M, K int) []float32 {
	d := t.F32()
	out := make([]float32, M*K)
	for m := 0; m < M; m++ {
		for k := 0; k < K; k++ {
			out[m*K+k] = d[((m/4)*K+k)*4+m%4]
		}
	}
	return out
}

// WeightLayout says how a fused Conv's constant weights are stored.
type WeightLayout int

const (
	WeightsPlain WeightLayout = iota // as imported, [M, C/group, k...]
	WeightsPackB                     // PackB of W^T [C/group*prod(k), M]
	WeightsPackA                     // PackA of W [M, C/group*prod(k)]
	// WeightsWinograd: 3x3 weights in the Winograd F(2x2,3x3) domain,
	// U = G g G^T for each (m, c), as 16 PackA matrices [M, C], one per
	// position of the 4x4 transform (WinogradU).
	WeightsWinograd
	// WeightsWinograd4: the same in the F(4x4,3x3) domain, 36 PackA
	// matrices, one per position of the 6x6 transform (WinogradU4).
	WeightsWinograd4
)

// WinogradTile is the output tile side of a Winograd layout (2 or 4), 0
// for the others.
func (l WeightLayout) WinogradTile() int {
	switch l {
	case WeightsWinograd:
		return 2
	case WeightsWinograd4:
		return 4
	}
	return 0
}

// FusedConv is a Conv with an epilogue. Inputs: X, W, B (may be nil), then
// the residual when Epilogue.Residual. Packed weights (group 1) keep their
// original shape in WShape.
type FusedConv struct {
	Conv
	Epilogue
	Layout WeightLayout
	WShape Shape
	// Plain keeps the imported weights of a Winograd layout (whose
	// transform is not inverted) for Eval; it is no input, so it takes no
	// memory in the module.
	Plain *Tensor
	// Pieces: a Winograd layer whose input is a lazy Concat (opt's pieces
	// pass), read as its pieces one channel at a time, so that its
	// workspace holds one channel's band instead of all of them.
	Pieces bool
}

func (f *FusedConv) OpType() string { return "Conv" + f.suffix() }

// WinogradFromSource tells whether a Winograd layout's weights input (of
// shape w) holds the weights as stored (WinogradSource, [ceil(M/4), C, 9,
// 4]) for the kernel to transform a panel at a time, rather than their
// prepared transform ([P, ceil(M/4), C, 4]); the two shapes never agree
// (P is 16 or 36, not 9).
func (f *FusedConv) WinogradFromSource(w Shape) bool {
	return f.Layout.WinogradTile() > 0 && len(w) == 4 && len(f.WShape) == 4 &&
		w[0] == (f.WShape[0]+3)/4 && w[1] == f.WShape[1] && w[2] == 9 && w[3] == 4
}

// WinogradTilesAsAMax is the most tiles of an image (tile columns counted
// in whole groups of four) for which a Winograd layer transforms its
// stored weights in the kernel and runs its products with the tiles as A
// (codegen's winogradGEMMsTilesAsA), whatever the memory budget: with the
// weights as A each expanded panel of U would serve only Tp/8 tiles of the
// 4x8 micro-kernel.
const WinogradTilesAsAMax = 16

// WinogradTilesAsA tells whether a Winograd layer of m x m output tiles,
// M output channels and an outH x outW map takes that form (M in whole
// 8-channel panels).
func WinogradTilesAsA(m, M, outH, outW int) bool {
	th, tw := (outH+m-1)/m, (outW+m-1)/m
	return m > 0 && M%8 == 0 && th*4*((tw+3)/4) <= WinogradTilesAsAMax
}

func (f *FusedConv) weightShape(w *Value) Shape {
	if f.Layout != WeightsPlain {
		return f.WShape
	}
	return w.Type.Shape
}

func (f *FusedConv) Infer(in []*Value) ([]Type, error) {
	dt := in[1].Type.DType
	if f.WinogradFromSource(in[1].Type.Shape) {
		dt = Float32 // stored in float16 where exact, widened by the kernel
	}
	w := &Value{Type: Type{dt, f.weightShape(in[1])}, typed: true}
	ts, err := f.Conv.Infer([]*Value{in[0], w, getIn(in, 2)})
	if err != nil {
		return nil, err
	}
	if f.Residual {
		r := getIn(in, 3)
		if r == nil || !r.Type.Shape.Equal(ts[0].Shape) || r.Type.DType != ts[0].DType {
			return nil, fmt.Errorf("fused Conv: residual must be %s", ts[0])
		}
	}
	return ts, nil
}

func (f *FusedConv) Eval(in []*Tensor) ([]*Tensor, error) {
	w := in[1]
	if f.Layout.WinogradTile() > 0 {
		w = f.Plain
	} else if f.Layout != WeightsPlain {
		ws := f.WShape
		kk := ws[1:].Size()
		plain := NewTensor(Float32, ws)
		d := plain.F32()
		if f.Layout == WeightsPackA {
			copy(d, unpackA(w, ws[0], kk))
		} else {
			wt := unpackB(w, kk, ws[0]) // [kk, M]
			for m := 0; m < ws[0]; m++ {
				for k := 0; k < kk; k++ {
					d[m*kk+k] = wt[k*ws[0]+m]
				}
			}
		}
		w = plain
	}
	out, err := f.Conv.Eval([]*Tensor{in[0], w, getT(in, 2)})
	if err != nil {
		return nil, err
	}
	return out, f.Epilogue.run(out[0], getT(in, 3))
}

// FusedMatMul is Y[..., N] = A[..., K] x B[K, N] + bias[N] with an
// epilogue: MatMul or Gemm (alpha 1, no transA) with a constant B, whose
// rows of A are independent. Inputs: A, B (PackB of [K, N] when Packed),
// bias (may be nil), then the residual.
type FusedMatMul struct {
	Epilogue
	K, N   int
	Packed bool
}

func (f *FusedMatMul) OpType() string { return "MatMul" + f.suffix() }

func (f *FusedMatMul) Infer(in []*Value) ([]Type, error) {
	a := in[0].Type
	if len(a.Shape) < 1 || a.Shape[len(a.Shape)-1] != f.K || a.DType != Float32 {
		return nil, fmt.Errorf("fused MatMul: A %s must be float32 [..., %d]", a, f.K)
	}
	if b := getIn(in, 2); b != nil && (b.Type.Shape.Size() != f.N || b.Type.DType != Float32) {
		return nil, fmt.Errorf("fused MatMul: bias %s must have %d elements", b.Type, f.N)
	}
	out := Type{Float32, append(a.Shape[:len(a.Shape)-1:len(a.Shape)-1], f.N)}
	if f.Residual {
		r := getIn(in, 3)
		if r == nil || !r.Type.Shape.Equal(out.Shape) || r.Type.DType != Float32 {
			return nil, fmt.Errorf("fused MatMul: residual must be %s", out)
		}
	}
	return Types(out), nil
}

func (f *FusedMatMul) Eval(in []*Tensor) ([]*Tensor, error) {
	a := in[0]
	var b []float32
	if f.Packed {
		b = unpackB(in[1], f.K, f.N)
	} else {
		b = in[1].F32()
	}
	rows := a.Len() / max(f.K, 1)
	if f.K == 0 {
		rows = a.Shape[:len(a.Shape)-1].Size()
	}
	out := NewTensor(Float32, append(a.Shape[:len(a.Shape)-1:len(a.Shape)-1], f.N))
	av, ov := a.Floats(), out.F32()
	var bias []float64
	if bt := getT(in, 2); bt != nil {
		bias = bt.Floats()
	}
	for r := 0; r < rows; r++ {
		for n := 0; n < f.N; n++ {
			acc := 0.0
			for k := 0; k < f.K; k++ {
				acc += av[r*f.K+k] * float64(b[k*f.N+n])
			}
			if bias != nil {
				acc += bias[n]
			}
			ov[r*f.N+n] = float32(acc)
		}
	}
	return []*Tensor{out}, f.Epilogue.run(out, getT(in, 3))
}

// ChainStep is one function of a fused elementwise chain, applied to the
// running value: a unary function, a clamp to constant bounds, or a binary
// function with the op's input Arg on the left (ArgLeft) or the right.
type ChainStep struct {
	Unary   *Unary
	Binary  *Binary
	Clip    bool
	Lo, Hi  float32
	Arg     int
	ArgLeft bool
}

// FusedElementwise evaluates a chain of float elementwise ops in one pass:
// the running value starts as input 0 (broadcast to the output shape) and
// each step updates it; Out is the chain's output type.
type FusedElementwise struct {
	Steps []ChainStep
	Out   Type
}

func (f *FusedElementwise) OpType() string {
	// The name lists the steps, up to a point: a chain of 100,000 steps
	// (a hostile or generated model) would otherwise name its function
	// with half a megabyte, built once per call.
	const named = 64
	var s strings.Builder
	s.WriteString("Fused")
	for i, st := range f.Steps {
		if i == named {
			fmt.Fprintf(&s, "_and_%d_more", len(f.Steps)-named)
			break
		}
		switch {
		case st.Unary != nil:
			s.WriteString("_" + string(st.Unary.Fn))
		case st.Binary != nil:
			s.WriteString("_" + string(st.Binary.Fn))
		default:
			s.WriteString("_Clip")
		}
	}
	return s.String()
}

func (f *FusedElementwise) Infer(in []*Value) ([]Type, error) {
	shapes := make([]Shape, 0, len(in))
	for _, v := range in {
		if v == nil || v.Type.DType != f.Out.DType {
			return nil, fmt.Errorf("fused elementwise: inputs must be %s", f.Out.DType)
		}
		shapes = append(shapes, v.Type.Shape)
	}
	s, err := BroadcastShapes(shapes...)
	if err != nil || !s.Equal(f.Out.Shape) {
		return nil, fmt.Errorf("fused elementwise: inputs do not broadcast to %s", f.Out.Shape)
	}
	for _, st := range f.Steps {
		if st.Binary != nil && (st.Arg < 0 || st.Arg >= len(in)) {
			return nil, fmt.Errorf("fused elementwise: step reads input %d of %d", st.Arg, len(in))
		}
	}
	return Types(f.Out), nil
}

func (f *FusedElementwise) Eval(in []*Tensor) ([]*Tensor, error) {
	cur := NewTensor(f.Out.DType, f.Out.Shape)
	st := BroadcastStrides(in[0].Shape, f.Out.Shape)
	idx := make([]int, len(f.Out.Shape))
	for i := 0; i < cur.Len(); i++ {
		unravel(i, f.Out.Shape, idx)
		off := 0
		for d, s := range st {
			off += idx[d] * s
		}
		cur.SetFloat(i, in[0].Float(off))
	}
	for _, s := range f.Steps {
		var out []*Tensor
		var err error
		switch {
		case s.Unary != nil:
			out, err = s.Unary.Eval([]*Tensor{cur})
		case s.Binary != nil:
			a, b := cur, in[s.Arg]
			if s.ArgLeft {
				a, b = b, a
			}
			out, err = s.Binary.Eval([]*Tensor{a, b})
		default:
			err = Activation{Lo: s.Lo, Hi: s.Hi}.apply(cur)
			out = []*Tensor{cur}
		}
		if err != nil {
			return nil, err
		}
		cur = out[0]
	}
	return []*Tensor{cur}, nil
}
