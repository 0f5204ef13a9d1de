package sim

import (
	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/control"
)

// Tracer records a trial tick by tick (package sim/trace writes the
// files). World.Trial calls Begin before the first control tick, Tick at
// every control tick once the command is clamped, and End with the
// outcome. A Tracer belongs to one World; a World without one pays nothing.
type Tracer interface {
	Begin(th *Throw, res *TrialResult) error
	Tick(tk *Tick)
	End(res *TrialResult) error
}

// Tick is the world at one control tick. The slices and pointers are the
// world's own and valid only during the Tick call.
type Tick struct {
	T float64 // s since release
	// Q and Qd are the measured joint state the controller saw; CmdQ and
	// CmdQd the command after the limit clamp.
	Q, Qd, CmdQ, CmdQd []float64
	Head               *HeadMotion // the head's pose and velocity
	Ball               *ball.State // the true ball (nil: unknown, e.g. a converted trial log)
	Est                *ball.Estimate
	Forecast           *control.Forecast // nil when no forecaster runs
	Status             control.Status
	ComputeMS          float64
	// Clamped is the safety layer's intervention: the controller's command
	// was outside the limits and was clamped this tick. Guarded counts the
	// arm model's guarded steps so far.
	Clamped bool
	Guarded int
	Err     string // the controller's error this tick ("" when none)
	// PlanHead holds the head positions at the active plan's knots (nil
	// when the controller reports no plan, see control.PlanReporter).
	PlanHead [][3]float64
	// Judge state after the last physics step.
	InPocket        bool
	RimHits, Exits  int
	Caught          bool
	MissDistanceM   float64 // closest approach so far (negative: unknown)
	ObservationsNew int     // observations handed to the estimator this tick
}

// SetTracer records every following trial with tr (nil stops tracing).
func (w *World) SetTracer(tr Tracer) { w.tracer = tr }
