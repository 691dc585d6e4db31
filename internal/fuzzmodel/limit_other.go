//go:build !unix

package fuzzmodel

// LimitWorkerMemory does nothing where there is no setrlimit.
func LimitWorkerMemory() error { return nil }
