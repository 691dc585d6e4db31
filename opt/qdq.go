package opt

import (
	"fmt"
	"math"
	"slices"

	"github.com/mlc-compiler/mlc/ir"
)

// lowerQDQ compiles QDQ graphs (QuantizeLinear and DequantizeLinear around
// float operators, as quantization tools export them and as mlc's own
// quantizer writes them) to integer kernels instead of dequantizing and
// running float code:
//
//   - DequantizeLinear(x) -> Conv/MatMul/Gemm with DequantizeLinear of
//     constant weights (one scale, or one per output channel), an optional
//     constant bias (or a following Add of a per-channel constant), then
//     Relu, Clip, LeakyRelu, Max/Min with a constant: one QConv or QMatMul.
//     When every reader of the result is a QuantizeLinear with one set of
//     parameters, the op writes int8/uint8 directly; otherwise float32.
//   - DequantizeLinear(a) + DequantizeLinear(b) (same shape), activations,
//     QuantizeLinear: one QAdd.
//   - ops that commute with dequantization (MaxPool, Reshape, Flatten,
//     Squeeze, Unsqueeze, Identity, Transpose, and Concat of inputs with one
//     set of parameters) move below it, so that they run on 8-bit data, and
//     QuantizeLinear(DequantizeLinear(x)) with the same parameters is x.
//
// The integer results differ from dequantize-then-float by the rounding of
// the requantization (as in ONNX Runtime's QDQ transformation).
func lowerQDQ(g *ir.Graph, _ *Options) error {
	r := &qdqRewriter{g: g, removed: map[*ir.Node]bool{}}
	for changed := true; changed; {
		changed = false
		r.index()
		for _, n := range slices.Clone(g.Nodes) {
			if r.removed[n] {
				continue
			}
			ok, err := r.rewrite(n)
			if err != nil {
				return err
			}
			if ok {
				changed = true
				r.index()
			}
		}
	}
	return nil
}

type qdqRewriter struct {
	g        *ir.Graph
	producer map[*ir.Value]*ir.Node
	uses     map[*ir.Value][]*ir.Node
	outputs  map[*ir.Value]bool
	removed  map[*ir.Node]bool
	stop     map[*ir.Node]bool // nodes a fused op may not take over
}

func (r *qdqRewriter) index() {
	r.producer, r.uses = r.g.Producers(), r.g.Uses()
	r.outputs = map[*ir.Value]bool{}
	for _, v := range r.g.Outputs {
		r.outputs[v] = true
	}
}

// qparams are per-tensor quantization parameters.
type qparams struct {
	scale float32
	zero  int32
	dt    ir.DType
}

// dq describes a DequantizeLinear: x and, per element of the axis (or one),
// its scales and zero points.
type dq struct {
	node   *ir.Node
	x      *ir.Value
	axis   int
	scales []float32
	zeros  []int64
}

func (d *dq) perTensor() (qparams, bool) {
	if dt := d.x.Type.DType; len(d.scales) != 1 || dt != ir.Int8 && dt != ir.Uint8 && dt != ir.Int16 {
		return qparams{}, false
	}
	return qparams{d.scales[0], int32(d.zeros[0]), d.x.Type.DType}, true
}

// is8 reports 8-bit parameters: integer ops other than a QConv's input
// take only those.
func (p qparams) is8() bool { return p.dt == ir.Int8 || p.dt == ir.Uint8 }

// dequant returns the DequantizeLinear producing v, with constant float32
// scales and zero points, per tensor or per axis; nil otherwise.
func (r *qdqRewriter) dequant(v *ir.Value) *dq {
	n := r.producer[v]
	if n == nil {
		return nil
	}
	op, ok := n.Op.(*ir.DequantizeLinear)
	if !ok || op.BlockSize != 0 || op.OutType != ir.Invalid && op.OutType != ir.Float32 {
		return nil
	}
	x, s, z := n.In(0), n.In(1), n.In(2)
	if s.Const == nil || s.Type.DType != ir.Float32 || z != nil && z.Const == nil {
		return nil
	}
	if dt := x.Type.DType; dt != ir.Int8 && dt != ir.Uint8 && dt != ir.Int16 && dt != ir.Int32 {
		return nil
	}
	d := &dq{node: n, x: x, axis: -1}
	if s.Type.Shape.Size() != 1 {
		if len(s.Type.Shape) != 1 {
			return nil
		}
		d.axis = op.Axis
		if d.axis < 0 {
			d.axis += len(x.Type.Shape)
		}
		if d.axis < 0 || d.axis >= len(x.Type.Shape) || x.Type.Shape[d.axis] != s.Type.Shape[0] {
			return nil
		}
	}
	d.scales = slices.Clone(s.Const.F32())
	d.zeros = make([]int64, len(d.scales))
	if z != nil {
		if z.Type.Shape.Size() != len(d.scales) {
			return nil
		}
		for i := range d.zeros {
			d.zeros[i] = z.Const.Int(i)
		}
	}
	for _, sc := range d.scales {
		if !(sc > 0) || math.IsInf(float64(sc), 0) {
			return nil
		}
	}
	return d
}

// quant returns the parameters of a QuantizeLinear node n of float32 input
// to int8/uint8 with constant per-tensor parameters.
func quant(n *ir.Node) (qparams, bool) {
	op, ok := n.Op.(*ir.QuantizeLinear)
	if !ok || op.BlockSize != 0 || op.Precision != ir.Invalid && op.Precision != ir.Float32 {
		return qparams{}, false
	}
	x, s, z, y := n.In(0), n.In(1), n.In(2), n.Out(0)
	if y == nil || x.Type.DType != ir.Float32 || s.Const == nil || s.Type.DType != ir.Float32 || s.Type.Shape.Size() != 1 || z != nil && (z.Const == nil || z.Type.Shape.Size() != 1) {
		return qparams{}, false
	}
	dt := y.Type.DType
	if dt != ir.Int8 && dt != ir.Uint8 && dt != ir.Int16 {
		return qparams{}, false
	}
	p := qparams{scale: s.Const.F32()[0], dt: dt}
	if z != nil {
		p.zero = int32(z.Const.Int(0))
	}
	if !(p.scale > 0) || math.IsInf(float64(p.scale), 0) {
		return qparams{}, false
	}
	return p, true
}

func (r *qdqRewriter) rewrite(n *ir.Node) (bool, error) {
	switch op := n.Op.(type) {
	case *ir.QuantizeLinear:
		return r.collapse(n), nil
	case *ir.Conv:
		return r.product(n, op)
	case *ir.MatMul, *ir.Gemm:
		return r.product(n, op)
	case *ir.Binary:
		if op.Fn == ir.FnAdd {
			return r.add(n)
		}
	}
	if CommutesWithDequant(n) {
		return r.sink(n)
	}
	return false, nil
}

// collapse replaces QuantizeLinear(DequantizeLinear(x)) by x when both
// have the same parameters.
func (r *qdqRewriter) collapse(n *ir.Node) bool {
	q, ok := quant(n)
	if !ok || r.outputs[n.Out(0)] {
		return false
	}
	d := r.dequant(n.In(0))
	if d == nil {
		return false
	}
	p, ok := d.perTensor()
	if !ok || p != q {
		return false
	}
	replaceUses(r.g, n.Out(0), d.x)
	r.drop(n)
	return true
}

// CommutesWithDequant reports ops whose result on dequantized data equals
// the dequantization of their result on the integers (per-tensor
// parameters, positive scale).
func CommutesWithDequant(n *ir.Node) bool {
	switch op := n.Op.(type) {
	case ir.Aliaser:
		// A view (Reshape, Flatten, Squeeze, Unsqueeze, Identity) keeps
		// the values unless it reinterprets their bits as another dtype
		// (BitCast).
		return n.In(0) != nil && n.Out(0) != nil && n.In(0).Type.DType == n.Out(0).Type.DType
	case *ir.Transpose, *ir.Concat:
		return true
	case *ir.Pool:
		return op.Kind == ir.PoolMax && n.Out(1) == nil
	}
	return false
}

// sink moves DequantizeLinear below an op that commutes with it.
func (r *qdqRewriter) sink(n *ir.Node) (bool, error) {
	data := []int{0}
	if _, ok := n.Op.(*ir.Concat); ok {
		data = data[:0]
		for i := range n.Inputs {
			data = append(data, i)
		}
	}
	var p qparams
	var first *dq
	for j, i := range data {
		d := r.dequant(n.In(i))
		if d == nil {
			return false, nil
		}
		pi, ok := d.perTensor()
		if !ok || j > 0 && pi != p {
			return false, nil
		}
		p, first = pi, d
	}
	y := n.Out(0)
	if y == nil || y.Type.DType != ir.Float32 {
		return false, nil
	}
	for _, i := range data {
		n.Inputs[i] = r.dequant(n.In(i)).x
	}
	yq := &ir.Value{Name: y.Name + "/quantized"}
	n.Outputs[0] = yq
	if err := ir.InferNode(n); err != nil {
		return false, err
	}
	d := &ir.Node{Name: n.Name + "/dequantize", Op: first.node.Op, Inputs: []*ir.Value{yq, first.node.In(1), first.node.In(2)}, Outputs: []*ir.Value{y}}
	r.insertAfter(n, d)
	return true, nil
}

// act is an activation chain folded into one epilogue.
type act struct {
	leaky  bool
	alpha  float32
	lo, hi float64
}

// scalarConst returns the value of a constant with one element.
func scalarConst(v *ir.Value) (float64, bool) {
	if v == nil || v.Const == nil || v.Type.Shape.Size() != 1 || !v.Type.DType.IsFloat() {
		return 0, false
	}
	return v.Const.Float(0), true
}

// step folds activation node n (reading the chain's value v) into a, or
// reports that it does not fit.
func (a *act) step(n *ir.Node, v *ir.Value) bool {
	clamp := func(lo, hi float64) {
		c := func(x float64) float64 { return min(max(x, lo), hi) }
		a.lo, a.hi = c(a.lo), c(a.hi)
	}
	unclamped := math.IsInf(a.lo, -1) && math.IsInf(a.hi, 1)
	switch op := n.Op.(type) {
	case *ir.Unary:
		switch op.Fn {
		case ir.FnRelu:
			clamp(0, math.Inf(1))
			return true
		case ir.FnLeakyRelu:
			if a.leaky || !unclamped {
				return false
			}
			a.leaky, a.alpha = true, op.Alpha
			return true
		}
	case *ir.Clip:
		lo, hi := math.Inf(-1), math.Inf(1)
		if n.In(0) != v {
			return false
		}
		if c := n.In(1); c != nil {
			x, ok := scalarConst(c)
			if !ok {
				return false
			}
			lo = x
		}
		if c := n.In(2); c != nil {
			x, ok := scalarConst(c)
			if !ok {
				return false
			}
			hi = x
		}
		if lo > hi {
			return false
		}
		clamp(lo, hi)
		return true
	case *ir.Binary:
		if op.Fn != ir.FnMax && op.Fn != ir.FnMin || len(n.Inputs) != 2 {
			return false
		}
		other := n.In(1)
		if n.In(0) != v {
			other = n.In(0)
		}
		c, ok := scalarConst(other)
		if !ok || other.Type.DType != ir.Float32 || len(other.Type.Shape) > len(v.Type.Shape) {
			return false
		}
		if op.Fn == ir.FnMax {
			clamp(c, math.Inf(1))
		} else {
			clamp(math.Inf(-1), c)
		}
		return true
	}
	return false
}

// chain follows single-reader activations from v; it returns the last
// value, the nodes folded and the activation.
func (r *qdqRewriter) chain(v *ir.Value) (*ir.Value, []*ir.Node, act) {
	a := act{lo: math.Inf(-1), hi: math.Inf(1)}
	var nodes []*ir.Node
	for {
		us := r.uses[v]
		if len(us) != 1 || r.outputs[v] {
			break
		}
		n := us[0]
		if r.stop[n] || len(n.Outputs) != 1 || n.Out(0) == nil || n.Out(0).Type.DType != ir.Float32 || !n.Out(0).Type.Shape.Equal(v.Type.Shape) {
			break
		}
		next := a
		if !next.step(n, v) {
			break
		}
		a = next
		nodes = append(nodes, n)
		v = n.Out(0)
	}
	return v, nodes, a
}

// output decides how a fused op ends: int8/uint8 when every reader of v
// is a QuantizeLinear with one set of parameters (their nodes are
// returned; the fused op writes the output of keep), float32 otherwise.
func (r *qdqRewriter) output(v *ir.Value) (qs []*ir.Node, keep *ir.Value, p qparams, ok bool) {
	if r.outputs[v] {
		return nil, nil, p, false
	}
	for _, u := range r.uses[v] {
		pu, isQ := quant(u)
		if !isQ || u.In(0) != v || len(qs) > 0 && pu != p {
			return nil, nil, p, false
		}
		if r.outputs[u.Out(0)] {
			if keep != nil {
				return nil, nil, p, false
			}
			keep = u.Out(0)
		}
		qs, p = append(qs, u), pu
	}
	if len(qs) == 0 {
		return nil, nil, p, false
	}
	if keep == nil {
		keep = qs[0].Out(0)
	}
	return qs, keep, p, true
}

// epilogue builds the fused op's QOut and turns the per-channel real
// multipliers and offsets into output units.
func epilogue(a act, out *qparams, mult, add []float64) (ir.QOut, *ir.Tensor, *ir.Tensor) {
	q := ir.QOut{DType: ir.Float32, Leaky: a.leaky, Alpha: a.alpha}
	div := 1.0
	if out != nil {
		q.DType, q.Zero = out.dt, out.zero
		div = float64(out.scale)
	}
	q.Lo, q.Hi = float32(a.lo/div), float32(a.hi/div)
	mt, at := ir.NewTensor(ir.Float32, ir.Shape{len(mult)}), ir.NewTensor(ir.Float32, ir.Shape{len(add)})
	for i, m := range mult {
		mt.F32()[i] = float32(m / div)
	}
	for i, b := range add {
		at.F32()[i] = float32(b / div)
	}
	return q, mt, at
}

// channelVector reads constant c as one value per channel along axis of
// a tensor of shape out (broadcasting from the right), or one value.
func channelVector(c *ir.Value, out ir.Shape, axis int) ([]float64, bool) {
	if c == nil || c.Const == nil || c.Type.DType != ir.Float32 {
		return nil, false
	}
	cs := c.Type.Shape
	if len(cs) > len(out) {
		return nil, false
	}
	n := out[axis]
	for i, d := range cs {
		od := len(out) - len(cs) + i
		if d != 1 && (od != axis || d != n) {
			return nil, false
		}
	}
	vals := make([]float64, n)
	for i := range vals {
		vals[i] = c.Const.Float(min(i, c.Const.Len()-1))
	}
	return vals, true
}

// product lowers Conv, MatMul and Gemm.
func (r *qdqRewriter) product(n *ir.Node, op ir.Op) (bool, error) {
	xd := r.dequant(n.In(0))
	if xd == nil {
		return false, nil
	}
	xp, ok := xd.perTensor()
	if !ok {
		return false, nil
	}
	wd := r.dequant(n.In(1))
	if wd == nil || wd.x.Const == nil || (wd.x.Type.DType != ir.Int8 && wd.x.Type.DType != ir.Uint8) {
		return false, nil
	}
	if !xp.is8() {
		// int16 activations: convolutions with short reductions and
		// int8 weights of zero point 0
		_, conv := op.(*ir.Conv)
		if !conv || xp.zero != 0 || wd.x.Type.DType != ir.Int8 || wd.x.Type.Shape[1:].Size() > ir.QConv16MaxK || slices.ContainsFunc(wd.zeros, func(z int64) bool { return z != 0 }) {
			return false, nil
		}
	}
	y := n.Out(0)
	if y == nil || y.Type.DType != ir.Float32 {
		return false, nil
	}
	w := wd.x.Const
	var channels, chanAxis int
	var bias []float64
	alpha, beta := 1.0, 1.0
	orig := w.Type
	transpose := true // PackQWeights' matmul layout: w is B [K, N]
	_, isConv := op.(*ir.Conv)
	switch op := op.(type) {
	case *ir.Conv:
		channels, chanAxis, transpose = w.Shape[0], 1, false
		if wd.axis > 0 {
			return false, nil
		}
		if b := n.In(2); b != nil {
			var ok bool
			if bias, ok = r.biasVector(b, channels); !ok {
				return false, nil
			}
		}
	case *ir.MatMul:
		if len(w.Shape) != 2 || len(n.In(0).Type.Shape) < 2 {
			return false, nil
		}
		channels, chanAxis = w.Shape[1], len(y.Type.Shape)-1
		if wd.axis == 0 {
			return false, nil
		}
	case *ir.Gemm:
		if op.TransA || len(w.Shape) != 2 {
			return false, nil
		}
		alpha, beta = float64(op.Alpha), float64(op.Beta)
		K, N := w.Shape[0], w.Shape[1]
		if op.TransB {
			K, N = N, K
		}
		channels, chanAxis, transpose = N, 1, !op.TransB
		// the per-channel axis of B is its column axis: 1, or 0 when transposed
		if wd.axis >= 0 && (wd.axis == 1) == op.TransB {
			return false, nil
		}
		orig = ir.Type{DType: w.Type.DType, Shape: ir.Shape{K, N}}
		if c := n.In(2); c != nil {
			var ok bool
			if bias, ok = channelVector(c, y.Type.Shape, 1); !ok {
				return false, nil
			}
		}
	}
	zw, err := weightZeros(wd, channels)
	if err != nil {
		return false, nil
	}
	packed, err := ir.PackQWeights(w, zw, transpose)
	if err != nil {
		return false, fmt.Errorf("%s: packing weights: %w", n.Label(), err)
	}
	t := r.tail(y, chanAxis, isConv, func(v *ir.Value) bool {
		d := r.dequant(v)
		if d == nil {
			return false
		}
		_, ok := d.perTensor()
		return ok
	})
	end, folded, extra, a := t.end, t.folded, t.extra, t.act
	qs, keep, outp, intOut := r.output(end)
	mult, add := make([]float64, channels), make([]float64, channels)
	for c := range mult {
		mult[c] = alpha * float64(xp.scale) * float64(wd.scales[min(c, len(wd.scales)-1)])
		if bias != nil {
			add[c] = beta * bias[c]
		}
		if extra != nil {
			add[c] += extra[c]
		}
	}
	var po *qparams
	if intOut {
		po = &outp
	}
	qout, mt, at := epilogue(a, po, mult, add)
	outV := end
	if intOut {
		outV = keep
	}
	nn := &ir.Node{Name: n.Name, Inputs: []*ir.Value{
		xd.x, ir.NewConst(n.Name+"/weights", packed), ir.NewConst(n.Name+"/mult", mt), ir.NewConst(n.Name+"/add", at),
	}, Outputs: []*ir.Value{outV}}
	var fused ir.Op
	if c, ok := op.(*ir.Conv); ok {
		qc := &ir.QConv{Window: c.Window, Group: c.Group, XZero: xp.zero, Packed: ir.QPacked{Orig: orig}, Out: qout}
		if t.res != nil {
			rd := r.dequant(t.res)
			rp, _ := rd.perTensor()
			div := 1.0
			if po != nil {
				div = float64(po.scale)
			}
			qc.RZero, qc.RMult = rp.zero, float32(float64(rp.scale)/div)
			nn.Inputs = append(nn.Inputs, rd.x)
		}
		// weights prepared at the first run go in as input 5
		prepare := func(op ir.Op, suffix string) error {
			u := &ir.Node{Name: n.Name + "/" + suffix, Op: op, Inputs: []*ir.Value{nn.Inputs[1]}, Outputs: []*ir.Value{{Name: n.Name + "/" + suffix}}}
			if err := ir.InferNode(u); err != nil {
				return fmt.Errorf("%s: %w", n.Label(), err)
			}
			r.g.Nodes = slices.Insert(r.g.Nodes, 0, u)
			for len(nn.Inputs) < 5 {
				nn.Inputs = append(nn.Inputs, nil)
			}
			nn.Inputs = append(nn.Inputs, u.Outputs[0])
			return nil
		}
		switch {
		case winogradWorthIt(c, qc, n.In(0).Type.Shape, orig, xp):
			// the transformed weights (3.6x the int8 ones)
			if err := prepare(&ir.WinogradWeights{Orig: orig}, "winograd_weights"); err != nil {
				return false, err
			}
			qc.Winograd = true
		case pointwise(c, qc, n.In(0).Type.Shape) && packed.DType == ir.Int8:
			// an int16 copy, whose weight pairs broadcast in one instruction
			if err := prepare(&ir.WidenWeights{}, "widened_weights"); err != nil {
				return false, err
			}
			qc.Widened = true
		}
		fused = qc
	} else {
		fused = &ir.QMatMul{AZero: xp.zero, Packed: ir.QPacked{Orig: orig}, Out: qout}
	}
	nn.Op = fused
	types, err := fused.Infer(nn.Inputs)
	if err != nil {
		return false, fmt.Errorf("%s: %w", n.Label(), err)
	}
	if !sameType(types[0], outV.Type) {
		return false, fmt.Errorf("%s: fused op type %s differs from %s", n.Label(), types[0], outV.Type)
	}
	r.place(nn, n, folded)
	r.takeOver(qs, keep)
	return true, nil
}

// tail is what a fused product takes over after its result.
type tail struct {
	end    *ir.Value  // the fused op's result
	folded []*ir.Node // the nodes it replaces
	extra  []float64  // per-channel constants added (a bias Add)
	res    *ir.Value  // a residual added (convolutions)
	act    act
}

// tail follows the product's result y: an Add of a per-channel constant
// (the bias), for convolutions an Add of a residual of y's type that
// resOK accepts, then activations. Nodes in r.stop end it.
func (r *qdqRewriter) tail(y *ir.Value, chanAxis int, conv bool, resOK func(*ir.Value) bool) tail {
	t := tail{end: y}
	if u, vals := r.biasAdd(y, chanAxis); u != nil && !r.stop[u] {
		t.folded, t.end, t.extra = append(t.folded, u), u.Out(0), vals
	}
	if us := r.uses[t.end]; conv && len(us) == 1 && !r.outputs[t.end] && !r.stop[us[0]] {
		if u := us[0]; isAdd(u) && u.Out(0) != nil && sameType(u.Out(0).Type, t.end.Type) {
			other := u.In(1)
			if other == t.end {
				other = u.In(0)
			}
			if other != t.end && other.Const == nil && sameType(other.Type, t.end.Type) && resOK(other) {
				t.folded, t.end, t.res = append(t.folded, u), u.Out(0), other
			}
		}
	}
	end, acts, a := r.chain(t.end)
	t.end, t.folded, t.act = end, append(t.folded, acts...), a
	return t
}

// biasAdd finds the only reader of y when it adds a constant with one
// value per channel (along chanAxis), and returns those values.
func (r *qdqRewriter) biasAdd(y *ir.Value, chanAxis int) (*ir.Node, []float64) {
	us := r.uses[y]
	if len(us) != 1 || r.outputs[y] {
		return nil, nil
	}
	u := us[0]
	if !isAdd(u) || u.Out(0) == nil || !sameType(u.Out(0).Type, y.Type) {
		return nil, nil
	}
	other := u.In(1)
	if other == y {
		other = u.In(0)
	}
	vals, ok := channelVector(other, y.Type.Shape, chanAxis)
	if !ok || other == y {
		return nil, nil
	}
	return u, vals
}

// winogradWorthIt chooses Winograd F(2x2, 3x3) for a 3x3, stride 1 QConv
// of 8-bit data whose output rows hold at least 6 tiles of 2 (groups of 8
// tiles then waste at most a quarter of the lanes; smaller maps keep the
// direct form).
func winogradWorthIt(c *ir.Conv, qc *ir.QConv, x ir.Shape, w ir.Type, xp qparams) bool {
	if !xp.is8() || c.Group != 1 || len(w.Shape) != 4 || w.Shape[2] != 3 || w.Shape[3] != 3 {
		return false
	}
	g, err := qc.Geometry(x)
	if err != nil {
		return false
	}
	for d := range g.Strides {
		if g.Strides[d] != 1 || g.Dilations[d] != 1 {
			return false
		}
	}
	return g.Out[1] >= 12 && g.Out[0] >= 4
}

// pointwise reports a 1x1, stride 1, unpadded, ungrouped convolution: the
// kernel whose weights are broadcast in pairs (codegen/ops_quant_pointwise.go).
func pointwise(c *ir.Conv, qc *ir.QConv, x ir.Shape) bool {
	g, err := qc.Geometry(x)
	if err != nil || c.Group != 1 {
		return false
	}
	for d := range g.Kernel {
		if g.Kernel[d] != 1 || g.Strides[d] != 1 || g.PadBegin[d] != 0 || g.PadEnd[d] != 0 {
			return false
		}
	}
	return true
}

func isAdd(n *ir.Node) bool {
	b, ok := n.Op.(*ir.Binary)
	return ok && b.Fn == ir.FnAdd && len(n.Inputs) == 2
}

// biasVector reads a convolution bias: float32 constant, or the
// DequantizeLinear of an int32 constant.
func (r *qdqRewriter) biasVector(b *ir.Value, channels int) ([]float64, bool) {
	if b.Type.Shape.Size() != channels {
		return nil, false
	}
	vals := make([]float64, channels)
	if b.Const != nil && b.Type.DType == ir.Float32 {
		for i := range vals {
			vals[i] = b.Const.Float(i)
		}
		return vals, true
	}
	d := r.dequant(b)
	if d == nil || d.x.Const == nil {
		return nil, false
	}
	for i := range vals {
		j := min(i, len(d.scales)-1)
		vals[i] = float64(float32(d.x.Const.Int(i)-d.zeros[j]) * d.scales[j])
	}
	return vals, true
}

// weightZeros gives the weights' zero points as a tensor of one value or
// one per channel.
func weightZeros(d *dq, channels int) (*ir.Tensor, error) {
	if len(d.scales) != 1 && len(d.scales) != channels {
		return nil, fmt.Errorf("weight scales %d for %d channels", len(d.scales), channels)
	}
	zt := ir.NewTensor(d.x.Type.DType, ir.Shape{len(d.zeros)})
	for i, z := range d.zeros {
		zt.SetInt(i, z)
	}
	return zt, nil
}

// add lowers DequantizeLinear(a) + DequantizeLinear(b) to QAdd.
func (r *qdqRewriter) add(n *ir.Node) (bool, error) {
	if len(n.Inputs) != 2 {
		return false, nil
	}
	da, db := r.dequant(n.In(0)), r.dequant(n.In(1))
	if da == nil || db == nil {
		return false, nil
	}
	pa, oka := da.perTensor()
	pb, okb := db.perTensor()
	oka, okb = oka && pa.is8(), okb && pb.is8()
	y := n.Out(0)
	if !oka || !okb || y == nil || !da.x.Type.Shape.Equal(db.x.Type.Shape) || !y.Type.Shape.Equal(da.x.Type.Shape) {
		return false, nil
	}
	end, acts, a := r.chain(y)
	qs, keep, outp, intOut := r.output(end)
	if intOut && !outp.is8() {
		return false, nil // QAdd writes 8-bit or float outputs
	}
	var po *qparams
	if intOut {
		po = &outp
	}
	qout, mt, _ := epilogue(a, po, []float64{float64(pa.scale), float64(pb.scale)}, nil)
	op := &ir.QAdd{AZero: pa.zero, BZero: pb.zero, AMult: mt.F32()[0], BMult: mt.F32()[1], Out: qout}
	outV := end
	if intOut {
		outV = keep
	}
	nn := &ir.Node{Name: n.Name, Op: op, Inputs: []*ir.Value{da.x, db.x}, Outputs: []*ir.Value{outV}}
	if _, err := op.Infer(nn.Inputs); err != nil {
		return false, fmt.Errorf("%s: %w", n.Label(), err)
	}
	r.place(nn, n, acts)
	r.takeOver(qs, keep)
	return true, nil
}

// place puts fused node nn where the last of n and folded was (all of
// nn's inputs exist there) and removes the others.
func (r *qdqRewriter) place(nn, n *ir.Node, folded []*ir.Node) {
	at := slices.Index(r.g.Nodes, n)
	for _, f := range folded {
		at = max(at, slices.Index(r.g.Nodes, f))
	}
	last := r.g.Nodes[at]
	r.g.Nodes[at] = nn
	r.removed[last] = true
	for _, f := range append([]*ir.Node{n}, folded...) {
		if f != last {
			r.drop(f)
		}
	}
}

// takeOver removes the QuantizeLinear nodes qs whose work the fused op
// does; their readers read its output keep.
func (r *qdqRewriter) takeOver(qs []*ir.Node, keep *ir.Value) {
	for _, q := range qs {
		if q.Out(0) != keep {
			replaceUses(r.g, q.Out(0), keep)
		}
		r.drop(q)
	}
}

func (r *qdqRewriter) drop(n *ir.Node) {
	r.g.Nodes = slices.DeleteFunc(r.g.Nodes, func(m *ir.Node) bool { return m == n })
	r.removed[n] = true
}

func (r *qdqRewriter) insertAfter(n, nn *ir.Node) {
	i := slices.Index(r.g.Nodes, n)
	r.g.Nodes = slices.Insert(r.g.Nodes, i+1, nn)
}

// FusedOutput tells what the qdq pass would fuse into node n of a float
// graph: for Conv, MatMul and Gemm with constant weights and for Add, the
// value the fused op writes (after a bias Add, a residual Add for
// convolutions, and the activations that fold into its epilogue), the
// nodes folded into it and the activations it reads; out is nil when n
// cannot become an integer op. Nodes in taken (folded into another op)
// are not folded again. Quantizers quantize the activations read and put
// a QuantizeLinear on out.
func FusedOutput(g *ir.Graph, n *ir.Node, taken map[*ir.Node]bool) (out *ir.Value, folded []*ir.Node, reads []*ir.Value) {
	r := &qdqRewriter{g: g, removed: map[*ir.Node]bool{}, stop: taken}
	r.index()
	y := n.Out(0)
	if y == nil || y.Type.DType != ir.Float32 || n.In(0) == nil || n.In(0).Type.DType != ir.Float32 || taken[n] {
		return nil, nil, nil
	}
	chanAxis := -1
	_, conv := n.Op.(*ir.Conv)
	switch op := n.Op.(type) {
	case *ir.Conv:
		chanAxis = 1
	case *ir.MatMul:
		if len(y.Type.Shape) < 2 || len(n.In(1).Type.Shape) != 2 {
			return nil, nil, nil
		}
		chanAxis = len(y.Type.Shape) - 1
	case *ir.Gemm:
		if op.TransA {
			return nil, nil, nil
		}
		chanAxis = 1
	case *ir.Binary:
		if !isAdd(n) || n.In(0).Const != nil || n.In(1).Const != nil || !n.In(0).Type.Shape.Equal(n.In(1).Type.Shape) || !y.Type.Shape.Equal(n.In(0).Type.Shape) {
			return nil, nil, nil
		}
		end, acts, _ := r.chain(y)
		return end, acts, []*ir.Value{n.In(0), n.In(1)}
	default:
		return nil, nil, nil
	}
	if w := n.In(1); w == nil || w.Const == nil {
		return nil, nil, nil
	}
	t := r.tail(y, chanAxis, conv, func(v *ir.Value) bool { return v.Type.DType == ir.Float32 })
	reads = []*ir.Value{n.In(0)}
	if t.res != nil {
		reads = append(reads, t.res)
	}
	return t.end, t.folded, reads
}
