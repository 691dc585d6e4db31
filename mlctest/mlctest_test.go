package mlctest_test

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/mlc-compiler/mlc/frontend"
	"github.com/mlc-compiler/mlc/internal/testenv"
	"github.com/mlc-compiler/mlc/mlctest"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failed bool
	msgs   []string
}

func (r *recorder) Helper() {}
func (r *recorder) Logf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}
func (r *recorder) Errorf(format string, args ...any) {
	r.failed = true
	r.Logf(format, args...)
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

// verify runs mlctest.Verify on a recorder in its own goroutine (Fatalf
// ends the goroutine).
func verify(t *testing.T, model, cases string, opts ...mlctest.Option) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		mlctest.Verify(r, model, cases, opts...)
	}()
	<-done
	return r
}

func TestVerify(t *testing.T) {
	model := filepath.Join(testenv.Root(), "testdata", "tiny_cnn", "model.onnx")
	shapes := mlctest.WithInputShapes(map[string][]int{"image": {1, 1, 8, 8}})
	cases := filepath.Join(t.TempDir(), "cases")
	if r := verify(t, model, cases, shapes); !r.failed || !strings.Contains(strings.Join(r.msgs, ""), mlctest.UpdateEnv) {
		t.Fatalf("no cases yet: %v", r.msgs)
	}
	t.Setenv(mlctest.UpdateEnv, "1")
	if r := verify(t, model, cases, shapes); r.failed {
		t.Fatalf("update: %v", r.msgs)
	}
	t.Setenv(mlctest.UpdateEnv, "")
	if r := verify(t, model, cases, shapes); r.failed {
		t.Fatalf("verify: %v", r.msgs)
	}
	// A golden output that no longer matches fails the test.
	out := filepath.Join(cases, "test_data_set_0", "output_0.pb")
	want, _, err := frontend.ReadTensorFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want.SetFloat(3, want.Float(3)+0.01)
	if err := frontend.WriteTensorFile(out, "probs", want); err != nil {
		t.Fatal(err)
	}
	r := verify(t, model, cases, shapes)
	if !r.failed || !strings.Contains(strings.Join(r.msgs, ""), "would pass with --atol") {
		t.Fatalf("changed output: %v", r.msgs)
	}
	// A looser tolerance lets it pass.
	if r := verify(t, model, cases, shapes, mlctest.WithTolerance(0, 0.02)); r.failed {
		t.Fatalf("with tolerance: %v", r.msgs)
	}
}
