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
	BadStates   uint64 `json:"bad_joint_states"` // joint-state messages rejected (missing joints, NaN, wrong lengths)
}

// Total is the number of interventions of all kinds.
func (i Interventions) Total() uint64 {
	return i.NaN + i.Position + i.Velocity + i.Accel + i.Workspace + i.Collision + i.StaleJoints + i.BallLost + i.EStop + i.CtrlErrors + i.BadStates
}

// Safety sits between every controller and the arm: it clamps commands to
// the joint position, velocity and acceleration limits, keeps the head in a
// workspace box, brakes instead of a command whose pose would collide
// (Collider), replaces non-finite commands, and brakes (decelerates the
// last command within the acceleration limits) when asked. It remembers the
// last command it let through, so consecutive commands never ask for more
// than the acceleration limit over one period. Used by the loop goroutine
// only; nothing allocates after NewSafety.
type Safety struct {
	cfg    SafetyConfig
	lim    robot.Limits
	chain  *robot.Chain
	period float64

	prevQ, prevQd []float64
	has           bool
	pose          robot.Pose
	coll          *Collider // nil with collision.off
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
		if !(rob.Limits.Vel[j] > 0) || !(rob.Limits.Acc[j] > 0) || math.IsInf(rob.Limits.Acc[j], 0) {
			return nil, fmt.Errorf("safety: joint %d has velocity limit %v and acceleration limit %v: want finite > 0", j, rob.Limits.Vel[j], rob.Limits.Acc[j])
		}
	}
	s := &Safety{
		cfg: cfg.WithDefaults(), lim: rob.Limits.Clone(), chain: rob.Chain, period: period,
		prevQ: make([]float64, n), prevQd: make([]float64, n),
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

// Reset forgets the last command; the next one is checked against the
// measured state given then.
func (s *Safety) Reset() { s.has = false }

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
		if !finite(s.prevQd[j]) {
			s.prevQd[j] = 0
		}
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
	// Braked: the command was replaced by a brake (NaN, workspace or
	// collision).
	Braked
)

// Filter makes cmd safe in place: non-finite values, a head outside the
// workspace or a colliding pose turn it into a brake; otherwise each joint is clamped to its
// position and velocity limits, and its velocity to within one period's
// acceleration of the previous command's. measured seeds the first command.
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
	if pos {
		s.Counts.Position++
	}
	if vel {
		s.Counts.Velocity++
	}
	if acc {
		s.Counts.Accel++
	}
	copy(s.prevQ, cmd.Q)
	copy(s.prevQd, cmd.Qd)
	if pos || vel || acc {
		return Clamped
	}
	return Passed
}

// Brake writes a braking command into cmd: each joint's commanded velocity
// moves toward zero by at most one period's acceleration, and the commanded
// position follows it from the last command (clamped to the limits). Held
// long enough, the arm comes to rest; it never asks for more than the limits.
func (s *Safety) Brake(cmd *Command, measured *ArmState) {
	s.seed(measured)
	dt := s.period
	for j := range cmd.Q {
		v0 := s.prevQd[j]
		dv := s.lim.Acc[j] * dt
		v1 := 0.0
		if v0 > dv {
			v1 = v0 - dv
		} else if v0 < -dv {
			v1 = v0 + dv
		}
		q := s.prevQ[j] + 0.5*(v0+v1)*dt
		if q <= s.lim.Lower[j] || q >= s.lim.Upper[j] {
			q = math.Max(s.lim.Lower[j], math.Min(s.lim.Upper[j], q))
		}
		cmd.Q[j], cmd.Qd[j] = q, v1
		s.prevQ[j], s.prevQd[j] = q, v1
	}
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
