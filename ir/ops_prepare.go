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
	case WeightsWinograd:
		if len(t.Shape) != 4 || t.Shape[2] != 9 || t.Shape[3] != 4 {
			return nil, fmt.Errorf("PrepareWeights: Winograd source must be [panels, C, 9, 4], got %s", t.Shape)
		}
		return Types(Type{Float32, Shape{16, t.Shape[0], t.Shape[1], 4}}), nil
	}
	return nil, fmt.Errorf("PrepareWeights: layout %d", p.Layout)
}

func (p *PrepareWeights) Eval(in []*Tensor) ([]*Tensor, error) {
	if p.Layout == WeightsWinograd {
		return []*Tensor{winogradFromSource(in[0])}, nil
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
	panels := (M + 3) / 4
	out := NewTensor(w.DType, Shape{panels, C, 9, 4})
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
func WinogradU(w *Tensor) *Tensor { return winogradFromSource(WinogradSource(w)) }

// winogradFromSource computes U = G g G^T in float32 for each (m, c), with
// G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1], in the order of the run-time
// kernel (codegen's PrepareWeights), so that both give the same bits: rows
// first (t = G g), then columns (U = t G^T), each as e = a+c,
// (e+b)*0.5, (e-b)*0.5.
func winogradFromSource(src *Tensor) *Tensor {
	panels, C := src.Shape[0], src.Shape[1]
	s := CastTensor(src, Float32, false, RoundNearest).F32()
	out := NewTensor(Float32, Shape{16, panels, C, 4})
	d := out.F32()
	stride := panels * C * 4
	for pc := 0; pc < panels*C; pc++ {
		for r := 0; r < 4; r++ {
			var g [9]float32
			for t := range g {
				g[t] = s[(pc*9+t)*4+r]
			}
			u := WinogradTransform(g)
			for xi, v := range u {
				d[xi*stride+pc*4+r] = v
			}
		}
	}
	return out
}

// WinogradTransform is U = G g G^T for one 3x3 kernel g (row-major), in
// float32 in a fixed order (see winogradFromSource).
func WinogradTransform(g [9]float32) [16]float32 {
	three := func(a, b, c float32) [4]float32 {
		e := a + c
		return [4]float32{a, (e + b) * 0.5, (e - b) * 0.5, c}
	}
	var t [4][3]float32 // t = G g: column j of g through G
	for j := 0; j < 3; j++ {
		col := three(g[j], g[3+j], g[6+j])
		for i := 0; i < 4; i++ {
			t[i][j] = col[i]
		}
	}
	var u [16]float32
	for i := 0; i < 4; i++ {
		row := three(t[i][0], t[i][1], t[i][2])
		copy(u[i*4:], row[:])
	}
	return u
}
