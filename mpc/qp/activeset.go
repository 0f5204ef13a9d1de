package qp

import (
	"math"
	"time"
)

// The active-set method is Goldfarb and Idnani's dual method ("A numerically
// stable dual method for solving strictly convex quadratic programs", Math.
// Programming 27, 1983), in the form of Gaspero's eiquadprog. It works on the
// scaled dense problem. Each row i of l ≤ Ax ≤ u contributes up to two sides,
// side 2i: aᵢx − lᵢ ≥ 0 and side 2i+1: uᵢ − aᵢx ≥ 0; a row with l = u is one
// equality side 2i. Starting from the unconstrained minimiser x = −P⁻¹q, it
// adds the most violated side, takes the step that satisfies it while
// keeping the multipliers of the active sides nonnegative (dropping a side
// whose multiplier would turn negative), and repeats until no side is
// violated: a finite number of steps, each O(n² + m·n), and an exact answer —
// the method for small dense problems solved many times, like the planner's.
// The factors are J = L⁻ᵀ (P = LLᵀ) and the upper triangular R of the
// active normals, kept by Givens rotations as sides come and go.

// activeSetMaxN bounds n for MethodActiveSet: three more n×n matrices and
// O(n²) work per step are meant for small problems.
const activeSetMaxN = 2000

// asViolTol is the violation a side may keep at the answer, relative to
// 1 + |bound| (scaled units): far below any EpsAbs, so the method stops at
// the exact active set, not at the first point inside the tolerances.
const asViolTol = 1e-9

// asWork holds the active-set buffers, allocated once by New.
type asWork struct {
	l, j, r   []float64 // n×n row-major: Cholesky factor, J = L⁻ᵀ, R
	d, z, rr  []float64 // n
	np        []float64 // n: normal of the side being added
	ax        []float64 // m: As·x
	act       []int     // active sides, in the order of R's columns (≤ n, + 1 tentative)
	u         []float64 // their multipliers (≥ 0 for inequality sides)
	inactive  []bool    // 2m: side may be added
	isEq      []bool    // m: row is an equality
	nAct, nEq int
	rNorm     float64
}

func newASWork(n, m int) *asWork {
	fn := func(k int) []float64 { return make([]float64, k) }
	return &asWork{
		l: fn(n * n), j: fn(n * n), r: fn(n * n),
		d: fn(n), z: fn(n), rr: fn(n + 1), np: fn(n), ax: fn(m),
		act: make([]int, n+1), u: fn(n + 1),
		inactive: make([]bool, 2*m), isEq: make([]bool, m),
	}
}

// solveActiveSet is Solve for MethodActiveSet.
func (s *Solver) solveActiveSet(t0 time.Time) Result {
	res := Result{SetupTime: s.setupTime, Method: MethodActiveSet}
	st, its := s.asRun(t0)
	res.Iterations = its
	if st == PrimalInfeasible {
		return s.finish(&res, t0, st, Stalled)
	}
	// Hand the answer over in the scaled iterate: z = clip(As·x); finish
	// judges it on the caller's data, so a rounding failure cannot pass as
	// solved.
	s.aMul(s.x, s.z)
	s.project(s.z)
	return s.finish(&res, t0, st, st)
}

// asRun runs the dual method on the scaled problem, leaving x and y in
// s.x, s.y. It returns Solved when no side is violated beyond asViolTol,
// PrimalInfeasible with the certificate in s.y, IterationLimit, TimeLimit,
// or Stalled when rounding made an added normal dependent on the active ones.
func (s *Solver) asRun(t0 time.Time) (Status, int) {
	w := s.aset
	n, m := s.n, s.m
	if !s.asFactor() {
		return NonConvex, 0
	}
	// x = −P⁻¹q = −J Jᵀ q.
	jtMul(w.j, n, s.qs, w.d)
	jMul(w.j, n, w.d, 0, s.x)
	for k := range s.x {
		s.x[k] = -s.x[k]
	}
	w.nAct, w.nEq, w.rNorm = 0, 0, 1
	for i := range 2 * m {
		w.inactive[i] = false
	}
	for i := range m {
		w.isEq[i] = false
		lo, up := !math.IsInf(s.l0[i], -1), !math.IsInf(s.u0[i], 1)
		switch {
		case lo && up && s.l0[i] == s.u0[i]:
			w.isEq[i] = true
		default:
			w.inactive[2*i] = lo
			w.inactive[2*i+1] = up
		}
	}
	// Equality sides first; they are never dropped.
	for i := range m {
		if !w.isEq[i] {
			continue
		}
		if s.set.TimeLimit > 0 && time.Since(t0) >= s.set.TimeLimit {
			s.asMultipliers()
			return TimeLimit, 0
		}
		s.asNormal(2 * i)
		s.asDirections()
		t := 0.0
		if zn := dot(w.z, w.np); math.Abs(zn) > 1e-14*(1+dot(w.z, w.z)) {
			t = -s.asSlack(2*i) / zn
		}
		for k := range s.x {
			s.x[k] += t * w.z[k]
		}
		for k := 0; k < w.nAct; k++ {
			w.u[k] -= t * w.rr[k]
		}
		w.u[w.nAct] = t
		w.act[w.nAct] = 2 * i
		if !s.asAdd() {
			return Stalled, 0
		}
		w.nEq++
	}
	maxIt := s.set.MaxIter
	it := 0
	for {
		// The most violated side, relative to its bound's size.
		s.aMul(s.x, w.ax)
		p, worst := -1, 0.0
		for k := range 2 * m {
			if !w.inactive[k] {
				continue
			}
			sl := s.asSlackAx(k)
			if v := sl / (1 + math.Abs(s.asBound(k))); v < -asViolTol && v < worst {
				p, worst = k, v
			}
		}
		if p < 0 {
			s.asMultipliers()
			return Solved, it
		}
		if it >= maxIt {
			s.asMultipliers()
			return IterationLimit, it
		}
		if s.set.TimeLimit > 0 && time.Since(t0) >= s.set.TimeLimit {
			s.asMultipliers()
			return TimeLimit, it
		}
		s.asNormal(p)
		w.u[w.nAct] = 0
		w.act[w.nAct] = p
		slack := s.asSlack(p)
		for {
			it++
			s.asDirections()
			// Partial step: the largest dual step keeping active
			// inequality multipliers nonnegative.
			t1, drop := math.Inf(1), -1
			for k := w.nEq; k < w.nAct; k++ {
				if w.rr[k] > 0 {
					if v := w.u[k] / w.rr[k]; v < t1 {
						t1, drop = v, k
					}
				}
			}
			// Full step: the primal step that satisfies side p.
			t2 := math.Inf(1)
			if zz := dot(w.z, w.z); zz > 1e-28 {
				if zn := dot(w.z, w.np); zn > 0 {
					t2 = -slack / zn
				}
			}
			t := math.Min(t1, t2)
			if math.IsInf(t, 1) {
				return s.asInfeasible(), it
			}
			if math.IsInf(t2, 1) {
				// Dual step only: side p's normal lies in the span of the
				// active normals; drop the blocking side and retry.
				for k := 0; k < w.nAct; k++ {
					w.u[k] -= t * w.rr[k]
				}
				w.u[w.nAct] += t
				s.asDrop(drop)
				continue
			}
			for k := range s.x {
				s.x[k] += t * w.z[k]
			}
			for k := 0; k < w.nAct; k++ {
				w.u[k] -= t * w.rr[k]
			}
			w.u[w.nAct] += t
			if t == t2 {
				w.inactive[p] = false
				if !s.asAdd() {
					s.asMultipliers()
					return Stalled, it
				}
				break
			}
			s.asDrop(drop)
			slack = s.asSlack(p)
			if it >= maxIt {
				s.asMultipliers()
				return IterationLimit, it
			}
		}
	}
}

// asFactor computes the Cholesky factor of Ps (shifted slightly when P is
// only semidefinite; finish then judges the answer on the true problem) and
// J = L⁻ᵀ. It reports false when P cannot be factored even shifted.
func (s *Solver) asFactor() bool {
	w := s.aset
	n := s.n
	maxDiag := 0.0
	for k := range n {
		maxDiag = math.Max(maxDiag, math.Abs(s.ps[k*n+k]))
	}
	for shift := 0.0; ; shift = math.Max(100*shift, 1e-12*(1+maxDiag)) {
		if cholLower(s.ps, n, shift, w.l) {
			break
		}
		if shift > 1e-4*(1+maxDiag) {
			return false
		}
	}
	// J = L⁻ᵀ: solve L·X = I column by column, J = Xᵀ (upper triangular).
	clear(w.j)
	for c := range n {
		// column c of L⁻¹, entries c..n−1
		for i := c; i < n; i++ {
			v := 0.0
			if i == c {
				v = 1
			}
			for k := c; k < i; k++ {
				v -= w.l[i*n+k] * w.j[c*n+k]
			}
			w.j[c*n+i] = v / w.l[i*n+i] // J[c][i] = (L⁻¹)[i][c]
		}
	}
	return true
}

// cholLower writes the lower Cholesky factor of a + shift·I (n×n, row-major,
// symmetric) into l; false when a pivot is not positive.
func cholLower(a []float64, n int, shift float64, l []float64) bool {
	for i := range n {
		for j := 0; j <= i; j++ {
			v := a[i*n+j]
			if i == j {
				v += shift
			}
			li, lj := l[i*n:i*n+j], l[j*n:j*n+j]
			for k := range li {
				v -= li[k] * lj[k]
			}
			if i == j {
				if !(v > 0) {
					return false
				}
				l[i*n+i] = math.Sqrt(v)
			} else {
				l[i*n+j] = v / l[j*n+j]
			}
		}
		for j := i + 1; j < n; j++ {
			l[i*n+j] = 0
		}
	}
	return true
}

// jtMul: dst = Jᵀ·v (J n×n row-major).
func jtMul(j []float64, n int, v, dst []float64) {
	clear(dst)
	for k := range n {
		vk := v[k]
		if vk == 0 {
			continue
		}
		row := j[k*n : (k+1)*n]
		for c, jv := range row {
			dst[c] += jv * vk
		}
	}
}

// jMul: dst = J[:, from:]·v[from:].
func jMul(j []float64, n int, v []float64, from int, dst []float64) {
	for k := range n {
		row := j[k*n : (k+1)*n]
		t := 0.0
		for c := from; c < n; c++ {
			t += row[c] * v[c]
		}
		dst[k] = t
	}
}

// asBound is the bound of side k; asSlackAx its slack from w.ax.
func (s *Solver) asBound(k int) float64 {
	if k&1 == 0 {
		return s.ls[k>>1]
	}
	return s.us[k>>1]
}

func (s *Solver) asSlackAx(k int) float64 {
	i := k >> 1
	if k&1 == 0 {
		return s.aset.ax[i] - s.ls[i]
	}
	return s.us[i] - s.aset.ax[i]
}

// asSlack is side k's slack at s.x (aᵢx − lᵢ or uᵢ − aᵢx).
func (s *Solver) asSlack(k int) float64 {
	n := s.n
	i := k >> 1
	row := s.asRow(i)
	v := 0.0
	for j := range n {
		v += row[j] * s.x[j]
	}
	if k&1 == 0 {
		return v - s.ls[i]
	}
	return s.us[i] - v
}

func (s *Solver) asRow(i int) []float64 { return s.as[i*s.n : (i+1)*s.n] }

// asNormal loads side k's inward normal (aᵢ or −aᵢ) into w.np.
func (s *Solver) asNormal(k int) {
	w := s.aset
	row := s.asRow(k >> 1)
	if k&1 == 0 {
		copy(w.np, row)
		return
	}
	for j, v := range row {
		w.np[j] = -v
	}
}

// asDirections computes d = Jᵀnp, the primal direction z = J[:, q:]·d[q:]
// and the dual direction r = R⁻¹·d[:q] (q active sides).
func (s *Solver) asDirections() {
	w := s.aset
	n, q := s.n, w.nAct
	jtMul(w.j, n, w.np, w.d)
	jMul(w.j, n, w.d, q, w.z)
	for i := q - 1; i >= 0; i-- {
		v := w.d[i]
		for k := i + 1; k < q; k++ {
			v -= w.r[i*n+k] * w.rr[k]
		}
		w.rr[i] = v / w.r[i*n+i]
	}
}

// asAdd makes the tentative side w.act[nAct] active: Givens rotations zero
// d below position nAct (applied to J's columns), and d[:nAct+1] becomes R's
// new column. It fails when the new normal is dependent on the active ones
// to working precision.
func (s *Solver) asAdd() bool {
	w := s.aset
	n := s.n
	q := w.nAct
	for j := n - 1; j >= q+1; j-- {
		cc, ss := w.d[j-1], w.d[j]
		h := math.Hypot(cc, ss)
		if h == 0 {
			continue
		}
		w.d[j] = 0
		ss /= h
		cc /= h
		if cc < 0 {
			cc, ss = -cc, -ss
			w.d[j-1] = -h
		} else {
			w.d[j-1] = h
		}
		xny := ss / (1 + cc)
		for k := range n {
			t1, t2 := w.j[k*n+j-1], w.j[k*n+j]
			a := t1*cc + t2*ss
			w.j[k*n+j-1] = a
			w.j[k*n+j] = xny*(t1+a) - t2
		}
	}
	for i := 0; i <= q; i++ {
		w.r[i*n+q] = w.d[i]
	}
	w.nAct++
	if math.Abs(w.d[q]) <= 1e-14*w.rNorm {
		return false
	}
	w.rNorm = math.Max(w.rNorm, math.Abs(w.d[q]))
	return true
}

// asDrop removes active position pos (an inequality side): the later
// columns of R and entries of act and u move down (the tentative side at
// nAct with them), and Givens rotations restore R's triangle, applied to J.
func (s *Solver) asDrop(pos int) {
	w := s.aset
	n := s.n
	q := w.nAct
	w.inactive[w.act[pos]] = true
	for i := pos; i < q-1; i++ {
		w.act[i] = w.act[i+1]
		w.u[i] = w.u[i+1]
		for k := range n {
			w.r[k*n+i] = w.r[k*n+i+1]
		}
	}
	w.act[q-1] = w.act[q]
	w.u[q-1] = w.u[q]
	w.act[q] = 0
	w.u[q] = 0
	for k := 0; k < q; k++ {
		w.r[k*n+q-1] = 0
	}
	q--
	w.nAct = q
	for j := pos; j < q; j++ {
		cc, ss := w.r[j*n+j], w.r[(j+1)*n+j]
		h := math.Hypot(cc, ss)
		if h == 0 {
			continue
		}
		cc /= h
		ss /= h
		w.r[(j+1)*n+j] = 0
		if cc < 0 {
			w.r[j*n+j] = -h
			cc, ss = -cc, -ss
		} else {
			w.r[j*n+j] = h
		}
		xny := ss / (1 + cc)
		for k := j + 1; k < q; k++ {
			t1, t2 := w.r[j*n+k], w.r[(j+1)*n+k]
			a := t1*cc + t2*ss
			w.r[j*n+k] = a
			w.r[(j+1)*n+k] = xny*(t1+a) - t2
		}
		for k := range n {
			t1, t2 := w.j[k*n+j], w.j[k*n+j+1]
			a := t1*cc + t2*ss
			w.j[k*n+j] = a
			w.j[k*n+j+1] = xny*(a+t1) - t2
		}
	}
}

// asMultipliers writes the caller-sign multipliers (scaled) into s.y: a
// side's multiplier u ≥ 0 is −u on a lower side (and on an equality) and
// +u on an upper side.
func (s *Solver) asMultipliers() {
	w := s.aset
	clear(s.y)
	for k := 0; k < w.nAct; k++ {
		side := w.act[k]
		if side&1 == 0 {
			s.y[side>>1] -= w.u[k]
		} else {
			s.y[side>>1] += w.u[k]
		}
	}
}

// asInfeasible builds the Farkas certificate the method found — side p's
// normal equals a combination of active normals whose inequality
// coefficients are all ≤ 0 — as multipliers in s.y, and returns
// PrimalInfeasible when the solver's certificate test accepts it, Stalled
// otherwise.
func (s *Solver) asInfeasible() Status {
	w := s.aset
	q := w.nAct
	clear(s.y)
	add := func(side int, c float64) {
		if side&1 == 0 {
			s.y[side>>1] -= c
		} else {
			s.y[side>>1] += c
		}
	}
	add(w.act[q], 1)
	for k := 0; k < q; k++ {
		add(w.act[k], -w.rr[k])
	}
	clear(s.yPrev)
	if s.primalInfeasible() {
		return PrimalInfeasible
	}
	s.asMultipliers()
	return Stalled
}
