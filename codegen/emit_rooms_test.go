package codegen

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc/ir"
)

// The package is laid out in rooms (docs/design.md, "Where things live"):
// emit_*.go is the emitter, math_*.go the math and micro-kernels, and an
// op's kernel lives in ops_<family>.go or ops_<family>_<part>.go, where
// ir/ops_<family>.go defines the op. These tests keep it that way.

// irFamilies maps each op type defined in ir/ops_<family>.go to family.
func irFamilies(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "ir", "ops_*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no ir/ops_*.go files: %v", err)
	}
	fam := map[string]string{}
	fset := token.NewFileSet()
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		family := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "ops_"), ".go")
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.TYPE {
				for _, s := range g.Specs {
					fam[s.(*ast.TypeSpec).Name.Name] = family
				}
			}
		}
	}
	return fam
}

// fileFamily is the ir family a codegen file name is a room of: the
// longest family f with name ops_<f>.go or ops_<f>_<part>.go; "" for
// none.
func fileFamily(name string, families []string) string {
	stem := strings.TrimSuffix(name, ".go")
	best := ""
	for _, f := range families {
		if (stem == "ops_"+f || strings.HasPrefix(stem, "ops_"+f+"_")) && len(f) > len(best) {
			best = f
		}
	}
	return best
}

// registrations lists, per op type name, the files that register
// something for it: registerKernel, registerWorkspace, registerScratch
// (the op type is the emit function's op parameter, or the explicit type
// argument) and ir.DeclareKernelDTypes[T].
func registrations(t *testing.T, fset *token.FileSet, name string, src any) map[string][]string {
	t.Helper()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	irType := func(e ast.Expr) string {
		if s, ok := e.(*ast.StarExpr); ok {
			e = s.X
		}
		if sel, ok := e.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "ir" {
				return sel.Sel.Name
			}
		}
		return ""
	}
	out := map[string][]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		fun, typeArg := call.Fun, ""
		if ix, ok := fun.(*ast.IndexExpr); ok {
			fun, typeArg = ix.X, irType(ix.Index)
		}
		var callee string
		switch fn := fun.(type) {
		case *ast.Ident:
			callee = fn.Name
		case *ast.SelectorExpr:
			if id, ok := fn.X.(*ast.Ident); ok && id.Name == "ir" {
				callee = "ir." + fn.Sel.Name
			}
		}
		switch callee {
		case "registerKernel", "registerWorkspace", "registerScratch":
			op := typeArg
			if lit, ok := call.Args[0].(*ast.FuncLit); ok && op == "" {
				params := lit.Type.Params.List
				op = irType(params[len(params)-1].Type)
			}
			if op == "" {
				t.Errorf("%s: %s: cannot tell the op type (write the emit function as a literal taking op *ir.T)", fset.Position(call.Pos()), callee)
				return true
			}
			out[op] = append(out[op], filepath.Base(name))
		case "ir.DeclareKernelDTypes":
			if typeArg != "" {
				out[typeArg] = append(out[typeArg], filepath.Base(name))
			}
		}
		return true
	})
	return out
}

// misplaced reports each registration not in its op's family room.
func misplaced(regs map[string][]string, fam map[string]string) []string {
	families := slices.Sorted(func(yield func(string) bool) {
		seen := map[string]bool{}
		for _, f := range fam {
			if !seen[f] {
				seen[f] = true
				if !yield(f) {
					return
				}
			}
		}
	})
	var bad []string
	for _, op := range slices.Sorted(func(yield func(string) bool) {
		for op := range regs {
			if !yield(op) {
				return
			}
		}
	}) {
		want, ok := fam[op]
		for _, file := range regs[op] {
			switch {
			case !ok:
				bad = append(bad, "ir."+op+" (registered in "+file+") is not defined in any ir/ops_<family>.go")
			case fileFamily(file, families) != want:
				bad = append(bad, "ir."+op+" is registered in "+file+"; it belongs in ops_"+want+".go or ops_"+want+"_<part>.go (ir/ops_"+want+".go defines it)")
			}
		}
	}
	return bad
}

// TestKernelRooms: every kernel (and its workspace, scratch and dtype
// declarations) is registered in the codegen file named after the ir
// family file that defines its op, every registered kernel is found
// there, and every source file is in a room.
func TestKernelRooms(t *testing.T) {
	fam := irFamilies(t)
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	regs := map[string][]string{}
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		if !strings.HasPrefix(file, "emit_") && !strings.HasPrefix(file, "math_") && !strings.HasPrefix(file, "ops_") {
			t.Errorf("%s is in no room: name it emit_*.go (emitter), math_*.go (math, micro-kernels) or ops_<family>.go", file)
		}
		for op, in := range registrations(t, fset, file, nil) {
			regs[op] = append(regs[op], in...)
		}
	}
	for _, b := range misplaced(regs, fam) {
		t.Error(b)
	}
	// The parse saw every registration the package made at init.
	var registered []string
	irPkg := reflect.TypeFor[ir.Unary]().PkgPath()
	for typ := range kernels {
		if typ.Elem().PkgPath() == irPkg { // not the test binary's own ops
			registered = append(registered, typ.Elem().Name())
		}
	}
	for _, op := range registered {
		if _, ok := regs[op]; !ok {
			t.Errorf("ir.%s has a kernel the file check did not find", op)
		}
	}
	if len(registered) < 90 {
		t.Errorf("only %d kernels registered", len(registered))
	}
}

// TestKernelRoomsCatchMisplaced: the check fails a kernel put in another
// family's file, and accepts a part file of the right family.
func TestKernelRoomsCatchMisplaced(t *testing.T) {
	fam := irFamilies(t)
	fset := token.NewFileSet()
	src := `package codegen
func init() {
	registerKernel(func(k *Ctx, n *ir.Node, op *ir.Softmax) error { return nil })
	registerWorkspace(func(n *ir.Node, op *ir.Conv) int { return 0 })
}`
	if bad := misplaced(registrations(t, fset, "ops_norm.go", src), fam); len(bad) != 2 {
		t.Errorf("Softmax and Conv in ops_norm.go: got %q, want two complaints", bad)
	}
	if bad := misplaced(registrations(t, fset, "ops_linalg_softmax_rows.go", src[:strings.Index(src, "\tregisterWorkspace")]+"}"), fam); len(bad) != 0 {
		t.Errorf("Softmax in ops_linalg_softmax_rows.go: %q", bad)
	}
	if bad := misplaced(registrations(t, fset, "ops_rnn_packed.go", "package codegen\nfunc init() { registerKernel(func(k *Ctx, n *ir.Node, op *ir.RNN) error { return nil }) }"), fam); len(bad) != 1 {
		t.Errorf("RNN in ops_rnn_packed.go (family rnn_packed): got %q, want one complaint", bad)
	}
}
