package ir

// PackedRNN is a float32 RNN, GRU or LSTM whose constant weights opt (the
// rnnpack pass) rearranged at compile time into the layout of the SIMD
// kernel, so that no weight is transposed at run time. Inputs: X, Wp, Rp,
// Bp (or nil), sequence_lens, initial_h, initial_c, Pp (or nil), with Wp,
// Rp, Bp and Pp from PackW, PackR, PackB and PackP; outputs are RNN's.
// W, R, B and P keep the imported constants, to which Infer and Eval apply
// RNN's rules.
type PackedRNN struct {
	RNN
	W, R, B, P *Tensor
}

func (o *PackedRNN) OpType() string { return string(o.Kind) }

// plain replaces the packed inputs by the imported constants.
func (o *PackedRNN) plain(in []*Value) []*Value {
	out := make([]*Value, 8)
	copy(out, in)
	set := func(i int, t *Tensor) {
		out[i] = nil
		if t != nil {
			out[i] = NewConst("", t)
		}
	}
	set(1, o.W)
	set(2, o.R)
	set(3, o.B)
	set(7, o.P)
	return out
}

func (o *PackedRNN) Infer(in []*Value) ([]Type, error) { return o.RNN.Infer(o.plain(in)) }

func (o *PackedRNN) Eval(in []*Tensor) ([]*Tensor, error) {
	vals := o.plain(constValues(in))
	ts := make([]*Tensor, len(vals))
	for i, v := range vals {
		if v != nil {
			ts[i] = v.Const
		}
	}
	return o.RNN.Eval(ts)
}

// The packed layout groups hidden units in blocks of 4: a block's G gates
// have 4 columns each, side by side, so that one step of the kernel
// computes every gate of 4 hidden units in f32x4 registers. H is padded to
// whole blocks with zero weights.

// RNNBlocks is the number of blocks of 4 hidden units.
func RNNBlocks(hidden int) int { return (hidden + 3) / 4 }

// RNNPackedCol is the packed column of gate gi of hidden unit j.
func RNNPackedCol(gates, gi, j int) int { return (j/4)*4*gates + gi*4 + j%4 }

// PackW lays W [dirs, G*H, I] out as W^T with packed columns:
// [dirs, I, G*4*blocks].
func (o *RNN) PackW(w *Tensor) *Tensor {
	s := w.Type.Shape
	dirs, GH, I := s[0], s[1], s[2]
	G := o.Kind.Gates()
	H := GH / G
	cols := G * 4 * RNNBlocks(H)
	t := NewTensor(Float32, Shape{dirs, I, cols})
	src, dst := w.F32(), t.F32()
	for d := 0; d < dirs; d++ {
		for gi := 0; gi < G; gi++ {
			for j := 0; j < H; j++ {
				c := RNNPackedCol(G, gi, j)
				for k := 0; k < I; k++ {
					dst[(d*I+k)*cols+c] = src[(d*GH+gi*H+j)*I+k]
				}
			}
		}
	}
	return t
}

// PackR lays R [dirs, G*H, H] out as one panel per block, row k holding
// the block's packed columns of R^T: [dirs, blocks, H, 4*G].
func (o *RNN) PackR(r *Tensor) *Tensor {
	s := r.Type.Shape
	dirs, GH, H := s[0], s[1], s[2]
	G := o.Kind.Gates()
	nb := RNNBlocks(H)
	t := NewTensor(Float32, Shape{dirs, nb, H, 4 * G})
	src, dst := r.F32(), t.F32()
	for d := 0; d < dirs; d++ {
		for gi := 0; gi < G; gi++ {
			for j := 0; j < H; j++ {
				for k := 0; k < H; k++ {
					dst[((d*nb+j/4)*H+k)*4*G+gi*4+j%4] = src[(d*GH+gi*H+j)*H+k]
				}
			}
		}
	}
	return t
}

// RNNSeparateRb tells whether gate gi's recurrent bias must stay apart from
// its input bias: GRU's hidden gate with linear_before_reset multiplies it
// by r.
func (o *RNN) RNNSeparateRb(gi int) bool {
	return o.Kind == KindGRU && o.LinearBeforeReset && gi == 2
}

// PackB lays B [dirs, 2*G*H] out as [dirs, 2, G*4*blocks] in packed
// columns: row 0 is Wb+Rb, row 1 zero, except for a gate whose Rb stays
// apart (RNNSeparateRb): Wb in row 0, Rb in row 1.
func (o *RNN) PackB(b *Tensor, hidden int) *Tensor {
	dirs := b.Type.Shape[0]
	G, H := o.Kind.Gates(), hidden
	cols := G * 4 * RNNBlocks(H)
	t := NewTensor(Float32, Shape{dirs, 2, cols})
	src, dst := b.F32(), t.F32()
	for d := 0; d < dirs; d++ {
		for gi := 0; gi < G; gi++ {
			for j := 0; j < H; j++ {
				c := RNNPackedCol(G, gi, j)
				wb, rb := src[d*2*G*H+gi*H+j], src[d*2*G*H+(G+gi)*H+j]
				if o.RNNSeparateRb(gi) {
					dst[(d*2)*cols+c], dst[(d*2+1)*cols+c] = wb, rb
				} else {
					dst[(d*2)*cols+c] = wb + rb
				}
			}
		}
	}
	return t
}

// PackP lays the peepholes P [dirs, 3*H] out as [dirs, 3, 4*blocks].
func (o *RNN) PackP(p *Tensor, hidden int) *Tensor {
	dirs := p.Type.Shape[0]
	H4 := 4 * RNNBlocks(hidden)
	t := NewTensor(Float32, Shape{dirs, 3, H4})
	src, dst := p.F32(), t.F32()
	for d := 0; d < dirs; d++ {
		for i := 0; i < 3; i++ {
			copy(dst[(d*3+i)*H4:], src[(d*3+i)*hidden:(d*3+i+1)*hidden])
		}
	}
	return t
}

// Dims validates the inputs against the imported weights' shapes.
func (o *PackedRNN) Dims(in []*Value) (RNNDims, error) { return o.RNN.Dims(o.plain(in)) }
