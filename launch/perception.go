package launch

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"gocv.io/x/gocv"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/hardware/ros"
	"github.com/agilecatch/catch/perception/camera"
	"github.com/agilecatch/catch/perception/vision"
)

// PerceptionNode is `catch node perception`: synchronised frames of the
// rig's cameras (sensor_msgs/Image, one topic per camera: <name>/image_raw)
// → gocv detection and stereo triangulation (vision.Tracker) → ball
// observations (geometry_msgs/PointStamped) stamped with the frames'
// capture time. Frames of one time step are matched by stamp (within
// SyncTolerance); a camera's newer frame replaces an unmatched older one.
type PerceptionNode struct {
	IO  *ros.PerceptionIO
	rig *camera.Rig
	tr  *vision.Tracker
	log *slog.Logger

	mu     sync.Mutex
	latest []*ros.Image
	wake   chan struct{}
	t0     time.Time
	// Counters, read with Stats.
	steps, found, dropped int
}

// SyncTolerance is how far apart the stamps of one stereo step may be.
const SyncTolerance = time.Millisecond

// NewPerceptionNode builds the node for a camera rig and ball.
func NewPerceptionNode(cfg *Config, rig *camera.Rig, props ball.Props, nodeName string, log *slog.Logger) (*PerceptionNode, error) {
	if err := cfg.Node.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tr, err := vision.NewTracker(vision.TrackerConfig{Estimator: cfg.Sim.Estimator}, rig, props)
	if err != nil {
		return nil, err
	}
	n := &PerceptionNode{rig: rig, tr: tr, log: log, latest: make([]*ros.Image, len(rig.Cameras)), wake: make(chan struct{}, 1)}
	names := make([]string, len(rig.Cameras))
	for i, c := range rig.Cameras {
		names[i] = c.Name
	}
	io, err := ros.NewPerceptionIO(cfg.Node.WithDefaults().ROS, nodeName, names, n.onImage, log)
	if err != nil {
		tr.Close()
		return nil, err
	}
	n.IO = io
	return n, nil
}

func (n *PerceptionNode) onImage(i int, img ros.Image) {
	n.mu.Lock()
	if n.latest[i] != nil {
		n.dropped++ // replaced before its partners came
	}
	n.latest[i] = &img
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// takeSet returns a full set of frames with matching stamps, if there is one.
func (n *PerceptionNode) takeSet() ([]*ros.Image, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var ref time.Time
	for i, img := range n.latest {
		if img == nil {
			return nil, false
		}
		if i == 0 {
			ref = img.Stamp
		} else if d := img.Stamp.Sub(ref); d > SyncTolerance || d < -SyncTolerance {
			// Drop the older frame(s); wait for the partner of the newest.
			for j, o := range n.latest {
				if o.Stamp.Before(img.Stamp.Add(-SyncTolerance)) {
					n.latest[j] = nil
					n.dropped++
				}
			}
			if img.Stamp.Before(ref.Add(-SyncTolerance)) {
				n.latest[i] = nil
				n.dropped++
			}
			return nil, false
		}
	}
	set := append([]*ros.Image(nil), n.latest...)
	for i := range n.latest {
		n.latest[i] = nil
	}
	return set, true
}

// Stats returns stereo steps processed, steps with a ball found, frames dropped unmatched.
func (n *PerceptionNode) Stats() (steps, found, dropped int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.steps, n.found, n.dropped
}

// Run registers the node and processes frames until ctx is done.
func (n *PerceptionNode) Run(ctx context.Context) error {
	n.IO.Start(ctx)
	defer n.IO.Close()
	defer n.tr.Close()
	mats := make(vision.Frames, len(n.rig.Cameras))
	for i := range mats {
		mats[i] = gocv.NewMat()
	}
	defer func() {
		for _, m := range mats {
			m.Close()
		}
	}()
	var res vision.Result
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-n.wake:
		}
		for {
			set, ok := n.takeSet()
			if !ok {
				break
			}
			for i, img := range set {
				if err := toBGR(img, &mats[i]); err != nil {
					return fmt.Errorf("perception: camera %s: %w", n.rig.Cameras[i].Name, err)
				}
			}
			if n.t0.IsZero() {
				n.t0 = set[0].Stamp
			}
			if err := n.tr.Step(set[0].Stamp.Sub(n.t0).Seconds(), mats, &res); err != nil {
				return fmt.Errorf("perception: tracker: %w", err)
			}
			n.mu.Lock()
			n.steps++
			if res.Found {
				n.found++
			}
			n.mu.Unlock()
			if res.Found {
				n.IO.PublishObservation(set[0].Stamp, res.P)
			}
		}
	}
}

// toBGR converts a bgr8, rgb8 or mono8 image into dst, an 8-bit BGR Mat
// (made with gocv.NewMat).
func toBGR(img *ros.Image, dst *gocv.Mat) error {
	var typ gocv.MatType
	ch := 3
	switch img.Encoding {
	case "bgr8", "rgb8":
		typ = gocv.MatTypeCV8UC3
	case "mono8":
		typ, ch = gocv.MatTypeCV8UC1, 1
	default:
		return fmt.Errorf("image encoding %q: want bgr8, rgb8 or mono8", img.Encoding)
	}
	row := img.Width * ch
	data := img.Data
	if img.Step != row {
		data = make([]byte, row*img.Height)
		for y := 0; y < img.Height; y++ {
			copy(data[y*row:(y+1)*row], img.Data[y*img.Step:y*img.Step+row])
		}
	}
	m, err := gocv.NewMatFromBytes(img.Height, img.Width, typ, data)
	if err != nil {
		return err
	}
	defer m.Close()
	switch img.Encoding {
	case "rgb8":
		gocv.CvtColor(m, dst, gocv.ColorBGRToRGB) // the same channel swap
	case "mono8":
		gocv.CvtColor(m, dst, gocv.ColorGrayToBGR)
	default:
		m.CopyTo(dst)
	}
	return nil
}
