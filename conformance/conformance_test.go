// Package conformance runs the ONNX backend test suites (node, simple,
// pytorch-converted, pytorch-operator) through the same path as mlc verify
// on wazero, with ONNX's tolerances. passing.txt lists the cases known to
// pass: any of them failing is a regression. With MLC_WRITE_DOCS=1 the test
// also rewrites docs/conformance.md and passing.txt.
package conformance

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/verify"
)

var suites = []string{"node", "pytorch-converted", "pytorch-operator", "simple"}

// Out of scope for a static inference compiler (docs/conformance.md says why).
var (
	trainingOps = []string{"Adagrad", "Adam", "Momentum", "Gradient"}
	randomOps   = []string{"Bernoulli", "RandomUniform", "RandomUniformLike", "RandomNormal", "RandomNormalLike", "Multinomial"}
	stringOps   = []string{"StringConcat", "StringNormalizer", "StringSplit", "RegexFullMatch", "ImageDecoder"}
	outDomains  = []string{"ai.onnx.ml", "ai.onnx.preview.training"}
)

type caseInfo struct {
	suite, name, dir string
	ops              []string
	outOfScope       string
	result           verify.CaseResult
}

// scope decodes the model and says why a case is out of scope, or "".
func scope(dir string) ([]string, string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return nil, "", err
	}
	mp, err := frontend.Decode(data)
	if err != nil {
		return nil, "", err
	}
	seen := map[string]bool{}
	reason := ""
	frontend.EachNode(mp.Graph, func(n *onnxpb.NodeProto) {
		op := n.GetOpType()
		seen[op] = true
		switch {
		case slices.Contains(outDomains, n.GetDomain()):
			reason = "domain " + n.GetDomain()
		case slices.Contains(trainingOps, op):
			reason = "training op " + op
		case slices.Contains(randomOps, op):
			reason = "random op " + op
		case slices.Contains(stringOps, op):
			reason = "string op " + op
		}
	})
	for _, vs := range [][]*onnxpb.ValueInfoProto{mp.Graph.Input, mp.Graph.Output} {
		for _, vi := range vs {
			if t := vi.GetType(); t != nil && t.GetTensorType() == nil && t.Value != nil {
				reason = "sequence, optional or map input/output"
			}
		}
	}
	ops := make([]string, 0, len(seen))
	for op := range seen {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	return ops, reason, nil
}

func readList(path string) map[string]bool {
	out := map[string]bool{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if line := strings.TrimSpace(s.Text()); line != "" && !strings.HasPrefix(line, "#") {
			out[line] = true
		}
	}
	return out
}

func TestConformance(t *testing.T) {
	shared := testenv.Shared(t)
	var cases []*caseInfo
	for _, suite := range suites {
		dirs, _ := filepath.Glob(filepath.Join(shared, "onnx-tests", suite, "*"))
		sort.Strings(dirs)
		for _, d := range dirs {
			if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
				continue
			}
			cases = append(cases, &caseInfo{suite: suite, name: filepath.Base(d), dir: d})
		}
	}
	if len(cases) == 0 {
		t.Fatal("no cases found")
	}
	ctx := context.Background()
	runner, err := verify.NewWazeroRunner(ctx)
	if err != nil {
		t.Fatal(err)
	}
	opts := verify.DefaultOptions()
	opts.Runner = runner
	validator := testenv.WasmValidate(t)
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	start := time.Now()
	for _, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ops, reason, err := scope(c.dir)
			c.ops = ops
			if err != nil {
				c.result = verify.CaseResult{Case: c.dir, Status: verify.Error, Message: err.Error()}
				return
			}
			if c.outOfScope = reason; reason != "" {
				return
			}
			cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			defer cancel()
			c.result = verify.Case(cctx, c.dir, opts)
			if c.result.Wasm != nil {
				// Every module must validate, and compiling again must give
				// the same bytes.
				if msg := validate(validator, c.result.Wasm); msg != "" {
					c.result.Status, c.result.Message = verify.Error, "wasm-validate: "+msg
				} else if again := verify.Case(cctx, c.dir, opts); !bytes.Equal(again.Wasm, c.result.Wasm) {
					c.result.Status, c.result.Message = verify.Error, "compiling twice gave different modules"
				}
			}
			c.result.Wasm = nil
		}()
	}
	wg.Wait()
	t.Logf("ran %d cases in %s", len(cases), time.Since(start).Round(time.Second))

	passing := readList("passing.txt")
	var regressions, newPasses []string
	for _, c := range cases {
		key := c.suite + "/" + c.name
		pass := c.outOfScope == "" && c.result.Status == verify.Pass
		if passing[key] && !pass {
			regressions = append(regressions, fmt.Sprintf("%s: %s %s", key, c.result.Status, firstLine(c.result.Message)))
		}
		if pass && !passing[key] {
			newPasses = append(newPasses, key)
		}
	}
	report := writeReport(cases)
	t.Log(report.totals)
	if os.Getenv("MLC_WRITE_DOCS") != "" {
		if err := os.WriteFile(filepath.Join(testenv.Root(), "docs", "conformance.md"), []byte(report.markdown), 0o644); err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, c := range cases {
			if c.outOfScope == "" && c.result.Status == verify.Pass {
				keys = append(keys, c.suite+"/"+c.name)
			}
		}
		content := "# ONNX backend cases that pass; maintained by MLC_WRITE_DOCS=1 go test ./conformance\n" + strings.Join(keys, "\n") + "\n"
		if err := os.WriteFile("passing.txt", []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if len(newPasses) > 0 {
		t.Logf("%d cases pass that passing.txt does not list (run MLC_WRITE_DOCS=1 go test ./conformance to record them): %s", len(newPasses), strings.Join(newPasses[:min(len(newPasses), 20)], ", "))
	}
	if len(regressions) > 0 {
		t.Errorf("%d regressions:\n%s", len(regressions), strings.Join(regressions, "\n"))
	}
}

// validate runs wasm-validate on a module; it returns "" or the complaint.
func validate(tool string, wasm []byte) string {
	out, err := testenv.RunValidate(tool, wasm)
	if err == nil {
		return ""
	}
	if len(out) == 0 {
		return err.Error() // the tool did not run
	}
	return firstLine(string(out))
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

type report struct{ totals, markdown string }

func writeReport(cases []*caseInfo) report {
	var b strings.Builder
	type count struct{ pass, total, out int }
	perSuite := map[string]*count{}
	perOp := map[string]*count{}
	allIn, allPass := 0, 0
	for _, c := range cases {
		s := perSuite[c.suite]
		if s == nil {
			s = &count{}
			perSuite[c.suite] = s
		}
		if c.outOfScope != "" {
			s.out++
			continue
		}
		s.total++
		allIn++
		pass := c.result.Status == verify.Pass
		if pass {
			s.pass++
			allPass++
		}
		for _, op := range c.ops {
			o := perOp[op]
			if o == nil {
				o = &count{}
				perOp[op] = o
			}
			o.total++
			if pass {
				o.pass++
			}
		}
	}
	pct := func(p, t int) string {
		if t == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f%%", 100*float64(p)/float64(t))
	}
	totals := fmt.Sprintf("in scope: %d of %d pass (%s)", allPass, allIn, pct(allPass, allIn))
	fmt.Fprintf(&b, "# ONNX backend conformance\n\n")
	fmt.Fprintf(&b, "Generated by `MLC_WRITE_DOCS=1 go test ./conformance` from the ONNX backend test data in\n")
	fmt.Fprintf(&b, "`../shared/onnx-tests` (ONNX 1.23.0), each case compiled and run on wazero exactly as\n")
	fmt.Fprintf(&b, "`mlc verify` does, with ONNX's tolerances (rtol 1e-3, atol 1e-7; integers exact).\n\n")
	fmt.Fprintf(&b, "**%s.**\n\n", totals)
	fmt.Fprintf(&b, "## Out of scope\n\nA static inference compiler does not run training ops (Adagrad, Adam, Momentum, Gradient,\n")
	fmt.Fprintf(&b, "the ai.onnx.preview.training domain), random ops (Bernoulli, RandomUniform(Like),\n")
	fmt.Fprintf(&b, "RandomNormal(Like), Multinomial: their outputs cannot be compared), string ops (StringConcat,\n")
	fmt.Fprintf(&b, "StringNormalizer, StringSplit, RegexFullMatch) and ImageDecoder, the ai.onnx.ml domain, or\n")
	fmt.Fprintf(&b, "cases whose graph inputs or outputs are sequences, optionals or maps. They are counted apart.\n\n")
	fmt.Fprintf(&b, "## Per suite\n\n| suite | pass | in scope | rate | out of scope |\n|---|---:|---:|---:|---:|\n")
	for _, s := range suites {
		c := perSuite[s]
		if c == nil {
			continue
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %d |\n", s, c.pass, c.total, pct(c.pass, c.total), c.out)
	}
	fmt.Fprintf(&b, "| **all** | %d | %d | %s | |\n\n", allPass, allIn, pct(allPass, allIn))
	fmt.Fprintf(&b, "## Per op type\n\nA case counts for every op type in its graph (subgraphs included).\n\n| op | pass | cases |\n|---|---:|---:|\n")
	ops := make([]string, 0, len(perOp))
	for op := range perOp {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		fmt.Fprintf(&b, "| %s | %d | %d |\n", op, perOp[op].pass, perOp[op].total)
	}
	fmt.Fprintf(&b, "\n## Cases that do not pass\n\n| case | status | reason |\n|---|---|---|\n")
	for _, c := range cases {
		if c.outOfScope != "" || c.result.Status == verify.Pass {
			continue
		}
		msg := strings.ReplaceAll(firstLine(c.result.Message), "|", "\\|")
		fmt.Fprintf(&b, "| %s/%s | %s | %s |\n", c.suite, c.name, c.result.Status, msg)
	}
	return report{totals: totals, markdown: b.String()}
}

// TestEnginesAgree runs a quarter of the passing cases on both wazero and
// Node (through the JS shim): their outputs must be the same bytes (NaN
// payloads aside), since Wasm arithmetic is deterministic.
func TestEnginesAgree(t *testing.T) {
	shared := testenv.Shared(t)
	testenv.Node(t)
	ctx := context.Background()
	wz, err := verify.NewWazeroRunner(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nr, err := verify.NewNodeRunner()
	if err != nil {
		t.Fatal(err)
	}
	defer nr.Close()
	opts := verify.DefaultOptions()
	opts.Runner, opts.Also = wz, []verify.Runner{nr}
	passing := readList("passing.txt")
	var keys []string
	for k := range passing {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var mu sync.Mutex
	checked := 0
	for i, key := range keys {
		if i%4 != 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r := verify.Case(ctx, filepath.Join(shared, "onnx-tests", key), opts)
			mu.Lock()
			defer mu.Unlock()
			checked++
			if r.Status != verify.Pass {
				t.Errorf("%s: %s: %s", key, r.Status, firstLine(r.Message))
			}
		}()
	}
	wg.Wait()
	t.Logf("%d cases agree on wazero and Node", checked)
}
