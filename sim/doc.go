// Package sim is the simulated world the controllers are tried against:
// throw distributions (scenarios), the arm's low-level joint tracking with
// action latency and limits, state-fidelity ball observations with noise,
// latency and dropouts, the lacrosse pocket as a compliant cup, the catch
// judge, reachability of throws, and the parallel trial runner.
//
// Units are SI (m, s, rad). The world frame has its origin on the floor under
// the rail centre, x toward the thrower, y to the robot's left, z up. The
// trial clock starts at the ball's release.
//
// Flow of one trial (Trial): a Scenario samples a Throw from a seeded random
// source; the ball flies (ball.Props, 1 ms RK4 steps); observations reach the
// estimator (perception) after the scenario's latency; at the control rate the
// runner builds a control.Input, steps the controller, counts commands outside
// the limits, clamps them and hands them to the Arm after the action latency;
// the Pocket exerts contact forces on the ball and the judge declares a catch
// when the ball stays in the pocket for more than 0.25 s.
//
// The arm, the ball and the net are an Engine's Physics (engine.go): the
// default Kinematic engine is the PD-tracking Arm, ball.Props's flight and
// the compliant-cup Pocket; package sim/mujoco simulates them in MuJoCo.
// Everything else in a trial (observations, estimator, controller, command
// limits, the judge's bookkeeping and failure reasons) is shared, so results
// from the two engines differ only by the physics. An engine implements
// Physics: Reset per trial, Command at the control rate, Step per 1 ms,
// Joints/Ball/Head to read the state, Inside/CatchTime for the judge,
// Counters for its tallies, Close.
//
// Run spreads trials over goroutines; trial i draws from a source seeded by
// (seed, i), so results do not depend on the number of cores. The package
// never imports a controller: the caller passes a factory.
package sim
