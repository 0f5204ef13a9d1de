package vision

import (
	"image"

	"gocv.io/x/gocv"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/perception/camera"
)

// SimCamera is camera-fidelity perception for the simulator: at each camera
// frame it renders what every camera of the rig would see and runs the real
// Tracker on it, returning the triangulated position. To keep a trial cheap
// it renders only the pixels the tracker asks for: the ROI around the
// predicted ball image while tracking (about 60–240 px square), the full
// frame while searching. The pixels inside a requested region are exactly
// those of a full render (background, shaded anti-aliased ball, distractors,
// noise), so the detector sees realistic pixels either way.
//
// Not safe for concurrent use: one SimCamera per simulated world.
type SimCamera struct {
	r       *Renderer
	tr      *Tracker
	frames  []gocv.Mat
	done    []image.Rectangle // region of the current frame already rendered, per camera
	b       BallState
	t       float64
	prevP   camera.Vec
	prevT   float64
	hasPrev bool
	res     Result
}

// NewSimCamera builds camera-fidelity perception for a rig and ball.
func NewSimCamera(rig *camera.Rig, rc RenderConfig, tc TrackerConfig, props ball.Props) (*SimCamera, error) {
	r, err := NewRenderer(rc, rig)
	if err != nil {
		return nil, err
	}
	tr, err := NewTracker(tc, rig, props)
	if err != nil {
		return nil, err
	}
	s := &SimCamera{r: r, tr: tr, b: BallState{Radius: props.Radius}}
	for range rig.Cameras {
		s.frames = append(s.frames, gocv.NewMat())
		s.done = append(s.done, image.Rectangle{})
	}
	return s, nil
}

// Close frees the frames and detectors.
func (s *SimCamera) Close() error {
	for i := range s.frames {
		s.frames[i].Close()
	}
	return s.tr.Close()
}

// Tracker returns the tracker (for its statistics).
func (s *SimCamera) Tracker() *Tracker { return s.tr }

// StartThrow resets the track and reseeds the sensor noise for a new throw.
func (s *SimCamera) StartThrow(seed uint64, radius float64) {
	s.tr.Reset()
	s.r.Reseed(seed)
	s.b.Radius = radius
	s.hasPrev = false
}

// Observe renders the frames of time t (s) with the ball at p (m, world)
// and returns the tracker's triangulated position, or false when it found
// none.
func (s *SimCamera) Observe(t float64, p camera.Vec) (camera.Vec, bool, error) {
	// Velocity for motion blur from the previous frame.
	var v camera.Vec
	if s.hasPrev && t > s.prevT {
		for k := 0; k < 3; k++ {
			v[k] = (p[k] - s.prevP[k]) / (t - s.prevT)
		}
	}
	s.prevP, s.prevT, s.hasPrev = p, t, true
	s.b.P, s.b.V, s.t = p, v, t
	for i := range s.done {
		s.done[i] = image.Rectangle{}
	}
	if err := s.tr.Step(t, s, &s.res); err != nil {
		return camera.Vec{}, false, err
	}
	if !s.res.Found {
		return camera.Vec{}, false, nil
	}
	return s.res.P, true, nil
}

// LastResult is the tracker's result of the last Observe.
func (s *SimCamera) LastResult() *Result { return &s.res }

// Frame renders (the missing part of) rect of camera cam's current frame.
func (s *SimCamera) Frame(cam int, rect image.Rectangle) (gocv.Mat, error) {
	c := s.r.rig.Cameras[cam]
	full := image.Rect(0, 0, c.Width, c.Height)
	if rect.Empty() {
		rect = full
	}
	rect = rect.Intersect(full)
	if !rect.In(s.done[cam]) || s.done[cam].Empty() {
		if err := s.r.Render(cam, s.t, s.b, rect, &s.frames[cam]); err != nil {
			return gocv.Mat{}, err
		}
		s.done[cam] = rect
	}
	return s.frames[cam], nil
}
