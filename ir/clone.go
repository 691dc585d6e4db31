package ir

import (
	"fmt"
	"reflect"
)

// Clone copies g so that passes can rewrite the copy while g stays as it
// is (the quantizer compiles one prepared graph several times): nodes,
// values and ops are copied, ops shallowly (constant tensors and attribute
// slices are shared: nothing changes those in place) and with their
// subgraphs, whose reads of enclosing values then read the copy's values.
// vmap maps each non-constant value of g to its copy; constants are
// shared.
func (g *Graph) Clone() (c *Graph, vmap map[*Value]*Value) {
	vmap = map[*Value]*Value{}
	return cloneInto(g, vmap), vmap
}

func cloneInto(g *Graph, vmap map[*Value]*Value) *Graph {
	get := func(v *Value) *Value {
		if v == nil || v.Const != nil {
			return v
		}
		if c, ok := vmap[v]; ok {
			return c
		}
		c := &Value{Name: v.Name, Type: v.Type, typed: v.typed}
		vmap[v] = c
		return c
	}
	c := &Graph{Name: g.Name}
	for _, v := range g.Inputs {
		c.Inputs = append(c.Inputs, get(v))
	}
	for _, n := range g.Nodes {
		m := &Node{Name: n.Name, Op: cloneOp(n.Op, vmap), Lazy: n.Lazy}
		for _, v := range n.Inputs {
			m.Inputs = append(m.Inputs, get(v))
		}
		for _, v := range n.Outputs {
			m.Outputs = append(m.Outputs, get(v))
		}
		c.Nodes = append(c.Nodes, m)
	}
	for _, v := range g.Outputs {
		c.Outputs = append(c.Outputs, get(v))
	}
	return c
}

// cloneOp copies an op's struct and the subgraphs its *Graph fields hold.
func cloneOp(op Op, vmap map[*Value]*Value) Op {
	v := reflect.ValueOf(op)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return op
	}
	c := reflect.New(v.Elem().Type())
	c.Elem().Set(v.Elem())
	s, ok := op.(Subgrapher)
	if !ok {
		return c.Interface().(Op)
	}
	e := c.Elem()
	copied := map[*Graph]bool{}
	for i := range e.NumField() {
		if f := e.Field(i); f.Type() == graphPtr && !f.IsNil() && f.CanSet() {
			sg := cloneInto(f.Interface().(*Graph), vmap)
			f.Set(reflect.ValueOf(sg))
			copied[sg] = true
		}
	}
	for _, sg := range c.Interface().(Subgrapher).Subgraphs() {
		if !copied[sg] {
			// A new op keeping subgraphs elsewhere than in *Graph fields.
			panic(fmt.Sprintf("ir: Clone cannot copy the subgraphs of %T", s))
		}
	}
	return c.Interface().(Op)
}
