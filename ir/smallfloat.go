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

// Float64ToSmallFloat encodes v with round-to-nearest-even. With saturate,
// out-of-range finite values (and infinities, for types without them) clamp
// to the largest finite value, as ONNX Cast's saturate=1 specifies.
func Float64ToSmallFloat(dt DType, v float64, saturate bool) uint32 {
	switch dt {
	case Float16:
		return uint32(F32ToF16(float32(v)))
	case BFloat16:
		return uint32(F32ToBF16(float32(v)))
	}
	return smallTable(dt).encode(float32(v), saturate)
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
	decode   []float32
	maxCode  uint32 // code of the largest finite positive value
	nanCode  uint32
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
		t := &smallFloatTable{bits: s.bits, noNegZ: s.fnuz}
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
			switch {
			case s.fnuz && c == n/2:
				v = math.NaN()
				t.nanCode = uint32(c)
			case s.ieeeInf && e == 1<<s.expBits-1:
				if m == 0 {
					v = math.Inf(1)
					if neg {
						v = math.Inf(-1)
					}
				} else {
					v = math.NaN()
				}
			case !s.fnuz && !s.ieeeInf && !s.noFinNaN && c&(n/2-1) == n/2-1:
				v = math.NaN()
			}
			t.decode[c] = float32(v)
		}
		switch {
		case s.fnuz:
			t.maxCode = uint32(n/2 - 1)
		case s.ieeeInf:
			t.infCode = uint32(1<<s.expBits-1) << manBits
			t.maxCode = t.infCode - 1
			t.nanCode = t.infCode + 1
		case s.noFinNaN:
			t.maxCode = uint32(n/2 - 1)
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
	t.decode[255] = float32(math.NaN())
	smallTables[Float8E8M0] = t
}

func smallTable(dt DType) *smallFloatTable {
	t := smallTables[dt]
	if t == nil {
		panic("no small-float table for " + dt.String())
	}
	return t
}

func (t *smallFloatTable) encode(v float32, saturate bool) uint32 {
	signBit := uint32(1) << (t.bits - 1)
	if v != v {
		if t.bits == 4 {
			return 0 // float4 has no NaN; ONNX maps NaN to +0... documented as undefined
		}
		return t.nanCode
	}
	var sign uint32
	if math.Signbit(float64(v)) && !t.unsigned {
		sign = signBit
		v = -v
	}
	if t.unsigned && v <= 0 {
		return 0 // smallest value 2^-127
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
		case t.noNegZ || t.unsigned:
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
