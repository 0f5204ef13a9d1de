package launch

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/bluenviron/goroslib/v2/pkg/msgs/diagnostic_msgs"
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
// SyncTolerance) among the last frameQueue frames of each camera; frames
// older than a matched set are dropped.
type PerceptionNode struct {
	IO  *ros.PerceptionIO
	rig *camera.Rig
	tr  *vision.Tracker
	log *slog.Logger

	mu     sync.Mutex
	latest [][]*ros.Image // per camera, oldest first, at most frameQueue
	wake   chan struct{}
	t0     time.Time
	last   time.Time // stamp of the last stereo step
	// Counters, read with Stats and Malformed.
	steps, found, dropped, malformed int
}

// DiagnosticsPeriod is how often the node reports its counters on
// /diagnostics.
const DiagnosticsPeriod = time.Second

// SyncTolerance is how far apart the stamps of one stereo step may be.
const SyncTolerance = time.Millisecond

// TrackGap is the pause in the frame stream after which the tracker starts
// a new track (the simulated thrower pauses between throws).
const TrackGap = 200 * time.Millisecond

// NewPerceptionNode builds the node for a camera rig and ball.
func NewPerceptionNode(cfg *Config, rig *camera.Rig, props ball.Props, nodeName string, log *slog.Logger) (*PerceptionNode, error) {
	if err := cfg.Node.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tc := vision.TrackerConfig{Estimator: cfg.Sim.Estimator}
	tc.Detector.Downscale = cfg.Node.WithDefaults().Camera.DetectorDownscale
	tr, err := vision.NewTracker(tc, rig, props)
	if err != nil {
		return nil, err
	}
	n := &PerceptionNode{rig: rig, tr: tr, log: log, latest: make([][]*ros.Image, len(rig.Cameras)), wake: make(chan struct{}, 1)}
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
	q := n.latest[i]
	if len(q) == frameQueue {
		n.dropped++ // never matched within the queue's span
		q = q[1:]
	}
	n.latest[i] = append(q, &img)
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// frameQueue is how many frames per camera wait for their partners (the
// cameras' streams come over separate connections and may lag each other by
// a few frames).
const frameQueue = 8

// takeSet returns the oldest full set of frames with matching stamps, if
// there is one; frames older than it are dropped.
func (n *PerceptionNode) takeSet() ([]*ros.Image, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, q := range n.latest {
		if len(q) == 0 {
			return nil, false
		}
	}
	match := func(q []*ros.Image, ref time.Time) int {
		for j, img := range q {
			if d := img.Stamp.Sub(ref); d <= SyncTolerance && d >= -SyncTolerance {
				return j
			}
		}
		return -1
	}
	set := make([]*ros.Image, len(n.latest))
	for _, cand := range n.latest[0] {
		ok := true
		idx := make([]int, len(n.latest))
		for i := 1; i < len(n.latest); i++ {
			if idx[i] = match(n.latest[i], cand.Stamp); idx[i] < 0 {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		idx[0] = match(n.latest[0], cand.Stamp)
		for i := range n.latest {
			set[i] = n.latest[i][idx[i]]
			n.dropped += idx[i] // older frames never matched
			n.latest[i] = n.latest[i][idx[i]+1:]
		}
		return set, true
	}
	return nil, false
}

// Stats returns stereo steps processed, steps with a ball found, frames dropped unmatched.
func (n *PerceptionNode) Stats() (steps, found, dropped int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.steps, n.found, n.dropped
}

// Malformed returns how many frame sets were skipped because an image could
// not be converted (unknown encoding, too few bytes).
func (n *PerceptionNode) Malformed() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.malformed
}

// perceptionCounts is what one /diagnostics report compares with the last.
type perceptionCounts struct {
	steps, found, dropped, malformed int
	badSize                          uint64
}

// diagnostics reports the counters: WARN when, since the last report,
// images were malformed or of the wrong size, or more frames were dropped
// unmatched than stereo steps were made.
func (n *PerceptionNode) diagnostics(now time.Time, prev *perceptionCounts) *diagnostic_msgs.DiagnosticArray {
	n.mu.Lock()
	c := perceptionCounts{n.steps, n.found, n.dropped, n.malformed, n.IO.BadImages()}
	n.mu.Unlock()
	level, msg := int8(0), "running"
	switch {
	case c.malformed > prev.malformed || c.badSize > prev.badSize:
		level, msg = 1, fmt.Sprintf("%d malformed images, %d with a wrong size since the last report", c.malformed-prev.malformed, c.badSize-prev.badSize)
	case c.dropped-prev.dropped > c.steps-prev.steps:
		level, msg = 1, fmt.Sprintf("%d frames dropped unmatched, %d stereo steps since the last report", c.dropped-prev.dropped, c.steps-prev.steps)
	}
	*prev = c
	itoa := func(v int) string { return strconv.Itoa(v) }
	return ros.Diagnostics(now, "catch: perception", "catch_perception", level, msg, [][2]string{
		{"stereo_steps", itoa(c.steps)}, {"found", itoa(c.found)}, {"dropped_unmatched", itoa(c.dropped)},
		{"malformed", itoa(c.malformed)}, {"bad_size", strconv.FormatUint(c.badSize, 10)}})
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
	diag := time.NewTicker(DiagnosticsPeriod)
	defer diag.Stop()
	var prev perceptionCounts
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-diag.C:
			n.IO.PublishDiagnostics(n.diagnostics(now, &prev))
			continue
		case <-n.wake:
		}
		for {
			set, ok := n.takeSet()
			if !ok {
				break
			}
			bad := false
			for i, img := range set {
				if err := toBGR(img, &mats[i]); err != nil {
					// A malformed frame skips its set; it is counted and
					// reported on /diagnostics, and logged now and then.
					n.mu.Lock()
					n.malformed++
					k := n.malformed
					n.mu.Unlock()
					if k == 1 || k%100 == 0 {
						n.log.Warn("perception: malformed image skipped", "camera", n.rig.Cameras[i].Name, "err", err, "malformed", k)
					}
					bad = true
					break
				}
			}
			if bad {
				continue
			}
			if n.t0.IsZero() {
				n.t0 = set[0].Stamp
			}
			// A gap in the stream (between throws) starts a new track.
			if !n.last.IsZero() && (set[0].Stamp.Sub(n.last) > TrackGap || set[0].Stamp.Before(n.last)) {
				n.tr.Reset()
			}
			n.last = set[0].Stamp
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

// bayerCodes are OpenCV's demosaicing codes for ROS's Bayer encodings
// (OpenCV names a pattern by the second row's first two pixels).
var bayerCodes = map[string]gocv.ColorConversionCode{
	"bayer_rggb8": gocv.ColorBayerBGToBGR,
	"bayer_bggr8": gocv.ColorBayerRGToBGR,
	"bayer_gbrg8": gocv.ColorBayerGRToBGR,
	"bayer_grbg8": gocv.ColorBayerGBToBGR,
}

// toBGR converts a bgr8, rgb8, mono8 or 8-bit Bayer image into dst, an
// 8-bit BGR Mat (made with gocv.NewMat).
func toBGR(img *ros.Image, dst *gocv.Mat) error {
	var typ gocv.MatType
	ch := 3
	switch img.Encoding {
	case "bgr8", "rgb8":
		typ = gocv.MatTypeCV8UC3
	case "mono8", "bayer_rggb8", "bayer_bggr8", "bayer_gbrg8", "bayer_grbg8":
		typ, ch = gocv.MatTypeCV8UC1, 1
	default:
		return fmt.Errorf("image encoding %q: want bgr8, rgb8, mono8 or bayer_{rggb,bggr,gbrg,grbg}8", img.Encoding)
	}
	if img.Width < 1 || img.Height < 1 || img.Step < img.Width*ch || len(img.Data) < img.Step*(img.Height-1)+img.Width*ch {
		return fmt.Errorf("image %d×%d, step %d, %d bytes: too few bytes for %s", img.Width, img.Height, img.Step, len(img.Data), img.Encoding)
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
	case "bgr8":
		m.CopyTo(dst)
	default:
		gocv.CvtColor(m, dst, bayerCodes[img.Encoding])
	}
	return nil
}
