package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlc-compiler/mlc/verify"
)

func verifyCmd() *cobra.Command {
	var cf compileFlags
	var rtol, atol float64
	var rt, jsonOut string
	var jobs int
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "verify CASE_DIR ...",
		Short: "Compile and run golden-output cases (model.onnx + test_data_set_*) and compare",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := verify.DefaultOptions()
			if cmd.Flags().Changed("rtol") || cmd.Flags().Changed("atol") {
				o.Tolerance = &verify.Tolerance{RTol: rtol, ATol: atol}
			}
			var err error
			if o.Compile, err = cf.options(); err != nil {
				return err
			}
			ctx := context.Background()
			// --runtime both compares with the goldens on wazero and
			// requires Node's outputs to be the same bytes.
			var runners []verify.Runner
			for _, name := range map[string][]string{"wazero": {"wazero"}, "node": {"node"}, "both": {"wazero", "node"}}[rt] {
				switch name {
				case "wazero":
					w, err := verify.NewWazeroRunner(ctx)
					if err != nil {
						return err
					}
					runners = append(runners, w)
				case "node":
					n, err := verify.NewNodeRunner()
					if err != nil {
						return err
					}
					defer n.Close()
					runners = append(runners, n)
				}
			}
			if len(runners) == 0 {
				return fmt.Errorf("--runtime %q: want wazero, node or both", rt)
			}
			o.Runner, o.Also = runners[0], runners[1:]
			results := make([]verify.CaseResult, len(args))
			var wg sync.WaitGroup
			sem := make(chan struct{}, max(jobs, 1))
			var mu sync.Mutex
			w := cmd.OutOrStdout()
			for i, dir := range args {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sem <- struct{}{}
					defer func() { <-sem }()
					cctx, cancel := context.WithTimeout(ctx, timeout)
					defer cancel()
					r := verify.Case(cctx, dir, o)
					if cctx.Err() != nil && r.Status != verify.Pass {
						r.Status, r.Message = verify.Error, fmt.Sprintf("timed out after %s: %s", timeout, r.Message)
					}
					results[i] = r
					mu.Lock()
					defer mu.Unlock()
					printResult(w, r)
				}()
			}
			wg.Wait()
			fmt.Fprintln(w, verify.Summary(results))
			if jsonOut != "" {
				b, err := json.MarshalIndent(struct {
					Cases []verify.CaseResult `json:"cases"`
				}{results}, "", " ")
				if err != nil {
					return err
				}
				if err := os.WriteFile(jsonOut, b, 0o644); err != nil {
					return err
				}
			}
			for _, r := range results {
				if r.Status != verify.Pass {
					os.Exit(1)
				}
			}
			return nil
		},
	}
	cf.add(cmd)
	cmd.Flags().Float64Var(&rtol, "rtol", 1e-3, "relative tolerance")
	cmd.Flags().Float64Var(&atol, "atol", 1e-7, "absolute tolerance")
	cmd.Flags().StringVar(&rt, "runtime", "wazero", "where to run: wazero (in process), node (the JS shim), or both (Node must give wazero's exact bytes)")
	cmd.Flags().StringVar(&jsonOut, "json", "", "write the results as JSON to this file")
	cmd.Flags().IntVarP(&jobs, "jobs", "j", runtime.GOMAXPROCS(0), "cases to run in parallel")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "time limit per case")
	return cmd
}

func printResult(w interface{ Write([]byte) (int, error) }, r verify.CaseResult) {
	errs := ""
	for _, o := range r.Outputs {
		errs += fmt.Sprintf(" %s: max abs %.3g, max rel %.3g;", o.Name, o.MaxAbsErr, o.MaxRelErr)
	}
	switch r.Status {
	case verify.Pass:
		fmt.Fprintf(w, "PASS %s%s\n", r.Case, errs)
	default:
		fmt.Fprintf(w, "%s %s: %s\n", map[string]string{verify.Fail: "FAIL", verify.Unsupported: "UNSUPPORTED", verify.Error: "ERROR"}[r.Status], r.Case, r.Message)
	}
}
