// Package fused is the fused controller of docs/architecture.md §6: the
// MPC (package mpc) and the ES policy (package policy) with three learned
// mechanisms, each switchable so that its share of the gain can be
// measured.
//
//   - A gate. A linear score of the ball context (below) and four gate
//     features — how far the climb lies from that of mid-elevation lobs,
//     whether the ball was first seen high (a hand's release) or low (a
//     thrower's), how far off the centre it crosses x = 0 and its
//     horizontal speed — hands the throw to the ES policy (positive) or
//     keeps the MPC. It decides on the first fresh ball estimate when the
//     last two features cannot change the score's sign, else on the first
//     estimate resting on 8 observations (≈0.07 s after release; on the
//     first estimate of 3 observations the direction is known to ≈3°,
//     too coarse to tell a central throw from an off-centre one). Until
//     then the ES policy drives and the MPC steps in the shadow on the
//     same inputs, so a throw handed to the ES policy gets the commands it
//     would send alone, bit for bit; a throw the MPC keeps on the first
//     estimate gets the MPC's commands from then on, bit for bit, and one
//     it takes over later is planned on from the ES policy's last command
//     (mpc.Controller.Rebase). With fused.mpc_first the order is
//     reversed: the MPC drives and the ES policy steps in the shadow, a
//     throw the gate keeps is flown as the MPC branch alone flies it, and
//     the ES policy takes over a throw handed to it from the MPC's last
//     command (policy.Controller.Rebase). The shipped gate is a structured prior
//     chosen on the tuning seeds 2–5 from the per-throw MPC and ES
//     outcomes in both engines: foam balls and hand lobs go to the MPC
//     (the stronger per ball set; hand lobs since the MPC turned its
//     catch normal up, mpc.Config.NormalUpRad), and of the tennis balls
//     from a thrower the ES policy flies those that cross more than
//     0.15 m off the centre and are not fast: it loses central throws,
//     where its left/right choice is unsure, in both engines, and fast
//     ones in MuJoCo; the MPC loses off-centre ones.
//
//   - Learned MPC parameters. The planner's tunables (mpc.Tunables: the
//     catch-point planes and preferred reach, the catch speed and the
//     ball's speed relative to the head, the cost weights, the cradle's
//     slow-down time and net-up angle, the compensated action latency and
//     the re-plan freeze) are set on every new ball estimate by a linear
//     context network from what the estimator knows of the ball: its speed
//     and climb, the spin (the estimate's plus the perception.SpinFit
//     inference), the ball set's drag and lift coefficients relative to a
//     tennis ball, and the height and lateral offset of the executing
//     plan's catch point. θ = 0 is the MPC's own configuration.
//
//   - A learned residual on the plan. Within a window before the planned
//     catch (0.12 s, scaled by a learned factor) and until 20 ms before it
//     (the net then meets the ball steady), each new estimate is flown to
//     the planned catch time (RK4, ball.Props) and compared with the catch
//     point the plan was built for: the drift across the ball's path,
//     less a 1 cm dead band (estimate noise), is a feature; with forecast samples
//     (control.Forecast) their mean offset and spread there are features
//     too. A linear layer with a tanh output turns these into a head
//     correction of at most ResidualMaxM per axis, mapped to joints by the
//     velocity-limit-weighted damped least-squares inverse of the position
//     Jacobian at the plan's catch pose. The offset is ramped in over the
//     first half of the window and tracked within what the joint limits
//     leave beside the plan's own command: the total velocity stays within
//     98% of each limit and the change of the residual's rate within the
//     acceleration budget the plan's own change leaves (97% of the limit
//     per tick), and the commanded position within 2 mm of the position
//     limits; the safety layer (control.Safety) filters the sum as any
//     command. With the residual at zero the MPC's command passes
//     unchanged.
//
// All three are one parameter vector θ (NParams values; layout in params.go),
// optimised by the ES trainer's blackbox gradient sensing (policy.Trainer,
// `catch train es --policy fused`) and fine-tuned through its
// external-evaluator protocol like the ES policy (`catch finetune fused`).
// The shipped θ is the gate's prior and the residual's structured prior,
// gain 1 on the drift (the head moves by the drift the latest estimate
// predicts) and a window of 0.12·e^0.5 ≈ 0.2 s, with the context network
// at zero: the context
// network that `catch train es --policy fused` trained (30 BGS steps from
// θ = 0, seed 11) gained on hand-lob but lost on nominal and fast, so it
// is not shipped; the README gives the benchmark and the ablation.
// The parameter file is a policy file of the external policy class fused
// (policy.RegisterClass; fused-params, fused-residual and fused-gate train
// one mechanism each); the shipped one is shipped/fused_policy.json.
//
// In the MuJoCo engine the simulator runs shipped/fused_policy_mujoco.json
// (ShippedFor, Config.Shipped): the same θ with the gate fine-tuned there
// by the external-evaluator loop (`catch finetune fused --free gate`, 40
// steps of 30 throws over all seven scenarios, the snapshot chosen by
// reward on validation throws; its Trained record gives the command). The
// ES policy flies MuJoCo's thrower throws with many more torque-saturated
// periods than the MPC and drops some fast ones, and the fine-tuned gate
// hands it fewer: its bias is 1.2 lower and it weighs the planned catch
// point's height (φ₅, −2.3) and lateral offset (φ₆, −0.8) and the climb's
// distance from mid-elevation lobs (κ, −1.1) against the ES policy, so
// most thrower throws stay with the MPC.
//
// # What flows in and out
//
// In and out as the MPC: control.Input (arm state, ball estimate in the
// world frame, m and m/s, ball properties, optional forecast samples) and
// a joint reference (q, q̇) written into a caller-owned control.Command.
// Until the gate decides, both step (the MPC's command is dropped);
// after it, only the controller that flies the throw steps.
// Step runs on the control loop's goroutine, re-plans synchronously (an
// asynchronous MPC is refused: the context network changes the planner's
// tunables between re-plans) and allocates nothing.
package fused
