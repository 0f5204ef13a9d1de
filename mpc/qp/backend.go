package qp

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"
)

// LinearAlgebra chooses how the solver stores matrices and solves its
// linear systems.
type LinearAlgebra int

const (
	// LinearAuto (the default) picks LinearSparse for problems with
	// n+m > sparseMinSize whose P and A fill at most sparseMaxDensity of
	// their dense size, LinearDense otherwise.
	LinearAuto LinearAlgebra = iota
	// LinearDense stores P and A densely and factors the n×n normal matrix
	// P + σI + AᵀWA by Cholesky: fastest for the planner's small dense QPs.
	LinearDense
	// LinearSparse stores P and A in compressed columns and factors the
	// quasi-definite (n+m)×(n+m) KKT matrix [P + σI, Aᵀ; A, −W⁻¹] by sparse
	// LDLᵀ under a minimum-degree ordering computed once in New.
	LinearSparse
)

const (
	sparseMinSize    = 250
	sparseMaxDensity = 0.1
	// sparseDrop is W⁻¹ for rows outside the system (polish: inactive rows;
	// IPM: free rows): their multiplier is A·x/1e30 = 0.
	sparseDrop = 1e30
)

// ParseLinearAlgebra reads "auto", "dense" or "sparse".
func ParseLinearAlgebra(s string) (LinearAlgebra, error) {
	for _, l := range []LinearAlgebra{LinearAuto, LinearDense, LinearSparse} {
		if l.String() == s {
			return l, nil
		}
	}
	return 0, fmt.Errorf("qp: linear algebra %q, want auto, dense or sparse", s)
}

func (l LinearAlgebra) String() string {
	switch l {
	case LinearAuto:
		return "auto"
	case LinearDense:
		return "dense"
	case LinearSparse:
		return "sparse"
	}
	return fmt.Sprintf("LinearAlgebra(%d)", int(l))
}

// sparseData is the solver's sparse storage: the caller's P (both
// triangles) and A, their scaled copies with the same patterns, and the KKT
// pattern with maps from P's upper triangle, A and the diagonal into it.
type sparseData struct {
	p0, a0, ps, as *CSC
	kn             int   // n + m
	kcp, kri       []int // KKT upper triangle by columns
	pPos           []int // for each entry of ps: its KKT slot, −1 below the diagonal
	aPos           []int // for each entry of as: its KKT slot
	diag           []int // KKT slot of each diagonal entry
	pDiag          []int // ps entry index of P's diagonal (−1: structural zero)
	sym            *ldl  // symbolic factor; numeric factors share its structure
	want           []int8
	rhs            []float64
}

// normal is a factorisation of the normal matrix P + shift·I + AᵀWA: the
// dense upper Cholesky factor, or the sparse LDLᵀ of the KKT matrix.
type normal struct {
	k []float64
	f *ldl
}

func (s *Solver) newNormal() normal {
	if s.sp != nil {
		return normal{f: s.sp.sym.numeric()}
	}
	return normal{k: make([]float64, s.n*s.n)}
}

// setupSparse builds the sparse storage from the caller's matrices.
func (s *Solver) setupSparse(pm, am *CSC) {
	n, m := s.n, s.m
	sp := &sparseData{p0: pm.clone(), a0: am.clone(), kn: n + m}
	sp.ps, sp.as = sp.p0.clone(), sp.a0.clone()
	at := sp.a0.transpose() // column i of Aᵀ: row i of A
	// Positions of A's entries inside Aᵀ, to map them into the KKT columns.
	atPos := make([]int, sp.a0.NNZ())
	{
		next := append([]int(nil), at.ColPtr[:m]...)
		for j := range n {
			for k := sp.a0.ColPtr[j]; k < sp.a0.ColPtr[j+1]; k++ {
				i := sp.a0.RowIdx[k]
				atPos[k] = next[i]
				next[i]++
			}
		}
	}
	kcp := make([]int, n+m+1)
	var kri []int
	sp.pPos = make([]int, sp.p0.NNZ())
	sp.pDiag = make([]int, n)
	sp.diag = make([]int, n+m)
	for j := range n {
		sp.pDiag[j] = -1
		hasDiag := false
		for k := sp.p0.ColPtr[j]; k < sp.p0.ColPtr[j+1]; k++ {
			i := sp.p0.RowIdx[k]
			sp.pPos[k] = -1
			if i > j {
				continue
			}
			if i == j {
				hasDiag = true
				sp.pDiag[j] = k
				sp.diag[j] = len(kri)
			}
			sp.pPos[k] = len(kri)
			kri = append(kri, i)
		}
		if !hasDiag {
			sp.diag[j] = len(kri)
			kri = append(kri, j)
		}
		kcp[j+1] = len(kri)
	}
	atSlot := make([]int, at.NNZ())
	for i := range m {
		for k := at.ColPtr[i]; k < at.ColPtr[i+1]; k++ {
			atSlot[k] = len(kri)
			kri = append(kri, at.RowIdx[k])
		}
		sp.diag[n+i] = len(kri)
		kri = append(kri, n+i)
		kcp[n+i+1] = len(kri)
	}
	sp.aPos = make([]int, sp.a0.NNZ())
	for k := range sp.aPos {
		sp.aPos[k] = atSlot[atPos[k]]
	}
	sym, src := newLDL(n+m, kcp, kri)
	// Store the maps in the permuted layout directly.
	for k, v := range sp.pPos {
		if v >= 0 {
			sp.pPos[k] = src[v]
		}
	}
	for k, v := range sp.aPos {
		sp.aPos[k] = src[v]
	}
	for k, v := range sp.diag {
		sp.diag[k] = src[v]
	}
	sp.kcp, sp.kri = kcp, kri
	sp.sym = sym
	sp.want = make([]int8, n+m)
	for j := range n + m {
		sp.want[j] = 1
		if j >= n {
			sp.want[j] = -1
		}
	}
	sp.rhs = make([]float64, n+m)
	s.sp = sp
}

// numeric returns a factor sharing f's symbolic analysis with its own values.
func (f *ldl) numeric() *ldl {
	g := *f
	g.cv = make([]float64, len(f.cv))
	g.lx = make([]float64, len(f.lx))
	g.li = make([]int, len(f.li))
	g.lnz = make([]int, f.n)
	g.d = make([]float64, f.n)
	g.dinv = make([]float64, f.n)
	g.y = make([]float64, f.n)
	g.flag = make([]int, f.n)
	g.pattern = make([]int, f.n)
	g.x = make([]float64, f.n)
	return &g
}

// factorNormal factors P + shift·I + Σᵢ wᵢ·aᵢaᵢᵀ (rows with act[i] == 0
// left out when act is non-nil), with every diagonal entry of the result
// raised by the relative amount rel. It reports false when the matrix is not
// positive definite to working precision. The sparse KKT factor adds the
// static regularisation reg to the (1,1) block and −reg to the (2,2) block,
// which keeps its pivots away from zero when W spans many decades; callers
// that need the exact system refine against it (the interior point's GMRES).
func (s *Solver) factorNormal(nf *normal, w []float64, act []int8, shift, rel, reg float64) bool {
	if s.sp == nil {
		n := s.n
		s.buildNormal(nf.k, w, act, shift)
		if rel > 0 {
			for j := range n {
				nf.k[j*n+j] *= 1 + rel
			}
		}
		_, ok := lapack64.Potrf(s.sym(nf.k))
		return ok
	}
	sp := s.sp
	f := nf.f
	cv := f.cv
	clear(cv)
	n := s.n
	for k, pos := range sp.pPos {
		if pos >= 0 {
			cv[pos] = sp.ps.Val[k]
		}
	}
	for j := range n {
		cv[sp.diag[j]] += shift + reg
	}
	for k, pos := range sp.aPos {
		cv[pos] = sp.as.Val[k]
	}
	for i := range s.m {
		wi := w[i]
		if (act != nil && act[i] == 0) || wi == 0 {
			cv[sp.diag[n+i]] = -sparseDrop
			continue
		}
		cv[sp.diag[n+i]] = -1/wi - reg
	}
	if rel > 0 {
		// The normal matrix's diagonal: P_jj + shift + Σᵢ wᵢ·A_ij².
		for j := range n {
			dj := cv[sp.diag[j]]
			for k := sp.as.ColPtr[j]; k < sp.as.ColPtr[j+1]; k++ {
				i := sp.as.RowIdx[k]
				if (act == nil || act[i] != 0) && w[i] != 0 {
					dj += w[i] * sp.as.Val[k] * sp.as.Val[k]
				}
			}
			cv[sp.diag[j]] += rel * dj
		}
	}
	return f.factor(sp.want)
}

// solveNormal overwrites b (length n) with the normal matrix's inverse
// applied to it.
func (s *Solver) solveNormal(nf *normal, b []float64) {
	if s.sp == nil {
		t := blas64.Triangular{N: s.n, Stride: s.n, Data: nf.k, Uplo: blas.Upper, Diag: blas.NonUnit}
		v := blas64.Vector{N: s.n, Inc: 1, Data: b}
		blas64.Trsv(blas.Trans, t, v)
		blas64.Trsv(blas.NoTrans, t, v)
		return
	}
	r := s.sp.rhs
	copy(r, b)
	clear(r[s.n:])
	nf.f.solve(r)
	copy(b, r[:s.n])
}

// aMul: dst = As·x.
func (s *Solver) aMul(x, dst []float64) {
	if s.sp != nil {
		clear(dst)
		s.sp.as.mulAdd(x, dst)
		return
	}
	s.matVec(s.as, s.m, x, dst)
}

// pMul: dst = beta·dst + Ps·x.
func (s *Solver) pMul(x []float64, beta float64, dst []float64) {
	if s.sp != nil {
		if beta == 0 {
			clear(dst)
		} else if beta != 1 {
			for j := range dst {
				dst[j] *= beta
			}
		}
		s.sp.ps.mulAdd(x, dst)
		return
	}
	blas64.Gemv(blas.NoTrans, 1, blas64.General{Rows: s.n, Cols: s.n, Stride: s.n, Data: s.ps},
		blas64.Vector{N: s.n, Inc: 1, Data: x}, beta, blas64.Vector{N: s.n, Inc: 1, Data: dst})
}

// atMul: dst = beta·dst + Asᵀ·y.
func (s *Solver) atMul(y []float64, beta float64, dst []float64) {
	if s.sp != nil {
		s.sp.as.tMul(y, beta, dst)
		return
	}
	s.matTVec(y, beta, dst)
}

// scaleSparse is scale for sparse storage (same iteration, see scale).
func (s *Solver) scaleSparse() {
	sp := s.sp
	n, m := s.n, s.m
	copy(sp.ps.Val, sp.p0.Val)
	copy(sp.as.Val, sp.a0.Val)
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
	ps, as := sp.ps, sp.as
	dt, et := s.wn, s.wm
	colMax := func(c *CSC, j int) float64 {
		r := 0.0
		for k := c.ColPtr[j]; k < c.ColPtr[j+1]; k++ {
			r = math.Max(r, math.Abs(c.Val[k]))
		}
		return r
	}
	for range iters {
		clear(et)
		for j := range n {
			dt[j] = math.Max(colMax(ps, j), colMax(as, j))
			for k := as.ColPtr[j]; k < as.ColPtr[j+1]; k++ {
				i := as.RowIdx[k]
				et[i] = math.Max(et[i], math.Abs(as.Val[k]))
			}
		}
		for j := range n {
			dt[j] = 1 / math.Sqrt(limitScaling(dt[j]))
		}
		for i := range m {
			et[i] = 1 / math.Sqrt(limitScaling(et[i]))
		}
		for j := range n {
			for k := ps.ColPtr[j]; k < ps.ColPtr[j+1]; k++ {
				ps.Val[k] *= dt[ps.RowIdx[k]] * dt[j]
			}
			for k := as.ColPtr[j]; k < as.ColPtr[j+1]; k++ {
				as.Val[k] *= et[as.RowIdx[k]] * dt[j]
			}
			s.qs[j] *= dt[j]
			s.d[j] *= dt[j]
		}
		for i := range m {
			s.e[i] *= et[i]
		}
		mean := 0.0
		for j := range n {
			mean += colMax(ps, j)
		}
		scaleSlice(ps.Val, s.scaleCost(mean/float64(n)))
	}
	s.finishScaling()
}

// gather copies the dense row-major d (rows×cols) into c's pattern and
// reports an entry outside it.
func gather(name string, c *CSC, d []float64) error {
	cols := c.Cols
	nz := 0
	for j := range cols {
		for k := c.ColPtr[j]; k < c.ColPtr[j+1]; k++ {
			c.Val[k] = d[c.RowIdx[k]*cols+j]
		}
	}
	for _, v := range d {
		if v != 0 {
			nz++
		}
	}
	stored := 0
	for _, v := range c.Val {
		if v != 0 {
			stored++
		}
	}
	if nz != stored {
		return fmt.Errorf("qp: %s has %d nonzeros outside the sparsity pattern given to New", name, nz-stored)
	}
	return nil
}
