package ir

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Type conversions: Cast (CastLike imports as Cast) and BitCast.

// Cast converts every element to To. Saturate applies to float8 targets;
// RoundMode to float8e8m0 targets. To == Invalid casts to the dtype of
// input 1 (CastLike whose target is not typed while importing, inside a
// subgraph).
type Cast struct {
	To        DType
	Saturate  bool
	RoundMode RoundMode
}

func (*Cast) OpType() string { return "Cast" }

func (c *Cast) target(in1 *Value) (DType, error) {
	to := c.To
	if to == Invalid && in1 != nil {
		to = in1.Type.DType
	}
	if to == Invalid || to >= numDTypes {
		return 0, fmt.Errorf("Cast to invalid dtype %d", to)
	}
	return to, nil
}

func (c *Cast) Infer(in []*Value) ([]Type, error) {
	to, err := c.target(getIn(in, 1))
	return Types(Type{to, in[0].Type.Shape}), err
}

func (c *Cast) Eval(in []*Tensor) ([]*Tensor, error) {
	to := c.To
	if to == Invalid && getT(in, 1) != nil {
		to = in[1].DType
	}
	return []*Tensor{CastTensor(in[0], to, c.Saturate, c.RoundMode)}, nil
}

// CastTensor converts x element-wise to dt with ONNX Cast semantics:
//   - float to float rounds to nearest even (float64 sources without double
//     rounding); overflow gives infinity, or for float8 the saturate rules,
//     and for float8e8m0 the round_mode rules;
//   - float to integer truncates toward zero (out of range: saturated to
//     int64, then wrapped; NaN gives 0; ONNX leaves both undefined);
//   - integer to integer wraps to the target width, as two's complement;
//   - anything to bool is "not zero" (NaN is true), bool to numbers is 0/1;
//   - strings parse as numbers, and numbers print as numpy's str() does;
//   - a cast to the same dtype copies (as onnxruntime does; the reference
//     would clamp float8e5m2 infinities under saturate).
func CastTensor(x *Tensor, dt DType, saturate bool, mode RoundMode) *Tensor {
	if x.DType == dt {
		return x.Clone()
	}
	out := NewTensor(dt, x.Shape)
	n := x.Len()
	src := x.DType
	switch {
	case src == String:
		for i := 0; i < n; i++ {
			castFromString(out, i, x.Strings[i], saturate, mode)
		}
	case dt == String:
		for i := 0; i < n; i++ {
			out.Strings[i] = formatElem(x, i)
		}
	case src.IsFloat():
		for i := 0; i < n; i++ {
			castFloat(out, i, x.Float(i), src == Float64, saturate, mode)
		}
	case src == Uint64:
		for i := 0; i < n; i++ {
			u := x.Uint(i)
			switch {
			case dt == Float64:
				out.SetFloat(i, float64(u))
			case dt.IsFloat():
				setF32(out, i, float32(u), saturate, mode)
			default:
				out.SetInt(i, int64(u))
			}
		}
	default: // signed, unsigned below 64 bits, bool
		for i := 0; i < n; i++ {
			v := x.Int(i)
			switch {
			case dt == Float64:
				out.SetFloat(i, float64(v))
			case dt.IsFloat():
				setF32(out, i, float32(v), saturate, mode)
			default:
				out.SetInt(i, v)
			}
		}
	}
	return out
}

// castFloat stores float value v (exact in float64; wide says whether it came
// from float64 and may need rounding to narrower floats).
func castFloat(out *Tensor, i int, v float64, wide, saturate bool, mode RoundMode) {
	dt := out.DType
	switch {
	case dt == Float64:
		out.SetFloat(i, v)
	case dt == Float32:
		out.SetFloat(i, float64(float32(v)))
	case dt == Float8E8M0:
		out.setRawSmall(i, EncodeE8M0(float32(v), saturate, mode))
	case dt.IsFloat():
		f := float32(v)
		if wide {
			f = F64ToF32RoundOdd(v)
		}
		setF32(out, i, f, saturate, mode)
	case dt == Bool:
		out.SetInt(i, b2i(v != 0))
	case dt == Uint64:
		out.SetUint(i, FloatToUint64(v))
	default:
		out.SetInt(i, FloatToInt64(v))
	}
}

// setF32 stores a float32 value into a float tensor narrower than float64.
func setF32(out *Tensor, i int, f float32, saturate bool, mode RoundMode) {
	switch out.DType {
	case Float32:
		out.SetFloat(i, float64(f))
	case Float8E8M0:
		out.setRawSmall(i, EncodeE8M0(f, saturate, mode))
	default:
		out.setRawSmall(i, Float32ToSmallFloat(out.DType, f, saturate))
	}
}

// castFromString parses s as a number of the target type. Integers parse
// exactly; anything else goes through float64 ("1e-5", "INF", "-inf", "NaN").
// Text that is no number is undefined behaviour in ONNX; it gives 0 here.
func castFromString(out *Tensor, i int, s string, saturate bool, mode RoundMode) {
	s = strings.TrimSpace(s)
	dt := out.DType
	if dt.IsInt() || dt == Bool {
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			out.SetInt(i, v)
			return
		}
		if v, err := strconv.ParseUint(s, 10, 64); err == nil {
			out.SetUint(i, v)
			return
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil && !math.IsInf(v, 0) {
		v = 0
	}
	castFloat(out, i, v, true, saturate, mode)
}

// formatElem prints element i as numpy's str() does for its dtype.
func formatElem(x *Tensor, i int) string {
	switch dt := x.DType; {
	case dt == Bool:
		if x.Int(i) != 0 {
			return "True"
		}
		return "False"
	case dt == Uint64:
		return strconv.FormatUint(x.Uint(i), 10)
	case dt.IsInt():
		return strconv.FormatInt(x.Int(i), 10)
	case dt == Float32:
		return formatFloat(x.Float(i), func(v float64) bool { return float32(v) == float32(x.Float(i)) })
	case dt == Float16:
		code := x.rawSmall(i)
		return formatFloat(x.Float(i), func(v float64) bool { return Float64ToSmallFloat(Float16, v, true) == code })
	default:
		// float64, and the ml_dtypes types, which print their value as a
		// Python float.
		return formatFloat(x.Float(i), func(v float64) bool { return v == x.Float(i) })
	}
}

// formatFloat prints the fewest significant digits that read back as v
// (same reports that), positionally with at least one decimal when
// 1e-4 <= |v| < 1e16 and in scientific notation otherwise, like numpy.
func formatFloat(v float64, same func(float64) bool) string {
	switch {
	case math.IsNaN(v):
		return "nan"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	prec := 1
	for ; prec < 17; prec++ {
		if r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'e', prec-1, 64), 64); err == nil && same(r) {
			break
		}
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'e', prec-1, 64), 64)
	a := math.Abs(v)
	if a == 0 || (a >= 1e-4 && a < 1e16) {
		s := strconv.FormatFloat(r, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	return strconv.FormatFloat(r, 'e', -1, 64) // "1e-05", "1.5e+16" as numpy
}

// BitCast reinterprets the bytes of its input as another dtype of the same
// width: the output is the input's memory.
type BitCast struct{ To DType }

func (*BitCast) OpType() string { return "BitCast" }
func (*BitCast) AliasesInput()  {}

func (b *BitCast) Infer(in []*Value) ([]Type, error) {
	from := in[0].Type.DType
	if from == String || b.To == String {
		return nil, fmt.Errorf("BitCast does not take strings")
	}
	if b.To == Invalid || b.To >= numDTypes {
		return nil, fmt.Errorf("BitCast to invalid dtype %d", b.To)
	}
	if from.Bits() != b.To.Bits() {
		return nil, fmt.Errorf("BitCast from %s (%d bits) to %s (%d bits): widths differ", from, from.Bits(), b.To, b.To.Bits())
	}
	return Types(Type{b.To, in[0].Type.Shape}), nil
}

func (b *BitCast) Eval(in []*Tensor) ([]*Tensor, error) {
	t, err := TensorFromBytes(b.To, in[0].Shape, in[0].Data)
	return []*Tensor{t}, err
}
