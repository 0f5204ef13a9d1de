package robot

import (
	"fmt"
	"math"

	"github.com/agilecatch/catch/internal/dense"
)

// IKTarget is what inverse kinematics should reach, in the chain's base
// frame: the tip origin at Pos and, when Normal is non-zero, the tip-local
// axis NormalAxis (0 x, 1 y, 2 z; 1 is the head's net normal) pointing along
// Normal. Rotation about that axis is left free.
type IKTarget struct {
	Pos        [3]float64 // m
	Normal     [3]float64 // direction (any length); zero means position only
	NormalAxis int        // tip-local axis index 0–2
}

// IKOptions tunes Solve. The zero value means the defaults.
type IKOptions struct {
	// MaxIter bounds the Levenberg–Marquardt iterations. Default 100.
	MaxIter int
	// PosTol is the position error (m) that counts as reached. Default 1e-4.
	PosTol float64
	// AngTol is the normal-direction error (rad) that counts as reached.
	// Default 1e-3.
	AngTol float64
	// NormalWeight converts direction error into the position scale: an
	// error of 1 (unit-vector difference) weighs like NormalWeight metres.
	// Default 0.3, about the arm's forearm length.
	NormalWeight float64
	// Restarts is how many further starts to try when the start at q0 does
	// not reach the target: points of a Halton sequence spread over the
	// joint box (deterministic, so no random source is needed). Solve keeps
	// the first start that reaches the target, else the best one. Default 0.
	Restarts int
}

func (o IKOptions) withDefaults() IKOptions {
	if o.MaxIter <= 0 {
		o.MaxIter = 100
	}
	if o.PosTol <= 0 {
		o.PosTol = 1e-4
	}
	if o.AngTol <= 0 {
		o.AngTol = 1e-3
	}
	if o.NormalWeight <= 0 {
		o.NormalWeight = 0.3
	}
	return o
}

// IKResult reports how Solve ended. Failing to reach the target is a
// status (OK false), not an error: the target may be out of reach.
type IKResult struct {
	PosErr float64 // final tip position error, m
	AngErr float64 // final normal-direction error, rad (0 without a normal)
	Iter   int     // iterations used, summed over all starts
	OK     bool    // PosErr ≤ PosTol and AngErr ≤ AngTol
}

// IKSolver solves inverse kinematics for one chain by damped least squares
// (Levenberg–Marquardt with adaptive damping), projecting every iterate onto
// the joint position limits and freezing joints that sit on a limit the
// gradient pushes against. It owns its scratch memory: create one per chain
// and per goroutine; Solve allocates nothing.
type IKSolver struct {
	c              *Chain
	lower, upper   []float64
	jac, jacTry    []float64 // 6×n
	jr             []float64 // m×n residual Jacobian, m ≤ 6
	a, l           []float64 // n×n normal matrix and its Cholesky factor
	g, dq, q, qTry []float64
	best, start    []float64
	free           []bool
}

// NewIKSolver returns a solver for c using c's URDF position limits.
func NewIKSolver(c *Chain) *IKSolver {
	n := c.DOF()
	return &IKSolver{
		c:      c,
		lower:  c.limits.Lower,
		upper:  c.limits.Upper,
		jac:    make([]float64, 6*n),
		jacTry: make([]float64, 6*n),
		jr:     make([]float64, 6*n),
		a:      make([]float64, n*n),
		l:      make([]float64, n*n),
		g:      make([]float64, n),
		dq:     make([]float64, n),
		q:      make([]float64, n),
		qTry:   make([]float64, n),
		best:   make([]float64, n),
		start:  make([]float64, n),
		free:   make([]bool, n),
	}
}

// ikEval is the residual at one configuration.
type ikEval struct {
	pose   Pose
	r      [6]float64 // position error, then weighted direction error
	u      [3]float64 // current tip axis in the base frame
	cost   float64    // ½|r|²
	posErr float64
	angErr float64
}

// Solve starts at q0 (clamped to the limits), iterates toward target and
// writes the best configuration found into dst (len DOF; may alias q0). It
// panics when q0 or dst has the wrong length or NormalAxis is not 0–2.
func (s *IKSolver) Solve(q0 []float64, target IKTarget, opt IKOptions, dst []float64) IKResult {
	n := s.c.DOF()
	if len(q0) != n || len(dst) != n {
		panic(fmt.Sprintf("robot: IKSolver.Solve: len(q0) = %d, len(dst) = %d, want %d", len(q0), len(dst), n))
	}
	if target.NormalAxis < 0 || target.NormalAxis > 2 {
		panic(fmt.Sprintf("robot: IKSolver.Solve: NormalAxis = %d, want 0, 1 or 2", target.NormalAxis))
	}
	opt = opt.withDefaults()
	var nrm [3]float64
	useNormal := false
	if l := math.Sqrt(target.Normal[0]*target.Normal[0] + target.Normal[1]*target.Normal[1] + target.Normal[2]*target.Normal[2]); l > 0 {
		nrm = [3]float64{target.Normal[0] / l, target.Normal[1] / l, target.Normal[2] / l}
		useNormal = true
	}
	res := s.solveFrom(q0, &target, nrm, useNormal, &opt)
	copy(s.best, s.q)
	iters := res.Iter
	for k := 1; k <= opt.Restarts && !res.OK; k++ {
		s.haltonStart(k)
		r := s.solveFrom(s.start, &target, nrm, useNormal, &opt)
		iters += r.Iter
		if r.OK || r.PosErr+opt.NormalWeight*r.AngErr < res.PosErr+opt.NormalWeight*res.AngErr {
			res = r
			copy(s.best, s.q)
		}
	}
	res.Iter = iters
	copy(dst, s.best)
	return res
}

// haltonStart fills s.start with the k-th point (k ≥ 1) of the Halton
// sequence scaled to the joint box; unbounded joints use [−π, π].
func (s *IKSolver) haltonStart(k int) {
	for i := range s.start {
		lo, hi := s.lower[i], s.upper[i]
		if math.IsInf(lo, 0) || math.IsInf(hi, 0) {
			lo, hi = -math.Pi, math.Pi
		}
		u := 0.5
		if i < len(haltonPrimes) {
			u = radicalInverse(k, haltonPrimes[i])
		}
		s.start[i] = lo + (hi-lo)*u
	}
}

var haltonPrimes = [...]int{2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53}

func radicalInverse(k, base int) float64 {
	var r float64
	f := 1 / float64(base)
	for ; k > 0; k /= base {
		r += f * float64(k%base)
		f /= float64(base)
	}
	return r
}

// solveFrom runs Levenberg–Marquardt from q0 and leaves the result in s.q.
func (s *IKSolver) solveFrom(q0 []float64, target *IKTarget, nrm [3]float64, useNormal bool, opt *IKOptions) IKResult {
	n := s.c.DOF()
	m := 3
	if useNormal {
		m = 6
	}
	w := opt.NormalWeight

	for i, v := range q0 {
		s.q[i] = math.Min(math.Max(v, s.lower[i]), s.upper[i])
	}
	var cur, try ikEval
	s.eval(s.q, s.jac, target, nrm, useNormal, w, &cur)
	done := func(e *ikEval) bool {
		return e.posErr <= opt.PosTol && (!useNormal || e.angErr <= opt.AngTol)
	}

	mu := 1e-3
	iter, slow := 0, 0
	for ; iter < opt.MaxIter && !done(&cur); iter++ {
		// Residual Jacobian: position rows are J_v; direction rows are
		// d(w·u)/dq_i = w·(ω_i × u).
		copy(s.jr[:3*n], s.jac[:3*n])
		if useNormal {
			u := cur.u
			for i := 0; i < n; i++ {
				ox, oy, oz := s.jac[3*n+i], s.jac[4*n+i], s.jac[5*n+i]
				s.jr[3*n+i] = w * (oy*u[2] - oz*u[1])
				s.jr[4*n+i] = w * (oz*u[0] - ox*u[2])
				s.jr[5*n+i] = w * (ox*u[1] - oy*u[0])
			}
		}
		// Gradient g = Jᵀr; freeze joints on a limit that g pushes against.
		for i := 0; i < n; i++ {
			var gi float64
			for k := 0; k < m; k++ {
				gi += s.jr[k*n+i] * cur.r[k]
			}
			s.g[i] = gi
			s.free[i] = !((s.q[i] >= s.upper[i] && gi > 0) || (s.q[i] <= s.lower[i] && gi < 0))
			if !s.free[i] {
				s.g[i] = 0
			}
		}
		// Normal matrix A = JᵀJ over the free joints (identity rows for the
		// frozen ones, with g = 0 they get dq = 0).
		for i := 0; i < n; i++ {
			for j := 0; j <= i; j++ {
				var v float64
				if s.free[i] && s.free[j] {
					for k := 0; k < m; k++ {
						v += s.jr[k*n+i] * s.jr[k*n+j]
					}
				} else if i == j {
					v = 1
				}
				s.a[i*n+j] = v
			}
		}
		accepted := false
		for !accepted && mu < 1e10 {
			for i := 0; i < n; i++ {
				for j := 0; j <= i; j++ {
					s.l[i*n+j] = s.a[i*n+j]
				}
				s.l[i*n+i] += mu
			}
			dense.Factor(s.l, n) // a non-definite system gets the regularised step
			dense.Solve(s.l, n, s.g, s.dq)
			for i := 0; i < n; i++ {
				s.qTry[i] = math.Min(math.Max(s.q[i]+s.dq[i], s.lower[i]), s.upper[i])
			}
			s.eval(s.qTry, s.jacTry, target, nrm, useNormal, w, &try)
			if try.cost < cur.cost {
				accepted = true
				// Progress under 1% per step for several steps: stuck
				// against the limits or in a local minimum.
				if try.cost > 0.99*cur.cost {
					slow++
				} else {
					slow = 0
				}
				mu = math.Max(mu/3, 1e-9)
				cur = try
				s.q, s.qTry = s.qTry, s.q
				s.jac, s.jacTry = s.jacTry, s.jac
			} else {
				mu *= 4
			}
		}
		if !accepted || slow >= 5 {
			iter++
			break // no useful descent step left: a local minimum or the limits
		}
	}
	res := IKResult{PosErr: cur.posErr, Iter: iter, OK: done(&cur)}
	if useNormal {
		res.AngErr = cur.angErr
	}
	return res
}

// eval computes FK, the Jacobian and the residual at q.
func (s *IKSolver) eval(q, jac []float64, t *IKTarget, nrm [3]float64, useNormal bool, w float64, e *ikEval) {
	s.c.FKJacobian(q, &e.pose, jac)
	var sq float64
	for k := 0; k < 3; k++ {
		e.r[k] = t.Pos[k] - e.pose.P[k]
		sq += e.r[k] * e.r[k]
	}
	e.posErr = math.Sqrt(sq)
	e.angErr = 0
	if useNormal {
		e.u = e.pose.Axis(t.NormalAxis)
		var dot float64
		for k := 0; k < 3; k++ {
			e.r[3+k] = w * (nrm[k] - e.u[k])
			sq += e.r[3+k] * e.r[3+k]
			dot += nrm[k] * e.u[k]
		}
		e.angErr = math.Acos(math.Min(math.Max(dot, -1), 1))
	}
	e.cost = sq / 2
}
