package main

import "runtime"

// allocsPerRun mirrors testing.AllocsPerRun without importing
// package testing into the binary: the average number of heap allocations
// of f over runs calls (after one warm-up call).
func allocsPerRun(runs int, f func()) float64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for i := 0; i < runs; i++ {
		f()
	}
	runtime.ReadMemStats(&m1)
	return float64(m1.Mallocs-m0.Mallocs) / float64(runs)
}
