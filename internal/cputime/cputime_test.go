package cputime

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestThreadCountsWorkNotSleep: spinning advances the thread clock by about
// the spin's length; sleeping advances it by far less than the sleep.
func TestThreadCountsWorkNotSleep(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0 := Thread()
	time.Sleep(50 * time.Millisecond)
	slept := Thread() - c0
	require.Less(t, slept, int64(20*time.Millisecond), "a sleeping thread used CPU")

	c0 = Thread()
	w0 := time.Now()
	x := 1.0
	for time.Since(w0) < 30*time.Millisecond {
		x = x*1.0000001 + 1e-9
	}
	spun := Thread() - c0
	require.Greater(t, spun, int64(time.Millisecond), "30 ms of spinning (x=%g) used no CPU", x)
	require.LessOrEqual(t, spun, int64(time.Since(w0))+int64(time.Millisecond))
}
