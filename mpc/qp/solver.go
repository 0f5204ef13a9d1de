package qp

import (
	"errors"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// Status is the outcome of a Solve. It is not an error: an infeasible or
// unfinished problem is a valid answer.
type Status int

const (
	// Unsolved is the status before the first Solve.
	Unsolved Status = iota
	// Solved: both residuals and the duality gap met the tolerances at the
	// returned point (see Result.DualityGap).
	Solved
	// SolvedInaccurate: residuals and gap within 10× the tolerances, not all within 1×.
	SolvedInaccurate
	// PrimalInfeasible: no x satisfies l ≤ Ax ≤ u; Result.Y holds the certificate.
	PrimalInfeasible
	// DualInfeasible: the objective is unbounded below; Result.X holds the direction.
	DualInfeasible
	// IterationLimit: MaxIter iterations without convergence.
	IterationLimit
	// TimeLimit: TimeLimit elapsed without convergence.
	TimeLimit
	// NonConvex: an UpdateP made P indefinite, so the matrix could not be factored.
	NonConvex
	// Stalled: the interior-point method could make no further progress
	// (vanishing steps or an unfactorable Newton system) before meeting the
	// tolerances; the last iterate is returned.
	Stalled
)

var statusNames = [...]string{"unsolved", "solved", "solved_inaccurate", "primal_infeasible",
	"dual_infeasible", "iteration_limit", "time_limit", "non_convex", "stalled"}

func (s Status) String() string {
	if s < 0 || int(s) >= len(statusNames) {
		return fmt.Sprintf("Status(%d)", int(s))
	}
	return statusNames[s]
}

// Result reports one Solve. X and Y alias solver-owned buffers that the next
// Solve overwrites; copy them to keep them.
type Result struct {
	Status Status
	// Method is the algorithm that produced X and Y (MethodAuto reports
	// MethodIPM when it fell back and kept the interior-point answer).
	Method Method
	// Iterations counts all iterations of this Solve, ADMM and
	// interior-point; IPMIterations the interior-point part.
	Iterations, IPMIterations int
	// Objective is ½xᵀPx + qᵀx + r at X (NaN when infeasible).
	Objective float64
	// PrimalResidual ‖Ax − z‖∞ and DualResidual ‖Px + q + Aᵀy‖∞ at the
	// returned point, in the caller's units.
	PrimalResidual, DualResidual float64
	// DualityGap is xᵀPx + qᵀx + S(y) at (X, Y), S(y) = Σ uᵢ·max(yᵢ, 0) +
	// lᵢ·min(yᵢ, 0) (zero at an exact optimum). Solved means all of
	//   PrimalResidual ≤ EpsAbs + EpsRel·max(‖Ax‖∞, ‖z‖∞),
	//   DualResidual ≤ EpsAbs + EpsRel·max(‖Px‖∞, ‖Aᵀy‖∞, ‖q‖∞),
	//   |DualityGap| ≤ EpsAbs + EpsRel·max(|xᵀPx|, |qᵀx|, |S(y)|)
	// hold at the returned point; SolvedInaccurate that each is within 10×.
	DualityGap float64
	// Polished is true when the returned point came from solution polishing.
	Polished bool
	// Rho is the final step size; RhoUpdates counts refactorisations for rho.
	Rho        float64
	RhoUpdates int
	// SetupTime is the cost of New (or the last Update that rescaled);
	// FactorTime, IterateTime and PolishTime split SolveTime, the wall time of
	// this Solve.
	// IPMTime is the interior-point part (factorisations included).
	SetupTime, FactorTime, IterateTime, PolishTime, SolveTime time.Duration
	IPMTime                                                   time.Duration
	// X (length n) is the primal solution, or the unboundedness direction for
	// DualInfeasible; Y (length m) the constraint multipliers (y > 0 at an
	// active upper bound, y < 0 at a lower), or the Farkas certificate for
	// PrimalInfeasible.
	X, Y []float64
}

// Constants of the method (OSQP's values).
const (
	minScaling = 1e-4 // norms below this are not scaled
	maxScaling = 1e4
	rhoMin     = 1e-6
	rhoMax     = 1e6
	rhoEqScale = 1e3  // equality rows get a stiffer rho
	rhoTol     = 1e-4 // scaled u−l below this marks an equality row
	divTol     = 1e-30
)

// Solver solves one problem shape repeatedly. All memory is allocated in
// New; Update*, WarmStart, ColdStart and Solve allocate nothing. A Solver is
// not safe for concurrent use: keep one per goroutine.
type Solver struct {
	n, m int
	set  Settings

	// caller's data; bounds with ±Inf for absent sides.
	p0, a0, q0, l0, u0 []float64
	r                  float64

	// scaled data: Ps = c·D·P·D, As = E·A·D, qs = c·D·q, ls/us = E·l/E·u.
	ps, as, qs, ls, us []float64
	d, dinv, e, einv   []float64
	c                  float64

	sp *sparseData // nil for LinearDense

	rho     float64
	rhoVec  []float64
	kkt     normal // factor of Ps + σI + Asᵀ·diag(rhoVec)·As
	polK    normal
	nzIdx   []int
	nzVal   []float64
	needFac bool

	// iterate (scaled) and work vectors
	x, z, y, xt, zt, xPrev, zPrev, yPrev []float64
	wn, wn2, wn3, wm, wm2                []float64
	// polishing
	act    []int8 // -1 lower, +1 upper, 0 inactive
	xp, yp []float64
	// outputs (unscaled)
	xOut, yOut []float64

	epsScale     float64 // tolerance multiplier, < 1 while refining for polish
	setupTime    time.Duration
	rhoInterval  int
	factorTimeOf time.Duration // duration of the most recent factorisation

	merit float64 // resid.merit of the last Solve's point (+Inf for a certificate)

	ipm  *ipmWork // nil unless Settings.Method uses the interior-point method
	aset *asWork  // nil unless Settings.Method is MethodActiveSet
}

// New validates p, allocates every buffer, scales the problem and factors
// the ADMM matrix. The problem's slices are copied, not retained. Errors name
// the malformed field; a P that is not positive semidefinite is an error too.
func New(p *Problem, s Settings) (*Solver, error) {
	t0 := time.Now()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	set, err := s.withDefaults()
	if err != nil {
		return nil, err
	}
	n, m := p.N, p.M
	pm, am := p.SparseP, p.SparseA
	sparse := set.Linear == LinearSparse
	if set.Linear == LinearAuto && n+m > sparseMinSize && set.Method != MethodActiveSet {
		if pm == nil {
			pm, am = cscFromDense(p.P, n, n), cscFromDense(p.A, m, n)
		}
		sparse = float64(pm.NNZ()+am.NNZ()) <= sparseMaxDensity*float64(n)*float64(n+m)
	}
	if !sparse {
		// Dense storage: refuse sizes that would exhaust memory rather than
		// panic. A solver holds about five n×n and three m×n matrices
		// (problem, scaled copy, KKT, polish; A and its scaled copy).
		const maxEntries = 1 << 29 // 4 GiB of float64
		if n > maxEntries/n || m > maxEntries/n || 5*n*n+3*m*n > maxEntries {
			return nil, fmt.Errorf("qp: n = %d, m = %d too large for the dense solver (about %.3g GiB; limit %d GiB); use LinearSparse",
				n, m, 8*(5*float64(n)*float64(n)+3*float64(m)*float64(n))/(1<<30), 8*maxEntries>>30)
		}
	}
	if set.Method == MethodActiveSet && n > activeSetMaxN {
		return nil, fmt.Errorf("qp: n = %d too large for MethodActiveSet (dense, O(n²) per step; at most %d): use MethodIPM", n, activeSetMaxN)
	}
	fn := func(k int) []float64 { return make([]float64, k) }
	sv := &Solver{
		n: n, m: m, set: set,
		q0: fn(n), l0: fn(m), u0: fn(m), r: p.R,
		qs: fn(n), ls: fn(m), us: fn(m),
		d: fn(n), dinv: fn(n), e: fn(m), einv: fn(m),
		rhoVec: fn(m), nzIdx: make([]int, n), nzVal: fn(n),
		x: fn(n), z: fn(m), y: fn(m), xt: fn(n), zt: fn(m), xPrev: fn(n), zPrev: fn(m), yPrev: fn(m),
		wn: fn(n), wn2: fn(n), wn3: fn(n), wm: fn(m), wm2: fn(m),
		xOut: fn(n), yOut: fn(m),
	}
	if sparse {
		if pm == nil {
			pm, am = cscFromDense(p.P, n, n), cscFromDense(p.A, m, n)
		}
		sv.setupSparse(pm, am)
	} else {
		sv.p0, sv.a0, sv.ps, sv.as = fn(n*n), fn(m*n), fn(n*n), fn(m*n)
		if p.SparseP != nil {
			p.SparseP.toDense(sv.p0)
			p.SparseA.toDense(sv.a0)
		} else {
			if p.P != nil {
				copy(sv.p0, p.P)
			}
			copy(sv.a0, p.A)
		}
	}
	sv.kkt = sv.newNormal()
	if !set.DisablePolish {
		sv.polK = sv.newNormal()
		sv.act = make([]int8, m)
		sv.xp = fn(n)
		sv.yp = fn(m)
	}
	if set.Method == MethodActiveSet {
		sv.aset = newASWork(n, m)
	} else if set.Method != MethodADMM {
		sv.ipm = newIPMWork(n, m, set.Method == MethodAuto)
		sv.ipm.k = sv.newNormal()
	}
	if p.Q != nil {
		copy(sv.q0, p.Q)
	}
	sv.setBounds(p.L, p.U)
	sv.rho = set.Rho
	sv.scale()
	sv.setRhoVec()
	if err := sv.factor(); err != nil {
		return nil, err
	}
	sv.setupTime = time.Since(t0)
	return sv, nil
}

func (s *Solver) setBounds(l, u []float64) {
	for i := range s.m {
		s.l0[i], s.u0[i] = l[i], u[i]
		if l[i] <= -absentBound {
			s.l0[i] = math.Inf(-1)
		}
		if u[i] >= absentBound {
			s.u0[i] = math.Inf(1)
		}
	}
}

// Settings returns the settings in use, defaults filled in.
func (s *Solver) Settings() Settings { return s.set }

// Size returns the number of variables and constraints.
func (s *Solver) Size() (n, m int) { return s.n, s.m }

// UpdateQ replaces the linear cost. It costs O(n) and keeps the factorisation.
func (s *Solver) UpdateQ(q []float64) error {
	if len(q) != s.n {
		return fmt.Errorf("qp: UpdateQ: q has length %d, want n = %d", len(q), s.n)
	}
	if err := finite("q", q); err != nil {
		return err
	}
	copy(s.q0, q)
	for j := range s.n {
		s.qs[j] = s.c * s.d[j] * q[j]
	}
	return nil
}

// UpdateBounds replaces l and u. It costs O(m) unless a row changes between
// equality, inequality and free, which triggers a refactorisation in Solve.
func (s *Solver) UpdateBounds(l, u []float64) error {
	if len(l) != s.m {
		return fmt.Errorf("qp: UpdateBounds: l has length %d, want m = %d", len(l), s.m)
	}
	if len(u) != s.m {
		return fmt.Errorf("qp: UpdateBounds: u has length %d, want m = %d", len(u), s.m)
	}
	for i := range s.m {
		switch {
		case math.IsNaN(l[i]):
			return fmt.Errorf("qp: UpdateBounds: l[%d] is NaN", i)
		case math.IsNaN(u[i]):
			return fmt.Errorf("qp: UpdateBounds: u[%d] is NaN", i)
		case l[i] > u[i]:
			return fmt.Errorf("qp: UpdateBounds: l[%d] = %g > u[%d] = %g", i, l[i], i, u[i])
		}
	}
	s.setBounds(l, u)
	s.scaleBounds()
	if s.setRhoVec() {
		s.needFac = true
	}
	return nil
}

// UpdateP replaces the values of P (n×n, row-major, symmetric). The problem is
// rescaled and refactored at the next Solve; the iterate is kept.
func (s *Solver) UpdateP(p []float64) error {
	if len(p) != s.n*s.n {
		return fmt.Errorf("qp: UpdateP: P has %d entries, want n·n = %d", len(p), s.n*s.n)
	}
	pr := Problem{N: s.n, M: 0, P: p, A: []float64{}, L: []float64{}, U: []float64{}}
	if err := pr.Validate(); err != nil {
		return fmt.Errorf("qp: UpdateP: %w", err)
	}
	s.unscaleIterate()
	if s.sp != nil {
		if err := gather("UpdateP: P", s.sp.p0, p); err != nil {
			return err
		}
	} else {
		copy(s.p0, p)
	}
	return s.rescale()
}

// UpdateA replaces the values of A (m×n, row-major). The problem is rescaled
// now and refactored at the next Solve (or by an UpdateP before it: call
// UpdateA first when both change, and the matrix is factored once); the
// iterate is kept.
func (s *Solver) UpdateA(a []float64) error {
	if len(a) != s.m*s.n {
		return fmt.Errorf("qp: UpdateA: A has %d entries, want m·n = %d", len(a), s.m*s.n)
	}
	if err := finite("A", a); err != nil {
		return fmt.Errorf("qp: UpdateA: %w", err)
	}
	s.unscaleIterate()
	if s.sp != nil {
		if err := gather("UpdateA: A", s.sp.a0, a); err != nil {
			return err
		}
	} else {
		copy(s.a0, a)
	}
	t0 := time.Now()
	s.scale()
	s.setRhoVec()
	s.scaleIterate()
	s.needFac = true
	s.setupTime = time.Since(t0)
	return nil
}

// rescale redoes scaling and factorisation after P or A changed; the solver
// reports NonConvex from Solve until a later update makes P factorable.
func (s *Solver) rescale() error {
	t0 := time.Now()
	s.scale()
	s.setRhoVec()
	s.scaleIterate()
	err := s.factor()
	s.needFac = err != nil
	s.setupTime = time.Since(t0)
	return err
}

// unscaleIterate stores the caller-unit iterate in xOut/yOut (and z in wm2).
func (s *Solver) unscaleIterate() {
	for j := range s.n {
		s.xOut[j] = s.d[j] * s.x[j]
	}
	for i := range s.m {
		s.yOut[i] = s.e[i] * s.y[i] / s.c
		s.wm2[i] = s.einv[i] * s.z[i]
	}
}

func (s *Solver) scaleIterate() {
	for j := range s.n {
		s.x[j] = s.dinv[j] * s.xOut[j]
	}
	for i := range s.m {
		s.y[i] = s.c * s.einv[i] * s.yOut[i]
		s.z[i] = s.e[i] * s.wm2[i]
	}
}

// WarmStart sets the starting point of the next Solve to x (length n) and y
// (length m); a nil slice leaves that part of the iterate unchanged.
func (s *Solver) WarmStart(x, y []float64) error {
	if x != nil && len(x) != s.n {
		return fmt.Errorf("qp: WarmStart: x has length %d, want n = %d", len(x), s.n)
	}
	if y != nil && len(y) != s.m {
		return fmt.Errorf("qp: WarmStart: y has length %d, want m = %d", len(y), s.m)
	}
	if x != nil {
		if err := finite("x", x); err != nil {
			return fmt.Errorf("qp: WarmStart: %w", err)
		}
		for j := range s.n {
			s.x[j] = s.dinv[j] * x[j]
		}
		s.aMul(s.x, s.z)
		s.project(s.z)
	}
	if y != nil {
		if err := finite("y", y); err != nil {
			return fmt.Errorf("qp: WarmStart: %w", err)
		}
		for i := range s.m {
			s.y[i] = s.c * s.einv[i] * y[i]
		}
	}
	return nil
}

// ColdStart makes the next Solve start from x = 0, y = 0.
func (s *Solver) ColdStart() {
	clear(s.x)
	clear(s.z)
	clear(s.y)
}

// Reset makes the solver forget its history: the next Solve starts from
// x = 0, y = 0 with the settings' initial step size rho (adaptive rho moves
// it from solve to solve). After Reset the solver behaves as one just made
// by NewSolver with the current problem data.
func (s *Solver) Reset() error {
	s.ColdStart()
	if s.rho == s.set.Rho {
		return nil
	}
	s.rho = s.set.Rho
	s.setRhoVec()
	return s.factor()
}

// scale runs Ruiz equilibration on the KKT matrix [P Aᵀ; A 0] and the cost
// scaling, OSQP style, filling ps, as, qs, ls, us, d, e and c.
func (s *Solver) scale() {
	if s.sp != nil {
		s.scaleSparse()
		return
	}
	n, m := s.n, s.m
	copy(s.ps, s.p0)
	copy(s.as, s.a0)
	copy(s.qs, s.q0)
	for j := range n {
		s.d[j] = 1
	}
	for i := range m {
		s.e[i] = 1
	}
	s.c = 1
	iters := s.set.ScalingIter
	if s.set.DisableScaling {
		iters = 0
	}
	dt, et := s.wn, s.wm
	for range iters {
		// column norms of [P; A] and row norms of A
		for j := range n {
			dt[j] = 0
		}
		for i := range n {
			row := s.ps[i*n : (i+1)*n]
			for j, v := range row {
				dt[j] = math.Max(dt[j], math.Abs(v))
			}
		}
		for i := range m {
			row := s.as[i*n : (i+1)*n]
			r := 0.0
			for j, v := range row {
				a := math.Abs(v)
				dt[j] = math.Max(dt[j], a)
				r = math.Max(r, a)
			}
			et[i] = r
		}
		for j := range n {
			dt[j] = 1 / math.Sqrt(limitScaling(dt[j]))
		}
		for i := range m {
			et[i] = 1 / math.Sqrt(limitScaling(et[i]))
		}
		for i := range n {
			row := s.ps[i*n : (i+1)*n]
			for j := range row {
				row[j] *= dt[i] * dt[j]
			}
			s.qs[i] *= dt[i]
			s.d[i] *= dt[i]
		}
		for i := range m {
			row := s.as[i*n : (i+1)*n]
			for j := range row {
				row[j] *= et[i] * dt[j]
			}
			s.e[i] *= et[i]
		}
		// cost scaling: mean column norm of P versus ‖q‖∞
		mean := 0.0
		for j := range n {
			dt[j] = 0
		}
		for i := range n {
			for j, v := range s.ps[i*n : (i+1)*n] {
				dt[j] = math.Max(dt[j], math.Abs(v))
			}
		}
		for j := range n {
			mean += dt[j]
		}
		scaleSlice(s.ps, s.scaleCost(mean/float64(n)))
	}
	s.finishScaling()
}

// scaleCost picks the cost scaling from P's mean column ∞-norm (meanCol,
// already equilibrated) and ‖q‖∞, scales q and the constant by it and
// returns it; the caller scales its own storage of P.
func (s *Solver) scaleCost(meanCol float64) float64 {
	ct := 1 / limitScaling(math.Max(limitScaling(meanCol), limitScaling(normInf(s.qs))))
	scaleSlice(s.qs, ct)
	s.c *= ct
	return ct
}

// finishScaling inverts the equilibration (dinv, einv) and scales the
// bounds, after either storage's scaling loop.
func (s *Solver) finishScaling() {
	for j := range s.d {
		s.dinv[j] = 1 / s.d[j]
	}
	for i := range s.e {
		s.einv[i] = 1 / s.e[i]
	}
	s.scaleBounds()
}

func scaleSlice(v []float64, a float64) {
	for k := range v {
		v[k] *= a
	}
}

func limitScaling(v float64) float64 {
	if v < minScaling {
		return 1
	}
	return math.Min(v, maxScaling)
}

func (s *Solver) scaleBounds() {
	for i := range s.m {
		s.ls[i] = s.e[i] * s.l0[i]
		s.us[i] = s.e[i] * s.u0[i]
	}
}

// setRhoVec sets the per-row step sizes and reports whether any changed.
func (s *Solver) setRhoVec() bool {
	changed := false
	for i := range s.m {
		r := s.rho
		switch {
		case math.IsInf(s.ls[i], -1) && math.IsInf(s.us[i], 1):
			r = rhoMin
		case s.us[i]-s.ls[i] < rhoTol:
			r = rhoEqScale * s.rho
		}
		if r != s.rhoVec[i] {
			changed = true
			s.rhoVec[i] = r
		}
	}
	return changed
}

var errNotPSD = errors.New("qp: P is not positive semidefinite (factorisation failed)")

// factor forms the upper triangle of Ps + σI + Asᵀ·diag(rhoVec)·As and
// factors it in place (Cholesky, upper).
func (s *Solver) factor() error {
	if s.aset != nil {
		// The active-set method factors P itself in Solve; the ADMM matrix
		// is never used.
		s.needFac = false
		return nil
	}
	t0 := time.Now()
	ok := s.factorNormal(&s.kkt, s.rhoVec, nil, s.set.Sigma, 0, 0)
	s.needFac = false
	s.factorTimeOf = time.Since(t0)
	if !ok {
		return errNotPSD
	}
	return nil
}

// buildNormal writes the upper triangle of Ps + shift·I + Σᵢ wᵢ·aᵢaᵢᵀ into k,
// where aᵢ are the rows of As and w[i] the row weights; rows with act[i] == 0
// are skipped when act is non-nil. Zero entries of each row are skipped, so
// sparse rows cost their nonzero count squared.
func (s *Solver) buildNormal(k, w []float64, act []int8, shift float64) {
	n := s.n
	for i := range n {
		copy(k[i*n+i:(i+1)*n], s.ps[i*n+i:(i+1)*n])
		k[i*n+i] += shift
	}
	for i := range s.m {
		if act != nil && act[i] == 0 {
			continue
		}
		wi := w[i]
		if wi == 0 {
			continue
		}
		row := s.as[i*n : (i+1)*n]
		nz := 0
		for j, v := range row {
			if v != 0 {
				s.nzIdx[nz] = j
				s.nzVal[nz] = v
				nz++
			}
		}
		idx, val := s.nzIdx[:nz], s.nzVal[:nz]
		for a, ja := range idx {
			va := wi * val[a]
			kr := k[ja*n:]
			for b := a; b < nz; b++ {
				kr[idx[b]] += va * val[b]
			}
		}
	}
}

func (s *Solver) sym(k []float64) blas64.Symmetric {
	return blas64.Symmetric{N: s.n, Stride: s.n, Data: k, Uplo: blas.Upper}
}

// matVec: dst = M·x for the rows×n row-major M.
func (s *Solver) matVec(mat []float64, rows int, x, dst []float64) {
	if rows == 0 {
		return
	}
	blas64.Gemv(blas.NoTrans, 1, blas64.General{Rows: rows, Cols: s.n, Stride: s.n, Data: mat},
		blas64.Vector{N: s.n, Inc: 1, Data: x}, 0, blas64.Vector{N: rows, Inc: 1, Data: dst})
}

// matTVec: dst = beta·dst + Asᵀ·y.
func (s *Solver) matTVec(y []float64, beta float64, dst []float64) {
	if s.m == 0 {
		for j := range dst {
			dst[j] *= beta
		}
		return
	}
	blas64.Gemv(blas.Trans, 1, blas64.General{Rows: s.m, Cols: s.n, Stride: s.n, Data: s.as},
		blas64.Vector{N: s.m, Inc: 1, Data: y}, beta, blas64.Vector{N: s.n, Inc: 1, Data: dst})
}

func (s *Solver) project(z []float64) {
	for i := range z {
		z[i] = math.Min(math.Max(z[i], s.ls[i]), s.us[i])
	}
}

func normInf(v []float64) float64 {
	r := 0.0
	for _, x := range v {
		r = math.Max(r, math.Abs(x))
	}
	return r
}
