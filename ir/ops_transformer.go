package ir

import (
	"fmt"
	"math"
)

// Transformer and state-space building blocks: RotaryEmbedding,
// LinearAttention, CausalConvWithState, SwiGLU.

// RotaryEmbedding rotates pairs of each head's first RotaryDim features by
// position-dependent angles. Inputs: X, cos_cache, sin_cache,
// position_ids (optional).
type RotaryEmbedding struct {
	Interleaved bool // pairs are (2i, 2i+1) rather than (i, i + dim/2)
	RotaryDim   int  // 0: the head size
	NumHeads    int  // required for 3-D X
}

func (*RotaryEmbedding) OpType() string { return "RotaryEmbedding" }

// RopeDims are the sizes of a rotary embedding.
type RopeDims struct {
	B, S, H, D, Rot int
	ThreeD          bool
	// CacheB, CacheS: broadcast-aware strides (in rows) of the cache rows
	// (no position_ids) or of position_ids, per batch and sequence index.
	CacheB, CacheS int
	MaxPos         int // cache rows with position_ids
}

func (o *RotaryEmbedding) Dims(in []*Value) (RopeDims, error) {
	var d RopeDims
	if len(in) < 3 || in[0] == nil || in[1] == nil || in[2] == nil {
		return d, fmt.Errorf("RotaryEmbedding needs X, cos_cache and sin_cache")
	}
	x := in[0].Type.Shape
	switch len(x) {
	case 4:
		d.B, d.H, d.S, d.D = x[0], x[1], x[2], x[3]
	case 3:
		if o.NumHeads <= 0 {
			return d, fmt.Errorf("3-D RotaryEmbedding input needs num_heads")
		}
		if x[2]%o.NumHeads != 0 {
			return d, fmt.Errorf("RotaryEmbedding hidden size %d is not a multiple of num_heads %d", x[2], o.NumHeads)
		}
		d.ThreeD = true
		d.B, d.S, d.H, d.D = x[0], x[1], o.NumHeads, x[2]/o.NumHeads
	default:
		return d, fmt.Errorf("RotaryEmbedding input must be 3-D or 4-D, got %s", x)
	}
	if err := SameType(in, 0, 1, 2); err != nil {
		return d, err
	}
	if dt := in[0].Type.DType; !dt.IsFloat() || dt.Bits() < 16 {
		return d, NotSupportedf("RotaryEmbedding on %s", dt)
	}
	d.Rot = o.RotaryDim
	if d.Rot == 0 {
		d.Rot = d.D
	}
	if d.Rot%2 != 0 || d.Rot > d.D || d.Rot < 0 {
		return d, fmt.Errorf("RotaryEmbedding rotary dimension %d must be even and at most the head size %d", d.Rot, d.D)
	}
	cs, ss := in[1].Type.Shape, in[2].Type.Shape
	if !cs.Equal(ss) {
		return d, fmt.Errorf("RotaryEmbedding cos_cache %s and sin_cache %s differ", cs, ss)
	}
	// rows gives broadcast strides (in rows) for a [b, s] index space.
	rows := func(b, s int, what string) error {
		if (b != 1 && b != d.B) || (s != 1 && s != d.S) {
			return fmt.Errorf("RotaryEmbedding %s [%d, %d] does not broadcast to [%d, %d]", what, b, s, d.B, d.S)
		}
		if s != 1 {
			d.CacheS = 1
		}
		if b != 1 {
			d.CacheB = s
		}
		return nil
	}
	if p := getIn(in, 3); p != nil {
		ps := p.Type.Shape
		if len(ps) != 2 || !p.Type.DType.IsInt() {
			return d, fmt.Errorf("RotaryEmbedding position_ids must be 2-D integers, got %s", p.Type)
		}
		if len(cs) != 2 || cs[1] != d.Rot/2 {
			return d, fmt.Errorf("RotaryEmbedding caches must be [max_position, %d] with position_ids, got %s", d.Rot/2, cs)
		}
		d.MaxPos = cs[0]
		return d, rows(ps[0], ps[1], "position_ids")
	}
	if len(cs) != 3 || cs[2] != d.Rot/2 {
		return d, fmt.Errorf("RotaryEmbedding caches must be [batch, seq, %d] without position_ids, got %s", d.Rot/2, cs)
	}
	return d, rows(cs[0], cs[1], "cos_cache")
}

func (o *RotaryEmbedding) Infer(in []*Value) ([]Type, error) {
	if _, err := o.Dims(in); err != nil {
		return nil, err
	}
	return Types(in[0].Type), nil
}

// XIndex is the flat index of X[b, s, h, 0] in the input's layout.
func (d RopeDims) XIndex(b, s, h int) int {
	if d.ThreeD {
		return ((b*d.S+s)*d.H + h) * d.D
	}
	return ((b*d.H+h)*d.S + s) * d.D
}

func (o *RotaryEmbedding) Eval(in []*Tensor) ([]*Tensor, error) {
	vals := constValues(in)
	d, err := o.Dims(vals)
	if err != nil {
		return nil, err
	}
	x, cos, sin := in[0].Floats(), in[1].Floats(), in[2].Floats()
	out := make([]float64, len(x))
	copy(out, x)
	half := d.Rot / 2
	pos := getT(in, 3)
	for b := 0; b < d.B; b++ {
		for s := 0; s < d.S; s++ {
			row := b*d.CacheB + s*d.CacheS
			if pos != nil {
				p := pos.Int(row)
				if p < 0 || p >= int64(d.MaxPos) {
					return nil, fmt.Errorf("RotaryEmbedding position id %d is outside [0, %d)", p, d.MaxPos)
				}
				row = int(p)
			}
			c, sn := cos[row*half:], sin[row*half:]
			for h := 0; h < d.H; h++ {
				xi := d.XIndex(b, s, h)
				for i := 0; i < half; i++ {
					i1, i2 := xi+i, xi+i+half
					if o.Interleaved {
						i1, i2 = xi+2*i, xi+2*i+1
					}
					x1, x2 := x[i1], x[i2]
					out[i1] = c[i]*x1 - sn[i]*x2
					out[i2] = sn[i]*x1 + c[i]*x2
				}
			}
		}
	}
	return []*Tensor{FromFloats(in[0].DType, in[0].Shape, out)}, nil
}

// LinearAttention is the recurrent linear-attention family: per key/value
// head a state S [dk, dv] is updated each step (linear, gated, delta or
// gated_delta rule) and read by the query heads sharing it. Inputs: query,
// key, value, past_state, decay, beta; outputs: output, present_state.
type LinearAttention struct {
	UpdateRule            string // linear, gated, delta, gated_delta
	Scale                 float32
	QNumHeads, KVNumHeads int
}

func (*LinearAttention) OpType() string { return "LinearAttention" }

func (o *LinearAttention) Gated() bool {
	return o.UpdateRule == "gated" || o.UpdateRule == "gated_delta"
}
func (o *LinearAttention) Delta() bool {
	return o.UpdateRule == "delta" || o.UpdateRule == "gated_delta"
}

// LinAttnDims are the sizes of a linear attention.
type LinAttnDims struct {
	B, T, Hq, Hkv, Dk, Dv int
	DecayPerKey           bool // decay has H_kv*dk values per step, else H_kv
	BetaPerHead           bool // beta has H_kv values per step, else 1
}

func (o *LinearAttention) Dims(in []*Value) (LinAttnDims, error) {
	var d LinAttnDims
	if len(in) < 3 || in[0] == nil || in[1] == nil || in[2] == nil {
		return d, fmt.Errorf("LinearAttention needs query, key and value")
	}
	if o.QNumHeads <= 0 || o.KVNumHeads <= 0 || o.QNumHeads%o.KVNumHeads != 0 {
		return d, fmt.Errorf("LinearAttention q_num_heads (%d) must be a positive multiple of kv_num_heads (%d)", o.QNumHeads, o.KVNumHeads)
	}
	q, k, v := in[0].Type.Shape, in[1].Type.Shape, in[2].Type.Shape
	if len(q) != 3 || len(k) != 3 || len(v) != 3 {
		return d, fmt.Errorf("LinearAttention needs 3-D query, key and value, got %s, %s, %s", q, k, v)
	}
	d.B, d.T, d.Hq, d.Hkv = q[0], q[1], o.QNumHeads, o.KVNumHeads
	if q[2]%d.Hq != 0 || v[2]%d.Hkv != 0 {
		return d, fmt.Errorf("LinearAttention widths %d and %d are not multiples of the head counts", q[2], v[2])
	}
	d.Dk, d.Dv = q[2]/d.Hq, v[2]/d.Hkv
	if !k.Equal(Shape{d.B, d.T, d.Hkv * d.Dk}) || v[0] != d.B || v[1] != d.T {
		return d, fmt.Errorf("LinearAttention shapes do not fit: query %s, key %s, value %s", q, k, v)
	}
	if err := SameType(in, 0, 1, 2, 4, 5); err != nil {
		return d, err
	}
	for _, i := range []int{0, 3} {
		if x := getIn(in, i); x != nil {
			if dt := x.Type.DType; dt != Float32 && dt != Float16 && dt != BFloat16 {
				return d, NotSupportedf("LinearAttention on %s", dt)
			}
		}
	}
	if p := getIn(in, 3); p != nil && !p.Type.Shape.Equal(Shape{d.B, d.Hkv, d.Dk, d.Dv}) {
		return d, fmt.Errorf("LinearAttention past_state %s must be [%d, %d, %d, %d]", p.Type.Shape, d.B, d.Hkv, d.Dk, d.Dv)
	}
	decay, beta := getIn(in, 4), getIn(in, 5)
	if o.Gated() != (decay != nil) {
		return d, fmt.Errorf("LinearAttention update_rule %q %s the decay input", o.UpdateRule, map[bool]string{true: "needs", false: "forbids"}[o.Gated()])
	}
	if o.Delta() != (beta != nil) {
		return d, fmt.Errorf("LinearAttention update_rule %q %s the beta input", o.UpdateRule, map[bool]string{true: "needs", false: "forbids"}[o.Delta()])
	}
	if decay != nil {
		s := decay.Type.Shape
		switch {
		case s.Equal(Shape{d.B, d.T, d.Hkv * d.Dk}):
			d.DecayPerKey = true
		case s.Equal(Shape{d.B, d.T, d.Hkv}):
		default:
			return d, fmt.Errorf("LinearAttention decay %s must be [%d, %d, %d] or [%d, %d, %d]", s, d.B, d.T, d.Hkv*d.Dk, d.B, d.T, d.Hkv)
		}
	}
	if beta != nil {
		s := beta.Type.Shape
		switch {
		case s.Equal(Shape{d.B, d.T, d.Hkv}):
			d.BetaPerHead = true
		case s.Equal(Shape{d.B, d.T, 1}):
		default:
			return d, fmt.Errorf("LinearAttention beta %s must be [%d, %d, %d] or [%d, %d, 1]", s, d.B, d.T, d.Hkv, d.B, d.T)
		}
	}
	return d, nil
}

// ScaleValue is the output scale: the attribute, or 1/sqrt(dk) when 0.
func (o *LinearAttention) ScaleValue(d LinAttnDims) float64 {
	if o.Scale == 0 {
		return 1 / math.Sqrt(float64(d.Dk))
	}
	return float64(o.Scale)
}

func (o *LinearAttention) Infer(in []*Value) ([]Type, error) {
	d, err := o.Dims(in)
	if err != nil {
		return nil, err
	}
	sdt := in[0].Type.DType
	if p := getIn(in, 3); p != nil {
		sdt = p.Type.DType
	}
	return []Type{{in[0].Type.DType, Shape{d.B, d.T, d.Hq * d.Dv}}, {sdt, Shape{d.B, d.Hkv, d.Dk, d.Dv}}}, nil
}

// Eval runs the recurrence in float32, as the ONNX reference does.
func (o *LinearAttention) Eval(in []*Tensor) ([]*Tensor, error) {
	vals := constValues(in)
	d, err := o.Dims(vals)
	if err != nil {
		return nil, err
	}
	types, _ := o.Infer(vals)
	f32 := func(t *Tensor) []float32 {
		if t == nil {
			return nil
		}
		v := t.Floats()
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = float32(x)
		}
		return out
	}
	q, k, v := f32(in[0]), f32(in[1]), f32(in[2])
	decay, beta := f32(getT(in, 4)), f32(getT(in, 5))
	state := make([]float32, types[1].Shape.Size())
	if p := getT(in, 3); p != nil {
		state = f32(p)
	}
	out := make([]float32, types[0].Shape.Size())
	scale := float32(o.ScaleValue(d))
	G := d.Hq / d.Hkv
	vp := make([]float32, d.Dv)
	for b := 0; b < d.B; b++ {
		for h := 0; h < d.Hkv; h++ {
			st := state[(b*d.Hkv+h)*d.Dk*d.Dv:]
			for t := 0; t < d.T; t++ {
				kt := k[(b*d.T+t)*d.Hkv*d.Dk+h*d.Dk:]
				vt := v[(b*d.T+t)*d.Hkv*d.Dv+h*d.Dv:]
				if decay != nil {
					for i := 0; i < d.Dk; i++ {
						g := decay[(b*d.T+t)*d.Hkv+h]
						if d.DecayPerKey {
							g = decay[(b*d.T+t)*d.Hkv*d.Dk+h*d.Dk+i]
						}
						e := float32(math.Exp(float64(g)))
						for m := 0; m < d.Dv; m++ {
							st[i*d.Dv+m] *= e
						}
					}
				}
				copy(vp, vt[:d.Dv])
				if beta != nil {
					bt := beta[(b*d.T+t)*1]
					if d.BetaPerHead {
						bt = beta[(b*d.T+t)*d.Hkv+h]
					}
					for m := 0; m < d.Dv; m++ {
						var r float32
						for i := 0; i < d.Dk; i++ {
							r += st[i*d.Dv+m] * kt[i]
						}
						vp[m] = bt * (vt[m] - r)
					}
				}
				for i := 0; i < d.Dk; i++ {
					for m := 0; m < d.Dv; m++ {
						st[i*d.Dv+m] += kt[i] * vp[m]
					}
				}
				for g := 0; g < G; g++ {
					hq := h*G + g
					qt := q[(b*d.T+t)*d.Hq*d.Dk+hq*d.Dk:]
					ot := out[(b*d.T+t)*d.Hq*d.Dv+hq*d.Dv:]
					for m := 0; m < d.Dv; m++ {
						var acc float32
						for i := 0; i < d.Dk; i++ {
							acc += qt[i] * st[i*d.Dv+m]
						}
						ot[m] = scale * acc
					}
				}
			}
		}
	}
	wide := func(v []float32) []float64 {
		o := make([]float64, len(v))
		for i, x := range v {
			o[i] = float64(x)
		}
		return o
	}
	return []*Tensor{FromFloats(types[0].DType, types[0].Shape, wide(out)), FromFloats(types[1].DType, types[1].Shape, wide(state))}, nil
}

// CausalConvWithState is a causal depthwise 1-D convolution whose left
// context comes from past_state (zeros when absent), with an optional
// fused SiLU. Inputs: input [B, C, L], weight [C, 1, K], bias [C],
// past_state [B, C, K-1]; outputs: output [B, C, L], present_state
// [B, C, K-1] (the last K-1 positions of past_state ++ input).
type CausalConvWithState struct {
	SiLU bool
}

func (*CausalConvWithState) OpType() string { return "CausalConvWithState" }

// Dims returns B, C, L, K.
func (o *CausalConvWithState) Dims(in []*Value) (b, c, l, k int, err error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return 0, 0, 0, 0, fmt.Errorf("CausalConvWithState needs input and weight")
	}
	x, w := in[0].Type.Shape, in[1].Type.Shape
	if len(x) != 3 || len(w) != 3 || w[0] != x[1] || w[1] != 1 || w[2] < 1 {
		return 0, 0, 0, 0, fmt.Errorf("CausalConvWithState needs input [B, C, L] and weight [C, 1, K >= 1], got %s and %s", x, w)
	}
	b, c, l, k = x[0], x[1], x[2], w[2]
	if err := SameType(in, 0, 1, 2, 3); err != nil {
		return 0, 0, 0, 0, err
	}
	if dt := in[0].Type.DType; !dt.IsFloat() || dt.Bits() < 16 {
		return 0, 0, 0, 0, NotSupportedf("CausalConvWithState on %s", dt)
	}
	if bias := getIn(in, 2); bias != nil && !bias.Type.Shape.Equal(Shape{c}) {
		return 0, 0, 0, 0, fmt.Errorf("CausalConvWithState bias %s must be [%d]", bias.Type.Shape, c)
	}
	if p := getIn(in, 3); p != nil && !p.Type.Shape.Equal(Shape{b, c, k - 1}) {
		return 0, 0, 0, 0, fmt.Errorf("CausalConvWithState past_state %s must be [%d, %d, %d]", p.Type.Shape, b, c, k-1)
	}
	return b, c, l, k, nil
}

func (o *CausalConvWithState) Infer(in []*Value) ([]Type, error) {
	b, c, _, k, err := o.Dims(in)
	if err != nil {
		return nil, err
	}
	return []Type{in[0].Type, {in[0].Type.DType, Shape{b, c, k - 1}}}, nil
}

// Eval computes the convolution in float64, rounds it to the input type
// (the Conv of the operator's definition), then applies SiLU.
func (o *CausalConvWithState) Eval(in []*Tensor) ([]*Tensor, error) {
	vals := constValues(in)
	B, C, L, K, err := o.Dims(vals)
	if err != nil {
		return nil, err
	}
	dt := in[0].DType
	x, w := in[0].Floats(), in[1].Floats()
	var bias, past []float64
	if t := getT(in, 2); t != nil {
		bias = t.Floats()
	}
	if t := getT(in, 3); t != nil {
		past = t.Floats()
	}
	y := make([]float64, B*C*L)
	present := make([]float64, B*C*(K-1))
	padded := make([]float64, K-1+L)
	for b := 0; b < B; b++ {
		for c := 0; c < C; c++ {
			for i := range padded[:K-1] {
				padded[i] = 0
				if past != nil {
					padded[i] = past[(b*C+c)*(K-1)+i]
				}
			}
			copy(padded[K-1:], x[(b*C+c)*L:(b*C+c+1)*L])
			for l := 0; l < L; l++ {
				acc := 0.0
				if bias != nil {
					acc = bias[c]
				}
				for i := 0; i < K; i++ {
					acc += w[c*K+i] * padded[l+i]
				}
				y[(b*C+c)*L+l] = acc
			}
			copy(present[(b*C+c)*(K-1):], padded[L:])
		}
	}
	out := FromFloats(dt, in[0].Shape, y)
	if o.SiLU {
		v := out.Floats()
		for i, a := range v {
			v[i] = a / (1 + math.Exp(-a))
		}
		out = FromFloats(dt, in[0].Shape, v)
	}
	return []*Tensor{out, FromFloats(dt, Shape{B, C, K - 1}, present)}, nil
}

// SwiGLU is Swish_alpha(A) * B = A * sigmoid(alpha*A) * B, with A and B of
// one shape.
type SwiGLU struct {
	Alpha float32
}

func (*SwiGLU) OpType() string { return "SwiGLU" }

func (o *SwiGLU) Infer(in []*Value) ([]Type, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("SwiGLU needs A and B")
	}
	if err := SameType(in, 0, 1); err != nil {
		return nil, err
	}
	if !in[0].Type.Shape.Equal(in[1].Type.Shape) {
		return nil, fmt.Errorf("SwiGLU needs A and B of one shape, got %s and %s", in[0].Type.Shape, in[1].Type.Shape)
	}
	if dt := in[0].Type.DType; !dt.IsFloat() || dt.Bits() < 16 {
		return nil, NotSupportedf("SwiGLU on %s", dt)
	}
	return Types(in[0].Type), nil
}

// Eval rounds Swish(A) to the input type before the product, as the
// operator's function body (Swish, then Mul) does.
func (o *SwiGLU) Eval(in []*Tensor) ([]*Tensor, error) {
	a, b := in[0].Floats(), in[1].Floats()
	sw := make([]float64, len(a))
	for i, x := range a {
		sw[i] = x / (1 + math.Exp(-float64(o.Alpha)*x))
	}
	sw = FromFloats(in[0].DType, in[0].Shape, sw).Floats()
	for i := range sw {
		sw[i] *= b[i]
	}
	return []*Tensor{FromFloats(in[0].DType, in[0].Shape, sw)}, nil
}
