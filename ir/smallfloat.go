package ir

import "math"

// Conversions for the floating-point types narrower than float32. float16
// and bfloat16 use bit arithmetic; the 8- and 4-bit types go through a
// decode table, which keeps their many special cases (no infinity, unsigned
// zero, NaN codes) in one place: the decode formula.

// SmallFloatToFloat32 decodes the bits of one element.
func SmallFloatToFloat32(dt DType, bits uint32) float32 {
	switch dt {
	case Float16:
		return f16ToF32(uint16(bits))
	case BFloat16:
		return math.Float32frombits(bits << 16)
	}
	return smallTable(dt).decode[bits]
}

// Float64ToSmallFloat encodes v as ONNX Cast does (round to nearest even;
// round_mode "up" for float8e8m0). With saturate, out-of-range values and
// infinities clamp to the largest finite value, as Cast's saturate=1
// specifies for the float8 types; float4e2m1 always saturates.
func Float64ToSmallFloat(dt DType, v float64, saturate bool) uint32 {
	if dt == Float8E8M0 {
		// The ONNX reference rounds to float32 first and then works on its bits.
		return EncodeE8M0(float32(v), saturate, RoundUp)
	}
	return Float32ToSmallFloat(dt, F64ToF32RoundOdd(v), saturate)
}

// Float32ToSmallFloat is Float64ToSmallFloat for a float32 value.
func Float32ToSmallFloat(dt DType, f float32, saturate bool) uint32 {
	switch dt {
	case Float16:
		return uint32(F32ToF16(f))
	case BFloat16:
		return uint32(F32ToBF16(f))
	case Float8E8M0:
		return EncodeE8M0(f, saturate, RoundUp)
	}
	return smallTable(dt).encode(f, saturate)
}

// F64ToF32RoundOdd rounds v to float32 toward zero and sets the lowest
// mantissa bit when the result is inexact ("round to odd"). Rounding that
// result to nearest even in any format with at least two fewer significand
// bits gives the same answer as rounding v directly, so float64 sources can
// share the float32 encoders without double rounding.
func F64ToF32RoundOdd(v float64) float32 {
	f := float32(v)
	if float64(f) == v || v != v {
		return f
	}
	if math.IsInf(float64(f), 0) {
		// A finite v beyond float32's range truncates to the largest finite
		// value, whose mantissa is already odd.
		return float32(math.Copysign(math.MaxFloat32, v))
	}
	b := math.Float32bits(f)
	if math.Abs(float64(f)) > math.Abs(v) {
		b-- // f rounded away from zero: step its magnitude back
	}
	return math.Float32frombits(b | 1)
}

// RoundMode is Cast's round_mode for float8e8m0 targets.
type RoundMode uint8

const (
	RoundUp      RoundMode = iota // ties and fractions round away from zero
	RoundDown                     // truncate toward zero
	RoundNearest                  // nearest power of two, ties up
)

// ParseRoundMode maps Cast's round_mode attribute.
func ParseRoundMode(s string) (RoundMode, bool) {
	switch s {
	case "up":
		return RoundUp, true
	case "down":
		return RoundDown, true
	case "nearest":
		return RoundNearest, true
	}
	return 0, false
}

func (m RoundMode) String() string { return [...]string{"up", "down", "nearest"}[m] }

// EncodeE8M0 converts to float8e8m0 (a bare power-of-two exponent, 2^(c-127))
// exactly as the ONNX reference does: it works on the float32 exponent field,
// ignores the sign, maps NaN and infinities to the NaN code 0xff and rounds
// the mantissa away according to mode. Without saturate, rounding up past
// the largest exponent gives NaN.
func EncodeE8M0(f float32, saturate bool, mode RoundMode) uint32 {
	b := math.Float32bits(f)
	e := b >> 23 & 0xff
	if e == 0xff {
		return 0xff
	}
	up := false
	switch mode {
	case RoundUp:
		up = b&0x7fffff != 0
	case RoundNearest:
		g, r, s := b&0x400000 != 0, b&0x200000 != 0, b&0x1fffff != 0
		up = g && (r || s || e > 0)
	}
	if up && !(saturate && e == 0xfe) {
		e++
	}
	return e
}

func f16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp == 0:
		if man == 0 {
			return math.Float32frombits(sign)
		}
		f := float32(man) / 1024 / 16384 // man * 2^-24
		if sign != 0 {
			return -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
}

// RoundHalf rounds f to the nearest float16 (ties to even).
func RoundHalf(f float32) float32 { return f16ToF32(F32ToF16(f)) }

// F32ToF16 rounds to nearest even.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff {
		if man != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		man |= 0x800000
		shift := uint(14 - e)
		h := man >> shift
		rem := man & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++
	}
	return sign | uint16(h)
}

// F32ToBF16 rounds to nearest even; NaN stays a quiet NaN.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

type smallFloatTable struct {
	bits     int
	expBits  int
	bias     int
	decode   []float32
	maxCode  uint32 // code of the largest finite positive value
	nanCode  uint32 // what NaN encodes as (ORed with the sign where NaN is signed)
	infCode  uint32 // 0 when the type has no infinity
	unsigned bool   // e8m0: no sign bit
	noNegZ   bool   // fnuz types: -0 encodes as 0
}

var smallTables = map[DType]*smallFloatTable{}

func init() {
	type spec struct {
		dt                      DType
		bits, expBits, bias     int
		fnuz, ieeeInf, noFinNaN bool
	}
	for _, s := range []spec{
		{Float8E4M3FN, 8, 4, 7, false, false, false},
		{Float8E4M3FNUZ, 8, 4, 8, true, false, false},
		{Float8E5M2, 8, 5, 15, false, true, false},
		{Float8E5M2FNUZ, 8, 5, 16, true, false, false},
		{Float4E2M1, 4, 2, 1, false, false, true},
	} {
		t := &smallFloatTable{bits: s.bits, expBits: s.expBits, bias: s.bias, noNegZ: s.fnuz}
		n := 1 << s.bits
		manBits := s.bits - 1 - s.expBits
		t.decode = make([]float32, n)
		for c := 0; c < n; c++ {
			neg := c>>(s.bits-1) == 1
			e := (c >> manBits) & (1<<s.expBits - 1)
			m := c & (1<<manBits - 1)
			var v float64
			if e == 0 {
				v = float64(m) / float64(int(1)<<manBits) * math.Pow(2, float64(1-s.bias))
			} else {
				v = (1 + float64(m)/float64(int(1)<<manBits)) * math.Pow(2, float64(e-s.bias))
			}
			if neg {
				v = -v
			}
			isNaN := false
			switch {
			case s.fnuz && c == n/2:
				isNaN = true
				t.nanCode = uint32(c)
			case s.ieeeInf && e == 1<<s.expBits-1:
				if m == 0 {
					v = math.Inf(1)
					if neg {
						v = math.Inf(-1)
					}
				} else {
					isNaN = true
				}
			case !s.fnuz && !s.ieeeInf && !s.noFinNaN && c&(n/2-1) == n/2-1:
				isNaN = true
			}
			t.decode[c] = float32(v)
			if isNaN {
				t.decode[c] = nanF32(neg)
			}
		}
		switch {
		case s.fnuz:
			t.maxCode = uint32(n/2 - 1)
		case s.ieeeInf:
			t.infCode = uint32(1<<s.expBits-1) << manBits
			t.maxCode = t.infCode - 1
			t.nanCode = t.infCode + 2 // the quiet NaN 0x7e
		case s.noFinNaN:
			// No NaN: ml_dtypes maps NaN to the code of -0.
			t.maxCode = uint32(n/2 - 1)
			t.nanCode = uint32(n / 2)
		default:
			t.maxCode = uint32(n/2 - 2)
			t.nanCode = uint32(n/2 - 1)
		}
		smallTables[s.dt] = t
	}
	// float8 e8m0: 2^(c-127), 0xff is NaN, no sign and no zero.
	t := &smallFloatTable{bits: 8, unsigned: true, maxCode: 0xfe, nanCode: 0xff}
	t.decode = make([]float32, 256)
	for c := range 255 {
		t.decode[c] = float32(math.Pow(2, float64(c-127)))
	}
	t.decode[255] = nanF32(false)
	smallTables[Float8E8M0] = t
}

// nanF32 is a quiet float32 NaN with the given sign.
func nanF32(neg bool) float32 {
	b := uint32(0x7fc00000)
	if neg {
		b |= 1 << 31
	}
	return math.Float32frombits(b)
}

// SmallFloatFormat describes a float8 or float4 encoding (not e8m0) for
// code generators that encode with bit arithmetic.
type SmallFloatFormat struct {
	Bits, ExpBits, ManBits, Bias int
	MaxCode                      uint32 // largest finite positive value
	NaNCode                      uint32 // what NaN encodes as
	SignedNaN                    bool   // NaN keeps the input's sign bit
	InfCode                      uint32 // 0 when there is no infinity
	UnsignedZero                 bool   // fnuz: -0 encodes as +0
}

// SmallFloatFormatOf returns the format of a float8 type other than e8m0, or
// of float4e2m1.
func SmallFloatFormatOf(dt DType) SmallFloatFormat {
	t := smallTable(dt)
	if t.unsigned {
		panic("SmallFloatFormatOf " + dt.String())
	}
	return SmallFloatFormat{
		Bits: t.bits, ExpBits: t.expBits, ManBits: t.bits - 1 - t.expBits, Bias: t.bias,
		MaxCode: t.maxCode, NaNCode: t.nanCode, SignedNaN: !t.noNegZ && t.bits == 8,
		InfCode: t.infCode, UnsignedZero: t.noNegZ,
	}
}

// SmallFloatDecodeTable lists the float32 value of every code of a float8
// or float4 type, indexed by the code; codegen puts it in a lookup table.
func SmallFloatDecodeTable(dt DType) []float32 {
	return append([]float32{}, smallTable(dt).decode...)
}

func smallTable(dt DType) *smallFloatTable {
	t := smallTables[dt]
	if t == nil {
		panic("no small-float table for " + dt.String())
	}
	return t
}

// encode rounds v to nearest even. NaN keeps its sign where the type has
// signed NaNs (the codes ml_dtypes produces for a quiet NaN).
func (t *smallFloatTable) encode(v float32, saturate bool) uint32 {
	signBit := uint32(1) << (t.bits - 1)
	var sign uint32
	if math.Signbit(float64(v)) {
		sign = signBit
		v = -v
	}
	if v != v {
		if t.noNegZ || t.bits == 4 {
			return t.nanCode
		}
		return sign | t.nanCode
	}
	maxV := t.decode[t.maxCode]
	if v > maxV {
		// Beyond the largest finite value: values that still round to it do so.
		next := float64(maxV) + (float64(maxV)-float64(t.decode[t.maxCode-1]))/2
		if float64(v) < next || (float64(v) == next && t.maxCode&1 == 0) {
			return sign | t.maxCode
		}
		switch {
		case saturate || t.bits == 4:
			return sign | t.maxCode
		case t.infCode != 0:
			return sign | t.infCode
		case t.noNegZ:
			return t.nanCode
		default:
			return sign | t.nanCode
		}
	}
	// Nearest code among 0..maxCode (positive values increase with the code).
	lo, hi := uint32(0), t.maxCode
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if t.decode[mid] <= v {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	c := lo
	if c < t.maxCode {
		a, b := float64(t.decode[c]), float64(t.decode[c+1])
		d1, d2 := float64(v)-a, b-float64(v)
		if d2 < d1 || (d2 == d1 && c&1 == 1) {
			c++
		}
	}
	if c == 0 && t.noNegZ {
		sign = 0
	}
	return sign | c
}

// RoundTo rounds v to the nearest value of float dtype dt (for references
// that mimic a lower-precision computation step by step).
func RoundTo(dt DType, v float64) float64 {
	switch dt {
	case Float64:
		return v
	case Float32:
		return float64(float32(v))
	}
	t := NewTensor(dt, Shape{1})
	t.SetFloat(0, v)
	return t.Float(0)
}
