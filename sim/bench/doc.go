// Package bench runs the MPC-versus-ES benchmark of the paper's evaluation
// in simulation: every (controller, scenario) pair for a number of trials,
// in parallel and deterministic for a seed, and writes results.json, a
// Markdown report with 95% Clopper–Pearson intervals and the paper's numbers
// beside ours, and PNG plots (success by scenario, against thrower yaw and
// speed, modality, compute-time histograms, the ES training curve).
//
// Inputs: controller names (built by a caller-supplied factory, so this
// package imports no controller), scenario names, trials, seed. Outputs go
// to one directory. Times are ms, distances m, angles degrees.
package bench
