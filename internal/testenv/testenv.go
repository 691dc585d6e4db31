// Package testenv finds what tests need outside the repository: the shared
// data folder, Node.js and wabt's wasm-validate. Without them a test skips
// with a message, unless the CI environment variable is set: CI always has
// them, so there their absence is a failure.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/mlc-compiler/mlc/abi"
)

// missing skips t, or fails it under CI.
func missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set but %s", what)
	}
	t.Skipf("skipping: %s", what)
}

// Missing skips t with a message saying what it lacks (a tool, a package
// to install), or fails it under CI, which installs everything tests need.
func Missing(t testing.TB, what string) {
	t.Helper()
	missing(t, what)
}

// Root is the repository root (the directory holding go.mod).
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Shared returns the shared data folder: $MLC_SHARED or ../shared beside
// the repository.
func Shared(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("MLC_SHARED")
	if dir == "" {
		dir = filepath.Join(Root(), "..", "shared")
	}
	if _, err := os.Stat(filepath.Join(dir, "onnx-tests")); err != nil {
		missing(t, "the shared data folder is not at "+dir+" (set MLC_SHARED)")
	}
	abs, _ := filepath.Abs(dir)
	return abs
}

// Node returns the node binary.
func Node(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node is not on PATH")
	}
	return p
}

// WasmValidate returns wabt's wasm-validate.
func WasmValidate(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("wasm-validate")
	if err != nil {
		missing(t, "wasm-validate (Debian package wabt) is not on PATH")
	}
	return p
}

// Validate runs wasm-validate on module bytes.
func Validate(t testing.TB, wasm []byte) {
	t.Helper()
	if out, err := RunValidate(WasmValidate(t), wasm); err != nil {
		t.Fatalf("wasm-validate: %v\n%s", err, out)
	}
}

// RunValidate runs tool (see WasmValidate) on module bytes, for callers
// that report a module that does not validate instead of failing; err is
// nil when the module validates, out is the tool's output.
func RunValidate(tool string, wasm []byte) (out []byte, err error) {
	f, err := os.CreateTemp("", "mlc-*.wasm")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	f.Write(wasm)
	f.Close()
	return exec.Command(tool, append(ValidateFeatures(wasm), f.Name())...).CombinedOutput()
}

// ValidateFeatures are the wasm-validate flags a module needs beyond the
// defaults, from what its metadata says it was compiled with: threads for
// ABI v2 and v3 (--threads N), relaxed SIMD for --relaxed-simd. A module compiled
// without them is validated without them, so that it cannot use them.
func ValidateFeatures(wasm []byte) []string {
	meta, err := abi.Read(wasm)
	if err != nil {
		return nil
	}
	var flags []string
	if abi.Threaded(meta.ABI) {
		flags = append(flags, "--enable-threads")
	}
	if slices.Contains(meta.Options, "relaxed-simd") {
		flags = append(flags, "--enable-relaxed-simd")
	}
	return flags
}
