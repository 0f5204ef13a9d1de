// Package capture reads cameras for the physical rig through OpenCV's VideoCapture (gocv): a
// V4L2 device index ("0"), a GStreamer pipeline (a spec containing "!") or a video file, with
// a timestamp per frame, several cameras matched by timestamp, and dropped frames counted.
//
// Timestamps are s on the host's monotonic clock since Open (files: the file's own frame
// times). A frame is stamped with the driver's timestamp when the backend reports one
// (CAP_PROP_POS_MSEC: V4L2 buffer time, GStreamer PTS, file position) and Config.DriverStamps
// is on; otherwise with its arrival time minus Config.LatencyS (exposure + transfer: measure
// it once, e.g. with `catch latency`). A Camera is used by one goroutine; Sync reads its
// cameras in turn on the caller's goroutine.
package capture

import (
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"gocv.io/x/gocv"
)

// Config configures one camera. The zero value means the defaults.
type Config struct {
	// FPS is the nominal frame rate, used to count dropped frames; default
	// the backend's reported rate, else 125.
	FPS float64 `yaml:"fps"`
	// LatencyS is subtracted from arrival times, s; default 0.
	LatencyS float64 `yaml:"latency_s"`
	// DriverStamps uses the backend's frame timestamps when it has them;
	// default false (arrival time − LatencyS).
	DriverStamps bool `yaml:"driver_stamps"`
}

// Frame describes a frame read.
type Frame struct {
	T      float64 // capture time, s
	Seq    int     // frames read from this camera so far (0-based)
	Driver bool    // T is the driver's timestamp
}

// Camera is one opened camera.
type Camera struct {
	Name    string
	cap     *gocv.VideoCapture
	cfg     Config
	start   time.Time
	file    bool
	n       int
	lastT   float64
	dropped int
	t0      float64 // first driver stamp (driver stamps are made relative)
}

// Open opens a camera: spec is a device index, a GStreamer pipeline or a
// video file.
func Open(name, spec string, cfg Config) (*Camera, error) {
	c := &Camera{Name: name, cfg: cfg, start: time.Now(), lastT: math.NaN()}
	var err error
	switch {
	case isInt(spec):
		id, _ := strconv.Atoi(spec)
		c.cap, err = gocv.OpenVideoCapture(id)
	case strings.Contains(spec, "!"):
		c.cap, err = gocv.OpenVideoCaptureWithAPI(spec, gocv.VideoCaptureGstreamer)
	default:
		if _, serr := os.Stat(spec); serr != nil {
			return nil, fmt.Errorf("capture %s: %w", name, serr)
		}
		c.cap, err = gocv.VideoCaptureFile(spec)
		c.file = true
	}
	if err != nil {
		return nil, fmt.Errorf("capture %s (%s): %w", name, spec, err)
	}
	if !c.cap.IsOpened() {
		c.cap.Close()
		return nil, fmt.Errorf("capture %s (%s): OpenCV cannot open it", name, spec)
	}
	if c.cfg.FPS <= 0 {
		c.cfg.FPS = c.cap.Get(gocv.VideoCaptureFPS)
		if !(c.cfg.FPS > 0 && c.cfg.FPS < 1e5) {
			c.cfg.FPS = 125
		}
	}
	return c, nil
}

// FPS is the nominal frame rate.
func (c *Camera) FPS() float64 { return c.cfg.FPS }

// Dropped counts frames missing between the timestamps read so far (a gap
// of more than 1.5 periods counts its missing periods).
func (c *Camera) Dropped() int { return c.dropped }

// Read grabs the next frame into dst and stamps it; io.EOF after a file's
// last frame.
func (c *Camera) Read(dst *gocv.Mat) (Frame, error) {
	if !c.cap.Read(dst) || dst.Empty() {
		if c.file && c.n > 0 {
			return Frame{}, io.EOF
		}
		return Frame{}, fmt.Errorf("capture %s: no frame (camera unplugged or stream ended)", c.Name)
	}
	arrival := time.Since(c.start).Seconds()
	f := Frame{Seq: c.n, T: arrival - c.cfg.LatencyS}
	ms := c.cap.Get(gocv.VideoCapturePosMsec)
	switch {
	case c.file:
		// A file's own frame times (its position before this frame is
		// what some backends report; fall back to index / fps).
		f.T, f.Driver = float64(c.n)/c.cfg.FPS, true
		if ms > 0 || c.n == 0 {
			f.T = ms / 1e3
		}
	case c.cfg.DriverStamps && ms > 0:
		// Driver clock → host clock, offset fixed at the first frame.
		if c.n == 0 {
			c.t0 = ms/1e3 - f.T
		}
		f.T, f.Driver = ms/1e3-c.t0, true
	}
	c.dropped += Gaps(c.lastT, f.T, 1/c.cfg.FPS)
	c.lastT = f.T
	c.n++
	return f, nil
}

// Gaps is the number of frames missing between stamps prev and t of a
// stream with the given period (0 when prev is NaN).
func Gaps(prev, t, period float64) int {
	if math.IsNaN(prev) || !(t-prev > 1.5*period) {
		return 0
	}
	return int(math.Round((t-prev)/period)) - 1
}

// Close releases the camera.
func (c *Camera) Close() error { return c.cap.Close() }

// Sync reads a set of cameras and returns frames of one instant: frames
// whose stamps differ by more than Tol from the newest are dropped (read
// again) and counted.
type Sync struct {
	Cams []*Camera
	// Tol is the largest stamp difference within a set, s; default half
	// the first camera's period.
	Tol     float64
	frames  []Frame
	Dropped int // frames discarded to keep the set in step
}

// Read fills dst (one Mat per camera) with a matched set and returns the
// frames' stamps.
func (s *Sync) Read(dst []gocv.Mat) ([]Frame, error) {
	if len(dst) != len(s.Cams) {
		return nil, fmt.Errorf("capture: %d Mats for %d cameras", len(dst), len(s.Cams))
	}
	tol := s.Tol
	if tol <= 0 {
		tol = 0.5 / s.Cams[0].FPS()
	}
	if len(s.frames) != len(s.Cams) {
		s.frames = make([]Frame, len(s.Cams))
	}
	for i, c := range s.Cams {
		f, err := c.Read(&dst[i])
		if err != nil {
			return nil, err
		}
		s.frames[i] = f
	}
	for tries := 0; tries < 64; tries++ {
		newest, oldest := 0, 0
		for i := range s.frames {
			if s.frames[i].T > s.frames[newest].T {
				newest = i
			}
			if s.frames[i].T < s.frames[oldest].T {
				oldest = i
			}
		}
		if s.frames[newest].T-s.frames[oldest].T <= tol {
			return s.frames, nil
		}
		f, err := s.Cams[oldest].Read(&dst[oldest])
		if err != nil {
			return nil, err
		}
		s.frames[oldest] = f
		s.Dropped++
	}
	return nil, fmt.Errorf("capture: cameras not in step within 64 frames (stamps %v)", s.frames)
}

func isInt(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}
