package control

import (
	"fmt"
	"math"

	"github.com/agilecatch/catch/robot"
)

// SafetyConfig configures the safety layer and the watchdogs. The zero value
// means the defaults on each field.
type SafetyConfig struct {
	// WorkspaceMin and WorkspaceMax bound the head's origin (the pocket
	// centre, world frame, m). A command whose head lies outside is replaced
	// by a brake. Default (both zero): x ∈ [−1.0, 1.6], y ∈ [−1.8, 1.8],
	// z ∈ [0.15, 2.4] — the floor and the space around the rail, wider
	// than any catch (sim/reach.go).
	WorkspaceMin [3]float64 `yaml:"workspace_min_m"`
	WorkspaceMax [3]float64 `yaml:"workspace_max_m"`
	// JointStaleTicks: joint states older than this many loop periods make
	// the loop hold position (brake). Default 3.
	JointStaleTicks int `yaml:"joint_stale_ticks"`
	// BallStaleS: during a catch (the controller tracking a plan), a ball
	// estimate whose last accepted observation is older than this aborts the
	// catch and brakes the arm, s. Default 0.1.
	BallStaleS float64 `yaml:"ball_stale_s"`
	// Collision configures the check of every command against the URDF's
	// collision geometry (control/collision.go); on by default.
	Collision CollisionConfig `yaml:"collision"`
	// MaxLeadS bounds how far a command may run ahead of the measured
	// position while commands reach the arm: joint j's command may be at
	// most MaxLeadS × its velocity limit away from its measured position
	// (the lag of an arm following at full speed through the action
	// latency). A command moving further away is replaced by a brake.
	// Default 0.25 s.
	MaxLeadS float64 `yaml:"max_lead_s"`
	// ClockSkewS is how far into the future (loop clock) a ball observation
	// or a joint state may be stamped and still be taken: clocks of
	// different machines disagree by this much. Default 0.05 s.
	ClockSkewS float64 `yaml:"clock_skew_s"`
	// ObsMinM and ObsMaxM bound a plausible ball observation (world frame,
	// m); one outside, or not finite, is rejected and counted. Default
	// (both zero): x ∈ [−5, 30], y ∈ [−15, 15], z ∈ [−1, 20].
	ObsMinM [3]float64 `yaml:"obs_min_m"`
	ObsMaxM [3]float64 `yaml:"obs_max_m"`
	// RearmMaxAgeS and RearmMaxLeadS bound a re-arm's epoch (the throw's
	// release time) relative to the tick that takes it: older than
	// RearmMaxAgeS, or further ahead than RearmMaxLeadS, and it is
	// rejected with a reason. Defaults 1 s and 5 s.
	RearmMaxAgeS  float64 `yaml:"rearm_max_age_s"`
	RearmMaxLeadS float64 `yaml:"rearm_max_lead_s"`
}

// WithDefaults returns c with zero fields set to their defaults.
func (c SafetyConfig) WithDefaults() SafetyConfig {
	if c.WorkspaceMin == ([3]float64{}) && c.WorkspaceMax == ([3]float64{}) {
		c.WorkspaceMin = [3]float64{-1.0, -1.8, 0.15}
		c.WorkspaceMax = [3]float64{1.6, 1.8, 2.4}
	}
	if c.JointStaleTicks == 0 {
		c.JointStaleTicks = 3
	}
	if c.BallStaleS == 0 {
		c.BallStaleS = 0.1
	}
	if c.MaxLeadS == 0 {
		c.MaxLeadS = 0.25
	}
	if c.ClockSkewS == 0 {
		c.ClockSkewS = 0.05
	}
	if c.ObsMinM == ([3]float64{}) && c.ObsMaxM == ([3]float64{}) {
		c.ObsMinM = [3]float64{-5, -15, -1}
		c.ObsMaxM = [3]float64{30, 15, 20}
	}
	if c.RearmMaxAgeS == 0 {
		c.RearmMaxAgeS = 1
	}
	if c.RearmMaxLeadS == 0 {
		c.RearmMaxLeadS = 5
	}
	return c
}

// Validate reports the first bad field by its YAML name.
func (c SafetyConfig) Validate() error {
	c = c.WithDefaults()
	for k := 0; k < 3; k++ {
		lo, hi := c.WorkspaceMin[k], c.WorkspaceMax[k]
		if !finite(lo) || !finite(hi) || lo >= hi {
			return fmt.Errorf("safety: workspace_min_m[%d] = %v, workspace_max_m[%d] = %v: want finite min < max", k, lo, k, hi)
		}
	}
	if c.JointStaleTicks < 1 || c.JointStaleTicks > 1000 {
		return fmt.Errorf("safety: joint_stale_ticks = %d: want 1..1000 (0 for the default 3)", c.JointStaleTicks)
	}
	if !(c.BallStaleS > 0 && c.BallStaleS <= 10) {
		return fmt.Errorf("safety: ball_stale_s = %v: want (0, 10] (0 for the default 0.1)", c.BallStaleS)
	}
	if !(c.MaxLeadS > 0 && c.MaxLeadS <= 10) {
		return fmt.Errorf("safety: max_lead_s = %v: want (0, 10] (0 for the default 0.25)", c.MaxLeadS)
	}
	if !(c.ClockSkewS > 0 && c.ClockSkewS <= 10) {
		return fmt.Errorf("safety: clock_skew_s = %v: want (0, 10] (0 for the default 0.05)", c.ClockSkewS)
	}
	for k := 0; k < 3; k++ {
		lo, hi := c.ObsMinM[k], c.ObsMaxM[k]
		if !finite(lo) || !finite(hi) || lo >= hi {
			return fmt.Errorf("safety: obs_min_m[%d] = %v, obs_max_m[%d] = %v: want finite min < max", k, lo, k, hi)
		}
	}
	if !(c.RearmMaxAgeS > 0 && c.RearmMaxAgeS <= 3600) {
		return fmt.Errorf("safety: rearm_max_age_s = %v: want (0, 3600] (0 for the default 1)", c.RearmMaxAgeS)
	}
	if !(c.RearmMaxLeadS > 0 && c.RearmMaxLeadS <= 3600) {
		return fmt.Errorf("safety: rearm_max_lead_s = %v: want (0, 3600] (0 for the default 5)", c.RearmMaxLeadS)
	}
	return c.Collision.Validate()
}

// Interventions counts what the safety layer and the watchdogs did, one count
// per tick and reason.
type Interventions struct {
	NaN         uint64 `json:"nan"`          // command with NaN/Inf replaced by a brake
	Position    uint64 `json:"position"`     // ticks with a position clamped to the joint limits
	Velocity    uint64 `json:"velocity"`     // ticks with a velocity clamped
	Accel       uint64 `json:"acceleration"` // ticks with a velocity change clamped to the acceleration limit
	Workspace   uint64 `json:"workspace"`    // command whose head left the workspace box, braked
	Collision   uint64 `json:"collision"`    // command whose capsules touched the floor, the rail or each other, braked
	StaleJoints uint64 `json:"stale_joints"` // ticks held because joint states were stale or missing
	BallLost    uint64 `json:"ball_lost"`    // catches aborted because the ball estimate went stale
	EStop       uint64 `json:"estop"`        // ticks braked under the latched e-stop
	CtrlErrors  uint64 `json:"controller_errors"`
	BadStates   uint64 `json:"bad_joint_states"` // joint-state messages rejected (missing joints, NaN, wrong lengths, limits, stamps)
	Step        uint64 `json:"position_step"`    // ticks with a position step clamped to what the velocity and acceleration limits allow
	Lead        uint64 `json:"lead"`             // command too far ahead of the measured position, braked
	BadObs      uint64 `json:"bad_observations"` // ball observations rejected: stamped in the future, not finite, implausible
	BadRearms   uint64 `json:"bad_rearms"`       // re-arms rejected: epoch too old or too far ahead
}

// Total is the number of interventions of all kinds.
func (i Interventions) Total() uint64 {
	return i.NaN + i.Position + i.Velocity + i.Accel + i.Workspace + i.Collision + i.StaleJoints + i.BallLost + i.EStop + i.CtrlErrors + i.BadStates +
		i.Step + i.Lead + i.BadObs + i.BadRearms
}

// Safety sits between every controller and the arm: it clamps commands to
// the joint position, velocity and acceleration limits, bounds each
// commanded position step by the velocity limit (ramping larger jumps),
// keeps the command within a lead of the measured position and the
// head in a workspace box, brakes instead of a command whose pose would
// collide (Collider), replaces non-finite commands, and brakes (decelerates
// the last command within the limits) when asked. It remembers the last
// command it let through, so consecutive commands never ask for more than
// the limits over one period; Reset makes the next command start from the
// measured state (bumpless arming, docs/hardware.md §8). Used by the loop
// goroutine only; nothing allocates after NewSafety.
type Safety struct {
	cfg    SafetyConfig
	lim    robot.Limits
	chain  *robot.Chain
	period float64

	// prevQ, prevQd: the last command; prevV: the rate of its position
	// step (what the position sequence asks of the joint's velocity).
	prevQ, prevQd, prevV []float64
	// ramp: the joint's command is being ramped to a target that jumped.
	ramp []bool
	has  bool
	// lead: the lead bound applies (commands reach an arm that follows).
	lead bool
	pose robot.Pose
	// MaxStep is the largest position step let through since NewSafety, as
	// a fraction of what the velocity limit allows over one period
	// (max over joints of |Δq|/(v_max·dt)); ≤ 1 by construction.
	MaxStep float64
	coll    *Collider // nil with collision.off
	// Counts is updated by Filter and Brake callers (the loop).
	Counts Interventions
}

// NewSafety returns a safety layer for a robot commanded every period.
func NewSafety(cfg SafetyConfig, rob *robot.Robot, period float64) (*Safety, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !(period > 0) {
		return nil, fmt.Errorf("safety: period %v s: want > 0", period)
	}
	n := rob.Chain.DOF()
	for j := 0; j < n; j++ {
		if !(rob.Limits.Vel[j] > 0) || !(rob.Limits.Acc[j] > 0) || math.IsInf(rob.Limits.Acc[j], 0) || math.IsInf(rob.Limits.Vel[j], 0) {
			return nil, fmt.Errorf("safety: joint %d has velocity limit %v and acceleration limit %v: want finite > 0", j, rob.Limits.Vel[j], rob.Limits.Acc[j])
		}
	}
	s := &Safety{
		cfg: cfg.WithDefaults(), lim: rob.Limits.Clone(), chain: rob.Chain, period: period,
		prevQ: make([]float64, n), prevQd: make([]float64, n), prevV: make([]float64, n), ramp: make([]bool, n), lead: true,
	}
	if !cfg.Collision.Off {
		var err error
		if s.coll, err = NewCollider(cfg.Collision, rob); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Config returns the configuration in use, defaults applied.
func (s *Safety) Config() SafetyConfig { return s.cfg }

// Reset forgets the last command; the next one starts from the measured
// state given then (position, and velocity within the limits).
func (s *Safety) Reset() { s.has = false }

// SetLead turns the lead bound (SafetyConfig.MaxLeadS) on or off: off while
// the commands do not reach the arm (dry run, disarmed), when the arm does
// not follow them by design.
func (s *Safety) SetLead(on bool) { s.lead = on }

func (s *Safety) seed(measured *ArmState) {
	if s.has {
		return
	}
	copy(s.prevQ, measured.Q)
	copy(s.prevQd, measured.Qd)
	for j := range s.prevQ {
		if !finite(s.prevQ[j]) {
			s.prevQ[j] = 0.5 * (s.lim.Lower[j] + s.lim.Upper[j])
		}
		vm := s.lim.Vel[j]
		if !finite(s.prevQd[j]) {
			s.prevQd[j] = 0
		}
		s.prevQd[j] = math.Max(-vm, math.Min(vm, s.prevQd[j]))
		s.prevV[j] = s.prevQd[j]
		s.ramp[j] = false
	}
	s.has = true
}

// Verdict says what Filter did to a command.
type Verdict uint8

const (
	// Passed: the command was within every limit.
	Passed Verdict = iota
	// Clamped: some joint was clamped to a limit.
	Clamped
	// Braked: the command was replaced by a brake (NaN, lead, workspace or
	// collision).
	Braked
)

// Filter makes cmd safe in place: non-finite values, a command running too
// far ahead of the measured position, a head outside the workspace or a
// colliding pose turn it into a brake; otherwise each joint is clamped to
// its position and velocity limits, its velocity to within one period's
// acceleration of the previous command's, and its position step to the
// velocity limit (a larger jump becomes a ramp, see boundSteps). measured
// seeds the first command after NewSafety or Reset.
func (s *Safety) Filter(cmd *Command, measured *ArmState) Verdict {
	return s.FilterDT(cmd, measured, s.period)
}

// FilterDT is Filter for a command that follows the previous one after dt
// seconds (a loop that skipped deadlines): the velocity may change by the
// acceleration limit times dt, dt clamped to [1, 4] periods.
func (s *Safety) FilterDT(cmd *Command, measured *ArmState, dt float64) Verdict {
	dt = math.Max(s.period, math.Min(4*s.period, dt))
	s.seed(measured)
	for j := range cmd.Q {
		if !finite(cmd.Q[j]) || !finite(cmd.Qd[j]) {
			s.Counts.NaN++
			s.Brake(cmd, measured)
			return Braked
		}
	}
	var pos, vel, acc bool
	for j := range cmd.Q {
		q, qd := cmd.Q[j], cmd.Qd[j]
		lo, hi, vm := s.lim.Lower[j], s.lim.Upper[j], s.lim.Vel[j]
		dmax := s.lim.Acc[j] * dt
		if q < lo || q > hi {
			q, pos = math.Max(lo, math.Min(hi, q)), true
		}
		if math.Abs(qd) > vm {
			qd, vel = math.Max(-vm, math.Min(vm, qd)), true
		}
		if d := qd - s.prevQd[j]; math.Abs(d) > dmax {
			qd, acc = s.prevQd[j]+math.Copysign(dmax, d), true
		}
		cmd.Q[j], cmd.Qd[j] = q, qd
	}
	step := s.boundSteps(cmd, dt)
	// Counted whether or not a brake replaces the command below.
	if pos {
		s.Counts.Position++
	}
	if vel {
		s.Counts.Velocity++
	}
	if acc {
		s.Counts.Accel++
	}
	if step {
		s.Counts.Step++
	}
	s.chain.FK(cmd.Q, &s.pose)
	for k := 0; k < 3; k++ {
		if p := s.pose.P[k]; p < s.cfg.WorkspaceMin[k] || p > s.cfg.WorkspaceMax[k] {
			s.Counts.Workspace++
			s.Brake(cmd, measured)
			return Braked
		}
	}
	if s.coll != nil && s.coll.Check(cmd.Q) {
		s.Counts.Collision++
		s.Brake(cmd, measured)
		return Braked
	}
	if s.lead && s.runsAway(cmd, measured) {
		s.Counts.Lead++
		s.Brake(cmd, measured)
		return Braked
	}
	s.accept(cmd, dt)
	if pos || vel || acc || step {
		return Clamped
	}
	return Passed
}

// boundSteps bounds each joint's position step by the velocity limit: a
// step within v_max·dt passes; a larger one (a jump: a stale plan, a pose
// from before a disarm) is replaced by a ramp whose rate changes by at most
// the acceleration limit × dt from the previous step's and that approaches
// the target at the rate that could still stop on it (v = q̇_cmd ±
// √(a·|e|), half the deceleration in reserve, and no more than the
// remaining gap in one step), so the sequence converges on the controller's
// trajectory without overshooting it by more than v²/2a; the ramp ends
// once a step lies within the acceleration limit again. Steps within the
// velocity limit are not held to the acceleration limit: the MPC shifts its
// decode lead while it estimates the arm's latency, which moves its
// commanded positions by q̇·Δlead in a tick, and its estimator compares the
// arm with its own commands (docs/hardware.md §8). It reports whether any
// joint was clamped.
func (s *Safety) boundSteps(cmd *Command, dt float64) bool {
	clamped := false
	for j := range cmd.Q {
		vm, a := s.lim.Vel[j], s.lim.Acc[j]
		e := cmd.Q[j] - s.prevQ[j]
		const tol = 1e-9
		vlo := math.Max(-vm, s.prevV[j]-a*dt)
		vhi := math.Min(vm, s.prevV[j]+a*dt)
		switch v := e / dt; {
		case !s.ramp[j] && math.Abs(v) <= vm*(1+tol):
			continue
		case s.ramp[j] && v >= vlo-tol && v <= vhi+tol && math.Abs(v-cmd.Qd[j]) <= a*dt:
			// Caught up within the limits, moving as the controller asks.
			s.ramp[j] = false
			continue
		}
		clamped = true
		s.ramp[j] = true
		// e′: the gap left after the target's own motion over dt; close it
		// no faster than one step, or than could still stop on it.
		ep := e - cmd.Qd[j]*dt
		vt := cmd.Qd[j] + math.Copysign(math.Min(math.Sqrt(a*math.Abs(ep)), math.Abs(ep)/dt), ep)
		v := math.Max(vlo, math.Min(vhi, vt))
		q := s.prevQ[j] + v*dt
		cmd.Q[j] = math.Max(s.lim.Lower[j], math.Min(s.lim.Upper[j], q))
	}
	return clamped
}

// runsAway reports whether some joint's command lies further than the lead
// bound from its measured position and further than the previous command
// did (a command coming back toward the arm is let through).
func (s *Safety) runsAway(cmd *Command, measured *ArmState) bool {
	for j := range cmd.Q {
		g := s.cfg.MaxLeadS * s.lim.Vel[j]
		d := math.Abs(cmd.Q[j] - measured.Q[j])
		if d > g && d > math.Abs(s.prevQ[j]-measured.Q[j]) {
			return true
		}
	}
	return false
}

// accept makes cmd the previous command, after dt.
func (s *Safety) accept(cmd *Command, dt float64) {
	for j := range cmd.Q {
		v := (cmd.Q[j] - s.prevQ[j]) / dt
		if r := math.Abs(v) / s.lim.Vel[j]; r > s.MaxStep {
			s.MaxStep = r
		}
		s.prevV[j] = v
	}
	copy(s.prevQ, cmd.Q)
	copy(s.prevQd, cmd.Qd)
}

// Brake writes a braking command into cmd: each joint's commanded velocity,
// and the rate of its position step, move toward zero by at most one
// period's acceleration, and the commanded position follows from the last
// command (clamped to the limits). Held long enough, the arm comes to rest;
// it never asks for more than the limits, except that a braked pose that
// would collide while the last command did not is replaced by that last
// pose at rest: no commanded pose is ever carried into contact.
func (s *Safety) Brake(cmd *Command, measured *ArmState) {
	s.seed(measured)
	dt := s.period
	for j := range cmd.Q {
		dv := s.lim.Acc[j] * dt
		v0 := s.prevV[j]
		v1 := toward0(v0, dv)
		q := s.prevQ[j] + 0.5*(v0+v1)*dt
		if q <= s.lim.Lower[j] || q >= s.lim.Upper[j] {
			q = math.Max(s.lim.Lower[j], math.Min(s.lim.Upper[j], q))
		}
		cmd.Q[j], cmd.Qd[j] = q, toward0(s.prevQd[j], dv)
	}
	if s.coll != nil && s.coll.Check(cmd.Q) && !s.coll.Check(s.prevQ) {
		// Braking would carry the arm on into contact: stop at the last
		// clear pose instead, harder than the acceleration limits allow.
		copy(cmd.Q, s.prevQ)
		clear(cmd.Qd)
	}
	s.accept(cmd, dt)
}

// AtRest reports whether the last command asks for no motion: commanded
// velocities zero and position steps below 1 µrad (µm) per second.
func (s *Safety) AtRest() bool {
	if !s.has {
		return false
	}
	for j := range s.prevV {
		if s.prevQd[j] != 0 || math.Abs(s.prevV[j]) > 1e-6 {
			return false
		}
	}
	return true
}

// toward0 moves v toward zero by at most dv.
func toward0(v, dv float64) float64 {
	switch {
	case v > dv:
		return v - dv
	case v < -dv:
		return v + dv
	}
	return 0
}

// Check reports whether cmd asks for anything outside the joint limits,
// judged as the simulated arm judges a command (sim.World): position,
// velocity, and the velocity change from prevQd over one period. It does not
// change cmd.
func Check(lim robot.Limits, period float64, prevQd []float64, cmd *Command) bool {
	const tol = 1e-9
	for j := range cmd.Q {
		q, qd := cmd.Q[j], cmd.Qd[j]
		if !finite(q) || !finite(qd) {
			return true
		}
		dmax := lim.Acc[j] * period
		if q < lim.Lower[j]-tol || q > lim.Upper[j]+tol || math.Abs(qd) > lim.Vel[j]+tol || math.Abs(qd-prevQd[j]) > dmax*(1+1e-6)+tol {
			return true
		}
	}
	return false
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
