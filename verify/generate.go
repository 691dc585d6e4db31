package verify

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/mlc-compiler/mlc"
	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/ir"
)

// compileModel is mlc.Compile; tests replace it to break a kernel on
// purpose and see verification catch it.
var compileModel = mlc.Compile

// GeneratedCase is a model with inputs drawn by Inputs and the reference
// interpreter's outputs for them: a golden case made without golden data.
type GeneratedCase struct {
	Model       []byte
	InputNames  []string
	Inputs      []*ir.Tensor
	OutputNames []string
	Outputs     []*ir.Tensor
	Tolerance   Tolerance
}

// Generated verifies a model without golden data: it draws seeded inputs
// (Inputs), computes the outputs with the reference interpreter (package
// ir, which shares no code with the kernels), and compares the compiled
// module's outputs on o.Runner (and o.Also) with them at o.Tolerance, or
// else GeneratedTolerance. Dynamic input dimensions need
// o.Compile.InputShapes. The case is returned for Save, also when the module
// fails (nil when there was nothing to save).
func Generated(ctx context.Context, modelPath string, o Options) (res CaseResult, gc *GeneratedCase) {
	res.Case = modelPath
	defer recoverCase(&res)
	res.Tolerance, res.ToleranceFrom = GeneratedTolerance, "generated"
	if o.Tolerance != nil {
		res.Tolerance, res.ToleranceFrom = *o.Tolerance, "flags"
	}
	data, err := os.ReadFile(modelPath)
	if err != nil {
		return classify(res, err), nil
	}
	dir := filepath.Dir(modelPath)
	fo, err := o.Compile.Frontend()
	if err != nil {
		return classify(res, err), nil
	}
	m, err := frontend.Import(data, dir, fo)
	if err != nil {
		return classify(res, err), nil
	}
	feeds, err := Inputs(m.Graph, o.Seed)
	if err != nil {
		return classify(res, err), nil
	}
	env := ir.Env{}
	gc = &GeneratedCase{Model: data, Tolerance: res.Tolerance}
	for _, v := range m.Graph.Inputs {
		env[v] = feeds[v.Name]
	}
	mp, err := frontend.Decode(data)
	if err != nil {
		return classify(res, err), nil
	}
	names, err := runtimeInputs(mp)
	if err != nil {
		return classify(res, err), nil
	}
	for _, name := range names {
		t, ok := feeds[name]
		if !ok {
			return classify(res, fmt.Errorf("model input %q is not a graph input after import", name)), nil
		}
		gc.InputNames, gc.Inputs = append(gc.InputNames, name), append(gc.Inputs, t)
	}
	// The interpreter may write into tensors it is given: run it on copies.
	for v, t := range env {
		env[v] = t.Clone()
	}
	want, err := ir.Run(m.Graph, env)
	if err != nil {
		return classifyAt(res, "reference", fmt.Errorf("reference interpreter: %w", err)), nil
	}
	for i, v := range m.Graph.Outputs {
		gc.OutputNames, gc.Outputs = append(gc.OutputNames, v.Name), append(gc.Outputs, want[i])
	}
	set := dataSet{dir: "generated", inputs: gc.Inputs, outputs: gc.Outputs}
	return run(ctx, res, data, dir, []dataSet{set}, o), gc
}

// Save writes the case into dir in the ONNX backend-test layout, so that
// `mlc verify DIR` checks it: model.onnx and what SaveData writes.
func (gc *GeneratedCase) Save(dir string) error {
	if err := gc.SaveData(dir); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "model.onnx"), gc.Model, 0o644)
}

// SaveData writes the data of the case into dir, for Check with the model
// kept elsewhere: test_data_set_0/input_N.pb and output_N.pb, and a
// MetaFile with the tolerance.
func (gc *GeneratedCase) SaveData(dir string) error {
	set := filepath.Join(dir, "test_data_set_0")
	if err := os.MkdirAll(set, 0o755); err != nil {
		return err
	}
	for kind, ts := range map[string][]*ir.Tensor{"input": gc.Inputs, "output": gc.Outputs} {
		names := gc.InputNames
		if kind == "output" {
			names = gc.OutputNames
		}
		for i, t := range ts {
			if err := frontend.WriteTensorFile(filepath.Join(set, fmt.Sprintf("%s_%d.pb", kind, i)), names[i], t); err != nil {
				return err
			}
		}
	}
	return WriteCaseTolerance(dir, gc.Tolerance, "made by mlc verify MODEL.onnx --save: seeded inputs, outputs of mlc's reference interpreter")
}

// Inputs draws a value for every input of g from seed, by what the input
// is for:
//   - an integer input that reaches the indices of Gather, GatherElements,
//     GatherND or OneHot (through views and casts) takes values in
//     [0, n), n the smallest dimension it indexes, so that lookups such as
//     token ids stay in range;
//   - bool inputs and integer inputs whose name contains "mask" are all
//     ones (true): masks let everything through;
//   - other int8 and uint8 inputs (quantized images) span their type;
//     other integer inputs are ones;
//   - float inputs are uniform in [-1, 1).
func Inputs(g *ir.Graph, seed int64) (map[string]*ir.Tensor, error) {
	r := rand.New(rand.NewPCG(uint64(seed), 0x6d6c63))
	uses := g.Uses()
	out := map[string]*ir.Tensor{}
	for _, v := range g.Inputs {
		t := ir.NewTensor(v.Type.DType, v.Type.Shape)
		n := t.Len()
		dt := v.Type.DType
		switch {
		case dt == ir.String:
			return nil, &ir.Unsupported{Where: fmt.Sprintf("input %q", v.Name), What: "string inputs"}
		case dt.IsFloat():
			for i := 0; i < n; i++ {
				t.SetFloat(i, 2*r.Float64()-1)
			}
		case dt == ir.Bool:
			fill(t, 1)
		default:
			limit := indexLimit(v, uses)
			switch {
			case limit > 0:
				for i := 0; i < n; i++ {
					t.SetInt(i, r.Int64N(int64(limit)))
				}
			case strings.Contains(strings.ToLower(v.Name), "mask"):
				fill(t, 1)
			case dt == ir.Uint8:
				for i := 0; i < n; i++ {
					t.SetInt(i, r.Int64N(256))
				}
			case dt == ir.Int8:
				for i := 0; i < n; i++ {
					t.SetInt(i, r.Int64N(256)-128)
				}
			default:
				fill(t, 1)
			}
		}
		out[v.Name] = t
	}
	return out, nil
}

func fill(t *ir.Tensor, v int64) {
	for i := 0; i < t.Len(); i++ {
		t.SetInt(i, v)
	}
}

// indexLimit follows v through views and casts to the ops that index with
// it and returns the smallest extent it indexes (0: v indexes nothing).
func indexLimit(v *ir.Value, uses map[*ir.Value][]*ir.Node) int {
	limit := 0
	take := func(n int) {
		if n > 0 && (limit == 0 || n < limit) {
			limit = n
		}
	}
	seen := map[*ir.Value]bool{}
	var walk func(v *ir.Value)
	walk = func(v *ir.Value) {
		if seen[v] {
			return
		}
		seen[v] = true
		for _, n := range uses[v] {
			for slot, in := range n.Inputs {
				if in != v {
					continue
				}
				switch op := n.Op.(type) {
				case *ir.Gather:
					if slot == 1 {
						take(dimAt(n.Inputs[0], op.Axis))
					}
				case *ir.GatherElements:
					if slot == 1 {
						take(dimAt(n.Inputs[0], op.Axis))
					}
				case *ir.GatherND:
					if slot == 1 {
						data := n.Inputs[0].Type.Shape
						for d := op.BatchDims; d < len(data); d++ {
							take(data[d])
						}
					}
				case *ir.OneHot:
					if slot == 0 && n.Inputs[1] != nil && n.Inputs[1].Const != nil && n.Inputs[1].Const.Len() == 1 {
						take(int(n.Inputs[1].Const.Float(0)))
					}
				case *ir.Cast:
					if slot == 0 && op.To.IsInt() && len(n.Outputs) > 0 && n.Outputs[0] != nil {
						walk(n.Outputs[0])
					}
				case ir.Aliaser:
					if slot == 0 && len(n.Outputs) > 0 && n.Outputs[0] != nil {
						walk(n.Outputs[0])
					}
				}
			}
		}
	}
	walk(v)
	return limit
}

// dimAt is v's dimension axis (negative counts from the end), or 0.
func dimAt(v *ir.Value, axis int) int {
	s := v.Type.Shape
	if axis < 0 {
		axis += len(s)
	}
	if axis < 0 || axis >= len(s) {
		return 0
	}
	return s[axis]
}
