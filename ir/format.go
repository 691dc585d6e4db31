package ir

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// The text form of a graph (docs/design.md, "The IR as text"): one line per
// node, outputs first,
//
//	y: float32[1,8,14,14] @4096 = Conv+Relu {Group: 1, Pads: [1, 1, 1, 1]} (x: float32[1,8,14,14], w: const float32[8,8,3,3]) # "conv1"
//
// attributes are the op's exported fields that are not zero, constants show
// their first values when they have few, @N is a memory-plan address, and
// subgraphs follow their node, indented. Values are named by their Name;
// an empty or repeated name gets a #N suffix, so that each name denotes one
// value. The text depends only on the graph, never on map order or
// pointers, so it can be diffed and kept in golden files.

// Placement is what a memory plan adds to the text: the address of each
// value and a note on each node (its workspace, whether it runs once).
type Placement interface {
	ValueAddr(v *Value) (addr int, ok bool)
	NodeNote(n *Node) string
}

// Format returns g as text; p, when not nil, adds memory-plan addresses.
func (g *Graph) Format(p Placement) string {
	f := &formatter{names: map[*Value]string{}, used: map[string]bool{}, p: p}
	f.graph(g, "", "graph")
	return f.b.String()
}

// String is g.Format(nil).
func (g *Graph) String() string { return g.Format(nil) }

type formatter struct {
	b     strings.Builder
	names map[*Value]string
	used  map[string]bool
	p     Placement
}

// maxShown is how many elements of a constant, or of a list attribute, the
// text shows.
const maxShown = 8

func (f *formatter) graph(g *Graph, indent, label string) {
	var ins []string
	for _, v := range g.Inputs {
		ins = append(ins, f.def(v))
	}
	fmt.Fprintf(&f.b, "%s%s %s(%s) {\n", indent, label, quoteName(g.Name), strings.Join(ins, ", "))
	for _, n := range g.Nodes {
		f.node(n, indent+"  ")
	}
	var outs []string
	for _, v := range g.Outputs {
		outs = append(outs, f.use(v))
	}
	fmt.Fprintf(&f.b, "%s  return %s\n%s}\n", indent, strings.Join(outs, ", "), indent)
}

func (f *formatter) node(n *Node, indent string) {
	var outs []string
	for _, v := range n.Outputs {
		outs = append(outs, f.def(v))
	}
	if len(outs) == 0 {
		outs = []string{"_"}
	}
	var ins []string
	for _, v := range n.Inputs {
		ins = append(ins, f.use(v))
	}
	op := "<nil op>"
	attrs := ""
	if n.Op != nil {
		op = opName(n.Op)
		attrs = f.attrs(n.Op)
	}
	fmt.Fprintf(&f.b, "%s%s = %s%s (%s)", indent, strings.Join(outs, ", "), op, attrs, strings.Join(ins, ", "))
	var notes []string
	if n.Name != "" {
		notes = append(notes, strconv.Quote(n.Name))
	}
	if n.Lazy {
		notes = append(notes, "lazy: computed by its consumer")
	}
	if f.p != nil {
		if s := f.p.NodeNote(n); s != "" {
			notes = append(notes, s)
		}
	}
	if len(notes) > 0 {
		f.b.WriteString(" # " + strings.Join(notes, ", "))
	}
	f.b.WriteByte('\n')
	if s, ok := n.Op.(Subgrapher); ok {
		for _, sg := range s.Subgraphs() {
			if sg != nil {
				f.graph(sg, indent+"  ", subgraphLabel(n.Op, sg))
			}
		}
	}
}

// opName is the op type, followed by the Go type for the ops opt makes
// that keep the name of the op they replace (a FusedConv without epilogue
// is a "Conv", a PackedRNN an "LSTM"), so that the text tells them apart.
func opName(op Op) string {
	name := op.OpType()
	t := reflect.Indirect(reflect.ValueOf(op)).Type().Name()
	if (strings.HasPrefix(t, "Fused") || strings.HasPrefix(t, "Packed")) && !strings.HasPrefix(name, "Fused") {
		name += " [" + t + "]"
	}
	return name
}

// subgraphLabel names a subgraph by the op's field that holds it (Then,
// Else, Body).
func subgraphLabel(op Op, sg *Graph) string {
	v := reflect.Indirect(reflect.ValueOf(op))
	if v.Kind() == reflect.Struct {
		for i := range v.NumField() {
			if fv := v.Field(i); v.Type().Field(i).IsExported() && fv.Type() == graphPtr && fv.Pointer() == reflect.ValueOf(sg).Pointer() {
				return v.Type().Field(i).Name + ":"
			}
		}
	}
	return "subgraph:"
}

var graphPtr = reflect.TypeOf((*Graph)(nil))

// name gives v its unique display name on first sight.
func (f *formatter) name(v *Value) string {
	if s, ok := f.names[v]; ok {
		return s
	}
	base := quoteName(v.Name)
	s := base
	if v.Name == "" || f.used[s] {
		base = strings.TrimSuffix(base, `""`)
		for i := 1; ; i++ {
			s = base + "#" + strconv.Itoa(i)
			if !f.used[s] {
				break
			}
		}
	}
	f.names[v], f.used[s] = s, true
	return s
}

// quoteName quotes names that would not read as one token.
func quoteName(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\",()=:#{}[]@") {
		return strconv.Quote(s)
	}
	return s
}

// def writes a value where it is defined: name, type, address.
func (f *formatter) def(v *Value) string {
	if v == nil {
		return "_"
	}
	s := f.name(v) + ": " + f.typ(v)
	if f.p != nil {
		if a, ok := f.p.ValueAddr(v); ok {
			s += fmt.Sprintf(" @%d", a)
		}
	}
	return s
}

// use writes a value where it is read: name and type, and for constants
// their address and first values.
func (f *formatter) use(v *Value) string {
	if v == nil {
		return "_"
	}
	if v.Const == nil {
		return f.name(v) + ": " + f.typ(v)
	}
	s := f.name(v) + ": const " + f.typ(v)
	if f.p != nil {
		if a, ok := f.p.ValueAddr(v); ok {
			s += fmt.Sprintf(" @%d", a)
		}
	}
	if vals := tensorValues(v.Const); vals != "" {
		s += " " + vals
	}
	return s
}

func (f *formatter) typ(v *Value) string {
	if !v.Typed() {
		return "?"
	}
	return v.Type.String()
}

// tensorValues shows a small tensor's elements as {a, b, ...}, "" for
// larger ones.
func tensorValues(t *Tensor) string {
	n := t.Len()
	if n > maxShown || n == 0 {
		return ""
	}
	if t.DType == String {
		if len(t.Strings) != n {
			return ""
		}
		q := make([]string, n)
		for i, s := range t.Strings {
			q[i] = strconv.Quote(s)
		}
		return "{" + strings.Join(q, ", ") + "}"
	}
	if t.DType == Invalid || len(t.Data) < t.Type.Bytes() {
		return ""
	}
	parts := make([]string, n)
	for i := range parts {
		switch {
		case t.DType == Bool:
			parts[i] = strconv.FormatBool(t.Int(i) != 0)
		case t.DType.IsFloat():
			parts[i] = textFloat(t.Float(i), t.DType != Float64)
		case t.DType == Uint64:
			parts[i] = strconv.FormatUint(t.Uint(i), 10)
		default:
			parts[i] = strconv.FormatInt(t.Int(i), 10)
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// textFloat writes the shortest decimal that reads back to x (as a
// float32 when narrow).
func textFloat(x float64, narrow bool) string {
	if narrow {
		return strconv.FormatFloat(x, 'g', -1, 32)
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// attrs writes an op's attributes: its exported fields (those of embedded
// structs inline) that are not zero; subgraphs are written as blocks.
func (f *formatter) attrs(op Op) string {
	parts := f.fields(reflect.ValueOf(op), nil)
	// A function name that is the op type says nothing more (Fn: Relu).
	parts = slices.DeleteFunc(parts, func(p string) bool { return strings.HasSuffix(p, ": "+op.OpType()) })
	if len(parts) == 0 {
		return ""
	}
	return " {" + strings.Join(parts, ", ") + "}"
}

func (f *formatter) fields(v reflect.Value, parts []string) []string {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return parts
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return parts
	}
	t := v.Type()
	for i := range t.NumField() {
		sf, fv := t.Field(i), v.Field(i)
		if sf.Anonymous && reflect.Indirect(fv).Kind() == reflect.Struct && !isStringer(fv) {
			parts = f.fields(fv, parts)
			continue
		}
		if !sf.IsExported() || fv.IsZero() || fv.Type() == graphPtr {
			continue
		}
		parts = append(parts, sf.Name+": "+f.value(fv))
	}
	return parts
}

var (
	stringerType = reflect.TypeOf((*fmt.Stringer)(nil)).Elem()
	opType       = reflect.TypeOf((*Op)(nil)).Elem()
	tensorPtr    = reflect.TypeOf((*Tensor)(nil))
)

func isStringer(v reflect.Value) bool {
	return v.Type().Implements(stringerType) && v.Type() != graphPtr
}

// value writes one attribute value.
func (f *formatter) value(v reflect.Value) string {
	switch {
	case v.Kind() == reflect.Pointer && v.IsNil():
		return "nil"
	case v.Type() == tensorPtr:
		t := v.Interface().(*Tensor)
		s := "const " + t.Type.String()
		if vals := tensorValues(t); vals != "" {
			s += " " + vals
		}
		return s
	case v.Type().Implements(opType) && v.Kind() == reflect.Pointer:
		op := v.Interface().(Op)
		return op.OpType() + f.attrs(op)
	case isStringer(v):
		return v.Interface().(fmt.Stringer).String()
	}
	switch v.Kind() {
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32:
		return textFloat(v.Float(), true)
	case reflect.Float64:
		return textFloat(v.Float(), false)
	case reflect.String:
		if v.Type() == reflect.TypeOf("") {
			return strconv.Quote(v.String())
		}
		return v.String() // an enum such as UnaryFn
	case reflect.Pointer, reflect.Interface:
		return f.value(v.Elem())
	case reflect.Slice, reflect.Array:
		n := v.Len()
		var parts []string
		for i := range min(n, maxShown) {
			parts = append(parts, f.value(v.Index(i)))
		}
		if n > maxShown {
			parts = append(parts, fmt.Sprintf("... (%d in all)", n))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Map:
		var parts []string
		for _, k := range v.MapKeys() {
			parts = append(parts, f.value(k)+": "+f.value(v.MapIndex(k)))
		}
		sort.Strings(parts)
		return "{" + strings.Join(parts, ", ") + "}"
	case reflect.Struct:
		return "{" + strings.Join(f.fields(v, nil), ", ") + "}"
	}
	return v.Kind().String()
}

func (l WeightLayout) String() string {
	switch l {
	case WeightsPlain:
		return "plain"
	case WeightsPackA:
		return "packA"
	case WeightsPackB:
		return "packB"
	case WeightsWinograd:
		return "winograd"
	case WeightsWinograd4:
		return "winograd4"
	}
	return "layout" + strconv.Itoa(int(l))
}
