// Package qp is a convex quadratic-programming solver for the MPC
// planner's SQP subproblems (dense, by the active-set method) and for larger
// sparse problems:
//
//	minimize ½xᵀPx + qᵀx + r  subject to  l ≤ Ax ≤ u
//
// P (n×n, symmetric positive semidefinite) and A (m×n) are dense row-major
// slices in a Problem, or compressed sparse columns (Problem.SparseP,
// SparseA; ReadJSON uses them for large files); equalities are rows with l = u, and a bound with
// magnitude ≥ Infinity/2 (Infinity = 1e20) is absent. Units are whatever the caller's
// problem uses; the solver scales internally and reports everything
// (solution, multipliers, residuals, objective) back in the caller's units.
//
// # Flow
//
// New validates the problem (errors name the bad field: dimensions, NaN,
// l > u, asymmetric P, indefinite P), allocates every buffer, scales and
// factors. Between solves, UpdateQ and UpdateBounds change vectors in O(n+m);
// UpdateP and UpdateA change matrix values (same shape) and rescale and
// refactor. WarmStart(x, y) and ColdStart choose the starting point; by
// default a Solve starts from the previous solution, which is what an SQP
// wants. Solve returns a Result whose Status (Solved, SolvedInaccurate,
// PrimalInfeasible, DualInfeasible, IterationLimit, TimeLimit) is an outcome,
// not an error. Result.X and Result.Y alias solver-owned buffers overwritten
// by the next Solve. After New, Update*, WarmStart, ColdStart and Solve
// allocate nothing.
//
// ReadJSON and (*Problem).WriteJSON use the Maros–Meszaros JSON layout (COO
// triplets), so a planner can dump a failed or slow QP and `catch qp solve`
// can replay it.
//
// # Method
//
// The solver is OSQP's ADMM (Stellato et al., 2020) on dense data:
// Ruiz equilibration of the KKT matrix plus cost scaling; each iteration
// solves (P + σI + Aᵀdiag(ρ)A)x̃ = σx − q + Aᵀ(ρz − y) with a cached Cholesky
// factor (gonum's blas64/lapack64 on flat slices; building AᵀρA skips zero
// entries so sparse rows stay cheap), over-relaxation α = 1.6, a stiffer ρ on
// equality rows, ρ re-estimated from the residual ratio and refactored when it
// moves more than 5×; primal (Farkas) and dual (unbounded direction)
// infeasibility certificates from successive iterate differences; and
// solution polishing: an equality-constrained QP on the active set guessed
// from (z, y), solved through regularised normal equations with iterative
// refinement against the exact KKT system. A polished point is accepted only
// when it meets 1% of every tolerance (a right active-set guess is exact to
// rounding; one that merely meets the tolerances came from a wrong guess).
// When polishing fails, ADMM goes on at 100× tighter tolerances and polishes
// again (PolishRetries).
//
// Settings.Method selects MethodIPM instead: a dense primal–dual
// interior-point method (Mehrotra predictor–corrector) on the same scaled
// data in slack form (each finite side of a row gets a slack and a
// multiplier, l = u rows stay equalities, rows with both bounds beyond
// ±Infinity/2 are dropped). Each iteration factors the normal matrix
// P + ρI + AᵀWA once (dense Cholesky, sparse rows cheap to assemble) and
// solves the regularised augmented Newton system with GMRES preconditioned by
// that factor, twice (predictor, corrector); it stops when both residuals meet
// EpsAbs/EpsRel and the duality gap meets EpsGap, detects infeasibility from
// diverging multipliers or iterates (the same certificates as ADMM), reports
// Stalled when it can make no progress, and polishes its answer like ADMM.
// MethodAuto runs ADMM and falls back to the interior point when ADMM ends
// neither Solved nor with an infeasibility certificate; it returns the
// interior-point answer when that is Solved or a certificate and otherwise
// the point with the smaller worst ratio of measure to tolerance, so never a
// worse point than it saw. Interior-point buffers are allocated by New
// only for these two methods; Solve allocates nothing in any method.
//
// MethodActiveSet is Goldfarb and Idnani's dual active-set method on dense
// storage: from the unconstrained minimiser it adds the most violated
// constraint side, drops sides whose multipliers would turn negative, and
// ends at the exact optimum after a finite number of O(n² + m·n) steps (or
// with a Farkas certificate, checked like ADMM's). It needs a P that factors
// (a semidefinite P is shifted slightly; the answer is judged on the true
// problem) and does not warm-start. It is the MPC planner's method: on the
// planner's QPs (n = 17, m = 86 with its elastic variable; 698 dumped from
// seed-3 trials of the seven scenarios) it takes 4 steps at the median (95%
// within 8, at most 27), exact to 1e-9 in the objective, in 19–20 µs at the
// median against 52 µs for OSQP 1.0 warm-started at eps 3e-3 and 77 µs at
// eps 1e-6 (under load; the planner damps the step and keeps every QP
// feasible itself; see package mpc).
//
// Why ADMM is the default of a Solver rather than the active set or the
// interior point: ADMM factors once per (P, A, ρ) and then each iteration
// costs two triangular solves and two products with A; it warm-starts, it
// degrades gracefully under a time limit (the iterate is always usable), it
// yields infeasibility certificates without a homogeneous embedding, and it
// has the sparse path for large problems. The active set suits small dense
// problems whose answer must be exact; its steps grow with the number of
// active constraints. ADMM's weakness is high accuracy on badly conditioned
// problems; polishing closes most of that gap, and MethodIPM or MethodAuto
// the rest (see scripts/qp-maros.sh for the Maros–Meszaros quality
// benchmark).
//
// # Linear algebra
//
// Settings.Linear chooses the storage and the linear solves; by default
// problems with n+m > 250 whose P and A fill at most 10% of their dense size
// go sparse. Dense: the n×n normal matrix P + σI + AᵀWA is built skipping
// zero entries and factored by Cholesky (gonum's lapack64), best for the
// planner's n ≈ 16–60. Sparse: P and A in compressed columns, and the
// quasi-definite KKT matrix [P + σI, Aᵀ; A, −W⁻¹] factored by an up-looking
// sparse LDLᵀ (Davis's LDL algorithm) under a minimum-degree ordering with
// AMD's postponement of dense rows, both written here: gonum has no sparse
// factorisation, and no maintained pure-Go sparse LDLᵀ exists to depend on.
// The ordering, elimination tree and column counts are computed once in New;
// ADMM (W = ρ), polishing (W = 1/δ on the active rows) and every
// interior-point iteration (W from the slacks) only refill values and
// refactor. The interior point solves its augmented Newton system with that
// factor directly as GMRES preconditioner (with a static regularisation of
// 1e-8 that GMRES removes).
//
// # Concurrency
//
// A Solver is not safe for concurrent use: keep one Solver per goroutine.
// Problems are copied by New, so the caller may reuse its slices.
package qp
