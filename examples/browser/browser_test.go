package browser_test

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/ir"
	jsshim "github.com/mlc-compiler/mlc/runtime-shim/js"
	"github.com/mlc-compiler/mlc/verify"
)

// A model of the demo, with its golden data from ../shared/models.
type model struct {
	Name string `json:"name"`
	Role string `json:"role"` // the demo's name for it
	Dims []int  `json:"dims"`
	Sets int    `json:"sets"`

	golden     []*ir.Tensor // output 0 of each data set
	rtol, atol float64
	wasmBytes  int
}

// The plan drive.mjs follows.
type plan struct {
	URL          string  `json:"url"`
	Browser      string  `json:"browser"`
	Executable   string  `json:"executable"`
	Screenshot   string  `json:"screenshot,omitempty"`
	Coldstart    int     `json:"coldstart"`
	Models       []model `json:"models"`
	Big          string  `json:"big"`
	BlockingRuns int     `json:"blockingRuns"`
}

// What drive.mjs saw.
type report struct {
	Browser string `json:"browser"`
	Demo    map[string]struct {
		Outputs     [][]float64 `json:"outputs"`
		LoadMs      float64     `json:"loadMs"`
		Bytes       int         `json:"bytes"`
		LatenciesMs []float64   `json:"latenciesMs"`
	} `json:"demo"`
	UI *struct {
		Digit string   `json:"digit"`
		Top5  []string `json:"top5"`
	} `json:"ui"`
	PackageTests []struct {
		Name  string  `json:"name"`
		OK    bool    `json:"ok"`
		Error string  `json:"error"`
		Ms    float64 `json:"ms"`
	} `json:"packageTests"`
	MainThread struct {
		LoadMs  float64     `json:"loadMs"`
		Bytes   int         `json:"bytes"`
		Outputs [][]float64 `json:"outputs"`
	} `json:"mainThread"`
	Blocking struct {
		Worker  watch `json:"worker"`
		Control watch `json:"control"`
	} `json:"blocking"`
	Snippets map[string]struct {
		Type    string      `json:"type"`
		Outputs [][]float64 `json:"outputs"`
	} `json:"snippets"`
	Coldstart map[string][]struct {
		Ms     float64   `json:"ms"`
		Output []float64 `json:"output"`
	} `json:"coldstart"`
}

type watch struct {
	MaxGapMs    float64   `json:"maxGapMs"`
	PerRunGapMs []float64 `json:"perRunGapMs"`
	LongTasksMs []float64 `json:"longTasksMs"`
	LongTaskAPI bool      `json:"longTaskAPI"`
	RunsMs      []float64 `json:"runsMs"`    // the Worker's runs
	BlockedMs   []float64 `json:"blockedMs"` // the control's main-thread tasks
}

// mainBlockMs bounds the page's longest main-thread task while a model runs
// in a Worker (issue 12).
const mainBlockMs = 50

// TestBrowsers serves the demo (server.mjs) with the shared models compiled
// as build.sh does, and drives headless Chromium (playwright-core) and
// Firefox (WebDriver BiDi) through it: the demo's MNIST and mobilenet_v2
// paths in Workers, the package's own tests in a page, a module over 8 MB
// loaded on the main thread, the main thread's longest task while the
// Worker runs, and one onnxruntime-web snippet both on onnxruntime-web and,
// with only its import changed, on mlc's adapter. Every output is compared
// with ONNX Runtime's golden outputs with the model's meta.json tolerance,
// as mlc verify does. Chromium also measures fetch-to-first-result against
// onnxruntime-web (reported, not asserted: timings are for benchmarks).
//
// In Chromium it also runs a module compiled with --threads 2 on two
// threads (checkThreads).
//
// MLC_SCREENSHOT=FILE saves the demo's screenshot (docs/browser-demo.png);
// MLC_COLDSTART=N sets the number of fetch-to-first-result pairs (default 3).
func TestBrowsers(t *testing.T) {
	node := testenv.Node(t)
	shared := testenv.Shared(t)
	root := testenv.Root()
	here := filepath.Join(root, "examples", "browser")
	need(t, filepath.Join(here, "node_modules", "playwright-core"), "playwright-core is not installed: run npm ci in examples/browser")
	need(t, filepath.Join(root, "bench", "node_modules", "onnxruntime-web", "dist", "ort.wasm.min.mjs"), "onnxruntime-web is not installed: run npm ci in bench")
	browsers := map[string]string{
		"chromium": findBrowser(t, "MLC_CHROMIUM", "chromium", "chromium-browser"),
		"firefox":  findBrowser(t, "MLC_FIREFOX", "firefox-esr", "firefox"),
	}

	site := t.TempDir()
	models := []model{{Name: "mnist_cntk", Role: "mnist"}, {Name: "mobilenet_v2", Role: "mobilenet"}}
	for i := range models {
		build(t, &models[i], filepath.Join(shared, "models", models[i].Name), site)
	}
	url := serve(t, node, here, site, filepath.Join(shared, "models"))

	for _, name := range []string{"chromium", "firefox"} {
		t.Run(name, func(t *testing.T) {
			exe := browsers[name]
			if exe == "" {
				testenv.Missing(t, name+" is not installed (Debian: apt-get install chromium firefox-esr)")
			}
			p := plan{URL: url, Browser: name, Executable: exe, Models: models, Big: "mobilenet_v2", BlockingRuns: 8}
			if name == "chromium" {
				p.Screenshot = os.Getenv("MLC_SCREENSHOT")
				p.Coldstart = 3
				if n, err := fmt.Sscan(os.Getenv("MLC_COLDSTART"), &p.Coldstart); n == 0 || err != nil {
					p.Coldstart = 3
				}
			}
			r := drive(t, node, here, p)
			check(t, p, r)
		})
	}
	t.Run("chromium_threads", func(t *testing.T) {
		exe := browsers["chromium"]
		if exe == "" {
			testenv.Missing(t, "chromium is not installed (Debian: apt-get install chromium)")
		}
		checkThreads(t, node, here, exe, filepath.Join(shared, "models"), site, url)
	})
}

// checkThreads runs test/threads-check.mjs in Chromium: squeezenet1_1
// compiled with one thread (sq1) and with --threads 2 (sq2), loaded with
// loadWorker({threads: 2}). Served cross-origin isolated, sq2 runs on two
// threads; served as the demo is (not isolated), on one thread with a
// warning; both give the single-threaded module's exact output bits.
func checkThreads(t *testing.T, node, here, exe, models, site, plainURL string) {
	dir := t.TempDir()
	for name, threads := range map[string]int{"sq1": 1, "sq2": 2} {
		o := mlc.DefaultOptions()
		o.Threads = threads
		res, err := mlc.CompileFile(filepath.Join(models, "squeezenet1_1", "model.onnx"), o)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{dir, site} {
			if err := os.WriteFile(filepath.Join(d, name+".wasm"), res.Wasm, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	isolatedURL := serve(t, node, here, dir, models, "--isolate")
	type run struct {
		Hash     uint32   `json:"hash"`
		Threads  int      `json:"threads"`
		Warnings []string `json:"warnings"`
	}
	for _, c := range []struct {
		url      string
		isolated bool
	}{{isolatedURL, true}, {plainURL, false}} {
		cmd := exec.Command(node, "test/threads-check.mjs", c.url, exe)
		cmd.Dir = here
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("threads-check.mjs %s: %v", c.url, err)
		}
		var r struct {
			Isolated bool `json:"isolated"`
			Sq1      run  `json:"sq1"`
			Sq2      run  `json:"sq2"`
		}
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("threads-check.mjs: %v in %q", err, out)
		}
		t.Logf("isolated %v: sq1 %+v, sq2 %+v", r.Isolated, r.Sq1, r.Sq2)
		want := 1
		if c.isolated {
			want = 2
		}
		if r.Isolated != c.isolated || r.Sq2.Threads != want || (len(r.Sq2.Warnings) == 0) == !c.isolated {
			t.Errorf("served isolated %v: page isolated %v, the threaded module got %d threads (want %d), warnings %q", c.isolated, r.Isolated, r.Sq2.Threads, want, r.Sq2.Warnings)
		}
		if r.Sq1.Hash != r.Sq2.Hash {
			t.Errorf("served isolated %v: the threaded module's output bits (hash %08x) differ from the single-threaded one's (%08x)", c.isolated, r.Sq2.Hash, r.Sq1.Hash)
		}
	}
}

// build compiles a shared model as build.sh does (default options, the
// bindings and runtime beside it) and writes its data sets' inputs as raw
// bytes for the pages.
func build(t *testing.T, m *model, dir, site string) {
	t.Helper()
	res, err := mlc.CompileFile(filepath.Join(dir, "model.onnx"), mlc.DefaultOptions())
	if err != nil {
		t.Fatalf("%s: %v", m.Name, err)
	}
	m.wasmBytes = len(res.Wasm)
	if _, err := jsshim.WriteBindings(site, res.Wasm, jsshim.BindingOptions{Name: m.Name}); err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Tolerance struct{ RTol, ATol float64 } `json:"tolerance"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err == nil {
		err = json.Unmarshal(b, &meta)
	}
	if err != nil || meta.Tolerance.RTol == 0 {
		t.Fatalf("%s/meta.json has no tolerance: %v", dir, err)
	}
	m.rtol, m.atol = meta.Tolerance.RTol, meta.Tolerance.ATol
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	slices.Sort(sets)
	for k, set := range sets {
		in, _, err := frontend.ReadTensorFile(filepath.Join(set, "input_0.pb"))
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := frontend.ReadTensorFile(filepath.Join(set, "output_0.pb"))
		if err != nil {
			t.Fatal(err)
		}
		if in.DType != ir.Float32 || out.DType != ir.Float32 {
			t.Fatalf("%s: the pages feed and read float32 only", set)
		}
		if err := os.WriteFile(filepath.Join(site, fmt.Sprintf("%s.input_%d.bin", m.Name, k)), in.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		m.Dims = in.Shape
		m.golden = append(m.golden, out)
	}
	m.Sets = len(sets)
}

// serve starts the demo's server on 127.0.0.1 and returns its URL.
func serve(t *testing.T, node, here, site, onnx string, args ...string) string {
	t.Helper()
	cmd := exec.Command(node, append([]string{"server.mjs", "--port", "0", "--models", site, "--onnx", onnx}, args...)...)
	cmd.Dir = here
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if err != nil || !ok {
		t.Fatalf("server.mjs: %q, %v", line, err)
	}
	return url
}

func drive(t *testing.T, node, here string, p plan) *report {
	t.Helper()
	dir := t.TempDir()
	pf, of := filepath.Join(dir, "plan.json"), filepath.Join(dir, "out.json")
	b, _ := json.Marshal(p)
	if err := os.WriteFile(pf, b, 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cmd := exec.Command(node, "--experimental-websocket", "--no-warnings", filepath.Join("test", "drive.mjs"), pf, of)
	cmd.Dir = here
	out, err := cmd.CombinedOutput()
	t.Logf("drive.mjs (%.1f s):\n%s", time.Since(start).Seconds(), out)
	if err != nil {
		t.Fatalf("drive.mjs: %v", err)
	}
	var r report
	b, err = os.ReadFile(of)
	if err == nil {
		err = json.Unmarshal(b, &r)
	}
	if err != nil {
		t.Fatalf("drive.mjs's report: %v", err)
	}
	return &r
}

func check(t *testing.T, p plan, r *report) {
	t.Logf("%s", r.Browser)
	byName := map[string]*model{}
	for i := range p.Models {
		byName[p.Models[i].Name] = &p.Models[i]
	}
	// golden compares outputs (those of the first sets data sets) with ONNX Runtime's.
	golden := func(what string, m *model, outputs [][]float64, sets int) {
		t.Helper()
		if len(outputs) != sets {
			t.Errorf("%s: %d outputs, want %d", what, len(outputs), sets)
			return
		}
		worst := verify.OutputResult{}
		for k, got := range outputs {
			if msg := verify.Compare(tensorOf(got, m.golden[k].Shape), m.golden[k], m.rtol, m.atol, &worst); msg != "" {
				t.Errorf("%s, data set %d: %s (rtol %g, atol %g)", what, k, msg, m.rtol, m.atol)
			}
		}
		t.Logf("%s: %d data sets within rtol %g atol %g of ONNX Runtime's (max abs err %.3g)", what, sets, m.rtol, m.atol, worst.MaxAbsErr)
	}

	// The demo's two paths, in Workers.
	for _, m := range p.Models {
		d, ok := r.Demo[m.Name]
		if !ok {
			t.Errorf("the demo did not run %s", m.Name)
			continue
		}
		golden("demo "+m.Name+" (Worker)", byName[m.Name], d.Outputs, m.Sets)
		t.Logf("demo %s: %d bytes, loaded in %.0f ms, latencies %s ms", m.Name, d.Bytes, d.LoadMs, ms(d.LatenciesMs))
	}
	if p.Browser == "chromium" {
		// drive.mjs draws a 7 on the pad with the mouse and clicks "Sample image".
		if r.UI == nil || r.UI.Digit != "7" || len(r.UI.Top5) != 5 {
			t.Errorf("the demo's UI, after drawing a 7 and picking the sample image, shows %+v: want the digit 7 and a top-5", r.UI)
		} else {
			t.Logf("demo UI: the stroke reads as %s; sample image top-5 %q", r.UI.Digit, r.UI.Top5)
		}
	}

	// The package's own tests, in the page.
	if len(r.PackageTests) == 0 {
		t.Error("the package's tests did not run in the page")
	}
	for _, c := range r.PackageTests {
		if !c.OK {
			t.Errorf("package test %q in %s: %s", c.Name, r.Browser, c.Error)
		}
	}
	t.Logf("package tests in the page: %d run", len(r.PackageTests))

	// A module over 8 MB, loaded from its URL on the main thread.
	big := byName[p.Big]
	if big.wasmBytes <= 8<<20 || r.MainThread.Bytes != big.wasmBytes {
		t.Errorf("main-thread load: the page fetched %d bytes of a %d-byte module; the case needs one over 8 MB", r.MainThread.Bytes, big.wasmBytes)
	}
	golden(fmt.Sprintf("main thread %s (%.1f MB, loaded from its URL in %.0f ms)", big.Name, float64(big.wasmBytes)/(1<<20), r.MainThread.LoadMs), big, r.MainThread.Outputs, big.Sets)

	// The Worker does not block the page. The longest task is what the Long
	// Tasks API reports (Chromium): none of 50 ms or more. Without that API
	// (Firefox) the gaps between timer ticks stand in for it; on a loaded
	// machine a gap also counts the time the thread waited for a core, so
	// there the median over runs of each run's longest gap is held to the
	// bound (a run() that blocked would show in every run). The control,
	// 150 ms tasks on the main thread, must be seen by the same watch.
	w, c := r.Blocking.Worker, r.Blocking.Control
	t.Logf("%d runs of %s in a Worker (%s ms): long tasks %s (Long Tasks API: %v), longest timer gap %.1f ms, per run %s ms; control: main-thread tasks of %s ms seen as long tasks %s, gap %.1f ms",
		len(w.RunsMs), p.Big, ms(w.RunsMs), ms(w.LongTasksMs), w.LongTaskAPI, w.MaxGapMs, ms(w.PerRunGapMs), ms(c.BlockedMs), ms(c.LongTasksMs), c.MaxGapMs)
	if len(w.RunsMs) != p.BlockingRuns || len(c.BlockedMs) == 0 {
		t.Errorf("the blocking check did not run: %+v", r.Blocking)
	} else if w.LongTaskAPI {
		if len(w.LongTasksMs) > 0 {
			t.Errorf("while %s ran in a Worker the page's main thread ran tasks of %s ms: want none of %d ms or more", p.Big, ms(w.LongTasksMs), mainBlockMs)
		}
		if len(c.LongTasksMs) < len(c.BlockedMs) || slices.Max(c.LongTasksMs) < 0.9*slices.Min(c.BlockedMs) {
			t.Errorf("the Long Tasks API missed the control's main-thread tasks (%s ms, reported %s ms): the check cannot be trusted", ms(c.BlockedMs), ms(c.LongTasksMs))
		}
	} else if median(w.PerRunGapMs) >= mainBlockMs {
		t.Errorf("while %s ran in a Worker the page's main thread stalled for %s ms per run: want a median under %d ms", p.Big, ms(w.PerRunGapMs), mainBlockMs)
	}
	if c.MaxGapMs < 0.9*slices.Min(c.BlockedMs) {
		t.Errorf("the timer watch missed the control's main-thread tasks (%s ms, longest gap %.1f ms): the check cannot be trusted", ms(c.BlockedMs), c.MaxGapMs)
	}

	// One onnxruntime-web snippet, on onnxruntime-web and on mlc's adapter.
	for _, which := range []string{"ort", "mlc"} {
		for _, mm := range p.Models {
			s, ok := r.Snippets[which+"/"+mm.Name]
			if !ok {
				t.Errorf("the ORT-web snippet (%s) did not run on %s", which, mm.Name)
				continue
			}
			golden(fmt.Sprintf("ORT-web snippet on %s, %s", map[string]string{"ort": "onnxruntime-web", "mlc": "mlc's adapter"}[which], mm.Name), byName[mm.Name], s.Outputs, mm.Sets)
		}
	}

	// Fetch to first result.
	if p.Coldstart > 0 {
		med := map[string]float64{}
		for _, e := range []string{"mlc", "ort"} {
			runs := r.Coldstart[e]
			var msList []float64
			for _, c := range runs {
				golden(fmt.Sprintf("fetch-to-first-result %s", e), big, [][]float64{c.Output}, 1)
				msList = append(msList, c.Ms)
			}
			if len(msList) != p.Coldstart {
				t.Errorf("fetch to first result, %s: %d runs, want %d", e, len(msList), p.Coldstart)
				return
			}
			med[e] = median(msList)
			t.Logf("fetch to first result, %s, %s: %s ms (median %.0f)", big.Name, e, ms(msList), med[e])
		}
		t.Logf("fetch to first result, %s: mlc/onnxruntime-web = %.3f (median of %d fresh contexts each, alternating)", big.Name, med["mlc"]/med["ort"], p.Coldstart)
	}
}

func tensorOf(v []float64, shape ir.Shape) *ir.Tensor {
	t := ir.NewTensor(ir.Float32, shape)
	if len(v) != shape.Size() {
		return &ir.Tensor{Type: ir.Type{DType: ir.Float32, Shape: ir.Shape{len(v)}}, Data: make([]byte, 4*len(v))}
	}
	for i, x := range v {
		binary.LittleEndian.PutUint32(t.Data[4*i:], math.Float32bits(float32(x)))
	}
	return t
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.1f", x)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// findBrowser returns $env, or the first of names on PATH, or "".
func findBrowser(t *testing.T, env string, names ...string) string {
	if p := os.Getenv(env); p != "" {
		return p
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

func need(t *testing.T, path, why string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		testenv.Missing(t, why)
	}
}

// TestSnippetImportOnly checks the claim TestBrowsers rests on: the
// onnxruntime-web snippet run on mlc's adapter is the one run on
// onnxruntime-web with only its import line changed.
func TestSnippetImportOnly(t *testing.T) {
	read := func(name string) []string {
		b, err := os.ReadFile(filepath.Join("test", name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(string(b), "\n")
	}
	ortLines, mlcLines := read("snippet-ort.mjs"), read("snippet-mlc.mjs")
	if len(ortLines) != len(mlcLines) {
		t.Fatalf("the snippets have %d and %d lines", len(ortLines), len(mlcLines))
	}
	var diff []string
	for i := range ortLines {
		if ortLines[i] != mlcLines[i] {
			diff = append(diff, ortLines[i]+" | "+mlcLines[i])
		}
	}
	want := `import * as ort from "/ort/ort.wasm.min.mjs"; | import * as ort from "/runtime/ort.mjs";`
	if len(diff) != 1 || diff[0] != want {
		t.Errorf("the snippets differ in %q, want only the import line", diff)
	}
}
