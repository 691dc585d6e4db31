package codegen_test

import (
	"math"
	"testing"

	"github.com/mlc-compiler/mlc/ir"
)

// TestSigmoidTanhF32 checks the float32 sigmoid and tanh (scalar and
// f32x4) against float64 on a dense sweep: within 3 ulp; results below
// float32's normal range may be 0.
func TestSigmoidTanhF32(t *testing.T) {
	var in []float32
	for i := -200000; i <= 200000; i++ {
		in = append(in, float32(i)*1e-4, float32(i)*5e-4)
	}
	for e := -45; e <= 38; e++ {
		for _, m := range []float64{1, 1.7, 3.3, 8.9} {
			v := float32(m * math.Pow(10, float64(e)))
			in = append(in, v, -v)
		}
	}
	in = append(in, 0, float32(math.Copysign(0, -1)), 87.336, -87.336, 87.34, -87.34, 9.9, 10, 10.1, -10.1,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()))
	x := ir.NewTensor(ir.Float32, ir.Shape{len(in)})
	copy(x.F32(), in)
	fns := map[ir.UnaryFn]func(float64) float64{
		ir.FnSigmoid: func(v float64) float64 { return 1 / (1 + math.Exp(-v)) },
		ir.FnTanh:    math.Tanh,
	}
	for _, fn := range []ir.UnaryFn{ir.FnSigmoid, ir.FnTanh} {
		for _, simd := range []bool{true, false} {
			got := runOneNode(t, &ir.Unary{Fn: fn}, simd, x)[0].F32()
			bad, worst := 0, 0.0
			for i, v := range in {
				want := fns[fn](float64(v))
				g := float64(got[i])
				if math.IsNaN(want) {
					if !math.IsNaN(g) {
						t.Errorf("%s simd=%v: f(%g) = %g, want NaN", fn, simd, v, g)
					}
					continue
				}
				w32 := float32(want)
				ulp := float64(math.Nextafter32(float32(math.Abs(want)), float32(math.Inf(1)))) - math.Abs(float64(w32))
				if math.Abs(want) >= 0x1p-126 {
					worst = max(worst, math.Abs(g-want)/ulp)
				}
				if math.Abs(g-want) > max(3*ulp, 0x1p-126) || math.Signbit(g) != math.Signbit(want) {
					if bad++; bad <= 5 {
						t.Errorf("%s simd=%v: f(%g) = %g, want %g (%.1f ulp)", fn, simd, v, g, want, math.Abs(g-want)/ulp)
					}
				}
			}
			t.Logf("%s simd=%v: max error %.2f ulp", fn, simd, worst)
		}
	}
}
