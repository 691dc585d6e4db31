package opt

import (
	"cmp"
	"slices"

	"github.com/mlc-compiler/mlc/ir"
)

// prepackWeights rearranges the constant right-hand matrix of fused Conv
// (group 1) and MatMul nodes into the GEMM micro-kernel's panels
// (ir.PackB), so that no packing of weights happens at run time. The
// conditions match the packed kernels' (2-D convolutions of group 1).
//
// The module stores weights no larger than the model does: packed
// matrices whose values are all float16 (a float16 model's) are stored in
// float16, and Winograd's transformed weights (16/9 the size) are not
// stored at all; an ir.PrepareWeights node computes the float32 layout the
// kernel reads from them at run time (see stored below).
func prepackWeights(g *ir.Graph, o *Options) error {
	if !o.SIMD {
		return nil // the scalar kernels read weights as imported
	}
	choice := choosePreparation(g, o)
	var nodes []*ir.Node
	defer func() { g.Nodes = nodes }()
	for _, n := range g.Nodes {
		nodes = append(nodes, n)
		switch op := n.Op.(type) {
		case *ir.FusedConv:
			w := n.Inputs[1]
			if !packable(n, op) {
				continue
			}
			layout := o.convWeights(n, op)
			if layout == ir.WeightsPlain {
				continue
			}
			M, K := w.Type.Shape[0], w.Type.Shape[1:].Size()
			src := w.Const.F32()
			op.WShape = w.Type.Shape.Clone()
			c := choice[n]
			if c.layout != ir.WeightsPlain {
				// F(2x2,3x3) does 2.25x fewer multiplies, F(4x4,3x3) 4x;
				// their weights are 16/9 and 36/9 the size: prepared where
				// the budget allows, else transformed in the kernel from
				// the stored form.
				op.Layout, op.Plain = c.layout, w.Const
				if c.inKernel {
					n.Inputs[1] = ir.NewConst(w.Name+"_winograd_stored", ir.WinogradSource(narrowed(w.Const)))
					continue
				}
				n.Inputs[1] = stored(&nodes, w.Name+"_winograd", ir.WinogradSource(narrowed(w.Const)), op.Layout, c.eachRun)
			} else if layout != ir.WeightsPackB {
				// The weights are the broadcast (A) side: V8 broadcasts
				// them for free, the portable shape expands a panel at a
				// time at run time.
				op.Layout = ir.WeightsPackA
				n.Inputs[1] = stored(&nodes, w.Name+"_packed", ir.PackA(M, K, func(m, k int) float32 { return src[m*K+k] }), op.Layout, c.eachRun)
			} else {
				op.Layout = ir.WeightsPackB
				n.Inputs[1] = stored(&nodes, w.Name+"_packed", ir.PackB(K, M, func(k, m int) float32 { return src[m*K+k] }), op.Layout, c.eachRun)
			}
		case *ir.FusedMatMul:
			b := n.Inputs[1]
			if op.Packed || b.Const == nil {
				continue
			}
			src := b.Const.F32()
			N := op.N
			n.Inputs[1] = stored(&nodes, b.Name+"_packed", ir.PackB(op.K, N, func(k, j int) float32 { return src[k*N+j] }), ir.WeightsPackB, choice[n].eachRun)
			op.Packed = true
		}
	}
	return nil
}

// stored returns the value a kernel reads for weights t in layout l (t is
// PackA or PackB float32 data, or WinogradSource data of any float dtype):
// t itself as a constant, or, when the module can store it smaller, the
// output of a PrepareWeights node (appended to nodes before the reader)
// computing it from the smaller constant, before every run of the reader
// or once (see choosePreparation).
func stored(nodes *[]*ir.Node, name string, t *ir.Tensor, l ir.WeightLayout, eachRun bool) *ir.Value {
	if l.WinogradTile() == 0 {
		if !halfExact(t) {
			return ir.NewConst(name, t)
		}
		t = ir.CastTensor(t, ir.Float16, false, ir.RoundNearest)
	}
	reader := (*nodes)[len(*nodes)-1]
	src := ir.NewConst(name+"_stored", t)
	p := &ir.PrepareWeights{Layout: l, EachRun: eachRun}
	types, err := p.Infer([]*ir.Value{src})
	if err != nil {
		panic(err) // the layouts above always fit
	}
	out := typedValue(name, types[0].DType, types[0].Shape)
	*nodes = append((*nodes)[:len(*nodes)-1], &ir.Node{Name: name + "/prepare", Op: p, Inputs: []*ir.Value{src}, Outputs: []*ir.Value{out}}, reader)
	return out
}

// prepChoice is how a layer's weights are prepared: in a Winograd
// domain (layout) or packed (plain), and before every run or once.
type prepChoice struct {
	layout  ir.WeightLayout
	eachRun bool
	// inKernel: a Winograd layer reads its weights as stored and
	// transforms them a panel at a time itself.
	inKernel bool
}

// Measured on this machine: preparing weights writes about 2 GB/s on
// either engine (Winograd 1.6-2.0, widening float16 1.8-4.4, V8 and
// wazero) while the kernels run near 30 GFLOP/s, 2 flops per 4-byte
// prepared weight and use of it: preparing costs 30/reuse of the layer's
// time, reuse being how often the kernel reads each prepared weight
// (output pixels of a packed GEMM, tiles of a Winograd product).
const (
	// From this reuse, weights are prepared before every run (<= 1%).
	prepareEachRunReuse = 3000
	// Below this many tiles a Winograd layer does not prepare on every
	// run even where that is free in memory (freeEachRun): 30/tiles of its
	// time; transforming in the kernel costs less.
	winogradEachRunTiles = 100
	// The weights kept prepared may add this share to the memory a model
	// needs anyway (its stored weights and largest activations), so that
	// linear memory stays within 1.2x of that with some slack for the
	// arena's fragmentation, or preparedFloor bytes, below which memory
	// matters to no one (small and medium models keep all their Winograd
	// layers, as when U was stored in the module).
	preparedShare = 0.18
	preparedFloor = 16 << 20
	// Preparing a layer's weights before every run costs no memory when
	// they fit in the arena beside what is live at that layer, under the
	// model's largest activations (deep layers of a U-Net or an encoder,
	// at low resolution); such layers prepare every run while all of that
	// preparation stays within this share of the model's arithmetic
	// time. A prepared byte costs about as long as flopsPerPreparedByte
	// flops of the kernels (2 GB/s against 30 GFLOP/s), a Winograd byte
	// flopsPerWinogradByte (its transform writes 5.6-7 GB/s, V8 and
	// wazero, since it stores U a cache line at a time).
	freeEachRunShare     = 0.01
	flopsPerPreparedByte = 15
	flopsPerWinogradByte = 5
)

// cand is a layer whose weights may be prepared once or every run.
type cand struct {
	n            *ir.Node
	reuse, bytes int             // bytes kept when prepared once
	src          int             // bytes of the stored form
	layout       ir.WeightLayout // a Winograd layout, or plain (packed)
	// An F(4x4,3x3) layer's F(2x2,3x3) tiles, its rank among the layers
	// (tiles of F(4x4,3x3) and F(2x2,3x3) are not comparable).
	reuse2 int
}

// choosePreparation decides, per layer, how its weights are prepared
// (the rule is recorded in docs/design.md, "Weights at their stored
// width"): layers with reuse >= prepareEachRunReuse prepare before every
// run; the others keep their prepared weights in memory, most reused
// first, while what that adds stays within preparedShare of the stored
// weights and the largest activations (or preparedFloor); past that,
// Winograd layers read their weights as stored and transform them a panel
// at a time in the kernel (no memory, a few percent of the layer's time:
// less than preparing on every run, and than the F(2x2,3x3) or direct
// form it once fell back to), other layers prepare on every run.
//
// What keeping weights prepared adds: the prepared bytes, less their
// stored form, which is then staged in the arena, where it costs nothing
// while the staged weights fit under the largest activations.
func choosePreparation(g *ir.Graph, o *Options) map[*ir.Node]prepChoice {
	choice := map[*ir.Node]prepChoice{}
	var cands []cand
	stored, peak := 0, 0
	seen := map[*ir.Value]bool{}
	for _, n := range g.Nodes {
		act := 0
		for _, v := range append(append([]*ir.Value{}, n.Inputs...), n.Outputs...) {
			switch {
			case v == nil:
			case v.Const != nil:
				if !seen[v] {
					seen[v] = true
					stored += storedBytes(v.Const)
				}
			default:
				act += v.Type.Bytes()
			}
		}
		peak = max(peak, act)
		switch op := n.Op.(type) {
		case *ir.FusedConv:
			w := n.Inputs[1]
			if !packable(n, op) {
				continue
			}
			y := n.Outputs[0].Type.Shape
			pixels := y.Size() / max(y[1], 1) // output pixels, batch included
			M, K := w.Type.Shape[0], w.Type.Shape[1:].Size()
			packed := 0
			if halfExact(w.Const) {
				packed = (M + 7) / 8 * 8 * ir.PackedK(K) * 4 // either packing, rounded up
			}
			layout := o.convWeights(n, op)
			if m := layout.WinogradTile(); m > 0 {
				tiles := func(m int) int { return pixels / (y[2] * y[3]) * ((y[2] + m - 1) / m) * ((y[3] + m - 1) / m) }
				bytes := func(m int) int { return (m + 2) * (m + 2) * ((M + 3) / 4) * w.Type.Shape[1] * 16 }
				c := cand{n: n, reuse: tiles(m), bytes: bytes(m), src: storedBytes(w.Const), layout: layout}
				if m == 4 {
					c.reuse2 = tiles(2)
				}
				cands = append(cands, c)
			} else if packed > 0 && layout != ir.WeightsPlain {
				cands = append(cands, cand{n: n, reuse: pixels, bytes: packed, src: packed / 2})
			}
		case *ir.FusedMatMul:
			if b := n.Inputs[1]; !op.Packed && b.Const != nil && halfExact(b.Const) {
				rows := n.Inputs[0].Type.Shape.Size() / max(op.K, 1)
				packed := ir.PackedK(op.K) * ((op.N + 7) / 8 * 8) * 4
				cands = append(cands, cand{n: n, reuse: rows, bytes: packed, src: packed / 2})
			}
		}
	}
	for _, c := range cands {
		choice[c.n] = prepChoice{layout: c.layout, eachRun: true}
	}
	// by reuse, F(4x4,3x3) layers at their F(2x2,3x3) form's
	rank := func(c cand) int { return cmp.Or(c.reuse2, c.reuse) }
	slices.SortStableFunc(cands, func(a, b cand) int { return rank(b) - rank(a) })
	free, crowded := freeEachRun(g, o, cands)
	budget := max(int(preparedShare*float64(stored+peak)), preparedFloor)
	prepared, staged := 0, 0
	fits := func(bytes, src int) bool {
		if prepared+bytes-min(staged+src, peak) > budget {
			return false
		}
		prepared, staged = prepared+bytes, staged+src
		return true
	}
	for _, c := range cands {
		switch {
		case winogradTilesAsA(c):
			// few tiles: the kernel's transposed products from the stored
			// weights beat the prepared form and keep no memory
			// (docs/design.md, "Few tiles: the tiles as A").
			choice[c.n] = prepChoice{layout: c.layout, inKernel: true}
		case c.reuse >= prepareEachRunReuse, free[c.n]:
		case crowded[c.n] && c.layout.WinogradTile() > 0:
			// cheap to prepare every run but no room beside the arena's
			// peak: kept, it would cost its whole size beside the arena,
			// as much as or more than preparing it there; the stored form
			// costs no memory (docs/design.md, "Each-run weights against
			// the arena the plan will have").
			choice[c.n] = prepChoice{layout: c.layout, inKernel: true}
		case fits(c.bytes, c.src):
			choice[c.n] = prepChoice{layout: c.layout}
		case c.layout.WinogradTile() > 0:
			// Transformed a panel at a time from the stored weights: no
			// memory, a few percent of the layer's time (docs/design.md,
			// "Winograd from the stored weights").
			choice[c.n] = prepChoice{layout: c.layout, inKernel: true}
		}
	}
	return choice
}

// winogradTilesAsA tells whether candidate c is a Winograd layer that
// codegen runs with the tiles as A when it reads its weights as stored.
func winogradTilesAsA(c cand) bool {
	m := c.layout.WinogradTile()
	y := c.n.Outputs[0].Type.Shape
	return m > 0 && len(y) == 4 && ir.WinogradTilesAsA(m, y[1], y[2], y[3])
}

// storedBytes is the size the module stores t at: half a float32 tensor
// whose values are all float16.
func storedBytes(t *ir.Tensor) int {
	if halfExact(t) {
		return len(t.Data) / 2
	}
	return len(t.Data)
}

// narrowed is w in float16 when that holds every value exactly.
func narrowed(w *ir.Tensor) *ir.Tensor {
	if w.DType == ir.Float32 && halfExact(w) {
		return ir.CastTensor(w, ir.Float16, false, ir.RoundNearest)
	}
	return w
}

// halfExact: every value of the float32 tensor t is a float16 value (a
// float16 model's weights, widened), NaNs aside.
func halfExact(t *ir.Tensor) bool {
	if t.DType != ir.Float32 {
		return false
	}
	for _, v := range t.F32() {
		if ir.RoundHalf(v) != v && v == v {
			return false
		}
	}
	return true
}

// packable: the fused Conv's constant float32 weights go into the packed
// GEMM's layouts (2-D convolutions of group 1).
func packable(n *ir.Node, op *ir.FusedConv) bool {
	w := n.Inputs[1]
	return op.Layout == ir.WeightsPlain && op.Group == 1 && w.Const != nil && w.Type.DType == ir.Float32 && len(w.Type.Shape) == 4
}

// convWeights is the layout code generation reads a fused convolution's
// weights in (Options.ConvWeights); plain when it did not say.
func (o *Options) convWeights(n *ir.Node, op *ir.FusedConv) ir.WeightLayout {
	if o.ConvWeights == nil {
		return ir.WeightsPlain
	}
	return o.ConvWeights(n, op)
}

// freeEachRun picks, among the layers cands (by reuse, most first; the
// least reused are considered first), those whose weights prepare before
// every run at no cost in memory and little in time (see
// freeEachRunShare), and returns them (free) and the layers that would
// cost little in time but whose weights do not fit (crowded). What is
// live at a layer is counted over g's main graph by each value's first and
// last step, views included (which overstates it), with the workspace of
// the layer's kernel in the form prepack gives it (forms); the largest of
// it stands for the arena's peak. As in the arena (memplan), the graph's
// inputs (at fixed addresses) are not counted, nor the values the pieces
// pass will leave without buffers (piecesLazy), whose inputs live until
// those values are read.
func freeEachRun(g *ir.Graph, o *Options, cands []cand) (free, crowded map[*ir.Node]bool) {
	readers := winogradReaders(cands)
	lazy := piecesLazy(g, o, readers)
	forms := prepackedForms(g, o, readers, lazy)
	step := make(map[*ir.Node]int, len(g.Nodes))
	first, last := map[*ir.Value]int{}, map[*ir.Value]int{}
	fixed := map[*ir.Value]bool{}
	for _, v := range g.Inputs {
		fixed[v] = true
	}
	var use func(v *ir.Value, i int)
	use = func(v *ir.Value, i int) {
		if z := lazy[v]; z != nil {
			for _, x := range z.ReadValues() {
				use(x, i)
			}
			return
		}
		if v.Const != nil || fixed[v] {
			return
		}
		if _, ok := first[v]; !ok {
			first[v] = 0 // read before any step writes it
		}
		last[v] = max(last[v], i)
	}
	for i, nd := range g.Nodes {
		step[nd] = i
		for _, v := range nd.Outputs {
			if v != nil && v.Const == nil && lazy[v] == nil {
				first[v], last[v] = i, i
			}
		}
		for _, v := range nd.ReadValues() {
			use(v, i)
		}
	}
	for _, v := range g.Outputs {
		if _, ok := first[v]; ok {
			last[v] = len(g.Nodes) - 1
		}
	}
	// values' bytes from their first step to their last, and each step's
	// workspace at that step alone
	live := make([]int, len(g.Nodes)+1)
	for v, f := range first {
		live[f] += v.Type.Bytes()
		live[last[v]+1] -= v.Type.Bytes()
	}
	for i, nd := range g.Nodes {
		if o.Workspace == nil || len(nd.Outputs) > 0 && lazy[nd.Outputs[0]] != nil {
			continue
		}
		if f := forms[nd]; f != nil {
			nd = f
		}
		w := o.Workspace(nd)
		live[i] += w
		live[i+1] -= w
	}
	peak := 0
	for i := range g.Nodes {
		if i > 0 {
			live[i] += live[i-1]
		}
		peak = max(peak, live[i])
	}
	free, crowded = map[*ir.Node]bool{}, map[*ir.Node]bool{}
	budget := int64(freeEachRunShare * float64(ir.GraphFLOPs(g)))
	for _, c := range slices.Backward(cands) {
		s, ok := step[c.n]
		cost := int64(c.bytes) * flopsPerPreparedByte
		if c.layout != ir.WeightsPlain {
			cost = int64(c.bytes) * flopsPerWinogradByte
		}
		// the floor counts the layer's size in F(2x2,3x3) tiles, whatever
		// its form: preparing costs 2*flopsPerWinogradByte/tiles of the
		// layer's products, so an F(4x4,3x3) layer of 64 tiles (256 of
		// F(2x2,3x3)) spends 16% of them, less than the floor allowed
		// when a byte counted 15 flops (30% at 100 tiles)
		if !ok || cmp.Or(c.reuse2, c.reuse) < winogradEachRunTiles || cost > budget {
			continue
		}
		if live[s]+c.bytes > peak {
			crowded[c.n] = true
			continue
		}
		free[c.n] = true
		budget -= cost
	}
	return free, crowded
}

// piecesLazy is what the pieces pass will leave without buffers once
// prepack has given the Winograd layers their forms (readers): the
// outputs of each Concat and upsampling that a Winograd layer will read as
// pieces (piecesView.of, and code generation's answer for the layer's op
// as prepack makes it), mapped to their nodes.
func piecesLazy(g *ir.Graph, o *Options, readers map[*ir.Node]*ir.Node) map[*ir.Value]*ir.Node {
	lazy := map[*ir.Value]*ir.Node{}
	if o.ReadsPieces == nil || !o.SIMD {
		return lazy
	}
	pv := newPiecesView(g)
	for _, n := range g.Nodes {
		reader := n
		if r, ok := readers[n]; ok {
			reader = r
		}
		op, ok := reader.Op.(*ir.FusedConv)
		if !ok || op.Layout.WinogradTile() == 0 {
			continue
		}
		cat, up := pv.of(n)
		if cat == nil || !o.ReadsPieces(reader, op) {
			continue
		}
		for _, z := range append(up, cat) {
			for _, v := range z.Outputs {
				lazy[v] = z
			}
		}
	}
	return lazy
}

// winogradReaders maps the Winograd candidates among cands to their nodes
// as prepack leaves them for code generation: the layout and weights'
// shape set, and the weights input as stored where the layer transforms
// them in the kernel whatever the budget (winogradTilesAsA); the prepared
// form's shape otherwise, which plans the layer as the stored form does
// (the tiles as A aside).
func winogradReaders(cands []cand) map[*ir.Node]*ir.Node {
	readers := map[*ir.Node]*ir.Node{}
	for _, c := range cands {
		if c.layout.WinogradTile() == 0 {
			continue
		}
		op := *c.n.Op.(*ir.FusedConv)
		w := c.n.Inputs[1]
		op.Layout, op.WShape = c.layout, w.Type.Shape.Clone()
		n := *c.n
		n.Op = &op
		if winogradTilesAsA(c) {
			n.Inputs = slices.Clone(n.Inputs)
			dt := ir.Float32
			if halfExact(w.Const) {
				dt = ir.Float16
			}
			n.Inputs[1] = &ir.Value{Name: w.Name, Type: ir.Type{DType: dt, Shape: ir.WinogradSourceShape(op.WShape[0], op.WShape[1])}}
		}
		readers[c.n] = &n
	}
	return readers
}

// prepackedForms maps the layers of g whose weights prepack rearranges to
// their nodes as it will leave them for code generation, whose workspaces
// freeEachRun counts: a Winograd layer as readers has it (reading pieces
// where lazy says so), another convolution with its weights' layout, a
// MatMul packed.
func prepackedForms(g *ir.Graph, o *Options, readers map[*ir.Node]*ir.Node, lazy map[*ir.Value]*ir.Node) map[*ir.Node]*ir.Node {
	forms := map[*ir.Node]*ir.Node{}
	for _, n := range g.Nodes {
		switch op := n.Op.(type) {
		case *ir.FusedConv:
			if r, ok := readers[n]; ok {
				f, fop := *r, *r.Op.(*ir.FusedConv)
				fop.Pieces = lazy[n.Inputs[0]] != nil
				f.Op = &fop
				forms[n] = &f
				continue
			}
			if !packable(n, op) {
				continue
			}
			l := o.convWeights(n, op)
			if l == ir.WeightsPlain {
				continue
			}
			if l != ir.WeightsPackB {
				l = ir.WeightsPackA
			}
			f, fop := *n, *op
			fop.Layout, fop.WShape = l, n.Inputs[1].Type.Shape.Clone()
			f.Op = &fop
			forms[n] = &f
		case *ir.FusedMatMul:
			if op.Packed || n.Inputs[1].Const == nil {
				continue
			}
			f, fop := *n, *op
			fop.Packed = true
			f.Op = &fop
			forms[n] = &f
		}
	}
	return forms
}
