package sim

import (
	"fmt"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/robot"
)

// Engine builds the moving part of a world (Physics): the arm under its
// joint servo, the ball in flight and the lacrosse head's net. Everything
// around it — throws, observations, estimator, controller, command limits,
// the catch judge's bookkeeping — is shared by World.Trial, so two engines
// differ only in the physics that decides a catch.
//
// Kinematic (the default) is this package's own world; sim/mujoco is the
// MuJoCo engine. An Engine is a value safe for concurrent use; each World
// gets its own Physics.
type Engine interface {
	// Name is the engine's name in results ("kinematic", "mujoco").
	Name() string
	// NewPhysics builds the physics for throws of sc. cfg has its defaults
	// set and is valid.
	NewPhysics(cfg Config, rob *robot.Robot, sc *Scenario) (Physics, error)
}

// Physics is one world's arm, ball and net, advanced in steps of
// PhysicsStep. World.Trial calls, per trial: Reset; then per physics step
// Command (at the control rate, before Step), Step, Head, Ball, Inside and
// CatchTime; at the end Counters. The slices and values it returns are owned
// by the Physics and valid until the next call. Not safe for concurrent
// use.
type Physics interface {
	// Reset starts a trial: the arm at rest at q0, commands acting th.ActLatS
	// after they are sent, the ball released at th.Init with th.Ball's
	// properties, the judge cleared.
	Reset(th *Throw, q0 []float64) error
	// Command queues the joint command (q, q̇) sent at trial time t, already
	// clamped to the joint limits. The slices are copied.
	Command(t float64, q, qd []float64)
	// Step advances arm, ball and net from t to t + PhysicsStep.
	Step(t float64)
	// Joints returns the measured joint positions and velocities.
	Joints() (q, qd []float64)
	// Ball returns the ball's state.
	Ball() ball.State
	// Head writes the head frame's pose and velocity into h.
	Head(h *HeadMotion)
	// Judge: whether the ball is in the pocket now, and when it was caught.
	Judge
	// Counters writes the engine's counters of the trial so far into c.
	Counters(c *Counters)
	// Close frees what the engine holds outside the Go heap.
	Close() error
}

// Counters are an engine's tallies of one trial. World.Trial copies them
// into the TrialResult and adds Violations to its limit violations.
type Counters struct {
	Guarded int // physics steps in which the arm's limit guard braked a joint
	RimHits int // times the ball struck the head's frame
	Exits   int // times the ball left the pocket
	ArmHits int // physics steps with the ball touching the arm or the rail
	// Collisions counts physics steps with the arm touching itself, the
	// rail or the floor; TorqueSaturated those with a servo at its torque
	// limit; Violations the control periods with either.
	Collisions, TorqueSaturated, Violations int
	// SelfCollisions, RailCollisions and FloorCollisions split Collisions
	// by what the arm touched (a step with two kinds of contact counts
	// under both).
	SelfCollisions, RailCollisions, FloorCollisions int
	// SaturatedSteps counts, per joint in q order, the physics steps with
	// that joint's servo at its torque limit; JointNames names them. Both
	// are owned by the engine (nil for an engine without dynamics).
	SaturatedSteps []int
	JointNames     []string
	// InfeasibleCommands counts the commands that reached the arm asking
	// for a velocity change beyond a joint's acceleration limit (in
	// World.Trial only the safety filter's hard stop before a collision
	// does, control.Safety.Brake), and SaturatedAfterInfeasible the
	// TorqueSaturated steps within 10 control periods after one (the
	// servo catching up with what it could not follow).
	InfeasibleCommands, SaturatedAfterInfeasible int
	// SaturatedByBall counts the TorqueSaturated steps while the ball
	// touches the robot (net, frame, arm or rail) or within 10 control
	// periods after it did: the servos holding against the ball's impact.
	SaturatedByBall int
	// SaturatedOther counts the TorqueSaturated steps near neither (the
	// servo's position loop catching up with a command it lagged).
	SaturatedOther int
	// FirstCollision names the first pair of bodies that collided
	// ("geomA/geomB"), and SaturatedJoint the joint whose servo was at its
	// torque limit for the most steps ("" when none): they explain the
	// limit violations.
	FirstCollision, SaturatedJoint string
	// Warning, when set, says the physics misbehaved (e.g. went unstable);
	// it becomes TrialResult.PhysicsError.
	Warning string
}

// Judge is what the catch judge (TrialResult.Record) needs from a pocket.
type Judge interface {
	// Inside reports whether the ball is in the pocket now.
	Inside() bool
	// CatchTime returns the trial time of the catch, once the ball has
	// stayed in the pocket for the hold time.
	CatchTime() (t float64, caught bool)
}

// Kinematic is the default engine: joints that track their command through
// the Arm's PD loop, the ball integrated by ball.Props and the pocket as the
// compliant cup of Pocket. It is fast and deterministic.
var Kinematic Engine = kinematicEngine{}

type kinematicEngine struct{}

func (kinematicEngine) Name() string { return "kinematic" }

func (kinematicEngine) NewPhysics(cfg Config, rob *robot.Robot, sc *Scenario) (Physics, error) {
	n := rob.Chain.DOF()
	lim := rob.Limits
	arm, err := NewArm(cfg.Arm, JointLimits{lim.Lower, lim.Upper, lim.Vel, lim.Acc}, cfg.ReadyQ,
		sc.ActionLatencyMS/1000, 1/cfg.ControlRateHz)
	if err != nil {
		return nil, err
	}
	pocket, err := NewPocket(cfg.Pocket, rob.Pocket, sc.BallProps().Radius)
	if err != nil {
		return nil, err
	}
	return &kinematic{chain: rob.Chain, arm: arm, pocket: pocket, jac: make([]float64, 6*n)}, nil
}

type kinematic struct {
	chain  *robot.Chain
	arm    *Arm
	pocket *Pocket
	props  ball.Props
	b      ball.State
	head   HeadMotion
	pose   robot.Pose
	jac    []float64
}

func (k *kinematic) Reset(th *Throw, q0 []float64) error {
	k.arm.SetLatency(th.ActLatS)
	k.arm.Reset(q0)
	k.pocket.Reset()
	k.props, k.b = th.Ball, th.Init
	HeadMotionAt(k.chain, k.arm.Q, k.arm.Qd, &k.pose, k.jac, &k.head)
	return nil
}

func (k *kinematic) Command(t float64, q, qd []float64) { k.arm.Command(t, q, qd) }

func (k *kinematic) Step(t float64) {
	dt := PhysicsStep
	k.arm.Step(t, dt)
	k.props.Step(&k.b, dt)
	HeadMotionAt(k.chain, k.arm.Q, k.arm.Qd, &k.pose, k.jac, &k.head)
	k.pocket.Interact(t+dt, dt, &k.head, &k.b)
}

func (k *kinematic) Joints() (q, qd []float64)  { return k.arm.Q, k.arm.Qd }
func (k *kinematic) Ball() ball.State           { return k.b }
func (k *kinematic) Head(h *HeadMotion)         { *h = k.head }
func (k *kinematic) Inside() bool               { return k.pocket.Inside() }
func (k *kinematic) CatchTime() (float64, bool) { return k.pocket.CatchTime() }
func (k *kinematic) Close() error               { return nil }
func (k *kinematic) Counters(c *Counters) {
	*c = Counters{Guarded: k.arm.Guarded, RimHits: k.pocket.RimHits, Exits: k.pocket.Exits}
}

// cradleS is how long the ball must have rested in the pocket (moving slower
// than 0.2 m/s relative to the head) before a loss counts as a drop from
// the cradle (FailDropped) rather than a bounce (FailBouncedOut).
const cradleS = 0.05

// CatchTime returns the time of the catch, once there is one.
func (p *Pocket) CatchTime() (float64, bool) { return p.CaughtAt, p.Caught }

// checkEngine rejects a nil engine with a clear error.
func checkEngine(e Engine) (Engine, error) {
	if e == nil {
		return Kinematic, nil
	}
	if e.Name() == "" {
		return nil, fmt.Errorf("engine: empty name")
	}
	return e, nil
}
