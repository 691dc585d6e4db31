// Command modhash compiles every ONNX test case and shared model under
// several flag sets and prints one line per module: its sha256 (or the
// compile error) and what produced it. A refactor that must not change
// code generation is checked by diffing two runs:
//
//	go run ./internal/modhash -o /tmp/before.tsv
//	... change ...
//	go run ./internal/modhash -o /tmp/after.tsv && diff /tmp/before.tsv /tmp/after.tsv
//
// It runs from the repository's root, which also holds cases of its own
// (testdata/ort). Cases are compiled the way mlc verify compiles them
// (shapes and, where needed, input values from their data sets); nothing
// is run.
package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/quant"
	"github.com/mlc-compiler/mlc/tune"
	"github.com/mlc-compiler/mlc/verify"
)

// variant is one flag set.
type variant struct {
	name   string
	models bool // only for ../shared/models (the slow ones: profile, int8)
	set    func(o *mlc.Options, dir string)
}

var variants = []variant{
	{name: "default", set: func(*mlc.Options, string) {}},
	{name: "wazero", set: func(o *mlc.Options, _ string) { o.Tune = tune.Wazero }},
	{name: "generic", set: func(o *mlc.Options, _ string) { o.Tune = tune.Generic }},
	{name: "nosimd", set: func(o *mlc.Options, _ string) { o.NoSIMD = true }},
	{name: "O0", set: func(o *mlc.Options, _ string) { o.OptLevel = 0 }},
	{name: "profile", models: true, set: func(o *mlc.Options, _ string) { o.Profile = true }},
	{name: "int8-weights", models: true, set: func(o *mlc.Options, _ string) { o.Quantize = quant.Int8Weights }},
	{name: "int8-minmax", models: true, set: func(o *mlc.Options, dir string) { int8(o, dir, quant.MinMax) }},
	{name: "int8-percentile", models: true, set: func(o *mlc.Options, dir string) { int8(o, dir, quant.Percentile) }},
	{name: "int8-mse-wazero", models: true, set: func(o *mlc.Options, dir string) { int8(o, dir, quant.MSE); o.Tune = tune.Wazero }},
	{name: "v8", set: func(o *mlc.Options, _ string) { o.Tune = tune.V8 }},
	{name: "threads2", set: func(o *mlc.Options, _ string) { o.Threads = 2 }},
	{name: "threads4", models: true, set: func(o *mlc.Options, _ string) { o.Threads = 4 }},
	{name: "relaxed", models: true, set: func(o *mlc.Options, _ string) { o.RelaxedSIMD = true }},
	{name: "threads2-wazero", models: true, set: func(o *mlc.Options, _ string) { o.Threads = 2; o.Tune = tune.Wazero }},
}

// int8 calibrates on the case's own data sets.
func int8(o *mlc.Options, dir string, m quant.Method) {
	o.Quantize, o.Calibration, o.CalibrationMethod = quant.Int8, dir, m
}

// hashRunner records the module instead of running it.
type hashRunner struct{ sum string }

var errHashed = errors.New("hashed")

func (h *hashRunner) Run(_ context.Context, wasm []byte, _ []map[string]*ir.Tensor) ([]map[string]*ir.Tensor, error) {
	h.sum = fmt.Sprintf("%x", sha256.Sum256(wasm))
	return nil, errHashed
}

type job struct {
	dir string
	v   variant
}

func main() {
	shared := flag.String("shared", "", "the shared data folder (default $MLC_SHARED or ../shared)")
	out := flag.String("o", "", "write the table here (default stdout)")
	jobs := flag.Int("j", runtime.NumCPU(), "parallel compilations")
	only := flag.String("only", "", "only cases whose path contains this")
	skipInt8 := flag.Bool("no-int8", false, "leave out the int8 variants (calibration is slow on large models)")
	flag.Parse()
	if *shared == "" {
		*shared = os.Getenv("MLC_SHARED")
	}
	if *shared == "" {
		*shared = "../shared"
	}
	cases, _ := filepath.Glob(filepath.Join(*shared, "onnx-tests", "*", "*"))
	models, _ := filepath.Glob(filepath.Join(*shared, "models", "*"))
	// The repository's own cases (ORT golden outputs for shapes the shared
	// data lacks) are cases too, under the flag sets that every case gets.
	repoCases, _ := filepath.Glob(filepath.Join("testdata", "ort", "*"))
	cases = append(cases, repoCases...)
	var work []job
	for _, group := range []struct {
		dirs    []string
		isModel bool
	}{{models, true}, {cases, false}} {
		for _, d := range group.dirs {
			if st, err := os.Stat(filepath.Join(d, "model.onnx")); err != nil || st.IsDir() {
				continue
			}
			if *only != "" && !strings.Contains(d, *only) {
				continue
			}
			for _, v := range variants {
				if v.models && !group.isModel || *skipInt8 && strings.HasPrefix(v.name, "int8") {
					continue
				}
				work = append(work, job{d, v})
			}
		}
	}
	lines := make([]string, len(work))
	var wg sync.WaitGroup
	next := make(chan int)
	for range *jobs {
		wg.Go(func() {
			for i := range next {
				lines[i] = hash(work[i], *shared)
			}
		})
	}
	for i := range work {
		next <- i
	}
	close(next)
	wg.Wait()
	sort.Strings(lines)
	text := strings.Join(lines, "\n") + "\n"
	if *out == "" {
		fmt.Print(text)
		return
	}
	if err := os.WriteFile(*out, []byte(text), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "%d modules hashed into %s\n", len(lines), *out)
}

func hash(j job, shared string) string {
	rel, err := filepath.Rel(shared, j.dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		rel = filepath.Join("repo", j.dir)
	}
	o := verify.DefaultOptions()
	j.v.set(&o.Compile, j.dir)
	h := &hashRunner{}
	o.Runner = h
	r := verify.Case(context.Background(), j.dir, o)
	what := h.sum
	if what == "" {
		msg := r.Message
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		what = r.Status + ": " + msg
	}
	return rel + "\t" + j.v.name + "\t" + what
}
