package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
)

func benchCmd() *cobra.Command {
	var runs int
	var minTime time.Duration
	cmd := &cobra.Command{
		Use:   "bench MODULE.wasm",
		Short: "Measure a module's latency on wazero: cold start, median and p90 of repeated runs",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			wasm, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			ctx := context.Background()
			start := time.Now()
			rt, err := host.NewRuntime(ctx, host.Config{})
			if err != nil {
				return err
			}
			defer rt.Close(ctx)
			m, err := rt.Load(ctx, wasm)
			if err != nil {
				return err
			}
			feeds := map[string]*ir.Tensor{}
			for _, t := range m.Meta.Inputs {
				dt, _ := ir.ParseDType(t.DType)
				feeds[t.Name] = ir.NewTensor(dt, ir.Shape(t.Shape)) // zeros: timing does not depend on values
			}
			if _, err := m.Run(ctx, feeds); err != nil {
				return err
			}
			cold := time.Since(start)
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
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s on wazero: cold start %s, %d runs: median %s, p90 %s, min %s\n", args[0], cold.Round(time.Microsecond), len(times),
				times[len(times)/2].Round(time.Microsecond), times[len(times)*9/10].Round(time.Microsecond), times[0].Round(time.Microsecond))
			return nil
		},
	}
	cmd.Flags().IntVar(&runs, "runs", 20, "minimum number of timed runs")
	cmd.Flags().DurationVar(&minTime, "min-time", time.Second, "minimum total time of the timed runs")
	return cmd
}
