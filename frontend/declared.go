package frontend

import (
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/ir"
)

// DeclaredShape is the static shape the model declares for the node's
// output i, if any. Ops whose output shape depends on run-time data (axes
// given as a graph input) compile for it, and their kernels check at run
// time that the data agrees, so a wrong declaration gives a run-time error,
// never wrong results. A value without a declaration of its own takes that
// of a value it flows into through shape-preserving unary ops (the
// expansions of ONNX functions apply Cast, Sqrt or Log to a reduction before
// the graph output).
func (c *nodeCtx) DeclaredShape(i int) (ir.Shape, bool) {
	if i >= len(c.np.Output) || c.np.Output[i] == "" || c.sc.gp == nil {
		return nil, false
	}
	return declaredShape(c.sc.gp, c.np.Output[i], 8)
}

// shapePreserving lists ops whose output 0 has the shape of input 0.
var shapePreserving = map[string]bool{
	"Abs": true, "Neg": true, "Exp": true, "Log": true, "Sqrt": true, "Reciprocal": true, "Floor": true,
	"Ceil": true, "Round": true, "Sign": true, "Relu": true, "Sigmoid": true, "Tanh": true, "Erf": true,
	"Cast": true, "CastLike": true, "Identity": true, "Not": true,
}

func declaredShape(gp *onnxpb.GraphProto, name string, depth int) (ir.Shape, bool) {
	for _, vis := range [][]*onnxpb.ValueInfoProto{gp.Output, gp.ValueInfo} {
		for _, vi := range vis {
			if vi.GetName() == name {
				if s, ok := staticShape(vi); ok {
					return s, true
				}
			}
		}
	}
	if depth == 0 {
		return nil, false
	}
	for _, n := range gp.Node {
		if (n.GetDomain() == "" || n.GetDomain() == "ai.onnx") && shapePreserving[n.GetOpType()] &&
			len(n.Input) > 0 && n.Input[0] == name && len(n.Output) > 0 && n.Output[0] != "" {
			if s, ok := declaredShape(gp, n.Output[0], depth-1); ok {
				return s, true
			}
		}
	}
	return nil, false
}

// staticShape reads a declared tensor shape whose dimensions are all known.
func staticShape(vi *onnxpb.ValueInfoProto) (ir.Shape, bool) {
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
