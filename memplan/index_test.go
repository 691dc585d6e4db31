package memplan

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

// placeByScan is first-fit placement by scanning every placed buffer: what
// place computed before its index (quadratic), kept as the oracle.
func placeByScan(sorted []*interval) int {
	var placed []*interval
	arena := 0
	for _, iv := range sorted {
		var conflicts []*interval
		for _, o := range placed {
			if o.def <= iv.last && iv.def <= o.last {
				conflicts = append(conflicts, o)
			}
		}
		sort.Slice(conflicts, func(i, j int) bool { return conflicts[i].off < conflicts[j].off })
		off := 0
		for _, o := range conflicts {
			if off+iv.size <= o.off {
				break
			}
			off = max(off, alignUp(o.off+o.size, Align))
		}
		iv.off = off
		placed = append(placed, iv)
		arena = max(arena, off+iv.size)
	}
	return arena
}

// TestPlaceMatchesScan: the index places every buffer where the scan does,
// buffers at step -1 included (staged constants and Once workspaces: the
// index looped for ever on them, which hung compiling unet_1024).
func TestPlaceMatchesScan(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 1))
	for trial := range 200 {
		steps := 1 + r.IntN(40)
		n := 1 + r.IntN(120)
		var a, b []*interval
		for range n {
			def := r.IntN(steps+1) - 1 // -1 .. steps-1
			last := def
			if def >= 0 && r.IntN(3) > 0 {
				last = def + r.IntN(steps-def)
			}
			size := 1 + r.IntN(300)
			a = append(a, &interval{def: def, last: last, size: size})
			b = append(b, &interval{def: def, last: last, size: size})
		}
		sort.SliceStable(a, func(i, j int) bool { return a[i].size > a[j].size })
		sort.SliceStable(b, func(i, j int) bool { return b[i].size > b[j].size })
		done := make(chan int, 1)
		go func() { done <- place(a, steps-1) }()
		var arena int
		select {
		case arena = <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("trial %d: placement does not finish", trial)
		}
		if want := placeByScan(b); arena != want {
			t.Fatalf("trial %d: arena %d, the scan gives %d", trial, arena, want)
		}
		for i := range a {
			if a[i].off != b[i].off {
				t.Fatalf("trial %d: buffer %d (steps %d..%d, %d bytes) at %d, the scan puts it at %d", trial, i, a[i].def, a[i].last, a[i].size, a[i].off, b[i].off)
			}
		}
	}
}
