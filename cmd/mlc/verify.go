package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/verify"
)

// verifyJSON is the schema mlc.verify (docs/cli.md).
type verifyJSON struct {
	header
	Cases   []verify.CaseResult `json:"cases"`
	Summary map[string]int      `json:"summary"` // pass, fail, unsupported, error: counts
}

func verifyCmd() *cobra.Command {
	var cf compileFlags
	var rtol, atol float64
	var rt, save string
	var js jsonFlag
	var jobs int
	var seed int64
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "verify CASE_DIR|MODEL.onnx ...",
		Short: "Check models: golden-output cases (model.onnx + test_data_set_*), or a bare model against the reference interpreter",
		Long: `verify compiles and runs each argument and compares its outputs.

A folder is a golden case in the ONNX backend-test layout: model.onnx and
test_data_set_*/input_N.pb, output_N.pb. Each data set is run and every
output compared with the golden one at the case's tolerance: the
"tolerance" of the folder's meta.json ({"tolerance": {"rtol": R, "atol": A}}),
else rtol 1e-3, atol 1e-7 (the ONNX backend tests'). --rtol and --atol
replace it.

An .onnx file is checked without golden data: inputs are drawn from
--seed (floats uniform in [-1,1); integer inputs that index a Gather or
OneHot within what they index; masks and bools as ones), the reference
interpreter computes the expected outputs, and the module must match them
at rtol 1e-3, atol 1e-5 unless --rtol/--atol say otherwise. --save DIR
writes the case (model, inputs, outputs, meta.json) in the backend-test
layout, into DIR for one model and DIR/NAME for several, so that it
becomes a golden case.

A failing output's message says which --atol or --rtol would pass.
The exit code is 0 when every case passes, else that of the first case
that did not: 4 mismatch, 3 model invalid or unsupported, 5 run-time
error, 6 unreadable files.`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := verify.DefaultOptions()
			o.Seed = seed
			var err error
			if o.Compile, err = cf.options(); err != nil {
				return err
			}
			if cmd.Flags().Changed("rtol") || cmd.Flags().Changed("atol") {
				if rtol < 0 || atol < 0 {
					return usageErrorf("--rtol and --atol must not be negative")
				}
				o.Tolerance = &verify.Tolerance{RTol: rtol, ATol: atol}
			}
			models := 0
			for _, a := range args {
				if !isDir(a) {
					models++
				}
			}
			if save != "" && models != len(args) {
				return usageErrorf("--save writes generated cases: give .onnx files, not case folders")
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
						return usageErrorf("%v", err)
					}
					defer n.Close()
					runners = append(runners, n)
				}
			}
			if len(runners) == 0 {
				return usageErrorf("--runtime %q: want wazero, node or both", rt)
			}
			o.Runner, o.Also = runners[0], runners[1:]
			results := make([]verify.CaseResult, len(args))
			var wg sync.WaitGroup
			if jobs <= 0 {
				jobs = runtime.GOMAXPROCS(0)
			}
			sem := make(chan struct{}, jobs)
			var mu sync.Mutex
			w := js.text(cmd)
			var saveErr error
			for i, arg := range args {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sem <- struct{}{}
					defer func() { <-sem }()
					cctx, cancel := context.WithTimeout(ctx, timeout)
					defer cancel()
					var r verify.CaseResult
					if isDir(arg) {
						r = verify.Case(cctx, arg, o)
					} else {
						var gc *verify.GeneratedCase
						r, gc = verify.Generated(cctx, arg, o)
						if save != "" && gc != nil {
							dir := save
							if len(args) > 1 {
								dir = filepath.Join(save, strings.TrimSuffix(filepath.Base(arg), filepath.Ext(arg)))
							}
							if err := gc.Save(dir); err != nil {
								mu.Lock()
								saveErr = ioError(err)
								mu.Unlock()
							}
						}
					}
					if cctx.Err() != nil && r.Status != verify.Pass {
						r.Status, r.Stage, r.Message = verify.Error, "run", fmt.Sprintf("timed out after %s: %s", timeout, r.Message)
					}
					results[i] = r
					mu.Lock()
					defer mu.Unlock()
					printResult(w, r)
				}()
			}
			wg.Wait()
			fmt.Fprintln(w, verify.Summary(results))
			summary := map[string]int{verify.Pass: 0, verify.Fail: 0, verify.Unsupported: 0, verify.Error: 0}
			for _, r := range results {
				summary[r.Status]++
			}
			if err := js.write(cmd, verifyJSON{newHeader("mlc.verify"), results, summary}); err != nil {
				return err
			}
			if saveErr != nil {
				return saveErr
			}
			for _, r := range results {
				if r.Status != verify.Pass {
					return withCode(caseExitCode(r), fmt.Errorf("%s did not pass (%s)", r.Case, r.Status))
				}
			}
			return nil
		},
	}
	cf.add(cmd, mlc.DefaultTune)
	cmd.Flags().Float64Var(&rtol, "rtol", verify.DefaultTolerance.RTol, "relative tolerance (default: the case's meta.json, else 1e-3)")
	cmd.Flags().Float64Var(&atol, "atol", verify.DefaultTolerance.ATol, "absolute tolerance (default: the case's meta.json, else 1e-7; 1e-5 for an .onnx file)")
	cmd.Flags().StringVar(&rt, "runtime", "wazero", "where to run: wazero (in process), node (the JS shim), or both (Node must give wazero's exact bytes)")
	cmd.Flags().StringVar(&save, "save", "", "with .onnx arguments: write each generated case to DIR (DIR/NAME for several models)")
	cmd.Flags().Int64Var(&seed, "seed", 1, "the seed of the inputs drawn for .onnx arguments")
	js.add(cmd, "the results")
	cmd.Flags().IntVarP(&jobs, "jobs", "j", 0, "cases to run in parallel (0: as many as CPUs)")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "time limit per case")
	completeValues(cmd, "runtime", "wazero", "node", "both")
	return cmd
}

// caseExitCode is the exit code of a case that did not pass.
func caseExitCode(r verify.CaseResult) int {
	switch {
	case r.Status == verify.Fail:
		return exitMismatch
	case r.Status == verify.Unsupported:
		return exitModel
	}
	switch r.Stage {
	case "read":
		return exitIO
	case "compile":
		return exitModel
	case "run":
		return exitRun
	}
	return exitInternal
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

func printResult(w io.Writer, r verify.CaseResult) {
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
