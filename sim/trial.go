package sim

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/control"
	"github.com/agilecatch/catch/internal/cputime"
	"github.com/agilecatch/catch/perception"
	"github.com/agilecatch/catch/robot"
)

// PhysicsStep is the world's integration step, s.
const PhysicsStep = 1e-3

// Config configures the simulated world. The zero value means the defaults
// on each field.
type Config struct {
	// ControlRateHz is the controller's tick rate; default 250 (ABB EGM).
	// It must divide the 1 kHz physics rate.
	ControlRateHz float64 `yaml:"control_rate_hz"`
	// MaxTimeS ends a trial this long after release; default 2.
	MaxTimeS float64 `yaml:"max_time_s"`
	// ReadyQ is the arm's pose at release (the chain's DOF values); default
	// DefaultReadyQ.
	ReadyQ    []float64                  `yaml:"ready_q"`
	Arm       ArmConfig                  `yaml:"arm"`
	Pocket    PocketConfig               `yaml:"pocket"`
	Estimator perception.EstimatorConfig `yaml:"estimator"`
	Reach     ReachConfig                `yaml:"reach"`
	// Safety is the safety filter every command passes, the one the
	// controller node runs (control.Safety); the zero value means its
	// defaults.
	Safety control.SafetyConfig `yaml:"safety"`
}

// DefaultReadyQ is the shipped robot's ready pose: rail centred, upper arm
// upright, wrist bent so the stick hangs forward-down and the pocket centre
// sits at about (0.45, 0, 1.25) m with the net facing the thrower and
// tilted up 39° (the incoming direction of a nominal throw).
var DefaultReadyQ = []float64{0, 0, -0.11, -0.13, 0, 1.13, math.Pi / 2}

func (c *Config) setDefaults(dof int) {
	if c.ControlRateHz == 0 {
		c.ControlRateHz = 250
	}
	if c.MaxTimeS == 0 {
		c.MaxTimeS = 2
	}
	if c.ReadyQ == nil && dof == len(DefaultReadyQ) {
		c.ReadyQ = append([]float64(nil), DefaultReadyQ...)
	}
	c.Arm.setDefaults()
	c.Pocket.setDefaults()
	c.Reach.setDefaults()
}

// WithDefaults returns c with the defaults filled in for a chain of dof
// joints, as NewWorld fills them (for callers that build a Physics
// themselves, such as the ROS simarm node).
func (c Config) WithDefaults(dof int) Config {
	c.setDefaults(dof)
	return c
}

// Check validates c with its defaults filled in for rob, as NewWorld will,
// so a command can reject a bad configuration before any trial runs.
func (c Config) Check(rob *robot.Robot) error {
	c.setDefaults(rob.Chain.DOF())
	return c.Validate(rob.Limits)
}

// Validate reports the first bad field for a chain with dof joints.
func (c Config) Validate(lim robot.Limits) error {
	steps := 1 / (c.ControlRateHz * PhysicsStep)
	if !(c.ControlRateHz >= 10 && c.ControlRateHz <= 1000) || math.Abs(steps-math.Round(steps)) > 1e-9 {
		return fmt.Errorf("control_rate_hz: %v, want a divisor of 1000 in [10, 1000]", c.ControlRateHz)
	}
	if !(c.MaxTimeS > 0.2 && c.MaxTimeS <= 20) {
		return fmt.Errorf("max_time_s: %v, want (0.2, 20]", c.MaxTimeS)
	}
	if len(c.ReadyQ) != len(lim.Lower) {
		return fmt.Errorf("ready_q: %d values, want one per joint (%d)", len(c.ReadyQ), len(lim.Lower))
	}
	for i, q := range c.ReadyQ {
		if !(q >= lim.Lower[i] && q <= lim.Upper[i]) {
			return fmt.Errorf("ready_q[%d]: %v outside the joint limits [%v, %v]", i, q, lim.Lower[i], lim.Upper[i])
		}
	}
	if err := c.Arm.Validate(); err != nil {
		return err
	}
	if err := c.Pocket.Validate(); err != nil {
		return err
	}
	if err := c.Estimator.Validate(); err != nil {
		return fmt.Errorf("estimator: %w", err)
	}
	return c.Reach.Validate()
}

// Observer turns the true ball position at a camera frame into a 3D
// observation. The default (state fidelity) adds the scenario's Gaussian
// noise and dropouts; camera fidelity renders frames and runs the real
// detector and triangulation (perception/vision), wired in by the caller so
// that this package stays free of cgo. An Observer belongs to one World.
type Observer interface {
	// StartThrow is called before each trial.
	StartThrow(th *Throw, rng *rand.Rand) error
	// Observe returns the observed position for the frame at time t, or
	// ok = false when the frame yields none (dropout, not detected).
	Observe(t float64, truth ball.Vec, rng *rand.Rand) (p ball.Vec, ok bool)
}

// TimedPoint is an observation of the ball at time T, s.
type TimedPoint struct {
	T float64
	P ball.Vec
}

// LateObserver is an Observer that may accept, at a frame, observations of
// earlier frames it could not vouch for then: a camera tracker confirms a
// flight once its third frame arrives and only then accepts the first two.
// The trial calls Late after every Observe; it appends those earlier
// observations, oldest first, to dst. They reach the estimator with the
// frame's own latency, in time order, as they do on the robot.
type LateObserver interface {
	Late(dst []TimedPoint) []TimedPoint
}

// Forecaster supplies sampled future ball positions to the controller
// (control.Input.Forecast), which the MPC's robust mode uses to choose its
// catch time. Package forecast implements it; the caller wires it in,
// because forecast imports sim for its training data. A Forecaster belongs
// to one World.
type Forecaster interface {
	// StartThrow is called before each trial.
	StartThrow(th *Throw) error
	// Observe receives every observation handed to the estimator.
	Observe(t float64, p ball.Vec)
	// Forecast writes samples for the estimate at now into dst, or returns
	// false when there is no forecast yet.
	Forecast(now float64, est *ball.Estimate, dst *control.Forecast) bool
}

// stateObserver is state fidelity: truth plus Gaussian noise, with dropouts.
type stateObserver struct{ obs Observation }

func (s *stateObserver) StartThrow(th *Throw, _ *rand.Rand) error { s.obs = th.Obs; return nil }

func (s *stateObserver) Observe(_ float64, p ball.Vec, rng *rand.Rand) (ball.Vec, bool) {
	if s.obs.Dropout > 0 && rng.Float64() < s.obs.Dropout {
		return ball.Vec{}, false
	}
	n := s.obs.NoiseM
	return ball.Vec{p[0] + n*rng.NormFloat64(), p[1] + n*rng.NormFloat64(), p[2] + n*rng.NormFloat64()}, true
}

// TrialResult is the outcome of one trial; it is also the trial log line.
type TrialResult struct {
	Index    int    `json:"trial"`
	Scenario string `json:"scenario"`
	// Throw parameters
	Release         ball.State `json:"release"`
	YawDeg          float64    `json:"yaw_deg"`
	HorizontalSpeed float64    `json:"horizontal_speed_mps"`
	Arrives         bool       `json:"arrives"`       // the ball reaches the rail plane x = 0 in the air
	FlightTimeS     float64    `json:"flight_time_s"` // release → crossing x = 0
	ArrivalSpeed    float64    `json:"arrival_speed_mps"`
	ArrivalY        float64    `json:"arrival_y_m"`
	ArrivalZ        float64    `json:"arrival_z_m"`
	// Outcome
	Catchable     bool    `json:"catchable"`
	Caught        bool    `json:"caught"`
	CatchTimeS    float64 `json:"catch_time_s,omitempty"`
	Side          string  `json:"side,omitempty"` // left/right of the rail carriage at the catch
	MissDistanceM float64 `json:"miss_distance_m"`
	// AlignCos is the cosine between the net normal and the direction the
	// ball comes from, at the closest approach (1 = facing the ball).
	AlignCos float64 `json:"align_cos"`
	// InPocketS is how long the ball was inside the pocket in all; SlowInPocketS
	// how long of that it moved slower than 0.2 m/s relative to the head.
	InPocketS     float64 `json:"in_pocket_s"`
	SlowInPocketS float64 `json:"slow_in_pocket_s"`
	// LimitViolations counts commands outside the joint position, velocity
	// or acceleration limits, non-finite, or braked by the workspace box or
	// the lead bound (control.Safety; the filter fixed each).
	LimitViolations int `json:"limit_violations"`
	// StepClamps counts commands whose position step the safety filter
	// had to bound (a jump in the commanded position sequence).
	StepClamps int `json:"step_clamps"`
	// MaxStepRatio is the largest commanded position step of the trial as
	// a fraction of what the velocity limit allows in one period (≤ 1).
	MaxStepRatio float64 `json:"max_step_ratio"`
	// CommandCollisions counts the controller's commands whose pose
	// brought the URDF's collision capsules within the safety layer's
	// margin of the floor, the rail or each other (control.Collider); the
	// safety filter replaced each by a brake, as on the robot.
	CommandCollisions int `json:"command_collisions"`
	// SentCollisions counts the commands sent to the arm (after the safety
	// filter) whose pose still collides in the same sense: a brake that
	// carried the arm on into contact. The acceptance bar is zero.
	SentCollisions int `json:"sent_collisions"`
	// SkippedTicks counts control ticks skipped because the controller's
	// modelled compute time (ComputeModelled) overran them.
	SkippedTicks int    `json:"skipped_ticks,omitempty"`
	ArmGuarded   int    `json:"arm_guarded_steps"`
	RimHits      int    `json:"rim_hits"`
	PocketExits  int    `json:"pocket_exits"`
	Steps        int    `json:"controller_steps"`
	Error        string `json:"error,omitempty"`
	// Failure is FailureReason() once the trial is over ("" when caught).
	Failure string `json:"failure,omitempty"`
	// Engine names the physics engine (Engine.Name); PhysicsError is set
	// when the engine's physics misbehaved in the trial (e.g. went
	// unstable), whose outcome then says nothing about the controller.
	Engine       string `json:"engine"`
	PhysicsError string `json:"physics_error,omitempty"`
	// ArmHits counts the physics steps with the ball touching the arm or
	// the rail (engines with arm collision geometry).
	ArmHits int `json:"ball_arm_hits,omitempty"`
	// Collisions counts the physics steps with the arm touching itself,
	// the rail or the floor, and TorqueSaturated those with a joint servo
	// at its torque limit (engines with dynamics); both add to
	// LimitViolations.
	Collisions      int `json:"collision_steps,omitempty"`
	TorqueSaturated int `json:"torque_saturated_steps,omitempty"`
	// FirstCollision and SaturatedJoint name the first colliding pair of
	// geoms and the most saturated joint (sim.Counters).
	FirstCollision string `json:"first_collision,omitempty"`
	SaturatedJoint string `json:"saturated_joint,omitempty"`
	// ViolationKinds breaks LimitViolations down by cause.
	ViolationKinds ViolationKinds `json:"violations_by_kind"`
}

// ViolationKinds breaks limit violations down by cause (docs/limits.md says
// what each count means). LimitViolations = Commands + EnginePeriods.
//
// Commands are the controller's commands outside a limit: in World.Trial
// the safety filter (control.Safety) fixed each before the arm got it, and
// Position … Lead say which limit it broke (a command may break several);
// the ROS simarm counts them on receipt (it sees commands after the
// controller node's filter, so there any is a fault of that node).
//
// EnginePeriods are the control periods in which the engine's arm hit a
// physical limit while following filtered commands: a servo at its torque
// limit (TorqueSaturated, physics steps per joint) or the arm touching
// itself, the rail or the floor (…Collision, physics steps). Only engines
// with dynamics (MuJoCo) have them.
type ViolationKinds struct {
	Commands  int `json:"commands"`
	Position  int `json:"filter_position,omitempty"`
	Velocity  int `json:"filter_velocity,omitempty"`
	Accel     int `json:"filter_acceleration,omitempty"`
	Workspace int `json:"filter_workspace,omitempty"`
	Lead      int `json:"filter_lead,omitempty"`
	NaN       int `json:"filter_nan,omitempty"`

	EnginePeriods   int            `json:"engine_periods"`
	TorqueSaturated map[string]int `json:"torque_saturated_steps,omitempty"`
	// SaturatedSteps counts the physics steps with any servo at its
	// torque limit (TrialResult.TorqueSaturated).
	SaturatedSteps int `json:"saturated_steps,omitempty"`
	// InfeasibleCommands and SaturatedAfterInfeasible explain torque
	// saturation (sim.Counters): commands beyond the acceleration limit
	// that reached the arm (the safety filter's hard stops), and the
	// torque-saturated steps (any joint) within 10 control periods after
	// one.
	InfeasibleCommands       int `json:"infeasible_commands,omitempty"`
	SaturatedAfterInfeasible int `json:"saturated_after_infeasible_steps,omitempty"`
	// SaturatedByBall: the torque-saturated steps while the ball touched
	// the robot or within 10 control periods after (its impact).
	SaturatedByBall int `json:"saturated_by_ball_steps,omitempty"`
	// SaturatedOther: the torque-saturated steps near neither a hard stop
	// nor the ball (tracking: the servo catching up with its command).
	SaturatedOther int `json:"saturated_other_steps,omitempty"`
	SelfCollision  int `json:"self_collision_steps,omitempty"`
	RailCollision  int `json:"rail_collision_steps,omitempty"`
	FloorCollision int `json:"floor_collision_steps,omitempty"`
}

// Add adds o's counts to v.
func (v *ViolationKinds) Add(o *ViolationKinds) {
	v.Commands += o.Commands
	v.Position += o.Position
	v.Velocity += o.Velocity
	v.Accel += o.Accel
	v.Workspace += o.Workspace
	v.Lead += o.Lead
	v.NaN += o.NaN
	v.EnginePeriods += o.EnginePeriods
	v.InfeasibleCommands += o.InfeasibleCommands
	v.SaturatedSteps += o.SaturatedSteps
	v.SaturatedByBall += o.SaturatedByBall
	v.SaturatedOther += o.SaturatedOther
	v.SaturatedAfterInfeasible += o.SaturatedAfterInfeasible
	for j, n := range o.TorqueSaturated {
		if v.TorqueSaturated == nil {
			v.TorqueSaturated = map[string]int{}
		}
		v.TorqueSaturated[j] += n
	}
	v.SelfCollision += o.SelfCollision
	v.RailCollision += o.RailCollision
	v.FloorCollision += o.FloorCollision
}

// Total is Commands + EnginePeriods, a trial's LimitViolations.
func (v *ViolationKinds) Total() int { return v.Commands + v.EnginePeriods }

// Failure reasons (TrialResult.FailureReason), in the order they are
// tested.
const (
	FailPhysics         = "physics_unstable" // the engine's physics misbehaved (Counters.Warning)
	FailControllerError = "controller_error" // the controller returned an error (no safe command)
	FailUncatchable     = "uncatchable"      // no configuration of the robot meets the throw
	FailDropped         = "dropped"          // the ball came to rest in the pocket (cradled), then left it
	FailBouncedOut      = "bounced_out"      // the ball got into the pocket and left it before it came to rest
	FailHitArm          = "hit_arm"          // hit the arm or the rail, never in the pocket
	FailRim             = "rim"              // hit the rim or frame, never in the pocket
	FailMissed          = "missed"           // the head never came within MissRadiusM of the ball
	FailNotHeld         = "not_held"         // the head came close, but the ball never entered the pocket
)

// MissRadiusM separates a miss (the head was elsewhere) from a near thing
// (the head was at the ball but not facing it): the pocket's larger
// semi-axis plus a ball radius, rounded up.
const MissRadiusM = 0.16

// FailureReason classifies a finished trial; "" when the ball was caught.
func (r *TrialResult) FailureReason() string {
	switch {
	case r.Caught:
		return ""
	case r.PhysicsError != "":
		return FailPhysics
	case r.Error != "":
		return FailControllerError
	case !r.Catchable:
		return FailUncatchable
	case r.InPocketS > 0 && r.SlowInPocketS >= cradleS:
		return FailDropped
	case r.InPocketS > 0:
		return FailBouncedOut
	case r.ArmHits > 0:
		return FailHitArm
	case r.RimHits > 0:
		return FailRim
	case r.MissDistanceM > MissRadiusM:
		return FailMissed
	}
	return FailNotHeld
}

// World is one worker's simulated world: robot, arm, pocket, estimator and
// scratch buffers, reused across trials. Not safe for concurrent use.
type World struct {
	cfg    Config
	rob    *robot.Robot
	engine string
	phys   Physics
	est    *perception.Estimator
	reach  *Reach
	props  ball.Props

	lim      robot.Limits
	in       control.Input
	cmd      control.Command
	safety   *control.Safety
	coll     *control.Collider // judges the sent commands (SentCollisions)
	obs      []pendingObs
	late     []TimedPoint
	observer Observer
	fc       Forecaster
	fcBuf    control.Forecast
	pose     robot.Pose
	tracer   Tracer
	tick     Tick
	planQ    []float64
	planHead [][3]float64
	// StepMS collects the controller's compute time per step, ms: the CPU
	// time of the stepping thread (see internal/cputime), so a loaded machine does
	// not inflate it. A controller that plans in other goroutines (async
	// mode) is charged only for the time of Step itself.
	StepMS []float64
}

type pendingObs struct {
	t, avail float64
	p        ball.Vec
}

// addObs inserts o into the pending observations in time order.
func (w *World) addObs(o pendingObs) {
	k := len(w.obs)
	for k > 0 && w.obs[k-1].t > o.t {
		k--
	}
	w.obs = slices.Insert(w.obs, k, o)
}

// NewWorld builds a world with the kinematic engine for throws of the given
// scenario.
func NewWorld(cfg Config, rob *robot.Robot, sc *Scenario) (*World, error) {
	return NewWorldEngine(cfg, rob, sc, Kinematic)
}

// NewWorldEngine builds a world whose arm, ball and net are simulated by
// eng (nil means Kinematic).
func NewWorldEngine(cfg Config, rob *robot.Robot, sc *Scenario, eng Engine) (*World, error) {
	n := rob.Chain.DOF()
	cfg.setDefaults(n)
	if err := cfg.Validate(rob.Limits); err != nil {
		return nil, err
	}
	eng, err := checkEngine(eng)
	if err != nil {
		return nil, err
	}
	props := sc.BallProps()
	lim := rob.Limits
	est, err := perception.NewEstimator(cfg.Estimator, props)
	if err != nil {
		return nil, fmt.Errorf("estimator: %w", err)
	}
	reach, err := NewReach(cfg.Reach, rob, cfg.ReadyQ)
	if err != nil {
		return nil, err
	}
	safety, err := control.NewSafety(cfg.Safety, rob, 1/cfg.ControlRateHz)
	if err != nil {
		return nil, err
	}
	coll, err := control.NewCollider(cfg.Safety.Collision, rob)
	if err != nil {
		return nil, err
	}
	phys, err := eng.NewPhysics(cfg, rob, sc)
	if err != nil {
		return nil, fmt.Errorf("%s engine: %w", eng.Name(), err)
	}
	w := &World{
		cfg: cfg, rob: rob, engine: eng.Name(), phys: phys, est: est, reach: reach, props: props,
		lim: lim, safety: safety, coll: coll, cmd: control.NewCommand(n),
		obs: make([]pendingObs, 0, 256),
	}
	w.in.Arm = control.ArmState{Q: make([]float64, n), Qd: make([]float64, n)}
	w.observer = &stateObserver{}
	return w, nil
}

// Engine returns the name of the world's engine.
func (w *World) Engine() string { return w.engine }

// SetObserver replaces the state-fidelity observer (e.g. with camera
// fidelity).
func (w *World) SetObserver(o Observer) { w.observer = o }

// SetForecaster gives the controller forecast samples from f, written into
// buf (from forecast.NewBuffer) after every new observation.
func (w *World) SetForecaster(f Forecaster, buf control.Forecast) {
	w.fc, w.fcBuf = f, buf
}

// Close releases the engine's resources and the observer's and
// forecaster's when they have any (an Observer may implement io.Closer,
// e.g. to free OpenCV images).
func (w *World) Close() error {
	err := w.phys.Close()
	if c, ok := w.observer.(io.Closer); ok {
		if e := c.Close(); e != nil && err == nil {
			err = e
		}
	}
	if c, ok := w.fc.(io.Closer); ok {
		if e := c.Close(); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// Reach returns the world's reachability checker.
func (w *World) Reach() *Reach { return w.reach }

// Trial runs one throw against ctrl. rng supplies observation noise and
// dropouts. The result's throw fields must already be filled by the caller
// (see Describe); Trial fills the outcome.
func (w *World) Trial(th *Throw, ctrl control.Controller, rng *rand.Rand, res *TrialResult) error {
	res.Engine = w.engine
	if err := w.phys.Reset(th, w.cfg.ReadyQ); err != nil {
		return fmt.Errorf("%s engine: %w", w.engine, err)
	}
	w.est.Reset()
	w.obs = w.obs[:0]
	armQ, armQd := w.phys.Joints()
	copy(w.in.Arm.Q, armQ)
	copy(w.in.Arm.Qd, armQd)
	if err := ctrl.Reset(w.in.Arm); err != nil {
		return fmt.Errorf("controller reset: %w", err)
	}
	w.safety.Reset()
	w.safety.MaxStep = 0
	if err := w.observer.StartThrow(th, rng); err != nil {
		return fmt.Errorf("observer: %w", err)
	}
	w.in.Forecast = nil
	if w.fc != nil {
		if err := w.fc.StartThrow(th); err != nil {
			return fmt.Errorf("forecaster: %w", err)
		}
	}
	props := th.Ball
	w.in.Props = &props

	b := th.Init
	dt := PhysicsStep
	ctlEvery := int(math.Round(1 / (w.cfg.ControlRateHz * dt)))
	camEvery := int(math.Max(1, math.Round(1/(th.Obs.RateHz*dt))))
	camPhase := rng.IntN(camEvery)
	obsLat := th.Obs.LatencyMS / 1000
	period := 1 / w.cfg.ControlRateHz
	steps := int(math.Ceil(w.cfg.MaxTimeS / dt))
	res.MissDistanceM = math.Inf(1)
	var head HeadMotion
	w.phys.Head(&head)
	// A controller with a compute model holds the loop for its modelled
	// step time: its command acts that much later, and ticks that fall
	// within the step are skipped, as on a loop that overran.
	cm, _ := ctrl.(ComputeModelled)
	busyUntil, lastCmd := 0.0, -period
	if w.tracer != nil {
		if err := w.tracer.Begin(th, res); err != nil {
			return fmt.Errorf("trace: %w", err)
		}
	}

	for i := 0; i < steps; i++ {
		t := float64(i) * dt
		// Camera frame at t: the true ball position plus noise, delivered
		// after the observation latency.
		if (i-camPhase)%camEvery == 0 && i >= camPhase && b.P[2] > 0 {
			p, ok := w.observer.Observe(t, b.P, rng)
			if lo, isLate := w.observer.(LateObserver); isLate {
				w.late = lo.Late(w.late[:0])
				for _, q := range w.late {
					w.addObs(pendingObs{t: q.T, avail: t + obsLat, p: q.P})
				}
			}
			if ok {
				w.obs = append(w.obs, pendingObs{t: t, avail: t + obsLat, p: p})
			}
		}
		if i%ctlEvery == 0 && t < busyUntil-1e-9 {
			res.SkippedTicks++
		} else if i%ctlEvery == 0 {
			k := 0
			for k < len(w.obs) && w.obs[k].avail <= t+1e-12 {
				w.est.Observe(w.obs[k].t, w.obs[k].p)
				if w.fc != nil {
					w.fc.Observe(w.obs[k].t, w.obs[k].p)
				}
				k++
			}
			if k > 0 {
				w.obs = append(w.obs[:0], w.obs[k:]...)
			}
			w.est.Estimate(t, &w.in.Ball)
			if w.fc != nil && k > 0 {
				w.in.Forecast = nil
				if w.in.Ball.Valid && w.fc.Forecast(t, &w.in.Ball, &w.fcBuf) {
					w.in.Forecast = &w.fcBuf
				}
			}
			armQ, armQd := w.phys.Joints()
			copy(w.in.Arm.Q, armQ)
			copy(w.in.Arm.Qd, armQd)
			w.in.Now = time.Duration(t * float64(time.Second))
			w.in.Deadline = time.Duration((t + period) * float64(time.Second))
			start := cputime.Thread()
			st, err := ctrl.Step(&w.in, &w.cmd)
			ms := float64(cputime.Thread()-start) / 1e6
			w.StepMS = append(w.StepMS, ms)
			res.Steps++
			if err != nil {
				// No safe command: brake to a hold.
				res.Error = err.Error()
				w.safety.Brake(&w.cmd, &w.in.Arm)
			}
			charge := 0.0
			if cm != nil {
				charge = cm.ModelledCompute().Seconds()
				busyUntil = t + charge
			}
			c0 := w.safety.Counts
			clamped := err == nil && w.safety.FilterDT(&w.cmd, &w.in.Arm, t-lastCmd) != control.Passed
			lastCmd = t
			if c := &w.safety.Counts; c.NaN+c.Position+c.Velocity+c.Accel+c.Workspace+c.Lead > c0.NaN+c0.Position+c0.Velocity+c0.Accel+c0.Workspace+c0.Lead {
				res.LimitViolations++
				v := &res.ViolationKinds
				v.Commands++
				v.Position += int(c.Position - c0.Position)
				v.Velocity += int(c.Velocity - c0.Velocity)
				v.Accel += int(c.Accel - c0.Accel)
				v.Workspace += int(c.Workspace - c0.Workspace)
				v.Lead += int(c.Lead - c0.Lead)
				v.NaN += int(c.NaN - c0.NaN)
			}
			if w.safety.Counts.Step > c0.Step {
				res.StepClamps++
			}
			if w.safety.Counts.Collision > c0.Collision {
				res.CommandCollisions++
			}
			if !w.cfg.Safety.Collision.Off && w.coll.Check(w.cmd.Q) {
				res.SentCollisions++
			}
			if w.tracer != nil {
				w.traceTick(t, &head, &b, ctrl, st, ms, clamped, err, res, k)
			}
			w.phys.Command(t+charge, w.cmd.Q, w.cmd.Qd)
		}
		w.phys.Step(t)
		b = w.phys.Ball()
		w.phys.Head(&head)
		armQ, _ := w.phys.Joints()
		if res.Record(dt, &head, &b, w.phys, armQ[0]) {
			break
		}
		if !w.phys.Inside() && (b.P[2] < 0 || b.P[0] < -1.5) {
			break
		}
	}
	var c Counters
	w.phys.Counters(&c)
	res.AddCounters(&c)
	res.MaxStepRatio = w.safety.MaxStep
	if w.tracer != nil {
		res.Failure = res.FailureReason()
		if err := w.tracer.End(res); err != nil {
			return fmt.Errorf("trace: %w", err)
		}
	}
	return nil
}

// traceTick hands the tick's state to the tracer.
func (w *World) traceTick(t float64, head *HeadMotion, b *ball.State, ctrl control.Controller, st control.Status,
	ms float64, clamped bool, err error, res *TrialResult, nObs int) {
	tk := &w.tick
	var c Counters
	w.phys.Counters(&c)
	_, caught := w.phys.CatchTime()
	*tk = Tick{T: t, Q: w.in.Arm.Q, Qd: w.in.Arm.Qd, CmdQ: w.cmd.Q, CmdQd: w.cmd.Qd, Head: head, Ball: b,
		Est: &w.in.Ball, Forecast: w.in.Forecast, Status: st, ComputeMS: ms, Clamped: clamped, Guarded: c.Guarded,
		InPocket: w.phys.Inside(), RimHits: c.RimHits, Exits: c.Exits, Caught: caught,
		MissDistanceM: res.MissDistanceM, ObservationsNew: nObs}
	if err != nil {
		tk.Err = err.Error()
	}
	if pr, ok := ctrl.(control.PlanReporter); ok {
		n := w.rob.Chain.DOF()
		if w.planQ == nil {
			w.planQ = make([]float64, 16*n)
		}
		k := pr.PlanKnots(w.planQ)
		w.planHead = w.planHead[:0]
		for i := 0; i < k; i++ {
			w.rob.Chain.FK(w.planQ[i*n:(i+1)*n], &w.pose)
			w.planHead = append(w.planHead, w.pose.P)
		}
		tk.PlanHead = w.planHead
	}
	w.tracer.Tick(tk)
}

// AddCounters copies an engine's counters of the finished trial into res
// and adds its limit violations. World.Trial and the ROS simarm node share
// it.
func (res *TrialResult) AddCounters(c *Counters) {
	res.ArmGuarded, res.RimHits, res.PocketExits, res.ArmHits = c.Guarded, c.RimHits, c.Exits, c.ArmHits
	res.Collisions, res.TorqueSaturated = c.Collisions, c.TorqueSaturated
	res.FirstCollision, res.SaturatedJoint = c.FirstCollision, c.SaturatedJoint
	res.LimitViolations += c.Violations
	res.PhysicsError = c.Warning
	v := &res.ViolationKinds
	v.EnginePeriods += c.Violations
	v.InfeasibleCommands += c.InfeasibleCommands
	v.SaturatedSteps += c.TorqueSaturated
	v.SaturatedByBall += c.SaturatedByBall
	v.SaturatedOther += c.SaturatedOther
	v.SaturatedAfterInfeasible += c.SaturatedAfterInfeasible
	v.SelfCollision += c.SelfCollisions
	v.RailCollision += c.RailCollisions
	v.FloorCollision += c.FloorCollisions
	for j, n := range c.SaturatedSteps {
		if n == 0 {
			continue
		}
		if v.TorqueSaturated == nil {
			v.TorqueSaturated = map[string]int{}
		}
		name := fmt.Sprintf("joint %d", j)
		if j < len(c.JointNames) {
			name = c.JointNames[j]
		}
		v.TorqueSaturated[name] += n
	}
}

// ComputeModelled is implemented by a controller that reports a modelled
// compute time for each step (mpc.Controller with a compute model). The
// world charges it: the step's command acts that much after the tick, and
// the ticks the step overran are skipped (TrialResult.SkippedTicks). The
// model keeps the charge deterministic for a seed.
type ComputeModelled interface {
	ModelledCompute() time.Duration
}

// HeadMotionAt fills h with the chain tip's pose and velocity at joint
// positions q and velocities qd; pose and jac (6·DOF) are caller-owned
// scratch, so it allocates nothing.
func HeadMotionAt(c *robot.Chain, q, qd []float64, pose *robot.Pose, jac []float64, h *HeadMotion) {
	c.FKJacobian(q, pose, jac)
	h.O, h.R = pose.P, pose.R
	n := len(q)
	for r := 0; r < 3; r++ {
		var v, om float64
		for j := 0; j < n; j++ {
			v += jac[r*n+j] * qd[j]
			om += jac[(r+3)*n+j] * qd[j]
		}
		h.V[r], h.W[r] = v, om
	}
}

// Record updates the outcome of a trial after a physics step of dt, once
// the pocket has interacted with the ball: closest approach and the net's
// alignment there, time in the pocket (and at rest in it), and the catch
// with its side relative to the rail carriage at rail position rail. It
// reports whether the ball is caught. World.Trial and the ROS simarm node
// share it, so both judge alike.
func (res *TrialResult) Record(dt float64, head *HeadMotion, b *ball.State, p Judge, rail float64) bool {
	if d := dist(b.P, head.O); d < res.MissDistanceM {
		res.MissDistanceM = d
		if sp := math.Sqrt(b.V[0]*b.V[0] + b.V[1]*b.V[1] + b.V[2]*b.V[2]); sp > 1e-9 {
			// net normal is the head's local y axis (column 1)
			res.AlignCos = -(head.R[0][1]*b.V[0] + head.R[1][1]*b.V[1] + head.R[2][1]*b.V[2]) / sp
		}
	}
	if p.Inside() {
		res.InPocketS += dt
		if _, rv := head.relative(b); rv[0]*rv[0]+rv[1]*rv[1]+rv[2]*rv[2] < 0.04 {
			res.SlowInPocketS += dt
		}
	}
	at, caught := p.CatchTime()
	if !caught {
		return false
	}
	res.Caught = true
	res.CatchTimeS = at
	if head.O[1]-rail >= 0 {
		res.Side = "left"
	} else {
		res.Side = "right"
	}
	return true
}

func dist(a, b ball.Vec) float64 {
	return math.Sqrt((a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2]))
}

// Describe fills the throw fields of res from th.
func Describe(th *Throw, res *TrialResult) {
	res.Scenario = th.Scenario
	res.Release = th.Init
	res.YawDeg = th.YawDeg
	res.HorizontalSpeed = math.Hypot(th.Init.V[0], th.Init.V[1])
	st := th.Init
	const dt = 1e-3
	var t float64
	for t < 5 {
		prev := st
		th.Ball.Step(&st, dt)
		t += dt
		if st.P[0] <= 0 && prev.P[0] > 0 {
			f := prev.P[0] / (prev.P[0] - st.P[0])
			res.FlightTimeS = t - dt + f*dt
			for k := 0; k < 3; k++ {
				st.P[k] = prev.P[k] + f*(st.P[k]-prev.P[k])
				st.V[k] = prev.V[k] + f*(st.V[k]-prev.V[k])
			}
			res.ArrivalY, res.ArrivalZ = st.P[1], st.P[2]
			res.ArrivalSpeed = math.Sqrt(st.V[0]*st.V[0] + st.V[1]*st.V[1] + st.V[2]*st.V[2])
			res.Arrives = true
			return
		}
		if st.P[2] < 0 {
			break
		}
	}
	res.Arrives = false
}
