// Package dense solves the small dense linear systems of the controllers'
// inner loops: Cholesky factorisation and solve of an n×n symmetric
// positive definite matrix (row-major []float64, lower triangle used), and
// the inverse of a 3×3 matrix. Nothing here allocates, so the IK solver,
// the MPC's catch-point search, the ES policy's features, the estimator
// and the forecaster's window fit can call it every control tick; gonum's
// mat package serves the larger problems elsewhere.
//
// A matrix that is not positive definite is reported (Factor returns
// false) but still factorised, with non-positive pivots raised to a tiny
// positive value, so a caller that can live with a regularised solution
// (a Levenberg step, a least-norm direction) may go on.
package dense
