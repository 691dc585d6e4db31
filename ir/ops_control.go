package ir

import (
	"fmt"
	"slices"
)

// Control flow: If, Loop and Scan own subgraphs. Their Infer types the
// subgraph inputs from the op's inputs and infers the subgraph, so every
// value inside has a static shape; EvalScoped runs the subgraph with the
// interpreter, the enclosing values visible.

// If runs one of two branches. Both must give outputs of one static type
// unless the condition is a constant (the importer, or the "inlineif" pass
// of opt when it folds later, then replaces the node by the branch it takes).
//
// Under a run-time condition, a branch whose nodes do not type with the
// shapes they receive (an error other than "unsupported": the model itself
// fails if it takes that branch, as Silero VAD's 8 kHz path does with a
// 16 kHz frame) is dropped when the other branch types: it becomes nil,
// Dropped says why, and a run that takes it fails with
// abi.ErrBranchNotCompiled.
type If struct {
	Then, Else *Graph
	Dropped    string
}

func (*If) OpType() string                         { return "If" }
func (o *If) Eval(in []*Tensor) ([]*Tensor, error) { return o.EvalScoped(Env{}, in) }

// Subgraphs are the branches that were not dropped.
func (o *If) Subgraphs() []*Graph {
	var gs []*Graph
	for _, g := range []*Graph{o.Then, o.Else} {
		if g != nil {
			gs = append(gs, g)
		}
	}
	return gs
}

// Taken returns the branch a constant condition selects, or nil.
func (o *If) Taken(cond *Value) *Graph {
	if cond == nil || cond.Const == nil || cond.Const.Len() != 1 {
		return nil
	}
	if cond.Const.Int(0) != 0 {
		return o.Then
	}
	return o.Else
}

func (o *If) Infer(in []*Value) ([]Type, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, fmt.Errorf("If needs a condition")
	}
	if c := in[0].Type; c.DType != Bool || c.Shape.Size() != 1 {
		return nil, fmt.Errorf("the condition must hold one bool, got %s", c)
	}
	if o.Then != nil && o.Else != nil && len(o.Then.Outputs) != len(o.Else.Outputs) {
		return nil, fmt.Errorf("then_branch has %d outputs, else_branch %d", len(o.Then.Outputs), len(o.Else.Outputs))
	}
	if in[0].Const != nil && in[0].Const.Len() == 1 {
		b := o.Taken(in[0])
		if b == nil {
			return nil, fmt.Errorf("the condition selects a branch that cannot run: %s", o.Dropped)
		}
		// The other branch may not even type with these shapes.
		if err := inferSubgraph(b, "the taken branch"); err != nil {
			return nil, err
		}
		return valueTypes(b.Outputs), nil
	}
	var thenErr, elseErr error
	if o.Then != nil {
		thenErr = inferSubgraph(o.Then, "then_branch")
	}
	if o.Else != nil {
		elseErr = inferSubgraph(o.Else, "else_branch")
	}
	switch {
	case thenErr != nil && (elseErr != nil || o.Else == nil || IsUnsupported(thenErr)):
		return nil, thenErr
	case elseErr != nil && (o.Then == nil || IsUnsupported(elseErr)):
		return nil, elseErr
	case thenErr != nil:
		o.Then, o.Dropped = nil, thenErr.Error()
	case elseErr != nil:
		o.Else, o.Dropped = nil, elseErr.Error()
	}
	if o.Then == nil {
		return valueTypes(o.Else.Outputs), nil
	}
	out := valueTypes(o.Then.Outputs)
	if o.Else == nil {
		return out, nil
	}
	for i, v := range o.Else.Outputs {
		t, e := out[i], v.Type
		if t.DType != e.DType {
			return nil, fmt.Errorf("output %d is %s in then_branch but %s in else_branch", i, t.DType, e.DType)
		}
		if !t.Shape.Equal(e.Shape) {
			return nil, NotSupportedf("output %d has shape %s in then_branch but %s in else_branch: static shapes need both branches to agree or a condition known at compile time", i, t.Shape, e.Shape)
		}
	}
	return out, nil
}

func (o *If) EvalScoped(env Env, in []*Tensor) ([]*Tensor, error) {
	b := o.Else
	if in[0].Int(0) != 0 {
		b = o.Then
	}
	if b == nil {
		return nil, fmt.Errorf("the condition selects a branch that cannot run: %s", o.Dropped)
	}
	out, err := Run(b, env)
	if err != nil {
		return nil, err
	}
	return cloneAll(out), nil
}

// Loop is ONNX Loop: inputs M (trip count, may be nil), cond (may be nil)
// and N loop-carried values; outputs the N final values and K scan outputs.
// The body takes (iteration, cond, N values) and returns (cond, N values,
// K scan elements).
//
// Scan outputs stack one element per iteration, so their length must be
// static: ScanLen when the model declares it (the trip count being known
// only at run time), else the constant trip count. A run that iterates a
// different number of times fails with a run-time error.
type Loop struct {
	Body    *Graph
	ScanLen int // declared static scan-output length, or -1
}

func (*Loop) OpType() string        { return "Loop" }
func (o *Loop) Subgraphs() []*Graph { return []*Graph{o.Body} }
func (o *Loop) Eval(in []*Tensor) ([]*Tensor, error) {
	return o.EvalScoped(Env{}, in)
}

// Counts returns N (loop-carried values) and K (scan outputs).
func (o *Loop) Counts() (n, k int) {
	n = len(o.Body.Inputs) - 2
	return n, len(o.Body.Outputs) - 1 - n
}

// FixedTrips reports whether the number of iterations is known at compile
// time: a constant trip count and no condition input.
func (o *Loop) FixedTrips(in []*Value) (int, bool) {
	if len(in) > 1 && in[1] != nil {
		return 0, false
	}
	if len(in) == 0 || in[0] == nil || in[0].Const == nil {
		return 0, false
	}
	return int(max(in[0].Const.Int(0), 0)), true
}

// StaticScanLen is the length of the scan outputs: declared, or from a
// constant trip count.
func (o *Loop) StaticScanLen(in []*Value) (int, error) {
	fixed, isFixed := o.FixedTrips(in)
	switch {
	case isFixed && o.ScanLen >= 0 && o.ScanLen != fixed:
		return 0, fmt.Errorf("the model declares scan outputs of length %d but the loop always runs %d times", o.ScanLen, fixed)
	case o.ScanLen >= 0:
		return o.ScanLen, nil
	case len(in) > 0 && in[0] != nil && in[0].Const != nil:
		// The condition may end the loop earlier; that is a run-time error.
		return int(max(in[0].Const.Int(0), 0)), nil
	}
	return 0, NotSupportedf("Loop with scan outputs whose trip count is only known at run time (and whose output shape the model does not declare): the scan outputs have no static shape")
}

func (o *Loop) Infer(in []*Value) ([]Type, error) {
	n, k := o.Counts()
	if n < 0 || k < 0 {
		return nil, fmt.Errorf("the body has %d inputs and %d outputs; it needs 2+N inputs and 1+N+K outputs", len(o.Body.Inputs), len(o.Body.Outputs))
	}
	if len(in) != 2+n {
		return nil, fmt.Errorf("Loop has %d loop-carried inputs but its body takes %d", max(len(in)-2, 0), n)
	}
	if m := in[0]; m != nil && (m.Type.DType != Int64 || m.Type.Shape.Size() != 1) {
		return nil, fmt.Errorf("the trip count M must hold one int64, got %s", m.Type)
	}
	if c := in[1]; c != nil && (c.Type.DType != Bool || c.Type.Shape.Size() != 1) {
		return nil, fmt.Errorf("the condition must hold one bool, got %s", c.Type)
	}
	if in[0] == nil && in[1] == nil {
		return nil, fmt.Errorf("Loop has neither a trip count nor a condition: it never ends")
	}
	if err := bindInput(o.Body.Inputs[0], scalarLike(o.Body.Inputs[0], Int64), "iteration number"); err != nil {
		return nil, err
	}
	if err := bindInput(o.Body.Inputs[1], scalarLike(o.Body.Inputs[1], Bool), "condition"); err != nil {
		return nil, err
	}
	for i := 0; i < n; i++ {
		if in[2+i] == nil {
			return nil, fmt.Errorf("loop-carried input %d is missing", i)
		}
		if err := bindInput(o.Body.Inputs[2+i], in[2+i].Type, "loop-carried input"); err != nil {
			return nil, err
		}
	}
	if err := inferSubgraph(o.Body, "the body"); err != nil {
		return nil, err
	}
	if c := o.Body.Outputs[0].Type; c.DType != Bool || c.Shape.Size() != 1 {
		return nil, fmt.Errorf("the body's condition output must hold one bool, got %s", c)
	}
	out := make([]Type, 0, n+k)
	for i := 0; i < n; i++ {
		t, u := in[2+i].Type, o.Body.Outputs[1+i].Type
		if err := sameCarried(t, u, i); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if k > 0 {
		l, err := o.StaticScanLen(in)
		if err != nil {
			return nil, err
		}
		for _, v := range o.Body.Outputs[1+n:] {
			out = append(out, Type{DType: v.Type.DType, Shape: append(Shape{l}, v.Type.Shape...)})
		}
	}
	return out, nil
}

func (o *Loop) EvalScoped(env Env, in []*Tensor) ([]*Tensor, error) {
	n, k := o.Counts()
	body := o.Body
	var trips int64
	if in[0] != nil {
		trips = in[0].Int(0)
	}
	cond := true
	if in[1] != nil {
		cond = in[1].Int(0) != 0
	}
	state := slices.Clone(in[2 : 2+n])
	var scans [][]*Tensor
	scanLen := -1
	if k > 0 {
		scanLen = o.ScanLen
		if scanLen < 0 {
			scanLen = int(max(trips, 0))
		}
		scans = make([][]*Tensor, k)
	}
	it := int64(0)
	for (in[0] == nil || it < trips) && (in[1] == nil || cond) {
		if k > 0 && it >= int64(scanLen) {
			return nil, fmt.Errorf("the loop runs more than the %d iterations of its static scan-output length", scanLen)
		}
		if err := env.spendIteration(); err != nil {
			return nil, err
		}
		iter := NewTensor(Int64, body.Inputs[0].Type.Shape)
		iter.SetInt(0, it)
		c := NewTensor(Bool, body.Inputs[1].Type.Shape)
		if cond {
			c.SetInt(0, 1)
		}
		env[body.Inputs[0]], env[body.Inputs[1]] = iter, c
		for i, t := range state {
			env[body.Inputs[2+i]] = t
		}
		out, err := Run(body, env)
		if err != nil {
			return nil, err
		}
		cond = out[0].Int(0) != 0
		for i := range state {
			state[i] = out[1+i].Clone()
		}
		for j := range scans {
			scans[j] = append(scans[j], out[1+n+j].Clone())
		}
		it++
	}
	if k > 0 && it != int64(scanLen) {
		return nil, fmt.Errorf("the loop ran %d iterations but its static scan-output length is %d", it, scanLen)
	}
	res := cloneAll(state)
	for j, elems := range scans {
		t := body.Outputs[1+n+j].Type
		y, err := stack(elems, t, scanLen, 0, nil)
		if err != nil {
			return nil, err
		}
		res = append(res, y)
	}
	return res, nil
}

// Scan is ONNX Scan from opset 9 (the importer rewrites opset 8's batched
// form as two nested Scans): N state values and M scan inputs, each sliced
// along InAxes[j] (from the end when InReverse[j]); K scan outputs stacked
// along OutAxes[k] (prepending when OutReverse[k]).
type Scan struct {
	Body                  *Graph
	NumScanInputs         int
	InAxes, OutAxes       []int // per scan input / output; nil means all 0
	InReverse, OutReverse []bool
}

func (*Scan) OpType() string        { return "Scan" }
func (o *Scan) Subgraphs() []*Graph { return []*Graph{o.Body} }
func (o *Scan) Eval(in []*Tensor) ([]*Tensor, error) {
	return o.EvalScoped(Env{}, in)
}

// ScanPlan is a Scan resolved against its input types.
type ScanPlan struct {
	N, M, K int
	Len     int   // iterations
	InAxes  []int // normalized, per scan input
	OutAxes []int // normalized against the output rank, per scan output
}

// Plan resolves axes and counts against the input types.
func (o *Scan) Plan(in []Type) (*ScanPlan, error) {
	m := o.NumScanInputs
	n := len(in) - m
	if m < 1 || n < 0 {
		return nil, fmt.Errorf("num_scan_inputs=%d with %d inputs", m, len(in))
	}
	if len(o.Body.Inputs) != n+m {
		return nil, fmt.Errorf("the body takes %d inputs, Scan passes %d", len(o.Body.Inputs), n+m)
	}
	k := len(o.Body.Outputs) - n
	if k < 0 {
		return nil, fmt.Errorf("the body returns %d outputs, fewer than the %d state values", len(o.Body.Outputs), n)
	}
	if o.InAxes != nil && len(o.InAxes) != m || o.InReverse != nil && len(o.InReverse) != m {
		return nil, fmt.Errorf("scan_input_axes/directions must have num_scan_inputs=%d entries", m)
	}
	if o.OutAxes != nil && len(o.OutAxes) != k || o.OutReverse != nil && len(o.OutReverse) != k {
		return nil, fmt.Errorf("scan_output_axes/directions must have one entry per scan output (%d)", k)
	}
	p := &ScanPlan{N: n, M: m, K: k, Len: -1}
	for j := 0; j < m; j++ {
		t := in[n+j]
		a := 0
		if o.InAxes != nil {
			a = o.InAxes[j]
		}
		ax, err := NormAxis(a, len(t.Shape))
		if err != nil {
			return nil, fmt.Errorf("scan input %d: %w", j, err)
		}
		if p.Len >= 0 && t.Shape[ax] != p.Len {
			return nil, fmt.Errorf("scan input %d has sequence length %d, an earlier one %d", j, t.Shape[ax], p.Len)
		}
		p.Len = t.Shape[ax]
		p.InAxes = append(p.InAxes, ax)
	}
	return p, nil
}

func (o *Scan) Infer(in []*Value) ([]Type, error) {
	types := make([]Type, len(in))
	for i, v := range in {
		if v == nil {
			return nil, fmt.Errorf("input %d is missing", i)
		}
		types[i] = v.Type
	}
	p, err := o.Plan(types)
	if err != nil {
		return nil, err
	}
	for i := 0; i < p.N; i++ {
		if err := bindInput(o.Body.Inputs[i], types[i], "state input"); err != nil {
			return nil, err
		}
	}
	for j := 0; j < p.M; j++ {
		t := types[p.N+j]
		elem := Type{DType: t.DType, Shape: slices.Delete(t.Shape.Clone(), p.InAxes[j], p.InAxes[j]+1)}
		if err := bindInput(o.Body.Inputs[p.N+j], elem, "scan input"); err != nil {
			return nil, err
		}
	}
	if err := inferSubgraph(o.Body, "the body"); err != nil {
		return nil, err
	}
	out := make([]Type, 0, p.N+p.K)
	for i := 0; i < p.N; i++ {
		if err := sameCarried(types[i], o.Body.Outputs[i].Type, i); err != nil {
			return nil, err
		}
		out = append(out, types[i])
	}
	for k := 0; k < p.K; k++ {
		t := o.Body.Outputs[p.N+k].Type
		ax, err := o.outAxis(k, len(t.Shape)+1)
		if err != nil {
			return nil, err
		}
		out = append(out, Type{DType: t.DType, Shape: slices.Insert(t.Shape.Clone(), ax, p.Len)})
	}
	return out, nil
}

func (o *Scan) outAxis(k, rank int) (int, error) {
	a := 0
	if o.OutAxes != nil {
		a = o.OutAxes[k]
	}
	ax, err := NormAxis(a, rank)
	if err != nil {
		return 0, fmt.Errorf("scan output %d: %w", k, err)
	}
	return ax, nil
}

// reversed reports whether list flags entry i (a nil list flags none).
func reversed(list []bool, i int) bool { return list != nil && list[i] }

func (o *Scan) EvalScoped(env Env, in []*Tensor) ([]*Tensor, error) {
	types := make([]Type, len(in))
	for i, t := range in {
		types[i] = t.Type
	}
	p, err := o.Plan(types)
	if err != nil {
		return nil, err
	}
	body := o.Body
	state := slices.Clone(in[:p.N])
	scans := make([][]*Tensor, p.K)
	for t := 0; t < p.Len; t++ {
		for i, s := range state {
			env[body.Inputs[i]] = s
		}
		for j := 0; j < p.M; j++ {
			pos := t
			if reversed(o.InReverse, j) {
				pos = p.Len - 1 - t
			}
			x, err := slice(in[p.N+j], p.InAxes[j], pos)
			if err != nil {
				return nil, err
			}
			env[body.Inputs[p.N+j]] = x
		}
		out, err := Run(body, env)
		if err != nil {
			return nil, err
		}
		for i := range state {
			state[i] = out[i].Clone()
		}
		for k := range scans {
			scans[k] = append(scans[k], out[p.N+k].Clone())
		}
	}
	res := cloneAll(state)
	for k, elems := range scans {
		t := body.Outputs[p.N+k].Type
		ax, err := o.outAxis(k, len(t.Shape)+1)
		if err != nil {
			return nil, err
		}
		y, err := stack(elems, t, p.Len, ax, func(i int) int {
			if reversed(o.OutReverse, k) {
				return p.Len - 1 - i
			}
			return i
		})
		if err != nil {
			return nil, err
		}
		res = append(res, y)
	}
	return res, nil
}

// hasImpureSubgraph reports whether n owns subgraphs with impure nodes:
// then n may not fold either.
func hasImpureSubgraph(n *Node) bool {
	s, ok := n.Op.(Subgrapher)
	if !ok {
		return false
	}
	found := false
	for _, g := range s.Subgraphs() {
		g.Walk(func(m *Node) {
			if _, ok := m.Op.(Impure); ok {
				found = true
			}
		})
	}
	return found
}

// inferSubgraph types every value of a subgraph whose inputs are bound.
func inferSubgraph(g *Graph, what string) error {
	if err := InferGraph(g); err != nil {
		if IsUnsupported(err) {
			return err
		}
		return fmt.Errorf("in %s: %w", what, err)
	}
	return nil
}

// bindInput types a subgraph input with what its op passes it, checking the
// dtype the model may declare.
func bindInput(v *Value, t Type, what string) error {
	if v.Const != nil {
		return fmt.Errorf("subgraph %s %q is also an initializer", what, v.Name)
	}
	if v.Type.DType != Invalid && v.Type.DType != t.DType {
		return fmt.Errorf("subgraph %s %q is declared %s but receives %s", what, v.Name, v.Type.DType, t.DType)
	}
	v.SetType(t)
	return nil
}

// scalarLike is a one-element type of dt: the declared shape when it holds
// one element (some exporters use [1]), else a scalar.
func scalarLike(v *Value, dt DType) Type {
	if v.Type.Shape != nil && v.Type.Shape.Size() == 1 {
		return Type{DType: dt, Shape: v.Type.Shape.Clone()}
	}
	return Type{DType: dt, Shape: Shape{}}
}

func sameCarried(in, out Type, i int) error {
	if in.DType != out.DType {
		return fmt.Errorf("loop-carried value %d enters as %s but the body returns %s", i, in.DType, out.DType)
	}
	if !in.Shape.Equal(out.Shape) {
		return NotSupportedf("loop-carried value %d changes shape across iterations (%s to %s); only static shapes are supported", i, in.Shape, out.Shape)
	}
	return nil
}

func valueTypes(vs []*Value) []Type {
	out := make([]Type, len(vs))
	for i, v := range vs {
		out[i] = v.Type
	}
	return out
}

func cloneAll(ts []*Tensor) []*Tensor {
	out := make([]*Tensor, len(ts))
	for i, t := range ts {
		out[i] = t.Clone()
	}
	return out
}

// movableBytes is the byte size of one element of dt for moving whole
// elements; sub-byte types cannot be sliced that way.
func movableBytes(dt DType) (int, error) {
	if dt == String || dt.Bits()%8 != 0 {
		return 0, NotSupportedf("scanning %s tensors", dt)
	}
	return dt.Bits() / 8, nil
}

// slice returns x indexed at pos along axis (one rank less).
func slice(x *Tensor, axis, pos int) (*Tensor, error) {
	sz, err := movableBytes(x.DType)
	if err != nil {
		return nil, err
	}
	outer := x.Shape[:axis].Size()
	inner := x.Shape[axis+1:].Size() * sz
	y := NewTensor(x.DType, slices.Delete(x.Shape.Clone(), axis, axis+1))
	n := x.Shape[axis]
	for o := 0; o < outer; o++ {
		copy(y.Data[o*inner:(o+1)*inner], x.Data[(o*n+pos)*inner:])
	}
	return y, nil
}

// stack places elems[i] (each of type t) at position at(i) (i when nil)
// along a new axis of length n.
func stack(elems []*Tensor, t Type, n, axis int, at func(int) int) (*Tensor, error) {
	sz, err := movableBytes(t.DType)
	if err != nil {
		return nil, err
	}
	y := NewTensor(t.DType, slices.Insert(t.Shape.Clone(), axis, n))
	outer := t.Shape[:axis].Size()
	inner := t.Shape[axis:].Size() * sz
	for i, e := range elems {
		pos := i
		if at != nil {
			pos = at(i)
		}
		for o := 0; o < outer; o++ {
			copy(y.Data[(o*n+pos)*inner:(o*n+pos+1)*inner], e.Data[o*inner:(o+1)*inner])
		}
	}
	return y, nil
}
