package ros

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/bluenviron/goroslib/v2/pkg/msgs/diagnostic_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/geometry_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/sensor_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/std_msgs"
)

// Image is a camera frame as it came in (sensor_msgs/Image fields).
type Image struct {
	Stamp         time.Time
	Width, Height int
	Encoding      string // the perception node reads bgr8, rgb8, mono8 and bayer_{rggb,bggr,gbrg,grbg}8
	Step          int    // bytes per row
	Data          []byte
}

// PerceptionIO is the perception node's ROS side: one sensor_msgs/Image
// topic per camera in, ball observations (geometry_msgs/PointStamped) out.
type PerceptionIO struct {
	conn    *Conn
	cfg     Config
	obsPub  *Publisher
	diagPub *Publisher
	badImgs atomic.Uint64
}

// ImageTopic is the image topic of a camera: <name>/image_raw, relative.
func ImageTopic(camera string) string { return camera + "/image_raw" }

// NewPerceptionIO declares the node; onImage gets camera index i's frames on
// goroslib's goroutine for that topic.
func NewPerceptionIO(cfg Config, name string, cameras []string, onImage func(i int, img Image), log *slog.Logger) (*PerceptionIO, error) {
	conn, err := NewConn(cfg, name, log)
	if err != nil {
		return nil, err
	}
	p := &PerceptionIO{conn: conn, cfg: conn.Config()}
	p.obsPub = conn.Publish(p.cfg.Topics.Observation, &geometry_msgs.PointStamped{}, false)
	p.diagPub = conn.Publish(p.cfg.Topics.Diagnostics, &diagnostic_msgs.DiagnosticArray{}, false)
	for i, cam := range cameras {
		conn.Subscribe(ImageTopic(cam), func(m *sensor_msgs.Image) {
			if int(m.Step)*int(m.Height) > len(m.Data) || m.Width == 0 || m.Height == 0 {
				p.badImgs.Add(1)
				return
			}
			onImage(i, Image{Stamp: m.Header.Stamp, Width: int(m.Width), Height: int(m.Height), Encoding: m.Encoding, Step: int(m.Step), Data: m.Data})
		})
	}
	return p, nil
}

// Conn returns the node's connection.
func (p *PerceptionIO) Conn() *Conn { return p.conn }

// Start registers the node (retrying while the master is down).
func (p *PerceptionIO) Start(ctx context.Context) { p.conn.Start(ctx) }

// Close unregisters the node.
func (p *PerceptionIO) Close() { p.conn.Close() }

// BadImages counts image messages whose size did not add up.
func (p *PerceptionIO) BadImages() uint64 { return p.badImgs.Load() }

// PublishDiagnostics publishes on /diagnostics.
func (p *PerceptionIO) PublishDiagnostics(d *diagnostic_msgs.DiagnosticArray) { p.diagPub.Write(d) }

// PublishObservation publishes a triangulated ball position captured at stamp.
func (p *PerceptionIO) PublishObservation(stamp time.Time, pos [3]float64) {
	p.obsPub.Write(&geometry_msgs.PointStamped{
		Header: std_msgs.Header{Stamp: stamp, FrameId: p.cfg.FrameID},
		Point:  geometry_msgs.Point{X: pos[0], Y: pos[1], Z: pos[2]},
	})
}

// ImageMsg builds a sensor_msgs/Image (for camera publishers and tests).
func ImageMsg(frame string, img Image) *sensor_msgs.Image {
	return &sensor_msgs.Image{
		Header: std_msgs.Header{Stamp: img.Stamp, FrameId: frame},
		Height: uint32(img.Height), Width: uint32(img.Width), Encoding: img.Encoding,
		Step: uint32(img.Step), Data: img.Data,
	}
}
