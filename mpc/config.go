package mpc

import (
	"fmt"
	"math"
)

// Config configures the MPC catch planner. The zero value means the
// defaults written beside each field; WithDefaults fills them in.
type Config struct {
	// Stages is the number N of bang-off stages before the catch. Default 2:
	// with one stage the joint velocities at the catch are fixed by the
	// displacement, so the head cannot arrive moving along the ball's path;
	// a second stage shapes the catch velocity for the cradle. 1 is allowed.
	Stages int `yaml:"stages"`
	// PosTolM is ε_p, the hard bound on the planned head-origin error per
	// axis at the catch, m. Default 0.01.
	PosTolM float64 `yaml:"pos_tol_m"`
	// NormalTolRad is ε_r, the hard bound on the angle between the net
	// normal and its reference at the catch (−v̂_ball turned up by
	// normal_up_rad), rad. Default 0.12 (≈7°).
	NormalTolRad float64 `yaml:"normal_tol_rad"`
	// NormalUpRad turns the net normal's reference at the catch from −v̂
	// toward straight up by this angle (at most until it points up), rad:
	// a flat ball then meets a net that faces upward, and after the catch
	// the pocket holds it deeper. Default 0.15: the net is only 3.7 cm deep
	// behind an opening 9 cm long (ball centre), so a net facing a flat
	// ball stands nearly upright, the ball slides to its lower rim, where
	// the pocket is ~5 mm deep, and rolls out within the 0.25 s hold;
	// the cradle's net-up turns it only ~5–10° in that time (acceleration
	// limits). 0.15 raised hand-lob from 0.914 to 0.940 (seeds 2–5, 200
	// throws each) and fast from 0.955 to 1.0 (seed 2); 0.3 and more
	// lose balls that meet the tilted net off its axis. Negative: none.
	NormalUpRad float64 `yaml:"normal_up_rad"`
	// Lambda is λ, the cost per second of plan duration. Default 0.5.
	Lambda float64 `yaml:"lambda"`
	// EffortWeight scales the smooth effort surrogate Σ (δq̇/v_max)². Default 0.1.
	EffortWeight float64 `yaml:"effort_weight"`
	// OffAxisWeight weighs the squared head velocity off the catching axis
	// at the catch, (m/s)⁻². Default 4.
	OffAxisWeight float64 `yaml:"off_axis_weight"`
	// CatchSpeedWeight weighs the squared deviation of the head speed along
	// the ball direction from the target catch speed, (m/s)⁻². Default 30:
	// with less the plans met the ball at about half the target speed, and
	// fast balls bounced out of the net (hand-lob 0.91 → 0.93 at 30,
	// nominal 0.998 → 1.0 on 500 throws).
	CatchSpeedWeight float64 `yaml:"catch_speed_weight"`
	// PoseWeight weighs the squared head-position error (m⁻²) and normal
	// error inside the hard tolerances. Default 100.
	PoseWeight float64 `yaml:"pose_weight"`
	// CatchSpeed is v_c, the lowest head speed along the ball's direction at
	// the catch, m/s. Default 2.5 (see CatchRelSpeed).
	CatchSpeed float64 `yaml:"catch_speed_mps"`
	// CatchRelSpeed is the ball's speed relative to the head along its
	// direction that the catch aims for: the head's target speed is
	// clamp(ball speed − catch_rel_speed, catch_speed, max_catch_speed), so
	// faster balls are met by a faster head and bounce less out of the net,
	// m/s. Default 2.5 (nominal throws, 5.5 m/s: the head moves at 3 m/s).
	CatchRelSpeed float64 `yaml:"catch_rel_speed_mps"`
	// MaxCatchSpeed caps the head's target speed at the catch, m/s. Default 4.
	MaxCatchSpeed float64 `yaml:"max_catch_speed_mps"`
	// SlowDownS is the cradle's slow-down time after the catch, s. Default 0.15.
	SlowDownS float64 `yaml:"slow_down_s"`
	// NetUpRad is how far the cradle turns the net toward straight up
	// (through the wrist pitch), rad. Default 0.3.
	NetUpRad float64 `yaml:"net_up_rad"`
	// ActionLatencyS is the latency between a command and its execution that
	// the planner compensates by commanding the reference ahead, s. Default
	// 0.02 (the sim's nominal action latency); negative means none.
	ActionLatencyS float64 `yaml:"action_latency_s"`
	// FixedLatency turns off the online latency estimate: by default the
	// controller estimates the action latency during each throw from its
	// commands and the measured joint positions and, when the estimate
	// differs from action_latency_s by more than 15 ms, moves its decode
	// lead to it (at most 10% of elapsed time, within the limits; see
	// latency.go). Default false.
	FixedLatency bool `yaml:"fixed_latency"`
	// NoSpinFit turns off the spin fit (perception.SpinFit): by default the controller
	// infers the spin the ball estimate lacks from how its velocity changes
	// and predicts with it. Default false.
	NoSpinFit bool `yaml:"no_spin_fit"`
	// NoCradleCollision turns off the cradle's collision check: by default
	// a plan whose cradle (the motion after the catch) brings the arm's
	// collision capsules within 2 cm of each other or of the floor is
	// infeasible, since the safety layer would brake it with the ball in
	// the net. Default false.
	NoCradleCollision bool `yaml:"no_cradle_collision"`
	// AccMargin and VelMargin scale the joint acceleration and velocity
	// limits used for planning. Defaults 0.9 and 0.9.
	AccMargin float64 `yaml:"acc_margin"`
	VelMargin float64 `yaml:"vel_margin"`
	// PosMargin is kept away from the joint position limits, rad or m.
	// Default 0.01.
	PosMargin float64 `yaml:"pos_margin"`
	// QPMethod is the QP solver of the SQP steps: "active-set" (exact,
	// Goldfarb–Idnani, with a damped step and an elastic variable: see the
	// planner's stepDamping) or "admm" (inexact, at most 50 iterations; the
	// method before). Default "active-set".
	QPMethod string `yaml:"qp_method"`
	// SQPIters bounds the SQP iterations per start. Default 4: with 2, a
	// warm re-plan whose continued plan the new estimate had moved off the
	// ball could not restore feasibility (its first step is often
	// rejected), so the executed plan went on unchanged until a fresh
	// start won that met the ball at about half the target catch speed
	// (hand-lob 0.949 → 0.971 on seeds 2–5, 200 throws each, with the
	// cradle's collision check; the thrower scenarios unchanged).
	SQPIters int `yaml:"sqp_iters"`
	// TrustRegion is the initial trust-region half-width on each velocity
	// change, in units of that joint's velocity limit (the stage durations
	// get TrustRegion·0.1 s). Default 0.15 (hand-lob 0.971 at 0.3 and
	// 0.981 at 0.15 with sqp_iters 4, seeds 2–5: a first step of 0.3 was
	// mostly rejected).
	TrustRegion float64 `yaml:"trust_region"`
	// Seeds is the number of IK seeds (whole-body alternatives): 2 (left and
	// right), 4 (plus two rail positions) or 6. Default 4.
	Seeds int `yaml:"seeds"`
	// CatchTimes is the number of candidate catch points along the predicted
	// path tried per seed. Default 3.
	CatchTimes int `yaml:"catch_times"`
	// RefineStarts is how many of the best-scoring starts get SQP refinement
	// (the rest are only scored). Default 1.
	RefineStarts int `yaml:"refine_starts"`
	// CatchXM are the x coordinates (m, world) of the candidate catch
	// points: the predicted path is cut where it crosses them. Default
	// [0.5, 0.4, 0.6, 0.3, 0.7] (the first CatchTimes are used).
	CatchXM []float64 `yaml:"catch_x_m"`
	// FreezeS stops re-planning this close to the planned catch, s. Default 0.05.
	FreezeS float64 `yaml:"freeze_s"`
	// Async runs the planner in its own goroutine; Step never waits for it.
	// Default false (synchronous, deterministic: what `catch sim` uses).
	Async bool `yaml:"async"`
	// DumpDir, when set, receives the last QP of a failed or slow plan as
	// JSON (replay with `catch qp solve`; with qp_method active-set the
	// scaled QP the solver saw, elastic variable included). Default "": no
	// dumps.
	DumpDir string `yaml:"dump_dir"`
	// SlowPlanS is the plan time above which a QP is dumped, s. Default 0.002.
	SlowPlanS float64 `yaml:"slow_plan_s"`
	// PredictStepS is the spacing of the tabulated ball prediction, s.
	// Default 0.005.
	PredictStepS float64 `yaml:"predict_step_s"`
	// HorizonS is how far ahead the ball is predicted, s. Default 1.5.
	HorizonS float64 `yaml:"horizon_s"`
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	f := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	i := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	i(&c.Stages, 2)
	f(&c.PosTolM, 0.01)
	f(&c.NormalTolRad, 0.12)
	f(&c.NormalUpRad, 0.15)
	f(&c.Lambda, 0.5)
	f(&c.EffortWeight, 0.1)
	f(&c.OffAxisWeight, 4)
	f(&c.CatchSpeedWeight, 30)
	f(&c.PoseWeight, 100)
	f(&c.CatchSpeed, 2.5)
	f(&c.CatchRelSpeed, 2.5)
	f(&c.MaxCatchSpeed, 4)
	f(&c.SlowDownS, 0.15)
	f(&c.NetUpRad, 0.3)
	f(&c.ActionLatencyS, 0.02)
	f(&c.AccMargin, 0.9)
	f(&c.VelMargin, 0.9)
	f(&c.PosMargin, 0.01)
	if c.QPMethod == "" {
		c.QPMethod = "active-set"
	}
	i(&c.SQPIters, 4)
	f(&c.TrustRegion, 0.15)
	i(&c.Seeds, 4)
	i(&c.CatchTimes, 3)
	i(&c.RefineStarts, 1)
	if len(c.CatchXM) == 0 {
		c.CatchXM = []float64{0.5, 0.4, 0.6, 0.3, 0.7}
	}
	f(&c.FreezeS, 0.05)
	f(&c.SlowPlanS, 0.002)
	f(&c.PredictStepS, 0.005)
	f(&c.HorizonS, 1.5)
	return c
}

// Validate reports the first bad field of c after defaults.
func (c Config) Validate() error {
	c = c.WithDefaults()
	if c.Stages < 1 || c.Stages > maxStages {
		return fmt.Errorf("mpc: stages = %d, want 1–%d", c.Stages, maxStages)
	}
	for _, v := range []struct {
		name   string
		v      float64
		lo, hi float64
	}{
		{"pos_tol_m", c.PosTolM, 1e-4, 0.1},
		{"normal_tol_rad", c.NormalTolRad, 1e-3, 1},
		{"lambda", c.Lambda, 0, 1e3},
		{"effort_weight", c.EffortWeight, 0, 1e3},
		{"off_axis_weight", c.OffAxisWeight, 0, 1e4},
		{"catch_speed_weight", c.CatchSpeedWeight, 0, 1e4},
		{"pose_weight", c.PoseWeight, 0, 1e6},
		{"catch_speed_mps", c.CatchSpeed, 0, 5},
		{"catch_rel_speed_mps", c.CatchRelSpeed, 0, 20},
		{"max_catch_speed_mps", c.MaxCatchSpeed, 0, 6},
		{"slow_down_s", c.SlowDownS, 0.02, 2},
		{"net_up_rad", c.NetUpRad, 0, 1.5},
		{"normal_up_rad", c.NormalUpRad, -1, 1},
		{"action_latency_s", c.ActionLatencyS, -1, 0.5},
		{"acc_margin", c.AccMargin, 0.1, 1},
		{"vel_margin", c.VelMargin, 0.1, 1},
		{"pos_margin", c.PosMargin, 0, 0.5},
		{"trust_region", c.TrustRegion, 1e-3, 10},
		{"freeze_s", c.FreezeS, 0, 0.5},
		{"slow_plan_s", c.SlowPlanS, 1e-5, 10},
		{"predict_step_s", c.PredictStepS, 1e-3, 0.05},
		{"horizon_s", c.HorizonS, 0.1, 10},
	} {
		if math.IsNaN(v.v) || v.v < v.lo || v.v > v.hi {
			return fmt.Errorf("mpc: %s = %v, want [%g, %g]", v.name, v.v, v.lo, v.hi)
		}
	}
	if c.QPMethod != "admm" && c.QPMethod != "active-set" {
		return fmt.Errorf("mpc: qp_method = %q, want admm or active-set", c.QPMethod)
	}
	switch {
	case c.SQPIters < 1 || c.SQPIters > 50:
		return fmt.Errorf("mpc: sqp_iters = %d, want 1–50", c.SQPIters)
	case c.Seeds != 2 && c.Seeds != 4 && c.Seeds != 6:
		return fmt.Errorf("mpc: seeds = %d, want 2, 4 or 6", c.Seeds)
	case c.CatchTimes < 1 || c.CatchTimes > len(c.CatchXM):
		return fmt.Errorf("mpc: catch_times = %d, want 1–%d (len(catch_x_m))", c.CatchTimes, len(c.CatchXM))
	case c.RefineStarts < 1:
		return fmt.Errorf("mpc: refine_starts = %d, want ≥ 1", c.RefineStarts)
	}
	for k, x := range c.CatchXM {
		if math.IsNaN(x) || x < -1 || x > 2 {
			return fmt.Errorf("mpc: catch_x_m[%d] = %v, want [-1, 2]", k, x)
		}
	}
	return nil
}

// latency returns the compensated action latency, s.
func (c *Config) latency() float64 { return math.Max(c.ActionLatencyS, 0) }
