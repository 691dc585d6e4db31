package codegen_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mlc-compiler/mlc/ir"
)

// mathInputs mixes ordinary values, ones near the functions' special
// points, huge arguments and non-finite values.
func mathInputs(r *rand.Rand) []float64 {
	in := []float64{0, math.Copysign(0, -1), 1, -1, 0.5, -0.5, 1e-8, -1e-8, 0.999999, -0.999999, 1.000001,
		math.Pi / 2, math.Pi, 3 * math.Pi / 2, 1e3, 4095.5, 4096.5, 6433, 1e5, 1e6 - 1, 1e6 + 1, 1e7, 1e10, 1e22,
		-1e22, 3.4e38, -3.4e38, 88, 89, 90, -89, 710, 1e30, math.Inf(1), math.Inf(-1), math.NaN()}
	for range 300 {
		in = append(in, (r.Float64()*2-1)*math.Pow(10, r.Float64()*12-4))
	}
	for range 40 {
		in = append(in, r.Float64()*2-1)
	}
	return in
}

// TestMathFunctions checks the Wasm math against Go's for f32 (scalar and
// f32x4) and f64: within 4e-6 relative (plus a few ulp absolute near
// zeros) for float32, 1e-12 for float64.
func TestMathFunctions(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	in := mathInputs(r)
	fns := []ir.UnaryFn{ir.FnSin, ir.FnCos, ir.FnTan, ir.FnAsin, ir.FnAcos, ir.FnAtan, ir.FnSinh, ir.FnCosh,
		ir.FnAsinh, ir.FnAcosh, ir.FnAtanh, ir.FnExp, ir.FnLog, ir.FnTanh, ir.FnErf, ir.FnSigmoid}
	for _, dt := range []ir.DType{ir.Float32, ir.Float64} {
		x := ir.NewTensor(dt, ir.Shape{len(in)})
		for i, v := range in {
			x.SetFloat(i, v)
		}
		for _, fn := range fns {
			op := &ir.Unary{Fn: fn}
			want, err := op.Eval([]*ir.Tensor{x})
			if err != nil {
				t.Fatal(err)
			}
			for _, simd := range []bool{true, false} {
				got := runOneNode(t, op, simd, x)[0]
				bad := 0
				for i := range in {
					g, w, xi := got.Float(i), want[0].Float(i), x.Float(i)
					rtol, atol := 4e-6, 1e-37
					if dt == ir.Float64 {
						rtol, atol = 1e-12, 1e-300
					}
					// Near a zero of the function the result's size is set by
					// the argument's rounding: allow an absolute ulp of x.
					if fn == ir.FnSin || fn == ir.FnCos || fn == ir.FnTan {
						atol = max(atol, math.Abs(xi)*rtol*1e-3)
					}
					if fn == ir.FnTan && math.Abs(w) > 1e3 { // pole: relative to the derivative
						rtol *= math.Abs(w)
					}
					ok := (math.IsNaN(g) && math.IsNaN(w)) || g == w || math.Abs(g-w) <= atol+rtol*math.Abs(w)
					if !ok && bad < 5 {
						bad++
						t.Errorf("%s %s simd=%v: f(%g) = %g, want %g (rel %.2g)", fn, dt, simd, xi, g, w, math.Abs(g-w)/math.Abs(w))
					}
				}
			}
		}
	}
}
