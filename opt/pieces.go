package opt

import "github.com/mlc-compiler/mlc/ir"

// lazyPieces marks the Concat (along channels, batch 1) that a fused
// convolution alone reads, and the float32 Resize nodes (bilinear or
// nearest) that the Concat alone reads, lazy (ir.Node.Lazy) where code
// generation can read the convolution's input as those pieces
// (Options.ReadsPieces: a Winograd layer whose bands read their input in
// place). The Concat's output and
// the upsampled maps then have no buffer: each band of the convolution
// computes its rows of an upsampled channel from the Resize's input as it
// reads them, and reads the other pieces where their producers left them.
// A U-Net's decoder joins an upsampling of the level below with the skip
// connection, and at the top level those two maps are the largest of the
// run: in unet_1024, 48 channels of 512x512 (50 MB, 32 channels of them
// upsampled) beside the convolution's 16-channel output set the arena's
// peak (docs/design.md, "A Winograd layer reads its upsampled input in
// pieces"). Only graphs with at least one such Resize change: a Concat of
// plain maps already goes in place (memplan).
func lazyPieces(g *ir.Graph, o *Options) error {
	if o.ReadsPieces == nil || !o.SIMD {
		return nil
	}
	pv := newPiecesView(g)
	for _, n := range g.Nodes {
		o.visit(n)
		op, ok := n.Op.(*ir.FusedConv)
		if !ok || op.Layout.WinogradTile() == 0 {
			continue
		}
		c, up := pv.of(n)
		if c == nil || !o.ReadsPieces(n, op) {
			continue
		}
		c.Lazy = true
		// the reader's own copy of the op says so (its workspace then
		// holds one channel's band: codegen's Winograd plan)
		pc := *op
		pc.Pieces = true
		n.Op = &pc
		for _, z := range up {
			z.Lazy = true
		}
	}
	return nil
}

// piecesView is what piecesView.of needs of g: its readers, producers and
// outputs.
type piecesView struct {
	r    *readers
	prod map[*ir.Value]*ir.Node
	out  map[*ir.Value]bool
}

func newPiecesView(g *ir.Graph) *piecesView {
	pv := &piecesView{r: newReaders(g), prod: g.Producers(), out: map[*ir.Value]bool{}}
	for _, v := range g.Outputs {
		pv.out[v] = true
	}
	return pv
}

// of returns the Concat whose output the convolution n alone reads and
// the upsamplings among the Concat's inputs that only it reads, when the
// graph lets n read its input as those pieces (nil otherwise): the pieces
// pass's conditions but code generation's (Options.ReadsPieces), which
// the caller asks with n's op as it will be.
func (pv *piecesView) of(n *ir.Node) (*ir.Node, []*ir.Node) {
	r, prod, out := pv.r, pv.prod, pv.out
	x := n.Inputs[0]
	c := prod[x]
	if c == nil || c.Lazy || out[x] || r.only(x) != n {
		return nil, nil
	}
	cat, ok := c.Op.(*ir.Concat)
	s := x.Type.Shape
	if !ok || x.Type.DType != ir.Float32 || len(s) != 4 || s[0] != 1 {
		return nil, nil
	}
	if axis, err := ir.NormAxis(cat.Axis, 4); err != nil || axis != 1 {
		return nil, nil
	}
	var up []*ir.Node
	for _, v := range c.Inputs {
		if z := prod[v]; z != nil && !out[v] && r.only(v) == c && upsamples(z, s) {
			up = append(up, z)
		}
	}
	if len(up) == 0 {
		return nil, nil
	}
	return c, up
}

// upsamples tells whether z is a Resize of a [1, C, h, w] map to the
// spatial size of s that code generation computes row by row: ONNX
// Runtime's float32 bilinear form (ir.ResizeBilinear), or a selection of
// rows and columns (nearest mode, ir.ResizePlan.Select2D); and whose input
// is an activation (not lazy, not a constant).
func upsamples(z *ir.Node, s ir.Shape) bool {
	op, ok := z.Op.(*ir.Resize)
	if !ok || z.Lazy || len(z.Inputs) == 0 || z.Inputs[0] == nil || z.Inputs[0].Const != nil {
		return false // (a constant's upsampling is computed once, at the first run)
	}
	x := z.Inputs[0].Type
	if x.DType != ir.Float32 || len(x.Shape) != 4 || x.Shape[0] != 1 {
		return false
	}
	p, err := op.PlanFor(z.Inputs)
	if err != nil {
		return false
	}
	if b := p.Bilinear; b != nil {
		return b.Planes == x.Shape[1] && b.H == x.Shape[2] && b.W == x.Shape[3] && b.OH == s[2] && b.OW == s[3]
	}
	if _, _, ok := p.Select2D(x.Shape); ok {
		return p.Out[2] == s[2] && p.Out[3] == s[3]
	}
	return false
}
