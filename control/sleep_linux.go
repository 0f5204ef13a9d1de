//go:build linux

package control

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// nap sleeps for d in a blocking nanosleep on the calling OS thread: with
// the thread's timer slack at 1 ns (realtimeThread) it wakes within tens of
// µs, where the Go timer wheel can be late by up to a millisecond under load.
func nap(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	for {
		var rem unix.Timespec
		if err := unix.Nanosleep(&ts, &rem); err != unix.EINTR {
			return
		}
		ts = rem
	}
}

// realtimeThread pins the calling goroutine to its OS thread and sets the
// thread's timer slack to 1 ns and, when prio > 0, SCHED_FIFO at that
// priority (needs CAP_SYS_NICE or an rtprio limit; the error is returned,
// the rest still applies). It returns the undo.
func realtimeThread(prio int) (func(), error) {
	runtime.LockOSThread()
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	var err error
	if prio > 0 {
		err = unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: uint32(prio)}, 0)
	}
	return func() {
		if prio > 0 && err == nil {
			_ = unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: 0 /* SCHED_OTHER */}, 0)
		}
		_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 0, 0, 0, 0) // back to the default
		runtime.UnlockOSThread()
	}, err
}
