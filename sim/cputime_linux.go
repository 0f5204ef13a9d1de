//go:build linux

package sim

import "golang.org/x/sys/unix"

// threadCPU returns the calling thread's CPU time in ns. Trial workers lock
// their OS thread, so the difference around a controller step is the CPU
// time the step used, unaffected by other processes competing for cores.
func threadCPU() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}

const cpuClock = true
