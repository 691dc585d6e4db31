package ir

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// TestFloat64ToNarrowRoundsOnce checks float64 -> float16/bfloat16 against
// exact big.Float rounding, with values at and next to the halfway points
// where rounding through float32 first would round twice.
func TestFloat64ToNarrowRoundsOnce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		dt   DType
		prec uint
	}{{Float16, 11}, {BFloat16, 8}} {
		for range 20000 {
			// a value of prec+1 significant bits (a halfway point) nudged by
			// less than a float32 ulp, in the normal range of both formats
			m := float64(r.IntN(1<<c.prec) | 1<<c.prec)
			v := math.Ldexp(m, r.IntN(20)-10-int(c.prec))
			v += v * math.Ldexp(float64(r.IntN(5)-2), -40)
			if r.IntN(2) == 0 {
				v = -v
			}
			want, _ := new(big.Float).SetMode(big.ToNearestEven).SetPrec(c.prec).SetFloat64(v).Float32()
			got := SmallFloatToFloat32(c.dt, Float64ToSmallFloat(c.dt, v, true))
			if got != want {
				t.Fatalf("%s(%v) = %v, want %v", c.dt, v, got, want)
			}
		}
	}
}

func TestF64ToF32RoundOdd(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want float32
	}{
		{1, 1},
		{1 + math.Ldexp(1, -30), math.Float32frombits(0x3f800001)},
		{1 - math.Ldexp(1, -30), math.Float32frombits(0x3f7fffff)},
		{-(1 + math.Ldexp(1, -24)), -math.Float32frombits(0x3f800001)}, // a float32 tie stays odd
		{1e300, math.MaxFloat32},
		{-1e300, -math.MaxFloat32},
		{math.Inf(-1), float32(math.Inf(-1))},
		{1e-300, math.Float32frombits(1)},
	} {
		if got := F64ToF32RoundOdd(c.in); math.Float32bits(got) != math.Float32bits(c.want) {
			t.Errorf("F64ToF32RoundOdd(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestEncodeE8M0(t *testing.T) {
	for _, c := range []struct {
		in   float32
		sat  bool
		mode RoundMode
		want uint32
	}{
		{1, true, RoundUp, 127},
		{1.1, true, RoundUp, 128},
		{1.1, true, RoundDown, 127},
		{1.4, true, RoundNearest, 127},
		{1.5, true, RoundNearest, 128},
		{0.124, true, RoundUp, 124},
		{0, true, RoundUp, 0},
		{-4, true, RoundUp, 129}, // the sign is ignored
		{float32(math.Inf(1)), true, RoundUp, 0xff},
		{math.MaxFloat32, true, RoundUp, 0xfe},
		{math.MaxFloat32, false, RoundUp, 0xff},
	} {
		if got := EncodeE8M0(c.in, c.sat, c.mode); got != c.want {
			t.Errorf("EncodeE8M0(%v, %v, %v) = %#x, want %#x", c.in, c.sat, c.mode, got, c.want)
		}
	}
}

func TestCastStrings(t *testing.T) {
	s := NewTensor(String, Shape{6})
	copy(s.Strings, []string{"3.14", "1000", "1e-5", "-INF", "NaN", "+inf"})
	f := CastTensor(s, Float32, true, RoundUp).F32()
	want := []float32{3.14, 1000, 1e-5, float32(math.Inf(-1)), float32(math.NaN()), float32(math.Inf(1))}
	for i := range want {
		if f[i] != want[i] && !(f[i] != f[i] && want[i] != want[i]) {
			t.Errorf("string %q -> %v, want %v", s.Strings[i], f[i], want[i])
		}
	}
	if got := CastTensor(s, Int64, true, RoundUp).I64()[1]; got != 1000 {
		t.Errorf("\"1000\" -> int64 %d", got)
	}
	x := TensorF32(Shape{5}, 0.47892547, 1e6, 1e-5, float32(math.Inf(-1)), 2)
	out := CastTensor(x, String, true, RoundUp).Strings
	for i, w := range []string{"0.47892547", "1000000.0", "1e-05", "-inf", "2.0"} {
		if out[i] != w {
			t.Errorf("%v -> %q, want %q", x.F32()[i], out[i], w)
		}
	}
}

func TestCastLikeTargetFromInput(t *testing.T) {
	x := NewInput("x", Type{Float32, Shape{2}})
	like := NewInput("like", Type{Int8, Shape{}})
	op := &Cast{Saturate: true}
	types, err := op.Infer([]*Value{x, like})
	if err != nil || types[0].DType != Int8 {
		t.Fatalf("Infer = %v, %v; want int8", types, err)
	}
	out, err := op.Eval([]*Tensor{TensorF32(Shape{2}, 3.7, -200), NewTensor(Int8, Shape{})})
	if err != nil || out[0].DType != Int8 || out[0].Int(0) != 3 || out[0].Int(1) != 56 {
		t.Fatalf("Eval = %v, %v", out, err)
	}
}

func TestCastToStringShortest(t *testing.T) {
	h := NewTensor(Float16, Shape{3})
	for i, v := range []float64{0.1, 65504, 1e-5} {
		h.SetFloat(i, v)
	}
	for i, w := range []string{"0.1", "65500.0", "1e-05"} {
		if got := CastTensor(h, String, true, RoundUp).Strings[i]; got != w {
			t.Errorf("float16 %v -> %q, want %q", h.Float(i), got, w)
		}
	}
	d := FromFloats(Float64, Shape{2}, []float64{0.1, 1e300})
	for i, w := range []string{"0.1", "1e+300"} {
		if got := CastTensor(d, String, true, RoundUp).Strings[i]; got != w {
			t.Errorf("float64 %v -> %q, want %q", d.Float(i), got, w)
		}
	}
}
