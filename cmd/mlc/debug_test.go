package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/opt"
)

func compileTiny(t *testing.T, d debugFlags, stderr *bytes.Buffer) (*mlc.Result, error) {
	t.Helper()
	dbg, err := d.debug(stderr)
	if err != nil {
		return nil, err
	}
	o := mlc.DefaultOptions()
	o.InputShapes = map[string][]int{"image": {1, 1, 8, 8}}
	o.Debug = dbg
	return mlc.CompileFile(filepath.Join(testenv.Root(), "testdata", "tiny_cnn", "model.onnx"), o)
}

func TestDumpAfter(t *testing.T) {
	var stderr bytes.Buffer
	if _, err := compileTiny(t, debugFlags{dumpAfter: []string{"fuse", "plan"}}, &stderr); err != nil {
		t.Fatal(err)
	}
	out := stderr.String()
	if strings.Count(out, "=== IR after ") != 2 || !strings.Contains(out, "=== IR after fuse ===\ngraph tiny_cnn(") ||
		!strings.Contains(out, "=== IR after plan ===\n# memory ") || !strings.Contains(out, "Conv+Relu [FusedConv]") {
		t.Errorf("stderr:\n%s", out)
	}

	dir := t.TempDir()
	stderr.Reset()
	if _, err := compileTiny(t, debugFlags{dumpAfter: []string{"all"}, dumpDir: dir, disable: []string{"chain"}}, &stderr); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	// One file before the passes, one after each pass but the disabled
	// chain, and the plan's, numbered in opt.Passes' order.
	chain := slices.IndexFunc(opt.Passes, func(p opt.Pass) bool { return p.Name == "chain" }) + 1
	planFile := fmt.Sprintf("%02d-plan.txt", len(opt.Passes)+1)
	if len(names) != len(opt.Passes)+1 || !slices.Contains(names, "00-start.txt") || !slices.Contains(names, planFile) ||
		slices.Contains(names, fmt.Sprintf("%02d-chain.txt", chain)) || stderr.Len() != 0 {
		t.Errorf("files %v (chain disabled), stderr %q", names, stderr.String())
	}
	plan, err := os.ReadFile(filepath.Join(dir, planFile))
	if err != nil || !strings.Contains(string(plan), " @") {
		t.Errorf("%s has no addresses: %v\n%s", planFile, err, plan)
	}
}

func TestDebugFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		d    debugFlags
		want string
	}{
		{debugFlags{dumpDir: "x"}, "--dump-dir needs --dump-after"},
		{debugFlags{dumpAfter: []string{"fusion"}}, `--dump-after "fusion": want all or one of start, fold,`},
		{debugFlags{disable: []string{"fold"}}, `cannot disable pass "fold"`},
	} {
		_, err := compileTiny(t, tc.d, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.d, err, tc.want)
		}
	}
}

// TestDisabledPassInFlags: a module built with a pass disabled says so in
// its metadata, since its code differs.
func TestDisabledPassInFlags(t *testing.T) {
	res, err := compileTiny(t, debugFlags{disable: []string{"fuse", "chain"}}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Meta.Options, "disable-pass=chain,fuse") {
		t.Errorf("flags %v", res.Meta.Options)
	}
}
