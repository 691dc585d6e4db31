package ir

import (
	"math"
	"math/rand"
	"testing"
)

// TestWinogradF4: one F(4x4,3x3) tile through the transforms (WinogradBT4,
// WinogradTransform4's U in float32, WinogradAT4) gives the direct 3x3
// correlation of its 6x6 input, and WinogradTransform4 is G g G^T.
func TestWinogradF4(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	worst := 0.0
	defer func() { t.Logf("largest error: %.2g of the terms' absolute sum", worst) }()
	for trial := 0; trial < 200; trial++ {
		var g [9]float32
		var d [6][6]float64
		for i := range g {
			g[i] = float32(r.NormFloat64())
		}
		for i := range d {
			for j := range d[i] {
				d[i][j] = r.NormFloat64()
			}
		}
		u := WinogradTransform4(g)
		for i := 0; i < 6; i++ {
			for j := 0; j < 6; j++ {
				want := 0.0
				for a := 0; a < 3; a++ {
					for b := 0; b < 3; b++ {
						want += WinogradG4[i][a] * float64(g[a*3+b]) * WinogradG4[j][b]
					}
				}
				if got := float64(u[i*6+j]); math.Abs(got-want) > 1e-6*(1+math.Abs(want)) {
					t.Fatalf("U[%d][%d] = %g, want G g G^T = %g", i, j, got, want)
				}
			}
		}
		var v, m [6][6]float64
		for i := 0; i < 6; i++ {
			for j := 0; j < 6; j++ {
				for a := 0; a < 6; a++ {
					for b := 0; b < 6; b++ {
						v[i][j] += WinogradBT4[i][a] * d[a][b] * WinogradBT4[j][b]
					}
				}
				m[i][j] = v[i][j] * float64(u[i*6+j])
			}
		}
		for y := 0; y < 4; y++ {
			for x := 0; x < 4; x++ {
				got, want, scale := 0.0, 0.0, 0.0
				for a := 0; a < 6; a++ {
					for b := 0; b < 6; b++ {
						got += WinogradAT4[y][a] * m[a][b] * WinogradAT4[x][b]
					}
				}
				for a := 0; a < 3; a++ {
					for b := 0; b < 3; b++ {
						p := d[y+a][x+b] * float64(g[a*3+b])
						want += p
						scale += math.Abs(p)
					}
				}
				// U in float32 (relative 6e-8) is amplified by A's and B's
				// entries (up to 8 and 5): a few 1e-6 of the terms' sum.
				worst = max(worst, math.Abs(got-want)/scale)
				if math.Abs(got-want) > 2e-5*scale {
					t.Fatalf("trial %d: Y[%d][%d] = %g, want the direct %g", trial, y, x, got, want)
				}
			}
		}
	}
}

// TestWinogradU4Layout: WinogradU4 puts U of output channel m and input
// channel c at [xi, m/4, c, m%4].
func TestWinogradU4Layout(t *testing.T) {
	M, C := 5, 3
	w := NewTensor(Float32, Shape{M, C, 3, 3})
	for i, d := 0, w.F32(); i < len(d); i++ {
		d[i] = float32(i%7) - 3
	}
	got := WinogradU4(w).F32()
	panels := (M + 3) / 4
	for m := 0; m < M; m++ {
		for c := 0; c < C; c++ {
			var g [9]float32
			copy(g[:], w.F32()[(m*C+c)*9:])
			u := WinogradTransform4(g)
			for xi, want := range u {
				if v := got[((xi*panels+m/4)*C+c)*4+m%4]; v != want {
					t.Fatalf("U4[%d] of (%d, %d) = %g, want %g", xi, m, c, v, want)
				}
			}
		}
	}
}
