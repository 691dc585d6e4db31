package frontend

import (
	"fmt"
	"slices"

	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/ir"
)

// Control flow: If, Loop, Scan. Their subgraphs are imported here and typed
// by the op's Infer (ir/ops_control.go).

var controlVersions = []int{1, 11, 13, 16, 19, 21, 23, 24, 25}

func init() {
	register("If", controlVersions, "both branches must give the same static shapes unless the condition is a compile-time constant; sequence and optional outputs are not supported", func(c *nodeCtx) error {
		if err := c.Need(1); err != nil {
			return err
		}
		if cond := c.In(0); cond.Const != nil && cond.Const.Len() == 1 {
			return inlineBranch(c, cond.Const.Int(0) != 0)
		}
		// A branch that fails to import for a reason other than an
		// unsupported construct does not type with the shapes it sees: a
		// run that takes it would fail in any runtime. It is dropped (see
		// ir.If) when the other branch imports.
		then, thenErr := c.Graph("then_branch")
		els, elseErr := c.Graph("else_branch")
		op := &ir.If{Then: then, Else: els}
		switch {
		case thenErr != nil && (elseErr != nil || ir.IsUnsupported(thenErr)):
			return thenErr
		case elseErr != nil && ir.IsUnsupported(elseErr):
			return elseErr
		case thenErr != nil:
			op.Dropped = thenErr.Error()
		case elseErr != nil:
			op.Dropped = elseErr.Error()
		}
		if then != nil && els != nil && len(then.Outputs) != len(els.Outputs) {
			return fmt.Errorf("then_branch has %d outputs, else_branch %d", len(then.Outputs), len(els.Outputs))
		}
		if n := len(op.Subgraphs()[0].Outputs); c.NumOut() > n {
			return fmt.Errorf("the node has %d outputs, its branches %d", c.NumOut(), n)
		}
		return c.Emit(op, c.In(0))
	})
	register("Loop", controlVersions, "scan outputs need a compile-time trip count or a declared static output shape (a run that iterates a different number of times fails); loop-carried values must keep their shape; sequence and optional values are not supported", func(c *nodeCtx) error {
		in := c.Inputs()
		for len(in) < 2 {
			in = append(in, nil)
		}
		// The iteration number and condition keep their declared types
		// (scalars, or [1] from some exporters); Infer settles them.
		body, err := c.GraphWithInputs("body", append([]*ir.Type{nil, nil}, typesOf(in[2:])...))
		if err != nil {
			return err
		}
		n := len(in) - 2
		k := len(body.Outputs) - 1 - n
		if len(body.Inputs) != 2+n || k < 0 {
			return fmt.Errorf("the body has %d inputs and %d outputs; with %d loop-carried values it needs %d inputs and at least %d outputs", len(body.Inputs), len(body.Outputs), n, 2+n, 1+n)
		}
		if c.NumOut() > n+k {
			return fmt.Errorf("the node has %d outputs, its body gives %d", c.NumOut(), n+k)
		}
		scanLen := -1
		for j := 0; j < k; j++ {
			d, ok := c.declaredDim0(n + j)
			if !ok {
				continue
			}
			if scanLen >= 0 && d != scanLen {
				return fmt.Errorf("the model declares scan outputs of lengths %d and %d", scanLen, d)
			}
			scanLen = d
		}
		return c.Emit(&ir.Loop{Body: body, ScanLen: scanLen}, in...)
	})
	register("Scan", []int{8, 9, 11, 16, 19, 21, 23, 24, 25}, "opset 8's sequence_lens must be omitted or constant and equal to the sequence length; sequence and optional values are not supported", func(c *nodeCtx) error {
		m := c.Int("num_scan_inputs", 0)
		if c.Version < 9 {
			return importScan8(c, m)
		}
		op := &ir.Scan{NumScanInputs: m, InAxes: c.Ints("scan_input_axes", nil), OutAxes: c.Ints("scan_output_axes", nil)}
		var err error
		if op.InReverse, err = directions(c, "scan_input_directions"); err != nil {
			return err
		}
		if op.OutReverse, err = directions(c, "scan_output_directions"); err != nil {
			return err
		}
		if op.Body, err = c.GraphWithInputs("body", scanBodyTypes(op, c.Inputs())); err != nil {
			return err
		}
		return c.Emit(op, c.Inputs()...)
	})
}

// inlineBranch imports an If whose condition is a constant as the nodes of
// the branch it takes. The other branch is not imported at all: it may not
// even type with these shapes (AffineGrid's expanded function splits a 4-D
// size into 5 parts in the branch for 5-D sizes). Each output becomes an
// Identity of the branch's output, so that it keeps its name.
func inlineBranch(c *nodeCtx, cond bool) error {
	take, skip := "then_branch", "else_branch"
	if !cond {
		take, skip = skip, take
	}
	c.Has(skip)
	g, err := c.Graph(take)
	if err != nil {
		return err
	}
	if c.NumOut() > len(g.Outputs) {
		return fmt.Errorf("the node has %d outputs, its %s %d", c.NumOut(), take, len(g.Outputs))
	}
	c.g.Nodes = append(c.g.Nodes, g.Nodes...)
	for i, name := range c.np.Output {
		if name == "" {
			continue
		}
		out := &ir.Value{Name: name}
		c.sc.vals[name] = out
		if err := c.add(&ir.Node{Name: c.np.GetName(), Op: &ir.Identity{}, Inputs: []*ir.Value{g.Outputs[i]}, Outputs: []*ir.Value{out}}); err != nil {
			return err
		}
	}
	c.bound = true
	return nil
}

// GraphWithInputs imports a GRAPH attribute whose inputs receive the given
// types (nil entries stay as the model declares them).
func (c *nodeCtx) GraphWithInputs(name string, types []*ir.Type) (*ir.Graph, error) {
	a := c.attr(name)
	if a == nil || a.G == nil {
		return nil, fmt.Errorf("missing graph attribute %s", name)
	}
	c.b.inputTypes = types
	g, err := c.b.graph(a.G, c.sc, false)
	if err != nil {
		return nil, fmt.Errorf("in subgraph %s: %w", name, err)
	}
	return g, nil
}

func bindSubgraphInput(v *ir.Value, t ir.Type) error {
	if v.Type.DType != ir.Invalid && v.Type.DType != t.DType {
		return fmt.Errorf("subgraph input %q is declared %s but receives %s", v.Name, v.Type.DType, t.DType)
	}
	v.SetType(t)
	return nil
}

// typesOf returns pointers to the types of typed values (nil otherwise).
func typesOf(vs []*ir.Value) []*ir.Type {
	out := make([]*ir.Type, len(vs))
	for i, v := range vs {
		if v != nil && v.Typed() {
			t := v.Type
			out[i] = &t
		}
	}
	return out
}

// directions reads a list of 0 (forward) / 1 (reverse) flags.
func directions(c *nodeCtx, name string) ([]bool, error) {
	d := c.Ints(name, nil)
	if d == nil {
		return nil, nil
	}
	out := make([]bool, len(d))
	for i, v := range d {
		if v != 0 && v != 1 {
			return nil, fmt.Errorf("%s[%d] = %d, must be 0 or 1", name, i, v)
		}
		out[i] = v == 1
	}
	return out, nil
}

// importScan8 rewrites opset 8's batched Scan (sequence_lens, N states of
// shape [B, ...], M scan inputs of shape [B, T, ...]) as a Scan over the
// batch axis whose body is the Scan over the sequence: the outer Scan slices
// states and inputs per batch item and stacks the final states and the scan
// outputs back along axis 0.
func importScan8(c *nodeCtx, m int) error {
	rev, err := directions(c, "directions")
	if err != nil {
		return err
	}
	in := c.Inputs()
	// Per batch item the body sees states and scan inputs without axis 0,
	// and scans the sequence (now axis 0).
	var bodyTypes []*ir.Type
	if len(in) >= 1 {
		for _, t := range typesOf(in[1:]) {
			if t != nil && len(t.Shape) > 0 {
				t = &ir.Type{DType: t.DType, Shape: t.Shape[1:]}
			}
			bodyTypes = append(bodyTypes, t)
		}
	}
	body, err := c.GraphWithInputs("body", scanBodyTypes(&ir.Scan{NumScanInputs: m}, typesToValues(bodyTypes)))
	if err != nil {
		return err
	}
	if len(in) < 1+m {
		return fmt.Errorf("num_scan_inputs=%d but the node has %d inputs after sequence_lens", m, len(in)-1)
	}
	if lens := in[0]; lens != nil {
		if err := checkFullLengths(lens, in[len(in)-m:]); err != nil {
			return err
		}
	}
	vals := in[1:]
	n := len(vals) - m
	if n < 0 || len(body.Inputs) != len(vals) || len(body.Outputs) < n {
		return fmt.Errorf("the body takes %d inputs and returns %d outputs for %d states and %d scan inputs", len(body.Inputs), len(body.Outputs), n, m)
	}
	name := c.baseName()
	inner := &ir.Graph{Name: name + "/batch_item"}
	for i, v := range vals {
		if v == nil {
			return fmt.Errorf("input %d is missing", i+1)
		}
		iv := &ir.Value{Name: fmt.Sprintf("%s/batch_in_%d", name, i), Type: ir.Type{DType: v.Type.DType}}
		inner.Inputs = append(inner.Inputs, iv)
	}
	outs := make([]*ir.Value, len(body.Outputs))
	for i := range outs {
		outs[i] = &ir.Value{Name: fmt.Sprintf("%s/batch_out_%d", name, i)}
	}
	inner.Outputs = outs
	inner.Nodes = []*ir.Node{{
		Name:    c.np.GetName(),
		Op:      &ir.Scan{Body: body, NumScanInputs: m, InReverse: rev},
		Inputs:  inner.Inputs,
		Outputs: outs,
	}}
	// The inner Scan slices the per-item sequence axis, now axis 0.
	return c.Emit(&ir.Scan{Body: inner, NumScanInputs: len(vals)}, vals...)
}

// scanBodyTypes computes the body input types of a Scan from its typed
// inputs (nil entries where they are not typed yet).
func scanBodyTypes(op *ir.Scan, in []*ir.Value) []*ir.Type {
	types := typesOf(in)
	out := make([]*ir.Type, len(types))
	st := len(in) - op.NumScanInputs
	for i, t := range types {
		if t == nil || i < st {
			out[i] = t
			continue
		}
		j := i - st
		axis := 0
		if op.InAxes != nil && j < len(op.InAxes) {
			axis = op.InAxes[j]
		}
		ax, err := ir.NormAxis(axis, len(t.Shape))
		if err != nil {
			continue // Infer reports it
		}
		out[i] = &ir.Type{DType: t.DType, Shape: slices.Delete(t.Shape.Clone(), ax, ax+1)}
	}
	return out
}

// typesToValues wraps types as values for scanBodyTypes.
func typesToValues(types []*ir.Type) []*ir.Value {
	out := make([]*ir.Value, len(types))
	for i, t := range types {
		if t != nil {
			out[i] = ir.NewInput("", *t)
		}
	}
	return out
}

// checkFullLengths accepts a sequence_lens that gives every batch item the
// full sequence length: shorter sequences would leave padding the static
// outputs cannot express.
func checkFullLengths(lens *ir.Value, scans []*ir.Value) error {
	if lens.Const == nil {
		return ir.NotSupportedf("sequence_lens known only at run time")
	}
	if len(scans) == 0 || scans[0] == nil || !scans[0].Typed() || len(scans[0].Type.Shape) < 2 {
		return ir.NotSupportedf("sequence_lens with scan inputs of unknown shape")
	}
	full := int64(scans[0].Type.Shape[1])
	for i := 0; i < lens.Const.Len(); i++ {
		if lens.Const.Int(i) != full {
			return ir.NotSupportedf("sequence_lens[%d] = %d is shorter than the sequence length %d", i, lens.Const.Int(i), full)
		}
	}
	return nil
}

// declaredDim0 returns the static leading dimension the model declares for
// output i, if any: on the value itself, or on a value it flows into
// unchanged in shape (through Cast, CastLike or Identity), as when a Loop's
// scan output is cast to the graph output's dtype.
func (c *nodeCtx) declaredDim0(i int) (int, bool) {
	if i >= len(c.np.Output) || c.np.Output[i] == "" {
		return 0, false
	}
	return c.declaredDim0Of(c.np.Output[i], 0)
}

func (c *nodeCtx) declaredDim0Of(name string, depth int) (int, bool) {
	if t, ok := c.sc.declaredType(name); ok && len(t.Shape) > 0 {
		return t.Shape[0], true
	}
	if depth > 8 {
		return 0, false
	}
	d, found := 0, false
	for _, np := range c.b.users[name] {
		switch np.GetOpType() {
		case "Cast", "CastLike", "Identity":
		default:
			continue
		}
		if len(np.Input) == 0 || np.Input[0] != name || len(np.Output) == 0 {
			continue
		}
		if n, ok := c.declaredDim0Of(np.Output[0], depth+1); ok && (!found || n == d) {
			d, found = n, true
		} else if ok {
			return 0, false // conflicting declarations
		}
	}
	return d, found
}

// noteUsers records which nodes of gp read each value.
func (b *builder) noteUsers(gp *onnxpb.GraphProto) {
	if b.users == nil {
		b.users = map[string][]*onnxpb.NodeProto{}
	}
	for _, np := range gp.Node {
		for _, in := range np.Input {
			if in != "" {
				b.users[in] = append(b.users[in], np)
			}
		}
	}
}
