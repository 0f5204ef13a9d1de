// Package launch wires the pipeline together: it loads the one YAML file
// that configures a run (robot, world, estimator, controllers, ROS nodes),
// builds controllers by name for the CLI, the benchmark and the ROS nodes,
// and composes the nodes:
//
//   - ControllerNode (`catch node controller`): ROS inputs (hardware/ros)
//     → control.Loop (estimator, controller, safety) → ROS command; ball
//     state, plan and forecast markers and /diagnostics for rostopic/RViz.
//   - SimArm (`catch node simarm`): the simulated arm and thrower (the
//     arm, ball and net of a sim.Engine, kinematic or MuJoCo, and the
//     scenario's throws and observation model) in real time behind the
//     topics of a ros_control arm.
//
// The roslaunch files sim.launch and robot.launch, with their YAML configs,
// live beside this package's sources; roslaunch finds bin/catch as
// <node pkg="catch" type="catch"> because package.xml at the repository
// root makes the checkout the ROS package `catch`.
//
// Everything here except the nodes' Run methods runs at start-up, never per
// tick.
package launch
