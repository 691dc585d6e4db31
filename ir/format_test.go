package ir_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mlc-compiler/mlc/internal/irtest"
	"github.com/mlc-compiler/mlc/ir"
)

// fakePlan places values at the addresses it lists and notes every node.
type fakePlan map[*ir.Value]int

func (p fakePlan) ValueAddr(v *ir.Value) (int, bool) { a, ok := p[v]; return a, ok }
func (p fakePlan) NodeNote(n *ir.Node) string        { return "note of " + n.Op.OpType() }

// TestFormat pins the text form: outputs, op, attributes that are not
// zero, inputs with types, small constants' values, addresses, node names
// and notes, and subgraphs indented under their node.
func TestFormat(t *testing.T) {
	b := irtest.New(t)
	b.In("x", ir.Float32, 1, 2, 4, 4)
	b.In("c", ir.Bool)
	b.Const("w", irtest.Rand(1, ir.Float32, 3, 2, 3, 3))
	b.Const("shape", ir.TensorI64(ir.Shape{2}, 3, -1))
	b.Const("k", ir.TensorI64(ir.Shape{1}, 2))
	b.Op("y", &ir.Conv{Window: ir.Window{Pads: []int{1, 1, 1, 1}}, Group: 1}, "x", "w")
	b.Op("r", &ir.Unary{Fn: ir.FnLeakyRelu, Alpha: 0.25}, "y")
	b.Op("flat", &ir.Reshape{}, "r", "shape")
	b.Op("vals,", &ir.TopK{Axis: -1, Largest: true, K: -1}, "flat", "k")
	then := b.Sub("then", func(s *irtest.B) { s.Out(s.Op("t", &ir.Unary{Fn: ir.FnNeg}, "vals").Name) })
	els := b.Sub("else", func(s *irtest.B) { s.Out("vals") })
	b.Op("z", &ir.If{Then: then, Else: els}, "c")
	g := b.Out("z")
	plan := fakePlan{b.V("x"): 1024, b.V("y"): 2048, b.V("w"): 4096}
	want := `graph TestFormat(x: float32[1,2,4,4] @1024, c: bool[]) {
  y: float32[1,3,4,4] @2048 = Conv {Pads: [1, 1, 1, 1], Group: 1} (x: float32[1,2,4,4], w: const float32[3,2,3,3] @4096) # "y", note of Conv
  r: float32[1,3,4,4] = LeakyRelu {Alpha: 0.25} (y: float32[1,3,4,4]) # "r", note of LeakyRelu
  flat: float32[3,16] = Reshape (r: float32[1,3,4,4], shape: const int64[2] {3, -1}) # "flat", note of Reshape
  vals: float32[3,2], _ = TopK {Axis: -1, Largest: true, K: -1} (flat: float32[3,16], k: const int64[1] {2}) # "vals", note of TopK
  z: float32[3,2] = If (c: bool[]) # "z", note of If
    Then: then() {
      t: float32[3,2] = Neg (vals: float32[3,2]) # "t", note of Neg
      return t: float32[3,2]
    }
    Else: else() {
      return vals: float32[3,2]
    }
  return z: float32[3,2]
}
`
	if diff := cmp.Diff(want, g.Format(plan)); diff != "" {
		t.Errorf("Format (-want +got):\n%s", diff)
	}
}

// TestFormatNames: an empty or repeated name gets a #N suffix, and a name
// that would not read as one token is quoted, so each name in the text
// denotes one value.
func TestFormatNames(t *testing.T) {
	x := ir.NewInput("a", ir.Type{DType: ir.Float32, Shape: ir.Shape{2}})
	y := &ir.Value{Name: "a"}
	y.SetType(x.Type)
	z := &ir.Value{}
	z.SetType(x.Type)
	q := &ir.Value{Name: "odd name, (really)"}
	q.SetType(x.Type)
	g := &ir.Graph{Inputs: []*ir.Value{x}, Outputs: []*ir.Value{q}, Nodes: []*ir.Node{
		{Op: &ir.Unary{Fn: ir.FnNeg}, Inputs: []*ir.Value{x}, Outputs: []*ir.Value{y}},
		{Op: &ir.Binary{Fn: ir.FnAdd}, Inputs: []*ir.Value{x, y}, Outputs: []*ir.Value{z}},
		{Op: &ir.Binary{Fn: ir.FnMul}, Inputs: []*ir.Value{z, y}, Outputs: []*ir.Value{q}},
	}}
	want := `graph ""(a: float32[2]) {
  a#1: float32[2] = Neg (a: float32[2])
  #1: float32[2] = Add (a: float32[2], a#1: float32[2])
  "odd name, (really)": float32[2] = Mul (#1: float32[2], a#1: float32[2])
  return "odd name, (really)": float32[2]
}
`
	if diff := cmp.Diff(want, g.Format(nil)); diff != "" {
		t.Errorf("Format (-want +got):\n%s", diff)
	}
	if g.String() != g.Format(nil) {
		t.Error("String is not Format(nil)")
	}
}
