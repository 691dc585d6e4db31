//go:build unix

package fuzzmodel

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// LimitWorkerMemory caps the address space of a fuzzing worker process
// (a test binary run with -test.fuzzworker) at $MLC_FUZZ_WORKER_AS bytes,
// as `prlimit --as` would, so that fuzzing checks that no input makes the
// compiler die of memory under that cap. The cap is set in the workers
// only: Go's fuzzing coordinator keeps every seed quoted and a 100 MB
// buffer per worker, and under 2 GiB it ran out itself. Without the
// variable, or outside a worker, it does nothing.
func LimitWorkerMemory() error {
	s := os.Getenv("MLC_FUZZ_WORKER_AS")
	f := flag.Lookup("test.fuzzworker")
	if s == "" || f == nil || f.Value.String() != "true" {
		return nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("MLC_FUZZ_WORKER_AS=%q: %v", s, err)
	}
	return syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: n, Max: n})
}
