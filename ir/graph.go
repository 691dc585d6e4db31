// Package ir is mlc's graph: typed operators over tensors with static shapes
// and dtypes, their shape rules, and a plain Go reference interpreter that is
// both the tests' second opinion and the engine of constant folding.
//
// Every operator is defined once, in ir/ops_<family>.go: a struct holding its
// resolved attributes, its shape rule (Infer) and its semantics (Eval).
package ir

import (
	"fmt"
)

// Value is one tensor in a graph: a graph input, a node output or a constant.
type Value struct {
	Name  string
	Type  Type
	Const *Tensor // set for initializers and folded values
	typed bool
}

// Typed reports whether shape inference has set Type.
func (v *Value) Typed() bool { return v.typed || v.Const != nil }

// SetType records the inferred type.
func (v *Value) SetType(t Type) { v.Type, v.typed = t, true }

// NewConst makes a constant value.
func NewConst(name string, t *Tensor) *Value {
	return &Value{Name: name, Type: t.Type, Const: t, typed: true}
}

// constValues wraps tensors as constant values (nil for an omitted input),
// so that Eval can reuse the shape rules written against Values.
func constValues(in []*Tensor) []*Value {
	vs := make([]*Value, len(in))
	for i, t := range in {
		if t != nil {
			vs[i] = NewConst("", t)
		}
	}
	return vs
}

// NewInput makes a typed non-constant value (a graph or subgraph input).
func NewInput(name string, t Type) *Value {
	return &Value{Name: name, Type: t, typed: true}
}

func (v *Value) String() string {
	if v == nil {
		return "<none>"
	}
	return fmt.Sprintf("%q %s", v.Name, v.Type)
}

// Node applies one operator. Inputs may hold nil for omitted optional
// inputs; Outputs may hold nil for outputs the model does not use.
type Node struct {
	Name    string
	Op      Op
	Inputs  []*Value
	Outputs []*Value
	// Lazy: the node's only consumer computes its output from the node's
	// inputs as it reads it (opt's pieces pass), so the output has no
	// buffer and the node no code; Eval still evaluates it.
	Lazy bool
}

// Label names the node for error messages.
func (n *Node) Label() string {
	if n.Name != "" {
		return fmt.Sprintf("node %q (%s)", n.Name, n.Op.OpType())
	}
	for _, o := range n.Outputs {
		if o != nil && o.Name != "" {
			return fmt.Sprintf("%s node producing %q", n.Op.OpType(), o.Name)
		}
	}
	return fmt.Sprintf("unnamed %s node", n.Op.OpType())
}

// In returns input i, or nil when it is omitted.
func (n *Node) In(i int) *Value {
	if i < len(n.Inputs) {
		return n.Inputs[i]
	}
	return nil
}

// Out returns output i, or nil when the node does not produce it.
func (n *Node) Out(i int) *Value {
	if i < len(n.Outputs) {
		return n.Outputs[i]
	}
	return nil
}

// Graph is a list of nodes in topological order between inputs and outputs.
// Subgraphs (If, Loop, Scan bodies) may read values of enclosing graphs.
type Graph struct {
	Name    string
	Inputs  []*Value
	Outputs []*Value
	Nodes   []*Node
}

// Op is a typed operator with resolved attributes.
type Op interface {
	// OpType is the ONNX operator name, or an mlc name for fused operators.
	OpType() string
	// Infer returns the types of all outputs from the inputs' types and,
	// where the rule needs it, their constant data. nil inputs are omitted.
	Infer(in []*Value) ([]Type, error)
	// Eval is the reference semantics.
	Eval(in []*Tensor) ([]*Tensor, error)
}

// Aliaser is implemented by ops whose output is input 0's memory viewed
// under another shape (Reshape, Flatten, Squeeze, Unsqueeze, Identity): the
// memory planner gives both one buffer and codegen emits no code.
type Aliaser interface{ AliasesInput() }

// Subgrapher is implemented by ops that own subgraphs; the interpreter
// evaluates them with the enclosing environment visible.
type Subgrapher interface {
	Subgraphs() []*Graph
	EvalScoped(env Env, in []*Tensor) ([]*Tensor, error)
}

// Impure ops are never folded even with constant inputs.
type Impure interface{ Impure() }

// Unfolded ops stay nodes when their inputs are constant, for a pass to
// see: opt's qdq pass turns DequantizeLinear of constant weights into the
// weights of integer kernels; what remains runs once (opt's onceNodes).
type Unfolded interface{ Unfolded() }

// Effect marks ops that matter beyond their outputs (run-time checks): dead
// code removal keeps them.
type Effect interface{ Effect() }

// Producers maps each value to the node producing it.
func (g *Graph) Producers() map[*Value]*Node {
	m := make(map[*Value]*Node)
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != nil {
				m[o] = n
			}
		}
	}
	return m
}

// LazyProducers maps the outputs of the lazy nodes (Node.Lazy) to them:
// values with no buffer, computed by their reader from the node's inputs.
func (g *Graph) LazyProducers() map[*Value]*Node {
	m := make(map[*Value]*Node)
	for _, n := range g.Nodes {
		if n.Lazy {
			for _, o := range n.Outputs {
				if o != nil {
					m[o] = n
				}
			}
		}
	}
	return m
}

// Uses maps each value to the nodes reading it, including reads from inside
// subgraphs (attributed to the op owning the subgraph).
func (g *Graph) Uses() map[*Value][]*Node {
	m := make(map[*Value][]*Node)
	for _, n := range g.Nodes {
		for _, v := range n.ReadValues() {
			// A node reading v twice meets it while it is the last
			// reader listed: no search of a value's (long) reader list.
			if l := m[v]; len(l) == 0 || l[len(l)-1] != n {
				m[v] = append(l, n)
			}
		}
	}
	return m
}

// ReadValues lists the values a node reads: its inputs and, for ops with
// subgraphs, the enclosing-scope values those subgraphs capture.
func (n *Node) ReadValues() []*Value {
	var out []*Value
	for _, v := range n.Inputs {
		if v != nil {
			out = append(out, v)
		}
	}
	if s, ok := n.Op.(Subgrapher); ok {
		for _, sg := range s.Subgraphs() {
			out = append(out, sg.Captures()...)
		}
	}
	return out
}

// Subgraphs lists the bodies n runs (If's branches, Loop's and Scan's
// body); nil for an op without any.
func (n *Node) Subgraphs() []*Graph {
	if s, ok := n.Op.(Subgrapher); ok {
		return s.Subgraphs()
	}
	return nil
}

// Captures lists values read inside g (and its nested subgraphs) that g
// neither defines nor takes as input, in first-use order.
func (g *Graph) Captures() []*Value {
	defined := make(map[*Value]bool)
	for _, v := range g.Inputs {
		defined[v] = true
	}
	var out []*Value
	seen := make(map[*Value]bool)
	for _, n := range g.Nodes {
		for _, v := range n.ReadValues() {
			if !defined[v] && !seen[v] && v.Const == nil {
				seen[v] = true
				out = append(out, v)
			}
		}
		for _, o := range n.Outputs {
			if o != nil {
				defined[o] = true
			}
		}
	}
	for _, v := range g.Outputs {
		if !defined[v] && !seen[v] && v.Const == nil {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// AliasRoots maps each output of an aliasing node (Reshape, Identity, ...)
// of g and its subgraphs to the value whose buffer it shares.
type AliasRoots map[*Value]*Value

// AliasRoots finds the buffer every aliasing output of g shares; a chain of
// views resolves to its first value.
func (g *Graph) AliasRoots() AliasRoots {
	roots := AliasRoots{}
	g.Walk(func(n *Node) {
		if _, ok := n.Op.(Aliaser); ok && n.Outputs[0] != nil && n.In(0) != nil {
			roots[n.Outputs[0]] = roots.Of(n.In(0))
		}
	})
	return roots
}

// Of is the value whose buffer v uses: its root, or v itself.
func (r AliasRoots) Of(v *Value) *Value {
	if root, ok := r[v]; ok {
		return root
	}
	return v
}

// Walk calls f for every node of g and of its subgraphs, depth first.
func (g *Graph) Walk(f func(*Node)) {
	for _, n := range g.Nodes {
		f(n)
		if s, ok := n.Op.(Subgrapher); ok {
			for _, sg := range s.Subgraphs() {
				sg.Walk(f)
			}
		}
	}
}
