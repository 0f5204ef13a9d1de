//go:build !linux

package cputime

import "time"

// Precise reports whether Thread reads a per-thread CPU clock.
const Precise = false

var start = time.Now()

// Thread falls back to the wall clock (ns since start-up) where per-thread
// CPU time is not available.
func Thread() int64 { return int64(time.Since(start)) }
