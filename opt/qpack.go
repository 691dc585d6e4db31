package opt

import (
	"github.com/mlc-compiler/mlc/ir"
)

// packQuantWeights packs the constant weights of integer matrix products
// and convolutions into the integer GEMM's operand layout (ir.QPacked) at
// compile time, so that the module neither repacks them on every run nor
// carries them twice; their zero points fold into the packed values.
func packQuantWeights(g *ir.Graph, _ *Options) error {
	var err error
	g.Walk(func(n *ir.Node) {
		if err != nil {
			return
		}
		var wi, zi int
		var transpose bool
		var set func(p *ir.QPacked) ir.Op
		switch op := n.Op.(type) {
		case *ir.MatMulInteger:
			wi, zi, transpose = 1, 3, true
			set = func(p *ir.QPacked) ir.Op { c := *op; c.Packed = p; return &c }
			if op.Packed != nil {
				return
			}
		case *ir.QLinearMatMul:
			wi, zi, transpose = 3, 5, true
			set = func(p *ir.QPacked) ir.Op { c := *op; c.Packed = p; return &c }
			if op.Packed != nil {
				return
			}
		case *ir.ConvInteger:
			wi, zi = 1, 3
			set = func(p *ir.QPacked) ir.Op { c := *op; c.Packed = p; return &c }
			if op.Packed != nil {
				return
			}
		case *ir.QLinearConv:
			wi, zi = 3, 5
			set = func(p *ir.QPacked) ir.Op { c := *op; c.Packed = p; return &c }
			if op.Packed != nil {
				return
			}
		default:
			return
		}
		w, z := n.In(wi), n.In(zi)
		if w == nil || w.Const == nil || z != nil && z.Const == nil {
			return
		}
		if transpose && len(w.Type.Shape) != 2 {
			return // batched or 1-D B: packed at run time
		}
		var zt *ir.Tensor
		if z != nil {
			zt = z.Const
		}
		packed, e := ir.PackQWeights(w.Const, zt, transpose)
		if e != nil {
			err = e
			return
		}
		n.Op = set(&ir.QPacked{Orig: w.Type})
		n.Inputs[wi] = ir.NewConst(w.Name+"/packed", packed)
		if zi < len(n.Inputs) {
			n.Inputs[zi] = nil
		}
	})
	return err
}
