package vision

import (
	"errors"
	"fmt"
	"image"
	"math"

	"gocv.io/x/gocv"

	"github.com/agilecatch/catch/ball"
	"github.com/agilecatch/catch/internal/dense"
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
	// WorkspaceMin and WorkspaceMax bound where a ball can be, world
	// frame, m: a triangulation outside (below the floor, behind the
	// robot, kilometres away) is not a ball. Default: x in [−2, 12], y in
	// [−6, 6], z in [−0.05, 6] (the floor is z = 0).
	WorkspaceMin camera.Vec `yaml:"workspace_min_m"`
	WorkspaceMax camera.Vec `yaml:"workspace_max_m"`
	// RadiusRatio bounds a candidate's image radius over the radius the
	// ball has at its triangulated depth (f·R/depth): beyond [1/r, r] the
	// blob is not the ball at that distance (a big disc far away, a
	// speck near). Default 2 (motion blur grows a blob, occlusion shrinks
	// it).
	RadiusRatio float64 `yaml:"radius_ratio"`
	// MinSpeedMPS and MaxSpeedMPS bound the speed between a triangulated
	// point and one of the previous frame for the pair to count as a
	// flying ball; defaults 1.5 and 40 m/s. Until the estimator holds a
	// track, only such moving pairs are fed to it: a static blob (a ball
	// on the floor, a logo) or a slowly rolling ball never starts a track,
	// and the estimator's ballistic fit then confirms the flight.
	MinSpeedMPS float64 `yaml:"min_speed_mps"`
	MaxSpeedMPS float64 `yaml:"max_speed_mps"`
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
	if c.WorkspaceMin == (camera.Vec{}) && c.WorkspaceMax == (camera.Vec{}) {
		c.WorkspaceMin, c.WorkspaceMax = camera.Vec{-2, -6, -0.05}, camera.Vec{12, 6, 6}
	}
	if c.RadiusRatio == 0 {
		c.RadiusRatio = 2
	}
	if c.MinSpeedMPS == 0 {
		c.MinSpeedMPS = 1.5
	}
	if c.MaxSpeedMPS == 0 {
		c.MaxSpeedMPS = 40
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
	for k := 0; k < 3; k++ {
		if !(c.WorkspaceMin[k] < c.WorkspaceMax[k]) {
			return fmt.Errorf("tracker: workspace_min_m %v, workspace_max_m %v: want min < max on every axis", c.WorkspaceMin, c.WorkspaceMax)
		}
	}
	if !(c.RadiusRatio > 1 && c.RadiusRatio < 100) {
		return fmt.Errorf("tracker: radius_ratio %v, want (1, 100)", c.RadiusRatio)
	}
	if !(c.MinSpeedMPS >= 0 && c.MinSpeedMPS < c.MaxSpeedMPS) {
		return fmt.Errorf("tracker: min_speed_mps %v, max_speed_mps %v, want 0 ≤ min < max", c.MinSpeedMPS, c.MaxSpeedMPS)
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
	// Mono: P came from one camera's ray at the predicted depth (the ball
	// was not matched in a second camera).
	Mono bool
	// Hypotheses is how many triangulations passed the epipolar, workspace
	// and size gates; Static how many of them were not fed to the
	// estimator because nothing links them to a flying ball.
	Hypotheses, Static int
	P                  camera.Vec // triangulated ball centre, m (when Found)
	ReprojPx           float64    // its largest reprojection error, px
	// Per camera: the pixel used (NaN when none), the candidates found.
	Pixel [camera.MaxViews][2]float64
	Cands [camera.MaxViews]int
	// ROI: the step was searched in regions of interest only; FullSearch:
	// at least one camera was searched over the full frame.
	ROI, FullSearch bool
	// Est is the estimator's state at T after this step.
	Est ball.Estimate
	// Late: this step confirmed a flight that began in earlier frames,
	// whose points LateP[:Late] (times LateT) were fed to the estimator
	// and accepted now, one or two frames late: a throw's first frames
	// have nothing to link to until the third arrives.
	Late  int
	LateT [2]float64
	LateP [2]camera.Vec
}

// Tracker runs detection in every camera of a rig, matches candidates
// across cameras by triangulation with a reprojection (epipolar) gate, and
// feeds the positions to a ball Estimator, whose prediction places the
// regions of interest for the next frame. When the ball is lost (no valid
// estimate, or nothing consistent in the ROIs) it searches full frames.
// Not safe for concurrent use.
type Tracker struct {
	cfg TrackerConfig
	rig *camera.Rig
	// The estimator's observation variance (m²) and squared gate.
	noise2, gate2 float64
	dets          []*Detector
	est           *perception.Estimator
	radius        float64
	cands         [][]Candidate
	rois          []image.Rectangle
	views         [camera.MaxViews]camera.View
	idx           [camera.MaxViews]int
	// Hypotheses of this frame and the previous one (see match).
	hyps, prev []hyp
	prevT      float64
	fedT       float64 // time of the last observation passed to the estimator
	fed        bool
	accT       float64 // time of the last observation the estimator accepted
	monoRun    int     // one-camera positions accepted since the last stereo one
	stereoRej  bool    // a stereo position was gated out since the last accepted one
	// Stats
	Steps, Found, FullSearches int
	// Phantoms counts consistent triangulations never fed to the
	// estimator because they did not move like a thrown ball.
	Phantoms int
}

// hyp is one triangulated pairing of candidates.
type hyp struct {
	p          camera.Vec
	px         float64 // largest reprojection error, px
	i, j, a, b int     // cameras and their candidates
	link       int     // index of the previous frame's hyp it continues at flight speed, −1 when none
	v          camera.Vec
	chain      int // frames of flight-speed links ending here
	// The chain's two points before this one and their times (valid for
	// chain ≥ 1 and ≥ 2).
	p1, p2 camera.Vec
	t1, t2 float64
	static bool
}

// staticM is how close two frames' hypotheses must be to count as one
// thing standing still: over twice a static blob's triangulation jitter,
// under the 32 mm a 4 m/s throw moves per 125 Hz frame.
const staticM = 0.015

// near reports whether any of hs lies within staticM of p.
func (t *Tracker) near(hs []hyp, p camera.Vec) bool {
	for k := range hs {
		if dist3(hs[k].p, p) < staticM {
			return true
		}
	}
	return false
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
	ec := est.Config()
	t := &Tracker{cfg: cfg, rig: rig, est: est, radius: props.Radius,
		noise2: ec.NoiseStd * ec.NoiseStd, gate2: ec.Gate * ec.Gate,
		hyps: make([]hyp, 0, 64), prev: make([]hyp, 0, 64), accT: math.Inf(-1)}
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
func (t *Tracker) Reset() {
	t.est.Reset()
	t.prev, t.hyps = t.prev[:0], t.hyps[:0]
	t.fed, t.accT, t.monoRun, t.stereoRej = false, math.Inf(-1), 0, false
}

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
	ok := t.match(ts, res, &pred)
	if !ok && useROI {
		// Lost in the ROIs: search the full frames of this same step.
		if err := t.detect(src, false); err != nil {
			return err
		}
		useROI = false
		ok = t.match(ts, res, &pred)
	}
	res.ROI = useROI
	res.FullSearch = !useROI
	if !useROI {
		t.FullSearches++
	}
	for i := range t.dets {
		res.Cands[i] = len(t.cands[i])
	}
	res.Hypotheses = len(t.hyps)
	if ok {
		if t.est.Observe(ts, res.P) {
			res.Found = true
			t.accT = ts
			if res.Mono {
				t.monoRun++
			} else {
				t.monoRun = 0
			}
			t.Found++
		} else {
			res.Rejected = true
		}
		t.fed, t.fedT = true, ts
	}
	res.Static = len(t.hyps)
	if ok && !res.Mono {
		res.Static--
	}
	t.Phantoms += res.Static
	t.prev, t.hyps = t.hyps, t.prev[:0]
	t.prevT = ts
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

// match triangulates every pairing of candidates across cameras and keeps
// the hypotheses that pass the epipolar (reprojection) gate, lie in the
// workspace and have blob sizes that fit their depth. Then it picks one:
// while the estimator predicts the ball, the hypothesis nearest the
// prediction within 5σ; otherwise (or when none is near) the one that
// continues a previous frame's hypothesis at flight speed, longest chain
// first. Before a track exists its previous point is fed to the estimator
// first, so that a throw starts from its second frame. Anything else, the
// static and slow blobs, is not fed. It returns whether a position was
// chosen; the pixels used go to res.
func (t *Tracker) match(ts float64, res *Result, pred *ball.Estimate) bool {
	n := len(t.rig.Cameras)
	t.hyps = t.hyps[:0]
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
					if pt.MaxPx > gate || !t.inWorkspace(pt.P) || !t.sizeFits(i, ca, pt.P) || !t.sizeFits(j, cb, pt.P) {
						continue
					}
					if len(t.hyps) < cap(t.hyps) {
						t.hyps = append(t.hyps, hyp{p: pt.P, px: pt.MaxPx / gate, i: i, j: j, a: a, b: b, link: -1})
					}
				}
			}
		}
	}
	// Link to the previous frame at flight speed. A point with a
	// hypothesis of the other frame within staticM is a static thing
	// (still there, or already there), and links neither way.
	dt := ts - t.prevT
	if len(t.prev) > 0 && dt > 0 && dt < 0.05 {
		for k := range t.hyps {
			t.hyps[k].static = t.near(t.prev, t.hyps[k].p)
		}
		for k := range t.hyps {
			h := &t.hyps[k]
			if h.static {
				continue
			}
			bestD := math.Inf(1)
			for m := range t.prev {
				q := &t.prev[m]
				if q.static || t.near(t.hyps, q.p) {
					continue
				}
				v := camera.Vec{(h.p[0] - q.p[0]) / dt, (h.p[1] - q.p[1]) / dt, (h.p[2] - q.p[2]) / dt}
				sp := math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2])
				if sp < t.cfg.MinSpeedMPS || sp > t.cfg.MaxSpeedMPS {
					continue
				}
				// A continuing flight keeps its velocity within what
				// gravity, drag and the triangulation noise change in a frame.
				dv := 0.0
				if q.chain > 0 {
					dv = dist3(v, q.v)
					if dv > 3+30*dt {
						continue
					}
				}
				if dv < bestD {
					bestD, h.link, h.v, h.chain = dv, m, v, q.chain+1
					h.p1, h.t1, h.p2, h.t2 = q.p, t.prevT, q.p1, q.t1
				}
			}
		}
	}
	chosen := -1
	if pred.Valid {
		sig2 := (pred.Cov[0]+pred.Cov[7]+pred.Cov[14])/3 + 0.01*0.01
		best := math.Inf(1)
		for k := range t.hyps {
			d := dist3(t.hyps[k].p, pred.State.P)
			if d*d > 25*sig2 {
				continue
			}
			if c := t.hyps[k].px + d*d/(9*sig2); c < best {
				best, chosen = c, k
			}
		}
	}
	if chosen < 0 {
		// A new flight needs three frames of it: two flight-speed links
		// that agree, covering the chain at over minFlightMPS (a static
		// blob whose centre jitters by a few pixels links at flight
		// speed now and then, but not twice in a row and not far).
		for k := range t.hyps {
			h := &t.hyps[k]
			if h.chain < 2 || dist3(h.p, h.p2) < minFlightMPS*(ts-h.t2) {
				continue
			}
			if chosen < 0 || h.chain > t.hyps[chosen].chain || (h.chain == t.hyps[chosen].chain && h.px < t.hyps[chosen].px) {
				chosen = k
			}
		}
		// Start a new flight from the chain's earlier points too: when
		// there is no track, or the last one ended (the estimator starts
		// a new track after MaxGap without an accepted observation).
		if chosen >= 0 && (!pred.Valid || t.prevT-t.accT > t.cfg.Estimator.MaxGap) {
			h := &t.hyps[chosen]
			for _, q := range [2]struct {
				t float64
				p camera.Vec
			}{{h.t2, h.p2}, {h.t1, h.p1}} {
				if t.fed && t.fedT >= q.t {
					continue
				}
				if t.est.Observe(q.t, q.p) {
					res.LateT[res.Late], res.LateP[res.Late] = q.t, q.p
					res.Late++
					t.accT = q.t
				}
				t.fed, t.fedT = true, q.t
			}
		}
	}
	monoOK := pred.Valid && pred.NObs >= monoMinObs && t.monoRun < maxMonoRun && !t.stereoRej
	if chosen < 0 {
		return monoOK && t.matchMono(res, pred)
	}
	h := t.hyps[chosen]
	if pred.Valid && (t.cands[h.i][h.a].Partial || t.cands[h.j][h.b].Partial) && t.innovation2(h.p, pred) > t.gate2 {
		// A partly seen ball whose circle the estimator would gate
		// out: the whole view of the other camera, at the predicted
		// depth, is the better point.
		if monoOK && t.matchMono(res, pred) {
			t.hyps[0], t.hyps[chosen] = t.hyps[chosen], t.hyps[0]
			return true
		}
	}
	// Keep the chosen hypothesis first so that Step can count the others.
	t.hyps[0], t.hyps[chosen] = t.hyps[chosen], t.hyps[0]
	bi, bj := h.i, h.j
	ca, cb := t.cands[bi][h.a], t.cands[bj][h.b]
	bp := camera.Point{P: h.p}
	nv := 0
	t.views[nv] = camera.View{Cam: t.rig.Cameras[bi], U: ca.U, V: ca.V}
	t.idx[nv] = bi
	nv++
	t.views[nv] = camera.View{Cam: t.rig.Cameras[bj], U: cb.U, V: cb.V}
	t.idx[nv] = bj
	nv++
	if pt, err := camera.Triangulate(t.views[:nv], t.radius); err == nil {
		bp = pt
	}
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

// minFlightMPS is the least mean speed over the three frames that start a
// flight: a thrown ball leaves the hand at over 3.5 m/s.
const minFlightMPS = 2.5

// monoMinObs is the track length from which one camera's view may stand
// in for a lost stereo match.
const monoMinObs = 5

// maxMonoRun bounds the one-camera positions accepted in a row (an
// occluding pole hides the ball from one camera for about 5 frames). Their
// depth is the prediction's, so a run of them confirms whatever velocity
// error the track has, and the estimator then drifts along the lines of
// sight and gates out the stereo points that would correct it: after a
// stereo point is gated out, no one-camera position is used until a stereo
// one is accepted again.
const maxMonoRun = 6

// matchMono covers frames where the ball is visible in one camera only
// (occluded in the other, or merged there with something ball-coloured):
// while a track is established, the candidate nearest the predicted image
// gives the point of its ray nearest the prediction, the depth taken
// from the prediction. The same 5σ gate and the size check apply.
func (t *Tracker) matchMono(res *Result, pred *ball.Estimate) bool {
	sig2 := (pred.Cov[0]+pred.Cov[7]+pred.Cov[14])/3 + 0.01*0.01
	best, bi, bu, bv := math.Inf(1), -1, 0.0, 0.0
	var bp camera.Vec
	for i, cam := range t.rig.Cameras {
		for _, c := range t.cands[i] {
			if c.Partial {
				continue // its centre is a guess: no depth to check it by
			}
			d, ok := cam.Ray(c.U, c.V)
			if !ok {
				continue
			}
			cp := cam.Position
			w := camera.Vec{pred.State.P[0] - cp[0], pred.State.P[1] - cp[1], pred.State.P[2] - cp[2]}
			s := w[0]*d[0] + w[1]*d[1] + w[2]*d[2]
			x := camera.Vec{cp[0] + s*d[0], cp[1] + s*d[1], cp[2] + s*d[2]}
			e := dist3(x, pred.State.P)
			if e*e > 25*sig2 || !t.inWorkspace(x) || !t.sizeFits(i, c, x) {
				continue
			}
			if e < best {
				best, bi, bu, bv, bp = e, i, c.U, c.V, x
			}
		}
	}
	if bi < 0 {
		return false
	}
	res.P, res.ReprojPx, res.Mono = bp, 0, true
	res.Pixel[bi] = [2]float64{bu, bv}
	return true
}

// innovation2 is the squared Mahalanobis distance of position p from the
// prediction, the estimator's own gate statistic (position covariance plus
// the observation noise).
func (t *Tracker) innovation2(p camera.Vec, pred *ball.Estimate) float64 {
	var s [3][3]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			s[i][j] = pred.Cov[i*6+j]
		}
		s[i][i] += t.noise2
	}
	inv, ok := dense.Inv3(&s)
	if !ok {
		return math.Inf(1)
	}
	d := camera.Vec{p[0] - pred.State.P[0], p[1] - pred.State.P[1], p[2] - pred.State.P[2]}
	var m float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			m += d[i] * inv[i][j] * d[j]
		}
	}
	return m
}

// inWorkspace reports whether p lies in the configured workspace box.
func (t *Tracker) inWorkspace(p camera.Vec) bool {
	for k := 0; k < 3; k++ {
		if !(p[k] >= t.cfg.WorkspaceMin[k] && p[k] <= t.cfg.WorkspaceMax[k]) {
			return false
		}
	}
	return true
}

// sizeFits reports whether candidate c of camera i has about the image
// radius of the ball at p.
func (t *Tracker) sizeFits(i int, c Candidate, p camera.Vec) bool {
	cam := t.rig.Cameras[i]
	q := cam.ToCamera(p)
	if q[2] < 0.2 {
		return false
	}
	want := cam.K[0] * t.radius / q[2]
	r := c.Radius / want
	return r <= t.cfg.RadiusRatio && r >= 1/t.cfg.RadiusRatio
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
