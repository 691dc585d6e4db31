// Package onnxpb holds the Go types of the ONNX protobuf schema in onnx.proto.
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative onnx.proto
