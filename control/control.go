package control

import (
	"fmt"
	"time"

	"github.com/agilecatch/catch/ball"
)

// ArmState is the measured joint state. Slices have the chain's DOF length
// and are owned by the caller.
type ArmState struct {
	Q  []float64 // joint positions, rad (m for the rail)
	Qd []float64 // joint velocities, rad/s (m/s for the rail)
}

// Forecast holds sampled future ball positions: N samples at H horizons
// T0+Dt, T0+2·Dt, …, T0+H·Dt. Pos is sample-major: Pos[(s*H+h)*3+k].
// The zero value (N == 0) means no forecast.
type Forecast struct {
	T0  float64 // s, trial clock
	Dt  float64 // s between horizons
	H   int
	N   int
	Pos []float64 // m
}

// Input is everything a controller sees in one tick.
type Input struct {
	Now      time.Duration // the tick's time on the loop's clock
	Deadline time.Duration // the command must be ready by then
	Arm      ArmState
	Ball     ball.Estimate // latest estimate, propagated to its own time T
	Props    *ball.Props   // the ball being thrown (nil: the controller's default)
	Forecast *Forecast     // nil until a forecaster runs
}

// Command is a joint-space target, written by the controller into
// caller-owned slices of the chain's DOF length.
type Command struct {
	Q  []float64 // target positions
	Qd []float64 // target velocities
}

// NewCommand returns a Command with slices for n joints.
func NewCommand(n int) Command {
	return Command{Q: make([]float64, n), Qd: make([]float64, n)}
}

// Code classifies a step's outcome. None of these is an error: an error from
// Step means no safe command exists.
type Code int

const (
	// Tracking: the command follows a current plan or policy action.
	Tracking Code = iota
	// Waiting: no usable ball estimate yet; the arm holds or returns to its ready pose.
	Waiting
	// StalePlan: the newest plan was not ready by the deadline; the previous plan was used.
	StalePlan
	// NoPlan: no feasible plan exists for the current estimate; the arm holds.
	NoPlan
	// Cradling: after the catch time, the ball is being cradled.
	Cradling
)

var codeNames = [...]string{"tracking", "waiting", "stale-plan", "no-plan", "cradling"}

func (c Code) String() string {
	if c >= 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("code(%d)", int(c))
}

// Status reports how a step went.
type Status struct {
	Code Code
	// Compute is the controller's own time for this step (including any
	// synchronous re-plan).
	Compute time.Duration
}

// Controller is implemented by MPC, the ES policy and Hold.
type Controller interface {
	// Name is the registry name (mpc, es, hold).
	Name() string
	// Reset starts a new trial from the given arm state.
	Reset(arm ArmState) error
	// Step writes the command for in into out. It must not retain in or out.
	Step(in *Input, out *Command) (Status, error)
}

// Hold keeps the arm at the pose it had at Reset.
type Hold struct {
	q []float64
}

// Name implements Controller.
func (h *Hold) Name() string { return "hold" }

// Reset implements Controller.
func (h *Hold) Reset(arm ArmState) error {
	h.q = append(h.q[:0], arm.Q...)
	return nil
}

// Step implements Controller.
func (h *Hold) Step(in *Input, out *Command) (Status, error) {
	if len(out.Q) != len(h.q) || len(out.Qd) != len(h.q) {
		return Status{}, fmt.Errorf("hold: command has %d/%d joints, want %d", len(out.Q), len(out.Qd), len(h.q))
	}
	copy(out.Q, h.q)
	for i := range out.Qd {
		out.Qd[i] = 0
	}
	return Status{Code: Waiting}, nil
}

// PlanReporter is implemented by controllers that follow a plan (the MPC),
// for traces and viewers: PlanKnots writes the joint positions of the
// executing plan at its knots (row-major, knots × DOF) into dst, at most
// len(dst)/DOF of them, and returns how many it wrote (0: no plan).
type PlanReporter interface {
	PlanKnots(dst []float64) int
}
