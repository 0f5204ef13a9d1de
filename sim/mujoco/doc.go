// Package mujoco is the MuJoCo engine of package sim (sim.Engine): the same
// trials as the kinematic world, with the arm, the lacrosse head's net and
// the ball simulated by MuJoCo 2.2 (Debian 12's libmujoco-dev, through cgo;
// no other package links MuJoCo). Select it with Engine{Config: ...} in
// sim.RunOptions.Engine or sim.NewWorldEngine, or `--engine mujoco` on the
// CLI (launch.NewEngine).
//
// The model is built in memory from the robot's URDF (robot.Robot.Model) at
// run time; there is no second robot file. Every link the chain moves becomes
// a body with the URDF's <inertial>, its <collision> primitives as geoms and
// its joint with the URDF's <dynamics damping>, Config's armature and a
// motor limited to the URDF's <limit effort>. The head (the chain's tip) is
// built from the pocket description instead of its URDF collision geometry
// (a bounding volume for the safety layer): a stick, a frame of capsules
// around the opening ellipse (robot.Pocket) and a net of capsules on a half
// ellipsoid of the pocket depth (sim.PocketConfig.DepthM) behind it. The net
// yields through soft, damped contacts with rolling friction (Config.Net…);
// it costs ≈5 µs of CPU per step against ≈0.4 ms for a 9×9 composite grid
// (docs/architecture.md §5). The ball is a free sphere with the ball set's
// mass and radius; ball.Props's drag and Magnus forces and its spin decay
// are applied every physics step through xfrc_applied, and contact
// restitution and friction come from the ball set (contacts in config.go).
//
// Timing: physics at 1 kHz (Config.Substeps for more); MuJoCo's
// semi-implicit Euler starts the ball half a step back (a leapfrog), so free
// flight matches ball.Props within 1 mm over 1 s. Commands reach the servos
// after the scenario's action latency; each joint's servo is a PD loop on the
// commanded trajectory scaled by the joint's inertia (the mass matrix
// diagonal) plus feed-forward of the commanded acceleration, gravity,
// Coriolis and damping, saturated at the effort limit.
//
// Judge: the ball is in the pocket while its centre is behind the opening
// plane, within the opening ellipse and no deeper than the pocket plus a
// ball radius; caught after sim.PocketConfig.HoldS there, as in the kinematic
// world. Contacts are classified every step: ball on the frame (rim hits),
// ball on the arm or the rail (sim.TrialResult.ArmHits, failure hit_arm),
// and the robot touching itself, the rail or the floor (collision steps).
// Collision steps and torque saturation count as limit violations (one per
// control period in which either happened), broken down by kind (self, rail,
// floor; steps per saturated joint; saturation within 10 control periods
// after a command beyond the acceleration limit, the safety layer's hard
// stop; docs/limits.md). Bodies fewer than three movable joints apart do
// not collide (Config.SelfContactMinJointGap), as in the safety layer's
// check.
//
// A Physics (one per sim.World) owns C memory (≈20 MB of MuJoCo model and
// data) freed by World.Close; it is not safe for concurrent use.
package mujoco
