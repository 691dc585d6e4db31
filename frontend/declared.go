package frontend

import (
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/ir"
)

// DeclaredShape is the static shape the model declares for the node's
// output i (as a graph output or in value_info), if it declares one with
// every dimension known. Ops whose output shape depends on run-time data
// (axes given as a graph input) use it as the shape to compile for; their
// kernels check at run time that the data agrees.
func (c *nodeCtx) DeclaredShape(i int) (ir.Shape, bool) {
	if i >= len(c.np.Output) || c.np.Output[i] == "" || c.sc.gp == nil {
		return nil, false
	}
	name := c.np.Output[i]
	find := func(vis []*onnxpb.ValueInfoProto) (ir.Shape, bool) {
		for _, vi := range vis {
			if vi.GetName() != name {
				continue
			}
			tt := vi.GetType().GetTensorType()
			if tt == nil || tt.Shape == nil {
				return nil, false
			}
			s := make(ir.Shape, len(tt.Shape.Dim))
			for d, dim := range tt.Shape.Dim {
				if _, ok := dim.Value.(*onnxpb.TensorShapeProto_Dimension_DimValue); !ok || dim.GetDimValue() < 0 {
					return nil, false
				}
				s[d] = int(dim.GetDimValue())
			}
			return s, true
		}
		return nil, false
	}
	if s, ok := find(c.sc.gp.Output); ok {
		return s, true
	}
	return find(c.sc.gp.ValueInfo)
}
