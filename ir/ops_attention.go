package ir

import (
	"fmt"
	"math"
)

// Scaled dot-product attention: ONNX Attention (23, 24) and FlexAttention.

// Attention computes softmax(softcap(Q K^T * scale) + bias) V per head with
// group-query head sharing. Inputs: Q, K, V, attn_mask, past_key,
// past_value, nonpad_kv_seqlen; outputs: Y, present_key, present_value,
// qk_matmul_output.
type Attention struct {
	// QNumHeads and KVNumHeads are set for 3-D inputs, whose last dimension
	// packs the heads; 4-D inputs carry them in dimension 1.
	QNumHeads, KVNumHeads int
	Scale                 float32 // 0: 1/sqrt(head_size)
	IsCausal              bool
	Softcap               float32 // 0: none
	QKMode                int     // what qk_matmul_output holds: 0 raw, 1 softcapped, 2 with bias, 3 softmax
	// PadMask pads a mask shorter than the key sequence with -inf
	// (opset 24); without it the mask broadcasts (opset 23).
	PadMask bool
	// SoftmaxDType is softmax_precision (Invalid when absent): the
	// softmax's input and output are rounded to it when it is narrower
	// than the compute type.
	SoftmaxDType DType
	// Flex selects FlexAttention's semantics: plain softmax on rows without
	// any attended key (NaN; ONNX Attention zeroes such rows), and
	// probabilities kept in float32 rather than rounded to a 16-bit input
	// type.
	Flex bool
}

func (*Attention) OpType() string { return "Attention" }

// AttnDims are the sizes of an attention problem.
type AttnDims struct {
	B, Hq, Hkv, L, S, P, Dk, Dv int
	ThreeD                      bool
	// MaskShape is the mask's shape right-aligned to 4-D (nil without mask).
	MaskShape Shape
}

// MaskColumn maps key j to the mask's last-dimension index; ok is false
// where a short mask is padded (opset 24), which masks the key out.
func (d AttnDims) MaskColumn(j int, pad bool) (col int, ok bool) {
	last := d.MaskShape[3]
	switch {
	case last == d.T():
		return j, true
	case pad:
		return j, j < last
	}
	return 0, true // broadcast of a size-1 dimension
}

// T is the total key sequence length.
func (d AttnDims) T() int { return d.P + d.S }

// Group is the number of query heads per key/value head.
func (d AttnDims) Group() int { return d.Hq / d.Hkv }

// Dims validates the inputs and returns the problem's sizes.
func (o *Attention) Dims(in []*Value) (AttnDims, error) {
	var d AttnDims
	if len(in) < 3 || in[0] == nil || in[1] == nil || in[2] == nil {
		return d, fmt.Errorf("Attention needs Q, K and V")
	}
	q, k, v := in[0].Type.Shape, in[1].Type.Shape, in[2].Type.Shape
	if len(q) != len(k) || len(q) != len(v) || (len(q) != 3 && len(q) != 4) {
		return d, fmt.Errorf("Attention needs Q, K and V of one rank, 3 or 4, got %s, %s and %s", q, k, v)
	}
	dt := in[0].Type.DType
	if !dt.IsFloat() || dt.Bits() < 16 {
		return d, NotSupportedf("Attention on %s", dt)
	}
	if err := SameType(in, 0, 1, 2, 4, 5); err != nil {
		return d, NotSupportedf("Attention with mixed dtypes: %v", err)
	}
	d.B = q[0]
	if k[0] != d.B || v[0] != d.B {
		return d, fmt.Errorf("Attention batch sizes differ: %s, %s, %s", q, k, v)
	}
	if len(q) == 3 {
		d.ThreeD = true
		if o.QNumHeads <= 0 || o.KVNumHeads <= 0 {
			return d, fmt.Errorf("3-D Attention inputs need q_num_heads and kv_num_heads")
		}
		d.Hq, d.Hkv = o.QNumHeads, o.KVNumHeads
		if q[2]%d.Hq != 0 || k[2]%d.Hkv != 0 || v[2]%d.Hkv != 0 {
			return d, fmt.Errorf("Attention hidden sizes %d, %d, %d are not multiples of the head counts %d, %d", q[2], k[2], v[2], d.Hq, d.Hkv)
		}
		d.L, d.S = q[1], k[1]
		d.Dk, d.Dv = q[2]/d.Hq, v[2]/d.Hkv
		if k[2]/d.Hkv != d.Dk {
			return d, fmt.Errorf("Attention Q and K head sizes differ: %s with %d heads, %s with %d heads", q, d.Hq, k, d.Hkv)
		}
		if v[1] != d.S {
			return d, fmt.Errorf("Attention K and V sequence lengths differ: %s, %s", k, v)
		}
	} else {
		d.Hq, d.Hkv, d.L, d.S, d.Dk, d.Dv = q[1], k[1], q[2], k[2], q[3], v[3]
		if (o.QNumHeads != 0 && o.QNumHeads != d.Hq) || (o.KVNumHeads != 0 && o.KVNumHeads != d.Hkv) {
			return d, fmt.Errorf("Attention q_num_heads %d and kv_num_heads %d do not match 4-D Q %s and K %s", o.QNumHeads, o.KVNumHeads, q, k)
		}
		if k[3] != d.Dk || v[1] != d.Hkv || v[2] != d.S {
			return d, fmt.Errorf("Attention shapes do not fit: Q %s, K %s, V %s", q, k, v)
		}
	}
	if d.Hkv == 0 || d.Hq%d.Hkv != 0 {
		return d, fmt.Errorf("Attention needs q_num_heads (%d) to be a multiple of kv_num_heads (%d)", d.Hq, d.Hkv)
	}
	pk, pv := getIn(in, 4), getIn(in, 5)
	if (pk == nil) != (pv == nil) {
		return d, fmt.Errorf("Attention needs both past_key and past_value or neither")
	}
	if pk != nil {
		ps, vs := pk.Type.Shape, pv.Type.Shape
		if len(ps) != 4 || ps[0] != d.B || ps[1] != d.Hkv || ps[3] != d.Dk {
			return d, fmt.Errorf("Attention past_key %s must be [%d, %d, past, %d]", ps, d.B, d.Hkv, d.Dk)
		}
		d.P = ps[2]
		if !vs.Equal(Shape{d.B, d.Hkv, d.P, d.Dv}) {
			return d, fmt.Errorf("Attention past_value %s must be [%d, %d, %d, %d]", vs, d.B, d.Hkv, d.P, d.Dv)
		}
	}
	if m := getIn(in, 3); m != nil {
		ms := m.Type.Shape
		if len(ms) > 4 || len(ms) == 0 {
			return d, fmt.Errorf("Attention attn_mask must have rank 1 to 4, got %s", ms)
		}
		mdt := m.Type.DType
		if mdt != Bool && !mdt.IsFloat() {
			return d, NotSupportedf("Attention attn_mask of %s (bool or float masks only)", mdt)
		}
		d.MaskShape = make(Shape, 4)
		for i := range d.MaskShape {
			d.MaskShape[i] = 1
		}
		copy(d.MaskShape[4-len(ms):], ms)
		want := []int{d.B, d.Hq, d.L, d.T()}
		for i := 0; i < 3; i++ {
			if d.MaskShape[i] != 1 && d.MaskShape[i] != want[i] {
				return d, fmt.Errorf("Attention attn_mask %s does not broadcast to %s", ms, Shape(want))
			}
		}
		if last := d.MaskShape[3]; last != d.T() && !(o.PadMask && last < d.T()) && !(!o.PadMask && last == 1) {
			return d, fmt.Errorf("Attention attn_mask %s does not fit %d keys", ms, d.T())
		}
	}
	if n := getIn(in, 6); n != nil {
		if n.Type.DType != Int64 || !n.Type.Shape.Equal(Shape{d.B}) {
			return d, fmt.Errorf("Attention nonpad_kv_seqlen must be int64 [%d], got %s", d.B, n.Type)
		}
	}
	return d, nil
}

// ScaleSqrt is the factor applied to both Q and K: sqrt(scale). Attention
// takes it in float64 as the ONNX reference does; FlexAttention computes it
// in float32 and rounds it to the input type, as its definition says.
func (o *Attention) ScaleSqrt(d AttnDims, dt DType) float64 {
	if o.Flex {
		return AttentionScaleSqrt(o.Scale, d.Dk, dt)
	}
	if o.Scale == 0 {
		return math.Sqrt(1 / math.Sqrt(float64(d.Dk)))
	}
	return math.Sqrt(float64(o.Scale))
}

// AttentionScaleSqrt is sqrt(scale) (scale defaulting to 1/sqrt(dk)) in
// float32, rounded to dt.
func AttentionScaleSqrt(scale float32, dk int, dt DType) float64 {
	s := float64(scale)
	if scale == 0 {
		s = float64(float32(1 / math.Sqrt(float64(dk))))
	}
	return RoundTo(dt, float64(float32(math.Sqrt(s))))
}

func (o *Attention) Infer(in []*Value) ([]Type, error) {
	d, err := o.Dims(in)
	if err != nil {
		return nil, err
	}
	dt := in[0].Type.DType
	y := Shape{d.B, d.Hq, d.L, d.Dv}
	if d.ThreeD {
		y = Shape{d.B, d.L, d.Hq * d.Dv}
	}
	return []Type{
		{dt, y},
		{dt, Shape{d.B, d.Hkv, d.T(), d.Dk}},
		{in[2].Type.DType, Shape{d.B, d.Hkv, d.T(), d.Dv}},
		{dt, Shape{d.B, d.Hq, d.L, d.T()}},
	}, nil
}

// QIndex is the flat index of Q[b, h, l, 0] (or of V, K with their sizes).
func (d AttnDims) QIndex(b, h, l int) int { return d.index(b, h, l, d.Hq, d.L, d.Dk) }
func (d AttnDims) YIndex(b, h, l int) int { return d.index(b, h, l, d.Hq, d.L, d.Dv) }
func (d AttnDims) KIndex(b, h, s int) int { return d.index(b, h, s, d.Hkv, d.S, d.Dk) }
func (d AttnDims) VIndex(b, h, s int) int { return d.index(b, h, s, d.Hkv, d.S, d.Dv) }

func (d AttnDims) index(b, h, l, heads, seq, size int) int {
	if d.ThreeD {
		return (b*seq+l)*heads*size + h*size
	}
	return ((b*heads+h)*seq + l) * size
}

// Eval follows the ONNX reference: bias from mask, causal frontier
// (bottom-right aligned) and padding; softcap before the bias; rows whose
// bias is all -inf give zeros.
func (o *Attention) Eval(in []*Tensor) ([]*Tensor, error) {
	vals := constValues(in)
	d, err := o.Dims(vals)
	if err != nil {
		return nil, err
	}
	types, _ := o.Infer(vals)
	T := d.T()
	q, k, v := in[0].Floats(), in[1].Floats(), in[2].Floats()
	// Present key and value, [B, Hkv, T, D].
	pk := make([]float64, types[1].Shape.Size())
	pv := make([]float64, types[2].Shape.Size())
	var pastK, pastV []float64
	if t := getT(in, 4); t != nil {
		pastK, pastV = t.Floats(), in[5].Floats()
	}
	for b := 0; b < d.B; b++ {
		for h := 0; h < d.Hkv; h++ {
			for t := 0; t < T; t++ {
				dk := ((b*d.Hkv+h)*T + t) * d.Dk
				dv := ((b*d.Hkv+h)*T + t) * d.Dv
				if t < d.P {
					copy(pk[dk:dk+d.Dk], pastK[((b*d.Hkv+h)*d.P+t)*d.Dk:])
					copy(pv[dv:dv+d.Dv], pastV[((b*d.Hkv+h)*d.P+t)*d.Dv:])
				} else {
					copy(pk[dk:dk+d.Dk], k[d.KIndex(b, h, t-d.P):])
					copy(pv[dv:dv+d.Dv], v[d.VIndex(b, h, t-d.P):])
				}
			}
		}
	}
	var mask *Tensor
	var mstr []int
	if m := getT(in, 3); m != nil {
		mask = m
		mstr = BroadcastStrides(d.MaskShape, d.MaskShape)
		for i, n := range d.MaskShape {
			if n == 1 {
				mstr[i] = 0
			}
		}
	}
	var nonpad *Tensor
	if t := getT(in, 6); t != nil {
		nonpad = t
	}
	ss := o.ScaleSqrt(d, in[0].DType)
	// rd rounds FlexAttention's intermediate tensors (the scaled Q and K,
	// the scores) to the input type; Attention computes in full precision.
	rd := func(v float64) float64 { return v }
	if o.Flex {
		rd = func(v float64) float64 { return RoundTo(in[0].DType, v) }
	}
	y := make([]float64, types[0].Shape.Size())
	qk := make([]float64, types[3].Shape.Size())
	scores := make([]float64, T)
	bias := make([]float64, T)
	ninf := math.Inf(-1)
	for b := 0; b < d.B; b++ {
		offset := 0
		if d.P > 0 {
			offset = d.P
		} else if nonpad != nil {
			offset = int(nonpad.Int(b)) - d.L
		}
		for h := 0; h < d.Hq; h++ {
			hk := h / d.Group()
			for l := 0; l < d.L; l++ {
				qr := q[d.QIndex(b, h, l):]
				qkRow := qk[((b*d.Hq+h)*d.L+l)*T:]
				allMasked := true
				for j := 0; j < T; j++ {
					bv := 0.0
					if mask != nil {
						jj, ok := d.MaskColumn(j, o.PadMask)
						if !ok {
							bv = ninf
						} else {
							mv := mask.Float(b*mstr[0] + h*mstr[1] + l*mstr[2] + jj*mstr[3])
							if mask.DType == Bool {
								if mv == 0 {
									bv = ninf
								}
							} else {
								bv = mv
							}
						}
					}
					if o.IsCausal && j > l+offset {
						bv += ninf
					}
					if nonpad != nil && int64(j) >= nonpad.Int(b) {
						bv += ninf
					}
					bias[j] = bv
					if !math.IsInf(bv, -1) {
						allMasked = false
					}
					kr := pk[((b*d.Hkv+hk)*T+j)*d.Dk:]
					s := 0.0
					for i := 0; i < d.Dk; i++ {
						s += rd(qr[i]*ss) * rd(kr[i]*ss)
					}
					s = rd(s)
					if o.QKMode == 0 {
						qkRow[j] = s
					}
					if o.Softcap != 0 {
						c := float64(o.Softcap)
						s = rd(c * math.Tanh(s/c))
					}
					if o.QKMode == 1 {
						qkRow[j] = s
					}
					s = rd(s + bv)
					if o.SoftmaxDType != Invalid {
						s = RoundTo(o.SoftmaxDType, s)
					}
					if o.QKMode == 2 {
						qkRow[j] = s
					}
					scores[j] = s
				}
				softmaxRow(scores, !o.Flex)
				if o.SoftmaxDType != Invalid {
					for j, p := range scores {
						scores[j] = RoundTo(o.SoftmaxDType, p)
					}
				}
				if allMasked && !o.Flex {
					for j := range scores {
						scores[j] = 0
					}
				}
				if o.QKMode == 3 {
					copy(qkRow[:T], scores)
				}
				yr := y[d.YIndex(b, h, l):]
				for i := 0; i < d.Dv; i++ {
					acc := 0.0
					for j := 0; j < T; j++ {
						acc += scores[j] * pv[((b*d.Hkv+hk)*T+j)*d.Dv+i]
					}
					yr[i] = acc
				}
			}
		}
	}
	return []*Tensor{
		FromFloats(types[0].DType, types[0].Shape, y),
		FromFloats(types[1].DType, types[1].Shape, pk),
		FromFloats(types[2].DType, types[2].Shape, pv),
		FromFloats(types[3].DType, types[3].Shape, qk),
	}, nil
}

// softmaxRow normalizes x in place. With safe set, a row whose maximum is
// -inf becomes zeros instead of NaN (the ONNX reference's softmax).
func softmaxRow(x []float64, safe bool) {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, v)
	}
	if safe && math.IsInf(m, -1) {
		m = 0
	}
	sum := 0.0
	for j, v := range x {
		x[j] = math.Exp(v - m)
		sum += x[j]
	}
	if safe && sum == 0 {
		sum = 1
	}
	for j := range x {
		x[j] /= sum
	}
}

// AttentionScores is FlexAttention's first stage: (Q*s) (K*s)^T with
// s = sqrt(scale), query head h reading key head h / (Hq/Hkv), in DType.
// Q [B, Hq, L, E], K [B, Hkv, S, E] -> [B, Hq, L, S].
type AttentionScores struct {
	Scale float32 // 0: 1/sqrt(E)
	DType DType
}

func (*AttentionScores) OpType() string { return "AttentionScores" }

func (o *AttentionScores) Infer(in []*Value) ([]Type, error) {
	q, k := in[0].Type.Shape, in[1].Type.Shape
	if len(q) != 4 || len(k) != 4 || k[0] != q[0] || k[3] != q[3] || k[1] == 0 || q[1]%k[1] != 0 {
		return nil, fmt.Errorf("attention scores need Q [B, Hq, L, E] and K [B, Hkv, S, E] with Hq a multiple of Hkv, got %s and %s", q, k)
	}
	if err := SameType(in, 0, 1); err != nil {
		return nil, err
	}
	if !in[0].Type.DType.IsFloat() || in[0].Type.DType.Bits() < 16 {
		return nil, NotSupportedf("attention on %s", in[0].Type.DType)
	}
	return Types(Type{o.DType, Shape{q[0], q[1], q[2], k[2]}}), nil
}

func (o *AttentionScores) Eval(in []*Tensor) ([]*Tensor, error) {
	types, err := o.Infer(constValues(in))
	if err != nil {
		return nil, err
	}
	q, k := in[0].Floats(), in[1].Floats()
	B, Hq, L, E := in[0].Shape[0], in[0].Shape[1], in[0].Shape[2], in[0].Shape[3]
	Hkv, S := in[1].Shape[1], in[1].Shape[2]
	ss := AttentionScaleSqrt(o.Scale, E, in[0].DType)
	out := make([]float64, types[0].Shape.Size())
	i := 0
	for b := 0; b < B; b++ {
		for h := 0; h < Hq; h++ {
			hk := h / (Hq / Hkv)
			for l := 0; l < L; l++ {
				qr := q[((b*Hq+h)*L+l)*E:]
				for j := 0; j < S; j++ {
					kr := k[((b*Hkv+hk)*S+j)*E:]
					s := 0.0
					for e := 0; e < E; e++ {
						s += (qr[e] * ss) * (kr[e] * ss)
					}
					out[i] = s
					i++
				}
			}
		}
	}
	return []*Tensor{FromFloats(o.DType, types[0].Shape, out)}, nil
}

// AttentionApply is FlexAttention's last stage: P V with query head h
// reading value head h / (Hq/Hkv), in V's dtype.
// P [B, Hq, L, S], V [B, Hkv, S, Ev] -> [B, Hq, L, Ev].
type AttentionApply struct{}

func (*AttentionApply) OpType() string { return "AttentionApply" }

func (o *AttentionApply) Infer(in []*Value) ([]Type, error) {
	p, v := in[0].Type.Shape, in[1].Type.Shape
	if len(p) != 4 || len(v) != 4 || v[0] != p[0] || v[2] != p[3] || v[1] == 0 || p[1]%v[1] != 0 {
		return nil, fmt.Errorf("attention needs probabilities [B, Hq, L, S] and V [B, Hkv, S, Ev] with Hq a multiple of Hkv, got %s and %s", p, v)
	}
	for _, x := range in[:2] {
		if !x.Type.DType.IsFloat() || x.Type.DType.Bits() < 16 {
			return nil, NotSupportedf("attention on %s", x.Type.DType)
		}
	}
	return Types(Type{in[1].Type.DType, Shape{p[0], p[1], p[2], v[3]}}), nil
}

func (o *AttentionApply) Eval(in []*Tensor) ([]*Tensor, error) {
	types, err := o.Infer(constValues(in))
	if err != nil {
		return nil, err
	}
	p, v := in[0].Floats(), in[1].Floats()
	B, Hq, L, S := in[0].Shape[0], in[0].Shape[1], in[0].Shape[2], in[0].Shape[3]
	Hkv, Ev := in[1].Shape[1], in[1].Shape[3]
	out := make([]float64, types[0].Shape.Size())
	for b := 0; b < B; b++ {
		for h := 0; h < Hq; h++ {
			hk := h / (Hq / Hkv)
			for l := 0; l < L; l++ {
				pr := p[((b*Hq+h)*L+l)*S:]
				or := out[((b*Hq+h)*L+l)*Ev:]
				for j := 0; j < S; j++ {
					vr := v[((b*Hkv+hk)*S+j)*Ev:]
					for e := 0; e < Ev; e++ {
						or[e] += pr[j] * vr[e]
					}
				}
			}
		}
	}
	return []*Tensor{FromFloats(types[0].DType, types[0].Shape, out)}, nil
}
