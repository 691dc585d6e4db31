// Package quant is mlc's post-training quantizer. It rewrites a float graph
// into a QDQ graph: int8 weights (symmetric, one scale per output channel)
// behind DequantizeLinear, and, for static quantization, a QuantizeLinear
// and DequantizeLinear pair with calibrated parameters on every activation
// that an integer op reads or writes. opt's qdq pass then compiles that
// graph to integer kernels, exactly as it compiles QDQ models exported by
// other tools. Calibration runs the float model, compiled to Wasm with the
// activations as extra outputs, on wazero; the report compares the
// quantized model's activations and outputs with the float model's.
package quant

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/opt"
)

// Mode selects what is quantized.
type Mode string

const (
	// Int8 quantizes weights and activations (static quantization).
	Int8 Mode = "int8"
	// Int8Weights stores weights as int8 only; activations stay float.
	Int8Weights Mode = "int8-weights"
)

// Method selects how calibration turns observed values into a range.
type Method string

const (
	MinMax     Method = "minmax"
	Percentile Method = "percentile"
	// MSE picks, per value, the range that minimizes the expected squared
	// quantization error over a histogram of the calibration values.
	MSE Method = "mse"
)

// DefaultPercentile is the share of values (%) the percentile method keeps
// inside the range, half of the rest cut at each end.
const DefaultPercentile = 99.99

// Config configures Quantize.
type Config struct {
	Mode       Mode
	Method     Method
	Percentile float64 // for Percentile; 0 means DefaultPercentile
	// Data are the calibration samples, one feed of every graph input each.
	Data []map[string]*ir.Tensor
	// Compile compiles a graph (optimizing it in place) to a module.
	Compile func(*ir.Graph) ([]byte, error)
	// Progress receives a progress bar while the models run (nil: none).
	Progress io.Writer
	// Int16Layers > 0 quantizes the activations read by the first layers
	// to int16 where the kernels allow (see wide16).
	Int16Layers int
}

// layer is an op the qdq pass fuses into an integer kernel.
type layer struct {
	node   *ir.Node
	out    *ir.Value   // the value the fused op writes
	folded []*ir.Node  // bias Add and activations folded into it
	wAxis  int         // channel axis of the weights; -1 for Add
	wq     *ir.Tensor  // quantized weights
	wScale []float32   // one per channel
	wErr   float64     // relative RMS error of the weights
	inputs []*ir.Value // activations it reads
	// per-channel means of the input (calibration)
	inMean []float64
}

// inAxis is the channel axis of the layer's input: 1 for convolutions,
// the last for matrix products.
func (l *layer) inAxis() int {
	if _, conv := l.node.Op.(*ir.Conv); conv {
		return 1
	}
	return len(l.node.In(0).Type.Shape) - 1
}

func (l *layer) ops() string {
	names := []string{l.node.Op.OpType()}
	for _, n := range l.folded {
		names = append(names, n.Op.OpType())
	}
	return strings.Join(names, "+")
}

// findLayers lists the ops of g the qdq pass can fuse, in graph order.
func findLayers(g *ir.Graph) []*layer {
	var ls []*layer
	taken := map[*ir.Node]bool{}
	for _, n := range g.Nodes {
		out, folded, reads := opt.FusedOutput(g, n, taken)
		if out == nil || n.In(0).Const != nil {
			continue
		}
		l := &layer{node: n, out: out, folded: folded, wAxis: -1, inputs: reads}
		switch op := n.Op.(type) {
		case *ir.Conv:
			l.wAxis = 0
		case *ir.MatMul:
			l.wAxis = 1
		case *ir.Gemm:
			l.wAxis = 1
			if op.TransB {
				l.wAxis = 0
			}
		}
		if l.wAxis >= 0 && n.In(1).Type.DType != ir.Float32 {
			continue
		}
		taken[n] = true
		for _, f := range folded {
			taken[f] = true
		}
		ls = append(ls, l)
	}
	return ls
}

// quantizeWeights computes each layer's symmetric int8 weights with one
// scale per output channel: the scale of the channel's largest magnitude,
// or a smaller one when clipping the largest weights lowers the channel's
// squared error (weights are often normally distributed).
func (l *layer) quantizeWeights() {
	w := l.node.In(1).Const
	shape := w.Shape
	C := shape[l.wAxis]
	inner := shape[l.wAxis+1:].Size()
	chans := make([][]float32, C)
	wf := w.F32()
	for i, v := range wf {
		c := (i / inner) % C
		chans[c] = append(chans[c], v)
	}
	l.wScale = make([]float32, C)
	for c, vs := range chans {
		l.wScale[c] = weightScale(vs)
	}
	l.wq = ir.NewTensor(ir.Int8, shape)
	var se, sr float64
	for i, v := range wf {
		s := l.wScale[(i/inner)%C]
		q := quantizeWeight(v, s)
		l.wq.I8()[i] = int8(q)
		d := float64(float32(q)*s) - float64(v)
		se += d * d
		sr += float64(v) * float64(v)
	}
	l.wErr = relErr(se, sr)
}

func quantizeWeight(v, s float32) float64 {
	return max(-127, min(127, math.RoundToEven(float64(v/s))))
}

// weightScale picks the scale of one channel among amax/127 times 1,
// 0.99, ... 0.5 by the least squared error.
func weightScale(vs []float32) float32 {
	amax := 0.0
	for _, v := range vs {
		amax = max(amax, math.Abs(float64(v)))
	}
	if amax == 0 {
		return 1
	}
	best, bestErr := float32(amax/127), math.Inf(1)
	for t := 100; t >= 50; t-- {
		s := float32(amax * float64(t) / 100 / 127)
		e := 0.0
		for _, v := range vs {
			d := float64(float32(quantizeWeight(v, s))*s) - float64(v)
			e += d * d
		}
		if e < bestErr {
			best, bestErr = s, e
		}
	}
	return best
}

// correctBias changes the layer's bias so that its output keeps the float
// layer's mean on the calibration data: the weights' rounding errors times
// the mean input (large for the inputs of ReLU layers) would otherwise
// move every output of a channel the same way. Zero padding is not taken
// into account.
func (l *layer) correctBias() {
	mean := l.inMean
	n := l.node
	w := n.In(1).Const
	C := len(l.wScale)
	inner := w.Shape[l.wAxis+1:].Size()
	shift := make([]float64, C)
	wf := w.F32()
	for i, v := range wf {
		c := (i / inner) % C
		wq := float64(float32(l.wq.I8()[i]) * l.wScale[c])
		// the input channel this weight multiplies
		var k int
		switch op := n.Op.(type) {
		case *ir.Conv:
			per := w.Shape[1]
			k = c/(C/op.Group)*per + (i/(inner/per))%per
		default:
			if l.wAxis == 1 {
				k = i / C // B [K, N]
			} else {
				k = i % inner // B [N, K]
			}
		}
		if k < len(mean) {
			shift[c] += (wq - float64(v)) * mean[k]
		}
	}
	var b *ir.Value
	bi := 2
	switch op := n.Op.(type) {
	case *ir.Conv:
	case *ir.Gemm:
		if op.Beta == 0 {
			return
		}
		for c := range shift {
			shift[c] /= float64(op.Beta)
		}
	default:
		return // MatMul has no bias input
	}
	b = n.In(bi)
	nb := ir.NewTensor(ir.Float32, ir.Shape{C})
	if b != nil {
		if b.Const == nil || b.Type.Shape.Size() != C && b.Type.Shape.Size() != 1 {
			return
		}
		for c := range shift {
			nb.F32()[c] = float32(b.Const.Float(min(c, b.Const.Len()-1)))
		}
	}
	for c := range shift {
		nb.F32()[c] -= float32(shift[c])
	}
	name := n.Name + "/corrected_bias"
	for len(n.Inputs) <= bi {
		n.Inputs = append(n.Inputs, nil)
	}
	n.Inputs[bi] = ir.NewConst(name, nb)
}

func relErr(se, sr float64) float64 {
	if sr == 0 {
		if se == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return math.Sqrt(se / sr)
}

// rewriteWeights puts DequantizeLinear of the int8 weights before the layer.
func (l *layer) rewriteWeights(g *ir.Graph) error {
	w := l.node.In(1)
	C := len(l.wScale)
	st := ir.NewTensor(ir.Float32, ir.Shape{C})
	copy(st.F32(), l.wScale)
	d := &ir.Node{Name: w.Name + "/dequantize", Op: &ir.DequantizeLinear{Axis: l.wAxis}, Inputs: []*ir.Value{
		ir.NewConst(w.Name+"/int8", l.wq), ir.NewConst(w.Name+"/scale", st), ir.NewConst(w.Name+"/zero_point", ir.NewTensor(ir.Int8, ir.Shape{C})),
	}, Outputs: []*ir.Value{{Name: w.Name + "/dequantized"}}}
	if _, err := typed(d); err != nil {
		return err
	}
	i := slices.Index(g.Nodes, l.node)
	g.Nodes = slices.Insert(g.Nodes, i, d)
	l.node.Inputs[1] = d.Outputs[0]
	return nil
}

// qparams are an activation's scale, zero point and type (int8, or int16
// for model inputs that only small convolutions read).
type qparams struct {
	scale float32
	zero  int32
	dt    ir.DType
}

// paramsFor maps the range [lo, hi] (widened to contain 0, so that zero
// padding is exact) onto int8.
func paramsFor(lo, hi float64) qparams {
	lo, hi = min(lo, 0), max(hi, 0)
	if hi-lo < 1e-30 {
		return qparams{scale: 1, dt: ir.Int8}
	}
	s := float32((hi - lo) / 255)
	z := math.RoundToEven(-128 - lo/float64(s))
	return qparams{scale: s, zero: int32(max(-128, min(127, z))), dt: ir.Int8}
}

// params16 maps [lo, hi] onto int16 symmetrically (zero point 0).
func params16(lo, hi float64) qparams {
	a := max(math.Abs(lo), math.Abs(hi))
	if a < 1e-30 {
		return qparams{scale: 1, dt: ir.Int16}
	}
	return qparams{scale: float32(a / 32767), dt: ir.Int16}
}

// wide16 chooses the activations quantized to int16: the model inputs,
// and with n > 0 the inputs of the first n layers, provided that every op
// reading them (or values tied to them) is a convolution short enough for
// the int16 kernels (ir.QConv16MaxK) and that no standalone Add (8-bit
// only) writes them. Quantization noise early in a network is what it
// amplifies most; a model input costs the same either way, and early
// activations cost twice their int8 memory traffic.
func wide16(g *ir.Graph, layers []*layer, acts []*ir.Value, tie map[*ir.Value]*ir.Value, n int) map[*ir.Value]bool {
	layerOf := map[*ir.Node]*layer{}
	for _, l := range layers {
		layerOf[l.node] = l
		for _, f := range l.folded {
			layerOf[f] = l
		}
	}
	small := func(l *layer) bool {
		_, conv := l.node.Op.(*ir.Conv)
		return conv && l.node.In(1).Type.Shape[1:].Size() <= ir.QConv16MaxK
	}
	candidates := append([]*ir.Value{}, g.Inputs...)
	for i, l := range layers {
		if i < n {
			candidates = append(candidates, l.inputs...)
		}
	}
	uses, prod := g.Uses(), g.Producers()
	wide := map[*ir.Value]bool{}
	for _, root := range candidates {
		if !slices.Contains(acts, root) || tie[root] != nil {
			continue
		}
		if p := prod[root]; p != nil {
			if l := layerOf[p]; l == nil || l.wAxis < 0 {
				continue // written by an op without int16 output
			}
		}
		ok := true
		for _, v := range acts {
			if v != root && tie[v] != root {
				continue
			}
			for _, u := range uses[v] {
				fromTied := slices.ContainsFunc(u.Outputs, func(o *ir.Value) bool { return o != nil && tie[o] == root })
				l := layerOf[u]
				if !fromTied && (l == nil || !small(l) || !slices.Contains(l.inputs, v)) {
					ok = false
				}
			}
		}
		if ok {
			wide[root] = true
		}
	}
	return wide
}

// Quantize rewrites g in place (see the package comment) and reports the
// quantization error on cfg.Data.
func Quantize(ctx context.Context, g *ir.Graph, cfg Config) (*Report, error) {
	if cfg.Mode != Int8 && cfg.Mode != Int8Weights {
		return nil, fmt.Errorf("unknown quantization %q (int8 or int8-weights)", cfg.Mode)
	}
	if cfg.Method == "" {
		cfg.Method = MinMax
	}
	if cfg.Method != MinMax && cfg.Method != Percentile && cfg.Method != MSE {
		return nil, fmt.Errorf("unknown calibration method %q (minmax, percentile or mse)", cfg.Method)
	}
	if cfg.Percentile == 0 {
		cfg.Percentile = DefaultPercentile
	}
	if cfg.Mode == Int8 && len(cfg.Data) == 0 {
		return nil, fmt.Errorf("int8 quantization needs calibration data")
	}
	if err := foldBatchNorm(g); err != nil {
		return nil, err
	}
	ref, refMap := g.Clone()
	layers := findLayers(g)
	for _, l := range layers {
		if l.wAxis >= 0 {
			l.quantizeWeights()
		}
	}
	rep := &Report{Mode: string(cfg.Mode), Samples: len(cfg.Data)}
	if cfg.Mode == Int8 {
		rep.Method = string(cfg.Method)
	}
	var acts []*ir.Value
	var tie map[*ir.Value]*ir.Value
	calibrated := map[*ir.Value][2]float64{}
	extremes := map[*ir.Value][2]float64{}
	if cfg.Mode == Int8 {
		acts, tie = activations(g, layers)
		var err error
		if calibrated, extremes, err = calibrateLayers(ctx, ref, refMap, layers, acts, cfg); err != nil {
			return nil, err
		}
	}
	params := map[*ir.Value]qparams{}
	wide := wide16(g, layers, acts, tie, cfg.Int16Layers)
	for _, v := range acts {
		root := v
		if r, ok := tie[v]; ok {
			root = r
		}
		r := calibrated[refMap[root]]
		params[v] = paramsFor(r[0], r[1])
		if wide[root] {
			// 65536 levels need not clip the range
			r = extremes[refMap[root]]
			params[v] = params16(r[0], r[1])
		}
		calibrated[refMap[v]] = r
	}
	for _, l := range layers {
		if l.inMean != nil {
			l.correctBias()
		}
		if l.wAxis >= 0 {
			if err := l.rewriteWeights(g); err != nil {
				return nil, err
			}
		}
	}
	qvals, err := insertQDQ(g, acts, params)
	if err != nil {
		return nil, err
	}
	if err := ir.InferGraph(g); err != nil {
		return nil, err
	}
	rows := rep.rows(g, layers, acts, params, calibrated, refMap, qvals)
	if len(cfg.Data) > 0 {
		if err := measure(ctx, rep, rows, ref, g, cfg); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// activations chooses the values to quantize: what the layers read. An op
// that commutes with dequantization (MaxPool, Reshape...) between a value
// and a layer runs on int8: its input is quantized too, tied to the same
// parameters (tie maps a value to the first of its chain). Layer outputs
// that only float ops read stay float.
func activations(g *ir.Graph, layers []*layer) ([]*ir.Value, map[*ir.Value]*ir.Value) {
	var acts []*ir.Value
	tie := map[*ir.Value]*ir.Value{}
	outs := map[*ir.Value]bool{}
	for _, v := range g.Outputs {
		outs[v] = true
	}
	seen := map[*ir.Value]bool{}
	add := func(v *ir.Value) bool {
		if seen[v] || v.Const != nil || v.Type.DType != ir.Float32 || outs[v] {
			return false
		}
		seen[v] = true
		acts = append(acts, v)
		return true
	}
	for _, l := range layers {
		for _, v := range l.inputs {
			add(v)
		}
	}
	prod := g.Producers()
	for i := 0; i < len(acts); i++ {
		v := acts[i]
		p := prod[v]
		if p == nil || !opt.CommutesWithDequant(p) {
			continue
		}
		if _, concat := p.Op.(*ir.Concat); concat {
			continue
		}
		if add(p.In(0)) || seen[p.In(0)] {
			tie[v] = p.In(0)
		}
	}
	acts = topoOrder(g, acts)
	// in graph order a value's tie is already resolved to its chain's first
	for _, v := range acts {
		if r, ok := tie[v]; ok {
			if rr, ok := tie[r]; ok {
				tie[v] = rr
			}
		}
	}
	return acts, tie
}

// calibrateLayers runs the float graph ref on the calibration data: it
// returns every activation's chosen range and its minimum and maximum (by
// ref's values) and gives the layers with weights their inputs'
// per-channel means, for bias correction.
func calibrateLayers(ctx context.Context, ref *ir.Graph, refMap map[*ir.Value]*ir.Value, layers []*layer, acts []*ir.Value, cfg Config) (ranges, extremes map[*ir.Value][2]float64, err error) {
	axes := map[*ir.Value]int{}
	for _, l := range layers {
		if l.wAxis >= 0 {
			axes[l.node.In(0)] = l.inAxis()
		}
	}
	keys := make([]*ir.Value, len(acts))
	kaxes := make([]int, len(acts))
	for i, v := range acts {
		keys[i], kaxes[i] = refMap[v], -1
		if ax, ok := axes[v]; ok {
			kaxes[i] = ax
		}
	}
	st, err := calibrate(ctx, ref, keys, kaxes, cfg)
	if err != nil {
		return nil, nil, err
	}
	ranges, extremes = map[*ir.Value][2]float64{}, map[*ir.Value][2]float64{}
	for _, v := range acts {
		s := st[refMap[v]]
		ranges[refMap[v]] = [2]float64{s.lo, s.hi}
		extremes[refMap[v]] = [2]float64{s.min, s.max}
	}
	for _, l := range layers {
		if s := st[refMap[l.node.In(0)]]; s != nil && s.mean != nil && l.wAxis >= 0 {
			l.inMean = s.mean
		}
	}
	return ranges, extremes, nil
}

// insertQDQ puts a QuantizeLinear and a DequantizeLinear with its
// parameters after each activation, which every other reader then reads
// dequantized; it returns each activation's quantized value.
func insertQDQ(g *ir.Graph, acts []*ir.Value, params map[*ir.Value]qparams) (map[*ir.Value]*ir.Value, error) {
	qvals := map[*ir.Value]*ir.Value{}
	for _, v := range acts {
		p := params[v]
		st := ir.TensorF32(ir.Shape{}, p.scale)
		zt := ir.NewTensor(p.dt, ir.Shape{})
		zt.SetInt(0, int64(p.zero))
		sc, zc := ir.NewConst(v.Name+"/scale", st), ir.NewConst(v.Name+"/zero_point", zt)
		q, err := typed(&ir.Node{Name: v.Name + "/quantize", Op: &ir.QuantizeLinear{Axis: 1, Saturate: true}, Inputs: []*ir.Value{v, sc, zc}, Outputs: []*ir.Value{{Name: v.Name + "/quantized"}}})
		if err != nil {
			return nil, err
		}
		d, err := typed(&ir.Node{Name: v.Name + "/dequantize", Op: &ir.DequantizeLinear{Axis: 1}, Inputs: []*ir.Value{q.Outputs[0], sc, zc}, Outputs: []*ir.Value{{Name: v.Name + "/dequantized"}}})
		if err != nil {
			return nil, err
		}
		replaceReads(g, v, d.Outputs[0], q)
		insertAfterProducer(g, v, q, d)
		qvals[v] = q.Outputs[0]
	}
	return qvals, nil
}

// topoOrder sorts values by where they are defined (inputs first).
func topoOrder(g *ir.Graph, vs []*ir.Value) []*ir.Value {
	pos := map[*ir.Value]int{}
	for i, v := range g.Inputs {
		pos[v] = i - len(g.Inputs)
	}
	for i, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != nil {
				pos[o] = i
			}
		}
	}
	out := slices.Clone(vs)
	slices.SortStableFunc(out, func(a, b *ir.Value) int { return pos[a] - pos[b] })
	return out
}
