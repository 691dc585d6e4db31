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
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
)

func benchCmd() *cobra.Command {
	var runs, top int
	var asJSON bool
	var stat string
	var minTime time.Duration
	var cf compileFlags
	cmd := &cobra.Command{
		Use:   "bench MODULE.wasm | MODEL.onnx | --profile --json MODULE.wasm...",
		Short: "Measure latency on wazero: cold start, median and p90 of repeated runs; --profile: time per node",
		Long: `bench loads a module (or compiles a model first) on wazero and times mlc_run.
With --profile it times every node function alone through the profiling
build's mlc_profile_node export: give a model (it is compiled with
--profile) or a module compiled with mlc compile --profile. A model is
compiled with the compile flags given (the default module unless --tune
says otherwise). With --profile --json, several profiling modules (A/B
variants) are timed in one process, their passes over the nodes
alternating, one JSON line each.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				if !cf.profile || !asJSON {
					return fmt.Errorf("several modules need --profile --json")
				}
				return profileAlternating(context.Background(), cmd.OutOrStdout(), args, runs, minTime, stat == "min")
			}
			wasm, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			if !isWasm(wasm) {
				o, err := cf.options()
				if err != nil {
					return err
				}

				res, err := mlc.CompileFile(args[0], o)
				if err != nil {
					return err
				}
				wasm = res.Wasm
			}
			ctx := context.Background()
			start := time.Now()
			m, closeRT, err := loadModule(ctx, wasm)
			if err != nil {
				return err
			}
			defer closeRT()
			feeds := map[string]*ir.Tensor{}
			for _, t := range m.Meta.Inputs {
				dt, _ := ir.ParseDType(t.DType)
				feeds[t.Name] = ir.NewTensor(dt, ir.Shape(t.Shape)) // zeros: timing does not depend on values
			}
			if _, err := m.Run(ctx, feeds); err != nil {
				return err
			}
			cold := time.Since(start)
			w := cmd.OutOrStdout()
			if cf.profile {
				return profileNodes(ctx, w, m, wasm, runs, minTime, top, asJSON, stat == "min")
			}
			var times []time.Duration
			began := time.Now()
			for len(times) < runs || time.Since(began) < minTime {
				t0 := time.Now()
				if err := m.Invoke(ctx); err != nil {
					return err
				}
				times = append(times, time.Since(t0))
			}
			sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
			fmt.Fprintf(w, "%s on wazero: cold start %s, %d runs: median %s, p90 %s, min %s\n", args[0], cold.Round(time.Microsecond), len(times),
				times[len(times)/2].Round(time.Microsecond), times[len(times)*9/10].Round(time.Microsecond), times[0].Round(time.Microsecond))
			return nil
		},
	}
	cf.add(cmd)
	cmd.Flags().IntVar(&runs, "runs", 20, "minimum number of timed runs")
	cmd.Flags().DurationVar(&minTime, "min-time", time.Second, "minimum total time of the timed runs")
	cmd.Flags().IntVar(&top, "top", 25, "with --profile: list the slowest N nodes (0: all)")
	cmd.Flags().StringVar(&stat, "stat", "median", "with --profile: each node's median or min time (min is steadier on a busy machine)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "with --profile: print the mlc.profile entries with each node's median seconds as JSON (for bench/profile.mjs)")
	return cmd
}

// profileNodes calls mlc_profile_node for every node in order, many times,
// and prints each node's median time, the slowest first, then totals per op.
func profileNodes(ctx context.Context, w io.Writer, m *host.Model, wasm []byte, runs int, minTime time.Duration, top int, asJSON, useMin bool) error {
	fn := m.Export(codegen.ExportProfileNode)
	sec, err := abi.CustomSection(wasm, codegen.ProfileSection)
	if fn == nil || sec == nil || err != nil {
		return fmt.Errorf("the module has no %s export: compile it with --profile (or give bench the .onnx)", codegen.ExportProfileNode)
	}
	var nodes []codegen.ProfileNode
	if err := json.Unmarshal(sec, &nodes); err != nil {
		return fmt.Errorf("%s section: %w", codegen.ProfileSection, err)
	}
	times := make([][]time.Duration, len(nodes))
	began := time.Now()
	for n := 0; n < runs || time.Since(began) < minTime; n++ {
		for i := range nodes {
			t0 := time.Now()
			st, err := fn.Call(ctx, uint64(i))
			if err != nil {
				return err
			}
			times[i] = append(times[i], time.Since(t0))
			if int32(st[0]) != 0 {
				return fmt.Errorf("node %s returned status %d", nodes[i].Func, int32(st[0]))
			}
		}
	}
	type row struct {
		i   int
		med time.Duration
	}
	rows := make([]row, len(nodes))
	var total time.Duration
	byOp := map[string]time.Duration{}
	var ops []string
	for i, ts := range times {
		sort.Slice(ts, func(a, b int) bool { return ts[a] < ts[b] })
		rows[i] = row{i, ts[len(ts)/2]}
		if useMin {
			rows[i].med = ts[0]
		}
		total += rows[i].med
		op := nodes[i].Op
		if _, ok := byOp[op]; !ok {
			ops = append(ops, op)
		}
		byOp[op] += rows[i].med
	}
	if asJSON {
		type timed struct {
			codegen.ProfileNode
			Seconds float64 `json:"seconds"`
		}
		out := make([]timed, len(nodes))
		for i, r := range rows {
			out[i] = timed{nodes[i], r.med.Seconds()}
		}
		return json.NewEncoder(w).Encode(out)
	}
	sort.SliceStable(rows, func(a, b int) bool { return rows[a].med > rows[b].med })
	what := "medians"
	if useMin {
		what = "minima"
	}
	fmt.Fprintf(w, "%d nodes, %d runs each on wazero; sum of node %s %s\n", len(nodes), len(times[0]), what, total.Round(time.Microsecond))
	fmt.Fprintf(w, "%10s %6s %8s  %-24s %s\n", "median", "%", "GFLOP/s", "shape", "node")
	for k, r := range rows {
		if top > 0 && k >= top {
			fmt.Fprintf(w, "... %d more nodes\n", len(rows)-top)
			break
		}
		nd := nodes[r.i]
		gf := ""
		if nd.FLOPs > 0 && r.med > 0 {
			gf = fmt.Sprintf("%.1f", float64(nd.FLOPs)/r.med.Seconds()/1e9)
		}
		fmt.Fprintf(w, "%10s %5.1f%% %8s  %-24s %s\n", r.med.Round(time.Microsecond/10), 100*r.med.Seconds()/total.Seconds(), gf, shapeString(nd.Shape), nd.Func)
	}
	sort.SliceStable(ops, func(a, b int) bool { return byOp[ops[a]] > byOp[ops[b]] })
	var parts []string
	for _, op := range ops {
		parts = append(parts, fmt.Sprintf("%s %s (%.0f%%)", op, byOp[op].Round(time.Microsecond), 100*byOp[op].Seconds()/total.Seconds()))
	}
	fmt.Fprintf(w, "by op: %s\n", strings.Join(parts, ", "))
	med := make([]time.Duration, len(nodes))
	for _, r := range rows {
		med[r.i] = r.med
	}
	printClasses(w, nodes, med, total)
	return nil
}

// ceilingGFLOPs is the single-thread SIMD128 f32 GEMM ceiling of the
// project's machine (../shared/notes/wasm-simd-performance.md): a class's
// share of it says how far its kernel is from what a multiply-add loop can
// do. Winograd counts the direct arithmetic, so it can exceed 100%.
const ceilingGFLOPs = 33.0

// printClasses sums the node medians per layer class (codegen.LayerClass),
// the slowest class first, with GFLOP/s over the classes that compute.
func printClasses(w io.Writer, nodes []codegen.ProfileNode, med []time.Duration, total time.Duration) {
	type class struct {
		name  string
		n     int
		t     time.Duration
		flops int64
	}
	idx := map[string]int{}
	var cs []*class
	for i, nd := range nodes {
		name := nd.Class
		if name == "" {
			name = nd.Op
		}
		j, ok := idx[name]
		if !ok {
			j = len(cs)
			idx[name] = j
			cs = append(cs, &class{name: name})
		}
		cs[j].n++
		cs[j].t += med[i]
		cs[j].flops += nd.FLOPs
	}
	sort.SliceStable(cs, func(a, b int) bool { return cs[a].t > cs[b].t })
	fmt.Fprintf(w, "%-16s %5s %10s %6s %8s %6s\n", "class", "nodes", "time", "%", "GFLOP/s", "ceil%")
	for _, c := range cs {
		gf, pc := "", ""
		if c.flops > 0 && c.t > 0 {
			g := float64(c.flops) / c.t.Seconds() / 1e9
			gf, pc = fmt.Sprintf("%.1f", g), fmt.Sprintf("%.0f%%", 100*g/ceilingGFLOPs)
		}
		fmt.Fprintf(w, "%-16s %5d %10s %5.1f%% %8s %6s\n", c.name, c.n, c.t.Round(time.Microsecond), 100*c.t.Seconds()/total.Seconds(), gf, pc)
	}
}

func shapeString(s []int) string {
	d := make([]string, len(s))
	for i, v := range s {
		d[i] = fmt.Sprint(v)
	}
	return "[" + strings.Join(d, ",") + "]"
}

// profileAlternating times every node of several profiling modules,
// alternating whole passes between them so that a busy machine's load
// falls on all alike, and prints each module's entries with their seconds
// (minimum or median) as one JSON line.
func profileAlternating(ctx context.Context, w io.Writer, paths []string, runs int, minTime time.Duration, useMin bool) error {
	type subject struct {
		fn    api.Function
		nodes []codegen.ProfileNode
		times [][]time.Duration
	}
	var subs []*subject
	for _, p := range paths {
		wasm, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		m, closeRT, err := loadModule(ctx, wasm)
		if err != nil {
			return err
		}
		defer closeRT()
		feeds := map[string]*ir.Tensor{}
		for _, t := range m.Meta.Inputs {
			dt, _ := ir.ParseDType(t.DType)
			feeds[t.Name] = ir.NewTensor(dt, ir.Shape(t.Shape))
		}
		if _, err := m.Run(ctx, feeds); err != nil {
			return err
		}
		s := &subject{fn: m.Export(codegen.ExportProfileNode)}
		sec, err := abi.CustomSection(wasm, codegen.ProfileSection)
		if s.fn == nil || sec == nil || err != nil {
			return fmt.Errorf("%s has no %s export: compile it with --profile", p, codegen.ExportProfileNode)
		}
		if err := json.Unmarshal(sec, &s.nodes); err != nil {
			return fmt.Errorf("%s: %s section: %w", p, codegen.ProfileSection, err)
		}
		s.times = make([][]time.Duration, len(s.nodes))
		subs = append(subs, s)
	}
	began := time.Now()
	for n := 0; n < runs || time.Since(began) < minTime*time.Duration(len(subs)); n++ {
		for _, s := range subs {
			for i := range s.nodes {
				t0 := time.Now()
				st, err := s.fn.Call(ctx, uint64(i))
				if err != nil {
					return err
				}
				s.times[i] = append(s.times[i], time.Since(t0))
				if int32(st[0]) != 0 {
					return fmt.Errorf("node %s returned status %d", s.nodes[i].Func, int32(st[0]))
				}
			}
		}
	}
	type timed struct {
		codegen.ProfileNode
		Seconds float64 `json:"seconds"`
	}
	enc := json.NewEncoder(w)
	for _, s := range subs {
		out := make([]timed, len(s.nodes))
		for i, ts := range s.times {
			sort.Slice(ts, func(a, b int) bool { return ts[a] < ts[b] })
			t := ts[len(ts)/2]
			if useMin {
				t = ts[0]
			}
			out[i] = timed{s.nodes[i], t.Seconds()}
		}
		if err := enc.Encode(out); err != nil {
			return err
		}
	}
	return nil
}
