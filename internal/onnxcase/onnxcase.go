// Package onnxcase reads ONNX backend test cases (model.onnx beside
// test_data_set_*/input_N.pb and output_N.pb) for the tests of single
// packages: the frontend's import checks and the reference interpreter's
// comparison with ONNX's expected outputs. (verify runs whole cases
// through the compiler.)
package onnxcase

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/ir"
)

// Suites are the folders of shared/onnx-tests.
var Suites = []string{"node", "pytorch-converted", "pytorch-operator", "simple"}

// Dirs lists every case folder of the suites under shared, sorted.
func Dirs(shared string) []string {
	var dirs []string
	for _, suite := range Suites {
		ds, _ := filepath.Glob(filepath.Join(shared, "onnx-tests", suite, "*"))
		for _, d := range ds {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				dirs = append(dirs, d)
			}
		}
	}
	sort.Strings(dirs)
	return dirs
}

// Key names a case as suite/name.
func Key(dir string) string { return filepath.Base(filepath.Dir(dir)) + "/" + filepath.Base(dir) }

// Case is one decoded case.
type Case struct {
	Dir    string
	Model  *onnxpb.ModelProto
	Inputs []string // the runtime inputs (not initializers), in order
	Sets   []Set
}

// Set is one test_data_set_* folder.
type Set struct {
	Inputs, Outputs []*ir.Tensor
}

// Load reads a case. Sequence or optional test data is an error.
func Load(dir string) (*Case, error) {
	data, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return nil, err
	}
	mp, err := frontend.Decode(data)
	if err != nil {
		return nil, err
	}
	c := &Case{Dir: dir, Model: mp}
	inits := map[string]bool{}
	for _, t := range mp.Graph.Initializer {
		inits[t.GetName()] = true
	}
	for _, vi := range mp.Graph.Input {
		if !inits[vi.GetName()] {
			c.Inputs = append(c.Inputs, vi.GetName())
		}
	}
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	sort.Strings(sets)
	if len(sets) == 0 {
		return nil, fmt.Errorf("%s has no data sets", dir)
	}
	for _, s := range sets {
		var set Set
		if set.Inputs, err = readTensors(s, "input"); err != nil {
			return nil, err
		}
		if set.Outputs, err = readTensors(s, "output"); err != nil {
			return nil, err
		}
		if len(set.Inputs) != len(c.Inputs) {
			return nil, fmt.Errorf("%s has %d inputs, the model %d", s, len(set.Inputs), len(c.Inputs))
		}
		c.Sets = append(c.Sets, set)
	}
	return c, nil
}

func readTensors(dir, kind string) ([]*ir.Tensor, error) {
	var out []*ir.Tensor
	for i := 0; ; i++ {
		p := filepath.Join(dir, fmt.Sprintf("%s_%d.pb", kind, i))
		if _, err := os.Stat(p); err != nil {
			return out, nil
		}
		t, _, err := frontend.ReadTensorFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
}

// Import imports the model with its inputs pinned to the shapes of data
// set i. When a shape argument is computed from an input (ir.NotConstant),
// it imports again with the inputs' values, as mlc verify specializes a
// module on them.
func (c *Case) Import(i int) (*frontend.Model, error) {
	opts := frontend.Options{InputShapes: map[string]ir.Shape{}}
	for j, name := range c.Inputs {
		opts.InputShapes[name] = c.Sets[i].Inputs[j].Shape
	}
	m, err := frontend.ImportProto(c.Model, c.Dir, opts)
	var nc *ir.NotConstant
	if errors.As(err, &nc) {
		opts.InputValues = map[string]*ir.Tensor{}
		for j, name := range c.Inputs {
			opts.InputValues[name] = c.Sets[i].Inputs[j]
		}
		m, err = frontend.ImportProto(c.Model, c.Dir, opts)
	}
	return m, err
}

// Env binds the graph inputs of g to data set i's inputs by name.
func (c *Case) Env(g *ir.Graph, i int) (ir.Env, error) {
	env := ir.Env{}
	for _, v := range g.Inputs {
		j := -1
		for k, name := range c.Inputs {
			if name == v.Name {
				j = k
			}
		}
		if j < 0 {
			return nil, fmt.Errorf("graph input %q is not in the data set", v.Name)
		}
		env[v] = c.Sets[i].Inputs[j]
	}
	return env, nil
}

// Close compares as ONNX's backend tests do: dtype and shape exactly,
// integers, bools and strings exactly, floats within atol + rtol*|want|
// with NaN equal to NaN. It returns "" or the first difference.
func Close(got, want *ir.Tensor, rtol, atol float64) string {
	if got.DType != want.DType || !got.Shape.Equal(want.Shape) {
		return fmt.Sprintf("got %s, want %s", got.Type, want.Type)
	}
	for i := range want.Len() {
		switch {
		case want.DType == ir.String:
			if got.Strings[i] != want.Strings[i] {
				return fmt.Sprintf("element %d is %q, want %q", i, got.Strings[i], want.Strings[i])
			}
		case !want.DType.IsFloat():
			if got.Int(i) != want.Int(i) {
				return fmt.Sprintf("element %d is %d, want %d", i, got.Int(i), want.Int(i))
			}
		default:
			g, w := got.Float(i), want.Float(i)
			if g == w || math.IsNaN(g) && math.IsNaN(w) {
				continue
			}
			if !(math.Abs(g-w) <= atol+rtol*math.Abs(w)) {
				return fmt.Sprintf("element %d is %v, want %v", i, g, w)
			}
		}
	}
	return ""
}

// TestDirs lists the case folders of the shared data (skipping t
// without it, see testenv) and fails t when there are none.
func TestDirs(t testing.TB) []string {
	t.Helper()
	dirs := Dirs(testenv.Shared(t))
	if len(dirs) == 0 {
		t.Fatal("no ONNX test cases found")
	}
	return dirs
}

// Track keeps a regression list: the file at list names the cases that
// passed (ok[i] for dirs[i]). With update it is rewritten (header is its
// first line); otherwise t fails for each listed case that no longer
// passes, with why[i].
func Track(t testing.TB, list, header string, update bool, dirs []string, ok []bool, why []string) {
	t.Helper()
	var passed, lost []string
	for i, d := range dirs {
		if ok[i] {
			passed = append(passed, Key(d))
		}
	}
	if update {
		text := "# " + header + "\n" + strings.Join(passed, "\n") + "\n"
		if err := os.WriteFile(list, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	data, err := os.ReadFile(list)
	if err != nil {
		t.Fatalf("%v (-update writes it)", err)
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			listed[line] = true
		}
	}
	for i, d := range dirs {
		if listed[Key(d)] && !ok[i] {
			lost = append(lost, Key(d)+": "+why[i])
		}
	}
	t.Logf("%d of %d cases pass", len(passed), len(dirs))
	if len(lost) > 0 {
		t.Errorf("%d cases of %s no longer pass:\n%s", len(lost), list, strings.Join(lost, "\n"))
	}
}

// Each runs f on every case dir, GOMAXPROCS at a time, and returns the
// results in the order of dirs.
func Each[R any](dirs []string, workers int, f func(dir string) R) []R {
	out := make([]R, len(dirs))
	sem := make(chan struct{}, max(workers, 1))
	done := make(chan struct{})
	for i, d := range dirs {
		go func() {
			sem <- struct{}{}
			defer func() { <-sem; done <- struct{}{} }()
			out[i] = f(d)
		}()
	}
	for range dirs {
		<-done
	}
	return out
}
