// Package policy is the learned ES catching controller: a small network
// that turns the arm's joint history, the predicted ball trajectory and a
// few engineered features into joint velocity targets, the blackbox
// gradient sensing (BGS) trainer that learns it in simulation, the paper's
// shaped rewards, checkpoints, and the sim-to-real fine-tuning loop that
// steps the same trainer from external trial logs.
//
// # Data flow (one control tick)
//
//	Input (arm q, q̇; ball estimate) ──► Features: when a new ball estimate
//	arrives, the physics predictor (ball.Props) flies it forward to find the
//	intercept — where the ball crosses the catch plane x = x_c — and an IK
//	solution of the head there with the net normal facing the incoming ball
//	(cached until the next estimate). Each tick builds the observation
//	vector from the cached plan, the joint history and the command state.
//	──► Net: q̇* = K ⊙ (q_ref(t+L) − q_cmd) + ṡ·d + MLP(normalised obs).
//	──► decode: q̇ clamped to velocity, acceleration and position-braking
//	limits, q_cmd += q̇·dt, written into control.Command.
//
// q_ref is the IK intercept pose moved along d, the joint direction that
// moves the head along the ball's flight direction: it approaches from
// upstream, passes the intercept at the catch time at the (learned)
// cradling speed and slows to a stop, then adds a learned joint offset that
// turns the net up. Everything named "learned" is a parameter in the vector
// that BGS optimises, together with the MLP weights.
//
// Units are SI (m, s, rad). A Controller is not safe for concurrent use:
// build one per control loop (or per simulation worker). Policy values are
// read-only after Load and may be shared.
//
// # Network and features
//
// The observation (FeatureConfig.ObsLen, 74 values with the defaults) is:
// the command's offset from the ready pose (7), the measured joint-position
// history (3 samples 8 ms apart, 21), the measured joint velocities (7), the
// predicted ball trajectory from the physics predictor seeded by the
// estimate (5 states 0.1 s apart, position and velocity, 30), the IK
// feature q_ref − q_cmd (7), the time to the predicted catch and a plan flag
// (2). The MLP is 74 → 32 tanh → 7 (2611 weights) and there are 20
// structural parameters: 7 joint gains, the reference look-ahead, cradle
// speed, acceleration and deceleration times, the catch plane, the
// feed-forward gain and 7 net-turn offsets — 2651 parameters in all.
//
// Engineered features and why: the intercept and its IK solution turn "where
// will the ball be" into "where must each joint go", which the network
// would otherwise have to learn from millions of throws; the rail seed of
// that IK (FeatureConfig.RailOffsetM) chooses the whole-body configuration
// and makes the policy catch on both sides of the carriage; the cradle
// profile gives the net a velocity along the ball's flight at contact (a
// still net throws a 5.5 m/s ball back out of a 7 cm pocket).
package policy
