// Package control holds what every controller shares: the Controller
// interface that MPC (mpc/) and the ES policy (policy/) implement, its Input
// and Command values, and the trivial Hold controller.
//
// Flow per control tick: the loop fills an Input (arm state, latest ball
// estimate, latest forecast, the current time and the tick's deadline), calls
// Controller.Step, which writes joint position and velocity targets into a
// caller-owned Command, then clamps the command to the limits and sends it.
// Units: rad and rad/s for revolute joints, m and m/s for the rail; times are
// time.Duration on a trial or wall clock chosen by the caller.
//
// A Controller is driven by one goroutine at a time (the loop's). Slow work
// such as an SQP re-plan may run in the controller's own goroutine, but Step
// itself never waits for it.
package control
