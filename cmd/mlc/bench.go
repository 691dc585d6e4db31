package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tetratelabs/wazero/api"

	"github.com/mlc-compiler/mlc"

	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/codegen"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
)

// benchJSON is the schema mlc.bench (docs/cli.md). Times are in
// milliseconds. Timing is set without --profile, Profile with it.
type benchJSON struct {
	header
	Module      string        `json:"module"`
	Engine      string        `json:"engine"`
	ColdStartMS float64       `json:"cold_start_ms"` // instantiate and run once
	Timing      *benchTiming  `json:"timing"`
	Profile     *benchProfile `json:"profile"`
}

type benchTiming struct {
	Runs     int     `json:"runs"`
	MedianMS float64 `json:"median_ms"`
	P90MS    float64 `json:"p90_ms"`
	MinMS    float64 `json:"min_ms"`
}

type benchProfile struct {
	Runs int `json:"runs"` // of each node
	// TotalMS is the sum of the nodes' medians, TotalMinMS of their
	// minima (the steadier on a busy machine).
	TotalMS    float64          `json:"total_ms"`
	TotalMinMS float64          `json:"total_min_ms"`
	Nodes      []benchNode      `json:"nodes"`    // every node, the slowest first
	ByOp       []benchOpTime    `json:"by_op"`    // the slowest op first
	ByClass    []benchClassTime `json:"by_class"` // the slowest layer class first
}

type benchNode struct {
	Index    int      `json:"index"` // in run order
	Func     string   `json:"func"`
	Op       string   `json:"op"`
	Class    string   `json:"class"` // codegen.LayerClass
	Shape    []int    `json:"shape"`
	FLOPs    int64    `json:"flops"`
	MedianMS float64  `json:"median_ms"`
	MinMS    float64  `json:"min_ms"`
	Percent  float64  `json:"percent"`
	GFLOPS   *float64 `json:"gflops"` // null for ops without a FLOP count
}

// benchClassTime sums a layer class's node medians; GFLOPS and
// CeilingPercent (of ceilingGFLOPs) are null for classes without FLOPs.
type benchClassTime struct {
	Class          string   `json:"class"`
	Nodes          int      `json:"nodes"`
	MS             float64  `json:"ms"`
	Percent        float64  `json:"percent"`
	GFLOPS         *float64 `json:"gflops"`
	CeilingPercent *float64 `json:"ceiling_percent"`
}

// ceilingGFLOPs is the single-thread SIMD128 f32 GEMM ceiling of the
// project's machine (../shared/notes/wasm-simd-performance.md): a class's
// share of it says how far its kernel is from what a multiply-add loop can
// do. Winograd counts the direct arithmetic, so it can exceed 100%.
const ceilingGFLOPs = 33.0

type benchOpTime struct {
	Op      string  `json:"op"`
	MS      float64 `json:"ms"`
	Percent float64 `json:"percent"`
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func benchCmd() *cobra.Command {
	var runs, top int
	var minTime time.Duration
	var cf compileFlags
	var js jsonFlag
	cmd := &cobra.Command{
		Use:   "bench MODULE.wasm|MODEL.onnx [MODULE.wasm...]",
		Short: "Measure latency on wazero: cold start, median and p90 of repeated runs; --profile: time per node",
		Long: `bench loads a module (or compiles a model first, with the default --tune
unless told) on wazero and times mlc_run on zero inputs.
With --profile it times every node function alone through the profiling
build's mlc_profile_node export: give a model (it is compiled with
--profile) or a module compiled with mlc compile --profile; nodes are
summed by op and by layer class (GFLOP/s and share of the ~33 GFLOP/s
SIMD128 GEMM ceiling). Several profiling modules (A/B variants) are timed
in one process, their passes over the nodes alternating so that a busy
machine's load falls on all alike; --json then writes an array of
documents, one per module.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runs < 1 {
				return usageErrorf("--runs %d: want 1 or more", runs)
			}
			if len(args) > 1 {
				if !cf.profile {
					return usageErrorf("several modules: only with --profile")
				}
				return profileAlternating(cmd, args, runs, minTime, top, &js)
			}
			wasm, err := loadWasm(cmd, args[0], &cf)
			if err != nil {
				return err
			}
			ctx := context.Background()
			m, closeRT, cold, err := loadAndRun(ctx, wasm)
			if err != nil {
				return err
			}
			defer closeRT()
			res := benchJSON{header: newHeader("mlc.bench"), Module: args[0], Engine: "wazero", ColdStartMS: ms(cold)}
			w := js.text(cmd)
			if cf.profile {
				p, err := profileNodes(ctx, []profiled{{m, wasm}}, runs, minTime)
				if err != nil {
					return err
				}
				res.Profile = p[0]
				printProfile(w, p[0], top)
				return js.write(cmd, res)
			}
			var times []time.Duration
			began := time.Now()
			for len(times) < runs || time.Since(began) < minTime {
				t0 := time.Now()
				if err := m.Invoke(ctx); err != nil {
					return runError(err)
				}
				times = append(times, time.Since(t0))
			}
			sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
			res.Timing = &benchTiming{Runs: len(times), MedianMS: ms(times[len(times)/2]), P90MS: ms(times[len(times)*9/10]), MinMS: ms(times[0])}
			fmt.Fprintf(w, "%s on wazero: cold start %s, %d runs: median %s, p90 %s, min %s\n", args[0], cold.Round(time.Microsecond), len(times),
				times[len(times)/2].Round(time.Microsecond), times[len(times)*9/10].Round(time.Microsecond), times[0].Round(time.Microsecond))
			return js.write(cmd, res)
		},
	}
	cf.add(cmd, mlc.DefaultTune)
	cmd.Flags().Lookup("profile").Usage = "time every node instead (a model is compiled with the per-node entry point; a module needs mlc compile --profile)"
	cmd.Flags().IntVar(&runs, "runs", 20, "minimum number of timed runs")
	cmd.Flags().DurationVar(&minTime, "min-time", time.Second, "minimum total time of the timed runs")
	cmd.Flags().IntVar(&top, "top", 25, "with --profile: list the slowest N nodes (0: all)")
	js.add(cmd, "the timings")
	return cmd
}

// loadAndRun instantiates wasm and runs it once on zero inputs (timing does
// not depend on values), returning the time both took: the cold start.
func loadAndRun(ctx context.Context, wasm []byte) (*host.Model, func(), time.Duration, error) {
	start := time.Now()
	m, closeRT, err := loadModule(ctx, wasm)
	if err != nil {
		return nil, nil, 0, err
	}
	feeds := map[string]*host.Tensor{}
	for _, t := range m.Meta.Inputs {
		if feeds[t.Name], err = host.Zeros(t.DType, t.Shape); err != nil {
			closeRT()
			return nil, nil, 0, modelError(err)
		}
	}
	if _, err := m.Run(ctx, feeds); err != nil {
		closeRT()
		return nil, nil, 0, runError(err)
	}
	return m, closeRT, time.Since(start), nil
}

// profiled is a loaded profiling module.
type profiled struct {
	m    *host.Model
	wasm []byte
}

// profileNodes calls mlc_profile_node for every node in order, many times,
// and returns each node's median and minimum time and the totals per op
// and per layer class. Several modules alternate whole passes.
func profileNodes(ctx context.Context, mods []profiled, runs int, minTime time.Duration) ([]*benchProfile, error) {
	fns := make([]api.Function, len(mods))
	nodes := make([][]codegen.ProfileNode, len(mods))
	times := make([][][]time.Duration, len(mods))
	for j, md := range mods {
		fns[j] = md.m.Export(codegen.ExportProfileNode)
		sec, err := abi.CustomSection(md.wasm, codegen.ProfileSection)
		if fns[j] == nil || sec == nil || err != nil {
			return nil, usageErrorf("the module has no %s export: compile it with --profile (or give bench the .onnx)", codegen.ExportProfileNode)
		}
		if err := json.Unmarshal(sec, &nodes[j]); err != nil {
			return nil, modelError(fmt.Errorf("%s section: %w", codegen.ProfileSection, err))
		}
		times[j] = make([][]time.Duration, len(nodes[j]))
	}
	began := time.Now()
	for n := 0; n < runs || time.Since(began) < minTime*time.Duration(len(mods)); n++ {
		for j := range mods {
			for i := range nodes[j] {
				t0 := time.Now()
				st, err := fns[j].Call(ctx, uint64(i))
				if err != nil {
					return nil, runError(err)
				}
				times[j][i] = append(times[j][i], time.Since(t0))
				if int32(st[0]) != 0 {
					return nil, runError(fmt.Errorf("node %s returned status %d", nodes[j][i].Func, int32(st[0])))
				}
			}
		}
	}
	var out []*benchProfile
	for j := range mods {
		out = append(out, profileSummary(nodes[j], times[j]))
	}
	return out, nil
}

// profileSummary is one module's profile from its nodes' times.
func profileSummary(nodes []codegen.ProfileNode, times [][]time.Duration) *benchProfile {
	p := &benchProfile{Nodes: []benchNode{}, ByOp: []benchOpTime{}, ByClass: []benchClassTime{}}
	if len(nodes) > 0 {
		p.Runs = len(times[0])
	}
	var total, totalMin time.Duration
	byOp := map[string]time.Duration{}
	var ops []string
	type class struct {
		n     int
		t     time.Duration
		flops int64
	}
	byClass := map[string]*class{}
	var classes []string
	meds := make([]time.Duration, len(nodes))
	for i, ts := range times {
		sort.Slice(ts, func(a, b int) bool { return ts[a] < ts[b] })
		meds[i] = ts[len(ts)/2]
		total += meds[i]
		totalMin += ts[0]
		op := nodes[i].Op
		if _, ok := byOp[op]; !ok {
			ops = append(ops, op)
		}
		byOp[op] += meds[i]
		cl := nodes[i].Class
		if cl == "" {
			cl = op
		}
		c, ok := byClass[cl]
		if !ok {
			c = &class{}
			byClass[cl] = c
			classes = append(classes, cl)
		}
		c.n++
		c.t += meds[i]
		c.flops += nodes[i].FLOPs
	}
	p.TotalMS, p.TotalMinMS = ms(total), ms(totalMin)
	pct := func(d time.Duration) float64 {
		if total == 0 {
			return 0
		}
		return 100 * d.Seconds() / total.Seconds()
	}
	for i, nd := range nodes {
		bn := benchNode{Index: i, Func: nd.Func, Op: nd.Op, Class: nd.Class, Shape: nd.Shape, FLOPs: nd.FLOPs, MedianMS: ms(meds[i]), MinMS: ms(times[i][0]), Percent: pct(meds[i])}
		if nd.FLOPs > 0 && meds[i] > 0 {
			gf := float64(nd.FLOPs) / meds[i].Seconds() / 1e9
			bn.GFLOPS = &gf
		}
		p.Nodes = append(p.Nodes, bn)
	}
	sort.SliceStable(p.Nodes, func(a, b int) bool { return p.Nodes[a].MedianMS > p.Nodes[b].MedianMS })
	sort.SliceStable(ops, func(a, b int) bool { return byOp[ops[a]] > byOp[ops[b]] })
	for _, op := range ops {
		p.ByOp = append(p.ByOp, benchOpTime{op, ms(byOp[op]), pct(byOp[op])})
	}
	sort.SliceStable(classes, func(a, b int) bool { return byClass[classes[a]].t > byClass[classes[b]].t })
	for _, cl := range classes {
		c := byClass[cl]
		ct := benchClassTime{Class: cl, Nodes: c.n, MS: ms(c.t), Percent: pct(c.t)}
		if c.flops > 0 && c.t > 0 {
			g := float64(c.flops) / c.t.Seconds() / 1e9
			share := 100 * g / ceilingGFLOPs
			ct.GFLOPS, ct.CeilingPercent = &g, &share
		}
		p.ByClass = append(p.ByClass, ct)
	}
	return p
}

// profileAlternating profiles several modules in one process (A/B
// variants), printing each one's profile and writing, with --json, an
// array of mlc.bench documents.
func profileAlternating(cmd *cobra.Command, paths []string, runs int, minTime time.Duration, top int, js *jsonFlag) error {
	ctx := context.Background()
	var mods []profiled
	var docs []benchJSON
	for _, path := range paths {
		wasm, err := os.ReadFile(path)
		if err != nil {
			return ioError(err)
		}
		m, closeRT, cold, err := loadAndRun(ctx, wasm)
		if err != nil {
			return err
		}
		defer closeRT()
		docs = append(docs, benchJSON{header: newHeader("mlc.bench"), Module: path, Engine: "wazero", ColdStartMS: ms(cold)})
		mods = append(mods, profiled{m, wasm})
	}
	ps, err := profileNodes(ctx, mods, runs, minTime)
	if err != nil {
		return err
	}
	w := js.text(cmd)
	for i := range docs {
		docs[i].Profile = ps[i]
		fmt.Fprintf(w, "%s:\n", paths[i])
		printProfile(w, ps[i], top)
	}
	return js.write(cmd, docs)
}

func printProfile(w io.Writer, p *benchProfile, top int) {
	fmt.Fprintf(w, "%d nodes, %d runs each on wazero; sum of node medians %s\n", len(p.Nodes), p.Runs, msString(p.TotalMS))
	fmt.Fprintf(w, "%10s %6s %8s  %-24s %s\n", "median", "%", "GFLOP/s", "shape", "node")
	for k, n := range p.Nodes {
		if top > 0 && k >= top {
			fmt.Fprintf(w, "... %d more nodes\n", len(p.Nodes)-top)
			break
		}
		gf := ""
		if n.GFLOPS != nil {
			gf = fmt.Sprintf("%.1f", *n.GFLOPS)
		}
		fmt.Fprintf(w, "%10s %5.1f%% %8s  %-24s %s\n", msString(n.MedianMS), n.Percent, gf, shapeString(n.Shape), n.Func)
	}
	var parts []string
	for _, o := range p.ByOp {
		parts = append(parts, fmt.Sprintf("%s %s (%.0f%%)", o.Op, msString(o.MS), o.Percent))
	}
	fmt.Fprintf(w, "by op: %s\n", strings.Join(parts, ", "))
	fmt.Fprintf(w, "%-16s %5s %10s %6s %8s %6s\n", "class", "nodes", "time", "%", "GFLOP/s", "ceil%")
	for _, c := range p.ByClass {
		gf, pc := "", ""
		if c.GFLOPS != nil {
			gf, pc = fmt.Sprintf("%.1f", *c.GFLOPS), fmt.Sprintf("%.0f%%", *c.CeilingPercent)
		}
		fmt.Fprintf(w, "%-16s %5d %10s %5.1f%% %8s %6s\n", c.Class, c.Nodes, msString(c.MS), c.Percent, gf, pc)
	}
}

// msString prints milliseconds as a duration rounded to 0.1 µs.
func msString(v float64) string {
	return time.Duration(v * 1e6).Round(time.Microsecond / 10).String()
}
