package control

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// Clock is the loop's time source. Times are durations since the clock's
// own origin. A Clock is used by the loop goroutine; Now may also be called
// from other goroutines.
type Clock interface {
	// Now returns the current time.
	Now() time.Duration
	// SleepUntil returns when Now() ≥ t or ctx is done (then with ctx's error).
	SleepUntil(ctx context.Context, t time.Duration) error
}

// TimeBase is a Clock that also converts to and from wall-clock (ROS)
// time stamps.
type TimeBase interface {
	Clock
	// At converts a time stamp to this clock.
	At(t time.Time) time.Duration
	// Time converts a time on this clock to a time stamp.
	Time(d time.Duration) time.Time
}

// WallClock is the monotonic wall clock, with its origin at Start.
type WallClock struct {
	Start time.Time
	// Spin is how long before a deadline the clock stops sleeping and polls
	// instead: a thread's nanosleep wakes up late by tens of µs (more on a
	// loaded machine); polling the last stretch keeps the tick's jitter well
	// under that. Zero: 100 µs. Negative: never poll.
	Spin time.Duration
}

// NewWallClock returns a wall clock whose origin is now.
func NewWallClock() *WallClock { return &WallClock{Start: time.Now()} }

// Now implements Clock.
func (c *WallClock) Now() time.Duration { return time.Since(c.Start) }

// At converts a wall time (e.g. a ROS header stamp) to this clock.
func (c *WallClock) At(t time.Time) time.Duration { return t.Sub(c.Start) }

// Time converts a time on this clock to wall time.
func (c *WallClock) Time(d time.Duration) time.Time { return c.Start.Add(d) }

// SleepUntil implements Clock. It allocates nothing.
func (c *WallClock) SleepUntil(ctx context.Context, t time.Duration) error {
	spin := c.Spin
	if spin == 0 {
		spin = 100 * time.Microsecond
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		left := t - c.Now()
		if left <= 0 {
			return nil
		}
		switch {
		case spin > 0 && left <= spin:
			// Poll the last stretch, yielding the core between looks.
			for c.Now() < t {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				runtime.Gosched()
			}
			return nil
		case spin > 0:
			left -= spin
		}
		// Bounded naps so a cancelled ctx is seen within 50 ms. The nap is
		// a blocking nanosleep on this goroutine's thread (Loop.Run locks
		// it with a 1 ns timer slack), not the Go timer wheel.
		nap(min(left, 50*time.Millisecond))
	}
}

// SimClock is a simulated clock for tests and deterministic runs: time
// advances only through Advance or, when AutoAdvance is set, by jumping to
// each SleepUntil deadline. Safe for concurrent use.
type SimClock struct {
	mu   sync.Mutex
	now  time.Duration
	cond *sync.Cond
	// AutoAdvance makes SleepUntil jump the clock to the deadline at once
	// (a loop then runs as fast as the CPU allows).
	AutoAdvance bool
}

// NewSimClock returns a simulated clock at time 0.
func NewSimClock(auto bool) *SimClock {
	c := &SimClock{AutoAdvance: auto}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// Now implements Clock.
func (c *SimClock) Now() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and wakes sleepers.
func (c *SimClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now += d
	c.mu.Unlock()
	c.cond.Broadcast()
}

// Set moves the clock to t (never backwards) and wakes sleepers.
func (c *SimClock) Set(t time.Duration) {
	c.mu.Lock()
	if t > c.now {
		c.now = t
	}
	c.mu.Unlock()
	c.cond.Broadcast()
}

// unixZero is the origin of a SimClock's time stamps.
var unixZero = time.Unix(0, 0)

// At converts a time stamp to the simulated clock, whose zero is the Unix
// epoch (a clock driven by stamps, such as ROS simulated time).
func (c *SimClock) At(t time.Time) time.Duration { return t.Sub(unixZero) }

// Time converts a simulated time to a time stamp.
func (c *SimClock) Time(d time.Duration) time.Time { return unixZero.Add(d) }

// SleepUntil implements Clock.
func (c *SimClock) SleepUntil(ctx context.Context, t time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.AutoAdvance && t > c.now {
		c.now = t
	}
	for c.now < t {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Wake periodically to notice ctx cancellation.
		stop := context.AfterFunc(ctx, c.cond.Broadcast)
		c.cond.Wait()
		stop()
	}
	return ctx.Err()
}
