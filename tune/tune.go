// Package tune names the engines the generated kernels can be shaped for
// (mlc compile --tune). The names live here, in a package of their own,
// so that the CLI, the pipeline and codegen compare against one set of
// constants and no package spells a tune as a string literal.
package tune

const (
	// Portable is fast in V8, on wazero and on wasmtime alike: the
	// default.
	Portable = "portable"
	// V8 is shaped for V8 (Node, Chromium).
	V8 = "v8"
	// Wazero is shaped for wazero's compiler.
	Wazero = "wazero"
	// Generic is the wazero shape, for engines without a tune of their own.
	Generic = "generic"
	// Default is the tune unless told.
	Default = Portable
)

// Names lists every tune, Default first.
func Names() []string { return []string{Portable, V8, Wazero, Generic} }

// Valid tells whether s names a tune.
func Valid(s string) bool {
	switch s {
	case Portable, V8, Wazero, Generic:
		return true
	}
	return false
}

// IsPortable tells whether s is the portable shape ("" is the default).
func IsPortable(s string) bool { return s == Portable || s == "" }
