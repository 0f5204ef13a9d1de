package forecast

import "github.com/agilecatch/catch/ball"

// History keeps the most recent observations of one flight for the interpolant's
// condition, in a fixed ring: Add and Window do not allocate. The perception goroutine (or
// the sim loop) adds the observations the estimator accepted; Reset starts a new flight.
type History struct {
	ring []Obs
	out  []Obs
	n, i int
}

// NewHistory returns a History of the given capacity (at least FitConfig.MaxObs; 64 by
// default).
func NewHistory(capacity int) *History {
	if capacity < 1 {
		capacity = 64
	}
	return &History{ring: make([]Obs, capacity), out: make([]Obs, capacity)}
}

// Reset forgets every observation.
func (h *History) Reset() { h.n, h.i = 0, 0 }

// Add appends an observation (capture time t in s, position in m); times must increase.
func (h *History) Add(t float64, p ball.Vec) {
	h.ring[h.i] = Obs{T: t, P: p}
	h.i = (h.i + 1) % len(h.ring)
	if h.n < len(h.ring) {
		h.n++
	}
}

// Window returns the kept observations, oldest first, in a buffer owned by h (valid until
// the next Window call).
func (h *History) Window() []Obs {
	start := (h.i - h.n + len(h.ring)) % len(h.ring)
	for k := 0; k < h.n; k++ {
		h.out[k] = h.ring[(start+k)%len(h.ring)]
	}
	return h.out[:h.n]
}
