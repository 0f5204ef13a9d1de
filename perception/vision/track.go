package vision

import (
	"errors"
	"fmt"
	"image"
	"math"

	"gocv.io/x/gocv"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/perception"
	"github.com/agilecatch/catch/perception/camera"
)

// TrackerConfig configures a Tracker. The zero value means the defaults on
// each field.
type TrackerConfig struct {
	Detector  DetectorConfig             `yaml:"detector"`
	Estimator perception.EstimatorConfig `yaml:"estimator"`
	// GatePx is the largest reprojection error of a match, px, on top of
	// 0.1 px per px of blob radius (big blobs are measured less exactly);
	// default 2. With two cameras this is the epipolar check.
	GatePx float64 `yaml:"gate_px"`
	// ROIMarginPx is added around the predicted ball image while tracking,
	// px; default 16 (≈ 2 frames of a 1 px/ms image motion... at worst 8 px
	// per frame near the cameras).
	ROIMarginPx float64 `yaml:"roi_margin_px"`
	// ROISigma scales the predicted position σ (projected to px) into the
	// ROI; default 5.
	ROISigma float64 `yaml:"roi_sigma"`
	// MaxROIPx caps the ROI half-size, px; default 120 (beyond that a full
	// frame search costs about the same).
	MaxROIPx float64 `yaml:"max_roi_px"`
	// NoROI always searches full frames (for comparison).
	NoROI bool `yaml:"no_roi"`
}

// WithDefaults returns c with every zero field set to its default.
func (c TrackerConfig) WithDefaults() TrackerConfig {
	c.Detector = c.Detector.WithDefaults()
	c.Estimator = c.Estimator.WithDefaults()
	if c.GatePx == 0 {
		c.GatePx = 2
	}
	if c.ROIMarginPx == 0 {
		c.ROIMarginPx = 16
	}
	if c.ROISigma == 0 {
		c.ROISigma = 5
	}
	if c.MaxROIPx == 0 {
		c.MaxROIPx = 120
	}
	return c
}

// Validate reports the first bad field.
func (c TrackerConfig) Validate() error {
	if err := c.Detector.Validate(); err != nil {
		return err
	}
	if err := c.Estimator.Validate(); err != nil {
		return err
	}
	c = c.WithDefaults()
	if !(c.GatePx > 0 && c.GatePx < 100) {
		return fmt.Errorf("tracker: gate_px %v, want (0, 100)", c.GatePx)
	}
	if !(c.ROIMarginPx > 0 && c.ROISigma > 0 && c.MaxROIPx > c.ROIMarginPx) {
		return fmt.Errorf("tracker: roi_margin_px %v, roi_sigma %v, max_roi_px %v: want positive, max > margin", c.ROIMarginPx, c.ROISigma, c.MaxROIPx)
	}
	return nil
}

// FrameProvider hands the tracker one camera's frame for the current time
// step. Only rect (the whole frame when empty) needs to hold valid pixels:
// a renderer may draw just that part.
type FrameProvider interface {
	Frame(cam int, rect image.Rectangle) (gocv.Mat, error)
}

// Result is what the tracker made of one time step.
type Result struct {
	T     float64 // frame time, s
	Found bool    // a consistent ball position was triangulated and accepted
	// Rejected: a triangulation passed the epipolar gate but the estimator
	// gated it out as an outlier of the current flight.
	Rejected bool
	P        camera.Vec // triangulated ball centre, m (when Found)
	ReprojPx float64    // its largest reprojection error, px
	// Per camera: the pixel used (NaN when none), the candidates found.
	Pixel [camera.MaxViews][2]float64
	Cands [camera.MaxViews]int
	// ROI: the step was searched in regions of interest only; FullSearch:
	// at least one camera was searched over the full frame.
	ROI, FullSearch bool
	// Est is the estimator's state at T after this step.
	Est ball.Estimate
}

// Tracker runs detection in every camera of a rig, matches candidates
// across cameras by triangulation with a reprojection (epipolar) gate, and
// feeds the positions to a ball Estimator, whose prediction places the
// regions of interest for the next frame. When the ball is lost (no valid
// estimate, or nothing consistent in the ROIs) it searches full frames.
// Not safe for concurrent use.
type Tracker struct {
	cfg    TrackerConfig
	rig    *camera.Rig
	dets   []*Detector
	est    *perception.Estimator
	radius float64
	cands  [][]Candidate
	rois   []image.Rectangle
	views  [camera.MaxViews]camera.View
	idx    [camera.MaxViews]int
	// Stats
	Steps, Found, FullSearches int
}

// NewTracker builds a tracker for the rig's cameras and a ball.
func NewTracker(cfg TrackerConfig, rig *camera.Rig, props ball.Props) (*Tracker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if rig == nil || len(rig.Cameras) < 2 {
		return nil, errors.New("tracker: need a rig of at least 2 cameras")
	}
	if len(rig.Cameras) > camera.MaxViews {
		return nil, fmt.Errorf("tracker: %d cameras, at most %d", len(rig.Cameras), camera.MaxViews)
	}
	est, err := perception.NewEstimator(cfg.Estimator, props)
	if err != nil {
		return nil, err
	}
	t := &Tracker{cfg: cfg, rig: rig, est: est, radius: props.Radius}
	for range rig.Cameras {
		d, err := NewDetector(cfg.Detector)
		if err != nil {
			t.Close()
			return nil, err
		}
		t.dets = append(t.dets, d)
		t.cands = append(t.cands, make([]Candidate, 0, 64))
		t.rois = append(t.rois, image.Rectangle{})
	}
	return t, nil
}

// Close frees the detectors.
func (t *Tracker) Close() error {
	for _, d := range t.dets {
		d.Close()
	}
	return nil
}

// Reset forgets the track (a new throw).
func (t *Tracker) Reset() { t.est.Reset() }

// Candidates returns camera i's candidates of the last Step (valid until
// the next Step; the caller must not modify them).
func (t *Tracker) Candidates(i int) []Candidate { return t.cands[i] }

// Estimator returns the tracker's estimator (for Estimate at other times).
func (t *Tracker) Estimator() *perception.Estimator { return t.est }

// Step processes the frames of time ts (s).
func (t *Tracker) Step(ts float64, src FrameProvider, res *Result) error {
	*res = Result{T: ts}
	for i := range res.Pixel {
		res.Pixel[i] = [2]float64{math.NaN(), math.NaN()}
	}
	t.Steps++
	var pred ball.Estimate
	t.est.Estimate(ts, &pred)
	useROI := pred.Valid && !t.cfg.NoROI
	if useROI {
		useROI = t.planROIs(&pred)
	}
	if err := t.detect(src, useROI); err != nil {
		return err
	}
	ok := t.match(res, &pred)
	if !ok && useROI {
		// Lost in the ROIs: search the full frames of this same step.
		if err := t.detect(src, false); err != nil {
			return err
		}
		useROI = false
		ok = t.match(res, &pred)
	}
	res.ROI = useROI
	res.FullSearch = !useROI
	if !useROI {
		t.FullSearches++
	}
	for i := range t.dets {
		res.Cands[i] = len(t.cands[i])
	}
	if ok {
		if t.est.Observe(ts, res.P) {
			res.Found = true
			t.Found++
		} else {
			res.Rejected = true
		}
	}
	t.est.Estimate(ts, &res.Est)
	return nil
}

// planROIs places each camera's ROI around the predicted ball image; it
// reports false when the prediction leaves every image.
func (t *Tracker) planROIs(pred *ball.Estimate) bool {
	sig := math.Sqrt((pred.Cov[0] + pred.Cov[7] + pred.Cov[14]) / 3)
	any := false
	for i, c := range t.rig.Cameras {
		t.rois[i] = image.Rectangle{}
		q := c.ToCamera(pred.State.P)
		if q[2] < 0.1 {
			continue
		}
		u, v, _ := c.Project(pred.State.P)
		f := c.K[0] / q[2]
		half := math.Min(t.cfg.MaxROIPx, f*(1.6*t.radius+t.cfg.ROISigma*sig)+t.cfg.ROIMarginPx)
		r := image.Rect(int(u-half), int(v-half), int(u+half)+1, int(v+half)+1).Intersect(image.Rect(0, 0, c.Width, c.Height))
		if r.Dx() < 4 || r.Dy() < 4 {
			continue
		}
		t.rois[i] = r
		any = true
	}
	return any
}

func (t *Tracker) detect(src FrameProvider, useROI bool) error {
	for i, c := range t.rig.Cameras {
		roi := image.Rectangle{}
		if useROI {
			roi = t.rois[i]
			if roi.Empty() {
				t.cands[i] = t.cands[i][:0]
				continue
			}
		}
		frame, err := src.Frame(i, roi)
		if err != nil {
			return fmt.Errorf("tracker: camera %s: %w", c.Name, err)
		}
		if frame.Cols() != c.Width || frame.Rows() != c.Height {
			return fmt.Errorf("tracker: camera %s: frame is %d×%d, calibration says %d×%d", c.Name, frame.Cols(), frame.Rows(), c.Width, c.Height)
		}
		t.cands[i], err = t.dets[i].Detect(frame, roi, t.cands[i])
		if err != nil {
			return fmt.Errorf("tracker: camera %s: %w", c.Name, err)
		}
	}
	return nil
}

// match picks the most consistent candidate per camera: the best pair by
// reprojection error (and, while tracking, closeness to the prediction),
// then any other camera's candidate that reprojects within the gate.
func (t *Tracker) match(res *Result, pred *ball.Estimate) bool {
	n := len(t.rig.Cameras)
	best := math.Inf(1)
	var bi, bj, ba, bb int
	var bp camera.Point
	var sig2 float64
	if pred.Valid {
		sig2 = (pred.Cov[0]+pred.Cov[7]+pred.Cov[14])/3 + 0.01*0.01
	}
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			for a, ca := range t.cands[i] {
				for b, cb := range t.cands[j] {
					views := [2]camera.View{{Cam: t.rig.Cameras[i], U: ca.U, V: ca.V}, {Cam: t.rig.Cameras[j], U: cb.U, V: cb.V}}
					pt, err := camera.Triangulate(views[:], t.radius)
					if err != nil {
						continue
					}
					gate := t.cfg.GatePx + 0.1*math.Max(ca.Radius, cb.Radius)
					if pt.MaxPx > gate {
						continue
					}
					cost := pt.MaxPx / gate
					if pred.Valid {
						d := dist3(pt.P, pred.State.P)
						cost += d * d / (9 * sig2)
					}
					if cost < best {
						best, bi, bj, ba, bb, bp = cost, i, j, a, b, pt
					}
				}
			}
		}
	}
	if math.IsInf(best, 1) {
		return false
	}
	nv := 0
	t.views[nv] = camera.View{Cam: t.rig.Cameras[bi], U: t.cands[bi][ba].U, V: t.cands[bi][ba].V}
	t.idx[nv] = bi
	nv++
	t.views[nv] = camera.View{Cam: t.rig.Cameras[bj], U: t.cands[bj][bb].U, V: t.cands[bj][bb].V}
	t.idx[nv] = bj
	nv++
	for k := 0; k < n; k++ {
		if k == bi || k == bj {
			continue
		}
		c := t.rig.Cameras[k]
		u, v, ok := c.Project(bp.P)
		if !ok {
			continue
		}
		for _, cc := range t.cands[k] {
			if math.Hypot(cc.U-u, cc.V-v) <= 2*t.cfg.GatePx+0.2*cc.Radius {
				t.views[nv] = camera.View{Cam: c, U: cc.U, V: cc.V}
				t.idx[nv] = k
				nv++
				break
			}
		}
	}
	if nv > 2 {
		if pt, err := camera.Triangulate(t.views[:nv], t.radius); err == nil {
			bp = pt
		}
	}
	res.P = bp.P
	res.ReprojPx = bp.MaxPx
	for k := 0; k < nv; k++ {
		res.Pixel[t.idx[k]] = [2]float64{t.views[k].U, t.views[k].V}
	}
	return true
}

func dist3(a, b camera.Vec) float64 {
	return math.Sqrt((a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2]))
}

// Frames is a FrameProvider over already decoded full frames, one per
// camera.
type Frames []gocv.Mat

// Frame returns the camera's frame.
func (f Frames) Frame(cam int, _ image.Rectangle) (gocv.Mat, error) {
	if cam < 0 || cam >= len(f) {
		return gocv.Mat{}, fmt.Errorf("no frame for camera %d", cam)
	}
	return f[cam], nil
}
