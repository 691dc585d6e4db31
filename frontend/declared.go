package frontend

import "github.com/mlc-compiler/mlc/ir"

// DeclaredShape is the static shape the model declares for the node's
// output i (see Declared). Ops whose output shape depends on run-time data
// (axes given as a graph input) use it as the shape to compile for; their
// kernels check at run time that the data agrees.
func (c *nodeCtx) DeclaredShape(i int) (ir.Shape, bool) {
	t, ok := c.Declared(i)
	return t.Shape, ok
}
