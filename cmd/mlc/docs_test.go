package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/npy"
)

// docs/cli.md holds, between markers, the --help output of every command
// and the exit-code table (this test rewrites them with MLC_WRITE_DOCS=1),
// and one example of every JSON schema, whose fields must be exactly the
// fields the commands write. So the document cannot drift from the CLI.

var docPath = filepath.Join(testenv.Root(), "docs", "cli.md")

// blockRe matches a generated block: <!-- begin NAME --> ... <!-- end NAME -->.
func blockRe(name string) *regexp.Regexp {
	return regexp.MustCompile(`(?s)(<!-- begin ` + regexp.QuoteMeta(name) + ` -->\n)(.*?)(<!-- end ` + regexp.QuoteMeta(name) + ` -->)`)
}

func commandPaths() [][]string {
	paths := [][]string{{}}
	for _, c := range newRoot().Commands() {
		if c.Name() != "help" && c.Name() != "completion" && !c.Hidden {
			paths = append(paths, []string{c.Name()})
		}
	}
	return paths
}

func exitTable() string {
	var b strings.Builder
	b.WriteString("| code | name | meaning |\n|---:|---|---|\n")
	for _, c := range exitCodes {
		fmt.Fprintf(&b, "| %d | %s | %s |\n", c.code, c.name, c.what)
	}
	return b.String()
}

func TestDocsCLI(t *testing.T) {
	raw, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	want := map[string]string{"exit codes": exitTable()}
	for _, p := range commandPaths() {
		name := strings.TrimSpace("mlc " + strings.Join(p, " "))
		want["help: "+name] = "```text\n$ " + name + " --help\n" + mustRun(t, append(p, "--help")...) + "```\n"
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range want {
			if !yield(k) {
				return
			}
		}
	})
	write := os.Getenv("MLC_WRITE_DOCS") != ""
	for _, name := range names {
		re := blockRe(name)
		m := re.FindStringSubmatch(doc)
		switch {
		case m == nil:
			t.Errorf("docs/cli.md has no block <!-- begin %s -->", name)
		case m[2] != want[name] && write:
			doc = re.ReplaceAllLiteralString(doc, m[1]+want[name]+m[3])
		case m[2] != want[name]:
			t.Errorf("docs/cli.md block %q is out of date (MLC_WRITE_DOCS=1 go test ./cmd/mlc rewrites it):\n got: %s\nwant: %s", name, m[2], want[name])
		}
	}
	if write {
		if err := os.WriteFile(docPath, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDocsJSONSchemas runs every command that writes JSON and compares the
// fields it writes with the documented example's.
func TestDocsJSONSchemas(t *testing.T) {
	raw, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	dir := t.TempDir()
	mod := tinyModule(t, dir)
	prof := filepath.Join(dir, "prof.wasm")
	mustRun(t, "compile", tiny(), "--input-shape", pin, "--profile", "-o", prof)
	img := filepath.Join(dir, "img.npy")
	npy.WriteFile(img, image(1, 1, 8, 8))
	fixed := filepath.Join(dir, "fixed.wasm")
	mustRun(t, "compile", tiny(), "--input-shape", pin, "--input-value", "image="+img, "-o", fixed)
	cs := filepath.Join(dir, "case")
	mustRun(t, "verify", tiny(), "--input-shape", pin, "--save", cs)
	bad := filepath.Join(dir, "bad") // a case whose golden output is wrong
	mustRun(t, "verify", tiny(), "--input-shape", pin, "--save", bad)
	if err := frontend.WriteTensorFile(filepath.Join(bad, "test_data_set_0", "output_0.pb"), "probs", ir.NewTensor(ir.Float32, ir.Shape{1, 10})); err != nil {
		t.Fatal(err)
	}

	runs := map[string][][]string{
		"mlc.compile":        {{"compile", tiny(), "--input-shape", pin, "-o", filepath.Join(dir, "x.wasm")}},
		"mlc.run":            {{"run", mod, "--fill", "random", "--top", "2", "--output-dir", filepath.Join(dir, "out")}},
		"mlc.verify":         {{"verify", cs, bad}, {"verify", tiny(), "--input-shape", pin}},
		"mlc.inspect model":  {{"inspect", tiny()}, {"inspect", tiny(), "--input-shape", pin}},
		"mlc.inspect module": {{"inspect", mod}, {"inspect", fixed}},
		"mlc.bench":          {{"bench", mod, "--runs", "2", "--min-time", "0"}, {"bench", prof, "--profile", "--runs", "2", "--min-time", "0"}},
		"mlc.ops":            {{"ops"}},
	}
	for schema, cmds := range runs {
		real := map[string]bool{}
		for _, args := range cmds {
			_, out, errs := mlcRun(t, nil, append(args, "--json", "-")...)
			var v any
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Fatalf("mlc %s: %v\n%s%s", strings.Join(args, " "), err, out, errs)
			}
			obj := v.(map[string]any)
			if s := strings.Fields(schema)[0]; obj["schema"] != s || obj["schema_version"] != 1.0 {
				t.Errorf("mlc %s: schema %v version %v, want %s 1", args[0], obj["schema"], obj["schema_version"], s)
			}
			keyPaths(v, "", real)
		}
		re := regexp.MustCompile(`(?s)<!-- schema ` + regexp.QuoteMeta(schema) + ` -->\n` + "```json\n(.*?)```")
		m := re.FindStringSubmatch(doc)
		if m == nil {
			t.Errorf("docs/cli.md has no example for %s (<!-- schema %s --> and a json block)", schema, schema)
			continue
		}
		var ex any
		if err := json.Unmarshal([]byte(m[1]), &ex); err != nil {
			t.Errorf("%s example: %v", schema, err)
			continue
		}
		documented := map[string]bool{}
		keyPaths(ex, "", documented)
		if d := diffKeys(real, documented); d != "" {
			t.Errorf("%s: the example's fields differ from what mlc writes:\n%s", schema, d)
		}
	}
}

// keyPaths collects the paths of object keys in v: a.b, a[].c.
func keyPaths(v any, prefix string, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := prefix + "." + k
			if prefix == "" {
				p = k
			}
			// Maps keyed by data (opsets, summary counts, run_errors) are
			// one field.
			if isDataKeyed(p) {
				out[p] = true
				continue
			}
			out[p] = true
			keyPaths(e, p, out)
		}
	case []any:
		for _, e := range x {
			keyPaths(e, prefix+"[]", out)
		}
	}
}

func isDataKeyed(p string) bool {
	switch p {
	case "opsets", "summary", "metadata.run_errors":
		return true
	}
	return false
}

func diffKeys(real, doc map[string]bool) string {
	var b []string
	for k := range real {
		if !doc[k] {
			b = append(b, "  written but not documented: "+k)
		}
	}
	for k := range doc {
		if !real[k] {
			b = append(b, "  documented but not written: "+k)
		}
	}
	sort.Strings(b)
	return strings.Join(b, "\n")
}

// TestDocsOps: docs/ops.md is mlc ops --markdown (rewritten with
// MLC_WRITE_DOCS=1), so the table, the importers and the kernels' dtype
// declarations cannot drift apart.
func TestDocsOps(t *testing.T) {
	path := filepath.Join(testenv.Root(), "docs", "ops.md")
	var b strings.Builder
	if err := writeOpsMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("MLC_WRITE_DOCS") == "1" {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != b.String() {
		t.Errorf("docs/ops.md differs from mlc ops --markdown; regenerate it with MLC_WRITE_DOCS=1 go test ./cmd/mlc -run TestDocsOps")
	}
}

// TestDocsLayout: every file docs/design.md's "Where things live" table
// names exists in the package its row names, so the table cannot drift
// from the tree.
func TestDocsLayout(t *testing.T) {
	root := testenv.Root()
	text, err := os.ReadFile(filepath.Join(root, "docs", "design.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(text), "\n## Where things live\n")
	if !ok {
		t.Fatal(`docs/design.md has no "## Where things live" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	tick := regexp.MustCompile("`([^`]+)`")
	file := regexp.MustCompile(`^[\w./*-]+\.(go|md|txt)$`)
	rows, checked := 0, 0
	for line := range strings.SplitSeq(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 5 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") || strings.TrimSpace(cells[1]) == "concern" {
			continue
		}
		rows++
		dirs := []string{root}
		for _, m := range tick.FindAllStringSubmatch(cells[2], -1) {
			if m[1] == "mlc" {
				continue // the root package
			}
			dirs = append(dirs, filepath.Join(root, strings.TrimSuffix(m[1], "/")))
		}
		for _, m := range tick.FindAllStringSubmatch(cells[3], -1) {
			if sub, ok := strings.CutSuffix(m[1], "/"); ok && !strings.Contains(sub, "/") {
				for _, d := range dirs {
					dirs = append(dirs, filepath.Join(d, sub)) // a subfolder (asm/, host/)
				}
			}
		}
		for _, m := range tick.FindAllStringSubmatch(cells[3], -1) {
			name := m[1]
			if !file.MatchString(name) {
				continue
			}
			checked++
			found := false
			for _, d := range dirs {
				if hits, _ := filepath.Glob(filepath.Join(d, name)); len(hits) > 0 {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("docs/design.md, Where things live: %s (row %q) is not in %s", name, strings.TrimSpace(cells[1]), strings.TrimSpace(cells[2]))
			}
		}
	}
	if rows < 20 || checked < 100 {
		t.Errorf("read %d rows naming %d files: is the table still there?", rows, checked)
	}
}
