package ros

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/bluenviron/goroslib/v2/pkg/msgs/geometry_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/sensor_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/std_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/trajectory_msgs"
)

// SimIO is the ROS side of a simulated arm and thrower: it looks like a
// ros_control arm (joint states out, commands in on the configured type)
// plus a camera pipeline (ball observations) and the catch sensor.
type SimIO struct {
	conn *Conn
	cfg  Config
	jm   *JointMap

	jsPub, obsPub, sensorPub, rearmPub, donePub *Publisher
	// onCommand gets each command in chain order (slices are the callee's)
	// with its header stamp (zero for Float64MultiArray), on goroslib's
	// goroutine.
	onCommand func(stamp time.Time, q, qd []float64)
	onArmed   func(seq uint32)
	badCmds   atomic.Uint64
	imgPubs   []*Publisher
	imgFrames []string
}

// AddCameras declares one sensor_msgs/Image topic per camera
// (<name>/image_raw, as PerceptionIO subscribes them) for camera fidelity;
// call it before Start.
func (s *SimIO) AddCameras(names []string) {
	for _, n := range names {
		s.imgPubs = append(s.imgPubs, s.conn.Publish(ImageTopic(n), &sensor_msgs.Image{}, false))
		s.imgFrames = append(s.imgFrames, n)
	}
}

// PublishImage publishes camera i's frame (img.Data must not change
// afterwards); the header's frame id is the camera's name.
func (s *SimIO) PublishImage(i int, img Image) {
	s.imgPubs[i].Write(ImageMsg(s.imgFrames[i], img))
}

// PublishDone tells the other nodes (latched) that a finite run has flown
// all its throws.
func (s *SimIO) PublishDone() { s.donePub.Write(&std_msgs.Bool{Data: true}) }

// NewSimIO declares the simulated arm's topics.
func NewSimIO(cfg Config, name string, names []string, onCommand func(stamp time.Time, q, qd []float64), onArmed func(seq uint32), log *slog.Logger) (*SimIO, error) {
	conn, err := NewConn(cfg, name, log)
	if err != nil {
		return nil, err
	}
	cfg = conn.Config()
	if len(cfg.JointNames) > 0 {
		names = cfg.JointNames
	}
	s := &SimIO{conn: conn, cfg: cfg, jm: NewJointMap(names), onCommand: onCommand, onArmed: onArmed}
	t := cfg.Topics
	s.jsPub = conn.Publish(t.JointStates, &sensor_msgs.JointState{}, false)
	s.obsPub = conn.Publish(t.Observation, &geometry_msgs.PointStamped{}, false)
	s.sensorPub = conn.Publish(t.Sensor, &std_msgs.Bool{}, true)
	s.rearmPub = conn.Publish(t.Rearm, &std_msgs.Header{}, true)
	s.donePub = conn.Publish(t.Done, &std_msgs.Bool{}, true)
	n := len(names)
	if cfg.CommandType == CommandFloat64Array {
		conn.Subscribe(t.Command, func(m *std_msgs.Float64MultiArray) {
			q, qd := make([]float64, n), make([]float64, n)
			if err := s.jm.FromArray(m, q, qd); err != nil {
				s.badCmds.Add(1)
				return
			}
			s.onCommand(time.Time{}, q, qd)
		})
	} else {
		conn.Subscribe(t.Command, func(m *trajectory_msgs.JointTrajectory) {
			q, qd := make([]float64, n), make([]float64, n)
			if err := s.jm.FromTrajectory(m, q, qd); err != nil {
				s.badCmds.Add(1)
				return
			}
			s.onCommand(m.Header.Stamp, q, qd)
		})
	}
	conn.Subscribe(t.Armed, func(m *std_msgs.Header) {
		if s.onArmed != nil {
			s.onArmed(m.Seq)
		}
	})
	return s, nil
}

// Conn returns the node's connection.
func (s *SimIO) Conn() *Conn { return s.conn }

// Start registers the node (retrying while the master is down).
func (s *SimIO) Start(ctx context.Context) { s.conn.Start(ctx) }

// Close unregisters the node.
func (s *SimIO) Close() { s.conn.Close() }

// BadCommands counts command messages that could not be read.
func (s *SimIO) BadCommands() uint64 { return s.badCmds.Load() }

// PublishJointState publishes the arm's state. seq goes into the header: in
// lockstep, the number of ball observations published before this state, so
// the controller can wait for them before its tick.
func (s *SimIO) PublishJointState(stamp time.Time, seq uint32, q, qd []float64) {
	m := s.jm.JointState(stamp, q, qd)
	m.Header.Seq = seq
	s.jsPub.Write(m)
}

// PublishObservation publishes a ball observation captured at stamp.
func (s *SimIO) PublishObservation(stamp time.Time, p [3]float64) {
	s.obsPub.Write(&geometry_msgs.PointStamped{
		Header: std_msgs.Header{Stamp: stamp, FrameId: s.cfg.FrameID},
		Point:  geometry_msgs.Point{X: p[0], Y: p[1], Z: p[2]},
	})
}

// PublishSensor publishes the catch sensor (latched).
func (s *SimIO) PublishSensor(caught bool) { s.sensorPub.Write(&std_msgs.Bool{Data: caught}) }

// PublishRearm announces throw seq, released at release (latched).
func (s *SimIO) PublishRearm(seq uint32, release time.Time) {
	s.rearmPub.Write(&std_msgs.Header{Seq: seq, Stamp: release, FrameId: s.cfg.FrameID})
}
