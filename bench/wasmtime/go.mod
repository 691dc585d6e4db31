module github.com/mlc-compiler/mlc/bench/wasmtime

go 1.26

require github.com/bytecodealliance/wasmtime-go/v39 v39.0.1
