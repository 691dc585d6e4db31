package quant

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
)

// probe is a module that also outputs chosen values of a graph, loaded
// once per worker.
type probe struct {
	mods  []*host.Model
	names []string // per value: its output name, or the input name of a graph input
}

// workers is how many samples run at once.
func workers() int { return max(1, min(runtime.NumCPU(), 4)) }

// newProbe compiles g (which it changes) with vals as extra outputs.
func newProbe(ctx context.Context, rt *host.Runtime, g *ir.Graph, vals []*ir.Value, compile func(*ir.Graph) ([]byte, error)) (*probe, error) {
	p := &probe{names: make([]string, len(vals))}
	isInput := map[*ir.Value]bool{}
	for _, v := range g.Inputs {
		isInput[v] = true
	}
	outName := map[*ir.Value]string{}
	for _, v := range g.Outputs {
		outName[v] = v.Name
	}
	for i, v := range vals {
		switch {
		case isInput[v]:
			p.names[i] = v.Name
		case outName[v] != "":
			p.names[i] = outName[v]
		default:
			// a name of its own: graph values need not have unique names
			v.Name = fmt.Sprintf("mlc_probe_%d", i)
			outName[v] = v.Name
			p.names[i] = v.Name
			g.Outputs = append(g.Outputs, v)
		}
	}
	wasm, err := compile(g)
	if err != nil {
		return nil, err
	}
	for w := 0; w < workers(); w++ {
		m, err := rt.Load(ctx, wasm)
		if err != nil {
			return nil, err
		}
		p.mods = append(p.mods, m)
	}
	return p, nil
}

// runAll runs every probe on every sample, workers() samples at a time,
// and calls fn with each sample's values (outs[probe][value]) in sample
// order, so that what fn accumulates does not depend on the scheduling.
func runAll(ctx context.Context, probes []*probe, data []map[string]*ir.Tensor, bar *progress, fn func(outs [][]*ir.Tensor) error) error {
	W := len(probes[0].mods)
	for start := 0; start < len(data); start += W {
		n := min(W, len(data)-start)
		results := make([][][]*ir.Tensor, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for w := 0; w < n; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for _, p := range probes {
					ts, err := p.run(ctx, w, data[start+w])
					if err != nil {
						errs[w] = err
						return
					}
					results[w] = append(results[w], ts)
				}
			}(w)
		}
		wg.Wait()
		for w := 0; w < n; w++ {
			if errs[w] != nil {
				return errs[w]
			}
			if err := fn(results[w]); err != nil {
				return err
			}
			bar.step(start + w + 1)
		}
	}
	return nil
}

// run returns the values for one sample, on worker w's instance.
func (p *probe) run(ctx context.Context, w int, feed map[string]*ir.Tensor) ([]*ir.Tensor, error) {
	res, err := hostir.Run(ctx, p.mods[w], feed)
	if err != nil {
		return nil, err
	}
	out := make([]*ir.Tensor, len(p.names))
	for i, name := range p.names {
		if t, ok := res[name]; ok {
			out[i] = t
		} else {
			out[i] = feed[name]
		}
	}
	return out, nil
}

// progress shows how a stage advances: a bar redrawn in place on a
// terminal, and one plain line when the stage starts elsewhere (a CI log, a
// pipe, a file), where carriage returns would only be noise.
type progress struct {
	w       io.Writer
	label   string
	total   int
	shown   int
	plain   bool // w is not a terminal
	started bool
}

func newProgress(w io.Writer, label string, total int) *progress {
	return &progress{w: w, label: label, total: total, plain: !isTerminal(w)}
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Stat() (os.FileInfo, error) })
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (p *progress) step(done int) {
	if p.w == nil || p.total == 0 {
		return
	}
	if p.plain {
		if !p.started {
			p.started = true
			fmt.Fprintf(p.w, "%s: %d samples\n", p.label, p.total)
		}
		return
	}
	const width = 30
	filled := done * width / p.total
	if done != p.total && filled == p.shown && done > 1 {
		return
	}
	p.shown = filled
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d", p.label, strings.Repeat("=", filled), strings.Repeat(" ", width-filled), done, p.total)
	if done == p.total {
		fmt.Fprintln(p.w)
	}
}

// stats are what calibration learns about one value.
type stats struct {
	lo, hi   float64   // the range: minimum and maximum, or a histogram's choice
	min, max float64   // the minimum and maximum
	mean     []float64 // per channel, when asked for
}

// calibrate runs the float graph g on the samples and returns, for each
// value of keys, its range (the minimum and maximum, or chosen from a
// histogram) and, where axes[i] >= 0, its mean per index of that axis.
func calibrate(ctx context.Context, g *ir.Graph, keys []*ir.Value, axes []int, cfg Config) (map[*ir.Value]*stats, error) {
	rt, err := host.NewRuntime(ctx, host.Config{})
	if err != nil {
		return nil, err
	}
	defer rt.Close(ctx)
	c, vmap := g.Clone()
	vals := make([]*ir.Value, len(keys))
	for i, v := range keys {
		vals[i] = vmap[v]
	}
	p, err := newProbe(ctx, rt, c, vals, cfg.Compile)
	if err != nil {
		return nil, fmt.Errorf("compiling the calibration model: %w", err)
	}
	lo, hi := make([]float64, len(vals)), make([]float64, len(vals))
	sums := make([][]float64, len(vals))
	for i := range lo {
		lo[i], hi[i] = math.Inf(1), math.Inf(-1)
		if axes[i] >= 0 {
			sums[i] = make([]float64, keys[i].Type.Shape[axes[i]])
		}
	}
	bar := newProgress(cfg.Progress, "calibrating", len(cfg.Data))
	if cfg.Method != MinMax {
		bar.label = "calibrating (1/2: ranges)"
	}
	err = runAll(ctx, []*probe{p}, cfg.Data, bar, func(outs [][]*ir.Tensor) error {
		for i, t := range outs[0] {
			inner, n := 1, 1
			if axes[i] >= 0 {
				inner, n = t.Shape[axes[i]+1:].Size(), t.Shape[axes[i]]
			}
			for j, v := range t.F32() {
				x := float64(v)
				lo[i], hi[i] = min(lo[i], x), max(hi[i], x)
				if sums[i] != nil {
					sums[i][j/inner%n] += x
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[*ir.Value]*stats{}
	for i, v := range keys {
		st := &stats{lo: lo[i], hi: hi[i], min: lo[i], max: hi[i]}
		if sums[i] != nil {
			per := float64(len(cfg.Data)) * float64(v.Type.Shape.Size()) / float64(len(sums[i]))
			st.mean = make([]float64, len(sums[i]))
			for c, x := range sums[i] {
				st.mean[c] = x / per
			}
		}
		out[v] = st
	}
	if cfg.Method == MinMax {
		return out, nil
	}
	const bins = 2048
	hist := make([][]float64, len(vals))
	for i := range hist {
		hist[i] = make([]float64, bins)
	}
	bar = newProgress(cfg.Progress, "calibrating (2/2: histograms)", len(cfg.Data))
	err = runAll(ctx, []*probe{p}, cfg.Data, bar, func(outs [][]*ir.Tensor) error {
		for i, t := range outs[0] {
			w := (hi[i] - lo[i]) / bins
			for _, v := range t.F32() {
				b := 0
				if w > 0 {
					b = min(bins-1, int((float64(v)-lo[i])/w))
				}
				hist[i][b]++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, v := range keys {
		r := percentileRange(hist[i], lo[i], hi[i], cfg.Percentile)
		if cfg.Method == MSE {
			r = mseRange(hist[i], lo[i], hi[i])
		}
		out[v].lo, out[v].hi = r[0], r[1]
	}
	return out, nil
}

// percentileRange cuts (100 - pct)/2 % of the values at each end of the
// histogram h over [lo, hi].
func percentileRange(h []float64, lo, hi, pct float64) [2]float64 {
	bins := len(h)
	total := 0.0
	for _, c := range h {
		total += c
	}
	cut := (100 - pct) / 200 * total
	w := (hi - lo) / float64(bins)
	// the lowest bin edge below which at most cut of the values lie, and
	// the highest above which at most cut lie
	a, acc := 0, 0.0
	for a < bins-1 && acc+h[a] <= cut {
		acc += h[a]
		a++
	}
	b, acc := bins-1, 0.0
	for b > 0 && acc+h[b] <= cut {
		acc += h[b]
		b--
	}
	r := [2]float64{lo + float64(a)*w, lo + float64(b+1)*w}
	if a == 0 {
		r[0] = lo
	}
	if b == bins-1 {
		r[1] = hi
	}
	return r
}

// mseRange shrinks [lo, hi] (which holds 0) by the factor that minimizes
// the expected squared error of int8 quantization over the histogram h:
// s^2/12 for values inside the range, the distance to it for the others.
func mseRange(h []float64, lo, hi float64) [2]float64 {
	lo, hi = min(lo, 0), max(hi, 0)
	w := (hi - lo) / float64(len(h))
	best, bestErr := 1.0, math.Inf(1)
	for t := 100; t >= 10; t-- {
		a := float64(t) / 100
		l, u := a*lo, a*hi
		s := (u - l) / 255
		e := 0.0
		for b, c := range h {
			if c == 0 {
				continue
			}
			x := lo + (float64(b)+0.5)*w
			switch {
			case x < l:
				e += c * (l - x) * (l - x)
			case x > u:
				e += c * (x - u) * (x - u)
			default:
				e += c * s * s / 12
			}
		}
		if e < bestErr {
			best, bestErr = a, e
		}
	}
	return [2]float64{best * lo, best * hi}
}
