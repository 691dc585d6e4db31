package verify

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/internal/optest"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/ir"
)

func tinyCNN() string { return filepath.Join(testenv.Root(), "testdata", "tiny_cnn", "model.onnx") }

func wazeroOptions(t *testing.T) Options {
	t.Helper()
	w, err := NewWazeroRunner(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	o.Runner = w
	o.Compile.InputShapes = map[string][]int{"image": {2, 1, 8, 8}}
	return o
}

// TestGeneratedSaveVerify: a model verifies without golden data, and the
// case it saves verifies as a golden case in the backend-test layout.
func TestGeneratedSaveVerify(t *testing.T) {
	o := wazeroOptions(t)
	res, gc := Generated(context.Background(), tinyCNN(), o)
	if res.Status != Pass {
		t.Fatalf("%s: %s", res.Status, res.Message)
	}
	if res.ToleranceFrom != "generated" || res.Tolerance != GeneratedTolerance {
		t.Errorf("tolerance %v from %s", res.Tolerance, res.ToleranceFrom)
	}
	dir := t.TempDir()
	if err := gc.Save(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"model.onnx", "meta.json", "test_data_set_0/input_0.pb", "test_data_set_0/output_0.pb"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	// The saved case pins the input shape by its data: no flags needed.
	o.Compile.InputShapes = nil
	again := Case(context.Background(), dir, o)
	if again.Status != Pass || again.ToleranceFrom != MetaFile || again.Tolerance != GeneratedTolerance {
		t.Fatalf("saved case: %s %s (tolerance %v from %s)", again.Status, again.Message, again.Tolerance, again.ToleranceFrom)
	}
	// The same seed draws the same inputs; another seed others.
	_, gc2 := Generated(context.Background(), tinyCNN(), wazeroOptions(t))
	o3 := wazeroOptions(t)
	o3.Seed = 7
	_, gc3 := Generated(context.Background(), tinyCNN(), o3)
	if string(gc2.Inputs[0].Data) != string(gc.Inputs[0].Data) || string(gc3.Inputs[0].Data) == string(gc.Inputs[0].Data) {
		t.Error("inputs do not follow the seed")
	}
}

// TestGeneratedCatchesBrokenKernel injects wrong results into the module
// (not into the reference) and expects verification to fail and say by
// how much.
func TestGeneratedCatchesBrokenKernel(t *testing.T) {
	breakages := map[string]func(g *ir.Graph) bool{
		// A Conv kernel reading one weight 1% off.
		"conv weight": func(g *ir.Graph) bool {
			for _, n := range g.Nodes {
				if n.Op.OpType() == "Conv" && n.Inputs[1].Const != nil {
					w := n.Inputs[1].Const.Clone()
					w.SetFloat(3, w.Float(3)*1.01)
					n.Inputs[1] = &ir.Value{Name: n.Inputs[1].Name, Type: w.Type, Const: w}
					return true
				}
			}
			return false
		},
		// A Relu kernel that forgets to clamp.
		"relu": func(g *ir.Graph) bool {
			for _, n := range g.Nodes {
				if n.Op.OpType() == "Relu" {
					n.Op = &ir.Identity{}
					return true
				}
			}
			return false
		},
	}
	defer func(c func([]byte, string, mlc.Options) (*mlc.Result, error)) { compileModel = c }(compileModel)
	for name, breakIt := range breakages {
		t.Run(name, func(t *testing.T) {
			compileModel = func(model []byte, dir string, o mlc.Options) (*mlc.Result, error) {
				fo, err := o.Frontend()
				if err != nil {
					return nil, err
				}
				m, err := frontend.Import(model, dir, fo)
				if err != nil {
					return nil, err
				}
				if !breakIt(m.Graph) {
					t.Fatal("nothing to break")
				}
				return mlc.CompileGraph(m.Graph, o)
			}
			res, _ := Generated(context.Background(), tinyCNN(), wazeroOptions(t))
			if res.Status != Fail || !strings.Contains(res.Message, "would pass with --atol") {
				t.Fatalf("broken module: %s: %s", res.Status, res.Message)
			}
			t.Logf("caught: %s", res.Message)
		})
	}
}

// TestInputs: index inputs stay within what they index, masks are ones.
func TestInputs(t *testing.T) {
	emb := ir.NewTensor(ir.Float32, ir.Shape{50, 4})
	g := &onnxpb.GraphProto{
		Name: proto.String("embed"),
		Node: []*onnxpb.NodeProto{
			optest.Op("Cast", []string{"ids"}, []string{"ids32"}, optest.DType("to", ir.Int32)),
			optest.Op("Gather", []string{"emb", "ids32"}, []string{"e"}),
			optest.Op("Cast", []string{"attention_mask"}, []string{"mf"}, optest.DType("to", ir.Float32)),
			optest.Op("Unsqueeze", []string{"mf", "axes"}, []string{"mu"}),
			optest.Op("Mul", []string{"e", "mu"}, []string{"y"}),
			optest.Op("Cast", []string{"image"}, []string{"imf"}, optest.DType("to", ir.Float32)),
			optest.Op("Cast", []string{"flag"}, []string{"ff"}, optest.DType("to", ir.Float32)),
		},
		Initializer: []*onnxpb.TensorProto{frontend.TensorToProto("emb", emb), frontend.TensorToProto("axes", ir.TensorI64(nil, -1))},
		Input: []*onnxpb.ValueInfoProto{
			optest.Value("ids", ir.Int64, 3, 100), optest.Value("attention_mask", ir.Int64, 3, 100),
			optest.Value("image", ir.Uint8, 400), optest.Value("flag", ir.Bool, 2), optest.Value("x", ir.Float16, 100),
		},
		Output: []*onnxpb.ValueInfoProto{optest.Untyped("y"), optest.Untyped("imf"), optest.Untyped("ff"), optest.Untyped("x")},
	}
	m, err := frontend.Import(optest.GraphModel(13, g), "", frontend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in, err := Inputs(m.Graph, 1)
	if err != nil {
		t.Fatal(err)
	}
	ids := in["ids"]
	seen := map[int64]bool{}
	for i := 0; i < ids.Len(); i++ {
		if v := ids.Int(i); v < 0 || v >= 50 {
			t.Fatalf("id %d outside the embedding's 50 rows", v)
		}
		seen[ids.Int(i)] = true
	}
	if len(seen) < 40 {
		t.Errorf("ids take only %d of 50 values", len(seen))
	}
	for name, want := range map[string]int64{"attention_mask": 1, "flag": 1} {
		for i := 0; i < in[name].Len(); i++ {
			if in[name].Int(i) != want {
				t.Fatalf("%s[%d] = %d, want %d", name, i, in[name].Int(i), want)
			}
		}
	}
	lo, hi := int64(255), int64(0)
	for i := 0; i < in["image"].Len(); i++ {
		lo, hi = min(lo, in["image"].Int(i)), max(hi, in["image"].Int(i))
	}
	if lo > 10 || hi < 245 {
		t.Errorf("uint8 image spans only [%d, %d]", lo, hi)
	}
	x := in["x"]
	for i := 0; i < x.Len(); i++ {
		if v := x.Float(i); v < -1 || v >= 1 || x.DType != ir.Float16 {
			t.Fatalf("x[%d] = %v (%s)", i, v, x.DType)
		}
	}
}

// TestToleranceMessage: a failure says which tolerance would pass, and
// that tolerance does pass.
func TestToleranceMessage(t *testing.T) {
	want := ir.TensorF32(ir.Shape{4}, 1, 2, 0, -4)
	got := ir.TensorF32(ir.Shape{4}, 1.01, 2, 3e-5, -4)
	tol := Tolerance{RTol: 1e-3, ATol: 1e-7}
	n := &needed{}
	msg := compare(got, want, tol, &OutputResult{}, n)
	if !strings.Contains(msg, "2 of 4 elements differ") {
		t.Fatalf("message %q", msg)
	}
	d := n.describe(tol)
	if !strings.Contains(d, "--atol 0.009 ") || !strings.Contains(d, "at rtol 0.001") || strings.Contains(d, "--rtol") {
		t.Errorf("describe: %q", d) // rtol cannot pass element 2 (want 0)
	}
	if msg := compare(got, want, Tolerance{RTol: 1e-3, ATol: roundUp(n.atol)}, &OutputResult{}, &needed{}); msg != "" {
		t.Errorf("the suggested atol fails: %s", msg)
	}
	n2 := &needed{}
	compare(ir.TensorF32(ir.Shape{2}, 1.01, 2), ir.TensorF32(ir.Shape{2}, 1, 2), tol, &OutputResult{}, n2)
	if d := n2.describe(tol); !strings.Contains(d, "--rtol 0.01") {
		t.Errorf("describe: %q", d)
	}
}

// TestCaseTolerance reads meta.json's tolerance and rejects a bad one.
func TestCaseTolerance(t *testing.T) {
	dir := t.TempDir()
	if tol, from, err := CaseTolerance(dir); err != nil || from != "default" || tol != DefaultTolerance {
		t.Fatalf("no meta.json: %v %s %v", tol, from, err)
	}
	os.WriteFile(filepath.Join(dir, MetaFile), []byte(`{"source": "x", "tolerance": {"atol": 1e-4, "why": "sums"}}`), 0o644)
	if tol, from, err := CaseTolerance(dir); err != nil || from != MetaFile || tol != (Tolerance{RTol: 1e-3, ATol: 1e-4}) {
		t.Fatalf("meta.json: %v %s %v", tol, from, err)
	}
	os.WriteFile(filepath.Join(dir, MetaFile), []byte(`{"tolerance": {"rtol": -1}}`), 0o644)
	if _, _, err := CaseTolerance(dir); err == nil {
		t.Fatal("a negative rtol was accepted")
	}
}
