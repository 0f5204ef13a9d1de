// Package ros is the arm and camera adapter for ROS 1: it is the only package of the
// project that imports goroslib (github.com/bluenviron/goroslib/v2), so the transport can
// change in one place (DESIGN.md §3).
//
// Messages in and out: sensor_msgs/JointState for arm state and commands (SI units: rad for
// revolute joints, m for the rail, rad/s and m/s for velocities), sensor_msgs/Image and
// sensor_msgs/CameraInfo for cameras.
//
// The master is found through ROS_MASTER_URI (http://host:port/), and this node advertises
// itself at ROS_IP or ROS_HOSTNAME; `make test` starts Debian's rosmaster on a free loopback
// port and sets all three (scripts/rosmaster.sh). The integration test in this package runs
// against that real master (or starts its own when ROS_MASTER_URI is unset) and reads the
// topic back with Debian's Python rostopic, so it checks wire compatibility with stock ROS
// tools, not just goroslib talking to itself.
package ros
