// Package control holds what every controller shares: the Controller
// interface that MPC (mpc/) and the ES policy (policy/) implement, its Input
// and Command values, the trivial Hold controller, the real-time Loop and
// the Safety layer that sits between any controller and the arm.
//
// Flow per control tick (Loop.Tick, default 250 Hz on absolute deadlines):
// read the newest joint state (ArmIO), feed the ball observations queued
// since the last tick to the estimator and propagate its estimate to now,
// call Controller.Step, which writes joint position and velocity targets
// into a caller-owned Command, pass the command through Safety (joint
// position, velocity and acceleration limits, the position step those
// limits allow from the previous command, a lead bound on the distance from
// the measured position, a workspace box for the head, NaN/Inf guard, and a
// collision check of the commanded pose: the URDF's collision geometry as
// capsules against the floor, the rail and each other, Collider) and write
// it (ArmIO); nothing is written before the first joint state.
// Observations stamped in the future (beyond safety.clock_skew_s) or
// outside a plausible box, and re-arms stamped too old or too far ahead,
// are rejected and counted. Watchdogs replace the controller's
// command by a brake — each joint's velocity ramped to zero within its
// acceleration limit — when joint states are older than 3 ticks, when the
// ball estimate is older than 100 ms while the controller is tracking a
// catch (the catch is aborted until the next Rearm), under the latched
// e-stop (until Release; a Rearm does not clear it), and when the
// controller returns an error. Every intervention is counted
// (Interventions, LoopStats). Re-arms, the e-stop's release and Engage
// (commands start reaching the arm) restart the controller and the safety
// filter from the measured state, so commands continue from where the arm
// is (bumpless).
//
// Units: rad and rad/s for revolute joints, m and m/s for the rail; times
// are time.Duration on the loop's Clock (WallClock, or SimClock for tests
// and simulations). The controller sees a trial clock that reads zero at
// the catch's start (Rearm.Epoch).
//
// Goroutines: Loop.Run (or Start/Close, an actor) owns the tick; Observe,
// Rearm, EStop, Release, Engage, Resync, Latest and Stats may be called
// from any goroutine — inputs
// go through latest-value slots (Slot, Copier) or the bounded observation
// ring (ObsRing), never unbounded queues. A Controller is driven by the
// loop's goroutine only. Slow work such as an SQP re-plan may run in the
// controller's own goroutine, but Step itself never waits for it. The tick
// allocates nothing (TestTickAllocatesNothing, BenchmarkTick).
package control
