// Package jsshim embeds the JavaScript host files so that the mlc binary
// can run modules on Node (mlc verify --runtime node) wherever it is
// installed.
package jsshim

import "embed"

// Files holds mlc.mjs, mlc.d.ts, runner.mjs and wasi-command.mjs.
//
//go:embed mlc.mjs mlc.d.ts runner.mjs wasi-command.mjs
var Files embed.FS
