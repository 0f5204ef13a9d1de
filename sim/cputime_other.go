//go:build !linux

package sim

import "time"

var start = time.Now()

// threadCPU falls back to the wall clock where per-thread CPU time is not
// available.
func threadCPU() int64 { return int64(time.Since(start)) }

const cpuClock = false
