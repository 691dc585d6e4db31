// Package fuzzmodel gives the fuzz targets their seeds and a
// structure-aware mutator: real models (testdata, every shared model, a
// sample of the ONNX backend cases) changed through their protobuf types
// (op types, attributes, wiring, dimensions, dtypes), so that mutants stay
// well-formed protobuf and reach the importer, the passes and code
// generation instead of stopping at the decoder as most byte flips do.
package fuzzmodel

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/ir"
)

// Seed is one model of the corpus.
type Seed struct {
	Name  string
	Model []byte
}

// Corpus lists testdata/tiny_cnn, the shared models no larger than
// maxBytes (every one when maxBytes <= 0) and every sample-th ONNX backend
// case (by sorted path) of the shared data's suites. root is the
// repository, shared the shared data folder ("" for none).
func Corpus(root, shared string, maxBytes int64, sample int) ([]Seed, error) {
	var seeds []Seed
	add := func(name, path string) error {
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		if maxBytes > 0 && fi.Size() > maxBytes {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		seeds = append(seeds, Seed{name, data})
		return nil
	}
	if err := add("testdata/tiny_cnn", filepath.Join(root, "testdata", "tiny_cnn", "model.onnx")); err != nil {
		return nil, err
	}
	if shared == "" {
		return seeds, nil
	}
	models, _ := filepath.Glob(filepath.Join(shared, "models", "*", "model.onnx"))
	sort.Strings(models)
	for _, p := range models {
		if err := add("models/"+filepath.Base(filepath.Dir(p)), p); err != nil {
			return nil, err
		}
	}
	cases, _ := filepath.Glob(filepath.Join(shared, "onnx-tests", "*", "*", "model.onnx"))
	sort.Strings(cases)
	for i, p := range cases {
		if sample > 0 && i%sample == 0 {
			rel, _ := filepath.Rel(shared, filepath.Dir(p))
			if err := add(rel, p); err != nil {
				return nil, err
			}
		}
	}
	return seeds, nil
}

// PinShapes gives every dynamic or missing dimension of the model's graph
// inputs the size 1, so that a mutant compiles as far as it can.
func PinShapes(model []byte) map[string][]int {
	mp, err := frontend.Decode(model)
	if err != nil {
		return nil
	}
	inits := map[string]bool{}
	for _, t := range mp.Graph.Initializer {
		inits[t.GetName()] = true
	}
	shapes := map[string][]int{}
	for _, vi := range mp.Graph.Input {
		tt := vi.GetType().GetTensorType()
		if inits[vi.GetName()] || tt == nil || tt.Shape == nil {
			continue
		}
		s := make([]int, len(tt.Shape.Dim))
		dynamic := false
		for i, d := range tt.Shape.Dim {
			if d.Value == nil || d.GetDimParam() != "" || d.GetDimValue() < 0 {
				s[i], dynamic = 1, true
			} else {
				s[i] = int(d.GetDimValue())
			}
		}
		if dynamic {
			shapes[vi.GetName()] = s
		}
	}
	return shapes
}

// Clean returns an error when err shows a bug rather than a refused model:
// a recovered panic (an internal error) or a Go stack trace in the message.
func Clean(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if ir.IsInternal(err) || strings.Contains(msg, "goroutine ") || strings.Contains(msg, "panic") {
		return errors.New("not a clean error: " + msg)
	}
	return nil
}

// planReader reads the mutation plan: each edit takes what it needs; past the
// end every read is 0.
type planReader struct {
	b []byte
}

func (r *planReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *planReader) n(n int) int {
	if n <= 0 {
		return 0
	}
	return (int(r.byte())<<8 | int(r.byte())) % n
}

// interesting integers and floats for attributes and dimensions.
var (
	ints   = []int64{0, 1, -1, 2, 3, 4, 7, -2, 1 << 20, 1 << 31, -(1 << 31), math.MaxInt64, math.MinInt64, 1 << 40, 100}
	floats = []float32{0, 1, -1, 0.5, 2, 1e-30, 1e30, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), -0.0, 3}
	// dtypes: ONNX codes, valid and not.
	dtypes = []int32{1, 2, 3, 5, 6, 7, 9, 10, 11, 12, 13, 16, 17, 19, 21, 22, 23, 0, 8, 14, 99}
	// names of attributes ops read.
	attrNames = []string{"axis", "axes", "perm", "keepdims", "mode", "to", "alpha", "beta", "group", "kernel_shape",
		"pads", "strides", "dilations", "auto_pad", "transA", "transB", "epsilon", "value", "split", "num_outputs",
		"coordinate_transformation_mode", "direction", "hidden_size", "k", "largest", "sorted", "select_last_index",
		"ceil_mode", "count_include_pad", "storage_order", "batch_dims", "reduction", "blocksize", "noop_with_empty_axes"}
	strs = []string{"", "linear", "nearest", "cubic", "constant", "reflect", "edge", "wrap", "SAME_UPPER", "VALID", "NOTSET",
		"half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize", "reverse", "bidirectional", "DCR", "CRD", "\x00\xff"}
)

// Ops lists the op types a mutation may put in a node: every operator mlc
// imports and a few it does not.
func ops() []string {
	var out []string
	for _, o := range frontend.SupportedOps() {
		if o.Domain == "" {
			out = append(out, o.OpType)
		}
	}
	return append(out, "NoSuchOp", "")
}

var opNames = ops()

// Mutate applies the edits the plan encodes to a copy of mp and returns it
// encoded (nil if it no longer marshals).
func Mutate(model []byte, plan []byte) []byte {
	mp, err := frontend.Decode(model)
	if err != nil {
		return nil
	}
	r := &planReader{plan}
	for edits := 1 + int(r.byte()%4); edits > 0; edits-- {
		edit(mp, r)
	}
	out, err := proto.Marshal(mp)
	if err != nil {
		return nil
	}
	return out
}

// graphs lists the model's graph and its subgraphs.
func graphs(g *onnxpb.GraphProto) []*onnxpb.GraphProto {
	out := []*onnxpb.GraphProto{g}
	for _, n := range g.Node {
		for _, a := range n.Attribute {
			if a.G != nil {
				out = append(out, graphs(a.G)...)
			}
			for _, sg := range a.Graphs {
				out = append(out, graphs(sg)...)
			}
		}
	}
	return out
}

// names lists the value names a graph defines or reads.
func names(g *onnxpb.GraphProto) []string {
	var out []string
	for _, vi := range g.Input {
		out = append(out, vi.GetName())
	}
	for _, t := range g.Initializer {
		out = append(out, t.GetName())
	}
	for _, n := range g.Node {
		out = append(out, n.Output...)
	}
	return out
}

func edit(mp *onnxpb.ModelProto, r *planReader) {
	gs := graphs(mp.Graph)
	g := gs[r.n(len(gs))]
	var node *onnxpb.NodeProto
	if len(g.Node) > 0 {
		node = g.Node[r.n(len(g.Node))]
	}
	switch r.byte() % 16 {
	case 0: // op type
		if node != nil {
			node.OpType = proto.String(opNames[r.n(len(opNames))])
		}
	case 1, 2: // an attribute's value
		if node != nil && len(node.Attribute) > 0 {
			mutateAttr(node.Attribute[r.n(len(node.Attribute))], r)
		}
	case 3: // add an attribute or drop one
		if node == nil {
			break
		}
		if len(node.Attribute) > 0 && r.byte()%2 == 0 {
			i := r.n(len(node.Attribute))
			node.Attribute = append(node.Attribute[:i], node.Attribute[i+1:]...)
			break
		}
		a := &onnxpb.AttributeProto{Name: proto.String(attrNames[r.n(len(attrNames))])}
		a.Type = onnxpb.AttributeProto_AttributeType(1 + r.n(8)).Enum()
		mutateAttr(a, r)
		node.Attribute = append(node.Attribute, a)
	case 4, 5: // rewire an input
		if node == nil {
			break
		}
		ns := names(g)
		switch {
		case len(node.Input) > 0 && r.byte()%4 != 0:
			node.Input[r.n(len(node.Input))] = pick(ns, r)
		case r.byte()%2 == 0 && len(node.Input) > 0:
			node.Input = node.Input[:len(node.Input)-1]
		default:
			node.Input = append(node.Input, pick(ns, r))
		}
	case 6: // outputs: rename, drop or add
		if node == nil {
			break
		}
		switch {
		case len(node.Output) > 0 && r.byte()%2 == 0:
			node.Output[r.n(len(node.Output))] = pick(names(g), r)
		case len(node.Output) > 1:
			node.Output = node.Output[:len(node.Output)-1]
		default:
			node.Output = append(node.Output, "fuzz_extra")
		}
	case 7: // remove or duplicate a node
		if node == nil {
			break
		}
		i := r.n(len(g.Node))
		if r.byte()%2 == 0 {
			g.Node = append(g.Node[:i], g.Node[i+1:]...)
		} else {
			g.Node = append(g.Node, proto.Clone(g.Node[i]).(*onnxpb.NodeProto))
		}
	case 8, 9: // a graph input's dimensions
		if len(g.Input) == 0 {
			break
		}
		tt := g.Input[r.n(len(g.Input))].GetType().GetTensorType()
		if tt == nil {
			break
		}
		if tt.Shape == nil || len(tt.Shape.Dim) == 0 || r.byte()%8 == 0 {
			tt.Shape = &onnxpb.TensorShapeProto{}
			for k := r.n(5); k > 0; k-- {
				tt.Shape.Dim = append(tt.Shape.Dim, dim(r))
			}
			break
		}
		tt.Shape.Dim[r.n(len(tt.Shape.Dim))] = dim(r)
	case 10: // a graph input's dtype
		if len(g.Input) > 0 {
			if tt := g.Input[r.n(len(g.Input))].GetType().GetTensorType(); tt != nil {
				tt.ElemType = proto.Int32(dtypes[r.n(len(dtypes))])
			}
		}
	case 11: // an initializer: dims, dtype or data
		if len(g.Initializer) == 0 {
			break
		}
		mutateTensor(g.Initializer[r.n(len(g.Initializer))], r)
	case 12: // a Constant's or tensor attribute's value
		if node != nil {
			for _, a := range node.Attribute {
				if a.T != nil {
					mutateTensor(a.T, r)
					break
				}
			}
		}
	case 13: // the opset
		if len(mp.OpsetImport) > 0 {
			mp.OpsetImport[0].Version = proto.Int64([]int64{1, 6, 7, 9, 10, 11, 12, 13, 14, 17, 18, 19, 21, 23, 28, 29}[r.n(16)])
		}
	case 14: // swap two nodes (order)
		if len(g.Node) > 1 {
			i, j := r.n(len(g.Node)), r.n(len(g.Node))
			g.Node[i], g.Node[j] = g.Node[j], g.Node[i]
		}
	case 15: // a graph output's name
		if len(g.Output) > 0 {
			g.Output[r.n(len(g.Output))].Name = proto.String(pick(names(g), r))
		}
	}
}

func pick(ns []string, r *planReader) string {
	if len(ns) == 0 || r.byte()%16 == 0 {
		return ""
	}
	return ns[r.n(len(ns))]
}

func dim(r *planReader) *onnxpb.TensorShapeProto_Dimension {
	if r.byte()%8 == 0 {
		return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}}
	}
	v := ints[r.n(len(ints))]
	if r.byte()%2 == 0 {
		v = int64(r.n(9))
	}
	return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: v}}
}

func mutateAttr(a *onnxpb.AttributeProto, r *planReader) {
	switch r.byte() % 8 {
	case 0: // the type tag alone
		a.Type = onnxpb.AttributeProto_AttributeType(r.n(15)).Enum()
		return
	case 1: // the int
		a.I = proto.Int64(ints[r.n(len(ints))])
	case 2:
		a.F = proto.Float32(floats[r.n(len(floats))])
	case 3:
		a.S = []byte(strs[r.n(len(strs))])
	case 4: // an element of the ints, or their length
		if len(a.Ints) > 0 && r.byte()%2 == 0 {
			a.Ints[r.n(len(a.Ints))] = ints[r.n(len(ints))]
		} else if len(a.Ints) > 0 && r.byte()%2 == 0 {
			a.Ints = a.Ints[:len(a.Ints)-1]
		} else {
			a.Ints = append(a.Ints, ints[r.n(len(ints))])
		}
	case 5:
		if len(a.Floats) > 0 {
			a.Floats[r.n(len(a.Floats))] = floats[r.n(len(floats))]
		} else {
			a.Floats = append(a.Floats, floats[r.n(len(floats))])
		}
	default: // a value fitting the type it has
		switch a.GetType() {
		case onnxpb.AttributeProto_INT:
			a.I = proto.Int64(ints[r.n(len(ints))])
		case onnxpb.AttributeProto_FLOAT:
			a.F = proto.Float32(floats[r.n(len(floats))])
		case onnxpb.AttributeProto_STRING:
			a.S = []byte(strs[r.n(len(strs))])
		case onnxpb.AttributeProto_INTS:
			if len(a.Ints) > 0 {
				a.Ints[r.n(len(a.Ints))] = int64(r.n(9)) - 4
			}
		case onnxpb.AttributeProto_TENSOR:
			if a.T != nil {
				mutateTensor(a.T, r)
			}
		}
	}
}

func mutateTensor(t *onnxpb.TensorProto, r *planReader) {
	switch r.byte() % 5 {
	case 0: // dims
		if len(t.Dims) > 0 && r.byte()%2 == 0 {
			t.Dims[r.n(len(t.Dims))] = ints[r.n(len(ints))]
		} else {
			t.Dims = append(t.Dims, int64(r.n(4)))
		}
	case 1: // dims, keeping the element count (a reshape)
		total := int64(1)
		for _, d := range t.Dims {
			total *= d
		}
		t.Dims = []int64{total}
		if total%2 == 0 && r.byte()%2 == 0 {
			t.Dims = []int64{2, total / 2}
		}
	case 2:
		t.DataType = proto.Int32(dtypes[r.n(len(dtypes))])
	case 3: // raw bytes
		if len(t.RawData) > 0 {
			t.RawData = append([]byte{}, t.RawData...)
			for k := 1 + r.n(4); k > 0; k-- {
				t.RawData[r.n(len(t.RawData))] = r.byte()
			}
		}
	case 4: // typed data
		if len(t.Int64Data) > 0 {
			t.Int64Data[r.n(len(t.Int64Data))] = ints[r.n(len(ints))]
		} else if len(t.FloatData) > 0 {
			t.FloatData[r.n(len(t.FloatData))] = floats[r.n(len(floats))]
		} else if len(t.RawData) >= 8 && t.GetDataType() == 7 {
			t.RawData = append([]byte{}, t.RawData...)
			i := 8 * r.n(len(t.RawData)/8)
			v := uint64(ints[r.n(len(ints))])
			for k := range 8 {
				t.RawData[i+k] = byte(v >> (8 * k))
			}
		}
	}
}
