package ir

import (
	"errors"
	"fmt"
)

// Verify checks the invariants every pass keeps (docs/design.md, "ir.Verify
// between passes"):
//
//   - nodes are in topological order: a node reads only constants, inputs
//     of its graph, outputs of earlier nodes and, inside a subgraph, values
//     of enclosing graphs defined before the node owning the subgraph
//     (so subgraphs are closed over what precedes them);
//   - every value has one producer: a node output is no graph input and no
//     other node's output, and a node appears once;
//   - every value is typed, and a node's output types are what its op's
//     shape rule gives for its inputs;
//   - a view (an Aliaser: Reshape, Identity, BitCast, ...) has the byte
//     size of the buffer it shares;
//   - graph outputs are defined.
//
// It returns the problems found (at most maxProblems), nil when none.
func Verify(g *Graph) error {
	c := &checker{produced: map[*Value]string{}, nodes: map[*Node]bool{}, defs: map[*Value]string{}}
	g.Walk(func(n *Node) {
		for _, v := range n.Outputs {
			if _, ok := c.defs[v]; v != nil && !ok {
				c.defs[v] = n.Label()
			}
		}
	})
	c.graph(g, nil, "graph")
	if len(c.errs) == 0 {
		return nil
	}
	if c.more > 0 {
		c.errs = append(c.errs, fmt.Errorf("and %d more", c.more))
	}
	return errors.Join(c.errs...)
}

const maxProblems = 10

type checker struct {
	produced map[*Value]string // where each value is defined, so far
	defs     map[*Value]string // where each node output is defined
	nodes    map[*Node]bool
	errs     []error
	more     int
	untyped  int // > 0 inside code that need not be typed
}

// scope is the values visible in a graph: its own so far, then its
// enclosing graph's (as of the owning node).
type scope struct {
	defined map[*Value]bool
	parent  *scope
}

func (s *scope) has(v *Value) bool {
	for ; s != nil; s = s.parent {
		if s.defined[v] {
			return true
		}
	}
	return false
}

func (c *checker) fail(format string, args ...any) {
	if len(c.errs) >= maxProblems {
		c.more++
		return
	}
	c.errs = append(c.errs, fmt.Errorf(format, args...))
}

func (c *checker) define(v *Value, where string) {
	if prev, ok := c.produced[v]; ok {
		c.fail("%s: defines %s, already defined by %s", where, v, prev)
		return
	}
	c.produced[v] = where
	if c.untyped > 0 {
		return
	}
	if !v.Typed() {
		c.fail("%s: %q has no type", where, v.Name)
	} else if err := checkType(v.Type); err != nil {
		c.fail("%s: %q: %v", where, v.Name, err)
	}
}

func checkType(t Type) error {
	if t.DType == Invalid || t.DType >= numDTypes {
		return fmt.Errorf("invalid dtype %s", t.DType)
	}
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("negative dimension in %s", t.Shape)
		}
	}
	return nil
}

// read checks that v is visible where it is read.
func (c *checker) read(v *Value, s *scope, where string) {
	switch {
	case v.Const != nil:
		if !v.Const.Shape.Equal(v.Type.Shape) || v.Const.DType != v.Type.DType {
			c.fail("%s: constant %q is typed %s but holds %s", where, v.Name, v.Type, v.Const.Type)
		}
	case s.has(v):
	default:
		if def, ok := c.defs[v]; ok {
			c.fail("%s: reads %q before it is defined (by %s): not in topological order, or out of the subgraph's scope", where, v.Name, def)
		} else if prev, ok := c.produced[v]; ok {
			c.fail("%s: reads %q out of its scope (%s)", where, v.Name, prev)
		} else {
			c.fail("%s: reads %q, which nothing defines", where, v.Name)
		}
	}
}

func (c *checker) graph(g *Graph, parent *scope, where string) {
	s := &scope{defined: map[*Value]bool{}, parent: parent}
	for _, v := range g.Inputs {
		if v == nil {
			c.fail("%s: nil input", where)
			continue
		}
		c.define(v, where+" input")
		s.defined[v] = true
	}
	for _, n := range g.Nodes {
		c.node(n, s, where)
	}
	for _, v := range g.Outputs {
		if v == nil {
			c.fail("%s: nil output", where)
			continue
		}
		c.read(v, s, where+" output")
	}
}

func (c *checker) node(n *Node, s *scope, where string) {
	if n == nil || n.Op == nil {
		c.fail("%s: a node without op", where)
		return
	}
	label := n.Label()
	if c.nodes[n] {
		c.fail("%s appears twice", label)
		return
	}
	c.nodes[n] = true
	for _, v := range n.Inputs {
		if v != nil {
			c.read(v, s, label)
		}
	}
	if sg, ok := n.Op.(Subgrapher); ok {
		// The branch a constant condition does not take may not type
		// (opt's inlineif removes it); only its structure is checked.
		var untaken *Graph
		if op, ok := n.Op.(*If); ok && op.Taken(n.In(0)) != nil {
			untaken = op.Then
			if op.Taken(n.In(0)) == op.Then {
				untaken = op.Else
			}
		}
		for _, b := range sg.Subgraphs() {
			if b == untaken {
				c.untyped++
				c.graph(b, s, label+" untaken branch")
				c.untyped--
			} else if b != nil {
				c.graph(b, s, label+" subgraph")
			}
		}
	}
	for _, v := range n.Outputs {
		if v != nil {
			c.define(v, label)
			s.defined[v] = true
		}
	}
	c.types(n, label)
	if _, ok := n.Op.(Aliaser); ok {
		x, y := n.In(0), n.Out(0)
		if x == nil {
			c.fail("%s: a view of nothing", label)
		} else if y != nil && x.Typed() && y.Typed() && x.Type.Bytes() != y.Type.Bytes() {
			c.fail("%s: view %s of %s changes the buffer's size", label, y, x)
		}
	}
}

// types checks n's output types against its op's shape rule. Ops with
// subgraphs are left out: inferring them types their bodies again.
func (c *checker) types(n *Node, label string) {
	if _, ok := n.Op.(Subgrapher); ok || c.untyped > 0 {
		return
	}
	for _, v := range n.Inputs {
		if v != nil && !v.Typed() {
			return // reported where it is defined
		}
	}
	types, err := inferSafely(n)
	if err != nil {
		c.fail("%s: its shape rule fails on its inputs: %v", label, err)
		return
	}
	if len(types) < len(n.Outputs) {
		c.fail("%s: has %d outputs, its op %d", label, len(n.Outputs), len(types))
		return
	}
	for i, v := range n.Outputs {
		if v != nil && v.Typed() && (v.Type.DType != types[i].DType || !v.Type.Shape.Equal(types[i].Shape)) {
			c.fail("%s: output %q is typed %s, its op gives %s", label, v.Name, v.Type, types[i])
		}
	}
}

func inferSafely(n *Node) (types []Type, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return n.Op.Infer(n.Inputs)
}
