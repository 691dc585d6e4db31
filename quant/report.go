package quant

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"

	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
)

// Report is the quantization report: per quantized value its parameters
// and its error against the float model, and the error of every model
// output, measured on the calibration data.
type Report struct {
	Mode    string   `json:"mode"`
	Method  string   `json:"calibration_method,omitempty"`
	Samples int      `json:"samples"`
	Layers  []Layer  `json:"layers"`
	Outputs []Output `json:"outputs"`
}

// Layer is one quantized value: the output of a fused integer op (Name,
// Ops) or another activation quantized for one (a model input, a
// Flatten's output). Errors compare the quantized model's value,
// dequantized, with the float model's over all samples.
type Layer struct {
	Name      string     `json:"name"`
	Ops       string     `json:"ops"`
	Tensor    string     `json:"tensor"`
	DType     string     `json:"dtype"` // int8, or float32 for a float output
	Scale     float32    `json:"scale,omitempty"`
	ZeroPoint int32      `json:"zero_point"`
	Range     [2]float64 `json:"calibrated_range"`
	// WeightScale is the smallest and largest per-channel weight scale.
	WeightScale [2]float32 `json:"weight_scale"`
	WeightError float64    `json:"weight_rel_error"`
	Error
}

// Error compares quantized values q with float values f.
type Error struct {
	RelError  float64 `json:"rel_error"` // ||q - f|| / ||f||
	MaxAbs    float64 `json:"max_abs_error"`
	Cosine    float64 `json:"cosine"`
	Agreement float64 `json:"argmax_agreement,omitempty"` // share of samples with the same argmax (outputs)
}

// Output is the error of one model output.
type Output struct {
	Name string `json:"name"`
	Error
}

// row is a Layer being measured: the float model's value and the
// quantized model's (int8 with params, or float).
type row struct {
	float, quant *ir.Value
	params       *qparams
	stats        errStats
}

type errStats struct {
	se, sr, sq, dot, maxAbs float64
	agree, samples          int
}

func (e *errStats) add(f, q []float32) {
	bf, bq := 0, 0
	for i := range f {
		a, b := float64(f[i]), float64(q[i])
		d := b - a
		e.se += d * d
		e.sr += a * a
		e.sq += b * b
		e.dot += a * b
		e.maxAbs = max(e.maxAbs, math.Abs(d))
		if f[i] > f[bf] {
			bf = i
		}
		if q[i] > q[bq] {
			bq = i
		}
	}
	e.samples++
	if bf == bq {
		e.agree++
	}
}

func (e *errStats) result(argmax bool) Error {
	r := Error{RelError: relErr(e.se, e.sr), MaxAbs: e.maxAbs, Cosine: 1}
	if e.sr > 0 || e.sq > 0 {
		r.Cosine = e.dot / math.Sqrt(e.sr*e.sq)
	}
	if math.IsNaN(r.Cosine) {
		r.Cosine = 0
	}
	if argmax && e.samples > 0 {
		r.Agreement = float64(e.agree) / float64(e.samples)
	}
	return r
}

// rows lists the report's layers in graph order and what to measure.
func (rep *Report) rows(g *ir.Graph, layers []*layer, acts []*ir.Value, params map[*ir.Value]qparams, calibrated map[*ir.Value][2]float64, refMap map[*ir.Value]*ir.Value, qvals map[*ir.Value]*ir.Value) []*row {
	byOut := map[*ir.Value]*layer{}
	for _, l := range layers {
		byOut[l.out] = l
	}
	vals := slices.Clone(acts)
	for _, l := range layers {
		if !slices.Contains(vals, l.out) {
			vals = append(vals, l.out)
		}
	}
	vals = topoOrder(g, vals)
	prod := g.Producers()
	var rows []*row
	for _, v := range vals {
		ly := Layer{Tensor: v.Name, DType: "float32"}
		r := &row{float: refMap[v], quant: v}
		if p, ok := params[v]; ok {
			ly.DType, ly.Scale, ly.ZeroPoint = p.dt.String(), p.scale, p.zero
			r.params, r.quant = &p, qvals[v]
		}
		if c, ok := calibrated[refMap[v]]; ok {
			ly.Range = c
		}
		if l := byOut[v]; l != nil {
			ly.Name, ly.Ops = l.node.Name, l.ops()
			if l.wScale != nil {
				ly.WeightScale = [2]float32{slices.Min(l.wScale), slices.Max(l.wScale)}
				ly.WeightError = l.wErr
			}
		} else if p := prod[v]; p != nil {
			ly.Name, ly.Ops = p.Name, p.Op.OpType()
		} else {
			ly.Ops = "input"
		}
		rep.Layers = append(rep.Layers, ly)
		rows = append(rows, r)
	}
	return rows
}

// measure runs the float graph ref and the quantized graph g on the
// samples and fills in the errors.
func measure(ctx context.Context, rep *Report, rows []*row, ref, g *ir.Graph, cfg Config) error {
	rt, err := host.NewRuntime(ctx, host.Config{})
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	fc, fmap := ref.Clone()
	qc, qmap := g.Clone()
	var fv, qv []*ir.Value
	for _, r := range rows {
		fv, qv = append(fv, fmap[r.float]), append(qv, qmap[r.quant])
	}
	nOut := len(ref.Outputs)
	fv, qv = append(fv, fc.Outputs...), append(qv, qc.Outputs...)
	fp, err := newProbe(ctx, rt, fc, fv, cfg.Compile)
	if err != nil {
		return fmt.Errorf("compiling the float model for the report: %w", err)
	}
	qp, err := newProbe(ctx, rt, qc, qv, cfg.Compile)
	if err != nil {
		return fmt.Errorf("compiling the quantized model for the report: %w", err)
	}
	outStats := make([]errStats, nOut)
	bar := newProgress(cfg.Progress, "measuring the error", len(cfg.Data))
	err = runAll(ctx, []*probe{fp, qp}, cfg.Data, bar, func(outs [][]*ir.Tensor) error {
		ft, qt := outs[0], outs[1]
		for i, r := range rows {
			q := qt[i]
			if r.params != nil {
				q = dequantize(q, *r.params)
			}
			r.stats.add(ft[i].F32(), q.F32())
		}
		for i := range outStats {
			f, q := ft[len(rows)+i], qt[len(rows)+i]
			if f.DType == ir.Float32 && q.DType == ir.Float32 {
				outStats[i].add(f.F32(), q.F32())
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, r := range rows {
		rep.Layers[i].Error = r.stats.result(false)
	}
	for i, v := range ref.Outputs {
		rep.Outputs = append(rep.Outputs, Output{Name: v.Name, Error: outStats[i].result(v.Type.Shape.Size() > 1)})
	}
	return nil
}

func dequantize(t *ir.Tensor, p qparams) *ir.Tensor {
	out := ir.NewTensor(ir.Float32, t.Shape)
	for i := range out.F32() {
		out.F32()[i] = float32(int32(t.Int(i))-p.zero) * p.scale
	}
	return out
}

func sqnr(relErr float64) string {
	if relErr == 0 {
		return "exact"
	}
	return fmt.Sprintf("%.1f", -20*math.Log10(relErr))
}

// Write prints the report as a table.
func (rep *Report) Write(w io.Writer) {
	how := rep.Mode
	if rep.Method != "" {
		how += ", " + rep.Method + " calibration"
	}
	if rep.Samples > 0 {
		fmt.Fprintf(w, "quantization report (%s; errors against the float model on %d samples)\n", how, rep.Samples)
	} else {
		fmt.Fprintf(w, "quantization report (%s; no calibration data, so no errors measured)\n", how)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "layer\tops\tout\tscale\tzero\tcalibrated range\tweight scales\tweight err\trel err\tSQNR dB\tmax abs err\t")
	for _, l := range rep.Layers {
		scale, zero, rng := "", "", ""
		if l.DType != "float32" {
			scale, zero = fmt.Sprintf("%.4g", l.Scale), fmt.Sprint(l.ZeroPoint)
			rng = fmt.Sprintf("[%.4g, %.4g]", l.Range[0], l.Range[1])
		}
		ws, we := "", ""
		if l.WeightScale[1] > 0 {
			ws, we = fmt.Sprintf("%.3g..%.3g", l.WeightScale[0], l.WeightScale[1]), fmt.Sprintf("%.2g", l.WeightError)
		}
		errs := []string{"", "", ""}
		if rep.Samples > 0 {
			errs = []string{fmt.Sprintf("%.3g", l.RelError), sqnr(l.RelError), fmt.Sprintf("%.3g", l.MaxAbs)}
		}
		name := l.Name
		if name == "" {
			name = l.Tensor
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", shorten(name, 48), l.Ops, l.DType, scale, zero, rng, ws, we, errs[0], errs[1], errs[2])
	}
	tw.Flush()
	for _, o := range rep.Outputs {
		fmt.Fprintf(w, "output %s: rel err %.3g (SQNR %s dB), max abs err %.3g, cosine %.5f", o.Name, o.RelError, sqnr(o.RelError), o.MaxAbs, o.Cosine)
		if o.Agreement > 0 {
			fmt.Fprintf(w, ", argmax agreement %.2f%%", 100*o.Agreement)
		}
		fmt.Fprintln(w)
	}
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n+3:]
}
