package frontend

import (
	"fmt"

	"github.com/mlc-compiler/mlc/frontend/onnxpb"
)

// The ONNX checker's rules for nodes, from the operator schemas in
// schema_gen.go (made by internal/genschema): input and output counts,
// which of them may be empty, and attribute types. The frontend applies
// them to every node before its importer runs, so that no importer, shape
// rule or pass ever sees a malformed node.

//go:generate sh -c "/usr/bin/python3 ../internal/genschema/genschema.py --changelog $ONNX_DOCS/Changelog.md --changelog $ONNX_DOCS/Changelog-ml.md | gofmt > schema_gen.go"

// opSchema is one version of an operator.
type opSchema struct {
	Since          int
	MinIn, MaxIn   int
	MinOut, MaxOut int
	// Ins and Outs have one letter per formal parameter: S (single,
	// required), O (optional) or V (variadic, the last one).
	Ins, Outs string
	Attrs     map[string]attrSchema
}

type attrSchema struct {
	Type     onnxpb.AttributeProto_AttributeType
	Required bool
}

// schemaFor finds the version of domain/op in effect at opset: the newest
// not above it. ok is false for operators ONNX does not define (other
// domains) and before the operator's first version.
func schemaFor(domain, op string, opset int64) (*opSchema, bool) {
	versions := schemas[domain+"/"+op]
	var s *opSchema
	for i := range versions {
		if int64(versions[i].Since) <= opset {
			s = &versions[i]
		}
	}
	return s, s != nil
}

// checkNode applies the schema of np's operator at opset (when ONNX defines
// it) the way onnx.checker does.
func checkNode(np *onnxpb.NodeProto, domain string, opset int64) error {
	for _, a := range np.Attribute {
		if a.GetRefAttrName() != "" {
			return fmt.Errorf("attribute %q refers to a function attribute (%s), which only a function body may do", a.GetName(), a.GetRefAttrName())
		}
		if err := checkAttrValue(a); err != nil {
			return err
		}
	}
	s, ok := schemaFor(domain, np.GetOpType(), opset)
	if !ok {
		return nil
	}
	what := fmt.Sprintf("%s-%d", np.GetOpType(), s.Since)
	if err := checkArity("input", np.Input, s.MinIn, s.MaxIn, s.Ins, what); err != nil {
		return err
	}
	// onnx.checker lets a variadic input be empty; no operator gives that
	// a meaning (Concat, Sum or Max of a missing tensor), so mlc refuses it
	// here rather than have every importer and shape rule expect it.
	if k := len(s.Ins) - 1; k >= 0 && s.Ins[k] == 'V' {
		for i := k; i < len(np.Input); i++ {
			if np.Input[i] == "" {
				return fmt.Errorf("input %d of %s is empty, but it is one of the op's variadic inputs", i, what)
			}
		}
	}
	if err := checkArity("output", np.Output, s.MinOut, s.MaxOut, s.Outs, what); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, a := range np.Attribute {
		name := a.GetName()
		if seen[name] {
			return fmt.Errorf("attribute %q is given twice", name)
		}
		seen[name] = true
		as, ok := s.Attrs[name]
		if !ok {
			return fmt.Errorf("%s has no attribute %q", what, name)
		}
		if a.GetType() != as.Type {
			return fmt.Errorf("attribute %q is %s, %s defines it as %s", name, a.GetType(), what, as.Type)
		}
	}
	for name, as := range s.Attrs {
		if as.Required && !seen[name] {
			return fmt.Errorf("%s needs attribute %q", what, name)
		}
	}
	return nil
}

// checkArity checks the count of a node's inputs or outputs, and that no
// required one is empty.
func checkArity(kind string, names []string, lo, hi int, letters, what string) error {
	n := len(names)
	if n < lo || n > hi {
		want := fmt.Sprintf("%d to %d", lo, hi)
		switch {
		case lo == hi:
			want = fmt.Sprint(lo)
		case hi == 1<<31-1:
			want = fmt.Sprintf("at least %d", lo)
		}
		if hi > 1 {
			kind += "s"
		}
		return fmt.Errorf("%s takes %s %s, the node has %d", what, want, kind, n)
	}
	for i, name := range names {
		// Empty names omit optional parameters; a variadic one may have
		// gaps too (onnx.checker checks single parameters only).
		if name == "" && i < len(letters) && letters[i] == 'S' {
			return fmt.Errorf("%s %d of %s is required but empty", kind, i, what)
		}
	}
	return nil
}

// checkAttrValue checks that an attribute's type is set and that its value
// is in the field the type names (onnx.checker's check_attribute).
func checkAttrValue(a *onnxpb.AttributeProto) error {
	name := a.GetName()
	if name == "" {
		return fmt.Errorf("an attribute has no name")
	}
	var has bool
	switch a.GetType() {
	case onnxpb.AttributeProto_FLOAT, onnxpb.AttributeProto_INT, onnxpb.AttributeProto_STRING:
		// An unset number or string is its zero value (proto3 writers
		// leave defaults out), as onnx.checker reads it.
		has = true
	case onnxpb.AttributeProto_TENSOR:
		has = a.T != nil
	case onnxpb.AttributeProto_GRAPH:
		has = a.G != nil
	case onnxpb.AttributeProto_SPARSE_TENSOR:
		has = a.SparseTensor != nil
	case onnxpb.AttributeProto_TYPE_PROTO:
		has = a.Tp != nil
	case onnxpb.AttributeProto_FLOATS, onnxpb.AttributeProto_INTS, onnxpb.AttributeProto_STRINGS,
		onnxpb.AttributeProto_TENSORS, onnxpb.AttributeProto_GRAPHS, onnxpb.AttributeProto_SPARSE_TENSORS,
		onnxpb.AttributeProto_TYPE_PROTOS:
		has = true // an empty list is a list
	default:
		return fmt.Errorf("attribute %q has no type", name)
	}
	if !has {
		return fmt.Errorf("attribute %q is %s but holds no such value", name, a.GetType())
	}
	return nil
}
