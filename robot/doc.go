// Package robot is the robot description: it loads a URDF, builds the serial
// kinematic chain the controllers move, and answers forward kinematics,
// Jacobians and inverse kinematics on it.
//
// In: a URDF (the shipped robot/urdf/catcher.urdf, embedded in the binary,
// or the user's own file) and a Config naming the chain's base and tip links,
// the acceleration limits a URDF cannot carry and the pocket size. Out: a
// Robot holding the Model (links and joints as parsed), the Chain, its
// Limits and the Pocket.
//
// The shipped robot (docs/architecture.md section 4) is a prismatic rail along world y
// carrying an ABB IRB 120T with a lacrosse head 0.25 m beyond the flange:
// q[0] is the rail (m), q[1:7] the arm's joint_1..joint_6 (rad). Its chain
// runs from "world" (on the floor under the rail centre, x toward the
// thrower, z up) to "head", whose local y axis is the net normal, local x
// runs along the stick and local z across the pocket.
//
// Units are SI: positions m, angles rad, velocities m/s or rad/s,
// accelerations m/s² or rad/s². A Pose gives a frame's origin and axes in
// the chain's base frame; its R columns are the frame's x, y, z axes.
// FKJacobian's 6×n Jacobian is row-major: rows 0–2 the linear velocity of the
// tip origin, rows 3–5 the angular velocity, both in the base frame.
//
// Concurrency and cost: Model, Chain and Robot are read-only after loading
// and safe to share between goroutines. Chain.FK, FKLink and FKJacobian
// allocate nothing and take about 0.2 µs for the 7-joint chain. An IKSolver
// owns scratch memory and serves one goroutine; Solve allocates nothing. IK
// that does not reach its target reports so in IKResult (a status, not an
// error). Malformed URDFs fail to load with errors that wrap ErrURDF and name
// the offending element.
package robot
