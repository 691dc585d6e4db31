package ir

import (
	"fmt"
	"math"
)

// Normalizations that compute statistics at run time: LayerNormalization,
// RMSNormalization, InstanceNormalization, GroupNormalization and
// BatchNormalization in training mode. Each standardizes "rows" (the
// elements sharing one mean and variance) and then applies a scale and
// bias. Statistics are computed in the stash type (float32 unless asked
// for float64).

// LayerNorm is LayerNormalization (or RMSNormalization with RMS set: no
// mean is subtracted and there is no bias): rows are the trailing axes from
// Axis on; Scale and B broadcast to them.
type LayerNorm struct {
	Axis    int
	Epsilon float32
	Stash   DType // Float32 or Float64
	RMS     bool
}

func (l *LayerNorm) OpType() string {
	if l.RMS {
		return "RMSNormalization"
	}
	return "LayerNormalization"
}

func checkStash(dt DType) error {
	if dt != Float32 && dt != Float64 {
		return NotSupportedf("stash_type %s (float and double are supported)", dt)
	}
	return nil
}

// broadcastsTo reports whether s broadcasts (numpy style) to exactly t.
func broadcastsTo(s, t Shape) bool {
	b, err := BroadcastShapes(s, t)
	return err == nil && b.Equal(t)
}

func (l *LayerNorm) Infer(in []*Value) ([]Type, error) {
	x, scale := in[0].Type, in[1].Type
	if err := checkStash(l.Stash); err != nil {
		return nil, err
	}
	if !x.DType.IsFloat() || !scale.DType.IsFloat() {
		return nil, NotSupportedf("%s on %s", l.OpType(), x.DType)
	}
	axis, err := NormAxis(l.Axis, len(x.Shape))
	if err != nil {
		return nil, err
	}
	norm := x.Shape[axis:]
	for i, v := range in[1:] {
		if v == nil {
			continue
		}
		if !broadcastsTo(v.Type.Shape, norm) {
			return nil, fmt.Errorf("%s input %d of shape %s does not broadcast to the normalized shape %s", l.OpType(), i+1, v.Type.Shape, norm)
		}
		if !l.RMS && v.Type.DType != x.DType {
			return nil, fmt.Errorf("%s input %d is %s, X is %s", l.OpType(), i+1, v.Type.DType, x.DType)
		}
	}
	if l.RMS {
		// RMSNormalization's Y has the scale's type.
		return Types(Type{scale.DType, x.Shape}), nil
	}
	stats := x.Shape.Clone()
	for i := axis; i < len(stats); i++ {
		stats[i] = 1
	}
	return Types(x, Type{l.Stash, stats}, Type{l.Stash, stats}), nil
}

func (l *LayerNorm) Eval(in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	axis, err := NormAxis(l.Axis, len(x.Shape))
	if err != nil {
		return nil, err
	}
	norm := x.Shape[axis:]
	cols := norm.Size()
	rows := x.Shape[:axis].Size()
	affine := func(t *Tensor) []float64 {
		if t == nil {
			return nil
		}
		out := make([]float64, cols)
		str := BroadcastStrides(t.Shape, norm)
		vals := t.Floats()
		ForEachIndex(norm, [][]int{str}, func(o int, offs []int) { out[o] = vals[offs[0]] })
		return out
	}
	scale, bias := affine(in[1]), affine(getT(in, 2))
	xs := x.Floats()
	y := make([]float64, len(xs))
	means, invs := make([]float64, rows), make([]float64, rows)
	for r := range rows {
		row := xs[r*cols : (r+1)*cols]
		mean, ss := 0.0, 0.0
		if !l.RMS {
			for _, v := range row {
				mean += v
			}
			mean /= float64(cols)
		}
		for _, v := range row {
			ss += (v - mean) * (v - mean)
		}
		inv := 1 / math.Sqrt(ss/float64(cols)+float64(l.Epsilon))
		means[r], invs[r] = mean, inv
		for c, v := range row {
			o := (v - mean) * inv * scale[c]
			if bias != nil {
				o += bias[c]
			}
			y[r*cols+c] = o
		}
	}
	if l.RMS {
		return []*Tensor{FromFloats(in[1].DType, x.Shape, y)}, nil
	}
	stats := x.Shape.Clone()
	for i := axis; i < len(stats); i++ {
		stats[i] = 1
	}
	return []*Tensor{FromFloats(x.DType, x.Shape, y), FromFloats(l.Stash, stats, means), FromFloats(l.Stash, stats, invs)}, nil
}

// InstanceNorm is InstanceNormalization: rows are the spatial elements of
// one (n, c); scale and B have shape [C].
type InstanceNorm struct{ Epsilon float32 }

func (*InstanceNorm) OpType() string { return "InstanceNormalization" }

func checkChannelParams(op string, in []*Value, n int) error {
	x := in[0].Type
	for i := 1; i < 3; i++ {
		if s := in[i].Type.Shape; len(s) != 1 || s[0] != n {
			return fmt.Errorf("%s input %d has shape %s, want [%d]", op, i, s, n)
		}
		if in[i].Type.DType != x.DType {
			return fmt.Errorf("%s input %d is %s, X is %s", op, i, in[i].Type.DType, x.DType)
		}
	}
	return nil
}

func (*InstanceNorm) Infer(in []*Value) ([]Type, error) {
	x := in[0].Type
	if len(x.Shape) < 3 {
		return nil, fmt.Errorf("InstanceNormalization needs rank >= 3, got %s", x.Shape)
	}
	if !x.DType.IsFloat() {
		return nil, NotSupportedf("InstanceNormalization on %s", x.DType)
	}
	if err := checkChannelParams("InstanceNormalization", in, x.Shape[1]); err != nil {
		return nil, err
	}
	return Types(x), nil
}

func (n *InstanceNorm) Eval(in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	C := x.Shape[1]
	y := groupNorm(x.Floats(), x.Shape[0]*C, x.Shape[2:].Size(), 1, float64(n.Epsilon), func(row, ch int) int { return row % C }, in[1].Floats(), in[2].Floats())
	return []*Tensor{FromFloats(x.DType, x.Shape, y)}, nil
}

// groupNorm standardizes rows of cols elements (each row has chunks equal
// chunks) and applies scale[at(row, chunk)] and bias to each chunk.
func groupNorm(xs []float64, rows, cols, chunks int, eps float64, at func(row, chunk int) int, scale, bias []float64) []float64 {
	y := make([]float64, len(xs))
	clen := cols / chunks
	for r := range rows {
		row := xs[r*cols : (r+1)*cols]
		mean, ss := 0.0, 0.0
		for _, v := range row {
			mean += v
		}
		mean /= float64(cols)
		for _, v := range row {
			ss += (v - mean) * (v - mean)
		}
		inv := 1 / math.Sqrt(ss/float64(cols)+eps)
		for c, v := range row {
			i := at(r, c/clen)
			y[r*cols+c] = (v-mean)*inv*scale[i] + bias[i]
		}
	}
	return y
}

// GroupNorm is GroupNormalization: rows are the channels of one group of
// one instance. Opset 21 scales per channel ([C]); opset 18 per group
// ([Groups]).
type GroupNorm struct {
	Groups         int
	Epsilon        float32
	Stash          DType
	PerGroupAffine bool
}

func (*GroupNorm) OpType() string { return "GroupNormalization" }

func (g *GroupNorm) Infer(in []*Value) ([]Type, error) {
	x := in[0].Type
	if len(x.Shape) < 2 {
		return nil, fmt.Errorf("GroupNormalization needs rank >= 2, got %s", x.Shape)
	}
	if err := checkStash(g.Stash); err != nil {
		return nil, err
	}
	if !x.DType.IsFloat() {
		return nil, NotSupportedf("GroupNormalization on %s", x.DType)
	}
	if g.Groups < 1 || x.Shape[1]%g.Groups != 0 {
		return nil, fmt.Errorf("GroupNormalization num_groups %d does not divide %d channels", g.Groups, x.Shape[1])
	}
	n := x.Shape[1]
	if g.PerGroupAffine {
		n = g.Groups
	}
	if err := checkChannelParams("GroupNormalization", in, n); err != nil {
		return nil, err
	}
	return Types(x), nil
}

func (g *GroupNorm) Eval(in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	C := x.Shape[1]
	cg := C / g.Groups
	at := func(row, ch int) int { return (row%g.Groups)*cg + ch }
	chunks := cg
	if g.PerGroupAffine {
		at = func(row, _ int) int { return row % g.Groups }
		chunks = 1
	}
	y := groupNorm(x.Floats(), x.Shape[0]*g.Groups, cg*x.Shape[2:].Size(), chunks, float64(g.Epsilon), at, in[1].Floats(), in[2].Floats())
	return []*Tensor{FromFloats(x.DType, x.Shape, y)}, nil
}

// BatchNormTraining is BatchNormalization with training_mode=1: Y is
// normalized with the batch's statistics (over all axes but 1); the other
// outputs are the updated running mean and variance (input*momentum +
// batch*(1-momentum)) and, for opsets before 14, the batch mean and
// variance themselves.
type BatchNormTraining struct {
	Epsilon, Momentum float32
}

func (*BatchNormTraining) OpType() string { return "BatchNormalization" }

func (b *BatchNormTraining) Infer(in []*Value) ([]Type, error) {
	x := in[0].Type
	if len(x.Shape) < 2 {
		return nil, fmt.Errorf("BatchNormalization needs rank >= 2, got %s", x.Shape)
	}
	if !x.DType.IsFloat() {
		return nil, NotSupportedf("BatchNormalization on %s", x.DType)
	}
	C := x.Shape[1]
	for i := 1; i < 5; i++ {
		if s := in[i].Type.Shape; len(s) != 1 || s[0] != C {
			return nil, fmt.Errorf("BatchNormalization input %d has shape %s, want [%d]", i, s, C)
		}
		if !in[i].Type.DType.IsFloat() {
			return nil, fmt.Errorf("BatchNormalization input %d is %s", i, in[i].Type.DType)
		}
	}
	stat := Type{in[3].Type.DType, Shape{C}}
	return Types(x, stat, stat, stat, stat), nil
}

func (b *BatchNormTraining) Eval(in []*Tensor) ([]*Tensor, error) {
	x := in[0]
	N, C := x.Shape[0], x.Shape[1]
	inner := x.Shape[2:].Size()
	xs := x.Floats()
	scale, bias, rm, rv := in[1].Floats(), in[2].Floats(), in[3].Floats(), in[4].Floats()
	y := make([]float64, len(xs))
	mean, vr := make([]float64, C), make([]float64, C)
	runMean, runVar := make([]float64, C), make([]float64, C)
	cnt := float64(N * inner)
	for c := range C {
		each := func(f func(i int)) {
			for n := range N {
				for j := range inner {
					f((n*C+c)*inner + j)
				}
			}
		}
		each(func(i int) { mean[c] += xs[i] })
		mean[c] /= cnt
		each(func(i int) { vr[c] += (xs[i] - mean[c]) * (xs[i] - mean[c]) })
		vr[c] /= cnt
		inv := 1 / math.Sqrt(vr[c]+float64(b.Epsilon))
		each(func(i int) { y[i] = (xs[i]-mean[c])*inv*scale[c] + bias[c] })
		m := float64(b.Momentum)
		runMean[c] = rm[c]*m + mean[c]*(1-m)
		runVar[c] = rv[c]*m + vr[c]*(1-m)
	}
	dt := in[3].DType
	s := Shape{C}
	return []*Tensor{FromFloats(x.DType, x.Shape, y), FromFloats(dt, s, runMean), FromFloats(dt, s, runVar), FromFloats(dt, s, mean), FromFloats(dt, s, vr)}, nil
}
