package control

import (
	"sync"
	"sync/atomic"
	"time"
)

// Slot is a latest-value slot: one or more writer goroutines Store
// immutable values, the loop Loads the newest without waiting or
// allocating. A value Stored must not be changed afterwards. Older values
// are simply replaced: a stale input is worse than none.
type Slot[T any] struct {
	p   atomic.Pointer[T]
	seq atomic.Uint64
}

// Store publishes v as the newest value.
func (s *Slot[T]) Store(v *T) {
	s.p.Store(v)
	s.seq.Add(1)
}

// Load returns the newest value (nil before the first Store) and the number
// of Stores so far, so a reader can tell a new value from the one it saw.
func (s *Slot[T]) Load() (*T, uint64) {
	seq := s.seq.Load()
	return s.p.Load(), seq
}

// Copier is a latest-value slot for values that the writer must not
// allocate per write (the loop's command, its statistics): the writer copies
// into the slot under a short lock, a reader copies out. Both copies are
// caller-owned, so nothing allocates after setup.
type Copier[T any] struct {
	mu  sync.Mutex
	v   T
	seq uint64
	cp  func(dst *T, src *T)
}

// NewCopier returns a slot that copies values with cp (deep copy of any
// slices into dst's own storage).
func NewCopier[T any](init T, cp func(dst, src *T)) *Copier[T] {
	return &Copier[T]{v: init, cp: cp}
}

// Put copies v into the slot.
func (c *Copier[T]) Put(v *T) {
	c.mu.Lock()
	c.cp(&c.v, v)
	c.seq++
	c.mu.Unlock()
}

// Get copies the newest value into dst and returns its sequence number (0:
// nothing Put yet).
func (c *Copier[T]) Get(dst *T) uint64 {
	c.mu.Lock()
	c.cp(dst, &c.v)
	s := c.seq
	c.mu.Unlock()
	return s
}

// Observation is one 3D ball observation, timestamped on the loop's clock at
// the camera frame's capture.
type Observation struct {
	At time.Duration
	P  [3]float64 // m, world frame
}

// ObsRing is a bounded multi-producer queue of ball observations that the
// loop drains each tick. Observations are a stream (the estimator wants all
// of them, in order), so this is a ring rather than a latest-value slot, but
// a bounded one: when full, the oldest is dropped and counted.
type ObsRing struct {
	mu      sync.Mutex
	buf     []Observation
	head, n int
	dropped uint64
}

// NewObsRing returns a ring holding up to capacity observations.
func NewObsRing(capacity int) *ObsRing {
	return &ObsRing{buf: make([]Observation, max(capacity, 1))}
}

// Push appends o, dropping the oldest when full.
func (r *ObsRing) Push(o Observation) {
	r.mu.Lock()
	if r.n == len(r.buf) {
		r.head = (r.head + 1) % len(r.buf)
		r.n--
		r.dropped++
	}
	r.buf[(r.head+r.n)%len(r.buf)] = o
	r.n++
	r.mu.Unlock()
}

// Drain moves up to len(dst) observations, oldest first, into dst and
// returns how many.
func (r *ObsRing) Drain(dst []Observation) int {
	r.mu.Lock()
	k := min(r.n, len(dst))
	for i := 0; i < k; i++ {
		dst[i] = r.buf[(r.head+i)%len(r.buf)]
	}
	r.head = (r.head + k) % len(r.buf)
	r.n -= k
	r.mu.Unlock()
	return k
}

// Dropped returns how many observations were dropped because the ring was full.
func (r *ObsRing) Dropped() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}
