package qp

import (
	"fmt"
	"math"
	"time"
)

// Method selects the algorithm of Solve.
type Method int

const (
	// MethodADMM (the default) is OSQP's ADMM: cheap iterations, warm
	// starts, the fast path for the planner's small repeated QPs.
	MethodADMM Method = iota
	// MethodIPM is a primal–dual interior-point method (Mehrotra
	// predictor–corrector): one dense factorisation per iteration, 10–60
	// iterations, high accuracy on badly conditioned and LP-like problems, no
	// warm start.
	MethodIPM
	// MethodAuto runs ADMM and falls back to the interior-point method when
	// ADMM hits MaxIter, ends SolvedInaccurate, or converges but cannot
	// polish (polishing enabled). The better of the two answers is returned.
	MethodAuto
	// MethodActiveSet is Goldfarb and Idnani's dual active-set method on
	// dense storage: exact answers in a finite number of cheap steps
	// (O(n² + m·n) each) for small problems such as the planner's; it
	// starts from the unconstrained minimiser every Solve (WarmStart does
	// not apply), and a P that is only semidefinite is shifted by up to
	// 1e-4·max Pⱼⱼ to factor (the answer is judged on the true problem).
	MethodActiveSet
)

var methodNames = [...]string{"admm", "ipm", "auto", "active-set"}

func (m Method) String() string {
	if m < 0 || int(m) >= len(methodNames) {
		return fmt.Sprintf("Method(%d)", int(m))
	}
	return methodNames[m]
}

// ParseMethod reads "admm", "ipm", "auto" or "active-set".
func ParseMethod(s string) (Method, error) {
	for i, n := range methodNames {
		if s == n {
			return Method(i), nil
		}
	}
	return 0, fmt.Errorf("qp: method %q, want admm, ipm, auto or active-set", s)
}

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

	// Linear chooses dense or sparse linear algebra (default LinearAuto:
	// sparse for large, sparse problems).
	Linear LinearAlgebra
	// Method is the algorithm (default MethodADMM). Interior-point buffers
	// (an extra n×n matrix and O(m) vectors) are allocated by New only for
	// MethodIPM and MethodAuto.
	Method Method
	// IPMMaxIter bounds the interior-point iterations of one Solve
	// (default 100).
	IPMMaxIter int
	// EpsGap is the interior-point method's relative duality-gap tolerance
	// (default 1e-7): besides meeting EpsAbs/EpsRel on both residuals it stops
	// only when Σ slack·multiplier ≤ EpsGap·max(1, |½xᵀPx + qᵀx|), so its
	// objective is accurate to about that relative error.
	EpsGap float64
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
	def(&s.EpsGap, 1e-7)
	if s.IPMMaxIter == 0 {
		s.IPMMaxIter = 100
	}
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
		{"PolishDelta", s.PolishDelta}, {"EpsGap", s.EpsGap},
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
	case s.IPMMaxIter < 0:
		return s, fmt.Errorf("qp: settings: IPMMaxIter = %d, want ≥ 0", s.IPMMaxIter)
	case s.Method < MethodADMM || s.Method > MethodActiveSet:
		return s, fmt.Errorf("qp: settings: Method = %d, want MethodADMM, MethodIPM, MethodAuto or MethodActiveSet", int(s.Method))
	case s.Method == MethodActiveSet && s.Linear == LinearSparse:
		return s, fmt.Errorf("qp: settings: MethodActiveSet works on dense storage, not LinearSparse")
	case s.Linear < LinearAuto || s.Linear > LinearSparse:
		return s, fmt.Errorf("qp: settings: Linear = %d, want LinearAuto, LinearDense or LinearSparse", int(s.Linear))
	case s.PolishRefineIter < 0:
		return s, fmt.Errorf("qp: settings: PolishRefineIter = %d, want ≥ 0", s.PolishRefineIter)
	}
	return s, nil
}
