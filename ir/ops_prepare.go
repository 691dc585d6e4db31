package ir

import "fmt"

// PrepareWeights computes a fused kernel's float32 weight layout at run
// time from the weights as the module stores them, so that the module
// keeps them at their stored width (float16) or size (Winograd's 16/9):
//
//   - WeightsPackA, WeightsPackB: input 0 is the packed matrix (PackA or
//     PackB order) in float16; the output is the same in float32.
//   - WeightsWinograd: input 0 is WinogradSource's [panels, C, 9, 4] in
//     float16 or float32; the output is WinogradU's [16, panels, C, 4].
//   - WeightsWinograd4: the same source; the output is WinogradU4's
//     [36, panels, C, 4].
//
// EachRun computes it before every use, into the arena, instead of once at
// the first run into a buffer of its own (opt's memory plan decides).
type PrepareWeights struct {
	Layout  WeightLayout
	EachRun bool
}

func (*PrepareWeights) OpType() string { return "PrepareWeights" }

// Unfolded: the point is not to store the result.
func (*PrepareWeights) Unfolded() {}

func (p *PrepareWeights) Infer(in []*Value) ([]Type, error) {
	t := in[0].Type
	if t.DType != Float16 && t.DType != Float32 {
		return nil, fmt.Errorf("PrepareWeights of %s", t.DType)
	}
	switch p.Layout {
	case WeightsPackA, WeightsPackB:
		if t.DType != Float16 {
			return nil, fmt.Errorf("PrepareWeights: packed weights must be float16, got %s", t.DType)
		}
		return Types(Type{Float32, t.Shape}), nil
	case WeightsWinograd, WeightsWinograd4:
		if len(t.Shape) != 4 || t.Shape[2] != 9 || t.Shape[3] != 4 {
			return nil, fmt.Errorf("PrepareWeights: Winograd source must be [panels, C, 9, 4], got %s", t.Shape)
		}
		a := p.Layout.WinogradTile() + 2
		return Types(Type{Float32, Shape{a * a, t.Shape[0], t.Shape[1], 4}}), nil
	}
	return nil, fmt.Errorf("PrepareWeights: layout %d", p.Layout)
}

func (p *PrepareWeights) Eval(in []*Tensor) ([]*Tensor, error) {
	if tile := p.Layout.WinogradTile(); tile > 0 {
		return []*Tensor{winogradFromSource(in[0], tile)}, nil
	}
	return []*Tensor{CastTensor(in[0], Float32, false, RoundNearest)}, nil
}

// WinogradSource lays 3x3 weights [M, C, 3, 3] out as [ceil(M/4), C, 9, 4]
// in their own dtype: for each panel of 4 output channels and each input
// channel, the 9 taps, each as 4 lanes (one per output channel, zero
// padded). A run-time transform reads one tap of four channels with one
// load and writes WinogradU's PackA rows four lanes at a time.
func WinogradSource(w *Tensor) *Tensor {
	M, C := w.Shape[0], w.Shape[1]
	out := NewTensor(w.DType, WinogradSourceShape(M, C))
	es := w.DType.Bytes(1)
	for m := 0; m < M; m++ {
		for c := 0; c < C; c++ {
			for t := 0; t < 9; t++ {
				src := ((m*C+c)*9 + t) * es
				dst := (((m/4*C+c)*9+t)*4 + m%4) * es
				copy(out.Data[dst:dst+es], w.Data[src:src+es])
			}
		}
	}
	return out
}

// WinogradU transforms 3x3 weights [M, C, 3, 3] into F(2x2,3x3)'s 4x4
// domain, laid out as 16 consecutive PackA(M, C) matrices.
func WinogradU(w *Tensor) *Tensor { return winogradFromSource(WinogradSource(w), 2) }

// WinogradU4 transforms 3x3 weights [M, C, 3, 3] into F(4x4,3x3)'s 6x6
// domain, laid out as 36 consecutive PackA(M, C) matrices.
func WinogradU4(w *Tensor) *Tensor { return winogradFromSource(WinogradSource(w), 4) }

// winogradFromSource computes U = G g G^T in float32 for each (m, c) for
// output tiles of side tile (2: WinogradTransform, 4: WinogradTransform4),
// in the order of the run-time kernel (codegen's PrepareWeights), so that
// both give the same bits.
func winogradFromSource(src *Tensor, tile int) *Tensor {
	panels, C := src.Shape[0], src.Shape[1]
	s := CastTensor(src, Float32, false, RoundNearest).F32()
	a := tile + 2
	out := NewTensor(Float32, Shape{a * a, panels, C, 4})
	d := out.F32()
	stride := panels * C * 4
	for pc := 0; pc < panels*C; pc++ {
		for r := 0; r < 4; r++ {
			var g [9]float32
			for t := range g {
				g[t] = s[(pc*9+t)*4+r]
			}
			apply := winogradG2
			if tile == 4 {
				apply = winogradG4
			}
			for xi, v := range winogradTransform(g, tile+2, apply) {
				d[xi*stride+pc*4+r] = v
			}
		}
	}
	return out
}

// WinogradTransform is U = G g G^T for one 3x3 kernel g (row-major), in
// float32 in a fixed order (that of the run-time kernel), with
// G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]: rows first (t = G g), then
// columns (U = t G^T), each as e = a+c, (e+b)*0.5, (e-b)*0.5.
func WinogradTransform(g [9]float32) [16]float32 {
	return [16]float32(winogradTransform(g, 4, winogradG2))
}

// winogradG2 applies F(2x2,3x3)'s G to (a, b, c) in the run-time kernel's
// float32 operations.
func winogradG2(a, b, c float32) []float32 {
	e := a + c
	return []float32{a, (e + b) * 0.5, (e - b) * 0.5, c}
}

// winogradTransform is G g G^T for the rows x 3 matrix G that apply
// multiplies by: columns of g first (t = G g), then rows of t.
func winogradTransform(g [9]float32, rows int, apply func(a, b, c float32) []float32) []float32 {
	t := make([][3]float32, rows)
	for j := 0; j < 3; j++ {
		for i, v := range apply(g[j], g[3+j], g[6+j]) {
			t[i][j] = v
		}
	}
	u := make([]float32, 0, rows*rows)
	for _, r := range t {
		u = append(u, apply(r[0], r[1], r[2])...)
	}
	return u
}

// F(4x4,3x3) with the interpolation points 0, 1, -1, 2, -2 and infinity
// (Lavin and Gray): the points of smallest magnitude whose transform
// entries are exact in float32 but G's sixths (docs/design.md, "Winograd
// F(4x4,3x3)"). Y = A^T [(G g G^T) .* (B^T d B)] A on 6x6 input tiles.
var (
	WinogradG4 = [6][3]float64{
		{1.0 / 4, 0, 0},
		{-1.0 / 6, -1.0 / 6, -1.0 / 6},
		{-1.0 / 6, 1.0 / 6, -1.0 / 6},
		{1.0 / 24, 1.0 / 12, 1.0 / 6},
		{1.0 / 24, -1.0 / 12, 1.0 / 6},
		{0, 0, 1},
	}
	WinogradBT4 = [6][6]float64{
		{4, 0, -5, 0, 1, 0},
		{0, -4, -4, 1, 1, 0},
		{0, 4, -4, -1, 1, 0},
		{0, -2, -1, 2, 1, 0},
		{0, 2, -1, -2, 1, 0},
		{0, 4, 0, -5, 0, 1},
	}
	WinogradAT4 = [4][6]float64{
		{1, 1, 1, 1, 1, 0},
		{0, 1, -1, 2, -2, 0},
		{0, 1, 1, 4, 4, 0},
		{0, 1, -1, 8, -8, 1},
	}
)

// winogradG4 applies WinogradG4 to (a, b, c) in the run-time kernel's
// float32 operations: a/4; (a+c+b)*-1/6, (a+c-b)*-1/6; (a/4+c+b/2)/6,
// (a/4+c-b/2)/6; c.
func winogradG4(a, b, c float32) []float32 {
	const sixth, minusSixth = float32(1.0 / 6), float32(-1.0 / 6)
	q := a * 0.25
	e := a + c
	t := q + c
	h := b * 0.5
	return []float32{q, (e + b) * minusSixth, (e - b) * minusSixth, (t + h) * sixth, (t - h) * sixth, c}
}

// WinogradTransform4 is F(4x4,3x3)'s U = G g G^T for one 3x3 kernel g
// (row-major) in float32, rows first (t = G g), then columns (U = t G^T),
// each through winogradG4.
func WinogradTransform4(g [9]float32) [36]float32 {
	return [36]float32(winogradTransform(g, 6, winogradG4))
}

// WinogradSourceShape is WinogradSource's shape for M output and C input
// channels: [ceil(M/4), C, 9, 4].
func WinogradSourceShape(M, C int) Shape { return Shape{(M + 3) / 4, C, 9, 4} }
