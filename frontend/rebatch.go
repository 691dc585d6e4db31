package frontend

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/ir"
)

// Re-batching: --input-shape may give the first dimension of an input that
// the model fixes at 1 another size, so that a model exported with batch 1
// runs batches. That is only right when nothing in the graph depends on the
// batch being 1. Two checks decide it, both on the model as given:
//
//   - no Reshape of data that depends on a re-batched input has a literal
//     target shape (an initializer or Constant) whose first entry is a
//     fixed 1 rather than 0 (copy) or -1 (infer): such a Reshape would fold
//     the batch into another dimension;
//   - imported with batch 1 and with the batch asked for, every graph
//     output has the same shape but for a first dimension of 1 that became
//     the new batch (this catches a Slice taking the first item, a Squeeze
//     of the batch, a Reshape to [-1], ...).
//
// Anything else gets an error saying why re-batching is not possible.

// rebatchable reports whether dimension i of an input, dim in the model,
// may be pinned to want by re-batching.
func rebatchable(i int, dim int64, want int) bool {
	return i == 0 && dim == 1 && want > 1
}

// rebatchedInputs lists the main graph inputs that opts re-batch.
func rebatchedInputs(gp *onnxpb.GraphProto, opts Options) map[string]bool {
	out := map[string]bool{}
	for _, vi := range gp.Input {
		pinned, ok := opts.InputShapes[vi.GetName()]
		dims := vi.GetType().GetTensorType().GetShape().GetDim()
		if !ok || len(dims) == 0 || len(pinned) != len(dims) {
			continue
		}
		if d := dims[0]; d.GetDimParam() == "" && d.Value != nil && rebatchable(0, d.GetDimValue(), pinned[0]) {
			out[vi.GetName()] = true
		}
	}
	return out
}

// rebatchWhat names what is re-batched, for messages.
func rebatchWhat(batched map[string]bool, opts Options) string {
	names := slices.Sorted(maps.Keys(batched))
	if len(names) > 1 {
		return fmt.Sprintf("re-batching inputs %s", strings.Join(names, ", "))
	}
	return fmt.Sprintf("re-batching input %q to %d", names[0], opts.InputShapes[names[0]][0])
}

// precheckRebatch runs the first check, before the import, so that a
// literal Reshape is named rather than the shape error it leads to.
func precheckRebatch(mp *onnxpb.ModelProto, opts Options) error {
	batched := rebatchedInputs(mp.Graph, opts)
	if len(batched) == 0 {
		return nil
	}
	if err := literalBatchReshape(mp.Graph, batched); err != nil {
		return fmt.Errorf("%s is not possible: %w (the model fixes the batch at 1; export it with a dynamic batch dimension)", rebatchWhat(batched, opts), err)
	}
	return nil
}

// checkRebatch runs the second check on a graph g imported from mp with the
// re-batched inputs b.rebatched.
func (b *builder) checkRebatch(mp *onnxpb.ModelProto, dir string, g *ir.Graph) error {
	if len(b.rebatched) == 0 {
		return nil
	}
	what := rebatchWhat(b.rebatched, b.opts)
	names := slices.Sorted(maps.Keys(b.rebatched))
	// The same model at batch 1.
	one := Options{InputShapes: map[string]ir.Shape{}, InputValues: b.opts.InputValues}
	for k, v := range b.opts.InputShapes {
		if b.rebatched[k] {
			v = v.Clone()
			v[0] = 1
		}
		one.InputShapes[k] = v
	}
	m1, err := ImportProto(mp, dir, one)
	if err != nil {
		return fmt.Errorf("%s: the model does not import at batch 1: %w", what, err)
	}
	batch := b.opts.InputShapes[names[0]][0]
	for i, v := range g.Outputs {
		s1, sb := m1.Graph.Outputs[i].Type.Shape, v.Type.Shape
		want := s1.Clone()
		if len(want) > 0 && want[0] == 1 {
			want[0] = batch
		}
		if len(s1) == 0 || s1[0] != 1 || !sb.Equal(want) {
			return fmt.Errorf("%s is not possible: output %q is %s at batch 1 but %s at batch %d, not %s (the graph depends on the batch being 1)", what, v.Name, s1, sb, batch, want)
		}
	}
	return nil
}

// literalBatchReshape finds a Reshape, among the nodes reading (through any
// path) the inputs in batched, whose literal target shape starts with 1.
func literalBatchReshape(gp *onnxpb.GraphProto, batched map[string]bool) error {
	literal := map[string]*onnxpb.TensorProto{}
	for _, t := range gp.Initializer {
		literal[t.GetName()] = t
	}
	ints := map[string][]int64{}
	for _, n := range gp.Node {
		if n.GetOpType() != "Constant" || len(n.Output) != 1 {
			continue
		}
		for _, a := range n.Attribute {
			switch a.GetName() {
			case "value":
				literal[n.Output[0]] = a.T
			case "value_ints":
				ints[n.Output[0]] = a.Ints
			}
		}
	}
	depends := map[string]bool{}
	for n := range batched {
		depends[n] = true
	}
	for _, n := range topoSorted(gp.Node) {
		reads := false
		for _, in := range n.Input {
			reads = reads || depends[in]
		}
		if !reads {
			continue
		}
		for _, out := range n.Output {
			depends[out] = true
		}
		if n.GetOpType() != "Reshape" || len(n.Input) < 2 || !depends[n.Input[0]] {
			continue
		}
		shape, ok := ints[n.Input[1]]
		if t := literal[n.Input[1]]; t != nil {
			v, err := TensorFromProto(t, "")
			if err != nil || !v.DType.IsInt() {
				continue
			}
			for i := 0; i < v.Len(); i++ {
				shape = append(shape, v.Int(i))
			}
			ok = true
		}
		if ok && len(shape) > 0 && shape[0] == 1 {
			dims := make([]string, len(shape))
			for i, d := range shape {
				dims[i] = fmt.Sprint(d)
			}
			return fmt.Errorf("Reshape node %q reshapes to the literal shape [%s], whose first dimension is a fixed 1", n.GetName(), strings.Join(dims, ","))
		}
	}
	return nil
}
