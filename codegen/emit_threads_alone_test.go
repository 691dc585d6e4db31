package codegen

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc/abi"
	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/opt"
	"github.com/mlc-compiler/mlc/tune"
	"github.com/tetratelabs/wabin/leb128"
	"github.com/tetratelabs/wabin/wasm"
)

// TestThreadsAloneIsOneThreadCode checks that a threaded module's alone
// form of a node (what it runs while probing, backing off after a stall,
// or when splitting does not pay) is the 1-thread module's function for
// that node, instruction for instruction, at the same addresses. Only
// indices may differ: a callee is compared by what it does (a hash of its
// own code, transitively), a kernel table by its contents, a global by
// its type and initial value. A kernel keyed
// to the module's thread count instead of the node's form (Ctx.Threads())
// ran slower alone than in the 1-thread module without any output telling
// (issue 11, thr9). Every shared model with a node of two forms.
func TestThreadsAloneIsOneThreadCode(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(testenv.Shared(t), "models", "*", "model.onnx"))
	if len(paths) == 0 {
		t.Fatal("no models in the shared folder")
	}
	compared := 0
	for _, path := range paths {
		t.Run(filepath.Base(filepath.Dir(path)), func(t *testing.T) {
			one := nodeBodies(t, path, 1)
			two := nodeBodies(t, path, 2)
			forms := 0
			for name, body := range one {
				alone, ok := two[name+"_one"]
				if !ok {
					continue
				}
				forms++
				if alone != body {
					at := 0
					for at < min(len(alone), len(body)) && alone[at] == body[at] {
						at++
					}
					t.Errorf("%s: the 2-thread module's alone form differs from the 1-thread module's function (%d against %d bytes) from byte %d: %q against %q", name, len(alone), len(body), at, alone[max(at-40, 0):min(at+30, len(alone))], body[max(at-40, 0):min(at+30, len(body))])
				}
			}
			compared += forms
			t.Logf("%d alone forms compared", forms)
		})
	}
	if compared == 0 {
		t.Fatal("no shared model's 2-thread module has a node with two forms")
	}
}

// nodeBodies compiles the model as mlc compile does with the default
// options and threads, and returns every function's locals and symbolic
// body by name.
func nodeBodies(t *testing.T, path string, threads int) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A model that needs more than the defaults to compile (pinned
	// shapes, say) is the end-to-end tests' to check, not this one's.
	m, err := frontend.Import(data, filepath.Dir(path), frontend.Options{})
	if err != nil {
		t.Skipf("does not import with the default options: %v", err)
	}
	plan, err := opt.Run(m.Graph, opt.Options{Level: 2, SIMD: true, ConvWeights: ConvWeightsFunc(tune.Portable), Workspace: WorkspaceFunc(threads), FP16: opt.FP16Float32})
	if err != nil {
		t.Skipf("does not compile with the default options: %v", err)
	}
	bodies := map[string]string{}
	builtHook = func(md *module) {
		// Kernel tables (Resize's coordinates, ...) follow the planned
		// memory, which a threaded module extends by the other threads'
		// scratch: they are named by their key, as i32.const operands.
		tables := map[string]string{}
		for key, a := range md.tableAddr {
			tables[string(append([]byte{wasm.OpcodeI32Const}, leb128.EncodeInt32(int32(a))...))] = "<table " + key + ">"
		}
		// A callee is named by a hash of what it does, transitively:
		// helpers are named by table addresses or function counts that
		// differ between the modules.
		memo := map[int]string{}
		var symbolic func(i int) string
		symbolic = func(i int) string {
			if s, ok := memo[i]; ok {
				return s
			}
			memo[i] = "recursion " + md.names[i] // cut a cycle
			callee := func(c uint32) string {
				if int(c) < md.imports {
					return fmt.Sprint("import ", c)
				}
				sum := sha256.Sum256([]byte(symbolic(int(c) - md.imports)))
				return hex.EncodeToString(sum[:8])
			}
			// Globals by what they are: a threaded module puts its own
			// first, which moves the index of any other.
			global := func(g uint32) string {
				d := md.m.GlobalSection[g]
				return fmt.Sprintf("global %v %v %x", d.Type.ValType, d.Type.Mutable, d.Init.Data)
			}
			b := md.funcs[i].Symbolic(callee, global)
			for enc, name := range tables {
				b = strings.ReplaceAll(b, enc, string(wasm.OpcodeI32Const)+name)
			}
			memo[i] = fmt.Sprint(md.funcs[i].Locals) + "|" + b
			return memo[i]
		}
		for i, name := range md.names {
			bodies[name] = symbolic(i)
		}
	}
	defer func() { builtHook = nil }()
	if _, err := Build(m.Graph, plan, Options{SIMD: true, Tune: tune.Portable, Threads: threads}); err != nil {
		if threads == 1 {
			t.Skipf("does not compile with the default options: %v", err)
		}
		t.Fatal(err)
	}
	if _, ok := bodies[abi.ExportRun]; !ok {
		t.Fatalf("the build hook saw no module")
	}
	return bodies
}
