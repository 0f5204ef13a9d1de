package qp

import (
	"fmt"
	"math"
	"time"
)

// Settings tune the solver. The zero value means "all defaults"; every zero
// field is replaced by the default written beside it.
type Settings struct {
	// EpsAbs and EpsRel are the absolute and relative termination
	// tolerances (default 1e-4 each): Solve stops when
	//   ‖Ax − z‖∞ ≤ EpsAbs + EpsRel·max(‖Ax‖∞, ‖z‖∞) and
	//   ‖Px + q + Aᵀy‖∞ ≤ EpsAbs + EpsRel·max(‖Px‖∞, ‖Aᵀy‖∞, ‖q‖∞),
	// all in the caller's (unscaled) units.
	EpsAbs, EpsRel float64
	// EpsPrimalInfeasible and EpsDualInfeasible are the tolerances of the
	// infeasibility certificates (default 1e-5 each).
	EpsPrimalInfeasible, EpsDualInfeasible float64
	// MaxIter bounds the ADMM iterations of one Solve (default 10000).
	MaxIter int
	// TimeLimit bounds the wall time of one Solve, polish included
	// (default 0: none).
	TimeLimit time.Duration

	// Rho is the initial ADMM step size (default 0.1); Sigma the primal
	// regularisation (default 1e-6); Alpha the over-relaxation in (0, 2)
	// (default 1.6).
	Rho, Sigma, Alpha float64
	// DisableAdaptiveRho keeps Rho fixed. Otherwise rho is re-estimated from
	// the residual ratio every AdaptiveRhoInterval iterations (default 0:
	// chosen from the measured factor/iteration time ratio, at least
	// CheckInterval) and the matrix is refactored when it changes by more than
	// AdaptiveRhoTolerance (default 5×).
	DisableAdaptiveRho   bool
	AdaptiveRhoInterval  int
	AdaptiveRhoTolerance float64
	// CheckInterval is how often (in iterations) termination and
	// infeasibility are checked (default 10).
	CheckInterval int

	// DisableScaling turns off Ruiz equilibration; ScalingIter is its number
	// of passes (default 10).
	DisableScaling bool
	ScalingIter    int

	// DisablePolish turns off solution polishing (an equality-constrained
	// QP on the guessed active set, solved to high accuracy). PolishDelta is
	// its regularisation (default 1e-7) and PolishRefineIter its iterative
	// refinement steps (default 5).
	DisablePolish bool
	// PolishRetries is how often a failed polish makes ADMM continue with
	// 100× tighter tolerances and polish again (default 2; negative: never).
	PolishRetries    int
	PolishDelta      float64
	PolishRefineIter int
}

// withDefaults fills zero fields and checks ranges.
func (s Settings) withDefaults() (Settings, error) {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&s.EpsAbs, 1e-4)
	def(&s.EpsRel, 1e-4)
	def(&s.EpsPrimalInfeasible, 1e-5)
	def(&s.EpsDualInfeasible, 1e-5)
	def(&s.Rho, 0.1)
	def(&s.Sigma, 1e-6)
	def(&s.Alpha, 1.6)
	def(&s.AdaptiveRhoTolerance, 5)
	def(&s.PolishDelta, 1e-7)
	if s.MaxIter == 0 {
		s.MaxIter = 10000
	}
	if s.CheckInterval == 0 {
		s.CheckInterval = 10
	}
	if s.ScalingIter == 0 {
		s.ScalingIter = 10
	}
	if s.PolishRetries == 0 {
		s.PolishRetries = 2
	}
	if s.PolishRefineIter == 0 {
		s.PolishRefineIter = 5
	}
	pos := []struct {
		name string
		v    float64
	}{
		{"EpsAbs", s.EpsAbs}, {"EpsRel", s.EpsRel}, {"EpsPrimalInfeasible", s.EpsPrimalInfeasible},
		{"EpsDualInfeasible", s.EpsDualInfeasible}, {"Rho", s.Rho}, {"Sigma", s.Sigma},
		{"PolishDelta", s.PolishDelta},
	}
	for _, f := range pos {
		if !(f.v > 0) || math.IsInf(f.v, 0) {
			return s, fmt.Errorf("qp: settings: %s = %v, want > 0 and finite", f.name, f.v)
		}
	}
	switch {
	case !(s.Alpha > 0 && s.Alpha < 2):
		return s, fmt.Errorf("qp: settings: Alpha = %v, want in (0, 2)", s.Alpha)
	case !(s.AdaptiveRhoTolerance >= 1):
		return s, fmt.Errorf("qp: settings: AdaptiveRhoTolerance = %v, want ≥ 1", s.AdaptiveRhoTolerance)
	case s.MaxIter < 0:
		return s, fmt.Errorf("qp: settings: MaxIter = %d, want ≥ 0", s.MaxIter)
	case s.TimeLimit < 0:
		return s, fmt.Errorf("qp: settings: TimeLimit = %v, want ≥ 0", s.TimeLimit)
	case s.CheckInterval < 0:
		return s, fmt.Errorf("qp: settings: CheckInterval = %d, want ≥ 1", s.CheckInterval)
	case s.AdaptiveRhoInterval < 0:
		return s, fmt.Errorf("qp: settings: AdaptiveRhoInterval = %d, want ≥ 0", s.AdaptiveRhoInterval)
	case s.ScalingIter < 0:
		return s, fmt.Errorf("qp: settings: ScalingIter = %d, want ≥ 0", s.ScalingIter)
	case s.PolishRefineIter < 0:
		return s, fmt.Errorf("qp: settings: PolishRefineIter = %d, want ≥ 0", s.PolishRefineIter)
	}
	return s, nil
}
