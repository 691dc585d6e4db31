package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
)

// Tolerance is how far a float output may be from its golden value:
// |got - want| <= ATol + RTol*|want|. Integer and bool outputs must match
// exactly whatever the tolerance.
type Tolerance struct {
	RTol float64 `json:"rtol"`
	ATol float64 `json:"atol"`
}

// DefaultTolerance is the ONNX backend tests' own: what a case without a
// tolerance of its own is held to.
var DefaultTolerance = Tolerance{RTol: 1e-3, ATol: 1e-7}

// GeneratedTolerance is what `mlc verify MODEL.onnx` holds the module to
// against the reference interpreter (see Generated): float32 sums in
// another order than the interpreter's, over whole networks. On the
// shared models the largest atol needed at rtol 1e-3 is 1.6e-6
// (shufflenet_v2_x1_0); 1e-5 leaves room for other models and still
// catches a single Conv weight 1% off (verify's tests).
var GeneratedTolerance = Tolerance{RTol: 1e-3, ATol: 1e-5}

// MetaFile is the file in a case folder that may carry the case's own
// tolerance:
//
//	{"tolerance": {"rtol": 1e-3, "atol": 1e-4, "why": "..."}}
//
// Other keys of the file are ignored (../shared/models keeps its model
// notes there); "why" is for people. A folder without the file, or a file
// without "tolerance", uses DefaultTolerance.
const MetaFile = "meta.json"

// caseMeta is the part of MetaFile that verify reads.
type caseMeta struct {
	Tolerance *struct {
		RTol *float64 `json:"rtol"`
		ATol *float64 `json:"atol"`
		Why  string   `json:"why,omitempty"`
	} `json:"tolerance"`
}

// CaseTolerance returns the tolerance a case folder states in its
// MetaFile, or DefaultTolerance; from says which ("meta.json" or
// "default").
func CaseTolerance(dir string) (tol Tolerance, from string, err error) {
	b, err := os.ReadFile(filepath.Join(dir, MetaFile))
	if errors.Is(err, fs.ErrNotExist) {
		return DefaultTolerance, "default", nil
	}
	if err != nil {
		return DefaultTolerance, "", err
	}
	var m caseMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return DefaultTolerance, "", fmt.Errorf("%s: %w", filepath.Join(dir, MetaFile), err)
	}
	if m.Tolerance == nil {
		return DefaultTolerance, "default", nil
	}
	tol = DefaultTolerance
	if p := m.Tolerance.RTol; p != nil {
		tol.RTol = *p
	}
	if p := m.Tolerance.ATol; p != nil {
		tol.ATol = *p
	}
	if !tol.valid() {
		return DefaultTolerance, "", fmt.Errorf("%s: tolerance rtol %g, atol %g: want two non-negative numbers", filepath.Join(dir, MetaFile), tol.RTol, tol.ATol)
	}
	return tol, MetaFile, nil
}

func (t Tolerance) valid() bool {
	return t.RTol >= 0 && t.ATol >= 0 && !math.IsInf(t.RTol, 0) && !math.IsInf(t.ATol, 0)
}

// WriteCaseTolerance writes a MetaFile holding tol into dir.
func WriteCaseTolerance(dir string, tol Tolerance, why string) error {
	m := map[string]any{"tolerance": map[string]any{"rtol": tol.RTol, "atol": tol.ATol, "why": why}}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, MetaFile), append(b, '\n'), 0o644)
}

// needed tracks, over the elements of one output, the smallest tolerance
// that would have passed: the atol needed at the tolerance's rtol, and the
// rtol needed at its atol.
type needed struct {
	atol, rtol float64
	never      bool // a NaN or infinity against a value no tolerance reaches
	exact      bool // an integer or bool output differs: no tolerance applies
}

func (n *needed) add(diff, want float64, tol Tolerance) {
	if math.IsInf(diff, 0) || math.IsNaN(diff) {
		n.never = true
		return
	}
	n.atol = math.Max(n.atol, diff-tol.RTol*math.Abs(want))
	if excess := diff - tol.ATol; excess > 0 {
		if want == 0 {
			n.rtol = math.Inf(1)
		} else {
			n.rtol = math.Max(n.rtol, excess/math.Abs(want))
		}
	}
}

// describe says which tolerance would pass, for a failure message.
func (n needed) describe(tol Tolerance) string {
	if n.exact {
		return "integer and bool outputs must match exactly"
	}
	if n.never {
		return "no tolerance passes: a NaN or infinity where the golden value is finite, or the reverse"
	}
	s := fmt.Sprintf("it would pass with --atol %.2g (at rtol %g)", roundUp(n.atol), tol.RTol)
	if !math.IsInf(n.rtol, 0) {
		s += fmt.Sprintf(" or --rtol %.2g (at atol %g)", roundUp(n.rtol), tol.ATol)
	}
	return s
}

// roundUp rounds x up to two significant digits, so that the printed
// tolerance passes.
func roundUp(x float64) float64 {
	if x <= 0 {
		return 0
	}
	e := math.Pow(10, math.Floor(math.Log10(x))-1)
	return math.Ceil(x/e*(1+1e-12)) * e
}
