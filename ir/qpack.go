package ir

import "fmt"

// QPacked marks the weight input of an integer matrix product or
// convolution as packed at compile time (opt's qpack pass) into the layout
// the integer GEMM reads: rows of Kp values (the reduction length K rounded
// up to 8, zero padded), the weight's zero point already subtracted, int8
// when every difference fits and int16 otherwise; the row count is rounded
// up to 4 with zero rows. For MatMulInteger and QLinearMatMul row n is
// column n of B [K, N]; for ConvInteger and QLinearConv row m holds output
// channel m's C/group * kernel weights. The weight's zero point input is
// then omitted.
type QPacked struct {
	Orig Type // the weight before packing
}

// QPackRounding gives the packed row count and row length for rows x k.
func QPackRounding(rows, k int) (rowsPadded, kPadded int) {
	return (rows + 3) / 4 * 4, (k + 7) / 8 * 8
}

// qPackDims gives the packed operand's rows and K for a weight shape.
func qPackDims(w Shape, transpose bool) (rows, k int) {
	if transpose {
		return w[1], w[0]
	}
	return w[0], w[1:].Size()
}

// PackQWeights packs weight w with zero point zp (nil, one value, or one
// per row). transpose selects the matmul layout (w is B [K, N]).
func PackQWeights(w, zp *Tensor, transpose bool) (*Tensor, error) {
	if transpose && len(w.Shape) != 2 || !transpose && len(w.Shape) < 1 {
		return nil, fmt.Errorf("cannot pack weights of shape %s", w.Shape)
	}
	rows, k := qPackDims(w.Shape, transpose)
	rp, kp := QPackRounding(rows, k)
	if zp != nil && zp.Len() != 1 && zp.Len() != rows {
		return nil, fmt.Errorf("zero point %s does not fit %d weight rows", zp.Shape, rows)
	}
	vals := make([]int64, rows*k)
	width := 1
	for r := 0; r < rows; r++ {
		var z int64
		if zp != nil {
			z = zp.Int(min(r, zp.Len()-1))
		}
		for c := 0; c < k; c++ {
			i := r*k + c
			if transpose {
				i = c*rows + r
			}
			v := w.Int(i) - z
			if v < -128 || v > 127 {
				width = 2
			}
			vals[r*k+c] = v
		}
	}
	dt := Int8
	if width == 2 {
		dt = Int16
	}
	out := NewTensor(dt, Shape{rp, kp})
	for r := 0; r < rows; r++ {
		for c := 0; c < k; c++ {
			out.SetInt(r*kp+c, vals[r*k+c])
		}
	}
	return out, nil
}

// Unpack returns the weight minus its zero point as an int32 tensor of the
// original shape.
func (p *QPacked) Unpack(t *Tensor, transpose bool) *Tensor {
	rows, k := qPackDims(p.Orig.Shape, transpose)
	kp := t.Shape[1]
	out := NewTensor(Int32, p.Orig.Shape)
	for r := 0; r < rows; r++ {
		for c := 0; c < k; c++ {
			i := r*k + c
			if transpose {
				i = c*rows + r
			}
			out.SetInt(i, t.Int(r*kp+c))
		}
	}
	return out
}

// check validates a packed input against the recorded original type.
func (p *QPacked) check(v *Value, transpose bool) error {
	rows, k := qPackDims(p.Orig.Shape, transpose)
	rp, kp := QPackRounding(rows, k)
	if dt := v.Type.DType; dt != Int8 && dt != Int16 || !v.Type.Shape.Equal(Shape{rp, kp}) {
		return fmt.Errorf("packed weights %s do not match %s", v.Type, p.Orig)
	}
	return nil
}

// origValue stands for the weight before packing in shape rules.
func (p *QPacked) origValue() *Value { return &Value{Name: "packed weights", Type: p.Orig} }
