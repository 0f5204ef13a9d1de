// Package forecast predicts where the ball will be: N sampled future trajectories at fixed
// horizons (default every 20 ms out to 0.6 s), written into a caller-owned
// control.Forecast (Pos sample-major, m, world frame; T0 the forecast's time on the trial
// clock). Two Forecasters:
//
//   - Physics, the baseline: the estimator's state and covariance (ball.Estimate: position
//     and velocity, and the spin when the estimator tracks it) are sampled and each sample
//     is flown with the drag/Magnus model of package ball, with white acceleration noise
//     along the way. It knows nothing of a spin the estimator does not track.
//   - Interpolant, the learned forecaster (docs/architecture.md §7): the recent observations are fitted
//     (FitWindow: drag model plus a constant extra acceleration, which is how spin shows);
//     the condition is that fit in the heading frame (Frame: origin at the ball, x′ along the
//     horizontal velocity; physics is invariant under it, so one model serves every throw
//     direction); the target x₁ is the future trajectory's residual from the drag-model
//     extrapolation (Reference), scaled per coordinate. The stochastic interpolant
//     X_s = (1−s)x₀ + s²x₁ + ε(1−s)W_s with x₀ = 0 (the point mass at the condition) has a
//     drift b(s, x, c) fitted by square loss; samples come from Euler–Maruyama on
//     dX = b_g ds + g dW from X₀ = 0, batched over samples, with g the interpolant's σ or
//     the Föllmer-type choice (picked after training on held-out windows). A flow map of the
//     probability-flow ODE, distilled from the drift, samples in 1–4 steps.
//
// Guarded combines the two: the interpolant where the window's condition lies inside the
// model's training envelope (Meta.InRange: the 0.5–99.5% range of each condition coordinate
// over the training windows, stored as CondLo/CondHi; CondMean ± 3σ for older models), the
// physics baseline elsewhere. A learned model extrapolates badly to faster, slower or
// harder-spinning balls than it saw; physics does not.
//
// Training (Train) runs in Go: datasets from simulated throws of a sim.Scenario
// (SimWindows: the scenario's camera rate, noise, dropouts and latency) or from recorded
// flights (ReadFlights: CSV with t or t_ns and x,y,z or x_m,y_m,z_m, or the project's trial
// logs; repeated and out-of-order stamps dropped and counted, files in other units or with
// gravity off −z skipped with the unit or axis named, cut at gaps and bounces); an MLP with exact gradients (MLP.Backward), Adam, seeded minibatches, a progress
// bar, a loss-curve PNG and atomic checkpoints a crashed run resumes from. A Model is saved
// as two ONNX files (FILE.onnx: the drift; FILE.flow.onnx: the flow map), each carrying
// Meta (ball, horizons, normalisation, diffusion) as JSON metadata; forecast/ort runs them
// on ONNX Runtime (CPU by default, CUDA with device: cuda). The native MLP runs them too,
// for tests and machines without ONNX Runtime.
//
// Recorded flights end at bounces, mostly before the horizon does: CompleteWindows fills a
// training window's missing horizons with the flight's fitted free flight, so that every
// pre-bounce window trains. CrossValidate (`catch forecast cv`) scores the calibrated
// physics baseline, and an interpolant trained on the recordings, by k-fold
// cross-validation split by file: the ball fit, the estimator's settings, the samples'
// spread (PhysicsConfig.Spread, CalibrateSpread) and the model come from the other folds.
// The estimator's spin prior can be learned there too (CVConfig.SpinTable, ball.SpinTable):
// a launcher repeats its spins, so the spins fitted to the training flights that started
// alike give a new flight's spin before its curvature shows. With CVConfig.Residual the
// fold's interpolant is a Residual: trained (ResidualDataset) on what the baseline's mean
// forecast gets wrong, conditioned on the estimate (EstimateCond, Meta.CondKind
// CondEstimate: the recording installation's world position and velocity among it) instead
// of the window fit. A fold's interpolant is the mixture (Ensemble) of CVConfig.InnerFolds
// models, each trained on all but one inner fold of the training files; its spread is
// calibrated on each model's forecasts of the inner fold it left out.
//
// Evaluate scores forecasters on windows: the energy score over the whole horizon, CRPS per
// coordinate and central-interval coverage at 0.3 s, the error of the sample mean, and the
// time per forecast; `catch forecast eval` prints them for a model and the baseline, on the
// windows both forecast (Common, Summarise).
//
// # Goroutines
//
// A Forecaster is not safe for concurrent use: one goroutine (the forecast worker) owns it,
// fills a control.Forecast and publishes it (a latest-value slot) for the control loop.
// After the first call at a sample count, Physics.Forecast and Interpolant.Forecast (with
// the native nets) allocate nothing.
package forecast
