// Package verify runs golden-output checks: a case directory holds
// model.onnx and test_data_set_*/ (input_N.pb, output_N.pb), the layout of
// the ONNX backend tests. A case is compiled with the shapes of its data
// sets' inputs, every data set is run, and every output is compared.
package verify

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/hostir"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
)

// Status of a case.
const (
	Pass        = "pass"
	Fail        = "fail"
	Unsupported = "unsupported"
	Error       = "error"
)

// Options of a verification run.
type Options struct {
	// Tolerance, when set, replaces every case's own tolerance (see
	// MetaFile and DefaultTolerance).
	Tolerance *Tolerance
	Runner    Runner // executes modules; see NewWazeroRunner, NewNodeRunner
	// Also are more runtimes that must give exactly Runner's outputs (the
	// same bytes; NaNs may differ in payload): Wasm arithmetic is
	// deterministic, so any difference is an engine or module bug.
	Also    []Runner
	Compile mlc.Options
	// SameAs, when set, derives other compile options from the case's
	// (its shapes and input values pinned) that must give the same bytes:
	// the case is compiled with them too, and Runner's outputs of both
	// modules must be identical (NaNs may differ in payload). Tests use it
	// for flags that promise not to change results (--threads).
	SameAs func(mlc.Options) mlc.Options
	// Seed draws the inputs of Generated (0 is as good a seed as any).
	Seed int64
}

// DefaultOptions compile as mlc compile does and hold each case to its own
// tolerance.
func DefaultOptions() Options {
	return Options{Compile: mlc.DefaultOptions()}
}

// Runner runs a compiled module on named inputs.
type Runner interface {
	Run(ctx context.Context, wasm []byte, sets []map[string]*ir.Tensor) ([]map[string]*ir.Tensor, error)
}

// OutputResult is the error of one output (the worst over data sets).
type OutputResult struct {
	Name      string  `json:"name"`
	MaxAbsErr float64 `json:"max_abs_err"`
	MaxRelErr float64 `json:"max_rel_err"`
	// ATolNeeded is the smallest atol that passes this output at the case's
	// rtol (float outputs; 0 when exact).
	ATolNeeded float64 `json:"atol_needed"`
}

// CaseResult is the outcome of one case.
type CaseResult struct {
	Case    string         `json:"case"`
	Status  string         `json:"status"`
	Message string         `json:"message"`
	Outputs []OutputResult `json:"outputs"`
	// Stage says where a case that did not pass stopped: "read" (the model
	// file or the case data cannot be read or do not fit together),
	// "compile", "reference" (the reference interpreter failed), "run" (the
	// module failed) or "compare" (outputs differ).
	Stage string `json:"stage,omitempty"`
	// Tolerance is what the outputs were held to, and ToleranceFrom where
	// it came from: "flags", "meta.json", "default" or "generated".
	Tolerance     Tolerance `json:"tolerance"`
	ToleranceFrom string    `json:"tolerance_from"`
	// ModuleBytes is the compiled size (0 when compilation failed).
	ModuleBytes int `json:"module_bytes,omitempty"`
	// Wasm is kept for callers that check modules further (not in JSON).
	Wasm []byte `json:"-"`
}

// dataSet is one test_data_set_* folder.
type dataSet struct {
	dir     string
	inputs  []*ir.Tensor
	outputs []*ir.Tensor
}

// Case verifies one case folder in the ONNX backend-test layout: DIR/model.onnx
// and DIR/test_data_set_*/{input,output}_N.pb. It never panics: a panic
// anywhere becomes status "error".
func Case(ctx context.Context, dir string, o Options) CaseResult {
	res := Check(ctx, filepath.Join(dir, "model.onnx"), dir, o)
	res.Case = dir
	return res
}

// Check verifies the model at modelPath against the data sets in dataDir
// (test_data_set_*/{input,output}_N.pb), held to o.Tolerance or else to
// dataDir's own (CaseTolerance).
func Check(ctx context.Context, modelPath, dataDir string, o Options) (res CaseResult) {
	res.Case = modelPath
	defer recoverCase(&res)
	var err error
	if res.Tolerance, res.ToleranceFrom, err = CaseTolerance(dataDir); err != nil {
		return classify(res, err)
	}
	if o.Tolerance != nil {
		res.Tolerance, res.ToleranceFrom = *o.Tolerance, "flags"
	}
	sets, err := readSets(dataDir)
	if err != nil {
		return classifyAt(res, "read", err)
	}
	data, err := os.ReadFile(modelPath)
	if err != nil {
		return classify(res, err)
	}
	return run(ctx, res, data, filepath.Dir(modelPath), sets, o)
}

// recoverCase turns a panic into status "error".
func recoverCase(res *CaseResult) {
	if r := recover(); r != nil {
		res.Status = Error
		res.Message = ir.Recovered(nil, res.Case, "mlc verify", r).Error() // no stack trace for users
	}
}

// run compiles model (external data in dir), runs it on every data set and
// compares the outputs with the sets' at res.Tolerance.
func run(ctx context.Context, res CaseResult, data []byte, dir string, sets []dataSet, o Options) CaseResult {
	mp, err := frontend.Decode(data)
	if err != nil {
		return classify(res, err)
	}
	// Pin every runtime input to the shape of the first data set's tensor.
	inputs, err := runtimeInputs(mp)
	if err != nil {
		return classify(res, err)
	}
	copts := o.Compile
	copts.InputShapes = map[string][]int{}
	for k, v := range o.Compile.InputShapes {
		copts.InputShapes[k] = v
	}
	for _, s := range sets {
		if len(s.inputs) != len(inputs) {
			return classifyAt(res, "read", fmt.Errorf("%s has %d inputs, the model %d", s.dir, len(s.inputs), len(inputs)))
		}
	}
	for i, name := range inputs {
		if _, ok := copts.InputShapes[name]; !ok && len(sets) > 0 {
			copts.InputShapes[name] = sets[0].inputs[i].Shape
		}
	}
	compiled, err := compileModel(data, dir, copts)
	// A shape argument computed from a run-time input: the data sets know
	// the input's value, so compile a module specialized on it (the module
	// checks the value at run time). Only the inputs that shape arguments
	// need are fixed, one at a time, so that the data the kernels compute
	// on stays run-time data.
	candidates := agreedInputs(inputs, sets)
	var fixedNames []string
	for tries := 0; tries < len(inputs); tries++ {
		var nc *ir.NotConstant
		if !errors.As(err, &nc) {
			break
		}
		name := nc.Value
		if _, ok := candidates[name]; !ok {
			// The argument is computed from inputs: fix the first input
			// whose value makes the error move on.
			name = ""
			for _, cand := range inputs {
				if _, ok := candidates[cand]; !ok || copts.InputValues[cand] != nil {
					continue
				}
				trial := withValue(copts, cand, candidates[cand])
				if _, err2 := compileModel(data, dir, trial); !sameNotConstant(err2, nc) {
					name = cand
					break
				}
			}
			if name == "" {
				break
			}
		}
		if copts.InputValues[name] != nil {
			break
		}
		copts = withValue(copts, name, candidates[name])
		fixedNames = append(fixedNames, name)
		compiled, err = compileModel(data, dir, copts)
	}
	if err == nil && len(fixedNames) > 0 {
		res.Message = "specialized on the values of inputs " + strings.Join(fixedNames, ", ")
	}
	if err != nil {
		return classify(res, err)
	}
	res.ModuleBytes = len(compiled.Wasm)
	res.Wasm = compiled.Wasm
	meta := compiled.Meta
	var feeds []map[string]*ir.Tensor
	for _, s := range sets {
		feed := map[string]*ir.Tensor{}
		for i, name := range inputs {
			feed[name] = s.inputs[i]
		}
		feeds = append(feeds, feed)
	}
	// Data sets whose input shapes differ from the first need their own
	// compilation; the ONNX suites and mlc's models use one shape.
	for _, s := range sets[1:] {
		for i := range inputs {
			if !s.inputs[i].Shape.Equal(sets[0].inputs[i].Shape) {
				return classifyAt(res, "read", fmt.Errorf("data sets disagree on the shape of input %q", inputs[i]))
			}
		}
	}
	got, err := o.Runner.Run(ctx, compiled.Wasm, feeds)
	if err != nil {
		return classifyAt(res, "run", err)
	}
	for ri, r := range o.Also {
		other, err := r.Run(ctx, compiled.Wasm, feeds)
		if err != nil {
			return classifyAt(res, "run", fmt.Errorf("runtime %d: %w", ri+2, err))
		}
		if msg := sameOutputs(got, other); msg != "" {
			res.Status, res.Stage, res.Message = Fail, "compare", fmt.Sprintf("runtimes disagree: %s", msg)
			return res
		}
	}
	if o.SameAs != nil {
		base, err := compileModel(data, dir, o.SameAs(copts))
		if err != nil {
			return classifyAt(res, "compile", fmt.Errorf("the baseline module: %w", err))
		}
		want, err := o.Runner.Run(ctx, base.Wasm, feeds)
		if err != nil {
			return classifyAt(res, "run", fmt.Errorf("the baseline module: %w", err))
		}
		if msg := sameOutputs(want, got); msg != "" {
			res.Status, res.Stage, res.Message = Fail, "compare", fmt.Sprintf("the module and the baseline module disagree: %s", msg)
			return res
		}
	}
	res.Status = Pass
	failed := "" // the first output that failed
	worst := map[string]*OutputResult{}
	need := map[string]*needed{}
	for si, s := range sets {
		if len(s.outputs) != len(meta.Outputs) {
			return classifyAt(res, "read", fmt.Errorf("%s has %d outputs, the model %d", s.dir, len(s.outputs), len(meta.Outputs)))
		}
		for i, t := range meta.Outputs {
			r := worst[t.Name]
			if r == nil {
				r = &OutputResult{Name: t.Name}
				worst[t.Name] = r
				need[t.Name] = &needed{}
				res.Outputs = append(res.Outputs, OutputResult{})
			}
			msg := compare(got[si][t.Name], s.outputs[i], res.Tolerance, r, need[t.Name])
			if msg != "" && res.Status == Pass {
				res.Status, res.Stage = Fail, "compare"
				res.Message = fmt.Sprintf("%s output %q: %s", filepath.Base(s.dir), t.Name, msg)
				failed = t.Name
			}
		}
	}
	for i, t := range meta.Outputs {
		n := need[t.Name]
		res.Outputs[i] = *worst[t.Name]
		res.Outputs[i].ATolNeeded = n.atol
		if n.never || n.exact {
			res.Outputs[i].ATolNeeded = math.MaxFloat64 // JSON has no infinity
		}
	}
	if failed != "" {
		res.Message += fmt.Sprintf(" [tolerance rtol %g, atol %g from %s; %s]", res.Tolerance.RTol, res.Tolerance.ATol, res.ToleranceFrom, need[failed].describe(res.Tolerance))
	}
	return res
}

// agreedInputs maps the inputs of at most 1024 elements whose value is the
// same in every data set to that value: those a module may be specialized on.
func agreedInputs(names []string, sets []dataSet) map[string]*ir.Tensor {
	out := map[string]*ir.Tensor{}
	for i, name := range names {
		t := sets[0].inputs[i]
		if t.DType == ir.String || t.Len() > 1024 {
			continue
		}
		same := true
		for _, s := range sets[1:] {
			if string(s.inputs[i].Data) != string(t.Data) || !s.inputs[i].Shape.Equal(t.Shape) {
				same = false
			}
		}
		if same {
			out[name] = t
		}
	}
	return out
}

// withValue returns o with one more input fixed.
func withValue(o mlc.Options, name string, t *ir.Tensor) mlc.Options {
	vals := map[string]*host.Tensor{}
	for k, v := range o.InputValues {
		vals[k] = v
	}
	vals[name] = hostir.ToHost(t)
	o.InputValues = vals
	return o
}

// sameNotConstant reports whether err is the same missing-constant error.
func sameNotConstant(err error, nc *ir.NotConstant) bool {
	var e *ir.NotConstant
	return errors.As(err, &e) && *e == *nc
}

// sameOutputs compares two runtimes' outputs byte for byte, treating any
// two NaNs of a float type as equal.
func sameOutputs(a, b []map[string]*ir.Tensor) string {
	for si := range a {
		for name, x := range a[si] {
			y := b[si][name]
			if y == nil || !x.Shape.Equal(y.Shape) || x.DType != y.DType {
				return fmt.Sprintf("data set %d output %q has another type", si, name)
			}
			if string(x.Data) == string(y.Data) {
				continue
			}
			for i := 0; i < x.Len(); i++ {
				if !x.DType.IsFloat() || x.DType.Bits() < 8 {
					return fmt.Sprintf("data set %d output %q differs", si, name)
				}
				xv, yv := x.Float(i), y.Float(i)
				if xv != yv && !(math.IsNaN(xv) && math.IsNaN(yv)) {
					return fmt.Sprintf("data set %d output %q element %d: %v vs %v", si, name, i, xv, yv)
				}
			}
		}
	}
	return ""
}

// classify maps an error to unsupported or error: a file that cannot be
// read stopped the case at "read", anything else at "compile".
func classify(res CaseResult, err error) CaseResult {
	stage := "compile"
	var pe *fs.PathError
	if errors.As(err, &pe) {
		stage = "read"
	}
	return classifyAt(res, stage, err)
}

// classifyAt is classify with the stage known.
func classifyAt(res CaseResult, stage string, err error) CaseResult {
	res.Status, res.Stage = Error, stage
	if ir.IsUnsupported(err) {
		res.Status = Unsupported
	}
	res.Message = err.Error()
	return res
}

// runtimeInputs lists the model's graph inputs that are not initializers,
// in order, rejecting non-tensor inputs.
func runtimeInputs(mp *onnxpb.ModelProto) ([]string, error) {
	inits := map[string]bool{}
	for _, t := range mp.Graph.Initializer {
		inits[t.GetName()] = true
	}
	var names []string
	for _, vi := range mp.Graph.Input {
		if inits[vi.GetName()] {
			continue
		}
		if vi.GetType() != nil && vi.GetType().GetTensorType() == nil {
			return nil, &ir.Unsupported{Where: fmt.Sprintf("input %q", vi.GetName()), What: "inputs that are sequences, maps or optionals"}
		}
		names = append(names, vi.GetName())
	}
	return names, nil
}

func readSets(dir string) ([]dataSet, error) {
	dirs, err := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if err != nil {
		return nil, err
	}
	sort.Strings(dirs)
	if len(dirs) == 0 {
		return nil, fmt.Errorf("%s has no test_data_set_* folders (to check a model without golden data, verify the .onnx file itself)", dir)
	}
	var sets []dataSet
	for _, d := range dirs {
		s := dataSet{dir: d}
		for _, kind := range []string{"input", "output"} {
			for i := 0; ; i++ {
				p := filepath.Join(d, fmt.Sprintf("%s_%d.pb", kind, i))
				if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
					break
				}
				t, _, err := frontend.ReadTensorFile(p)
				if err != nil {
					if ir.IsUnsupported(err) {
						return nil, err
					}
					return nil, &ir.Unsupported{Where: p, What: "test data that is not a tensor (sequence, map or optional): " + err.Error()}
				}
				if kind == "input" {
					s.inputs = append(s.inputs, t)
				} else {
					s.outputs = append(s.outputs, t)
				}
			}
		}
		sets = append(sets, s)
	}
	return sets, nil
}

// Compare checks got against want: shapes and dtypes must match, integers
// and bools exactly, floats within |got-want| <= atol + rtol*|want|, with
// NaN equal to NaN. It updates r's worst errors and returns "" or the first
// mismatch.
func Compare(got, want *ir.Tensor, rtol, atol float64, r *OutputResult) string {
	return compare(got, want, Tolerance{RTol: rtol, ATol: atol}, r, &needed{})
}

func compare(got, want *ir.Tensor, tol Tolerance, r *OutputResult, need *needed) string {
	if got == nil {
		return "missing"
	}
	if got.DType != want.DType {
		return fmt.Sprintf("dtype %s, want %s", got.DType, want.DType)
	}
	if !got.Shape.Equal(want.Shape) {
		return fmt.Sprintf("shape %s, want %s", got.Shape, want.Shape)
	}
	msg := ""
	n := want.Len()
	if want.DType == ir.String {
		for i := 0; i < n; i++ {
			if got.Strings[i] != want.Strings[i] && msg == "" {
				msg = fmt.Sprintf("element %d is %q, want %q", i, got.Strings[i], want.Strings[i])
			}
		}
		return msg
	}
	exact := !want.DType.IsFloat()
	bad := 0
	for i := 0; i < n; i++ {
		var g, w float64
		if exact {
			if want.DType == ir.Uint64 {
				g, w = float64(got.Uint(i)), float64(want.Uint(i))
				if got.Uint(i) == want.Uint(i) {
					continue
				}
			} else {
				if got.Int(i) == want.Int(i) {
					continue
				}
				g, w = float64(got.Int(i)), float64(want.Int(i))
			}
		} else {
			g, w = got.Float(i), want.Float(i)
			if math.IsNaN(g) && math.IsNaN(w) {
				continue
			}
			if g == w { // equal infinities
				continue
			}
		}
		diff := math.Abs(g - w)
		if math.IsNaN(diff) {
			diff = math.Inf(1)
		}
		r.MaxAbsErr = math.Max(r.MaxAbsErr, diff)
		if w != 0 && !math.IsInf(diff, 0) {
			r.MaxRelErr = math.Max(r.MaxRelErr, diff/math.Abs(w))
		}
		if math.IsInf(diff, 0) {
			r.MaxAbsErr = math.MaxFloat64 // JSON has no infinity
		}
		if exact {
			need.exact = true
		} else {
			need.add(diff, w, tol)
		}
		if exact || diff > tol.ATol+tol.RTol*math.Abs(w) {
			if bad == 0 {
				msg = fmt.Sprintf("element %d (index %v) is %v, want %v", i, unravel(i, want.Shape), g, w)
			}
			bad++
		}
	}
	if bad > 1 {
		msg += fmt.Sprintf(" (%d of %d elements differ)", bad, n)
	}
	return msg
}

func unravel(i int, s ir.Shape) []int {
	idx := make([]int, len(s))
	for d := len(s) - 1; d >= 0; d-- {
		if s[d] > 0 {
			idx[d] = i % s[d]
			i /= s[d]
		}
	}
	return idx
}

// Summary counts statuses.
func Summary(results []CaseResult) string {
	counts := map[string]int{}
	for _, r := range results {
		counts[r.Status]++
	}
	var parts []string
	for _, s := range []string{Pass, Fail, Unsupported, Error} {
		parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
	}
	return strings.Join(parts, ", ")
}
