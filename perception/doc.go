// Package perception turns what the cameras see into a ball state estimate.
//
// This root package holds the pure-Go parts; OpenCV detection lives in
// perception/vision (cgo) so that planning code builds without OpenCV.
//
// # Estimator
//
// In: 3D ball observations (triangulated positions in the world frame, m)
// with their capture time t in s on the trial clock — the time the frames
// were exposed, not the time the observation arrived. Out: a ball.Estimate
// (position m, velocity m/s, optionally spin rad/s, the 6×6 covariance of
// position and velocity) propagated with the ball's drag model to the time
// the caller asks for, which compensates the perception latency.
//
// The Estimator is an extended Kalman filter on (p, v) — or (p, v, ω) with
// EstimatorConfig.EstimateSpin — whose prediction integrates the ball.Props
// flight model (gravity, quadratic drag, Magnus lift) with RK4. Its track
// starts with a least-squares fit to the first MinObs observations, so with
// no process noise it reproduces the batch least-squares fit over the whole
// track (the Cramér–Rao bound for a known model). Observations too far from
// the prediction (Mahalanobis gate) are rejected; MaxRejects rejections in a
// row or a gap longer than MaxGap start a new track, since then a new ball is
// the likelier story.
//
// SpinFit is the cheap alternative the controllers use on top of a
// spin-blind estimate: it infers the spin from how the estimate's velocity
// changes across it (the lift kl·ω×v), once that residual is clearly above
// the noise. It pays off for light, strongly lifting balls (foam, table
// tennis); a tennis ball's lift at ≤ 10 rev/s is at the noise level.
//
// Accuracy on the nominal throw (tennis ball, 125 Hz, 3 mm noise per axis)
// after 10 observations is limited by the data, not the filter: the velocity
// standard deviation is σ/√Σ(tᵢ−t̄)² ≈ 41 mm/s per axis, the position at the
// newest observation ≈ 1.8 mm per axis.
//
// # Goroutines
//
// An Estimator is not safe for concurrent use. One goroutine (the
// perception loop) calls Observe for each observation and Estimate to publish
// the result into a latest-value slot that the control loop reads. After
// NewEstimator, Observe, Estimate and Reset do not allocate.
package perception
