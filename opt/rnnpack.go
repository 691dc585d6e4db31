package opt

import (
	"github.com/mlc-compiler/mlc/ir"
)

// packRNNWeights turns float32 RNN, GRU and LSTM nodes whose weights are
// constants into ir.PackedRNN, with the weights in the SIMD kernel's layout,
// so that the kernel does not rearrange them at every run (lstm_classifier:
// transposing W and R took 30 of 156 us in V8).
func packRNNWeights(g *ir.Graph, o *Options) error {
	if !o.SIMD {
		return nil // the scalar kernel reads weights as imported
	}
	for _, n := range g.Nodes {
		op, ok := n.Op.(*ir.RNN)
		if !ok || n.Inputs[0].Type.DType != ir.Float32 {
			continue
		}
		w, r, b, p := n.In(1), n.In(2), n.In(3), n.In(7)
		if w == nil || r == nil || w.Const == nil || r.Const == nil || (b != nil && b.Const == nil) || (p != nil && p.Const == nil) {
			continue
		}
		d, err := op.Dims(n.Inputs)
		if err != nil {
			return err
		}
		packed := &ir.PackedRNN{RNN: *op, W: w.Const, R: r.Const}
		in := make([]*ir.Value, 8)
		copy(in, n.Inputs)
		in[1] = ir.NewConst(w.Name+"_packed", op.PackW(w.Const))
		in[2] = ir.NewConst(r.Name+"_packed", op.PackR(r.Const))
		if b != nil {
			packed.B = b.Const
			in[3] = ir.NewConst(b.Name+"_packed", op.PackB(b.Const, d.Hidden))
		}
		if p != nil {
			packed.P = p.Const
			in[7] = ir.NewConst(p.Name+"_packed", op.PackP(p.Const, d.Hidden))
		}
		for len(in) > 0 && in[len(in)-1] == nil {
			in = in[:len(in)-1]
		}
		n.Op, n.Inputs = packed, in
	}
	return nil
}
