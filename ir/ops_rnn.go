package ir

import (
	"fmt"
	"math"
	"strings"
)

// Recurrent layers: RNN, GRU and LSTM share one op.

// RNNKind selects the cell.
type RNNKind string

const (
	KindRNN  RNNKind = "RNN"
	KindGRU  RNNKind = "GRU"
	KindLSTM RNNKind = "LSTM"
)

// Gates is the number of gate blocks in W, R and half of B: i for RNN,
// z r h for GRU, i o f c for LSTM.
func (k RNNKind) Gates() int {
	switch k {
	case KindGRU:
		return 3
	case KindLSTM:
		return 4
	}
	return 1
}

// ActsPerDir is the number of activation functions of one direction: f for
// RNN, f g for GRU, f g h for LSTM.
func (k RNNKind) ActsPerDir() int {
	switch k {
	case KindGRU:
		return 2
	case KindLSTM:
		return 3
	}
	return 1
}

// RNNActivation is one activation function with its resolved parameters.
type RNNActivation struct {
	Name        string // lower case: relu, tanh, sigmoid, affine, ...
	Alpha, Beta float32
}

// rnnActParams lists, per activation, whether it reads alpha and beta and
// their defaults (those of the ONNX operators of the same name).
var rnnActParams = map[string]struct {
	alpha, beta       bool
	defAlpha, defBeta float32
}{
	"relu":            {},
	"tanh":            {},
	"sigmoid":         {},
	"softsign":        {},
	"softplus":        {},
	"affine":          {true, true, 1, 0},
	"leakyrelu":       {true, false, 0.01, 0},
	"thresholdedrelu": {true, false, 1, 0},
	"scaledtanh":      {true, true, 1, 1},
	"hardsigmoid":     {true, true, 0.2, 0.5},
	"elu":             {true, false, 1, 0},
}

// ResolveRNNActivations turns the activations, activation_alpha and
// activation_beta attributes into one entry per direction and function.
// alpha and beta values are consumed in order by the functions that take
// them, as ONNX Runtime does. A list with one direction's functions serves
// both directions of a bidirectional layer.
func ResolveRNNActivations(kind RNNKind, dirs int, names []string, alphas, betas []float32) ([]RNNActivation, error) {
	per := kind.ActsPerDir()
	if len(names) == 0 {
		switch kind {
		case KindRNN:
			names = []string{"Tanh"}
		case KindGRU:
			names = []string{"Sigmoid", "Tanh"}
		case KindLSTM:
			names = []string{"Sigmoid", "Tanh", "Tanh"}
		}
	}
	need := per * dirs
	switch {
	case len(names) >= need:
		// RNN's schema default lists two functions even for one direction.
		names = names[:need]
	case len(names) == per:
		names = append(append([]string{}, names...), names...)
	default:
		return nil, fmt.Errorf("%s needs %d activation functions (%d per direction), got %d", kind, need, per, len(names))
	}
	out := make([]RNNActivation, len(names))
	for i, n := range names {
		name := strings.ToLower(n)
		p, ok := rnnActParams[name]
		if !ok {
			return nil, NotSupportedf("activation function %q", n)
		}
		a := RNNActivation{Name: name, Alpha: p.defAlpha, Beta: p.defBeta}
		if p.alpha && len(alphas) > 0 {
			a.Alpha, alphas = alphas[0], alphas[1:]
		}
		if p.beta && len(betas) > 0 {
			a.Beta, betas = betas[0], betas[1:]
		}
		out[i] = a
	}
	return out, nil
}

// ApplyRNNActivation is the reference form of an activation function.
func ApplyRNNActivation(a RNNActivation, x float64) float64 {
	alpha, beta := float64(a.Alpha), float64(a.Beta)
	switch a.Name {
	case "relu":
		return math.Max(x, 0)
	case "tanh":
		return math.Tanh(x)
	case "sigmoid":
		return 1 / (1 + math.Exp(-x))
	case "affine":
		return alpha*x + beta
	case "leakyrelu":
		if x >= 0 {
			return x
		}
		return alpha * x
	case "thresholdedrelu":
		if x > alpha {
			return x
		}
		return 0
	case "scaledtanh":
		return alpha * math.Tanh(beta*x)
	case "hardsigmoid":
		return math.Min(math.Max(alpha*x+beta, 0), 1)
	case "elu":
		if x >= 0 {
			return x
		}
		return alpha * math.Expm1(x)
	case "softsign":
		return x / (1 + math.Abs(x))
	case "softplus":
		return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x)))
	}
	panic("unknown activation " + a.Name)
}

// RNN is ONNX RNN, GRU or LSTM. Inputs: X, W, R, B, sequence_lens,
// initial_h, initial_c (LSTM), P (LSTM); outputs Y, Y_h, Y_c (LSTM).
type RNN struct {
	Kind              RNNKind
	Direction         string          // forward, reverse, bidirectional
	Activations       []RNNActivation // ActsPerDir per direction, forward first
	Clip              float32         // applied to gate pre-activations when > 0
	InputForget       bool            // LSTM: f = 1 - i
	Layout            int             // 0: [seq, batch, ...]; 1: [batch, seq, ...]
	LinearBeforeReset bool            // GRU
	HiddenSize        int             // 0 when the attribute is absent
}

func (o *RNN) OpType() string { return string(o.Kind) }

// Dirs is the number of directions.
func (o *RNN) Dirs() int {
	if o.Direction == "bidirectional" {
		return 2
	}
	return 1
}

// RNNDims are the sizes of a recurrent layer.
type RNNDims struct {
	Seq, Batch, Input, Hidden, Dirs int
}

// Dims validates the input shapes and returns the layer's sizes.
func (o *RNN) Dims(in []*Value) (RNNDims, error) {
	var d RNNDims
	if len(in) < 3 || in[0] == nil || in[1] == nil || in[2] == nil {
		return d, fmt.Errorf("%s needs X, W and R", o.Kind)
	}
	x, w, r := in[0].Type.Shape, in[1].Type.Shape, in[2].Type.Shape
	if len(x) != 3 || len(w) != 3 || len(r) != 3 {
		return d, fmt.Errorf("%s needs 3-D X, W and R, got %s, %s and %s", o.Kind, x, w, r)
	}
	d.Seq, d.Batch, d.Input = x[0], x[1], x[2]
	if o.Layout == 1 {
		d.Seq, d.Batch = x[1], x[0]
	}
	d.Dirs = o.Dirs()
	d.Hidden = r[2]
	g := o.Kind.Gates()
	if o.HiddenSize != 0 && o.HiddenSize != d.Hidden {
		return d, fmt.Errorf("hidden_size is %d but R has shape %s", o.HiddenSize, r)
	}
	want := func(name string, s Shape, dims ...int) error {
		if !s.Equal(Shape(dims)) {
			return fmt.Errorf("%s %s must have shape %s", o.Kind, name, Shape(dims))
		}
		return nil
	}
	if err := want("W "+w.String(), w, d.Dirs, g*d.Hidden, d.Input); err != nil {
		return d, err
	}
	if err := want("R "+r.String(), r, d.Dirs, g*d.Hidden, d.Hidden); err != nil {
		return d, err
	}
	if err := SameType(in, 0, 1, 2, 3, 5, 6, 7); err != nil {
		return d, err
	}
	if !in[0].Type.DType.IsFloat() {
		return d, fmt.Errorf("%s needs float inputs, got %s", o.Kind, in[0].Type.DType)
	}
	if b := getIn(in, 3); b != nil {
		if err := want("B "+b.Type.Shape.String(), b.Type.Shape, d.Dirs, 2*g*d.Hidden); err != nil {
			return d, err
		}
	}
	if s := getIn(in, 4); s != nil {
		if err := want("sequence_lens "+s.Type.Shape.String(), s.Type.Shape, d.Batch); err != nil {
			return d, err
		}
		if s.Type.DType != Int32 {
			return d, fmt.Errorf("%s sequence_lens must be int32, got %s", o.Kind, s.Type.DType)
		}
	}
	state := []int{d.Dirs, d.Batch, d.Hidden}
	if o.Layout == 1 {
		state = []int{d.Batch, d.Dirs, d.Hidden}
	}
	for i, name := range []string{5: "initial_h", 6: "initial_c"} {
		if v := getIn(in, i); v != nil && name != "" {
			if err := want(name+" "+v.Type.Shape.String(), v.Type.Shape, state...); err != nil {
				return d, err
			}
		}
	}
	if o.Kind != KindLSTM && (getIn(in, 6) != nil || getIn(in, 7) != nil) {
		return d, fmt.Errorf("%s has no initial_c or P inputs", o.Kind)
	}
	if p := getIn(in, 7); p != nil {
		if err := want("P "+p.Type.Shape.String(), p.Type.Shape, d.Dirs, 3*d.Hidden); err != nil {
			return d, err
		}
	}
	if len(o.Activations) != d.Dirs*o.Kind.ActsPerDir() {
		return d, fmt.Errorf("%s has %d activations, want %d", o.Kind, len(o.Activations), d.Dirs*o.Kind.ActsPerDir())
	}
	return d, nil
}

func (o *RNN) Infer(in []*Value) ([]Type, error) {
	d, err := o.Dims(in)
	if err != nil {
		return nil, err
	}
	dt := in[0].Type.DType
	y := Shape{d.Seq, d.Dirs, d.Batch, d.Hidden}
	st := Shape{d.Dirs, d.Batch, d.Hidden}
	if o.Layout == 1 {
		y = Shape{d.Batch, d.Seq, d.Dirs, d.Hidden}
		st = Shape{d.Batch, d.Dirs, d.Hidden}
	}
	out := []Type{{dt, y}, {dt, st}}
	if o.Kind == KindLSTM {
		out = append(out, Type{dt, st.Clone()})
	}
	return out, nil
}

// YIndex is the flat index of Y[t, dir, b, 0] (layout-aware).
func (d RNNDims) YIndex(layout, t, dir, b int) int {
	if layout == 1 {
		return ((b*d.Seq+t)*d.Dirs + dir) * d.Hidden
	}
	return ((t*d.Dirs+dir)*d.Batch + b) * d.Hidden
}

// StateIndex is the flat index of Y_h[dir, b, 0] (layout-aware).
func (d RNNDims) StateIndex(layout, dir, b int) int {
	if layout == 1 {
		return (b*d.Dirs + dir) * d.Hidden
	}
	return (dir*d.Batch + b) * d.Hidden
}

// XIndex is the flat index of X[t, b, 0] (layout-aware).
func (d RNNDims) XIndex(layout, t, b int) int {
	if layout == 1 {
		return (b*d.Seq + t) * d.Input
	}
	return (t*d.Batch + b) * d.Input
}

// Eval runs the recurrence in float64. Steps past a batch entry's
// sequence length leave its state unchanged and write zeros to Y; a reverse
// pass starts at the entry's last valid step. An entry of length 0 gets
// zero final states, as in ONNX Runtime.
func (o *RNN) Eval(in []*Tensor) ([]*Tensor, error) {
	vals := constValues(in)
	d, err := o.Dims(vals)
	if err != nil {
		return nil, err
	}
	types, _ := o.Infer(vals)
	H, G := d.Hidden, o.Kind.Gates()
	x, w, r := in[0].Floats(), in[1].Floats(), in[2].Floats()
	var b, p, h0, c0 []float64
	if t := getT(in, 3); t != nil {
		b = t.Floats()
	}
	if t := getT(in, 5); t != nil {
		h0 = t.Floats()
	}
	if t := getT(in, 6); t != nil {
		c0 = t.Floats()
	}
	if t := getT(in, 7); t != nil {
		p = t.Floats()
	}
	lens := make([]int, d.Batch)
	for i := range lens {
		lens[i] = d.Seq
		if t := getT(in, 4); t != nil {
			lens[i] = int(t.Int(i))
			if lens[i] < 0 || lens[i] > d.Seq {
				return nil, fmt.Errorf("%s sequence_lens[%d] = %d is outside [0, %d]", o.Kind, i, lens[i], d.Seq)
			}
		}
	}
	y := make([]float64, types[0].Shape.Size())
	yh := make([]float64, types[1].Shape.Size())
	yc := make([]float64, types[1].Shape.Size())
	clip := func(v float64) float64 {
		if o.Clip > 0 {
			return math.Max(math.Min(v, float64(o.Clip)), -float64(o.Clip))
		}
		return v
	}
	per := o.Kind.ActsPerDir()
	for dir := 0; dir < d.Dirs; dir++ {
		reverse := o.Direction == "reverse" || dir == 1
		acts := o.Activations[dir*per : (dir+1)*per]
		f := func(i int, v float64) float64 { return ApplyRNNActivation(acts[i], clip(v)) }
		wd := w[dir*G*H*d.Input:]
		rd := r[dir*G*H*H:]
		bias := func(gate, j int) (wb, rb float64) {
			if b == nil {
				return 0, 0
			}
			base := dir * 2 * G * H
			return b[base+gate*H+j], b[base+(G+gate)*H+j]
		}
		for bi := 0; bi < d.Batch; bi++ {
			h := make([]float64, H)
			c := make([]float64, H)
			si := d.StateIndex(o.Layout, dir, bi)
			if h0 != nil {
				copy(h, h0[si:si+H])
			}
			if c0 != nil {
				copy(c, c0[si:si+H])
			}
			// xw(g, j) + hw(g, j): the input and recurrent products of one gate row.
			var xt []float64
			xw := func(g, j int) float64 {
				acc := 0.0
				row := wd[(g*H+j)*d.Input:]
				for k := 0; k < d.Input; k++ {
					acc += xt[k] * row[k]
				}
				return acc
			}
			hw := func(hv []float64, g, j int) float64 {
				acc := 0.0
				row := rd[(g*H+j)*H:]
				for k := 0; k < H; k++ {
					acc += hv[k] * row[k]
				}
				return acc
			}
			for s := 0; s < lens[bi]; s++ {
				t := s
				if reverse {
					t = lens[bi] - 1 - s
				}
				xi := d.XIndex(o.Layout, t, bi)
				xt = x[xi : xi+d.Input]
				nh := make([]float64, H)
				switch o.Kind {
				case KindRNN:
					for j := 0; j < H; j++ {
						wb, rb := bias(0, j)
						nh[j] = f(0, xw(0, j)+hw(h, 0, j)+wb+rb)
					}
				case KindGRU:
					z := make([]float64, H)
					rg := make([]float64, H)
					for j := 0; j < H; j++ {
						wb, rb := bias(0, j)
						z[j] = f(0, xw(0, j)+hw(h, 0, j)+wb+rb)
						wb, rb = bias(1, j)
						rg[j] = f(0, xw(1, j)+hw(h, 1, j)+wb+rb)
					}
					rh := make([]float64, H)
					for j := range rh {
						rh[j] = rg[j] * h[j]
					}
					for j := 0; j < H; j++ {
						wb, rb := bias(2, j)
						var a float64
						if o.LinearBeforeReset {
							a = xw(2, j) + wb + rg[j]*(hw(h, 2, j)+rb)
						} else {
							a = xw(2, j) + hw(rh, 2, j) + wb + rb
						}
						hh := f(1, a)
						nh[j] = (1-z[j])*hh + z[j]*h[j]
					}
				case KindLSTM:
					nc := make([]float64, H)
					for j := 0; j < H; j++ {
						pre := func(g int) float64 {
							wb, rb := bias(g, j)
							return xw(g, j) + hw(h, g, j) + wb + rb
						}
						peep := func(k int, cv float64) float64 {
							if p == nil {
								return 0
							}
							return p[dir*3*H+k*H+j] * cv
						}
						ig := f(0, pre(0)+peep(0, c[j]))
						var fg float64
						if o.InputForget {
							fg = 1 - ig
						} else {
							fg = f(0, pre(2)+peep(2, c[j]))
						}
						cc := f(1, pre(3))
						nc[j] = fg*c[j] + ig*cc
						og := f(0, pre(1)+peep(1, nc[j]))
						nh[j] = og * ApplyRNNActivation(acts[2], nc[j])
					}
					c = nc
				}
				h = nh
				copy(y[d.YIndex(o.Layout, t, dir, bi):], h)
			}
			if lens[bi] > 0 {
				copy(yh[si:si+H], h)
				copy(yc[si:si+H], c)
			}
		}
	}
	dt := in[0].DType
	out := []*Tensor{FromFloats(dt, types[0].Shape, y), FromFloats(dt, types[1].Shape, yh)}
	if o.Kind == KindLSTM {
		out = append(out, FromFloats(dt, types[2].Shape, yc))
	}
	return out, nil
}
