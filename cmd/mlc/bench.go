package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

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
	// TotalMS is the sum of the nodes' medians.
	TotalMS float64       `json:"total_ms"`
	Nodes   []benchNode   `json:"nodes"` // every node, the slowest first
	ByOp    []benchOpTime `json:"by_op"` // the slowest op first
}

type benchNode struct {
	Func     string   `json:"func"`
	Op       string   `json:"op"`
	Shape    []int    `json:"shape"`
	MedianMS float64  `json:"median_ms"`
	Percent  float64  `json:"percent"`
	GFLOPS   *float64 `json:"gflops"` // null for ops without a FLOP count
}

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
		Use:   "bench MODULE.wasm|MODEL.onnx",
		Short: "Measure latency on wazero: cold start, median and p90 of repeated runs; --profile: time per node",
		Long: `bench loads a module (or compiles a model first, with --tune wazero unless
--tune says otherwise) on wazero and times mlc_run on zero inputs.
With --profile it times every node function alone through the profiling
build's mlc_profile_node export: give a model (it is compiled with
--profile) or a module compiled with mlc compile --profile.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runs < 1 {
				return usageErrorf("--runs %d: want 1 or more", runs)
			}
			wasm, err := loadWasm(cmd, args[0], &cf)
			if err != nil {
				return err
			}
			ctx := context.Background()
			start := time.Now()
			m, closeRT, err := loadModule(ctx, wasm)
			if err != nil {
				return err
			}
			defer closeRT()
			feeds := map[string]*host.Tensor{}
			for _, t := range m.Meta.Inputs {
				// zeros: timing does not depend on values
				if feeds[t.Name], err = host.Zeros(t.DType, t.Shape); err != nil {
					return modelError(err)
				}
			}
			if _, err := m.Run(ctx, feeds); err != nil {
				return runError(err)
			}
			cold := time.Since(start)
			res := benchJSON{header: newHeader("mlc.bench"), Module: args[0], Engine: "wazero", ColdStartMS: ms(cold)}
			w := js.text(cmd)
			if cf.profile {
				p, err := profileNodes(ctx, m, wasm, runs, minTime)
				if err != nil {
					return err
				}
				res.Profile = p
				printProfile(w, p, top)
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
	cf.add(cmd, codegen.TuneWazero)
	cmd.Flags().Lookup("profile").Usage = "time every node instead (a model is compiled with the per-node entry point; a module needs mlc compile --profile)"
	cmd.Flags().IntVar(&runs, "runs", 20, "minimum number of timed runs")
	cmd.Flags().DurationVar(&minTime, "min-time", time.Second, "minimum total time of the timed runs")
	cmd.Flags().IntVar(&top, "top", 25, "with --profile: list the slowest N nodes (0: all)")
	js.add(cmd, "the timings")
	return cmd
}

// profileNodes calls mlc_profile_node for every node in order, many times,
// and returns each node's median time and the totals per op.
func profileNodes(ctx context.Context, m *host.Model, wasm []byte, runs int, minTime time.Duration) (*benchProfile, error) {
	fn := m.Export(codegen.ExportProfileNode)
	sec, err := abi.CustomSection(wasm, codegen.ProfileSection)
	if fn == nil || sec == nil || err != nil {
		return nil, usageErrorf("the module has no %s export: compile it with --profile (or give bench the .onnx)", codegen.ExportProfileNode)
	}
	var nodes []codegen.ProfileNode
	if err := json.Unmarshal(sec, &nodes); err != nil {
		return nil, modelError(fmt.Errorf("%s section: %w", codegen.ProfileSection, err))
	}
	times := make([][]time.Duration, len(nodes))
	began := time.Now()
	for n := 0; n < runs || time.Since(began) < minTime; n++ {
		for i := range nodes {
			t0 := time.Now()
			st, err := fn.Call(ctx, uint64(i))
			if err != nil {
				return nil, runError(err)
			}
			times[i] = append(times[i], time.Since(t0))
			if int32(st[0]) != 0 {
				return nil, runError(fmt.Errorf("node %s returned status %d", nodes[i].Func, int32(st[0])))
			}
		}
	}
	p := &benchProfile{Nodes: []benchNode{}, ByOp: []benchOpTime{}}
	if len(nodes) > 0 {
		p.Runs = len(times[0])
	}
	var total time.Duration
	byOp := map[string]time.Duration{}
	var ops []string
	meds := make([]time.Duration, len(nodes))
	for i, ts := range times {
		sort.Slice(ts, func(a, b int) bool { return ts[a] < ts[b] })
		meds[i] = ts[len(ts)/2]
		total += meds[i]
		op := nodes[i].Op
		if _, ok := byOp[op]; !ok {
			ops = append(ops, op)
		}
		byOp[op] += meds[i]
	}
	p.TotalMS = ms(total)
	pct := func(d time.Duration) float64 {
		if total == 0 {
			return 0
		}
		return 100 * d.Seconds() / total.Seconds()
	}
	for i, nd := range nodes {
		bn := benchNode{Func: nd.Func, Op: nd.Op, Shape: nd.Shape, MedianMS: ms(meds[i]), Percent: pct(meds[i])}
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
	return p, nil
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
}

// msString prints milliseconds as a duration rounded to 0.1 µs.
func msString(v float64) string {
	return time.Duration(v * 1e6).Round(time.Microsecond / 10).String()
}
