package ros

import (
	"fmt"
	"math"
	"time"

	"github.com/bluenviron/goroslib/v2/pkg/msgs/diagnostic_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/geometry_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/nav_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/sensor_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/std_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/trajectory_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/visualization_msgs"

	"github.com/agilecatch/catch/ball"
)

// JointMap matches joint-state and command messages to the chain's joint
// order by name.
type JointMap struct {
	Names []string
	index map[string]int
}

// NewJointMap returns a map for the chain's joint names.
func NewJointMap(names []string) *JointMap {
	m := &JointMap{Names: append([]string(nil), names...), index: map[string]int{}}
	for i, n := range names {
		m.index[n] = i
	}
	return m
}

// FromJointState writes positions and velocities in chain order into q and
// qd. It rejects a message whose name and position lengths differ, whose
// velocity list is neither empty nor as long, that lacks a chain joint, or
// that has a non-finite value for one; joints the chain does not know are
// ignored. It reports whether the message carried velocities (position-only
// joint states are legal in ROS; qd is left alone then).
func (m *JointMap) FromJointState(js *sensor_msgs.JointState, q, qd []float64) (hasVel bool, err error) {
	hasVel = len(js.Velocity) > 0
	if len(js.Position) != len(js.Name) || (hasVel && len(js.Velocity) != len(js.Name)) {
		return hasVel, fmt.Errorf("joint state: %d names, %d positions, %d velocities: want as many positions as names, and as many velocities or none", len(js.Name), len(js.Position), len(js.Velocity))
	}
	found := 0
	for i, n := range js.Name {
		j, ok := m.index[n]
		if !ok {
			continue
		}
		p := js.Position[i]
		v := 0.0
		if hasVel {
			v = js.Velocity[i]
		}
		if !finite(p) || !finite(v) {
			return hasVel, fmt.Errorf("joint state: joint %s has position %v, velocity %v: want finite values", n, p, v)
		}
		q[j] = p
		if hasVel {
			qd[j] = v
		}
		found++
	}
	if found != len(m.Names) {
		return hasVel, fmt.Errorf("joint state: %d of the %d chain joints %v present", found, len(m.Names), m.Names)
	}
	return hasVel, nil
}

// JointState builds a sensor_msgs/JointState in chain order.
func (m *JointMap) JointState(stamp time.Time, q, qd []float64) *sensor_msgs.JointState {
	return &sensor_msgs.JointState{
		Header:   std_msgs.Header{Stamp: stamp},
		Name:     m.Names,
		Position: append([]float64(nil), q...),
		Velocity: append([]float64(nil), qd...),
		Effort:   []float64{},
	}
}

// CommandMsg builds the command message of the configured type.
func (m *JointMap) CommandMsg(cfg *Config, stamp time.Time, q, qd []float64) any {
	if cfg.CommandType == CommandFloat64Array {
		var data []float64
		var dims []std_msgs.MultiArrayDimension
		switch cfg.ArrayFields {
		case "positions":
			data = append(data, q...)
		case "velocities":
			data = append(data, qd...)
		default:
			data = append(append(data, q...), qd...)
			dims = []std_msgs.MultiArrayDimension{{Label: "positions_velocities", Size: 2, Stride: uint32(2 * len(q))}, {Label: "joints", Size: uint32(len(q)), Stride: uint32(len(q))}}
		}
		return &std_msgs.Float64MultiArray{Layout: std_msgs.MultiArrayLayout{Dim: dims}, Data: data}
	}
	return &trajectory_msgs.JointTrajectory{
		Header:     std_msgs.Header{Stamp: stamp},
		JointNames: m.Names,
		Points: []trajectory_msgs.JointTrajectoryPoint{{
			Positions:     append([]float64(nil), q...),
			Velocities:    append([]float64(nil), qd...),
			Accelerations: []float64{},
			Effort:        []float64{},
			TimeFromStart: time.Duration(cfg.TimeFromStartS * float64(time.Second)),
		}},
	}
}

// FromTrajectory reads the first point of a JointTrajectory into q and qd in
// chain order (joints matched by name).
func (m *JointMap) FromTrajectory(jt *trajectory_msgs.JointTrajectory, q, qd []float64) error {
	if len(jt.Points) == 0 {
		return fmt.Errorf("command: trajectory without points")
	}
	p := &jt.Points[0]
	if len(p.Positions) != len(jt.JointNames) || (len(p.Velocities) != 0 && len(p.Velocities) != len(jt.JointNames)) {
		return fmt.Errorf("command: %d joint names, %d positions, %d velocities", len(jt.JointNames), len(p.Positions), len(p.Velocities))
	}
	found := 0
	for i, n := range jt.JointNames {
		j, ok := m.index[n]
		if !ok {
			continue
		}
		q[j] = p.Positions[i]
		qd[j] = 0
		if len(p.Velocities) > 0 {
			qd[j] = p.Velocities[i]
		}
		found++
	}
	if found != len(m.Names) {
		return fmt.Errorf("command: %d of the %d chain joints present", found, len(m.Names))
	}
	return nil
}

// FromArray reads a Float64MultiArray command (positions, then velocities
// when there are 2n values).
func (m *JointMap) FromArray(a *std_msgs.Float64MultiArray, q, qd []float64) error {
	n := len(m.Names)
	switch len(a.Data) {
	case 2 * n:
		copy(q, a.Data[:n])
		copy(qd, a.Data[n:])
	case n:
		copy(q, a.Data)
		for j := range qd {
			qd[j] = 0
		}
	default:
		return fmt.Errorf("command: %d values: want %d (positions) or %d (positions, velocities)", len(a.Data), n, 2*n)
	}
	return nil
}

// Odometry converts a ball estimate to nav_msgs/Odometry: pose.position and
// twist.linear carry the ball's position and velocity, their covariance
// blocks the estimate's; orientation is unknown (covariance 1e6).
func Odometry(frame string, stamp time.Time, e *ball.Estimate) *nav_msgs.Odometry {
	o := &nav_msgs.Odometry{Header: std_msgs.Header{Stamp: stamp, FrameId: frame}, ChildFrameId: "ball"}
	s := &e.State
	o.Pose.Pose.Position = geometry_msgs.Point{X: s.P[0], Y: s.P[1], Z: s.P[2]}
	o.Pose.Pose.Orientation.W = 1
	o.Twist.Twist.Linear = geometry_msgs.Vector3{X: s.V[0], Y: s.V[1], Z: s.V[2]}
	o.Twist.Twist.Angular = geometry_msgs.Vector3{X: s.W[0], Y: s.W[1], Z: s.W[2]}
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			o.Pose.Covariance[i*6+j] = e.Cov[i*6+j]
			o.Twist.Covariance[i*6+j] = e.Cov[(i+3)*6+j+3]
		}
		o.Pose.Covariance[(i+3)*6+i+3] = 1e6
		o.Twist.Covariance[(i+3)*6+i+3] = 1e6
	}
	return o
}

// Point converts a PointStamped to a position.
func Point(p *geometry_msgs.PointStamped) ([3]float64, error) {
	v := [3]float64{p.Point.X, p.Point.Y, p.Point.Z}
	for _, x := range v {
		if !finite(x) {
			return v, fmt.Errorf("observation %v: want finite coordinates", v)
		}
	}
	return v, nil
}

// Marker colours.
var (
	ColorBall     = std_msgs.ColorRGBA{R: 1, G: 0.85, B: 0.1, A: 1}
	ColorHead     = std_msgs.ColorRGBA{R: 0.2, G: 0.6, B: 1, A: 0.8}
	ColorForecast = std_msgs.ColorRGBA{R: 1, G: 0.4, B: 0.1, A: 0.6}
)

// Marker builds a marker of the given type from points (m, world frame).
func Marker(frame, ns string, id int32, typ uint8, stamp time.Time, scale float64, color std_msgs.ColorRGBA, pts [][3]float64) visualization_msgs.Marker {
	mk := visualization_msgs.Marker{
		Header: std_msgs.Header{Stamp: stamp, FrameId: frame},
		Ns:     ns, Id: id, Type: int32(typ), Action: int32(visualization_msgs.Marker_ADD),
		Scale:    geometry_msgs.Vector3{X: scale, Y: scale, Z: scale},
		Color:    color,
		Lifetime: 500 * time.Millisecond,
		Colors:   []std_msgs.ColorRGBA{},
	}
	mk.Pose.Orientation.W = 1
	if typ == visualization_msgs.Marker_SPHERE && len(pts) > 0 {
		mk.Pose.Position = geometry_msgs.Point{X: pts[0][0], Y: pts[0][1], Z: pts[0][2]}
		mk.Points = []geometry_msgs.Point{}
		return mk
	}
	mk.Points = make([]geometry_msgs.Point, len(pts))
	for i, p := range pts {
		mk.Points[i] = geometry_msgs.Point{X: p[0], Y: p[1], Z: p[2]}
	}
	return mk
}

// Diagnostics builds a one-status DiagnosticArray.
func Diagnostics(stamp time.Time, name, hwID string, level int8, message string, kv [][2]string) *diagnostic_msgs.DiagnosticArray {
	st := diagnostic_msgs.DiagnosticStatus{Level: level, Name: name, Message: message, HardwareId: hwID}
	for _, p := range kv {
		st.Values = append(st.Values, diagnostic_msgs.KeyValue{Key: p[0], Value: p[1]})
	}
	return &diagnostic_msgs.DiagnosticArray{Header: std_msgs.Header{Stamp: stamp}, Status: []diagnostic_msgs.DiagnosticStatus{st}}
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
