package opt

import "github.com/mlc-compiler/mlc/ir"

// float16 arithmetic, chosen by Options.FP16.
const (
	// FP16Float32 (the default) computes float16 graphs in float32, as
	// ONNX Runtime's CPU provider does: its InsertCastTransformer runs every
	// float16 node without a float16 kernel (on x86, all but data movement)
	// in float32 between Casts, and RemoveDuplicateCastTransformer then
	// drops each float32->float16->float32 pair, the model's own included.
	// Values are rounded to float16 only where a float16 tensor leaves the
	// computation: a graph output, a subgraph's boundary, an op that must
	// see float16.
	FP16Float32 = "float32"
	// FP16Exact rounds the result of every node to float16, as ONNX
	// specifies; Conv, MatMul and Gemm still accumulate in float32.
	FP16Exact = "exact"
)

// widenHalf moves float16 arithmetic to float32 (see FP16Float32 and
// FP16Exact), so that it takes the fused and packed float32 kernels instead
// of generic loops over float16 elements: imgly's float16 background
// remover (320 GFLOP in Conv) did not finish its first run in minutes.
func widenHalf(g *ir.Graph, o *Options) error {
	if o != nil && o.FP16 == FP16Exact {
		return widenHalfNodes(g)
	}
	widenHalfRegion(g)
	return nil
}

// halfWidener rewrites one graph; twin maps a float16 value to the float32
// value that carries it in the widened graph.
type halfWidener struct {
	twin   map[*ir.Value]*ir.Value
	consts map[*ir.Value]*ir.Value
	narrow map[*ir.Node]bool // Casts back to float16, dropped when nothing reads them
	copies map[*ir.Node]bool // Casts of a float32 twin to float32
	nodes  []*ir.Node
}

// widenHalfRegion computes every float16 value of g in float32. Each node
// that reads or writes float16 is retyped: float16 constants become float32
// constants, float16 inputs their float32 twins; Casts between float32 and
// float16 become the value they cast. Where a float16 value is still read
// as such (graph outputs, nodes with subgraphs and their captures, ops kept
// in float16) a Cast back to float16 right after the producer provides it.
// Subgraphs are rewritten the same way inside their fixed inputs and
// outputs.
func widenHalfRegion(g *ir.Graph) {
	if !anyHalf(g) {
		return
	}
	w := &halfWidener{twin: map[*ir.Value]*ir.Value{}, consts: map[*ir.Value]*ir.Value{}, narrow: map[*ir.Node]bool{}, copies: map[*ir.Node]bool{}}
	pinned := outputSet(g)
	for _, n := range g.Nodes {
		for _, sg := range n.Subgraphs() {
			for _, v := range sg.Captures() {
				pinned[v] = true
			}
		}
	}
	for _, n := range g.Nodes {
		w.node(g, n, pinned)
	}
	// Drop the Casts back to float16 that nothing reads.
	read := outputSet(g)
	for _, n := range w.nodes {
		for _, v := range n.ReadValues() {
			read[v] = true
		}
	}
	kept := w.nodes[:0]
	for _, n := range w.nodes {
		if !w.narrow[n] || read[n.Outputs[0]] {
			kept = append(kept, n)
		}
	}
	g.Nodes = kept
	elideCopies(g, w.copies)
}

// anyHalf: g or one of its subgraphs has a float16 value.
func anyHalf(g *ir.Graph) bool {
	found := false
	for _, v := range g.Inputs {
		found = found || v.Type.DType == ir.Float16
	}
	g.Walk(func(n *ir.Node) { found = found || touchesHalf(n) })
	return found
}

func (w *halfWidener) node(g *ir.Graph, n *ir.Node, pinned map[*ir.Value]bool) {
	if c, ok := n.Op.(*ir.Cast); ok && c.To != ir.Invalid && len(n.Inputs) == 1 && n.Outputs[0] != nil {
		if w.cast(g, n, c, pinned) {
			return
		}
	}
	if !touchesHalf(n) || len(n.Subgraphs()) > 0 || keepsHalf(n.Op) {
		for _, sg := range n.Subgraphs() {
			widenHalfRegion(sg)
		}
		w.nodes = append(w.nodes, n)
		return
	}
	op := pinHalfSemantics(n)
	ins := make([]*ir.Value, len(n.Inputs))
	for i, v := range n.Inputs {
		ins[i] = v
		if v != nil && v.Type.DType == ir.Float16 {
			ins[i] = w.wide(v)
		}
	}
	types, err := op.Infer(ins)
	if err != nil || len(types) < len(n.Outputs) {
		// The op does not take float32 here: it stays in float16.
		w.nodes = append(w.nodes, n)
		return
	}
	outs := make([]*ir.Value, len(n.Outputs))
	var back []*ir.Node
	for i, y := range n.Outputs {
		outs[i] = y
		if y == nil || y.Type.DType != ir.Float16 || types[i].DType != ir.Float32 {
			continue
		}
		y32 := typedValue(y.Name+"/float32", ir.Float32, y.Type.Shape)
		outs[i] = y32
		w.twin[y] = y32
		b := narrowNode(y32, y)
		w.narrow[b] = true
		back = append(back, b)
	}
	n.Op, n.Inputs, n.Outputs = op, ins, outs
	w.nodes = append(append(w.nodes, n), back...)
}

// cast rewrites a Cast from or to float16; false leaves it to node.
func (w *halfWidener) cast(g *ir.Graph, n *ir.Node, c *ir.Cast, pinned map[*ir.Value]bool) bool {
	x, y := n.Inputs[0], n.Outputs[0]
	switch {
	case c.To == ir.Float16 && x.Type.DType == ir.Float32 && x.Const == nil:
		// The model narrows a float32 value: readers that compute in
		// float32 take it unrounded; the Cast stays for any that need
		// float16.
		w.twin[y] = x
		w.narrow[n] = true
	case x.Type.DType != ir.Float16 || x.Const != nil:
		return false
	case w.twin[x] == nil:
		// A float16 value from elsewhere (a graph input, a node kept in
		// float16): the Cast converts it for real.
		if c.To == ir.Float32 {
			w.twin[x] = y
		}
	default:
		x32 := w.twin[x]
		switch {
		case c.To == ir.Float16:
			w.twin[y] = x32
			w.narrow[n] = true
			n.Inputs[0] = x32
		case c.To == ir.Float32 && !pinned[y]:
			replaceUses(g, y, x32)
			return true
		case c.To == ir.Float32:
			// A graph output or a subgraph's capture: a copy, which
			// elideCopies folds into the producer where it can.
			n.Inputs[0] = x32
			w.copies[n] = true
		default:
			n.Inputs[0] = x32
		}
	}
	w.nodes = append(w.nodes, n)
	return true
}

// wide is v's float32 twin: a converted constant, the value a widened node
// computes, or a Cast of a float16 value that comes from elsewhere (a graph
// input, a node kept in float16).
func (w *halfWidener) wide(v *ir.Value) *ir.Value {
	if v.Const != nil {
		c := w.consts[v]
		if c == nil {
			c = ir.NewConst(v.Name+"/float32", ir.CastTensor(v.Const, ir.Float32, false, ir.RoundNearest))
			w.consts[v] = c
		}
		return c
	}
	if t := w.twin[v]; t != nil {
		return t
	}
	t := typedValue(v.Name+"/float32", ir.Float32, v.Type.Shape)
	w.nodes = append(w.nodes, &ir.Node{Name: v.Name + "/widen", Op: &ir.Cast{To: ir.Float32}, Inputs: []*ir.Value{v}, Outputs: []*ir.Value{t}})
	w.twin[v] = t
	return t
}

func narrowNode(x32, y *ir.Value) *ir.Node {
	return &ir.Node{Name: y.Name + "/narrow", Op: &ir.Cast{To: ir.Float16}, Inputs: []*ir.Value{x32}, Outputs: []*ir.Value{y}}
}

// touchesHalf: n reads or writes a float16 tensor.
func touchesHalf(n *ir.Node) bool {
	for _, vs := range [][]*ir.Value{n.Inputs, n.Outputs} {
		for _, v := range vs {
			if v != nil && v.Type.DType == ir.Float16 {
				return true
			}
		}
	}
	return false
}

// pinHalfSemantics returns n's op with any arithmetic that ONNX defines in
// the type of a float16 operand made explicit, so that it survives the
// operands' widening: QuantizeLinear divides in its scale's type (an
// integer result, where one rounding decides the value).
func pinHalfSemantics(n *ir.Node) ir.Op {
	if q, ok := n.Op.(*ir.QuantizeLinear); ok && q.Precision == ir.Invalid && len(n.Inputs) > 1 && n.Inputs[1] != nil {
		pinned := *q
		pinned.Precision = q.DivType(n.Inputs[0].Type.DType, n.Inputs[1].Type.DType)
		return &pinned
	}
	return n.Op
}

// keepsHalf: ops whose meaning depends on the float16 encoding itself
// (CheckEqual compares a graph input's bytes with the value the module was
// specialized on, and the metadata names that input as fixed).
func keepsHalf(op ir.Op) bool {
	switch op.(type) {
	case *ir.BitCast, *ir.CheckEqual:
		return true
	}
	return false
}

// elideCopies removes the copies whose input is computed by a node of g
// for them alone: that node writes the copy's output directly. The float32
// computation of a float16 model that ends in a Cast to float32 then writes
// the graph output in place.
func elideCopies(g *ir.Graph, copies map[*ir.Node]bool) {
	uses := g.Uses()
	prod := g.Producers()
	inputs := map[*ir.Value]bool{}
	for _, v := range g.Inputs {
		inputs[v] = true
	}
	outputs := outputSet(g)
	kept := g.Nodes[:0]
	for _, n := range g.Nodes {
		if copies[n] {
			x, y := n.Inputs[0], n.Outputs[0]
			if p := prod[x]; p != nil && len(uses[x]) == 1 && !outputs[x] && !inputs[x] && x.Const == nil {
				if _, alias := p.Op.(ir.Aliaser); !alias && len(p.Subgraphs()) == 0 {
					for i, o := range p.Outputs {
						if o == x {
							p.Outputs[i] = y
						}
					}
					continue
				}
			}
		}
		kept = append(kept, n)
	}
	g.Nodes = kept
}

// widenHalfNodes (FP16Exact) computes float16 Conv, MatMul and Gemm whose
// weights are constants in float32, between Casts: the input is cast up,
// the weights are converted at compile time and the result is rounded back
// to float16. Every other node keeps its float16 arithmetic.
func widenHalfNodes(g *ir.Graph) error {
	nodes := make([]*ir.Node, 0, len(g.Nodes))
	for _, n := range g.Nodes {
		for _, sg := range n.Subgraphs() {
			if err := widenHalfNodes(sg); err != nil {
				return err
			}
		}
		if !halfWithConstWeights(n) {
			nodes = append(nodes, n)
			continue
		}
		x, y := n.Inputs[0], n.Outputs[0]
		x32 := typedValue(x.Name+"/float32", ir.Float32, x.Type.Shape)
		y32 := typedValue(y.Name+"/float32", ir.Float32, y.Type.Shape)
		ins := []*ir.Value{x32}
		for _, w := range n.Inputs[1:] {
			if w != nil {
				w = ir.NewConst(w.Name+"/float32", ir.FromFloats(ir.Float32, w.Type.Shape, w.Const.Floats()))
			}
			ins = append(ins, w)
		}
		up := &ir.Node{Name: n.Name + "/widen", Op: &ir.Cast{To: ir.Float32, Saturate: true}, Inputs: []*ir.Value{x}, Outputs: []*ir.Value{x32}}
		down := &ir.Node{Name: n.Name + "/narrow", Op: &ir.Cast{To: ir.Float16, Saturate: true}, Inputs: []*ir.Value{y32}, Outputs: []*ir.Value{y}}
		n.Inputs, n.Outputs = ins, []*ir.Value{y32}
		nodes = append(nodes, up, n, down)
	}
	g.Nodes = nodes
	return nil
}

// halfWithConstWeights: a float16 Conv, MatMul or Gemm with one output
// whose every input but the first is a constant (or absent).
func halfWithConstWeights(n *ir.Node) bool {
	switch n.Op.(type) {
	case *ir.Conv, *ir.MatMul, *ir.Gemm:
	default:
		return false
	}
	if len(n.Inputs) < 2 || n.In(0) == nil || n.In(0).Type.DType != ir.Float16 || n.In(0).Const != nil ||
		len(n.Outputs) != 1 || n.Outputs[0] == nil {
		return false
	}
	for _, w := range n.Inputs[1:] {
		if w != nil && (w.Const == nil || w.Type.DType != ir.Float16) {
			return false
		}
	}
	return true
}

func typedValue(name string, dt ir.DType, shape ir.Shape) *ir.Value {
	v := &ir.Value{Name: name}
	v.SetType(ir.Type{DType: dt, Shape: shape.Clone()})
	return v
}
