// Package ball models the flight of a thrown ball: gravity, quadratic drag,
// Magnus lift from spin and exponential spin decay, integrated with RK4.
//
// Units are SI throughout: positions in m (world frame: x toward the thrower,
// y to the robot's left, z up), velocities in m/s, spin in rad/s, time in s.
//
// The acceleration model is the one fitted by MPI-IS for table-tennis balls
// (intelligent-soft-robots/ball_models) and used for every ball here:
//
//	a = g + k_d |v| v + k_l (ω × v),   k_d = −½ρC_dA/m,  k_l = ½ρC_lAr/m,  A = πr²
//	dω/dt = −c ω
//
// C_l multiplies r(ω × v), so the effective lift coefficient is C_l·r|ω|/|v|
// (the spin-parameter form).
//
// Named property sets (Sets, ByName: foam, lacrosse, table-tennis, tennis)
// carry published masses and sizes; coefficients without a published
// measurement are marked as assumptions in sets.go. In YAML a ball is either
// a set name or a mapping of Props fields, where a set name fills the fields
// left out (ParseProps, Props.UnmarshalYAML).
//
// Fit fits C_d (and g) to recorded flights (Tracks) by least squares, each flight's
// initial state and spin solved with them; only the product of C_l and the spin is
// determined by positions, so C_l stays the base set's. Residuals checks a set on other
// flights. `catch fit ball` runs it and writes the fitted set as YAML. SpinTable turns the
// fitted flights into a SpinPrior: the spin of a new flight from those that started at a
// similar place and velocity (a launcher repeats its spins), for the estimator's track start.
//
// Props values are plain data (safe to copy and share between goroutines);
// Step and Propagate do not allocate. Estimate is the ball state and its
// covariance as produced by the estimator in perception/ and read by the
// controllers.
package ball
