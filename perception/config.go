package perception

import (
	"fmt"
	"math"

	"github.com/agilecatch/catch/ball"
)

// Estimator defaults, used for zero fields of EstimatorConfig.
const (
	DefaultNoiseStd         = 0.003 // m per axis: stereo triangulation at 3–4 m (docs/architecture.md §8 asks median ≤ 5 mm)
	DefaultProcessNoise     = 0.1   // m/s²/√Hz: covers small model error (C_d, air density) without spin
	DefaultGate             = 5.0   // Mahalanobis distance; P(χ²₃ > 25) ≈ 1.7e-5 of good observations rejected
	DefaultMinObs           = 3     // observations before the first estimate: the fewest that can be checked
	DefaultMaxGap           = 0.1   // s without an accepted observation that ends a track
	DefaultMaxAge           = 0.5   // s after the last accepted observation that an estimate stays valid
	DefaultMaxRejects       = 3     // consecutive gated-out observations that start a new track
	DefaultSpinPriorStd     = 60.0  // rad/s (≈ 10 rev/s, the hand-lob scenario's spin)
	DefaultSpinProcessNoise = 1.0   // rad/s/√Hz
)

// maxBuf bounds MinObs and MaxRejects: the start-up and rejection buffers
// are fixed arrays so that Observe does not allocate.
const maxBuf = 8

// EstimatorConfig configures the ball Estimator. The zero value means the
// defaults above for every field; EstimateSpin defaults to false.
type EstimatorConfig struct {
	// NoiseStd is the observation noise σ per axis, m. Default 0.003.
	NoiseStd float64 `yaml:"noise_std_m"`
	// ProcessNoise is √q of a white acceleration disturbance on the velocity,
	// m/s²/√Hz: unmodelled forces such as spin when it is not estimated. A
	// larger value follows model error faster and averages noise less.
	// Default 0.1.
	ProcessNoise float64 `yaml:"process_noise_mps2_rthz"`
	// Gate is the Mahalanobis distance of an observation from the prediction
	// beyond which it is rejected as an outlier. Default 4.
	Gate float64 `yaml:"gate_sigma"`
	// MinObs is the number of observations the track starts from (a
	// least-squares fit); estimates are valid from then on. 2–8, default 3.
	MinObs int `yaml:"min_obs"`
	// MaxGap ends the track when the next observation comes later than this
	// after the last accepted one, s. Default 0.1.
	MaxGap float64 `yaml:"max_gap_s"`
	// MaxAge is how long after the last accepted observation Estimate still
	// reports a valid (extrapolated) state, s. Default 0.5.
	MaxAge float64 `yaml:"max_age_s"`
	// MaxRejects consecutive rejected observations end the track and start a
	// new one from them (the ball jumped, or a new ball was thrown). 1–8,
	// default 3.
	MaxRejects int `yaml:"max_rejects"`
	// EstimateSpin adds the spin ω (rad/s) to the filter state so that Magnus
	// lift is modelled. Spin along the velocity is unobservable and stays at
	// its prior. Default false.
	EstimateSpin bool `yaml:"estimate_spin"`
	// SpinPriorStd is the prior σ of each spin component at track start,
	// rad/s. Default 60. Used only with EstimateSpin.
	SpinPriorStd float64 `yaml:"spin_prior_std_radps"`
	// SpinPrior, when set, gives the spin's prior mean and covariance at track
	// start from the ball's first position and velocity (a ball.SpinTable learned
	// from fitted flights) in place of zero and SpinPriorStd. Used only with
	// EstimateSpin; set in code, not in YAML.
	SpinPrior ball.SpinPrior `yaml:"-"`
	// SpinProcessNoise is the random-walk density of the spin, rad/s/√Hz.
	// Default 1. Used only with EstimateSpin.
	SpinProcessNoise float64 `yaml:"spin_process_noise_radps_rthz"`
}

// WithDefaults returns c with every zero field set to its default.
func (c EstimatorConfig) WithDefaults() EstimatorConfig {
	setF := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	setI := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	setF(&c.NoiseStd, DefaultNoiseStd)
	setF(&c.ProcessNoise, DefaultProcessNoise)
	setF(&c.Gate, DefaultGate)
	setI(&c.MinObs, DefaultMinObs)
	setF(&c.MaxGap, DefaultMaxGap)
	setF(&c.MaxAge, DefaultMaxAge)
	setI(&c.MaxRejects, DefaultMaxRejects)
	setF(&c.SpinPriorStd, DefaultSpinPriorStd)
	setF(&c.SpinProcessNoise, DefaultSpinProcessNoise)
	return c
}

// Validate reports the first bad field by its YAML name.
func (c EstimatorConfig) Validate() error {
	c = c.WithDefaults()
	for _, f := range []struct {
		name   string
		v      float64
		lo, hi float64
	}{
		{"noise_std_m", c.NoiseStd, 1e-6, 1},
		{"process_noise_mps2_rthz", c.ProcessNoise, 0, 1000},
		{"gate_sigma", c.Gate, 1, 1000},
		{"max_gap_s", c.MaxGap, 1e-3, 10},
		{"max_age_s", c.MaxAge, 0, 10},
		{"spin_prior_std_radps", c.SpinPriorStd, 0, 1e4},
		{"spin_process_noise_radps_rthz", c.SpinProcessNoise, 0, 1e4},
	} {
		if math.IsNaN(f.v) || f.v < f.lo || f.v > f.hi {
			return fmt.Errorf("perception: estimator %s = %v, want a number in [%g, %g] (0 for the default)", f.name, f.v, f.lo, f.hi)
		}
	}
	if c.MinObs < 2 || c.MinObs > maxBuf {
		return fmt.Errorf("perception: estimator min_obs = %d, want 2..%d (0 for the default %d)", c.MinObs, maxBuf, DefaultMinObs)
	}
	if c.MaxRejects < 1 || c.MaxRejects > maxBuf {
		return fmt.Errorf("perception: estimator max_rejects = %d, want 1..%d (0 for the default %d)", c.MaxRejects, maxBuf, DefaultMaxRejects)
	}
	return nil
}
