package ros

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// Topics names every topic the nodes use. Zero fields take the defaults
// shown, which are relative names: they resolve in the node's namespace
// (/joint_states and so on in the root namespace; /trial7/joint_states
// for a node in /trial7), so several systems can share one master.
type Topics struct {
	JointStates string `yaml:"joint_states"` // sensor_msgs/JointState, default /joint_states
	Command     string `yaml:"command"`      // trajectory_msgs/JointTrajectory or std_msgs/Float64MultiArray, default /arm_controller/command
	Observation string `yaml:"observation"`  // geometry_msgs/PointStamped, default /ball/observation
	BallState   string `yaml:"ball_state"`   // nav_msgs/Odometry, default /ball/state
	Plan        string `yaml:"plan"`         // visualization_msgs/MarkerArray, default /catch/plan
	TF          string `yaml:"tf"`           // tf2_msgs/TFMessage of every robot link, default /tf
	Done        string `yaml:"done"`         // std_msgs/Bool (latched): the simulated arm has flown its throws, default /catch/done
	Forecast    string `yaml:"forecast"`     // visualization_msgs/MarkerArray, default /catch/forecast
	Diagnostics string `yaml:"diagnostics"`  // diagnostic_msgs/DiagnosticArray, default /diagnostics
	EStop       string `yaml:"estop"`        // std_msgs/Bool, default /catch/estop
	Sensor      string `yaml:"sensor"`       // std_msgs/Bool (catch sensor), default /catch/sensor
	// Rearm (std_msgs/Header: seq = throw index, stamp = release time)
	// starts a new catch; Armed echoes it once the controller is ready.
	Rearm string `yaml:"rearm"` // default /catch/rearm
	Armed string `yaml:"armed"` // std_msgs/Header, default /catch/armed
	// Arm (std_msgs/Bool) asks the controller node to start (true) or stop
	// (false) sending commands to the arm when node.require_arm is set;
	// default /catch/arm.
	Arm string `yaml:"arm"`
	// EStopRelease (std_msgs/Bool, true) clears a latched e-stop; nothing
	// else does (not a re-arm, not estop false). Default
	// /catch/estop_release.
	EStopRelease string `yaml:"estop_release"`
	// DryRunCommand receives the commands a node that is not sending (dry
	// run, or not armed) computed, in the command topic's type; default
	// /catch/dry_run/command.
	DryRunCommand string `yaml:"dry_run_command"`
	// Image is the camera topic of the perception node (sensor_msgs/Image);
	// default /camera/image_raw.
	Image string `yaml:"image"`
}

// Command message types.
const (
	CommandTrajectory   = "trajectory"    // trajectory_msgs/JointTrajectory, one point
	CommandFloat64Array = "float64_array" // std_msgs/Float64MultiArray (ros_control group controllers)
)

// Config configures the ROS side of a node. The zero value means the
// defaults on each field.
type Config struct {
	// MasterURI is the ROS master; default $ROS_MASTER_URI, else
	// http://127.0.0.1:11311/.
	MasterURI string `yaml:"master_uri"`
	// Host is the address this node advertises and binds; default $ROS_IP,
	// else $ROS_HOSTNAME, else 127.0.0.1 (loopback only).
	Host string `yaml:"host"`
	// Namespace of the node; default "/" (or $ROS_NAMESPACE).
	Namespace string `yaml:"namespace"`
	// FrameID of published positions; default "world" (the URDF root).
	FrameID string `yaml:"frame_id"`
	Topics  Topics `yaml:"topics"`
	// CommandType is trajectory (default) or float64_array.
	CommandType string `yaml:"command_type"`
	// ArrayFields chooses the Float64MultiArray layout: positions,
	// velocities, or positions_velocities (default: q then q̇, 2n values).
	ArrayFields string `yaml:"array_fields"`
	// TimeFromStartS is the trajectory point's time_from_start, s; default
	// 0.008 (two ticks at 250 Hz: short enough to track, long enough for a
	// joint_trajectory_controller to interpolate).
	TimeFromStartS float64 `yaml:"time_from_start_s"`
	// JointNames are the arm's joints in chain order, matched by name in
	// joint states (any order, extra joints ignored); default the robot
	// description's chain joints.
	JointNames []string `yaml:"joint_names"`
	// RetryS is the wait between attempts to reach the master, and between
	// registration checks; default 1.
	RetryS float64 `yaml:"retry_s"`
	// Operators are the caller ids (absolute node names, such as
	// /operator_console) allowed to arm the controller and to release its
	// e-stop; a request is taken only when every node publishing on its
	// topic is listed. Default: none listed, anyone may (each request is
	// logged with the publishing nodes). ROS 1 does not authenticate
	// caller ids: this guards against mistakes, not attackers
	// (docs/hardware.md).
	Operators []string `yaml:"operators"`
}

// WithDefaults returns c with zero fields set (JointNames excepted: the
// caller fills them from the robot).
func (c Config) WithDefaults() Config {
	if c.MasterURI == "" {
		c.MasterURI = os.Getenv("ROS_MASTER_URI")
	}
	if c.MasterURI == "" {
		c.MasterURI = "http://127.0.0.1:11311/"
	}
	if c.Host == "" {
		c.Host = os.Getenv("ROS_IP")
	}
	if c.Host == "" {
		c.Host = os.Getenv("ROS_HOSTNAME")
	}
	if c.Host == "" {
		c.Host = "127.0.0.1"
	}
	if c.Namespace == "" {
		c.Namespace = "/"
	}
	if c.FrameID == "" {
		c.FrameID = "world"
	}
	t := &c.Topics
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&t.JointStates, "joint_states")
	def(&t.Command, "arm_controller/command")
	def(&t.Observation, "ball/observation")
	def(&t.BallState, "ball/state")
	def(&t.Plan, "catch/plan")
	def(&t.TF, "tf")
	def(&t.Done, "catch/done")
	def(&t.Forecast, "catch/forecast")
	def(&t.Diagnostics, "diagnostics")
	def(&t.EStop, "catch/estop")
	def(&t.Sensor, "catch/sensor")
	def(&t.Rearm, "catch/rearm")
	def(&t.Armed, "catch/armed")
	def(&t.Arm, "catch/arm")
	def(&t.EStopRelease, "catch/estop_release")
	def(&t.DryRunCommand, "catch/dry_run/command")
	def(&t.Image, "camera/image_raw")
	def(&c.CommandType, CommandTrajectory)
	def(&c.ArrayFields, "positions_velocities")
	if c.TimeFromStartS == 0 {
		c.TimeFromStartS = 0.008
	}
	if c.RetryS == 0 {
		c.RetryS = 1
	}
	return c
}

// Validate reports the first bad field by its YAML name.
func (c Config) Validate() error {
	c = c.WithDefaults()
	u, err := url.Parse(c.MasterURI)
	if err != nil || u.Scheme != "http" || u.Port() == "" {
		return fmt.Errorf("ros: master_uri = %q: want http://host:port/", c.MasterURI)
	}
	if !strings.HasPrefix(c.Namespace, "/") {
		return fmt.Errorf("ros: namespace = %q: want an absolute name such as /robot", c.Namespace)
	}
	switch c.CommandType {
	case CommandTrajectory, CommandFloat64Array:
	default:
		return fmt.Errorf("ros: command_type = %q: want %s or %s", c.CommandType, CommandTrajectory, CommandFloat64Array)
	}
	switch c.ArrayFields {
	case "positions", "velocities", "positions_velocities":
	default:
		return fmt.Errorf("ros: array_fields = %q: want positions, velocities or positions_velocities", c.ArrayFields)
	}
	if !(c.TimeFromStartS > 0 && c.TimeFromStartS <= 1) {
		return fmt.Errorf("ros: time_from_start_s = %v: want (0, 1]", c.TimeFromStartS)
	}
	if !(c.RetryS >= 0.05 && c.RetryS <= 60) {
		return fmt.Errorf("ros: retry_s = %v: want [0.05, 60]", c.RetryS)
	}
	for i, n := range c.Operators {
		if !strings.HasPrefix(n, "/") {
			return fmt.Errorf("ros: operators[%d] = %q: want an absolute node name such as /operator_console", i, n)
		}
	}
	seen := map[string]bool{}
	for i, n := range c.JointNames {
		if n == "" || seen[n] {
			return fmt.Errorf("ros: joint_names[%d] = %q: want unique non-empty names", i, n)
		}
		seen[n] = true
	}
	return nil
}

func (c Config) retry() time.Duration { return time.Duration(c.RetryS * float64(time.Second)) }

func (c Config) masterAddr() string {
	u, _ := url.Parse(c.MasterURI)
	return u.Host
}
