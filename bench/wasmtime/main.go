// Command wasmtime-bench times an mlc module on wasmtime (Cranelift), the
// third engine next to V8 (bench/) and wazero (mlc bench):
//
//	go run . [-profile] [-runs N] [-min-time D] [-stat min|median] MODULE.wasm
//
// Without -profile it prints the median and minimum of mlc_run; with
// -profile (a module from mlc compile --profile) it times each node through
// mlc_profile_node and prints the mlc.profile entries with their seconds
// as JSON, like mlc bench --profile --json, for bench/profile.mjs. It is a
// module of its own so that the compiler's module does not need cgo.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

func main() {
	profile := flag.Bool("profile", false, "time each node (a --profile module)")
	runs := flag.Int("runs", 10, "minimum timed runs")
	minTime := flag.Duration("min-time", time.Second, "minimum total time")
	stat := flag.String("stat", "min", "per node: min or median")
	flag.Parse()
	if err := run(flag.Arg(0), *profile, *runs, *minTime, *stat); err != nil {
		fmt.Fprintln(os.Stderr, "wasmtime-bench:", err)
		os.Exit(1)
	}
}

func run(path string, profile bool, runs int, minTime time.Duration, stat string) error {
	wasm, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	engine := wasmtime.NewEngine()
	store := wasmtime.NewStore(engine)
	mod, err := wasmtime.NewModule(engine, wasm)
	if err != nil {
		return err
	}
	linker := wasmtime.NewLinker(engine)
	// mlc_run never calls WASI; _start is not run here.
	for _, imp := range mod.Imports() {
		ft := imp.Type().FuncType()
		if ft == nil {
			continue
		}
		name := ""
		if imp.Name() != nil {
			name = *imp.Name()
		}
		fn := wasmtime.NewFunc(store, ft, func(*wasmtime.Caller, []wasmtime.Val) ([]wasmtime.Val, *wasmtime.Trap) {
			return nil, wasmtime.NewTrap("WASI called outside _start")
		})
		if err := linker.Define(store, imp.Module(), name, fn); err != nil {
			return err
		}
	}
	inst, err := linker.Instantiate(store, mod)
	if err != nil {
		return err
	}
	call := func(name string, args ...interface{}) (int32, error) {
		f := inst.GetFunc(store, name)
		if f == nil {
			return 0, fmt.Errorf("no export %s", name)
		}
		v, err := f.Call(store, args...)
		if err != nil {
			return 0, err
		}
		return v.(int32), nil
	}
	// zero inputs: timing does not depend on values; the first run also
	// runs the once-nodes
	if st, err := call("mlc_run"); err != nil || st != 0 {
		return fmt.Errorf("mlc_run: %d %v", st, err)
	}
	if !profile {
		var ts []time.Duration
		began := time.Now()
		for len(ts) < runs || time.Since(began) < minTime {
			t0 := time.Now()
			if _, err := call("mlc_run"); err != nil {
				return err
			}
			ts = append(ts, time.Since(t0))
		}
		sort.Slice(ts, func(a, b int) bool { return ts[a] < ts[b] })
		fmt.Printf("%s on wasmtime: %d runs: median %s, min %s\n", path, len(ts), ts[len(ts)/2].Round(time.Microsecond), ts[0].Round(time.Microsecond))
		return nil
	}
	var sec []byte
	for _, s := range customSections(wasm) {
		if s.name == "mlc.profile" {
			sec = s.data
		}
	}
	var nodes []map[string]any
	if err := json.Unmarshal(sec, &nodes); err != nil || sec == nil {
		return fmt.Errorf("mlc.profile section: %v", err)
	}
	times := make([][]time.Duration, len(nodes))
	began := time.Now()
	for n := 0; n < runs || time.Since(began) < minTime; n++ {
		for i := range nodes {
			t0 := time.Now()
			st, err := call("mlc_profile_node", int32(i))
			if err != nil || st != 0 {
				return fmt.Errorf("node %d: %d %v", i, st, err)
			}
			times[i] = append(times[i], time.Since(t0))
		}
	}
	for i, ts := range times {
		sort.Slice(ts, func(a, b int) bool { return ts[a] < ts[b] })
		t := ts[0]
		if stat == "median" {
			t = ts[len(ts)/2]
		}
		nodes[i]["seconds"] = t.Seconds()
	}
	return json.NewEncoder(os.Stdout).Encode(nodes)
}

type section struct {
	name string
	data []byte
}

// customSections lists a module's custom sections.
func customSections(b []byte) []section {
	var out []section
	p := 8
	u32 := func() int {
		v, s := 0, 0
		for {
			c := b[p]
			p++
			v |= int(c&0x7f) << s
			if c < 0x80 {
				return v
			}
			s += 7
		}
	}
	for p < len(b) {
		id := b[p]
		p++
		size := u32()
		end := p + size
		if id == 0 {
			n := u32()
			out = append(out, section{string(b[p : p+n]), b[p+n : end]})
		}
		p = end
	}
	return out
}
