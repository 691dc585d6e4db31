package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/npy"
	"github.com/mlc-compiler/mlc/runtime-shim/host"
)

// mlcRun runs the command line in process.
func mlcRun(t *testing.T, stdin []byte, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, bytes.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// mustRun runs the command line and fails the test unless it exits 0.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := mlcRun(t, nil, args...)
	if code != 0 {
		t.Fatalf("mlc %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func tiny() string { return filepath.Join(testenv.Root(), "testdata", "tiny_cnn", "model.onnx") }

const pin = "image=1,1,8,8"

// tinyModule compiles the tiny model into dir.
func tinyModule(t *testing.T, dir string, flags ...string) string {
	t.Helper()
	out := filepath.Join(dir, "tiny.wasm")
	mustRun(t, append([]string{"compile", tiny(), "--input-shape", pin, "-o", out}, flags...)...)
	return out
}

// image is a deterministic tiny_cnn input.
func image(shape ...int) *host.Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i%13)/6 - 1
	}
	t, _ := host.New(shape, v)
	return t
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	mod := tinyModule(t, dir)
	bad := filepath.Join(dir, "bad.onnx")
	os.WriteFile(bad, []byte("not a model"), 0o644)
	img := filepath.Join(dir, "img.npy")
	npy.WriteFile(img, image(1, 1, 8, 8))
	other := filepath.Join(dir, "other.npy")
	x := image(1, 1, 8, 8)
	x.Data[0] ^= 1
	npy.WriteFile(other, x)
	fixed := filepath.Join(dir, "fixed.wasm")
	mustRun(t, "compile", tiny(), "--input-shape", pin, "--input-value", "image="+img, "-o", fixed)
	// A golden case whose output is wrong.
	cs := filepath.Join(dir, "case")
	mustRun(t, "verify", tiny(), "--input-shape", pin, "--save", cs)
	zero := ir.NewTensor(ir.Float32, ir.Shape{1, 10})
	if err := frontend.WriteTensorFile(filepath.Join(cs, "test_data_set_0", "output_0.pb"), "probs", zero); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"ops"}, exitOK},
		{[]string{"frob"}, exitUsage},
		{[]string{"compile"}, exitUsage},
		{[]string{"run", mod, "--bogus"}, exitUsage},
		{[]string{"compile", tiny(), "--tune", "spidermonkey"}, exitUsage},
		{[]string{"run", mod}, exitUsage}, // no input, no --fill
		{[]string{"inspect", filepath.Join(dir, "missing.onnx")}, exitIO},
		{[]string{"compile", tiny(), "--input-shape", pin, "-o", filepath.Join(dir, "no", "such", "dir", "x.wasm")}, exitIO},
		{[]string{"compile", tiny()}, exitModel}, // dynamic batch
		{[]string{"compile", bad}, exitModel},
		{[]string{"verify", cs}, exitMismatch},
		{[]string{"verify", filepath.Join(dir, "missing")}, exitIO},
		{[]string{"run", fixed, "--input", "image=" + other}, exitRun},
		{[]string{"run", fixed, "--input", "image=" + img}, exitOK},
	} {
		code, out, errs := mlcRun(t, nil, c.args...)
		if code != c.code {
			t.Errorf("mlc %s: exit %d, want %d\n%s%s", strings.Join(c.args, " "), code, c.code, out, errs)
		}
	}
}

// TestCompileStdio: compile - reads the model from stdin and -o - writes
// the module to stdout, the same bytes as through files.
func TestCompileStdio(t *testing.T) {
	dir := t.TempDir()
	want, _ := os.ReadFile(tinyModule(t, dir))
	model, _ := os.ReadFile(tiny())
	code, out, errs := mlcRun(t, model, "compile", "-", "--input-shape", pin, "-o", "-")
	if code != 0 || out != string(want) {
		t.Fatalf("exit %d, %d bytes on stdout (want %d)\n%s", code, len(out), len(want), errs)
	}
	if !strings.Contains(errs, "wrote the module to stdout") {
		t.Errorf("the summary belongs on stderr: %q", errs)
	}
	if code, _, _ := mlcRun(t, model, "compile", "-"); code != exitUsage {
		t.Errorf("compile - without -o: exit %d", code)
	}
	if _, err := os.Stat("-"); err == nil {
		t.Error("a file named - was written")
	}
}

func runJSONOf(t *testing.T, args ...string) runJSON {
	t.Helper()
	var r runJSON
	if err := json.Unmarshal([]byte(mustRun(t, append(args, "--json", "-")...)), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func outputValues(t *testing.T, r runJSON) []float64 {
	t.Helper()
	var v []float64
	for _, x := range r.Outputs[0].Values {
		v = append(v, float64(x))
	}
	return v
}

// TestRunInputs: every way of giving inputs reaches the module with the
// same values.
func TestRunInputs(t *testing.T) {
	dir := t.TempDir()
	mod := tinyModule(t, dir)
	img := image(1, 1, 8, 8)
	npyFile := filepath.Join(dir, "img.npy")
	npy.WriteFile(npyFile, img)
	want := outputValues(t, runJSONOf(t, "run", mod, "--input", "image="+npyFile))
	if len(want) != 10 {
		t.Fatalf("outputs %v", want)
	}
	// .npz by name, by position, and as NAME=FILE with one array.
	named, positional := filepath.Join(dir, "named.npz"), filepath.Join(dir, "pos.npz")
	npy.WriteNPZFile(named, []npy.Entry{{Name: "image", Tensor: img}})
	npy.WriteNPZFile(positional, []npy.Entry{{Name: "arr_0", Tensor: img}})
	// The same values in Fortran order: a [1,1,8,8] array whose two last
	// axes are stored transposed.
	f := append([]byte{}, mustNPY(t, img)...)
	f = bytes.Replace(f, []byte("'fortran_order': False"), []byte("'fortran_order': True "), 1)
	hdr := len(f) - len(img.Data)
	for i := 0; i < 8; i++ {
		for j := 0; j < 8; j++ {
			copy(f[hdr+4*(j*8+i):][:4], img.Data[4*(i*8+j):])
		}
	}
	fortran := filepath.Join(dir, "fortran.npy")
	os.WriteFile(fortran, f, 0o644)
	// float64 needs --cast.
	v, _ := host.Values[float32](img)
	v64 := make([]float64, len(v))
	for i := range v {
		v64[i] = float64(v[i])
	}
	t64, _ := host.New([]int{1, 1, 8, 8}, v64)
	f64 := filepath.Join(dir, "f64.npy")
	npy.WriteFile(f64, t64)
	pb := filepath.Join(dir, "img.pb")
	it, _ := irFrom(img)
	if err := frontend.WriteTensorFile(pb, "image", it); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--input", named},
		{"--input", positional},
		{"--input", "image=" + named},
		{"--input", "image=" + fortran},
		{"--input", "image=" + f64, "--cast"},
		{"--input", "image=" + pb},
	} {
		got := outputValues(t, runJSONOf(t, append([]string{"run", mod}, args...)...))
		if !slices.Equal(got, want) {
			t.Errorf("%v: outputs %v, want %v", args, got, want)
		}
	}
	if code, _, errs := mlcRun(t, nil, "run", mod, "--input", "image="+f64); code != exitUsage || !strings.Contains(errs, "--cast") {
		t.Errorf("float64 without --cast: exit %d: %s", code, errs)
	}
	// --fill: zeros are zeros; random follows the seed.
	z := runJSONOf(t, "run", mod, "--fill", "zeros")
	if z.Inputs[0].Source != "zeros" {
		t.Errorf("source %q", z.Inputs[0].Source)
	}
	r1 := outputValues(t, runJSONOf(t, "run", mod, "--fill", "random"))
	r2 := outputValues(t, runJSONOf(t, "run", mod, "--fill", "random"))
	r3 := outputValues(t, runJSONOf(t, "run", mod, "--fill", "random", "--seed", "2"))
	if !slices.Equal(r1, r2) || slices.Equal(r1, r3) || slices.Equal(r1, outputValues(t, z)) {
		t.Error("--fill random does not follow --seed")
	}
	// A model runs too (compiled in memory), and re-batched.
	b2 := runJSONOf(t, "run", tiny(), "--input-shape", "image=2,1,8,8", "--fill", "random", "--top", "3")
	if got := b2.Outputs[0].Shape; len(got) != 2 || got[0] != 2 || len(b2.Outputs[0].Top) != 2 || len(b2.Outputs[0].Top[0]) != 3 {
		t.Errorf("re-batched run: %+v", b2.Outputs[0])
	}
	// Outputs to files.
	out := filepath.Join(dir, "out")
	npz := filepath.Join(dir, "out.npz")
	mustRun(t, "run", mod, "--input", named, "--output-dir", out, "--output", npz)
	p, err := npy.ReadFile(filepath.Join(out, "probs.npy"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := npy.ReadNPZFile(npz)
	if err != nil || len(e) != 1 || e[0].Name != "probs" || !bytes.Equal(e[0].Tensor.Data, p.Data) {
		t.Errorf("npz %v, %v", e, err)
	}
}

// TestTop: --top lists the largest elements, the largest first.
func TestTop(t *testing.T) {
	dir := t.TempDir()
	mod := tinyModule(t, dir)
	r := runJSONOf(t, "run", mod, "--fill", "random", "--top", "10")
	vals := outputValues(t, r)
	top := r.Outputs[0].Top[0]
	for i, e := range top {
		if float64(e.Value) != vals[e.Index] || i > 0 && e.Value > top[i-1].Value {
			t.Fatalf("top %v of %v", top, vals)
		}
	}
	text := mustRun(t, "run", mod, "--fill", "random", "--top", "2")
	if !strings.Contains(text, "top 2: ") {
		t.Errorf("text output: %s", text)
	}
}

// TestHelpConsistency: the help says what the commands do.
func TestHelpConsistency(t *testing.T) {
	for cmd, tune := range map[string]string{"compile": "portable", "verify": "portable", "run": "portable", "bench": "portable"} {
		help := mustRun(t, cmd, "--help")
		if !strings.Contains(help, `(default "`+tune+`")`) {
			t.Errorf("mlc %s --help: want --tune default %q:\n%s", cmd, tune, help)
		}
	}
	// inspect takes the code-generation flags only for --ir, and says so.
	help := mustRun(t, "inspect", "--help")
	if strings.Contains(help, "--profile") {
		t.Error("inspect offers --profile")
	}
	for _, line := range strings.Split(help, "\n") {
		for _, f := range []string{"--simd", "--tune", "--opt", "--fp16", "--dump-after", "--disable-pass"} {
			if strings.Contains(line, f+" ") && !strings.Contains(line, "(with --ir)") {
				t.Errorf("inspect's %s does not say it is for --ir: %s", f, line)
			}
		}
	}
	// Completion offers the values of the enumerated flags.
	for flag, want := range map[string]string{"--tune": "wazero", "--quantize": "int8-weights", "--calibration-method": "percentile", "--fp16": "exact"} {
		out := mustRun(t, "__complete", "compile", flag, "")
		if !strings.Contains(out, want) {
			t.Errorf("completion of %s: %q", flag, out)
		}
	}
	if out := mustRun(t, "__complete", "verify", "--runtime", ""); !strings.Contains(out, "both") {
		t.Errorf("completion of --runtime: %q", out)
	}
}

func mustNPY(t *testing.T, x *host.Tensor) []byte {
	var b bytes.Buffer
	if err := npy.Write(&b, x); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func irFrom(x *host.Tensor) (*ir.Tensor, error) {
	dt, _ := ir.ParseDType(x.DType)
	return ir.TensorFromBytes(dt, ir.Shape(x.Shape), x.Data)
}

// panicReader panics when read: a stand-in for a bug no phase recovers.
type panicReader struct{}

func (panicReader) Read([]byte) (int, error) { panic("a bug outside every phase") }

// TestPanicIsInternalError: a panic that no phase recovered reaches the
// user as an internal error with the internal exit code, never as a Go
// stack trace (issue 13).
func TestPanicIsInternalError(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"compile", "-", "-o", filepath.Join(t.TempDir(), "x.wasm")}, panicReader{}, &out, &errb)
	msg := out.String() + errb.String()
	if code != exitInternal || !strings.Contains(msg, "internal error") || !strings.Contains(msg, "a bug outside every phase") {
		t.Errorf("exit %d, output %q: want exit %d and an internal error naming the panic", code, msg, exitInternal)
	}
	if strings.Contains(msg, "goroutine ") || strings.Contains(msg, ".go:") {
		t.Errorf("a stack trace reached the user:\n%s", msg)
	}
}

// TestBenchSeveral: bench --profile times several profiling modules in one
// process and writes one mlc.bench document per module, with every node's
// class and run-order index; several modules without --profile are a
// usage error.
func TestBenchSeveral(t *testing.T) {
	dir := t.TempDir()
	prof := tinyModule(t, dir, "--profile")
	var docs []benchJSON
	if err := json.Unmarshal([]byte(mustRun(t, "bench", "--profile", prof, prof, "--runs", "2", "--min-time", "0", "--json", "-")), &docs); err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 {
		t.Fatalf("%d documents, want 2", len(docs))
	}
	for _, d := range docs {
		p := d.Profile
		if p == nil || len(p.Nodes) == 0 || len(p.ByClass) == 0 {
			t.Fatalf("profile %+v", p)
		}
		seen := map[int]bool{}
		for _, n := range p.Nodes {
			if n.Class == "" || n.MinMS > n.MedianMS || seen[n.Index] || n.Index >= len(p.Nodes) {
				t.Errorf("node %+v", n)
			}
			seen[n.Index] = true
		}
	}
	if code, _, _ := mlcRun(t, nil, "bench", prof, prof, "--runs", "1"); code != exitUsage {
		t.Errorf("several modules without --profile: exit %d, want %d", code, exitUsage)
	}
}
