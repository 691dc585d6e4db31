// Package e2e holds the end-to-end tests: ONNX models compiled by the whole
// pipeline (package mlc), run on wazero and Node, and compared with golden
// outputs, ONNX Runtime's results or the reference interpreter. Tests of one
// package's internals live beside that package instead.
package e2e
