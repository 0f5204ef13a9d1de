// Package ros is the arm and camera adapter for ROS 1: it is the only package of the
// project that imports goroslib (github.com/bluenviron/goroslib/v2), so the transport can
// change in one place (docs/architecture.md §3).
//
// Messages in and out (SI units: rad for revolute joints, m for the rail, rad/s and m/s):
// sensor_msgs/JointState in (joints matched by name, any order; missing joints, wrong lengths
// and NaN are rejected and counted), trajectory_msgs/JointTrajectory (one point: positions,
// velocities, a short time_from_start) or std_msgs/Float64MultiArray out as the arm command,
// geometry_msgs/PointStamped ball observations, nav_msgs/Odometry ball estimates with
// covariance, visualization_msgs/MarkerArray plan and forecast, diagnostic_msgs/DiagnosticArray
// loop statistics, std_msgs/Bool e-stop and catch sensor, std_msgs/Header re-arm/armed. Topic
// names (relative by default, so a namespace isolates a system), frame ids and the command
// type are in Config.
//
// Conn is a node as an actor: it registers with the master, retries with a clear error while
// the master is down, and re-registers all publishers and subscribers after a master restart
// (goroslib itself does not). ControllerIO is the controller node's side and implements
// control.ArmIO without allocating or blocking in the loop (latest-value slot in, bounded
// command queue out to a publisher goroutine); SimIO is the simulated arm's side.
//
// The master is found through ROS_MASTER_URI (http://host:port/), and this node advertises
// itself at ROS_IP or ROS_HOSTNAME; `make test` starts Debian's rosmaster on a free loopback
// port and sets all three (scripts/rosmaster.sh). The integration test in this package runs
// against that real master (or starts its own when ROS_MASTER_URI is unset) and reads the
// topic back with Debian's Python rostopic, so it checks wire compatibility with stock ROS
// tools, not just goroslib talking to itself.
package ros
