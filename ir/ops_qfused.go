package ir

import (
	"fmt"
	"math"
)

// Fused integer operators. They have no ONNX form: opt's qdq pass builds
// them from QuantizeLinear/DequantizeLinear patterns around Conv, MatMul,
// Gemm and Add (which mlc's own quantizer writes too). The integer part is
// exact (int32 accumulators); the epilogue is float32 arithmetic, written
// out step by step so that the kernels and Eval agree bit for bit.

// QOut is the epilogue of a fused integer operator. Per output channel c
// (convolutions) or column c (matrix products), with Mult and Add of one
// value or one per channel:
//
//	t = f32(acc) * Mult[c] + Add[c]   (Linear)
//	t = t * Alpha        when Leaky and t < 0
//	t = min(max(t, Lo), Hi)           (Finish, from here)
//	y = t                                          (DType Float32)
//	y = saturate(i32(roundEven(t) + f32(Zero)))    (DType Int8, Uint8, Int16)
//
// Mult and Add are in output units (divided by the output scale), so
// activations that follow the product fuse into Leaky/Lo/Hi.
type QOut struct {
	DType  DType // Int8, Uint8 or Float32
	Zero   int32 // output zero point of integer outputs
	Leaky  bool
	Alpha  float32
	Lo, Hi float32 // -Inf, +Inf when unbounded
}

func (q QOut) check() error {
	if q.DType != Int8 && q.DType != Uint8 && q.DType != Int16 && q.DType != Float32 {
		return fmt.Errorf("fused integer op output %s (want int8, uint8, int16 or float32)", q.DType)
	}
	if q.DType != Float32 {
		if err := checkZero(q.Zero, q.DType); err != nil {
			return err
		}
	}
	if !(q.Lo <= q.Hi) {
		return fmt.Errorf("fused integer op clamp [%g, %g] is empty", q.Lo, q.Hi)
	}
	return nil
}

// Linear is the first step for one accumulator: f32(acc)*mult + add.
func Linear(acc int32, mult, add float32) float32 { return float32(float32(acc)*mult) + add }

// Finish applies the activation and, for integer outputs, the rounding.
func (q QOut) Finish(t float32) float32 {
	if q.Leaky && t < 0 {
		t = float32(t * q.Alpha)
	}
	// as Wasm's pmax and pmin: keep t unless the bound is beyond it
	if t < q.Lo {
		t = q.Lo
	}
	if q.Hi < t {
		t = q.Hi
	}
	if q.DType == Float32 {
		return t
	}
	return float32(math.RoundToEven(float64(t))) + float32(q.Zero)
}

// Store writes an Apply result at element i of y, saturating integers.
func (q QOut) Store(y *Tensor, i int, t float32) {
	if q.DType == Float32 {
		y.F32()[i] = t
		return
	}
	lo, hi := QuantRange(q.DType)
	v := int64(math.Max(math.Min(float64(t), float64(hi)), float64(lo)))
	y.SetInt(i, v)
}

// checkZero validates a zero point for integer type dt.
func checkZero(z int32, dt DType) error {
	if lo, hi := QuantRange(dt); int64(z) < lo || int64(z) > hi {
		return fmt.Errorf("zero point %d out of %s's range", z, dt)
	}
	return nil
}

// checkQParams validates Mult and Add inputs: float32, one value or n.
func checkQParams(n int, vs ...*Value) error {
	for _, v := range vs {
		if v.Type.DType != Float32 || len(v.Type.Shape) != 1 || v.Type.Shape[0] != 1 && v.Type.Shape[0] != n {
			return fmt.Errorf("channel parameters %s must be float32[1] or float32[%d]", v.Type, n)
		}
	}
	return nil
}

func channelParam(t *Tensor, c int) float32 { return t.F32()[min(c, t.Len()-1)] }

// QConv16MaxK bounds the reduction length of a QConv with int16 input:
// products of int16 and int8 values, summed in pairs by the kernels, then
// stay within int32.
const QConv16MaxK = 512

// QConv is a convolution of int8/uint8 x (zero point XZero; or int16 with
// zero point 0 when the reduction is at most QConv16MaxK long) with weights
// packed at compile time (input 1, see QPacked), accumulated in int32 and
// finished by Out with per-output-channel Mult (input 2) and Add (input 3).
// An optional input 4 is a residual of the output's shape, int8/uint8,
// added before the activation: t += f32(r - RZero) * RMult.
type QConv struct {
	Window
	Group  int
	XZero  int32
	Packed QPacked
	Out    QOut
	RZero  int32
	RMult  float32
	// Winograd computes a 3x3, stride 1 convolution with F(2x2, 3x3); input
	// 5 then holds the transformed weights (WinogradWeights of input 1).
	Winograd bool
	// Widened: input 5 holds the int8 packed weights widened to int16
	// (WidenWeights of input 1), which the pointwise kernel broadcasts in
	// one instruction per weight pair instead of two.
	Widened bool
}

func (*QConv) OpType() string { return "QConv" }

func (c *QConv) conv() *Conv { return &Conv{Window: c.Window, Group: c.Group} }

// Geometry resolves the window for input x and the original weight shape.
func (c *QConv) Geometry(x Shape) (*Geometry, error) {
	return c.conv().Geometry(x, c.Packed.Orig.Shape)
}

func (c *QConv) Infer(in []*Value) ([]Type, error) {
	if len(in) < 4 || len(in) > 6 || in[0] == nil || in[1] == nil || in[2] == nil || in[3] == nil {
		return nil, fmt.Errorf("QConv takes x, packed weights, mult, add, an optional residual and Winograd weights")
	}
	x, w := in[0], in[1]
	if err := c.Packed.check(w, false); err != nil {
		return nil, err
	}
	if err := checkZero(c.XZero, x.Type.DType); err != nil {
		return nil, err
	}
	M := c.Packed.Orig.Shape[0]
	k16 := x.Type.DType == Int16 && c.XZero == 0 && c.Packed.Orig.Shape[1:].Size() <= QConv16MaxK && w.Type.DType == Int8
	if !isInt8(x.Type.DType) && !k16 || !isInt8(c.Packed.Orig.DType) {
		return nil, NotSupportedf("QConv of %s and %s", x.Type.DType, c.Packed.Orig.DType)
	}
	if err := checkQParams(M, in[2], in[3]); err != nil {
		return nil, err
	}
	if err := c.Out.check(); err != nil {
		return nil, err
	}
	g, err := c.Geometry(x.Type.Shape)
	if err != nil {
		return nil, err
	}
	out := Type{c.Out.DType, append(Shape{x.Type.Shape[0], M}, g.Out...)}
	if r := getIn(in, 4); r != nil && (!isInt8(r.Type.DType) && r.Type.DType != Int16 || !r.Type.Shape.Equal(out.Shape)) {
		return nil, fmt.Errorf("QConv residual %s must be int8, uint8 or int16 of the output's shape %s", r.Type, out.Shape)
	}
	if r := getIn(in, 4); r != nil {
		if err := checkZero(c.RZero, r.Type.DType); err != nil {
			return nil, err
		}
	}
	u := getIn(in, 5)
	if (c.Winograd || c.Widened) != (u != nil) || c.Winograd && c.Widened {
		return nil, fmt.Errorf("QConv: input 5 must be given exactly when Winograd or Widened is set")
	}
	if c.Widened && (u.Type.DType != Int16 || !u.Type.Shape.Equal(w.Type.Shape) || w.Type.DType != Int8) {
		return nil, fmt.Errorf("QConv: widened weights %s do not match the packed weights %s", u.Type, w.Type)
	}
	if c.Winograd {
		ws := c.Packed.Orig.Shape
		if len(ws) != 4 || ws[2] != 3 || ws[3] != 3 || c.Group != 1 || !isInt8(x.Type.DType) || g.Strides[0] != 1 || g.Strides[1] != 1 || g.Dilations[0] != 1 || g.Dilations[1] != 1 {
			return nil, fmt.Errorf("QConv: Winograd needs a 3x3, stride 1, undilated, ungrouped 2-D convolution of 8-bit data")
		}
		want := Shape{16, M, (ws[1] + 1) / 2 * 2}
		if u.Type.DType != Int16 || !u.Type.Shape.Equal(want) {
			return nil, fmt.Errorf("QConv: Winograd weights %s, want int16%s", u.Type, want)
		}
	}
	return Types(out), nil
}

func (c *QConv) Eval(in []*Tensor) ([]*Tensor, error) {
	zx := NewTensor(in[0].DType, Shape{})
	zx.SetInt(0, int64(c.XZero))
	acc, err := convInt(c.conv(), in[0], c.Packed.Unpack(in[1], false), zx, nil, nil)
	if err != nil {
		return nil, err
	}
	y := NewTensor(c.Out.DType, acc.Shape)
	M := acc.Shape[1]
	per := acc.Len() / max(1, acc.Shape[0]*M)
	r := getT(in, 4)
	for e, v := range acc.I32() {
		m := (e / per) % M
		t := Linear(v, channelParam(in[2], m), channelParam(in[3], m))
		if r != nil {
			t += float32(float32(int32(r.Int(e))-c.RZero) * c.RMult)
		}
		c.Out.Store(y, e, c.Out.Finish(t))
	}
	return []*Tensor{y}, nil
}

// QMatMul is a matrix product of int8/uint8 A [..., M, K] (zero point
// AZero) with constant B [K, N] packed at compile time (input 1),
// accumulated in int32 and finished by Out with per-column Mult (input 2)
// and Add (input 3).
type QMatMul struct {
	AZero  int32
	Packed QPacked
	Out    QOut
}

func (*QMatMul) OpType() string { return "QMatMul" }

func (op *QMatMul) Infer(in []*Value) ([]Type, error) {
	if len(in) != 4 || in[0] == nil || in[1] == nil || in[2] == nil || in[3] == nil {
		return nil, fmt.Errorf("QMatMul takes A, packed B, mult and add")
	}
	a, b := in[0], in[1]
	if err := op.Packed.check(b, true); err != nil {
		return nil, err
	}
	if !isInt8(a.Type.DType) || !isInt8(op.Packed.Orig.DType) {
		return nil, NotSupportedf("QMatMul of %s and %s", a.Type.DType, op.Packed.Orig.DType)
	}
	if err := checkZero(op.AZero, a.Type.DType); err != nil {
		return nil, err
	}
	if len(a.Type.Shape) < 2 {
		return nil, fmt.Errorf("QMatMul A %s must have at least 2 dimensions", a.Type.Shape)
	}
	_, _, _, N, out, err := MatMulShapes(a.Type.Shape, op.Packed.Orig.Shape)
	if err != nil {
		return nil, err
	}
	if err := checkQParams(N, in[2], in[3]); err != nil {
		return nil, err
	}
	if err := op.Out.check(); err != nil {
		return nil, err
	}
	return Types(Type{op.Out.DType, out}), nil
}

func (op *QMatMul) Eval(in []*Tensor) ([]*Tensor, error) {
	za := NewTensor(in[0].DType, Shape{})
	za.SetInt(0, int64(op.AZero))
	acc, err := matMulInt(in[0], op.Packed.Unpack(in[1], true), za, nil)
	if err != nil {
		return nil, err
	}
	y := NewTensor(op.Out.DType, acc.Shape)
	N := acc.Shape[len(acc.Shape)-1]
	for e, v := range acc.I32() {
		c := e % N
		op.Out.Store(y, e, op.Out.Finish(Linear(v, channelParam(in[2], c), channelParam(in[3], c))))
	}
	return []*Tensor{y}, nil
}

// QAdd adds two int8/uint8 tensors of one shape with per-tensor parameters:
// t = f32(a - AZero) * AMult + f32(b - BZero) * BMult, then Out's
// activation and rounding (Out's Mult and Add are not used).
type QAdd struct {
	AZero, BZero int32
	AMult, BMult float32
	Out          QOut
}

func (*QAdd) OpType() string { return "QAdd" }

func (op *QAdd) Infer(in []*Value) ([]Type, error) {
	if len(in) != 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("QAdd takes two inputs")
	}
	a, b := in[0], in[1]
	if !isInt8(a.Type.DType) || !isInt8(b.Type.DType) {
		return nil, NotSupportedf("QAdd of %s and %s", a.Type.DType, b.Type.DType)
	}
	if !a.Type.Shape.Equal(b.Type.Shape) {
		return nil, fmt.Errorf("QAdd inputs %s and %s must have one shape", a.Type.Shape, b.Type.Shape)
	}
	if err := checkZero(op.AZero, a.Type.DType); err != nil {
		return nil, err
	}
	if err := checkZero(op.BZero, b.Type.DType); err != nil {
		return nil, err
	}
	if op.Out.DType == Int16 {
		return nil, NotSupportedf("QAdd with int16 output")
	}
	if err := op.Out.check(); err != nil {
		return nil, err
	}
	return Types(Type{op.Out.DType, a.Type.Shape}), nil
}

// Apply computes one output from a and b.
func (op *QAdd) Apply(a, b int64) float32 {
	t := float32(float32(int32(a)-op.AZero)*op.AMult) + float32(float32(int32(b)-op.BZero)*op.BMult)
	return op.Out.Finish(t)
}

func (op *QAdd) Eval(in []*Tensor) ([]*Tensor, error) {
	a, b := in[0], in[1]
	y := NewTensor(op.Out.DType, a.Shape)
	for i := 0; i < a.Len(); i++ {
		op.Out.Store(y, i, op.Apply(a.Int(i), b.Int(i)))
	}
	return []*Tensor{y}, nil
}

// WinogradWeights transforms the weights of a 3x3 QConv, packed at compile
// time (QPacked rows of C*9 values), for Winograd's F(2x2, 3x3): per
// output channel m and input channel c, U = G' g G'^T with G' = 2G =
// [[2,0,0], [1,1,1], [1,-1,1], [0,0,2]], integers of at most 11 bits. The
// output is int16 [16, M, C rounded up to even], element (4i+j, m, c) being
// U[i][j]. It is not folded (the transformed weights are 3.6 times the
// packed ones): it runs once, at the module's first run.
type WinogradWeights struct {
	Orig Type // the weights before packing: [M, C, 3, 3]
}

func (*WinogradWeights) OpType() string { return "WinogradWeights" }
func (*WinogradWeights) Unfolded()      {}

func (w *WinogradWeights) Infer(in []*Value) ([]Type, error) {
	s := w.Orig.Shape
	if len(s) != 4 || s[2] != 3 || s[3] != 3 {
		return nil, fmt.Errorf("WinogradWeights of %s: want [M, C, 3, 3]", s)
	}
	p := &QPacked{Orig: w.Orig}
	if len(in) != 1 || in[0] == nil {
		return nil, fmt.Errorf("WinogradWeights takes the packed weights")
	}
	if err := p.check(in[0], false); err != nil {
		return nil, err
	}
	return Types(Type{Int16, Shape{16, s[0], (s[1] + 1) / 2 * 2}}), nil
}

// WinogradG is G' = 2G of F(2x2, 3x3).
var WinogradG = [4][3]int64{{2, 0, 0}, {1, 1, 1}, {1, -1, 1}, {0, 0, 2}}

func (w *WinogradWeights) Eval(in []*Tensor) ([]*Tensor, error) {
	types, err := w.Infer([]*Value{{Type: in[0].Type}})
	if err != nil {
		return nil, err
	}
	p := &QPacked{Orig: w.Orig}
	g := p.Unpack(in[0], false)
	M, C, Cp := w.Orig.Shape[0], w.Orig.Shape[1], types[0].Shape[2]
	u := NewTensor(Int16, types[0].Shape)
	for m := 0; m < M; m++ {
		for c := 0; c < C; c++ {
			k := g.I32()[(m*C+c)*9 : (m*C+c)*9+9]
			for i := 0; i < 4; i++ {
				for j := 0; j < 4; j++ {
					var v int64
					for a := 0; a < 3; a++ {
						for b := 0; b < 3; b++ {
							v += WinogradG[i][a] * int64(k[a*3+b]) * WinogradG[j][b]
						}
					}
					u.SetInt(((4*i+j)*M+m)*Cp+c, v)
				}
			}
		}
	}
	return []*Tensor{u}, nil
}

// WidenWeights copies int8 packed weights to int16 (computed once at the
// first run, like WinogradWeights: the module keeps the int8 ones).
type WidenWeights struct{}

func (*WidenWeights) OpType() string { return "WidenWeights" }
func (*WidenWeights) Unfolded()      {}

func (*WidenWeights) Infer(in []*Value) ([]Type, error) {
	if len(in) != 1 || in[0] == nil || in[0].Type.DType != Int8 {
		return nil, fmt.Errorf("WidenWeights takes one int8 tensor")
	}
	return Types(Type{Int16, in[0].Type.Shape}), nil
}

func (*WidenWeights) Eval(in []*Tensor) ([]*Tensor, error) {
	return []*Tensor{in[0].Convert(Int16)}, nil
}
