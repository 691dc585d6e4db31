package ir

import (
	"fmt"
	"math"
)

// Linear quantization: QuantizeLinear, DequantizeLinear,
// DynamicQuantizeLinear, and the integer matrix products and convolutions
// (MatMulInteger, QLinearMatMul, ConvInteger, QLinearConv). The arithmetic
// follows the ONNX reference implementation operation by operation (which
// float type each step rounds to) so that results are bit-exact.

// QuantLayout maps the elements of x onto its scale and zero point: x is
// viewed as [Outer, Axis, Inner] and element (o, a, i) uses scale element
// o*SO + (a/Block)*SA + i*SI. Per-tensor quantization has all strides 0,
// per-axis SA = 1, blocked SO, SA and SI all set.
type QuantLayout struct {
	Outer, Axis, Inner int
	Block              int
	SO, SA, SI         int
}

// Index is the scale element of x element (o, a, i).
func (l QuantLayout) Index(o, a, i int) int { return o*l.SO + (a/l.Block)*l.SA + i*l.SI }

// each calls fn with every flat element index e of x and its scale
// element si, in order.
func (l QuantLayout) each(fn func(e, si int)) {
	for o := 0; o < l.Outer; o++ {
		for a := 0; a < l.Axis; a++ {
			for i := 0; i < l.Inner; i++ {
				fn((o*l.Axis+a)*l.Inner+i, l.Index(o, a, i))
			}
		}
	}
}

// NewQuantLayout checks scale shape s against x for axis and block size
// (0: per-tensor or per-axis). A scale of one element is per-tensor
// whatever its rank, as in the ONNX reference.
func NewQuantLayout(x, s Shape, axis, block int) (QuantLayout, error) {
	if s.Size() == 1 {
		return QuantLayout{Outer: 1, Axis: 1, Inner: x.Size(), Block: 1}, nil
	}
	if block < 0 {
		return QuantLayout{}, fmt.Errorf("block_size %d must not be negative", block)
	}
	if len(x) == 0 {
		return QuantLayout{}, fmt.Errorf("scale %s for a scalar input must have one element", s)
	}
	ax, err := NormAxis(axis, len(x))
	if err != nil {
		return QuantLayout{}, err
	}
	l := QuantLayout{Outer: x[:ax].Size(), Axis: x[ax], Inner: x[ax+1:].Size(), Block: 1}
	if block == 0 {
		if len(s) != 1 || s[0] != x[ax] {
			return QuantLayout{}, fmt.Errorf("per-axis scale %s must be 1-D of length %d (axis %d of %s)", s, x[ax], ax, x)
		}
		l.SA = 1
		return l, nil
	}
	ok := len(s) == len(x)
	for d := 0; ok && d < len(x); d++ {
		if d == ax {
			ok = s[d]*block >= x[d] && (s[d]-1)*block < x[d]
		} else {
			ok = s[d] == x[d]
		}
	}
	if !ok {
		return QuantLayout{}, fmt.Errorf("blocked scale %s does not fit input %s with axis %d and block_size %d", s, x, ax, block)
	}
	l.Block = block
	l.SO, l.SA, l.SI = s[ax]*l.Inner, l.Inner, 1
	return l, nil
}

// checkZeroPoint checks that a zero point matches its scale.
func checkZeroPoint(z, s *Value, dt DType) error {
	if z == nil {
		return nil
	}
	if z.Type.DType != dt {
		return fmt.Errorf("zero point %s must have type %s", z.Type, dt)
	}
	if z.Type.Shape.Size() == 1 && s.Type.Shape.Size() == 1 {
		return nil
	}
	if !z.Type.Shape.Equal(s.Type.Shape) {
		return fmt.Errorf("zero point %s and scale %s must have the same shape", z.Type.Shape, s.Type.Shape)
	}
	return nil
}

// QuantRange is the saturation range of an integer quantized type.
func QuantRange(dt DType) (lo, hi int64) {
	switch dt {
	case Int8:
		return -128, 127
	case Uint8:
		return 0, 255
	case Int16:
		return -32768, 32767
	case Uint16:
		return 0, 65535
	case Int4:
		return -8, 7
	case Uint4:
		return 0, 15
	case Int2:
		return -2, 1
	case Uint2:
		return 0, 3
	}
	panic("QuantRange of " + dt.String())
}

func isQuantInt(dt DType) bool {
	switch dt {
	case Int8, Uint8, Int16, Uint16, Int4, Uint4, Int2, Uint2:
		return true
	}
	return false
}

func isQuantFloat(dt DType) bool {
	switch dt {
	case Float8E4M3FN, Float8E4M3FNUZ, Float8E5M2, Float8E5M2FNUZ, Float4E2M1:
		return true
	}
	return false
}

func isScaleType(dt DType) bool {
	return dt == Float32 || dt == Float16 || dt == BFloat16 || dt == Float8E8M0
}

// QuantizeLinear is y = saturate(round(x / scale) + zero_point) for integer
// outputs and y = cast(x / scale) for float8 and float4 outputs.
type QuantizeLinear struct {
	Axis, BlockSize int
	Saturate        bool  // float8 outputs: clamp instead of inf/NaN
	OutType         DType // output_dtype; Invalid: the zero point's type, else uint8
	Precision       DType // type of the division; Invalid: from the operands
}

func (*QuantizeLinear) OpType() string { return "QuantizeLinear" }

// DivType is the type x / scale is computed in: the precision attribute, or
// numpy's promotion of the operand types as in the ONNX reference (int32 x
// divides in float64, mixed float types in float32).
func (q *QuantizeLinear) DivType(x, s DType) DType {
	switch {
	case q.Precision != Invalid:
		return q.Precision
	case x == Int32:
		return Float64
	case x == s:
		return x
	}
	return Float32
}

// Layout resolves the scale layout for x and scale shapes.
func (q *QuantizeLinear) Layout(x, s Shape) (QuantLayout, error) {
	return NewQuantLayout(x, s, q.Axis, q.BlockSize)
}

// OutDType resolves the output type from the zero point's type.
func (q *QuantizeLinear) OutDType(zp *Value) (DType, error) {
	out := q.OutType
	if zp != nil {
		if out != Invalid && out != zp.Type.DType {
			return Invalid, fmt.Errorf("output_dtype %s does not match the zero point's type %s", out, zp.Type.DType)
		}
		out = zp.Type.DType
	}
	if out == Invalid {
		out = Uint8
	}
	if !isQuantInt(out) && !isQuantFloat(out) {
		return Invalid, NotSupportedf("QuantizeLinear to %s", out)
	}
	return out, nil
}

func (q *QuantizeLinear) Infer(in []*Value) ([]Type, error) {
	x, s, zp := in[0], in[1], getIn(in, 2)
	switch x.Type.DType {
	case Float32, Float16, BFloat16, Int32:
	default:
		return nil, NotSupportedf("QuantizeLinear of %s", x.Type.DType)
	}
	if !isScaleType(s.Type.DType) {
		return nil, NotSupportedf("QuantizeLinear scale of type %s", s.Type.DType)
	}
	switch q.Precision {
	case Invalid, Float32, Float16, BFloat16, Float64:
	default:
		return nil, NotSupportedf("precision %s", q.Precision)
	}
	out, err := q.OutDType(zp)
	if err != nil {
		return nil, err
	}
	if _, err := q.Layout(x.Type.Shape, s.Type.Shape); err != nil {
		return nil, err
	}
	if err := checkZeroPoint(zp, s, out); err != nil {
		return nil, err
	}
	return Types(Type{out, x.Type.Shape}), nil
}

func (q *QuantizeLinear) Eval(in []*Tensor) ([]*Tensor, error) {
	x, s, zp := in[0], in[1], getT(in, 2)
	out := q.OutType
	if zp != nil {
		out = zp.DType
	} else if out == Invalid {
		out = Uint8
	}
	l, err := q.Layout(x.Shape, s.Shape)
	if err != nil {
		return nil, err
	}
	p := q.DivType(x.DType, s.DType)
	y := NewTensor(out, x.Shape)
	l.each(func(e, si int) {
		v := RoundTo(p, RoundTo(p, x.Float(e))/RoundTo(p, s.Float(si)))
		if isQuantInt(out) {
			y.SetInt(e, QuantizeValue(out, v, zp, si))
			return
		}
		if out == Float4E2M1 && zp != nil {
			// The reference adds float4 zero points (and skips float8 ones).
			v = float64(float32(v) + float32(zp.Float(si)))
		}
		y.setRawSmall(e, Float64ToSmallFloat(out, v, q.Saturate))
	})
	return []*Tensor{y}, nil
}

// QuantizeValue rounds v half to even, adds zero point element zi (if zp is
// not nil) and saturates to dt's range; NaN gives 0, as Wasm's saturating
// truncation does.
func QuantizeValue(dt DType, v float64, zp *Tensor, zi int) int64 {
	r := math.RoundToEven(v)
	if zp != nil {
		r += float64(zp.Int(zi))
	}
	lo, hi := QuantRange(dt)
	switch {
	case r != r:
		return 0
	case r < float64(lo):
		return lo
	case r > float64(hi):
		return hi
	}
	return int64(r)
}

// DequantizeLinear is y = (x - zero_point) * scale, computed in float32 and
// rounded to the output type. Zero points of float8 and float4 inputs are
// ignored (the specification requires them to be zero).
type DequantizeLinear struct {
	Axis, BlockSize int
	OutType         DType // output_dtype; Invalid: the scale's type
}

func (*DequantizeLinear) OpType() string { return "DequantizeLinear" }

// Unfolded keeps DequantizeLinear of constant weights for opt's qdq pass.
func (*DequantizeLinear) Unfolded() {}

// Layout resolves the scale layout for x and scale shapes.
func (d *DequantizeLinear) Layout(x, s Shape) (QuantLayout, error) {
	return NewQuantLayout(x, s, d.Axis, d.BlockSize)
}

func (d *DequantizeLinear) Infer(in []*Value) ([]Type, error) {
	x, s, zp := in[0], in[1], getIn(in, 2)
	xt := x.Type.DType
	if !isQuantInt(xt) && !isQuantFloat(xt) && xt != Int32 {
		return nil, NotSupportedf("DequantizeLinear of %s", xt)
	}
	if !isScaleType(s.Type.DType) {
		return nil, NotSupportedf("DequantizeLinear scale of type %s", s.Type.DType)
	}
	out := d.OutType
	if out == Invalid {
		out = s.Type.DType
	}
	if out != Float32 && out != Float16 && out != BFloat16 {
		return nil, fmt.Errorf("DequantizeLinear output type %s must be float, float16 or bfloat16 (set output_dtype for a %s scale)", out, s.Type.DType)
	}
	if _, err := d.Layout(x.Type.Shape, s.Type.Shape); err != nil {
		return nil, err
	}
	if err := checkZeroPoint(zp, s, xt); err != nil {
		return nil, err
	}
	return Types(Type{out, x.Type.Shape}), nil
}

func (d *DequantizeLinear) Eval(in []*Tensor) ([]*Tensor, error) {
	x, s, zp := in[0], in[1], getT(in, 2)
	out := d.OutType
	if out == Invalid {
		out = s.DType
	}
	l, err := d.Layout(x.Shape, s.Shape)
	if err != nil {
		return nil, err
	}
	y := NewTensor(out, x.Shape)
	l.each(func(e, si int) {
		var dx float32
		if x.DType.IsFloat() {
			dx = float32(x.Float(e))
		} else {
			v := x.Int(e)
			if zp != nil {
				v -= zp.Int(si)
			}
			dx = float32(int32(v))
		}
		y.SetFloat(e, float64(dx*float32(s.Float(si))))
	})
	return []*Tensor{y}, nil
}

// DynamicQuantizeLinear quantizes float32 x to uint8 with a scale and zero
// point computed from x's range (extended to include 0).
type DynamicQuantizeLinear struct{}

func (*DynamicQuantizeLinear) OpType() string { return "DynamicQuantizeLinear" }

func (*DynamicQuantizeLinear) Infer(in []*Value) ([]Type, error) {
	if dt := in[0].Type.DType; dt != Float32 {
		return nil, NotSupportedf("DynamicQuantizeLinear of %s", dt)
	}
	return Types(Type{Uint8, in[0].Type.Shape}, Type{Float32, Shape{}}, Type{Uint8, Shape{}}), nil
}

// DynamicQuantParams computes the scale and zero point from the range of x
// in float32 as the reference does; an all-zero range gives scale 1.
func DynamicQuantParams(lo, hi float32) (scale, zp float32) {
	hi = max32(0, hi)
	lo = min32(0, lo)
	if hi == lo {
		scale = 1
	} else {
		scale = (hi - lo) / 255
	}
	z := 0 - lo/scale
	z = max32(0, min32(255, z))
	return scale, float32(math.RoundToEven(float64(z)))
}

// max32 and min32 propagate NaN, as Wasm's f32.max and f32.min do.
func max32(a, b float32) float32 { return float32(math.Max(float64(a), float64(b))) }
func min32(a, b float32) float32 { return float32(math.Min(float64(a), float64(b))) }

func (*DynamicQuantizeLinear) Eval(in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	xs := x.F32()
	lo, hi := float32(0), float32(0)
	for _, v := range xs {
		lo, hi = min32(lo, v), max32(hi, v)
	}
	scale, zp := DynamicQuantParams(lo, hi)
	y := NewTensor(Uint8, x.Shape)
	for i, v := range xs {
		r := float32(math.RoundToEven(float64(v/scale))) + zp
		r = min32(255, max32(0, r))
		if r != r {
			r = 0
		}
		y.Data[i] = uint8(r)
	}
	st := NewTensor(Float32, Shape{})
	st.F32()[0] = scale
	zt := NewTensor(Uint8, Shape{})
	if zp == zp { // NaN stays 0, as Wasm's saturating truncation gives
		zt.Data[0] = uint8(zp)
	}
	return []*Tensor{y, st, zt}, nil
}

// RowParam resolves the shape of a per-row (rows=true: for A[..., M, K]) or
// per-column (for B[..., K, N]) scale or zero point of an integer matrix
// product: it returns 1 for one value, or the vector length (M or N).
// Values that vary along batch dimensions are not supported.
func RowParam(p, m Shape, rows bool) (int, error) {
	if p.Size() == 1 {
		return 1, nil
	}
	r := len(m)
	want := 1 // a 1-D A is one row, a 1-D B one column
	switch {
	case r >= 2 && rows:
		want = m[r-2]
	case r >= 2:
		want = m[r-1]
	}
	if len(p) == 1 && p[0] == want {
		return want, nil
	}
	if len(p) == r && r >= 2 {
		lead := p[:r-2].Size()
		if rows && p[r-1] == 1 && p[r-2] == want {
			if lead == 1 {
				return want, nil
			}
			return 0, NotSupportedf("per-row parameters %s that vary along batch dimensions", p)
		}
		if !rows && p[r-2] == 1 && p[r-1] == want {
			if lead == 1 {
				return want, nil
			}
			return 0, NotSupportedf("per-column parameters %s that vary along batch dimensions", p)
		}
	}
	what := "per-row"
	if !rows {
		what = "per-column"
	}
	return 0, fmt.Errorf("shape %s is neither one value nor %s for a matrix %s", p, what, m)
}

func isInt8(dt DType) bool { return dt == Int8 || dt == Uint8 }

// zeroShifted returns t - zp as an int32 tensor, zp applied per row or per
// column (n values, or 1) of the trailing 2-D matrices (rows: zp index is
// the row), or per leading index when lead is set (conv weights).
func zeroShifted(t, zp *Tensor, n int, rows bool, dt DType) *Tensor {
	out := NewTensor(dt, t.Shape)
	s := t.Shape
	cols := 1
	if len(s) >= 1 {
		cols = s[len(s)-1]
	}
	for e := 0; e < t.Len(); e++ {
		v := t.Int(e)
		if zp != nil {
			zi := 0
			if n > 1 {
				if rows {
					zi = (e / cols) % n
				} else {
					zi = e % cols
				}
			}
			v -= zp.Int(zi)
		}
		out.SetInt(e, v)
	}
	return out
}

// MatMulInteger is numpy matmul of (A - a_zero_point) and (B - b_zero_point)
// accumulated in int32.
type MatMulInteger struct {
	Packed *QPacked // B packed at compile time
}

func (*MatMulInteger) OpType() string { return "MatMulInteger" }

func (op *MatMulInteger) Infer(in []*Value) ([]Type, error) {
	a, b := in[0], in[1]
	if op.Packed != nil {
		if err := op.Packed.check(b, true); err != nil {
			return nil, err
		}
		b = op.Packed.origValue()
	}
	if !isInt8(a.Type.DType) || !isInt8(b.Type.DType) {
		return nil, NotSupportedf("MatMulInteger of %s and %s", a.Type.DType, b.Type.DType)
	}
	if err := checkMatZeroPoints(a, b, getIn(in, 2), getIn(in, 3)); err != nil {
		return nil, err
	}
	_, _, _, _, out, err := MatMulShapes(a.Type.Shape, b.Type.Shape)
	return Types(Type{Int32, out}), err
}

func checkMatZeroPoints(a, b, za, zb *Value) error {
	if za != nil {
		if za.Type.DType != a.Type.DType {
			return fmt.Errorf("a_zero_point %s must have A's type %s", za.Type, a.Type.DType)
		}
		if _, err := RowParam(za.Type.Shape, a.Type.Shape, true); err != nil {
			return err
		}
	}
	if zb != nil {
		if zb.Type.DType != b.Type.DType {
			return fmt.Errorf("b_zero_point %s must have B's type %s", zb.Type, b.Type.DType)
		}
		if _, err := RowParam(zb.Type.Shape, b.Type.Shape, false); err != nil {
			return err
		}
	}
	return nil
}

// matMulInt computes (A - za) x (B - zb) in int32.
func matMulInt(a, b, za, zb *Tensor) (*Tensor, error) {
	na, nb := 1, 1
	var err error
	if za != nil {
		if na, err = RowParam(za.Shape, a.Shape, true); err != nil {
			return nil, err
		}
	}
	if zb != nil {
		if nb, err = RowParam(zb.Shape, b.Shape, false); err != nil {
			return nil, err
		}
	}
	a32 := zeroShifted(a, za, na, true, Int32)
	b32 := zeroShifted(b, zb, nb, false, Int32)
	out, err := (&MatMul{}).Eval([]*Tensor{a32, b32})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

func (op *MatMulInteger) Eval(in []*Tensor) ([]*Tensor, error) {
	b := in[1]
	if op.Packed != nil {
		b = op.Packed.Unpack(b, true)
	}
	y, err := matMulInt(in[0], b, getT(in, 2), getT(in, 3))
	return []*Tensor{y}, err
}

// Requant holds how an int32 accumulator becomes a quantized output:
// y = saturate(round(acc * (sa*sb/sy) + zy)), the multiplier computed in
// the scales' type and the product in float64, as the ONNX reference does.
type Requant struct {
	Scale DType // type of the scales
	Out   DType // int8 or uint8
}

// Multiplier is round(round(sa*sb)/sy) in the scales' type.
func (r Requant) Multiplier(sa, sb, sy float64) float64 {
	return RoundTo(r.Scale, RoundTo(r.Scale, sa*sb)/sy)
}

// Apply requantizes one accumulator.
func (r Requant) Apply(acc int32, mult float64, zy *Tensor) int64 {
	return QuantizeValue(r.Out, float64(acc)*mult, zy, 0)
}

// QLinearMatMul is MatMulInteger followed by requantization to the output
// scale and zero point. a_scale/a_zero_point may be per row of A,
// b_scale/b_zero_point per column of B; the output's are per tensor.
type QLinearMatMul struct {
	Packed *QPacked // B packed at compile time
}

func (*QLinearMatMul) OpType() string { return "QLinearMatMul" }

func (op *QLinearMatMul) Infer(in []*Value) ([]Type, error) {
	a, sa, za, b, sb, zb, sy, zy := in[0], in[1], getIn(in, 2), in[3], in[4], getIn(in, 5), in[6], getIn(in, 7)
	if op.Packed != nil {
		if err := op.Packed.check(b, true); err != nil {
			return nil, err
		}
		b = op.Packed.origValue()
	}
	if !isInt8(a.Type.DType) || !isInt8(b.Type.DType) {
		return nil, NotSupportedf("QLinearMatMul of %s and %s", a.Type.DType, b.Type.DType)
	}
	if err := checkMatZeroPoints(a, b, za, zb); err != nil {
		return nil, err
	}
	st := sa.Type.DType
	if st != Float32 && st != Float16 && st != BFloat16 {
		return nil, NotSupportedf("QLinearMatMul scales of type %s", st)
	}
	if sb.Type.DType != st || sy.Type.DType != st {
		return nil, fmt.Errorf("QLinearMatMul scales must share one type, got %s, %s and %s", st, sb.Type.DType, sy.Type.DType)
	}
	if _, err := RowParam(sa.Type.Shape, a.Type.Shape, true); err != nil {
		return nil, err
	}
	if _, err := RowParam(sb.Type.Shape, b.Type.Shape, false); err != nil {
		return nil, err
	}
	out := a.Type.DType
	if zy != nil {
		out = zy.Type.DType
		if zy.Type.Shape.Size() != 1 {
			return nil, NotSupportedf("QLinearMatMul output zero point of shape %s (only per-tensor)", zy.Type.Shape)
		}
	}
	if !isInt8(out) {
		return nil, NotSupportedf("QLinearMatMul output of type %s", out)
	}
	if sy.Type.Shape.Size() != 1 {
		return nil, NotSupportedf("QLinearMatMul output scale of shape %s (only per-tensor)", sy.Type.Shape)
	}
	_, _, _, _, shape, err := MatMulShapes(a.Type.Shape, b.Type.Shape)
	return Types(Type{out, shape}), err
}

func (op *QLinearMatMul) Eval(in []*Tensor) ([]*Tensor, error) {
	a, sa, za, b, sb, zb, sy, zy := in[0], in[1], getT(in, 2), in[3], in[4], getT(in, 5), in[6], getT(in, 7)
	if op.Packed != nil {
		b = op.Packed.Unpack(b, true)
	}
	acc, err := matMulInt(a, b, za, zb)
	if err != nil {
		return nil, err
	}
	na, err := RowParam(sa.Shape, a.Shape, true)
	if err != nil {
		return nil, err
	}
	nb, err := RowParam(sb.Shape, b.Shape, false)
	if err != nil {
		return nil, err
	}
	out := a.DType
	if zy != nil {
		out = zy.DType
	}
	r := Requant{Scale: sa.DType, Out: out}
	y := NewTensor(out, acc.Shape)
	_, M, _, N, _, _ := MatMulShapes(a.Shape, b.Shape)
	accs := acc.I32()
	for e := range accs {
		m, n := (e/N)%M, e%N
		mult := r.Multiplier(sa.Float(min(m, na-1)), sb.Float(min(n, nb-1)), sy.Float(0))
		y.SetInt(e, r.Apply(accs[e], mult, zy))
	}
	return []*Tensor{y}, nil
}

// ConvInteger is Conv over (x - x_zero_point) and (w - w_zero_point)
// accumulated in int32; w_zero_point may be per output channel.
type ConvInteger struct {
	Window
	Group  int
	Packed *QPacked // W packed at compile time
}

func (*ConvInteger) OpType() string { return "ConvInteger" }

func (c *ConvInteger) conv() *Conv { return &Conv{Window: c.Window, Group: c.Group} }

// Geometry resolves the window for input x and weight w shapes.
func (c *ConvInteger) Geometry(x, w Shape) (*Geometry, error) { return c.conv().Geometry(x, w) }

func checkConvInt(x, w, zx, zw *Value) error {
	if !isInt8(x.Type.DType) || !isInt8(w.Type.DType) {
		return NotSupportedf("integer convolution of %s and %s", x.Type.DType, w.Type.DType)
	}
	if zx != nil && (zx.Type.DType != x.Type.DType || zx.Type.Shape.Size() != 1) {
		return fmt.Errorf("x_zero_point %s must be one %s value", zx.Type, x.Type.DType)
	}
	if zw != nil {
		if zw.Type.DType != w.Type.DType {
			return fmt.Errorf("w_zero_point %s must have w's type %s", zw.Type, w.Type.DType)
		}
		if n := zw.Type.Shape.Size(); n != 1 && (len(zw.Type.Shape) != 1 || n != w.Type.Shape[0]) {
			return fmt.Errorf("w_zero_point %s must be one value or one per output channel (%d)", zw.Type.Shape, w.Type.Shape[0])
		}
	}
	return nil
}

func (c *ConvInteger) Infer(in []*Value) ([]Type, error) {
	x, w := in[0], in[1]
	if c.Packed != nil {
		if err := c.Packed.check(w, false); err != nil {
			return nil, err
		}
		w = c.Packed.origValue()
	}
	if err := checkConvInt(x, w, getIn(in, 2), getIn(in, 3)); err != nil {
		return nil, err
	}
	g, err := c.Geometry(x.Type.Shape, w.Type.Shape)
	if err != nil {
		return nil, err
	}
	return Types(Type{Int32, append(Shape{x.Type.Shape[0], w.Type.Shape[0]}, g.Out...)}), nil
}

// convInt computes the int32 convolution of (x - zx) and (w - zw) plus bias.
func convInt(c *Conv, x, w, zx, zw, bias *Tensor) (*Tensor, error) {
	xs := zeroShifted(x, zx, 1, false, Float64)
	nw := 1
	if zw != nil {
		nw = zw.Len()
	}
	// Per-output-channel zero points: view w as [M, rest] rows.
	wRows := w.Reshaped(Shape{w.Shape[0], w.Len() / max(1, w.Shape[0])})
	ws := zeroShifted(wRows, zw, nw, true, Float64).Reshaped(w.Shape)
	in := []*Tensor{xs, ws}
	if bias != nil {
		in = append(in, bias.Convert(Float64))
	}
	out, err := c.Eval(in)
	if err != nil {
		return nil, err
	}
	r := NewTensor(Int32, out[0].Shape)
	for i, v := range out[0].F64() {
		r.I32()[i] = int32(int64(v))
	}
	return r, nil
}

func (c *ConvInteger) Eval(in []*Tensor) ([]*Tensor, error) {
	w := in[1]
	if c.Packed != nil {
		w = c.Packed.Unpack(w, false)
	}
	y, err := convInt(c.conv(), in[0], w, getT(in, 2), getT(in, 3), nil)
	return []*Tensor{y}, err
}

// QLinearConv is ConvInteger plus an int32 bias, requantized to the output
// scale and zero point; w_scale and w_zero_point may be per output channel.
type QLinearConv struct {
	Window
	Group  int
	Packed *QPacked // W packed at compile time
}

func (*QLinearConv) OpType() string { return "QLinearConv" }

func (c *QLinearConv) conv() *Conv { return &Conv{Window: c.Window, Group: c.Group} }

// Geometry resolves the window for input x and weight w shapes.
func (c *QLinearConv) Geometry(x, w Shape) (*Geometry, error) { return c.conv().Geometry(x, w) }

func (c *QLinearConv) Infer(in []*Value) ([]Type, error) {
	x, sx, zx, w, sw, zw, sy, zy, b := in[0], in[1], getIn(in, 2), in[3], in[4], getIn(in, 5), in[6], getIn(in, 7), getIn(in, 8)
	if c.Packed != nil {
		if err := c.Packed.check(w, false); err != nil {
			return nil, err
		}
		w = c.Packed.origValue()
	}
	if err := checkConvInt(x, w, zx, zw); err != nil {
		return nil, err
	}
	st := sx.Type.DType
	if st != Float32 {
		return nil, NotSupportedf("QLinearConv scales of type %s", st)
	}
	if sw.Type.DType != st || sy.Type.DType != st {
		return nil, fmt.Errorf("QLinearConv scales must share one type, got %s, %s and %s", st, sw.Type.DType, sy.Type.DType)
	}
	if sx.Type.Shape.Size() != 1 || sy.Type.Shape.Size() != 1 {
		return nil, fmt.Errorf("QLinearConv x_scale %s and y_scale %s must be one value", sx.Type.Shape, sy.Type.Shape)
	}
	if n := sw.Type.Shape.Size(); n != 1 && (len(sw.Type.Shape) != 1 || n != w.Type.Shape[0]) {
		return nil, fmt.Errorf("w_scale %s must be one value or one per output channel (%d)", sw.Type.Shape, w.Type.Shape[0])
	}
	out := x.Type.DType
	if zy != nil {
		out = zy.Type.DType
		if zy.Type.Shape.Size() != 1 || !isInt8(out) {
			return nil, fmt.Errorf("y_zero_point %s must be one int8 or uint8 value", zy.Type)
		}
	}
	if b != nil && (b.Type.DType != Int32 || len(b.Type.Shape) != 1 || b.Type.Shape[0] != w.Type.Shape[0]) {
		return nil, fmt.Errorf("QLinearConv bias %s must be int32 with one value per output channel (%d)", b.Type, w.Type.Shape[0])
	}
	g, err := c.Geometry(x.Type.Shape, w.Type.Shape)
	if err != nil {
		return nil, err
	}
	return Types(Type{out, append(Shape{x.Type.Shape[0], w.Type.Shape[0]}, g.Out...)}), nil
}

func (c *QLinearConv) Eval(in []*Tensor) ([]*Tensor, error) {
	x, sx, zx, w, sw, zw, sy, zy, b := in[0], in[1], getT(in, 2), in[3], in[4], getT(in, 5), in[6], getT(in, 7), getT(in, 8)
	if c.Packed != nil {
		w = c.Packed.Unpack(w, false)
	}
	acc, err := convInt(c.conv(), x, w, zx, zw, b)
	if err != nil {
		return nil, err
	}
	out := x.DType
	if zy != nil {
		out = zy.DType
	}
	r := Requant{Scale: sx.DType, Out: out}
	y := NewTensor(out, acc.Shape)
	M := w.Shape[0]
	per := acc.Len() / max(1, acc.Shape[0]*M)
	for e, v := range acc.I32() {
		m := (e / per) % M
		mult := r.Multiplier(sx.Float(0), sw.Float(min(m, sw.Len()-1)), sy.Float(0))
		y.SetInt(e, r.Apply(v, mult, zy))
	}
	return []*Tensor{y}, nil
}
