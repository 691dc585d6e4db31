package main

// What every command shares: exit codes, the --json flag and its output,
// shapes in one format. A command returns an error wrapped by one of the
// exit helpers (usageError, modelError, ...) and main turns it into the
// documented exit code (docs/cli.md).

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mlc-compiler/mlc/ir"
)

// Exit codes. docs/cli.md documents them; a test checks that it lists
// every one.
const (
	exitOK       = 0
	exitInternal = 1 // anything not classified below: a bug in mlc
	exitUsage    = 2 // bad command line: unknown command or flag, wrong arguments or flag values
	exitModel    = 3 // the model is invalid, or uses something mlc does not support
	exitMismatch = 4 // verify: outputs differ from the golden ones, or the runtimes disagree
	exitRun      = 5 // the module failed at run time (mlc_run error, trap)
	exitIO       = 6 // a file could not be read or written
)

// exitCodes names the codes for docs and help.
var exitCodes = []struct {
	code int
	name string
	what string
}{
	{exitOK, "ok", "success (verify: every case passed)"},
	{exitInternal, "internal", "an unexpected failure: a bug in mlc (please report it)"},
	{exitUsage, "usage", "bad command line: unknown command or flag, wrong number of arguments, a bad flag value, input files that do not fit the module"},
	{exitModel, "model", "the model is invalid or uses something mlc does not support (op, attribute, dtype, dynamic shape)"},
	{exitMismatch, "mismatch", "verify: an output differs from the golden or reference output beyond the tolerance, or two runtimes disagree"},
	{exitRun, "run", "the module failed at run time: mlc_run returned an error (e.g. an index out of range) or trapped"},
	{exitIO, "io", "a file or folder could not be read or written"},
}

// exitError carries an exit code with an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	var e *exitError
	if errors.As(err, &e) {
		return err // the innermost classification wins
	}
	return &exitError{code, err}
}

func usageErrorf(format string, args ...any) error {
	return &exitError{exitUsage, fmt.Errorf(format, args...)}
}

// modelError classifies an error from reading, importing or compiling a
// model: a file that cannot be read is an I/O error, anything else is the
// model's.
func modelError(err error) error {
	if isIOError(err) {
		return withCode(exitIO, err)
	}
	return withCode(exitModel, err)
}

func runError(err error) error { return withCode(exitRun, err) }

func ioError(err error) error { return withCode(exitIO, err) }

func isIOError(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)
}

// exitCode maps an error returned by a command to its exit code.
func exitCode(err error) int {
	var e *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &e):
		return e.code
	case isIOError(err):
		return exitIO
	case ir.IsUnsupported(err):
		return exitModel
	}
	return exitInternal
}

// jsonFlag is --json FILE: write the command's result as JSON to FILE, or
// to stdout with "-" (and then print nothing else there).
type jsonFlag struct{ path string }

func (j *jsonFlag) add(cmd *cobra.Command, what string) {
	cmd.Flags().StringVar(&j.path, "json", "", "write "+what+" as JSON to this file (- for stdout, instead of the text)")
}

// text is where the human-readable output goes: nowhere when the JSON
// takes stdout.
func (j *jsonFlag) text(cmd *cobra.Command) io.Writer {
	if j.path == "-" {
		return io.Discard
	}
	return cmd.OutOrStdout()
}

// write writes v, if --json was given.
func (j *jsonFlag) write(cmd *cobra.Command, v any) error {
	if j.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if j.path == "-" {
		_, err := cmd.OutOrStdout().Write(b)
		return err
	}
	return ioError(os.WriteFile(j.path, b, 0o644))
}

// header opens every JSON document: which schema, which version of it.
// A version changes only when a field changes meaning or goes away; new
// fields may appear within a version.
type header struct {
	Schema        string `json:"schema"`
	SchemaVersion int    `json:"schema_version"`
}

func newHeader(schema string) header { return header{Schema: schema, SchemaVersion: 1} }

// shapeString is the one way mlc prints a shape: [1,3,224,224], [] for a
// scalar.
func shapeString(s []int) string {
	d := make([]string, len(s))
	for i, v := range s {
		d[i] = fmt.Sprint(v)
	}
	return "[" + strings.Join(d, ",") + "]"
}

// typeString prints a tensor type: float32[1,3,224,224].
func typeString(dtype string, shape []int) string { return dtype + shapeString(shape) }

// exactArgs is cobra.ExactArgs with a usage exit code.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("%s takes %d argument%s, got %d (see mlc %s --help)", cmd.Name(), n, map[bool]string{true: "s"}[n != 1], len(args), cmd.Name())
		}
		return nil
	}
}

func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usageErrorf("%s takes at least %d argument, got %d (see mlc %s --help)", cmd.Name(), n, len(args), cmd.Name())
		}
		return nil
	}
}

// completeValues offers fixed values for a flag in shell completion.
func completeValues(cmd *cobra.Command, flag string, values ...string) {
	cmd.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}
