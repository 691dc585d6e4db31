package frontend

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/mlc-compiler/mlc/frontend/onnxpb"
	"github.com/mlc-compiler/mlc/ir"
)

// importer turns one ONNX op into IR nodes. Versions lists the ONNX
// since-versions of the op whose semantics the importer knows; a model's
// opset selects the newest of them not above it, passed as nodeCtx.Version.
type importer struct {
	Domain   string
	OpType   string
	Versions []int
	Limits   string // what is not supported, for `mlc ops`
	Import   func(c *nodeCtx) error
	// Aggregates: the importer accepts sequence and optional inputs
	// (nodeCtx.Agg); other importers reject them before running.
	Aggregates bool
}

func (imp *importer) versionFor(opset int) int {
	v := 0
	for _, s := range imp.Versions {
		if s <= opset {
			v = s
		}
	}
	return v
}

var registry = map[string]*importer{}

// register adds an importer; each op family file calls it from init.
func register(op string, versions []int, limits string, fn func(c *nodeCtx) error) {
	registerDomain("", op, versions, limits, fn)
}

func registerDomain(domain, op string, versions []int, limits string, fn func(c *nodeCtx) error) {
	key := domain + "/" + op
	if registry[key] != nil {
		panic("frontend: duplicate importer for " + key)
	}
	registry[key] = &importer{Domain: domain, OpType: op, Versions: versions, Limits: limits, Import: fn}
}

func lookupImporter(domain, op string) *importer { return registry[domain+"/"+op] }

// OpInfo describes a supported operator, for `mlc ops` and docs/ops.md.
type OpInfo struct {
	Domain   string
	OpType   string
	Versions []int // the ONNX since-versions covered
	Limits   string
}

// SupportedOps lists the importers sorted by domain and name.
func SupportedOps() []OpInfo {
	var out []OpInfo
	for _, imp := range registry {
		out = append(out, OpInfo{imp.Domain, imp.OpType, imp.Versions, imp.Limits})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Domain != out[j].Domain {
			return out[i].Domain < out[j].Domain
		}
		return out[i].OpType < out[j].OpType
	})
	return out
}

// IsSupported reports whether domain/op at opset has an importer.
func IsSupported(domain, op string, opset int) bool {
	if domain == "ai.onnx" {
		domain = ""
	}
	imp := lookupImporter(domain, op)
	return imp != nil && imp.versionFor(opset) > 0
}

// nodeCtx is what an importer sees of one ONNX node.
type nodeCtx struct {
	b       *builder
	np      *onnxpb.NodeProto
	g       *ir.Graph
	sc      *scope
	inputs  []*ir.Value
	label   string
	used    map[string]bool
	bound   bool
	err     error             // the first inference error of a Tmp node
	aggs    map[int]aggregate // sequence and optional inputs, by index
	made    map[*ir.Value]bool
	tmp     int
	Opset   int // the model's opset for the node's domain
	Version int // the op's since-version in effect
}

// In returns input i, or nil when omitted or absent.
func (c *nodeCtx) In(i int) *ir.Value {
	if i < len(c.inputs) {
		return c.inputs[i]
	}
	return nil
}

// Inputs returns all inputs (nil for omitted ones).
func (c *nodeCtx) Inputs() []*ir.Value { return c.inputs }

// Declared returns the static type the model states for output i (in its
// graph outputs or value_info), if any. Ops whose output shape depends on
// run-time data compile to that shape and check the data against it.
func (c *nodeCtx) Declared(i int) (ir.Type, bool) {
	if i >= len(c.np.Output) || c.np.Output[i] == "" {
		return ir.Type{}, false
	}
	return c.sc.declaredType(c.np.Output[i])
}

// NumOut is the number of outputs the node declares.
func (c *nodeCtx) NumOut() int { return len(c.np.Output) }

// Need checks the count of required inputs.
func (c *nodeCtx) Need(n int) error {
	for i := 0; i < n; i++ {
		if c.In(i) == nil {
			return fmt.Errorf("required input %d is missing", i)
		}
	}
	return nil
}

// Emit adds a node whose outputs are the ONNX node's outputs. It must be the
// last node an importer adds.
func (c *nodeCtx) Emit(op ir.Op, inputs ...*ir.Value) error {
	outs := make([]*ir.Value, len(c.np.Output))
	for i, name := range c.np.Output {
		if name == "" {
			continue
		}
		outs[i] = &ir.Value{Name: name}
		c.sc.vals[name] = outs[i]
	}
	c.bound = true
	return c.add(&ir.Node{Name: c.np.GetName(), Op: op, Inputs: inputs, Outputs: outs})
}

// add appends a node and types it right away when its inputs are typed, so
// that later importers can look at shapes and folded constants. Inside
// subgraphs whose inputs the owning op types later, inference waits.
func (c *nodeCtx) add(n *ir.Node) error {
	c.g.Nodes = append(c.g.Nodes, n)
	for _, v := range n.ReadValues() {
		if !v.Typed() {
			return nil
		}
	}
	err := ir.InferNode(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return err
}

// Bind makes the ONNX node's output i name an existing value (used when an
// op imports as nothing, such as Constant).
//
// A value this node made (through Tmp or Const) takes the output's name,
// which may be a graph output's name in the module ABI.
func (c *nodeCtx) Bind(i int, v *ir.Value) {
	if i < len(c.np.Output) && c.np.Output[i] != "" {
		c.sc.vals[c.np.Output[i]] = v
		if c.made[v] {
			v.Name = c.np.Output[i]
		}
	}
	c.bound = true
}

// Tmp adds an intermediate node with nout fresh outputs.
func (c *nodeCtx) Tmp(op ir.Op, nout int, inputs ...*ir.Value) []*ir.Value {
	outs := make([]*ir.Value, nout)
	for i := range outs {
		c.tmp++
		outs[i] = &ir.Value{Name: fmt.Sprintf("%s/%s_%d", c.baseName(), op.OpType(), c.tmp)}
		c.markMade(outs[i])
	}
	c.add(&ir.Node{Name: c.np.GetName(), Op: op, Inputs: inputs, Outputs: outs})
	return outs
}

// Tmp1 is Tmp with one output.
func (c *nodeCtx) Tmp1(op ir.Op, inputs ...*ir.Value) *ir.Value { return c.Tmp(op, 1, inputs...)[0] }

func (c *nodeCtx) baseName() string {
	if c.np.GetName() != "" {
		return c.np.GetName()
	}
	if len(c.np.Output) > 0 {
		return c.np.Output[0]
	}
	return c.np.GetOpType()
}

// Const makes a constant value owned by this node.
func (c *nodeCtx) Const(t *ir.Tensor) *ir.Value {
	c.tmp++
	v := ir.NewConst(fmt.Sprintf("%s/const_%d", c.baseName(), c.tmp), t)
	c.markMade(v)
	return v
}

func (c *nodeCtx) markMade(v *ir.Value) {
	if c.made == nil {
		c.made = map[*ir.Value]bool{}
	}
	c.made[v] = true
}

// ConstInts makes an int64 1-D constant.
func (c *nodeCtx) ConstInts(vals ...int) *ir.Value {
	v := make([]int64, len(vals))
	for i, x := range vals {
		v[i] = int64(x)
	}
	return c.Const(ir.TensorI64(nil, v...))
}

// attr returns the named attribute (marking it used) or nil.
func (c *nodeCtx) attr(name string) *onnxpb.AttributeProto {
	for _, a := range c.np.Attribute {
		if a.GetName() == name {
			c.used[name] = true
			if a.GetRefAttrName() != "" {
				return nil
			}
			return a
		}
	}
	return nil
}

// Has reports whether an attribute is present (and marks it used).
func (c *nodeCtx) Has(name string) bool { return c.attr(name) != nil }

func (c *nodeCtx) Int(name string, def int) int {
	if a := c.attr(name); a != nil {
		return int(a.GetI())
	}
	return def
}

func (c *nodeCtx) Float(name string, def float32) float32 {
	if a := c.attr(name); a != nil {
		return a.GetF()
	}
	return def
}

func (c *nodeCtx) String(name, def string) string {
	if a := c.attr(name); a != nil {
		return string(a.GetS())
	}
	return def
}

// Ints returns an INTS attribute, or def (which may be nil).
func (c *nodeCtx) Ints(name string, def []int) []int {
	a := c.attr(name)
	if a == nil {
		return def
	}
	out := make([]int, len(a.Ints))
	for i, v := range a.Ints {
		out[i] = int(v)
	}
	return out
}

func (c *nodeCtx) Floats(name string, def []float32) []float32 {
	if a := c.attr(name); a != nil {
		return slices.Clone(a.Floats)
	}
	return def
}

func (c *nodeCtx) Strings(name string, def []string) []string {
	a := c.attr(name)
	if a == nil {
		return def
	}
	out := make([]string, len(a.Strings))
	for i, s := range a.Strings {
		out[i] = string(s)
	}
	return out
}

// Tensor returns a TENSOR attribute decoded, or nil.
func (c *nodeCtx) Tensor(name string) (*ir.Tensor, error) {
	a := c.attr(name)
	if a == nil || a.T == nil {
		return nil, nil
	}
	return TensorFromProto(a.T, c.b.dir)
}

// Graph imports a GRAPH attribute as a subgraph that sees this scope.
func (c *nodeCtx) Graph(name string) (*ir.Graph, error) {
	a := c.attr(name)
	if a == nil || a.G == nil {
		return nil, fmt.Errorf("missing graph attribute %s", name)
	}
	g, err := c.b.graph(a.G, c.sc, false)
	if err != nil {
		return nil, fmt.Errorf("in subgraph %s: %w", name, err)
	}
	return g, nil
}

// OneOf checks a string attribute against allowed values.
func (c *nodeCtx) OneOf(name, def string, allowed ...string) (string, error) {
	v := c.String(name, def)
	if !slices.Contains(allowed, v) {
		return "", ir.NotSupportedf("%s=%q (supported: %s)", name, v, strings.Join(allowed, ", "))
	}
	return v, nil
}

func asUnsupported(err error, u **ir.Unsupported) bool { return errors.As(err, u) }
