// Package jsshim holds the JavaScript runtime of mlc modules (the npm
// package @mlc-compiler/runtime in this folder) for the Go side: the mlc
// binary embeds it to run modules on Node (mlc verify --runtime node) and
// to write typed per-model bindings beside a module (mlc compile --emit js).
package jsshim

import "embed"

// Files holds the runtime (RuntimeFiles) and the Node tools runner.mjs
// (mlc verify --runtime node) and wasi-command.mjs.
//
//go:embed mlc.mjs mlc.d.mts pool.mjs threads.mjs wasm-bytes.mjs worker.mjs ort.mjs ort.d.mts runner.mjs wasi-command.mjs
var Files embed.FS

// RuntimeFiles are the files a page or program needs to load modules:
// what `mlc compile --emit js` copies beside the bindings.
var RuntimeFiles = []string{"mlc.mjs", "mlc.d.mts", "pool.mjs", "threads.mjs", "wasm-bytes.mjs", "worker.mjs"}
