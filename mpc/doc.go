// Package mpc is the whole-body catch planner of docs/architecture.md §6: a
// free-end-time trajectory optimisation reduced to bang-off stages, solved
// by SQP with the exact active-set QP solver of mpc/qp, multi-started from IK
// seeds, followed by a cradle; and the control.Controller that runs it.
//
// # What flows in and out
//
// In: the ball estimate (ball.Estimate at its time T, world frame, m, m/s)
// and the ball's properties; the controller's own previously commanded
// reference. Out: a joint reference (q, q̇) per tick (rad or m, rad/s or
// m/s), decoded from the current Plan. Times are the trial clock in seconds.
//
// # Formulation
//
//   - Ball predictor: ball.Props.Step (RK4) from the estimate, tabulated
//     every predict_step_s (5 ms) over horizon_s and interpolated (cubic
//     Hermite); Predictor.Fill reuses its table. The estimate's spin is
//     topped up by the controller's spin fit (perception.SpinFit): the Magnus lift
//     that explains how the estimated velocity changes beyond the model's
//     prediction, once it exceeds 0.8 m/s² (light-ball 0.79 → 0.94 with the
//     drag-only estimator, sim.estimator.estimate_spin false; with the
//     spin-tracking estimator, the run configuration's default, the fit adds
//     little).
//   - Plan: from the reference state (q₀, q̇₀) at T0, N bang-off stages
//     (stages, default 2). Stage k has duration Δt_k and per-joint velocity
//     change δq̇_kj: the joint accelerates at ±a_j (limit × acc_margin) for
//     |δq̇_kj|/a_j ≤ Δt_k, then cruises. The catch is at T0 + ΣΔt_k.
//     N = 1 is the paper's choice; it fixes the catch velocity by the
//     displacement, so the head cannot arrive moving along the ball's path
//     at the catch speed v_c, which the cradle needs here: the default is 2.
//   - Cost: λ·T + effort_weight·Σ(δq̇/v_max)² (a smooth surrogate of
//     Σ a_j|δq̇_j| = ∫‖q̈‖²), plus the soft terminal cost: head velocity off
//     the ball axis, deviation of the along-axis speed from v_c, and pose
//     error inside the hard tolerances.
//   - Hard constraints: head origin within ε_p per axis of the predicted ball
//     at the catch time, net normal (head local +y) within ε_r of its
//     reference: −v̂_ball turned toward straight up by normal_up_rad (0.15;
//     see Config.NormalUpRad: a net facing a flat ball stands upright and
//     its shallow pocket lets the ball roll out over the lower rim);
//     joint positions at stage ends and at in-stage extrema (velocity
//     through zero in the bang phase), the cradle's travel, joint velocities
//     at stage ends (linear in between), |δq̇| ≤ a·Δt (the acceleration limit,
//     by construction), Δt ≥ 0; on the nonlinear plan only (not in the QP),
//     the cradle's poses at 0.5, 1 and 2 times
//     its slow-down time keep 2 cm between the arm's collision capsules
//     and from the floor (control.Collider; a cradle that ran the head
//     into link_1 was braked by the safety layer with the ball in the net).
//   - SQP: each iteration linearises FK/Jacobian, the stage rollout and the
//     ball prediction (position, and the direction's change with the catch
//     time) around the iterate; the Gauss–Newton QP in (δq̇, Δt) with a
//     trust region is solved by one qp.Solver set up once (UpdateA, UpdateP,
//     UpdateQ, UpdateBounds each iteration). The planner equilibrates each QP
//     itself (velocity changes in units of the joint's velocity limit,
//     durations in 0.1 s, unit ∞-norm rows, cost scaled to unit magnitude)
//     and runs the solver with DisableScaling. qp_method selects the solver.
//     active-set (the default): Goldfarb–Idnani's dual active set, exact in
//     4 steps per QP at the median (95% within 8; n = 17, m = 86), on the
//     QP with stepDamping·I added to the scaled Hessian (an exact undamped
//     step runs to the trust region
//     along the model's flat directions, where the linearisation is wrong)
//     and one elastic variable θ ∈ [0, 1] that relaxes every row the zero
//     step violates by θ times its violation, at cost elasticCost·θ, so
//     every QP is feasible and a far start still gets the step that removes
//     the most violation; a cold plan's QPs shrink the position and normal
//     tolerances to 0.8× (exact steps end on the linearised tolerance, which
//     the nonlinear plan then missed by ~0.1 mm). admm: OSQP-style ADMM
//     warm-started from the zero step, at most 50 iterations at eps 3e-3
//     (its inexact, short steps were what the damping now reproduces). The
//     step is accepted when the merit cost + 1000·violation falls, else the
//     trust region shrinks to 0.3 times the smaller of itself and the
//     rejected step (a step inside the trust region that raised the merit
//     would otherwise be repeated unchanged). sqp_iters iterations per start (three times as
//     many for a cold plan, once per throw); the position and normal
//     tolerances and all limits are re-checked on the nonlinear plan.
//   - Catch points: where the predicted path crosses the catch_x_m planes
//     inside the arm's workspace (between 0.3 and 0.88 m of the shoulder,
//     the carriage at the ball's lateral position); when fewer than
//     catch_times planes qualify (lobs cross them too high, or land short
//     of them), points along the path inside the workspace, the one at the
//     most comfortable reach (0.6 m) first, then ±60 ms from it.
//   - Catch speed: the head's target speed along the ball's direction is
//     clamp(ball speed − catch_rel_speed, catch_speed, max_catch_speed), so
//     a fast ball meets a faster head and bounces less out of the net.
//   - Multi-start: for each candidate catch time (the catch points above,
//     the previous plan's catch time, and a forecast-selected time) and
//     each IK seed (rail offset ±0.15 m / ±0.3 m
//     from the ball's lateral position with joint 1 yawed toward it: head
//     left or right of the carriage), robot.IKSolver finds the catch
//     configuration (warm-started from the same slot's previous solution);
//     the catch joint velocity is the velocity-limit-weighted least-squares
//     solution of J_v q̇ = v_c·v̂; per joint a bisection builds the start plan.
//     Starts are ranked by merit, the best refine_starts are refined by SQP,
//     and the lowest-cost feasible plan wins. A warm re-plan (a plan is
//     being executed) scores the continued plan plus the seeds of only one
//     catch-point candidate, cycling through them on successive estimates,
//     and does not try further starts when the refined ones fail (the
//     executed plan continues): this bounds its cost near 4 QP solves and
//     4 IK solves, so that compute_ms p99 stays under 1 ms.
//     A cold plan (once per throw) refines one more start with three times
//     the SQP iterations.
//   - Modality: no side is forced. The merit prefers the smallest motion, so
//     the head usually ends on the side of the carriage the ball comes to
//     (about 45% left on nominal, where 60% of the throws go right).
//   - Cradle: after the catch every joint's velocity falls linearly to zero
//     over max(slow_down_s, |q̇|/a) — the head slows along its axis, the ball
//     is pressed into the net — while the last three joints add a
//     smooth-step rotation turning the net normal up by up to net_up_rad,
//     scaled to stay within the acceleration and velocity limits (with
//     signs: a wrist joint turning against its own slow-down has that
//     deceleration to spare).
//
// # Controller
//
// Step runs on the control loop's goroutine. The command sent at time t is
// executed at t + L, so Step decodes the plan there. L starts at
// action_latency_s (set it when the system's latency is known); unless
// fixed_latency is set, the controller also estimates L during each throw
// by matching the measured joint positions against its own command history
// (latency.go: about 0.15 s of arm motion suffices) and, when the estimate
// differs from the configured value by more than 15 ms, moves its decode
// lead there at a rate that keeps every command within the limits. On the
// laggy scenario (71 ms, configured 20 ms) this is the difference between
// 0.29 and 0.99 success; elsewhere the estimate agrees with the
// configuration and nothing changes. Each throw starts from the configured
// value, so trial results do not depend on their order. A
// re-plan starts from the plan's own reference at that time (never the
// measured state), so consecutive commands always differ by at most
// a·period. Re-planning happens when the estimate has new observations
// (NObs changed) and the catch is more than freeze_s away. Before a valid
// estimate the reference brakes to rest at the pose of Reset (Waiting).
// When no feasible plan is found the current plan continues (or the
// reference stays at rest: NoPlan). After the catch time the status is
// Cradling.
//
// With async: true a planner goroutine owns a second Planner; Step posts
// the newest request to a latest-value slot (a plan starting two ticks
// ahead) and adopts the published immutable Plan (an atomic pointer) only in
// the tick its start time falls in, so the reference stays continuous; if it
// is late the request is dropped (StalePlan) and the next estimate asks
// again. Step never waits. Close stops the goroutine.
//
// Plan.Decode allocates nothing; neither does Planner.Plan once its
// prediction table has grown (BenchmarkReplan). Stats holds per-plan numbers (µs, SQP iterations, starts, status,
// QP counts). With dump_dir set, the last QP of an infeasible or slow plan
// is written as JSON for `catch qp solve`: with qp_method active-set the
// scaled QP the solver saw (θ its last variable and row), with admm the
// unscaled one.
//
// # Forecasts
//
// With forecast samples (control.Forecast, N > 0), SelectCatch picks the
// horizon where the most samples lie within the pocket's half-width of the
// physics prediction; that time is added as a catch-time candidate.
package mpc
