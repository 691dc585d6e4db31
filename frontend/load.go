// Package frontend turns an ONNX model into an ir.Graph. Every difference
// between ONNX opset versions is settled here, in the per-family import
// files, so that nothing downstream sees opsets.
package frontend

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/ir"
)

// Options steer the import.
type Options struct {
	// InputShapes pins graph input shapes by name; they replace symbolic or
	// missing dimensions (an empty shape pins a scalar).
	InputShapes map[string]ir.Shape
	// InputValues compiles the module for one value of these inputs: the
	// graph sees them as constants (so shape arguments computed from them
	// become static), and the module checks at run time that the input it
	// is given equals the value, failing the run otherwise.
	InputValues map[string]*ir.Tensor
}

// Model is an imported ONNX model.
type Model struct {
	Graph           *ir.Graph
	IRVersion       int64
	Opsets          map[string]int64 // domain ("" is ai.onnx) -> version
	ProducerName    string
	ProducerVersion string
}

// maxModelBytes: protobuf messages cannot exceed 2 GiB; larger weights must
// be stored as external data.
const maxModelBytes = 2 << 30

// Load reads and imports a model file.
func Load(path string, opts Options) (*Model, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxModelBytes {
		return nil, fmt.Errorf("%s: %d bytes is more than a protobuf model can hold", path, fi.Size())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Import(data, filepath.Dir(path), opts)
}

func unmarshal(data []byte, m proto.Message) error {
	return proto.UnmarshalOptions{RecursionLimit: 100}.Unmarshal(data, m)
}

// Decode parses model bytes without importing the graph.
func Decode(data []byte) (*onnxpb.ModelProto, error) {
	var mp onnxpb.ModelProto
	if err := unmarshal(data, &mp); err != nil {
		return nil, fmt.Errorf("not a valid ONNX model (truncated or corrupt protobuf): %w", err)
	}
	if mp.Graph == nil {
		return nil, fmt.Errorf("not a valid ONNX model: it has no graph")
	}
	if mp.GetIrVersion() < 1 {
		return nil, fmt.Errorf("not a valid ONNX model: ir_version is %d", mp.GetIrVersion())
	}
	return &mp, nil
}

// EachNode calls fn for every node of g, and of its subgraphs after the
// node that holds them.
func EachNode(g *onnxpb.GraphProto, fn func(*onnxpb.NodeProto)) {
	for _, n := range g.Node {
		fn(n)
		for _, a := range n.Attribute {
			if a.G != nil {
				EachNode(a.G, fn)
			}
			for _, sg := range a.Graphs {
				EachNode(sg, fn)
			}
		}
	}
}

// Import decodes model bytes and builds the graph. dir locates external data.
func Import(data []byte, dir string, opts Options) (*Model, error) {
	mp, err := Decode(data)
	if err != nil {
		return nil, err
	}
	return ImportProto(mp, dir, opts)
}

// ImportProto builds the graph of a decoded model.
func ImportProto(mp *onnxpb.ModelProto, dir string, opts Options) (*Model, error) {
	m := &Model{
		IRVersion:       mp.GetIrVersion(),
		Opsets:          map[string]int64{},
		ProducerName:    mp.GetProducerName(),
		ProducerVersion: mp.GetProducerVersion(),
	}
	for _, o := range mp.OpsetImport {
		d := o.GetDomain()
		if d == "ai.onnx" {
			d = ""
		}
		if _, dup := m.Opsets[d]; dup {
			return nil, fmt.Errorf("not a valid ONNX model: opset_import lists domain %q twice", o.GetDomain())
		}
		v := o.GetVersion()
		if v < 1 {
			return nil, fmt.Errorf("not a valid ONNX model: it imports version %d of domain %q", v, o.GetDomain())
		}
		if newest, known := maxOpset[d]; known && v > newest {
			return nil, fmt.Errorf("it imports opset %d of domain %q, newer than any mlc knows (%d is the newest)", v, o.GetDomain(), newest)
		}
		m.Opsets[d] = v
	}
	if len(mp.OpsetImport) == 0 {
		if mp.GetIrVersion() >= 3 {
			return nil, fmt.Errorf("not a valid ONNX model: it has no opset_import (required since IR version 3, which says which operator versions the graph uses)")
		}
		m.Opsets[""] = 1 // IR version 2 and older models carry no opset_import
	}
	if len(mp.Functions) > 0 {
		return nil, &ir.Unsupported{Where: "model", What: fmt.Sprintf("model-local functions (%s)", mp.Functions[0].GetName())}
	}
	if err := precheckRebatch(mp, opts); err != nil {
		return nil, err
	}
	b := &builder{model: m, dir: dir, opts: opts, rebatched: map[string]bool{}}
	g, err := b.graph(mp.Graph, nil, true)
	if err != nil {
		if len(b.rebatched) > 0 {
			return nil, fmt.Errorf("%s is not possible: %w", rebatchWhat(b.rebatched, opts), err)
		}
		return nil, err
	}
	if err := b.checkRebatch(mp, dir, g); err != nil {
		return nil, err
	}
	for name := range opts.InputShapes {
		if !slices.ContainsFunc(g.Inputs, func(v *ir.Value) bool { return v.Name == name }) {
			return nil, fmt.Errorf("--input-shape names %q, which is not a model input (inputs: %s)", name, valueNames(g.Inputs))
		}
	}
	for name := range opts.InputValues {
		if !slices.ContainsFunc(g.Inputs, func(v *ir.Value) bool { return v.Name == name }) {
			return nil, fmt.Errorf("--input-value names %q, which is not a model input (inputs: %s)", name, valueNames(g.Inputs))
		}
	}
	m.Graph = g
	return m, nil
}

func valueNames(vs []*ir.Value) string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.Name
	}
	return strings.Join(names, ", ")
}

type builder struct {
	model *Model
	dir   string
	opts  Options
	// users maps value names to the nodes reading them, in every graph
	// imported so far (ONNX names are unique across nested graphs).
	users map[string][]*onnxpb.NodeProto
	// rebatched names the inputs whose first dimension, 1 in the model,
	// --input-shape changes (rebatch.go).
	rebatched map[string]bool
	// inputTypes types the inputs of the next subgraph imported, from what
	// its op passes them, so that its nodes are typed (and can settle opset
	// differences) while importing, like the main graph's.
	inputTypes []*ir.Type
}

// scope resolves value names, falling back to enclosing graphs.
type scope struct {
	vals   map[string]*ir.Value
	parent *scope
	// declared holds the static types the model states for values (graph
	// outputs and value_info); ops whose output shape depends on run-time
	// data read them through nodeCtx.Declared.
	declared map[string]ir.Type
	// aggs holds the sequence and optional values, resolved at compile
	// time (ops_sequence.go); they never become IR values.
	aggs map[string]aggregate
	// defined holds every name the graph defines (checkNames).
	defined map[string]bool
}

// definedAbove reports whether an enclosing graph defines name.
func (s *scope) definedAbove(name string) bool {
	for s = s.parent; s != nil; s = s.parent {
		if s.defined[name] {
			return true
		}
	}
	return false
}

// checkNames applies ONNX's single static assignment rules to a graph, as
// onnx.checker does: no input listed twice, no initializer defined twice,
// and no node output that reuses a name of this graph or an enclosing one
// (where the last definition silently won before).
func checkNames(gp *onnxpb.GraphProto, sc *scope) error {
	sc.defined = map[string]bool{}
	inits := map[string]bool{}
	initName := func(name string) error {
		if inits[name] {
			return fmt.Errorf("initializer %q is defined twice", name)
		}
		inits[name] = true
		sc.defined[name] = true
		return nil
	}
	for _, tp := range gp.Initializer {
		if err := initName(tp.GetName()); err != nil {
			return err
		}
	}
	for _, sp := range gp.SparseInitializer {
		if err := initName(sp.GetValues().GetName()); err != nil {
			return err
		}
	}
	inputs := map[string]bool{}
	for _, vi := range gp.Input {
		name := vi.GetName()
		if name == "" {
			return fmt.Errorf("a graph input has no name")
		}
		if inputs[name] {
			return fmt.Errorf("graph input %q is listed twice", name)
		}
		inputs[name] = true
		sc.defined[name] = true
	}
	for _, np := range gp.Node {
		for _, o := range np.Output {
			if o == "" {
				continue
			}
			if sc.defined[o] || sc.definedAbove(o) {
				return fmt.Errorf("%s: invalid graph: %q is already defined (by another node, a graph input or an initializer); ONNX graphs assign each name once", nodeLabel(np), o)
			}
			sc.defined[o] = true
		}
	}
	return nil
}

func (s *scope) lookup(name string) *ir.Value {
	v, _ := s.resolve(name)
	return v
}

// resolve finds a name as a tensor value or an aggregate, innermost scope
// first.
func (s *scope) resolve(name string) (*ir.Value, aggregate) {
	for ; s != nil; s = s.parent {
		if v, ok := s.vals[name]; ok {
			return v, nil
		}
		if a, ok := s.aggs[name]; ok {
			return nil, a
		}
	}
	return nil, nil
}

// declaredType finds the static type the model declares for a name,
// innermost scope first.
func (s *scope) declaredType(name string) (ir.Type, bool) {
	for ; s != nil; s = s.parent {
		if t, ok := s.declared[name]; ok {
			return t, true
		}
	}
	return ir.Type{}, false
}

// graph imports a GraphProto. The main graph's inputs must get static
// shapes; a subgraph's inputs may stay untyped for their op to type.
func (b *builder) graph(gp *onnxpb.GraphProto, parent *scope, main bool) (*ir.Graph, error) {
	sc := &scope{vals: map[string]*ir.Value{}, aggs: map[string]aggregate{}, parent: parent, declared: declaredTypes(gp)}
	if err := checkNames(gp, sc); err != nil {
		return nil, err
	}
	g := &ir.Graph{Name: gp.GetName()}
	inits := map[string]bool{}
	for _, tp := range gp.Initializer {
		t, err := TensorFromProto(tp, b.dir)
		if err != nil {
			return nil, fmt.Errorf("initializer: %w", err)
		}
		sc.vals[tp.GetName()] = ir.NewConst(tp.GetName(), t)
		inits[tp.GetName()] = true
	}
	for _, sp := range gp.SparseInitializer {
		t, err := sparseToDense(sp, b.dir)
		if err != nil {
			return nil, err
		}
		name := sp.GetValues().GetName()
		sc.vals[name] = ir.NewConst(name, t)
		inits[name] = true
	}
	inputTypes := b.inputTypes // set by GraphWithInputs for this graph only
	b.inputTypes = nil
	for _, vi := range gp.Input {
		name := vi.GetName()
		if inits[name] {
			continue // an initializer listed as input is a constant
		}
		v, err := b.inputValue(vi, main)
		if err != nil {
			return nil, err
		}
		if i := len(g.Inputs); i < len(inputTypes) && inputTypes[i] != nil {
			if err := bindSubgraphInput(v, *inputTypes[i]); err != nil {
				return nil, err
			}
		}
		sc.vals[name] = v
		g.Inputs = append(g.Inputs, v)
		if t, ok := b.opts.InputValues[name]; ok && main {
			if t.DType != v.Type.DType || !t.Shape.Equal(v.Type.Shape) {
				return nil, fmt.Errorf("--input-value %s is %s, the input is %s", name, t.Type, v.Type)
			}
			fixed := ir.NewConst(name, t)
			sc.vals[name] = fixed
			g.Nodes = append(g.Nodes, &ir.Node{Name: "check " + name, Op: &ir.CheckEqual{}, Inputs: []*ir.Value{v, fixed}})
		}
	}
	b.noteUsers(gp)
	for _, np := range topoSorted(gp.Node) {
		if err := b.node(np, g, sc); err != nil {
			return nil, err
		}
	}
	for _, vi := range gp.Output {
		v, agg := sc.resolve(vi.GetName())
		if agg != nil {
			return nil, &ir.Unsupported{Where: fmt.Sprintf("graph output %q", vi.GetName()), What: "outputs that are sequences, maps or optionals"}
		}
		if v == nil {
			return nil, fmt.Errorf("graph output %q is not produced by any node", vi.GetName())
		}
		if main && v.Typed() && v.Type.DType == ir.String {
			return nil, &ir.Unsupported{Where: fmt.Sprintf("graph output %q", vi.GetName()), What: noStringABI}
		}
		if vi.GetType().GetTensorType() == nil && vi.GetType() != nil && vi.GetType().Value != nil {
			return nil, &ir.Unsupported{Where: fmt.Sprintf("graph output %q", vi.GetName()), What: "outputs that are sequences, maps or optionals"}
		}
		g.Outputs = append(g.Outputs, v)
	}
	return g, nil
}

// declaredTypes collects the fully static tensor types a graph states for
// its outputs and value_info entries.
func declaredTypes(gp *onnxpb.GraphProto) map[string]ir.Type {
	m := map[string]ir.Type{}
	for _, vi := range append(append([]*onnxpb.ValueInfoProto{}, gp.ValueInfo...), gp.Output...) {
		tt := vi.GetType().GetTensorType()
		if tt == nil || tt.Shape == nil {
			continue
		}
		dt, err := DTypeFromONNX(tt.GetElemType())
		if err != nil {
			continue
		}
		shape := make(ir.Shape, len(tt.Shape.Dim))
		static := true
		for i, d := range tt.Shape.Dim {
			if d.GetDimParam() != "" || d.Value == nil || d.GetDimValue() < 0 {
				static = false
				break
			}
			shape[i] = int(d.GetDimValue())
		}
		if static {
			m[vi.GetName()] = ir.Type{DType: dt, Shape: shape}
		}
	}
	return m
}

// noStringABI says why models cannot take or give strings: module ABI v1
// passes tensors as fixed-size raw bytes and has no string dtype, so a host
// could not write or read them. Strings inside the graph work while they
// fold to constants.
const noStringABI = "string tensors as model inputs or outputs (module ABI v1 passes fixed-size raw bytes and has no string dtype)"

// inputValue makes a graph input with a static type.
func (b *builder) inputValue(vi *onnxpb.ValueInfoProto, main bool) (*ir.Value, error) {
	name := vi.GetName()
	where := fmt.Sprintf("input %q", name)
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		if vi.GetType() != nil && vi.GetType().Value != nil {
			return nil, &ir.Unsupported{Where: where, What: "inputs that are sequences, maps, optionals or sparse tensors"}
		}
		if !main {
			return &ir.Value{Name: name}, nil // typed by the op owning the subgraph
		}
		return nil, fmt.Errorf("%s has no type", where)
	}
	dt, err := DTypeFromONNX(tt.GetElemType())
	if err != nil {
		if ir.IsUnsupported(err) {
			return nil, &ir.Unsupported{Where: where, What: err.Error()}
		}
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if dt == ir.String && main {
		return nil, &ir.Unsupported{Where: where, What: noStringABI}
	}
	pinned, isPinned := b.opts.InputShapes[name]
	if t, ok := b.opts.InputValues[name]; ok && !isPinned {
		pinned, isPinned = t.Shape, true
	}
	if !main {
		isPinned = false
	}
	if tt.Shape == nil {
		if isPinned {
			return ir.NewInput(name, ir.Type{DType: dt, Shape: pinned.Clone()}), nil
		}
		if !main {
			return &ir.Value{Name: name, Type: ir.Type{DType: dt}}, nil
		}
		return nil, fmt.Errorf("%s has no shape (not even a rank): pin it with --input-shape %s=d0,d1,...", where, name)
	}
	dims := tt.Shape.Dim
	if isPinned {
		if len(pinned) != len(dims) {
			return nil, fmt.Errorf("%s has rank %d but --input-shape gives %s", where, len(dims), pinned)
		}
		for i, d := range dims {
			if d.GetDimParam() == "" && d.Value != nil && int(d.GetDimValue()) != pinned[i] && d.GetDimValue() > 0 {
				if main && rebatchable(i, d.GetDimValue(), pinned[i]) {
					b.rebatched[name] = true
					continue
				}
				return nil, fmt.Errorf("%s dimension %d is %d in the model but --input-shape gives %d (only a first dimension of 1 may change, to run batches)", where, i, d.GetDimValue(), pinned[i])
			}
		}
		return ir.NewInput(name, ir.Type{DType: dt, Shape: pinned.Clone()}), nil
	}
	shape := make(ir.Shape, len(dims))
	for i, d := range dims {
		switch {
		case d.GetDimParam() != "" || d.Value == nil || d.GetDimValue() < 0:
			if !main {
				return &ir.Value{Name: name, Type: ir.Type{DType: dt}}, nil
			}
			label := fmt.Sprintf("dimension %d", i)
			if p := d.GetDimParam(); p != "" {
				label = fmt.Sprintf("dimension %d (%q)", i, p)
			}
			return nil, &ir.Unsupported{Where: where, What: fmt.Sprintf("%s is dynamic; pin the shape with --input-shape %s=%s", label, name, exampleShape(dims))}
		default:
			shape[i] = int(d.GetDimValue())
		}
	}
	return ir.NewInput(name, ir.Type{DType: dt, Shape: shape}), nil
}

// exampleShape writes dims with dynamic ones as 1, to suggest a pin.
func exampleShape(dims []*onnxpb.TensorShapeProto_Dimension) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		if _, ok := d.Value.(*onnxpb.TensorShapeProto_Dimension_DimValue); ok && d.GetDimValue() >= 0 {
			parts[i] = fmt.Sprint(d.GetDimValue())
		} else {
			parts[i] = "1"
		}
	}
	return strings.Join(parts, ",")
}

func sparseToDense(sp *onnxpb.SparseTensorProto, dir string) (*ir.Tensor, error) {
	vals, err := TensorFromProto(sp.GetValues(), dir)
	if err != nil {
		return nil, fmt.Errorf("sparse initializer values: %w", err)
	}
	idx, err := TensorFromProto(sp.GetIndices(), dir)
	if err != nil {
		return nil, fmt.Errorf("sparse initializer indices: %w", err)
	}
	shape, err := shapeFromDims(sp.Dims)
	if err != nil {
		return nil, err
	}
	if err := ir.CheckAlloc(fmt.Sprintf("sparse initializer %q made dense", sp.GetValues().GetName()), float64(vals.DType.Bytes(shape.Size()))); err != nil {
		return nil, err
	}
	out := ir.NewTensor(vals.DType, shape)
	n := vals.Len()
	st := shape.Strides()
	w := vals.DType.Bits() / 8
	if w == 0 || vals.DType == ir.String {
		return nil, ir.NotSupportedf("sparse %s tensors", vals.DType)
	}
	for i := 0; i < n; i++ {
		var flat int
		switch {
		case len(idx.Shape) == 1:
			flat = int(idx.Int(i))
		case len(idx.Shape) == 2 && idx.Shape[1] == len(shape):
			for d := range shape {
				flat += int(idx.Int(i*len(shape)+d)) * st[d]
			}
		default:
			return nil, fmt.Errorf("sparse indices shape %s", idx.Shape)
		}
		if flat < 0 || flat >= shape.Size() {
			return nil, fmt.Errorf("sparse index %d out of range", flat)
		}
		copy(out.Data[flat*w:flat*w+w], vals.Data[i*w:i*w+w])
	}
	return out, nil
}

// node imports one NodeProto through the op registry.
func (b *builder) node(np *onnxpb.NodeProto, g *ir.Graph, sc *scope) (err error) {
	domain := np.GetDomain()
	if domain == "ai.onnx" {
		domain = ""
	}
	label := nodeLabel(np)
	defer func() {
		if r := recover(); r != nil {
			err = ir.Recovered(nil, label, "import", r)
		}
	}()
	opset, ok := b.model.Opsets[domain]
	if !ok {
		return fmt.Errorf("%s: domain %q is not in the model's opset_import", label, domain)
	}
	if err := checkNode(np, domain, opset); err != nil {
		return fmt.Errorf("%s: invalid node: %w", label, err)
	}
	imp := lookupImporter(domain, np.GetOpType())
	if imp == nil {
		what := fmt.Sprintf("operator %s (opset %d) is not implemented", np.GetOpType(), opset)
		if domain != "" {
			what = fmt.Sprintf("operator %s of domain %s (version %d) is not implemented", np.GetOpType(), domain, opset)
		}
		return &ir.Unsupported{Where: label, What: what}
	}
	version := imp.versionFor(int(opset))
	if version == 0 {
		return &ir.Unsupported{Where: label, What: fmt.Sprintf("%s needs opset %d or newer, the model imports opset %d", np.GetOpType(), imp.Versions[0], opset)}
	}
	c := &nodeCtx{b: b, np: np, g: g, sc: sc, Opset: int(opset), Version: version, label: label, used: map[string]bool{}}
	for i, name := range np.Input {
		if name == "" {
			c.inputs = append(c.inputs, nil)
			continue
		}
		v, agg := sc.resolve(name)
		if agg != nil {
			if !imp.Aggregates {
				return &ir.Unsupported{Where: label, What: fmt.Sprintf("%s (opset %d): input %q is a %s; this operator takes only tensors here", np.GetOpType(), opset, name, agg.kind())}
			}
			c.setAgg(i, agg)
			c.inputs = append(c.inputs, nil)
			continue
		}
		if v == nil {
			return fmt.Errorf("%s: input %q is not defined before the node (graph not in topological order, or a missing initializer)", label, name)
		}
		c.inputs = append(c.inputs, v)
	}
	err = imp.Import(c)
	if c.err != nil && (err == nil || err == c.err) {
		var dt *ir.DTypeError
		if errors.As(c.err, &dt) {
			// A dtype no kernel takes (ir.DeclareKernelDTypes): say which
			// operator version asked for it.
			return &ir.Unsupported{Where: label, What: fmt.Sprintf("%s (opset %d): %v", np.GetOpType(), opset, dt), Cause: c.err}
		}
		return c.err // inference errors already name the node
	}
	if err != nil {
		if ir.IsUnsupported(err) {
			var u *ir.Unsupported
			if ok := asUnsupported(err, &u); ok && u.Where != "" {
				return err
			}
			return &ir.Unsupported{Where: label, What: fmt.Sprintf("%s (opset %d): %v", np.GetOpType(), opset, err), Cause: err}
		}
		return fmt.Errorf("%s: %w", label, err)
	}
	var unused []string
	for _, a := range np.Attribute {
		if !c.used[a.GetName()] {
			unused = append(unused, a.GetName())
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		return &ir.Unsupported{Where: label, What: fmt.Sprintf("%s (opset %d): attribute %s is not implemented", np.GetOpType(), opset, strings.Join(unused, ", "))}
	}
	if !c.bound {
		return fmt.Errorf("%s: importer produced no outputs", label)
	}
	return nil
}

func nodeLabel(np *onnxpb.NodeProto) string {
	if np.GetName() != "" {
		return fmt.Sprintf("node %q (%s)", np.GetName(), np.GetOpType())
	}
	outs := strings.Join(np.Output, ",")
	return fmt.Sprintf("%s node producing %q", np.GetOpType(), outs)
}
