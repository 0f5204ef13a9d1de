package policy

import (
	"fmt"
	"math"

	"github.com/agilecatch/catch/sim"
)

// RewardConfig weights the paper's shaped episode reward. The zero value
// means the defaults.
type RewardConfig struct {
	// CutoffM: closest approaches farther than this score nothing; default
	// 0.2 m (the paper's 20 cm).
	CutoffM float64 `yaml:"cutoff_m"`
	// ScaleM is the length scale of the exponential closest-approach
	// score; default 0.05 m.
	ScaleM float64 `yaml:"scale_m"`
	// Close, Align, Stable, Catch weigh the terms; defaults 1, 0.5, 2, 1.
	Close  float64 `yaml:"close"`
	Align  float64 `yaml:"align"`
	Stable float64 `yaml:"stable"`
	Catch  float64 `yaml:"catch"`
	// Limit is the penalty per command that asked for more than a joint's
	// position, velocity or acceleration limit (counted by the simulator);
	// default 1.
	Limit float64 `yaml:"limit"`
	// Brake is the penalty per second of commands braked for a position
	// limit by the decode, and Jerk per second of commands in which a
	// joint's commanded acceleration swung by more than its acceleration
	// limit within one tick (a bang-bang reversal); defaults 0.5 and 0.5.
	Brake float64 `yaml:"brake"`
	Jerk  float64 `yaml:"jerk"`
	// Approach weighs a long-range shaping term without cutoff,
	// e^(−d/ApproachScaleM)·(1 + max(0, cos))/2 (d the closest approach,
	// cos the net alignment there), so a policy whose head never comes
	// within CutoffM of the ball (a network trained from random weights)
	// still sees which way is closer. Default 0 (off) for the structured
	// class, 1 for the paper class; negative turns it off.
	Approach       float64 `yaml:"approach" json:",omitempty"`
	ApproachScaleM float64 `yaml:"approach_scale_m" json:",omitempty"`
	// Collision is the penalty per second of commands whose pose collided
	// (TrialResult.CommandCollisions; the safety layer braked each).
	// Default 0 for the structured class, 2 for the paper class; negative
	// turns it off.
	Collision float64 `yaml:"collision" json:",omitempty"`
}

// setClassDefaults sets the shaping defaults of a policy class (before
// setDefaults): the paper class learns from random weights and needs the
// long-range approach term and the collision penalty.
func (c *RewardConfig) setClassDefaults(class string) {
	if class != ClassPaper {
		return
	}
	if c.Approach == 0 {
		c.Approach = 1
	}
	if c.ApproachScaleM == 0 {
		c.ApproachScaleM = 0.3
	}
	if c.Collision == 0 {
		c.Collision = 2
	}
}

func (c *RewardConfig) setDefaults() {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.CutoffM, 0.2)
	def(&c.ScaleM, 0.05)
	def(&c.Close, 1)
	def(&c.Align, 0.5)
	def(&c.Stable, 2)
	def(&c.Catch, 1)
	def(&c.Limit, 1)
	def(&c.Brake, 0.5)
	def(&c.Jerk, 0.5)
	if c.Approach > 0 && c.ApproachScaleM == 0 {
		c.ApproachScaleM = 0.3
	}
}

// Validate reports the first bad field.
func (c RewardConfig) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"cutoff_m", c.CutoffM}, {"scale_m", c.ScaleM}, {"close", c.Close}, {"align", c.Align}, {"stable", c.Stable},
		{"catch", c.Catch}, {"limit", c.Limit}, {"brake", c.Brake}, {"jerk", c.Jerk}} {
		if math.IsNaN(f.v) || f.v < 0 || f.v > 1e3 {
			return fmt.Errorf("reward.%s: %v, want [0, 1000]", f.name, f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"approach", c.Approach}, {"approach_scale_m", c.ApproachScaleM}, {"collision", c.Collision}} {
		if math.IsNaN(f.v) || f.v > 1e3 {
			return fmt.Errorf("reward.%s: %v, want ≤ 1000 (negative: off)", f.name, f.v)
		}
	}
	return nil
}

// Reward scores one episode (the paper's terms):
//
//   - closest approach d of the ball to the pocket centre on an exponential
//     curve cut off at CutoffM: (e^(−d/s) − e^(−c/s)) / (1 − e^(−c/s));
//   - net alignment (cosine between the net normal and the incoming ball) at
//     the closest approach, when d < CutoffM;
//   - stability: 0.2 for the ball staying in the pocket plus 0.8 for it being
//     slower than 0.2 m/s relative to the head, each over 0.25 s;
//   - a catch bonus;
//   - penalties for limit violations, braking at position limits and jerk;
//   - with Approach, the long-range approach term; with Collision, the
//     penalty for colliding commands.
//
// st may be the zero Stats (external evaluators log no controller counters).
func (c RewardConfig) Reward(r *sim.TrialResult, st Stats, period float64) float64 {
	var rw float64
	d := r.MissDistanceM
	if d < c.CutoffM {
		e := math.Exp(-c.CutoffM / c.ScaleM)
		rw += c.Close * (math.Exp(-d/c.ScaleM) - e) / (1 - e)
		rw += c.Align * math.Max(0, r.AlignCos)
	}
	const hold = 0.25
	rw += c.Stable * (0.2*math.Min(1, r.InPocketS/hold) + 0.8*math.Min(1, r.SlowInPocketS/hold))
	if r.Caught {
		rw += c.Catch
	}
	rw -= c.Limit * float64(r.LimitViolations)
	rw -= c.Brake * float64(st.Braked) * period
	rw -= c.Jerk * float64(st.JerkTicks) * period
	if c.Approach > 0 && c.ApproachScaleM > 0 && !math.IsInf(d, 0) {
		rw += c.Approach * math.Exp(-d/c.ApproachScaleM) * (1 + math.Max(0, r.AlignCos)) / 2
	}
	if c.Collision > 0 {
		rw -= c.Collision * float64(r.CommandCollisions) * period
	}
	return rw
}
