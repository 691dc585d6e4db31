package frontend_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	onnxgo "github.com/owulveryck/onnx-go"
	"gonum.org/v1/gonum/graph"
	"gonum.org/v1/gonum/graph/simple"
	"gorgonia.org/tensor"

	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/internal/testenv"
)

// A second, independent decoder (onnx-go on gogo/protobuf) must agree with
// ours on the nodes, their op types and outputs, and initializer values.

type goNode struct {
	id   int64
	name string
	t    tensor.Tensor
}

func (n *goNode) ID() int64                       { return n.id }
func (n *goNode) SetName(s string)                { n.name = s }
func (n *goNode) GetName() string                 { return n.name }
func (n *goNode) SetTensor(t tensor.Tensor) error { n.t = t; return nil }
func (n *goNode) GetTensor() tensor.Tensor        { return n.t }

type goBackend struct {
	*simple.WeightedDirectedGraph
	ops []string // "OpType -> out0,out1"
}

func (b *goBackend) NewNode() graph.Node {
	return &goNode{id: b.WeightedDirectedGraph.NewNode().ID()}
}

func (b *goBackend) ApplyOperation(op onnxgo.Operation, outs ...graph.Node) error {
	s := op.Name + " ->"
	for _, o := range outs {
		s += " " + o.(*goNode).name
	}
	b.ops = append(b.ops, s)
	return nil
}

func TestSecondDecoderAgrees(t *testing.T) {
	shared := testenv.Shared(t)
	models, _ := filepath.Glob(filepath.Join(shared, "models", "*", "model.onnx"))
	more, _ := filepath.Glob(filepath.Join(shared, "onnx-tests", "pytorch-converted", "*", "model.onnx"))
	models = append(models, more...)
	compared := 0
	for _, path := range models {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b := &goBackend{WeightedDirectedGraph: simple.NewWeightedDirectedGraph(0, 0)}
		m := onnxgo.NewModel(b)
		if err := m.UnmarshalBinary(data); err != nil {
			t.Logf("%s: onnx-go cannot decode it (%v); not compared", path, err)
			continue
		}
		mp, err := frontend.Decode(data)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var ours []string
		for _, n := range mp.Graph.Node {
			s := n.GetOpType() + " ->"
			for _, o := range n.Output {
				s += " " + o
			}
			ours = append(ours, s)
		}
		if fmt.Sprint(ours) != fmt.Sprint(b.ops) {
			t.Errorf("%s: nodes differ:\nours   %v\nonnx-go %v", path, ours, b.ops)
		}
		// Initializer values, through our full tensor decoding.
		for _, tp := range mp.Graph.Initializer {
			n, ok := m.GetNodeByName(tp.GetName())
			if !ok {
				t.Errorf("%s: onnx-go lost initializer %q", path, tp.GetName())
				continue
			}
			theirs := n.(*goNode).t
			if theirs == nil {
				continue // a dtype onnx-go does not decode
			}
			mine, err := frontend.TensorFromProto(tp, filepath.Dir(path))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if theirs.Shape().TotalSize() != mine.Len() && mine.Len() != 1 {
				t.Errorf("%s: initializer %q has %d elements, onnx-go says %d", path, tp.GetName(), mine.Len(), theirs.Shape().TotalSize())
				continue
			}
			var vals []float64
			switch d := theirs.Data().(type) {
			case []float32:
				for _, v := range d {
					vals = append(vals, float64(v))
				}
			case []float64:
				vals = d
			case []int64:
				for _, v := range d {
					vals = append(vals, float64(v))
				}
			case []int32:
				for _, v := range d {
					vals = append(vals, float64(v))
				}
			case float32:
				vals = []float64{float64(d)}
			case int64:
				vals = []float64{float64(d)}
			default:
				continue
			}
			for i, v := range vals {
				if mine.Float(i) != v {
					t.Errorf("%s: initializer %q element %d is %v, onnx-go says %v", path, tp.GetName(), i, mine.Float(i), v)
					break
				}
			}
		}
		compared++
	}
	t.Logf("compared %d models", compared)
	if compared < 10 {
		t.Errorf("only %d models compared", compared)
	}
	sort.Strings(nil)
}
