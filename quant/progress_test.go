package quant

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestProgressPlain: off a terminal a stage is one plain line, with no
// carriage returns; on one it is a bar redrawn in place.
func TestProgressPlain(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, "calibrating", 50)
	for i := 1; i <= 50; i++ {
		p.step(i)
	}
	if got := buf.String(); got != "calibrating: 50 samples\n" {
		t.Errorf("plain progress %q", got)
	}
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("a regular file is not a terminal")
	}
	bar := &progress{w: &buf, label: "x", total: 3}
	buf.Reset()
	for i := 1; i <= 3; i++ {
		bar.step(i)
	}
	if s := buf.String(); !strings.HasPrefix(s, "\rx [") || !strings.HasSuffix(s, "3/3\n") {
		t.Errorf("bar %q", s)
	}
}
