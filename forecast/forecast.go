package forecast

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/control"
)

// Default horizons: every 20 ms out to 0.6 s.
const (
	DefaultDt = 0.02
	DefaultH  = 30
)

// Obs is one 3D ball observation: capture time (s, trial clock) and position (m, world frame).
type Obs struct {
	T float64
	P ball.Vec
}

// Input is what a Forecaster forecasts from.
type Input struct {
	// Now is the forecast's reference time T0, s (trial clock); horizons are Now+Dt … Now+H·Dt.
	Now float64
	// History holds the observations available at Now (capture times ≤ Now), oldest first.
	// The interpolant forecaster needs it; the physics baseline ignores it.
	History []Obs
	// Estimate is the estimator's state at Now. The physics baseline needs it (Valid); the
	// interpolant forecaster ignores it.
	Estimate *ball.Estimate
}

// Forecaster turns an Input into N sampled future trajectories at the fixed horizons,
// written into dst (a caller-owned buffer from NewBuffer: dst.N samples, dst.Pos of length
// N·H·3). It sets dst.T0, dst.Dt and dst.H. rng supplies all randomness. A Forecaster is not
// safe for concurrent use: one goroutine (the forecast worker) owns it.
type Forecaster interface {
	Forecast(in *Input, rng *rand.Rand, dst *control.Forecast) error
	// Horizons returns the spacing (s) and count of the horizons it forecasts.
	Horizons() (dt float64, h int)
}

// ErrNoCondition is returned when the input does not hold what the forecaster needs (too
// few observations, no valid estimate). It is a status rather than a fault: no forecast yet.
var ErrNoCondition = errors.New("forecast: not enough input to forecast yet")

// NewBuffer returns a forecast buffer for n samples at h horizons.
func NewBuffer(dt float64, h, n int) control.Forecast {
	return control.Forecast{Dt: dt, H: h, N: n, Pos: make([]float64, n*h*3)}
}

func checkDst(dst *control.Forecast, h int) error {
	if dst == nil || dst.N <= 0 {
		return errors.New("forecast: destination has no samples (N ≤ 0); allocate it with NewBuffer")
	}
	if len(dst.Pos) < dst.N*h*3 {
		return fmt.Errorf("forecast: destination holds %d values, want N·H·3 = %d·%d·3", len(dst.Pos), dst.N, h)
	}
	return nil
}

// Horizons is the horizon grid of a forecast.
type Horizons struct {
	Dt float64 `yaml:"dt_s" json:"dt_s"`   // s between horizons; default 0.02
	H  int     `yaml:"count" json:"count"` // number of horizons; default 30 (0.6 s)
}

// WithDefaults fills zero fields.
func (h Horizons) WithDefaults() Horizons {
	if h.Dt == 0 {
		h.Dt = DefaultDt
	}
	if h.H == 0 {
		h.H = DefaultH
	}
	return h
}

// Validate reports the first bad field.
func (h Horizons) Validate() error {
	h = h.WithDefaults()
	if !(h.Dt > 0 && h.Dt <= 1) || math.IsNaN(h.Dt) {
		return fmt.Errorf("forecast: horizons dt_s = %v, want (0, 1] s", h.Dt)
	}
	if h.H < 1 || h.H > 500 {
		return fmt.Errorf("forecast: horizons count = %d, want 1..500", h.H)
	}
	return nil
}
