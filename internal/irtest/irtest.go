// Package irtest builds IR graphs for tests in a few lines, the way Go's
// SSA tests write functions with Fun/Bloc/Valu: values are named, nodes
// read them by name, and every node is typed as it is added (by its op's
// shape rule, without folding, so a pass under test still sees nodes with
// constant inputs).
//
//	b := irtest.New(t)
//	b.In("x", ir.Float32, 1, 8, 4, 4)
//	b.Const("w", irtest.Rand(1, ir.Float32, 8, 8, 3, 3))
//	b.Op("y", &ir.Conv{Group: 1}, "x", "w")
//	b.Op("r", &ir.Unary{Fn: ir.FnRelu}, "y")
//	g := b.Out("r")
//
// It also runs the reference interpreter as the oracle of pass tests:
// SameOutputs evaluates a graph before and after a rewrite.
package irtest

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc/ir"
)

// B builds one graph (or subgraph).
type B struct {
	t      testing.TB
	g      *ir.Graph
	vals   map[string]*ir.Value
	parent *B
}

// New starts a graph.
func New(t testing.TB) *B {
	return &B{t: t, g: &ir.Graph{Name: t.Name()}, vals: map[string]*ir.Value{}}
}

// In adds a graph input.
func (b *B) In(name string, dt ir.DType, dims ...int) *ir.Value {
	v := ir.NewInput(name, ir.Type{DType: dt, Shape: ir.Shape(dims).Clone()})
	b.define(name, v)
	b.g.Inputs = append(b.g.Inputs, v)
	return v
}

// Const adds a constant (an initializer).
func (b *B) Const(name string, t *ir.Tensor) *ir.Value {
	v := ir.NewConst(name, t)
	b.define(name, v)
	return v
}

// Op adds a node of op reading inputs by name ("" omits an optional
// input) and writing outputs, a comma-separated list of names ("" in it
// leaves that output unused). The node is named after its first output.
// It returns the first output.
func (b *B) Op(outputs string, op ir.Op, inputs ...string) *ir.Value {
	b.t.Helper()
	n := b.node(outputs, op, inputs)
	types, err := op.Infer(n.Inputs)
	if err != nil {
		b.t.Fatalf("irtest: %s: %v", n.Label(), err)
	}
	for i, v := range n.Outputs {
		if v != nil {
			v.SetType(types[i])
		}
	}
	return n.Out(0)
}

// Raw adds a node as Op does but leaves it untyped: in a subgraph the
// owning op types it, in a graph opt's fold pass does (when a shape
// depends on values that only folding makes constant).
func (b *B) Raw(outputs string, op ir.Op, inputs ...string) *ir.Value {
	b.t.Helper()
	return b.node(outputs, op, inputs).Out(0)
}

func (b *B) node(outputs string, op ir.Op, inputs []string) *ir.Node {
	b.t.Helper()
	n := &ir.Node{Op: op}
	for _, name := range inputs {
		var v *ir.Value
		if name != "" {
			v = b.V(name)
		}
		n.Inputs = append(n.Inputs, v)
	}
	for i, name := range strings.Split(outputs, ",") {
		if i == 0 {
			n.Name = name
		}
		var v *ir.Value
		if name != "" {
			v = &ir.Value{Name: name}
			b.define(name, v)
		}
		n.Outputs = append(n.Outputs, v)
	}
	b.g.Nodes = append(b.g.Nodes, n)
	return n
}

// Node returns the node that writes the named value.
func (b *B) Node(output string) *ir.Node {
	b.t.Helper()
	v := b.V(output)
	for _, n := range b.g.Nodes {
		for _, o := range n.Outputs {
			if o == v {
				return n
			}
		}
	}
	b.t.Fatalf("irtest: no node writes %q", output)
	return nil
}

// Out sets the graph outputs and returns the graph.
func (b *B) Out(names ...string) *ir.Graph {
	b.t.Helper()
	b.g.Outputs = nil
	for _, name := range names {
		b.g.Outputs = append(b.g.Outputs, b.V(name))
	}
	return b.g
}

// Sub builds a subgraph (a branch or loop body) whose nodes may read the
// values defined so far in b by name. body declares its inputs, nodes and
// outputs; the subgraph's nodes are typed when the op owning it is added.
func (b *B) Sub(name string, body func(s *B)) *ir.Graph {
	s := &B{t: b.t, g: &ir.Graph{Name: name}, vals: map[string]*ir.Value{}, parent: b}
	body(s)
	return s.g
}

// SubIn adds an input of a subgraph whose type the owning op sets.
func (b *B) SubIn(name string) *ir.Value {
	v := &ir.Value{Name: name}
	b.define(name, v)
	b.g.Inputs = append(b.g.Inputs, v)
	return v
}

// V returns the value of that name, looking into enclosing graphs.
func (b *B) V(name string) *ir.Value {
	b.t.Helper()
	for s := b; s != nil; s = s.parent {
		if v, ok := s.vals[name]; ok {
			return v
		}
	}
	b.t.Fatalf("irtest: no value %q", name)
	return nil
}

// Graph returns the graph built so far.
func (b *B) Graph() *ir.Graph { return b.g }

func (b *B) define(name string, v *ir.Value) {
	b.t.Helper()
	if _, dup := b.vals[name]; dup {
		b.t.Fatalf("irtest: %q defined twice", name)
	}
	b.vals[name] = v
}

// Rand is a tensor of the given type with values uniform in [-1, 1)
// (integers in [-8, 8)), the same for the same seed.
func Rand(seed int64, dt ir.DType, dims ...int) *ir.Tensor {
	r := rand.New(rand.NewSource(seed))
	t := ir.NewTensor(dt, ir.Shape(dims).Clone())
	for i := range t.Len() {
		if dt.IsFloat() {
			t.SetFloat(i, r.Float64()*2-1)
		} else if dt == ir.Bool {
			t.SetInt(i, int64(r.Intn(2)))
		} else {
			t.SetInt(i, int64(r.Intn(16)-8))
		}
	}
	return t
}

// Inputs makes random tensors for g's inputs (Rand, seeded by position).
func Inputs(g *ir.Graph) ir.Env {
	env := ir.Env{}
	for i, v := range g.Inputs {
		env[v] = Rand(int64(100+i), v.Type.DType, v.Type.Shape...)
	}
	return env
}

// Eval runs g in the reference interpreter on in (which it does not
// change).
func Eval(t testing.TB, g *ir.Graph, in ir.Env) []*ir.Tensor {
	t.Helper()
	env := ir.Env{}
	for v, x := range in {
		env[v] = x
	}
	out, err := ir.Run(g, env)
	if err != nil {
		t.Fatalf("irtest: interpreting %s: %v", g.Name, err)
	}
	return out
}

// SameOutputs checks that g computes what it computed before a rewrite:
// want are its outputs then (Eval), in the inputs used for them. Values
// may differ by tol relative to the largest magnitude of each output
// (0: bit for bit); shapes and dtypes must match.
func SameOutputs(t testing.TB, g *ir.Graph, in ir.Env, want []*ir.Tensor, tol float64) {
	t.Helper()
	got := Eval(t, g, in)
	if len(got) != len(want) {
		t.Fatalf("%d outputs, want %d", len(got), len(want))
	}
	for i := range want {
		if msg := Compare(got[i], want[i], tol); msg != "" {
			t.Errorf("output %d (%s): %s", i, g.Outputs[i].Name, msg)
		}
	}
}

// Compare says how got differs from want ("" when it does not) beyond
// tol relative to want's largest magnitude; NaNs must match NaNs.
func Compare(got, want *ir.Tensor, tol float64) string {
	if got.DType != want.DType || !got.Shape.Equal(want.Shape) {
		return fmt.Sprintf("got %s, want %s", got.Type, want.Type)
	}
	if !want.DType.IsFloat() || tol == 0 {
		if string(got.Data) != string(want.Data) {
			for i := range want.Len() {
				if got.Float(i) != want.Float(i) && !(math.IsNaN(got.Float(i)) && math.IsNaN(want.Float(i))) {
					return fmt.Sprintf("element %d is %v, want %v", i, got.Float(i), want.Float(i))
				}
			}
		}
		return ""
	}
	scale := 0.0
	for i := range want.Len() {
		if w := math.Abs(want.Float(i)); !math.IsInf(w, 0) && !math.IsNaN(w) {
			scale = max(scale, w)
		}
	}
	for i := range want.Len() {
		g, w := got.Float(i), want.Float(i)
		if math.IsNaN(w) || math.IsNaN(g) {
			if math.IsNaN(w) != math.IsNaN(g) {
				return fmt.Sprintf("element %d is %v, want %v", i, g, w)
			}
			continue
		}
		if math.Abs(g-w) > tol*max(scale, 1e-30) && g != w {
			return fmt.Sprintf("element %d is %v, want %v (tolerance %g of %g)", i, g, w, tol, scale)
		}
	}
	return ""
}

// Ops lists the op types of g's nodes in order.
func Ops(g *ir.Graph) []string {
	var ops []string
	for _, n := range g.Nodes {
		ops = append(ops, n.Op.OpType())
	}
	return ops
}

// Verify fails t when g breaks an IR invariant.
func Verify(t testing.TB, g *ir.Graph) {
	t.Helper()
	if err := ir.Verify(g); err != nil {
		t.Fatalf("invalid IR:\n%v\n%s", err, g.Format(nil))
	}
}
