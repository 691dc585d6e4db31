package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlc-compiler/mlc/ir"
	"github.com/mlc-compiler/mlc/memplan"
	"github.com/mlc-compiler/mlc/opt"
)

// debugFlags look into the optimizer: dump the IR between passes, skip
// passes, check the IR after each (docs/design.md, "The IR as text").
type debugFlags struct {
	dumpAfter []string
	dumpDir   string
	disable   []string
	verifyIR  bool
}

func (d *debugFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&d.dumpAfter, "dump-after", nil, "print the IR after these stages to stderr: a pass name, start, plan or all (repeatable, or comma-separated)")
	cmd.Flags().StringVar(&d.dumpDir, "dump-dir", "", "with --dump-after: write each stage to DIR/NN-STAGE.txt instead of stderr")
	cmd.Flags().StringArrayVar(&d.disable, "disable-pass", nil, "skip an optional pass, to bisect a miscompile (repeatable)")
	cmd.Flags().BoolVar(&d.verifyIR, "verify-ir", false, "check the IR (ir.Verify) after every pass")
}

// debug builds the optimizer's hooks; dumps go to stderr unless
// --dump-dir is given.
func (d *debugFlags) debug(stderr io.Writer) (opt.Debug, error) {
	dbg := opt.Debug{Disable: d.disable, Verify: d.verifyIR}
	if d.dumpDir != "" && len(d.dumpAfter) == 0 {
		return dbg, fmt.Errorf("--dump-dir needs --dump-after")
	}
	if len(d.dumpAfter) == 0 {
		return dbg, nil
	}
	stages := opt.Stages()
	want := map[string]bool{}
	for _, s := range d.dumpAfter {
		if s != "all" && !slices.Contains(stages, s) {
			return dbg, fmt.Errorf("--dump-after %q: want all or one of %s", s, strings.Join(stages, ", "))
		}
		want[s] = true
	}
	if d.dumpDir != "" {
		if err := os.MkdirAll(d.dumpDir, 0o755); err != nil {
			return dbg, err
		}
	}
	dbg.Dump = func(stage string, g *ir.Graph, p *memplan.Plan) {
		if !want["all"] && !want[stage] {
			return
		}
		var text string
		if p != nil {
			text = "# " + p.Summary() + "\n" + g.Format(p)
		} else {
			text = g.Format(nil)
		}
		if d.dumpDir == "" {
			fmt.Fprintf(stderr, "=== IR after %s ===\n%s", stage, text)
			return
		}
		name := filepath.Join(d.dumpDir, fmt.Sprintf("%02d-%s.txt", slices.Index(stages, stage), stage))
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			fmt.Fprintf(stderr, "mlc: --dump-dir: %v\n", err)
		}
	}
	return dbg, nil
}
