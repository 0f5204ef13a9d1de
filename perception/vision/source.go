package vision

import (
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"gocv.io/x/gocv"
)

// Source is one camera's stream of frames. Read decodes the next frame into
// dst (8-bit BGR, reallocated only when its size changes) and returns its
// capture time in s on the source's clock; it returns io.EOF after the last
// frame. Not safe for concurrent use.
type Source interface {
	Read(dst *gocv.Mat) (t float64, err error)
	// Size is the frame size in px (zero before the first frame when the
	// source cannot tell).
	Size() image.Point
	Close() error
}

// DefaultFPS is the frame rate assumed for files that do not state one
// (docs/architecture.md §5: 125 Hz cameras).
const DefaultFPS = 125

// VideoSource reads frames through OpenCV's VideoCapture: a camera device
// (the spec is its index, "0"), a GStreamer pipeline (the spec contains
// "!"), or a video file. File frames are stamped index/fps (from the fps
// argument, else the file's own rate, else DefaultFPS); live frames with
// the wall clock since Open.
type VideoSource struct {
	cap   *gocv.VideoCapture
	spec  string
	fps   float64
	live  bool
	n     int
	start time.Time
	size  image.Point
	count int // frames the file's header declares (0: unknown, or a live source)
}

// OpenVideo opens a VideoSource; fps ≤ 0 means the file's own rate.
func OpenVideo(spec string, fps float64) (*VideoSource, error) {
	s := &VideoSource{spec: spec, start: time.Now()}
	var err error
	switch {
	case isInt(spec):
		id, _ := strconv.Atoi(spec)
		s.cap, err = gocv.OpenVideoCapture(id)
		s.live = true
	case strings.Contains(spec, "!"):
		s.cap, err = gocv.OpenVideoCaptureWithAPI(spec, gocv.VideoCaptureGstreamer)
		s.live = true
	default:
		if _, serr := os.Stat(spec); serr != nil {
			return nil, fmt.Errorf("video %s: %w", spec, serr)
		}
		s.cap, err = gocv.VideoCaptureFile(spec)
	}
	if err != nil {
		return nil, fmt.Errorf("video %s: %w", spec, err)
	}
	if !s.cap.IsOpened() {
		s.cap.Close()
		return nil, fmt.Errorf("video %s: OpenCV cannot open it (not a video, or no backend for its codec)", spec)
	}
	s.fps = fps
	if s.fps <= 0 {
		s.fps = s.cap.Get(gocv.VideoCaptureFPS)
		if !(s.fps > 0 && s.fps < 1e5) {
			s.fps = DefaultFPS
		}
	}
	s.size = image.Pt(int(s.cap.Get(gocv.VideoCaptureFrameWidth)), int(s.cap.Get(gocv.VideoCaptureFrameHeight)))
	if c := s.cap.Get(gocv.VideoCaptureFrameCount); !s.live && c > 0 && c < 1e9 {
		s.count = int(c)
	}
	return s, nil
}

// FPS is the frame rate used for timestamps.
func (s *VideoSource) FPS() float64 { return s.fps }

// Size is the frame size the backend reports.
func (s *VideoSource) Size() image.Point { return s.size }

// Read decodes the next frame. A file whose decoding stops well before the
// frame count its header declares is corrupt or truncated: an error, not
// io.EOF (containers whose count is an estimate get 2% slack).
func (s *VideoSource) Read(dst *gocv.Mat) (float64, error) {
	if !s.cap.Read(dst) || dst.Empty() {
		if s.n == 0 {
			return 0, fmt.Errorf("video %s: no frame could be decoded", s.spec)
		}
		if s.count > 0 && s.n < s.count-max(2, s.count/50) {
			return 0, fmt.Errorf("video %s: decoding stopped at frame %d of the %d its header declares: corrupt or truncated file", s.spec, s.n, s.count)
		}
		return 0, io.EOF
	}
	if dst.Type() != gocv.MatTypeCV8UC3 {
		return 0, fmt.Errorf("video %s: frame %d has type %v, want 8-bit BGR", s.spec, s.n, dst.Type())
	}
	t := float64(s.n) / s.fps
	if s.live {
		t = time.Since(s.start).Seconds()
	}
	s.n++
	return t, nil
}

// Close releases the capture.
func (s *VideoSource) Close() error { return s.cap.Close() }

// ImageDirSource reads the image files of a directory (PNG, JPEG, BMP,
// TIFF) in name order, stamped index/fps.
type ImageDirSource struct {
	files []string
	fps   float64
	n     int
	size  image.Point
}

// OpenImageDir lists dir's images; fps ≤ 0 means DefaultFPS.
func OpenImageDir(dir string, fps float64) (*ImageDirSource, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("image directory: %w", err)
	}
	s := &ImageDirSource{fps: fps}
	if s.fps <= 0 {
		s.fps = DefaultFPS
	}
	for _, e := range ents {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff":
			s.files = append(s.files, filepath.Join(dir, e.Name()))
		}
	}
	if len(s.files) == 0 {
		return nil, fmt.Errorf("image directory %s: no .png/.jpg/.bmp/.tif files", dir)
	}
	sort.Strings(s.files)
	return s, nil
}

// Size is the size of the last frame read.
func (s *ImageDirSource) Size() image.Point { return s.size }

// Read decodes the next image.
func (s *ImageDirSource) Read(dst *gocv.Mat) (float64, error) {
	if s.n >= len(s.files) {
		return 0, io.EOF
	}
	m := gocv.IMRead(s.files[s.n], gocv.IMReadColor)
	if m.Empty() {
		m.Close()
		return 0, fmt.Errorf("image %s: OpenCV cannot read it", s.files[s.n])
	}
	m.CopyTo(dst)
	m.Close()
	s.size = image.Pt(dst.Cols(), dst.Rows())
	t := float64(s.n) / s.fps
	s.n++
	return t, nil
}

// Close does nothing.
func (s *ImageDirSource) Close() error { return nil }

// RenderSource renders one camera's frames of a ball trajectory: frame i
// shows Balls[i] at time i/FPS.
type RenderSource struct {
	R     *Renderer
	Cam   int
	Balls []BallState
	FPS   float64
	n     int
}

// Size is the camera's image size.
func (s *RenderSource) Size() image.Point {
	c := s.R.rig.Cameras[s.Cam]
	return image.Pt(c.Width, c.Height)
}

// Read renders the next frame.
func (s *RenderSource) Read(dst *gocv.Mat) (float64, error) {
	if s.n >= len(s.Balls) {
		return 0, io.EOF
	}
	if !(s.FPS > 0) {
		return 0, errors.New("render source: fps must be positive")
	}
	t := float64(s.n) / s.FPS
	if err := s.R.Render(s.Cam, t, s.Balls[s.n], image.Rectangle{}, dst); err != nil {
		return 0, err
	}
	s.n++
	return t, nil
}

// Close does nothing.
func (s *RenderSource) Close() error { return nil }

func isInt(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil && s != ""
}
