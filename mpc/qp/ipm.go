package qp

import (
	"math"
	"time"

	"gonum.org/v1/gonum/blas/blas64"
)

// The interior-point method works on the Ruiz-scaled problem in slack form:
// a row with a finite lower bound has Aᵢx − sLᵢ = lᵢ, sLᵢ ≥ 0 with multiplier
// zLᵢ ≥ 0; a finite upper bound Aᵢx + sUᵢ = uᵢ, sUᵢ ≥ 0, zUᵢ ≥ 0; an equality
// row (l = u) Aᵢx = bᵢ with a free multiplier; a row with both bounds
// infinite is dropped. The caller's multiplier is yᵢ = zUᵢ − zLᵢ.
//
// Eliminating slacks leaves, per Newton step, the regularised augmented
// system in (dx, dy), dy = dzU − dzL on inequality rows,
//
//	(P + ρI) dx + Aᵀ dy = −r_d,   A dx − W⁻¹ dy = −W⁻¹g,
//
// with W = zL/sL + zU/sU on inequality rows and W = 1/δ on equalities
// (g = W·r_E there). It is solved by GMRES preconditioned with the Cholesky
// factor of the normal matrix P + ρI + AᵀWA (built with the sparse-row trick
// of buildNormal): exact up to rounding, while the augmented residual keeps
// the dual residual accurate when W spans twenty orders of magnitude.

// Row classes.
const (
	rowFree int8 = iota
	rowLower
	rowUpper
	rowRange
	rowEq
)

const (
	ipmReg   = 1e-9 // ρ, scaled units
	ipmEqReg = 1e-9 // δ of equality rows
	// ipmSparseReg is the sparse KKT factor's static regularisation (scaled
	// units); GMRES removes it from the step.
	ipmSparseReg = 1e-8
	// GMRES per Newton solve: ipmKrylov iterations per restart, ipmRestarts
	// restarts, stop at relative residual ipmKrylovTol.
	ipmKrylov    = 12
	ipmRestarts  = 3
	ipmKrylovTol = 1e-13
	ipmEta       = 0.99 // fraction to the boundary
	// A step below ipmStallStep counts as no progress, and ipmStallIter of
	// them in a row stall the method.
	ipmStallStep = 1e-9
	ipmStallIter = 5
	ipmMaxReg    = 1e-2 // give up when a relative diagonal shift this large fails
	// The start shifts slacks and multipliers by at least ipmStartMin, or by
	// ipmStartSlack when there is nothing to balance.
	ipmStartSlack = 1.0
	ipmStartMin   = 1e-2
)

// ipmWork holds the interior-point buffers, allocated once by New.
type ipmWork struct {
	kind                    []int8
	sL, zL, sU, zU, ye      []float64
	dsL, dzL, dsU, dzU, dye []float64
	pL, pU                  []float64 // affine-step products dsL·dzL, dsU·dzU
	rl, ru                  []float64 // Aᵢx − sL − l (r_E on equality rows) and Aᵢx + sU − u
	w, v, t, r2             []float64
	rd, rhs, dx, ddx, r1    []float64
	k                       normal // factor of the regularised normal matrix
	// GMRES: basis gv ((ipmKrylov+1)·(n+m)), Hessenberg columns gh, rotations
	// gc/gs, rhs gg, coefficients gy, stacked vectors gb, gx, gr, gz.
	gv, gh, gc, gs, gg, gy []float64
	gb, gx, gr, gz         []float64
	reg                    float64
	eqW                    float64 // 1/δ, the equality rows' weight
	// MethodAuto keeps ADMM's answer here in case the fallback does worse.
	ax, az, ay, axOut, ayOut []float64
}

func newIPMWork(n, m int, auto bool) *ipmWork {
	fm := func() []float64 { return make([]float64, m) }
	fn := func() []float64 { return make([]float64, n) }
	w := &ipmWork{
		kind: make([]int8, m),
		sL:   fm(), zL: fm(), sU: fm(), zU: fm(), ye: fm(),
		dsL: fm(), dzL: fm(), dsU: fm(), dzU: fm(), dye: fm(),
		pL: fm(), pU: fm(), rl: fm(), ru: fm(), w: fm(), v: fm(), t: fm(), r2: fm(),
		rd: fn(), rhs: fn(), dx: fn(), ddx: fn(), r1: fn(),
		gv: make([]float64, (ipmKrylov+1)*(n+m)), gh: make([]float64, ipmKrylov*(ipmKrylov+1)),
		gc: make([]float64, ipmKrylov+1), gs: make([]float64, ipmKrylov+1),
		gg: make([]float64, ipmKrylov+1), gy: make([]float64, ipmKrylov+1),
		gb: make([]float64, n+m), gx: make([]float64, n+m), gr: make([]float64, n+m), gz: make([]float64, n+m),
	}
	if auto {
		w.ax, w.az, w.ay, w.axOut, w.ayOut = fn(), fm(), fm(), fn(), fm()
	}
	return w
}

func hasLower(k int8) bool { return k == rowLower || k == rowRange }
func hasUpper(k int8) bool { return k == rowUpper || k == rowRange }

// solveAuto runs ADMM and, when it did not end Solved or with an
// infeasibility certificate, the interior-point method. It returns the
// interior-point answer when that is Solved or a certificate, and otherwise
// whichever point is closer to meeting the tolerances (resid.merit), so it
// never returns a worse point than it saw.
func (s *Solver) solveAuto(t0 time.Time) Result {
	r := s.solveADMM(t0)
	if statusRank(r.Status) == 0 || (s.set.TimeLimit > 0 && time.Since(t0) >= s.set.TimeLimit) {
		return r
	}
	admmMerit := s.merit
	w := s.ipm
	copy(w.ax, s.x)
	copy(w.az, s.z)
	copy(w.ay, s.y)
	copy(w.axOut, s.xOut)
	copy(w.ayOut, s.yOut)
	res := r
	res.Polished = false
	out := s.solveIPM(&res, t0)
	if statusRank(out.Status) == 0 || s.merit <= admmMerit {
		return out
	}
	copy(s.x, w.ax)
	copy(s.z, w.az)
	copy(s.y, w.ay)
	copy(s.xOut, w.axOut)
	copy(s.yOut, w.ayOut)
	s.merit = admmMerit
	r.Iterations, r.IPMIterations, r.IPMTime = out.Iterations, out.IPMIterations, out.IPMTime
	r.PolishTime = out.PolishTime
	r.SolveTime = time.Since(t0)
	return r
}

// statusRank orders outcomes for MethodAuto: definite answers first.
func statusRank(st Status) int {
	switch st {
	case Solved, PrimalInfeasible, DualInfeasible:
		return 0
	case SolvedInaccurate:
		return 1
	}
	return 2
}

// solveIPM runs the interior-point method, polishes its answer (unless
// disabled) and fills res. res may carry an ADMM prefix (MethodAuto).
func (s *Solver) solveIPM(res *Result, t0 time.Time) Result {
	tI := time.Now()
	st, rs, its := s.ipmRun(t0)
	res.Method = MethodIPM
	res.Iterations += its
	res.IPMIterations = its
	res.IPMTime = time.Since(tI)
	if (st == Solved || st == SolvedInaccurate || st == Stalled) && !s.set.DisablePolish &&
		!(s.set.TimeLimit > 0 && time.Since(t0) >= s.set.TimeLimit) {
		tp := time.Now()
		if _, ok := s.polish(rs); ok {
			res.Polished = true
		}
		res.PolishTime += time.Since(tp)
	}
	return s.finish(res, t0, st, Stalled)
}

// ipmRun iterates Mehrotra's predictor–corrector from a central starting
// point; it leaves the answer as the scaled ADMM iterate (x, z = clip(Ax), y)
// and returns the status, the residuals there and the iteration count.
func (s *Solver) ipmRun(t0 time.Time) (Status, resid, int) {
	set := s.set
	w := s.ipm
	s.epsScale = 1
	nc := s.ipmClassify()
	status := IterationLimit
	if !s.ipmStart() {
		status = Stalled
	}
	stall := 0
	it := 0
	var st ipmState
	for status != Stalled {
		st = s.ipmResiduals(nc)
		if st.prim <= st.epsPrim && st.dual <= st.epsDual && st.gap <= st.gapTol && s.ipmPointConverged() {
			status = Solved
			break
		}
		if it > 0 && st.prim > st.epsPrim && s.ipmPrimalInfeasible() {
			status = PrimalInfeasible
			break
		}
		if it > 0 && st.dual > st.epsDual && s.ipmDualInfeasible() {
			status = DualInfeasible
			break
		}
		if it >= set.IPMMaxIter {
			break
		}
		if set.TimeLimit > 0 && time.Since(t0) >= set.TimeLimit {
			status = TimeLimit
			break
		}
		it++
		if !s.ipmFactor() {
			status = Stalled
			break
		}
		// Predictor (affine scaling) step.
		s.ipmDirection(0, false)
		a := s.ipmStepLength()
		sigma := 0.0
		if nc > 0 && st.mu > 0 {
			muAff := 0.0
			for i, k := range w.kind {
				if hasLower(k) {
					muAff += (w.sL[i] + a*w.dsL[i]) * (w.zL[i] + a*w.dzL[i])
				}
				if hasUpper(k) {
					muAff += (w.sU[i] + a*w.dsU[i]) * (w.zU[i] + a*w.dzU[i])
				}
			}
			muAff /= float64(nc)
			sigma = math.Min(1, math.Pow(math.Max(muAff, 0)/st.mu, 3))
		}
		for i := range w.kind {
			w.pL[i] = w.dsL[i] * w.dzL[i]
			w.pU[i] = w.dsU[i] * w.dzU[i]
		}
		// Centring–corrector step.
		s.ipmDirection(sigma*st.mu, true)
		a = math.Min(1, ipmEta*s.ipmStepLength())
		s.ipmUpdate(a)
		if a < ipmStallStep {
			stall++
			if stall >= ipmStallIter {
				status = Stalled
				st = s.ipmResiduals(nc)
				break
			}
		} else {
			stall = 0
		}
	}
	if status == PrimalInfeasible || status == DualInfeasible {
		return status, resid{}, it
	}
	// Hand the point over in ADMM's variables.
	s.ipmMultipliers()
	s.aMul(s.x, s.z)
	s.project(s.z)
	rs := s.residuals(s.x, s.z, s.y)
	if (status == IterationLimit || status == TimeLimit || status == Stalled) &&
		rs.within(10) && st.gap <= 10*st.gapTol {
		status = SolvedInaccurate
	}
	return status, rs, it
}

// ipmPointConverged judges the point the method would hand over — x, z =
// clip(Ax), y from the multipliers — by the measures Solve reports, the
// duality gap xᵀPx + qᵀx + S(y) among them. The method's own gap is the
// complementarity sᵀz, which is zero on a problem with equality rows only
// (DPKLO1): there the primal residual can meet its tolerance while |y| is
// large enough that yᵀ(b − Ax) does not, and one more Newton step fixes it.
func (s *Solver) ipmPointConverged() bool {
	s.ipmMultipliers()
	s.aMul(s.x, s.z)
	s.project(s.z)
	return s.residuals(s.x, s.z, s.y).converged()
}

// ipmClassify sorts the rows and returns the number of finite inequality sides.
func (s *Solver) ipmClassify() int {
	w := s.ipm
	nc := 0
	for i := range s.m {
		lo, up := s.l0[i] > -absentBound, s.u0[i] < absentBound
		switch {
		case lo && up && s.l0[i] == s.u0[i]:
			w.kind[i] = rowEq
		case lo && up:
			w.kind[i] = rowRange
			nc += 2
		case lo:
			w.kind[i] = rowLower
			nc++
		case up:
			w.kind[i] = rowUpper
			nc++
		default:
			w.kind[i] = rowFree
		}
	}
	return nc
}

// ipmStart picks x minimising ½xᵀPx + qᵀx + ½‖Ax − t‖² with t inside each
// row's bounds, then slacks from Ax and unit multipliers, both at least
// ipmStartSlack.
func (s *Solver) ipmStart() bool {
	w := s.ipm
	for i, k := range w.kind {
		w.w[i], w.v[i] = 1, 0
		switch k {
		case rowFree:
			w.w[i] = 0
		case rowEq, rowLower:
			w.v[i] = s.ls[i]
		case rowUpper:
			w.v[i] = s.us[i]
		case rowRange:
			w.v[i] = 0.5 * (s.ls[i] + s.us[i])
		}
	}
	if !s.ipmFactorWeights() {
		return false
	}
	for j := range s.n {
		s.x[j] = -s.qs[j]
	}
	s.atMul(w.v, 1, s.x)
	s.solveNormal(&w.k, s.x)
	s.aMul(s.x, w.t)
	// Mehrotra's heuristic: slacks from Ax, multipliers from the penalty
	// ½‖Ax − t‖² (its gradient Ax − t plays y), both shifted positive and
	// then balanced so that no product sᵢzᵢ starts far from the others.
	minS, minZ := math.Inf(1), math.Inf(1)
	for i, k := range w.kind {
		w.sL[i], w.zL[i], w.sU[i], w.zU[i], w.ye[i] = 0, 0, 0, 0, 0
		y := w.t[i] - w.v[i]
		if k == rowEq {
			w.ye[i] = y
		}
		if hasLower(k) {
			w.sL[i], w.zL[i] = w.t[i]-s.ls[i], -y
			minS, minZ = math.Min(minS, w.sL[i]), math.Min(minZ, w.zL[i])
		}
		if hasUpper(k) {
			w.sU[i], w.zU[i] = s.us[i]-w.t[i], y
			minS, minZ = math.Min(minS, w.sU[i]), math.Min(minZ, w.zU[i])
		}
	}
	ds, dz := math.Max(-1.5*minS, 0), math.Max(-1.5*minZ, 0)
	var sz, sumS, sumZ float64
	for i, k := range w.kind {
		if hasLower(k) {
			w.sL[i] += ds
			w.zL[i] += dz
			sz += w.sL[i] * w.zL[i]
			sumS += w.sL[i]
			sumZ += w.zL[i]
		}
		if hasUpper(k) {
			w.sU[i] += ds
			w.zU[i] += dz
			sz += w.sU[i] * w.zU[i]
			sumS += w.sU[i]
			sumZ += w.zU[i]
		}
	}
	ds, dz = ipmStartSlack, ipmStartSlack
	if sz > 0 && sumS > 0 && sumZ > 0 {
		ds, dz = math.Max(0.5*sz/sumZ, ipmStartMin), math.Max(0.5*sz/sumS, ipmStartMin)
	}
	for i, k := range w.kind {
		if hasLower(k) {
			w.sL[i] += ds
			w.zL[i] += dz
		}
		if hasUpper(k) {
			w.sU[i] += ds
			w.zU[i] += dz
		}
	}
	return true
}

// ipmMultipliers writes the caller-sign multipliers into s.y (scaled).
func (s *Solver) ipmMultipliers() {
	w := s.ipm
	for i, k := range w.kind {
		switch k {
		case rowEq:
			s.y[i] = w.ye[i]
		case rowFree:
			s.y[i] = 0
		default:
			s.y[i] = w.zU[i] - w.zL[i]
		}
	}
}

// ipmState is one iterate's measure: residuals and tolerances in caller
// units, the duality gap and its tolerance, and μ (scaled).
type ipmState struct {
	prim, dual, epsPrim, epsDual float64
	gap, gapTol, mu              float64
}

// ipmResiduals computes r_d, r_L, r_U (r_E) and the convergence measures.
func (s *Solver) ipmResiduals(nc int) ipmState {
	w := s.ipm
	s.ipmMultipliers()
	ax := w.t
	s.aMul(s.x, ax)
	var st ipmState
	var nAx, nZ, sz float64
	for i, k := range w.kind {
		ei := s.einv[i]
		nAx = math.Max(nAx, ei*math.Abs(ax[i]))
		nZ = math.Max(nZ, ei*math.Abs(math.Min(math.Max(ax[i], s.ls[i]), s.us[i])))
		r := 0.0
		switch k {
		case rowEq:
			w.rl[i] = ax[i] - s.ls[i]
			r = math.Abs(w.rl[i])
		case rowFree:
		default:
			if hasLower(k) {
				w.rl[i] = ax[i] - w.sL[i] - s.ls[i]
				r = math.Abs(w.rl[i])
				sz += w.sL[i] * w.zL[i]
			}
			if hasUpper(k) {
				w.ru[i] = ax[i] + w.sU[i] - s.us[i]
				r = math.Max(r, math.Abs(w.ru[i]))
				sz += w.sU[i] * w.zU[i]
			}
		}
		st.prim = math.Max(st.prim, ei*r)
	}
	px, aty := w.r1, w.ddx
	s.pMul(s.x, 0, px)
	s.atMul(s.y, 0, aty)
	var nPx, nAty, nQ, f0 float64
	for j := range s.n {
		di := s.dinv[j]
		w.rd[j] = px[j] + s.qs[j] + aty[j]
		st.dual = math.Max(st.dual, di*math.Abs(w.rd[j]))
		nPx = math.Max(nPx, di*math.Abs(px[j]))
		nAty = math.Max(nAty, di*math.Abs(aty[j]))
		nQ = math.Max(nQ, di*math.Abs(s.qs[j]))
		f0 += s.x[j] * (0.5*px[j] + s.qs[j])
	}
	ic := 1 / s.c
	st.dual *= ic
	st.epsPrim = s.set.EpsAbs + s.set.EpsRel*math.Max(nAx, nZ)
	st.epsDual = s.set.EpsAbs + s.set.EpsRel*ic*math.Max(nPx, math.Max(nAty, nQ))
	st.gap = sz * ic
	st.gapTol = s.set.EpsGap * math.Max(1, math.Abs(f0*ic))
	if nc > 0 {
		st.mu = sz / float64(nc)
	}
	return st
}

// ipmFactor sets the Newton weights from the iterate and factors.
func (s *Solver) ipmFactor() bool {
	w := s.ipm
	for i, k := range w.kind {
		switch k {
		case rowFree:
			w.w[i] = 0
		case rowEq:
			w.w[i] = 0 // set below
		default:
			wi := 0.0
			if hasLower(k) {
				wi += w.zL[i] / w.sL[i]
			}
			if hasUpper(k) {
				wi += w.zU[i] / w.sU[i]
			}
			w.w[i] = wi
		}
	}
	// Equality rows: 1/δ. (A weight tied to the largest inequality weight
	// made the factor worse on QADLITTL and QBANDM.)
	w.eqW = 1 / ipmEqReg
	for i, k := range w.kind {
		if k == rowEq {
			w.w[i] = w.eqW
		}
	}
	return s.ipmFactorWeights()
}

// ipmFactorWeights factors P + ρI + Aᵀdiag(w)A. When rounding breaks the
// factorisation (weights span 20 orders of magnitude near the end), each
// diagonal entry is raised by a growing relative amount instead; refinement
// against the exact system removes the perturbation from the step.
func (s *Solver) ipmFactorWeights() bool {
	w := s.ipm
	w.reg = 0
	for rel := 0.0; rel <= ipmMaxReg; rel = math.Max(100*rel, 1e-12) {
		if s.factorNormal(&w.k, w.w, nil, ipmReg, rel, ipmSparseReg) {
			w.reg = rel
			return true
		}
	}
	return false
}

// ipmDirection computes the Newton direction for complementarity target
// sigmaMu, adding the affine products pL, pU when corr is set.
func (s *Solver) ipmDirection(sigmaMu float64, corr bool) {
	w := s.ipm
	rc := func(sv, zv, p float64) float64 {
		r := sv*zv - sigmaMu
		if corr {
			r += p
		}
		return r
	}
	// Row part of the right-hand side: dyᵢ = Wᵢ·Aᵢdx + gᵢ, written as
	// Aᵢdx − dyᵢ/Wᵢ = −gᵢ/Wᵢ so that no product with a huge Wᵢ appears.
	for i, k := range w.kind {
		w.r2[i] = 0
		switch k {
		case rowEq:
			w.r2[i] = -w.rl[i]
		case rowFree:
		default:
			g := 0.0
			if hasLower(k) {
				g += (rc(w.sL[i], w.zL[i], w.pL[i]) + w.zL[i]*w.rl[i]) / w.sL[i]
			}
			if hasUpper(k) {
				g += (-rc(w.sU[i], w.zU[i], w.pU[i]) + w.zU[i]*w.ru[i]) / w.sU[i]
			}
			w.r2[i] = -g / w.w[i]
		}
	}
	for j := range s.n {
		w.rhs[j] = -w.rd[j]
	}
	s.ipmNewton()
	s.aMul(w.dx, w.t)
	for i, k := range w.kind {
		w.dsL[i], w.dzL[i], w.dsU[i], w.dzU[i] = 0, 0, 0, 0
		if hasLower(k) {
			w.dsL[i] = w.t[i] + w.rl[i]
			w.dzL[i] = (-rc(w.sL[i], w.zL[i], w.pL[i]) - w.zL[i]*w.dsL[i]) / w.sL[i]
		}
		if hasUpper(k) {
			w.dsU[i] = -w.ru[i] - w.t[i]
			w.dzU[i] = (-rc(w.sU[i], w.zU[i], w.pU[i]) - w.zU[i]*w.dsU[i]) / w.sU[i]
		}
		// dy = dzU − dzL was solved for directly; the side with the larger
		// weight (the active one) takes it, the other keeps its formula,
		// whose error is not amplified.
		switch k {
		case rowLower:
			w.dzL[i] = -w.dye[i]
		case rowUpper:
			w.dzU[i] = w.dye[i]
		case rowRange:
			if w.zL[i]/w.sL[i] >= w.zU[i]/w.sU[i] {
				w.dzL[i] = w.dzU[i] - w.dye[i]
			} else {
				w.dzU[i] = w.dye[i] + w.dzL[i]
			}
		}
	}
}

// ipmNewton solves the regularised Newton system (see ipmOperator)
//
//	(P + ρI + AᵢᵀWAᵢ) dx + A_Eᵀ dy_E = rhs,  A_E dx − δ dy_E = r2 (equality rows)
//
// for dx and dye by restarted GMRES, right-preconditioned with the factor in
// k. Usually the factor is exact and one iteration suffices; when rounding
// forced a relative diagonal shift, plain iterative refinement stalls (a few
// eigenvalues of the preconditioned operator sit near 0) where GMRES needs a
// few more iterations. Vectors are (x part, n) ++ (row part, m).
func (s *Solver) ipmNewton() {
	w := s.ipm
	n, m := s.n, s.m
	nm := n + m
	b := w.gb
	copy(b[:n], w.rhs)
	copy(b[n:], w.r2)
	bn := nrm2(b)
	sol := w.gx
	clear(sol)
	if bn == 0 {
		s.ipmSplit(sol)
		return
	}
	kmax := ipmKrylov
	r := w.gr
	for restart := 0; restart < ipmRestarts; restart++ {
		if restart == 0 {
			copy(r, b)
		} else {
			s.ipmOperator(sol, r)
			for i := range r {
				r[i] = b[i] - r[i]
			}
		}
		beta := nrm2(r)
		if beta <= ipmKrylovTol*bn {
			break
		}
		v0 := w.gv[:nm]
		for i := range r {
			v0[i] = r[i] / beta
		}
		clear(w.gg)
		w.gg[0] = beta
		j := 0
		for j < kmax {
			vj := w.gv[j*nm : (j+1)*nm]
			vn := w.gv[(j+1)*nm : (j+2)*nm]
			copy(w.gz, vj)
			s.ipmPrecond(w.gz)
			s.ipmOperator(w.gz, vn)
			h := w.gh[j*(kmax+1) : (j+1)*(kmax+1)] // column j
			for i := 0; i <= j; i++ {
				vi := w.gv[i*nm : (i+1)*nm]
				d := dot(vn, vi)
				h[i] = d
				for t := range vn {
					vn[t] -= d * vi[t]
				}
			}
			hn := nrm2(vn)
			h[j+1] = hn
			if hn > 0 {
				for t := range vn {
					vn[t] /= hn
				}
			}
			for i := 0; i < j; i++ {
				h[i], h[i+1] = w.gc[i]*h[i]+w.gs[i]*h[i+1], -w.gs[i]*h[i]+w.gc[i]*h[i+1]
			}
			rr := math.Hypot(h[j], h[j+1])
			if rr == 0 {
				break
			}
			w.gc[j], w.gs[j] = h[j]/rr, h[j+1]/rr
			h[j], h[j+1] = rr, 0
			w.gg[j], w.gg[j+1] = w.gc[j]*w.gg[j], -w.gs[j]*w.gg[j]
			j++
			if math.Abs(w.gg[j]) <= ipmKrylovTol*bn || hn == 0 {
				break
			}
		}
		// y = H⁻¹g (upper triangular), u = V y, sol += M⁻¹u.
		for i := j - 1; i >= 0; i-- {
			t := w.gg[i]
			for k := i + 1; k < j; k++ {
				t -= w.gh[k*(kmax+1)+i] * w.gy[k]
			}
			w.gy[i] = t / w.gh[i*(kmax+1)+i]
		}
		u := w.gz
		clear(u)
		for i := 0; i < j; i++ {
			vi := w.gv[i*nm : (i+1)*nm]
			for t := range u {
				u[t] += w.gy[i] * vi[t]
			}
		}
		s.ipmPrecond(u)
		for t := range sol {
			sol[t] += u[t]
		}
	}
	s.ipmSplit(sol)
}

// ipmSplit copies a stacked (dx, dy) into dx and dye.
func (s *Solver) ipmSplit(v []float64) {
	w := s.ipm
	copy(w.dx, v[:s.n])
	copy(w.dye, v[s.n:])
}

// ipmOperator: out = [P + ρI, Aᵀ; A, −W⁻¹]·v on stacked vectors (free rows
// dropped, W = 1/δ on equality rows): the primal–dual regularised Newton
// matrix in augmented form, whose entries stay moderate however large W
// grows. The regularisation is part of the method (a proximal term that keeps
// the step bounded in directions the problem leaves free); GMRES only removes
// the extra diagonal shift and the rounding of the factorisation.
func (s *Solver) ipmOperator(v, out []float64) {
	w := s.ipm
	n := s.n
	dy := v[n:]
	s.aMul(v[:n], w.t)
	for i, k := range w.kind {
		w.v[i] = 0
		out[n+i] = 0
		if k != rowFree {
			w.v[i] = dy[i]
			out[n+i] = w.t[i] - dy[i]/w.w[i]
		}
	}
	for j := range n {
		out[j] = ipmReg * v[j]
	}
	s.pMul(v[:n], 1, out[:n])
	s.atMul(w.v, 1, out[:n])
}

// ipmPrecond overwrites v with the regularised system's solution: through
// the normal matrix, dx = M⁻¹(v₁ + Aᵀ W v₂), dy = W(A dx − v₂), or with the
// sparse KKT factor in one solve.
func (s *Solver) ipmPrecond(v []float64) {
	w := s.ipm
	n := s.n
	if s.sp != nil {
		// The KKT factor solves the augmented system directly: no product
		// with W, whose entries reach 1e10 near the end, amplifies its error.
		w.k.f.solve(v)
		for i, k := range w.kind {
			if k == rowFree {
				v[n+i] = 0
			}
		}
		return
	}
	for i := range w.kind {
		w.v[i] = v[n+i] * w.w[i] // w.w is 0 on free rows
	}
	s.atMul(w.v, 1, v[:n])
	s.solveNormal(&w.k, v[:n])
	s.aMul(v[:n], w.t)
	for i := range w.kind {
		v[n+i] = (w.t[i] - v[n+i]) * w.w[i]
	}
}

func dot(a, b []float64) float64 {
	return blas64.Dot(blas64.Vector{N: len(a), Inc: 1, Data: a}, blas64.Vector{N: len(b), Inc: 1, Data: b})
}

func nrm2(a []float64) float64 {
	return blas64.Nrm2(blas64.Vector{N: len(a), Inc: 1, Data: a})
}

// ipmStepLength is the largest step in (0, 1] keeping slacks and
// multipliers nonnegative along the current direction.
func (s *Solver) ipmStepLength() float64 {
	w := s.ipm
	a := 1.0
	lim := func(v, dv float64) {
		if dv < 0 {
			a = math.Min(a, -v/dv)
		}
	}
	for i, k := range w.kind {
		if hasLower(k) {
			lim(w.sL[i], w.dsL[i])
			lim(w.zL[i], w.dzL[i])
		}
		if hasUpper(k) {
			lim(w.sU[i], w.dsU[i])
			lim(w.zU[i], w.dzU[i])
		}
	}
	return a
}

func (s *Solver) ipmUpdate(a float64) {
	w := s.ipm
	for j := range s.n {
		s.x[j] += a * w.dx[j]
	}
	for i, k := range w.kind {
		if k == rowEq {
			w.ye[i] += a * w.dye[i]
			continue
		}
		if hasLower(k) {
			w.sL[i] += a * w.dsL[i]
			w.zL[i] += a * w.dzL[i]
		}
		if hasUpper(k) {
			w.sU[i] += a * w.dsU[i]
			w.zU[i] += a * w.dzU[i]
		}
	}
}

// ipmPrimalInfeasible tests the multipliers themselves as a Farkas
// certificate: when the constraints are inconsistent they grow without bound
// along one.
func (s *Solver) ipmPrimalInfeasible() bool {
	clear(s.yPrev)
	return s.primalInfeasible()
}

// ipmDualInfeasible tests x itself as a direction of unbounded descent: on
// an unbounded problem the iterate runs off along one.
func (s *Solver) ipmDualInfeasible() bool {
	clear(s.xPrev)
	return s.dualInfeasible()
}
