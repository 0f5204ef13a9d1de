package vision

import (
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"slices"
	"sort"

	"gocv.io/x/gocv"

	"github.com/agilecatch/catch/internal/dense"
	"github.com/agilecatch/catch/perception/models"
)

// Detection modes.
const (
	ModeColor = "color" // HSV threshold on the ball's colour
	ModeBgSub = "bgsub" // difference from a running-average background
)

// DetectorConfig configures a Detector. The zero value means the defaults
// on each field.
type DetectorConfig struct {
	// Mode is ModeColor (default) or ModeBgSub.
	Mode string `yaml:"mode"`
	// Hue is the ball's hue range in OpenCV units (degrees / 2); default
	// [22, 48] around a tennis ball's ≈34.
	Hue [2]float64 `yaml:"hue"`
	// SatMin and ValMin are the least saturation and value (0–255) of a
	// ball pixel; defaults 90 and 45 (the shadowed side of the ball keeps
	// V ≈ 80 under the default lighting).
	SatMin float64 `yaml:"sat_min"`
	ValMin float64 `yaml:"val_min"`
	// BgThreshold is the grey-level difference from the background that
	// marks a moving pixel (bgsub mode); default 20 (the grey of a BGR
	// difference underweights blue, so a ball that differs mostly in blue
	// must still clear it; sensor noise is σ ≈ 2). BgAlpha is the
	// background's update rate per frame; default 0.05.
	BgThreshold float64 `yaml:"bg_threshold"`
	BgAlpha     float64 `yaml:"bg_alpha"`
	// Downscale is the stride of the full-frame search: candidates are found
	// on a frame subsampled by this factor and then measured at full
	// resolution in a window around each; default 4 (a ball of ≥ 4 px
	// radius still covers a few samples). 1 searches at full resolution.
	Downscale int `yaml:"downscale"`
	// MinRadiusPx and MaxRadiusPx gate the blob's equivalent radius;
	// defaults 2 and 40 px.
	MinRadiusPx float64 `yaml:"min_radius_px"`
	MaxRadiusPx float64 `yaml:"max_radius_px"`
	// MinFill gates roundness: blob area over the area of its minimum
	// enclosing circle (1 for a disc, 0.5 for half a disc, ≈ 0.27 for a
	// 4.5:1 strip); default 0.45, so that a ball whose shadowed half
	// matches the background it flies over is still found.
	MinFill float64 `yaml:"min_fill"`
	// MaxCandidates bounds the candidates returned per frame; default 8.
	MaxCandidates int `yaml:"max_candidates"`
	// MotionThreshold is the motion cue of color mode: a pixel is part of
	// a candidate only when one of its channels differs from the
	// background model by more than this (8-bit counts) plus 10% of the
	// background's value (lighting drifts); default 24. A ball-coloured
	// thing that does not move (a ball on the floor, a yellow logo) is
	// then not a candidate at all. Negative turns the cue off.
	MotionThreshold float64 `yaml:"motion_threshold"`
	// MotionAlpha is the background model's update rate per full-frame
	// search (the model is kept at the Downscale stride and learns only
	// from full frames; moving ball-coloured samples learn 10× slower, so
	// the flying ball is not absorbed); default 0.05.
	MotionAlpha float64 `yaml:"motion_alpha"`
	// Classifier is the learned cue: an ONNX model (package
	// perception/ballnet) that scores each candidate's crop, run through
	// ONNX Runtime. Empty: the shipped perception/models/ball.onnx; "off":
	// none (every Score is 1); otherwise the path of a .onnx file.
	Classifier string `yaml:"classifier"`
	// MinScore, when positive, drops candidates the classifier scores
	// below it; default 0: none dropped, the score only ranks them (the
	// shipped model was trained on crops found by colour alone, and scores
	// some balls seen against a background of their own colour near 0:
	// over the training photograph HappyFish.jpg dropping below 0.05 lost
	// 18% of the tracked frames).
	MinScore float64 `yaml:"min_score"`
}

// WithDefaults returns c with every zero field set to its default.
func (c DetectorConfig) WithDefaults() DetectorConfig {
	if c.Mode == "" {
		c.Mode = ModeColor
	}
	if c.Hue == [2]float64{} {
		c.Hue = [2]float64{22, 48}
	}
	if c.SatMin == 0 {
		c.SatMin = 90
	}
	if c.ValMin == 0 {
		c.ValMin = 45
	}
	if c.BgThreshold == 0 {
		c.BgThreshold = 20
	}
	if c.BgAlpha == 0 {
		c.BgAlpha = 0.05
	}
	if c.Downscale == 0 {
		c.Downscale = 4
	}
	if c.MinRadiusPx == 0 {
		c.MinRadiusPx = 2
	}
	if c.MaxRadiusPx == 0 {
		c.MaxRadiusPx = 40
	}
	if c.MinFill == 0 {
		c.MinFill = 0.45
	}
	if c.MaxCandidates == 0 {
		c.MaxCandidates = 8
	}
	if c.MotionThreshold == 0 {
		c.MotionThreshold = 24
	}
	if c.MotionAlpha == 0 {
		c.MotionAlpha = 0.05
	}
	return c
}

// Validate reports the first bad field.
func (c DetectorConfig) Validate() error {
	c = c.WithDefaults()
	if c.Mode != ModeColor && c.Mode != ModeBgSub {
		return fmt.Errorf("detector: mode %q, want %s or %s", c.Mode, ModeColor, ModeBgSub)
	}
	if !(c.Hue[0] >= 0 && c.Hue[0] < c.Hue[1] && c.Hue[1] <= 180) {
		return fmt.Errorf("detector: hue %v, want 0 ≤ lo < hi ≤ 180", c.Hue)
	}
	if !(c.SatMin >= 0 && c.SatMin <= 255 && c.ValMin >= 0 && c.ValMin <= 255) {
		return fmt.Errorf("detector: sat_min %v / val_min %v, want [0, 255]", c.SatMin, c.ValMin)
	}
	if !(c.BgThreshold > 0 && c.BgThreshold < 255) || !(c.BgAlpha > 0 && c.BgAlpha <= 1) {
		return fmt.Errorf("detector: bg_threshold %v / bg_alpha %v, want (0, 255) and (0, 1]", c.BgThreshold, c.BgAlpha)
	}
	if c.Downscale < 1 || c.Downscale > 16 {
		return fmt.Errorf("detector: downscale %d, want 1..16", c.Downscale)
	}
	if !(c.MinRadiusPx > 0 && c.MinRadiusPx < c.MaxRadiusPx) {
		return fmt.Errorf("detector: min_radius_px %v, max_radius_px %v, want 0 < min < max", c.MinRadiusPx, c.MaxRadiusPx)
	}
	if !(c.MinFill >= 0 && c.MinFill < 1) {
		return fmt.Errorf("detector: min_fill %v, want [0, 1)", c.MinFill)
	}
	if c.MaxCandidates < 1 || c.MaxCandidates > 64 {
		return fmt.Errorf("detector: max_candidates %d, want 1..64", c.MaxCandidates)
	}
	if !(c.MotionThreshold < 255) || !(c.MotionAlpha > 0 && c.MotionAlpha <= 1) {
		return fmt.Errorf("detector: motion_threshold %v / motion_alpha %v, want < 255 (negative: off) and (0, 1]", c.MotionThreshold, c.MotionAlpha)
	}
	if !(c.MinScore >= 0 && c.MinScore < 1) {
		return fmt.Errorf("detector: min_score %v, want [0, 1) (0: rank only)", c.MinScore)
	}
	return nil
}

// Candidate is one ball-like blob.
type Candidate struct {
	U, V   float64 // sub-pixel centre of the blob (area centroid), px, distorted image
	Radius float64 // equivalent radius √(area/π), px
	Fill   float64 // area / minimum enclosing circle area
	// Partial: the blob fills its enclosing circle too little to be the
	// whole disc (Fill < 0.7); U, V and Radius are that circle's.
	Partial bool
	// Score is the classifier's probability that the blob is the ball
	// (1 when the classifier is off).
	Score float64
}

// partialFill is the fill below which a blob is taken for part of a disc:
// a whole disc of ≥ 4 px radius fills ≥ 0.75 of its enclosing circle
// (which reaches half a pixel beyond the boundary pixels' centres), half a
// disc 0.5.
const partialFill = 0.7

// Detector finds ball candidates in one camera's frames. It keeps its
// scratch images (and in bgsub mode the background) between frames, so one
// Detector serves one camera; not safe for concurrent use.
type Detector struct {
	cfg                        DetectorConfig
	small, smallHSV, smallMask gocv.Mat
	win, winHSV, winMask, tmp  gocv.Mat
	bg, smallBg                gocv.Mat
	kernel                     gocv.Mat
	lo, hi                     gocv.Scalar
	cands                      []Candidate
	wins                       []image.Rectangle
	// Motion cue (color mode): the background at the Downscale stride,
	// BGR float32, for frames of size bgFrame; bgReady once it has
	// learned bgWarmup frames.
	bgS     []float32
	bgSz    image.Point
	bgFrame image.Point
	bgReady bool
	bgN     int     // full frames learned
	hueLo   float64 // degrees
	hueHi   float64
	cls     *Classifier // nil when Classifier is "off"
}

// NewDetector returns a Detector; Close frees its images.
func NewDetector(cfg DetectorConfig) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	d := &Detector{
		cfg: cfg, small: gocv.NewMat(), smallHSV: gocv.NewMat(), smallMask: gocv.NewMat(),
		win: gocv.NewMat(), winHSV: gocv.NewMat(), winMask: gocv.NewMat(), tmp: gocv.NewMat(),
		bg: gocv.NewMat(), smallBg: gocv.NewMat(),
		kernel: gocv.GetStructuringElement(gocv.MorphEllipse, image.Pt(3, 3)),
		lo:     gocv.NewScalar(cfg.Hue[0], cfg.SatMin, cfg.ValMin, 0),
		hi:     gocv.NewScalar(cfg.Hue[1], 255, 255, 0),
		hueLo:  2 * cfg.Hue[0], hueHi: 2 * cfg.Hue[1],
	}
	if cfg.Classifier != "off" {
		model := models.Ball
		if cfg.Classifier != "" {
			var err error
			if model, err = os.ReadFile(cfg.Classifier); err != nil {
				d.Close()
				return nil, fmt.Errorf("detector: classifier: %w", err)
			}
		}
		cls, err := NewClassifier(model)
		if err != nil {
			d.Close()
			if cfg.Classifier != "" {
				err = fmt.Errorf("%w (model %s)", err, cfg.Classifier)
			}
			return nil, fmt.Errorf("detector: %w", err)
		}
		d.cls = cls
	}
	return d, nil
}

// Config returns the configuration in use, defaults applied.
func (d *Detector) Config() DetectorConfig { return d.cfg }

// Close frees the detector's images.
func (d *Detector) Close() error {
	for _, m := range []*gocv.Mat{&d.small, &d.smallHSV, &d.smallMask, &d.win, &d.winHSV, &d.winMask, &d.tmp, &d.bg, &d.smallBg, &d.kernel} {
		m.Close()
	}
	if d.cls != nil {
		err := d.cls.Close()
		d.cls = nil
		return err
	}
	return nil
}

// Detect finds ball candidates in frame (8-bit BGR), within roi when it is
// not empty (tracking) or over the whole frame (searching), and appends them
// to dst[:0], most ball-like (largest) first. In bgsub mode every call also
// updates the background with the full frame, so call it on every frame.
func (d *Detector) Detect(frame gocv.Mat, roi image.Rectangle, dst []Candidate) ([]Candidate, error) {
	dst = dst[:0]
	if frame.Empty() {
		return dst, errors.New("detector: empty frame")
	}
	if t := frame.Type(); t != gocv.MatTypeCV8UC3 {
		return dst, fmt.Errorf("detector: frame type %v, want 8-bit BGR (CV_8UC3)", t)
	}
	full := image.Rect(0, 0, frame.Cols(), frame.Rows())
	if d.cfg.Mode == ModeBgSub {
		if d.bg.Rows() != frame.Rows() || d.bg.Cols() != frame.Cols() {
			frame.CopyTo(&d.bg)
			return dst, nil
		}
		defer gocv.AddWeighted(frame, d.cfg.BgAlpha, d.bg, 1-d.cfg.BgAlpha, 0, &d.bg)
	}
	if !roi.Empty() {
		roi = roi.Intersect(full)
		if roi.Empty() {
			return dst, nil
		}
		dst = d.refine(frame, roi, dst)
	} else {
		d.wins = d.wins[:0]
		ds := d.cfg.Downscale
		sz := image.Pt(frame.Cols()/ds, frame.Rows()/ds)
		if ds == 1 && d.cfg.Mode == ModeBgSub {
			d.wins = append(d.wins, full)
		} else {
			if d.cfg.Mode == ModeBgSub {
				gocv.Resize(frame, &d.small, sz, 0, 0, gocv.InterpolationNearestNeighbor)
				gocv.Resize(d.bg, &d.smallBg, sz, 0, 0, gocv.InterpolationNearestNeighbor)
				d.threshold(d.small, d.smallBg, &d.smallHSV, &d.smallMask)
			} else if err := d.stridedColorMask(frame, sz); err != nil {
				return dst, err
			}
			cs := gocv.FindContours(d.smallMask, gocv.RetrievalExternal, gocv.ChainApproxSimple)
			for i := 0; i < cs.Size(); i++ {
				r := gocv.BoundingRect(cs.At(i))
				// The full-resolution window: the blob plus one stride and
				// room for the blob's true extent between samples.
				m := ds + 2
				w := image.Rect(r.Min.X*ds-m, r.Min.Y*ds-m, r.Max.X*ds+m, r.Max.Y*ds+m).Intersect(full)
				if float64(r.Dx()*ds) > 2.5*d.cfg.MaxRadiusPx || float64(r.Dy()*ds) > 2.5*d.cfg.MaxRadiusPx {
					continue // far too large to be the ball
				}
				d.wins = append(d.wins, w)
			}
			cs.Close()
		}
		for _, w := range d.wins {
			dst = d.refine(frame, w, dst)
		}
	}
	if d.cls != nil {
		if err := d.cls.Score(frame, dst); err != nil {
			return dst[:0], err
		}
		if d.cfg.MinScore > 0 {
			dst = slices.DeleteFunc(dst, func(c Candidate) bool { return c.Score < d.cfg.MinScore })
		}
	} else {
		for i := range dst {
			dst[i].Score = 1
		}
	}
	// Likeliest the ball by the classifier (in coarse steps), then
	// roundest, then largest: a round blob is likelier the ball than a
	// bigger ragged one.
	sort.SliceStable(dst, func(i, j int) bool {
		if si, sj := math.Round(dst[i].Score*4), math.Round(dst[j].Score*4); si != sj {
			return si > sj
		}
		fi, fj := math.Round(dst[i].Fill*10), math.Round(dst[j].Fill*10)
		if fi != fj {
			return fi > fj
		}
		return dst[i].Radius > dst[j].Radius
	})
	if len(dst) > d.cfg.MaxCandidates {
		dst = dst[:d.cfg.MaxCandidates]
	}
	return dst, nil
}

// threshold writes the ball mask of img (colour) or of its difference from
// the background (bgsub).
func (d *Detector) threshold(img, bg gocv.Mat, hsv, mask *gocv.Mat) {
	if d.cfg.Mode == ModeColor {
		gocv.CvtColor(img, hsv, gocv.ColorBGRToHSV)
		gocv.InRangeWithScalar(*hsv, d.lo, d.hi, mask)
		return
	}
	gocv.AbsDiff(img, bg, hsv)
	gocv.CvtColor(*hsv, mask, gocv.ColorBGRToGray)
	gocv.Threshold(*mask, mask, float32(d.cfg.BgThreshold), 255, gocv.ThresholdBinary)
}

// refine measures the blobs of window w at full resolution.
func (d *Detector) refine(frame gocv.Mat, w image.Rectangle, dst []Candidate) []Candidate {
	reg := frame.Region(w)
	defer reg.Close()
	if d.cfg.Mode == ModeBgSub {
		bgr := d.bg.Region(w)
		bgr.CopyTo(&d.tmp)
		bgr.Close()
	}
	if d.cfg.Mode == ModeColor {
		if err := d.windowMask(frame, w); err != nil {
			return dst
		}
	} else {
		d.threshold(reg, d.tmp, &d.winHSV, &d.winMask)
	}
	// Opening removes isolated noise pixels and thin fringes.
	gocv.MorphologyEx(d.winMask, &d.win, gocv.MorphOpen, d.kernel)
	mask, err := d.win.DataPtrUint8()
	if err != nil {
		return dst
	}
	cs := gocv.FindContours(d.win, gocv.RetrievalExternal, gocv.ChainApproxNone)
	defer cs.Close()
	stride := d.win.Cols()
	for i := 0; i < cs.Size(); i++ {
		c := cs.At(i)
		r := gocv.BoundingRect(c)
		var m00, m10, m01 float64
		for y := r.Min.Y; y < r.Max.Y; y++ {
			row := mask[y*stride : y*stride+stride]
			for x := r.Min.X; x < r.Max.X; x++ {
				if row[x] != 0 {
					m00++
					m10 += float64(x)
					m01 += float64(y)
				}
			}
		}
		if m00 == 0 {
			continue
		}
		rad := math.Sqrt(m00 / math.Pi)
		if rad < d.cfg.MinRadiusPx || rad > d.cfg.MaxRadiusPx {
			continue
		}
		ex, ey, re := gocv.MinEnclosingCircle(c)
		// The contour runs through boundary pixel centres: the blob reaches
		// half a pixel further.
		rEnc := float64(re) + 0.5
		fill := m00 / (math.Pi * rEnc * rEnc)
		if fill < d.cfg.MinFill {
			continue
		}
		cd := Candidate{
			U: float64(w.Min.X) + m10/m00, V: float64(w.Min.Y) + m01/m00,
			Radius: rad, Fill: math.Min(1, fill),
		}
		if fill < partialFill && rEnc <= d.cfg.MaxRadiusPx {
			// Part of the ball: its shadowed side lost against a background
			// of its own colour, or cut by an occluder. The enclosing
			// circle of a disc's larger part is the disc; the centroid
			// would sit inside the visible part.
			cx, cy, cr := fitArc(c, float64(ex), float64(ey), float64(re))
			cd.U, cd.V = float64(w.Min.X)+cx, float64(w.Min.Y)+cy
			cd.Radius, cd.Partial = cr+0.5, true
		}
		dst = append(dst, cd)
	}
	return dst
}

// stridedColorMask writes into smallMask the colour test of every
// Downscale-th pixel of every Downscale-th row: the HSV thresholds computed
// in Go on the sampled BGR values only (OpenCV would convert the whole
// frame), with 20% slack on saturation and 3 units on hue so that the coarse
// stage passes everything the full-resolution refinement may accept.
func (d *Detector) stridedColorMask(frame gocv.Mat, sz image.Point) error {
	if d.smallMask.Rows() != sz.Y || d.smallMask.Cols() != sz.X || d.smallMask.Type() != gocv.MatTypeCV8U {
		d.smallMask.Close()
		d.smallMask = gocv.NewMatWithSize(sz.Y, sz.X, gocv.MatTypeCV8U)
	}
	src, err := frame.DataPtrUint8()
	if err != nil {
		return fmt.Errorf("detector: frame: %w", err)
	}
	dst, err := d.smallMask.DataPtrUint8()
	if err != nil {
		return fmt.Errorf("detector: mask: %w", err)
	}
	ds := d.cfg.Downscale
	stride := frame.Cols() * 3
	vmin := int(d.cfg.ValMin)
	smin := 0.8 * d.cfg.SatMin / 255
	h0, h1 := 2*(d.cfg.Hue[0]-3), 2*(d.cfg.Hue[1]+3) // degrees
	if h0 <= 0 || h1 >= 120 {
		return d.colorMaskCV(frame, sz)
	}
	motion := d.cfg.MotionThreshold > 0
	fsz := image.Pt(frame.Cols(), frame.Rows())
	if motion && (d.bgSz != sz || d.bgFrame != fsz) {
		d.bgS = slices.Grow(d.bgS[:0], sz.X*sz.Y*3)[:sz.X*sz.Y*3]
		d.bgSz, d.bgFrame, d.bgN, d.bgReady = sz, fsz, 0, false
	}
	// The model starts as the running mean of its first bgWarmup frames
	// (a ball crossing them fades to a faint ghost) and is used from then
	// on; until then candidates are found by colour alone.
	useBg := motion && d.bgReady
	alpha := float32(d.cfg.MotionAlpha)
	if d.bgN < bgWarmup {
		alpha = max(alpha, 1/float32(d.bgN+1))
	}
	thr := float32(d.cfg.MotionThreshold)
	for y := 0; y < sz.Y; y++ {
		row := src[y*ds*stride:]
		out := dst[y*sz.X : (y+1)*sz.X]
		clear(out)
		var bgRow []float32
		if motion {
			bgRow = d.bgS[y*sz.X*3 : (y+1)*sz.X*3]
		}
		for x := range out {
			o := x * ds * 3
			b, g, r := int(row[o]), int(row[o+1]), int(row[o+2])
			if motion {
				bb := bgRow[x*3 : x*3+3 : x*3+3]
				fb, fg, fr := float32(b)-bb[0], float32(g)-bb[1], float32(r)-bb[2]
				moving := moved(fb, fg, fr, bb, thr)
				a := alpha
				if useBg && moving && r > b && g > b {
					a *= 0.1 // possibly the ball: learn it slowly
				}
				bb[0] += a * fb
				bb[1] += a * fg
				bb[2] += a * fr
				if useBg && !moving {
					continue
				}
			}
			// Fast reject: every hue in (0°, 120°) has blue as the
			// minimum, and the ball's range lies inside it.
			if r <= b || g <= b {
				continue
			}
			mx, mn := max(g, r), b
			if mx < vmin || float64(mx-mn) < smin*float64(mx) {
				continue
			}
			dd := float64(mx - mn)
			var h float64
			if r >= g {
				h = 60 * float64(g-b) / dd
			} else {
				h = 120 + 60*float64(b-r)/dd
			}
			if h >= h0 && h <= h1 {
				out[x] = 255
			}
		}
	}
	if motion {
		d.bgN++
		d.bgReady = d.bgN >= bgWarmup
	}
	return nil
}

// bgWarmup is the number of full frames the background model averages
// before the motion cue is used.
const bgWarmup = 8

// moved is the motion test of one pixel's difference (db, dg, dr) from
// its background bg: over thr plus 10% of the background's brightest
// channel in any channel.
func moved(db, dg, dr float32, bg []float32, thr float32) bool {
	t := thr + 0.1*max(bg[0], bg[1], bg[2])
	return db > t || db < -t || dg > t || dg < -t || dr > t || dr < -t
}

// windowMask writes into winMask the ball mask of window w at full
// resolution: the exact HSV colour test (OpenCV's 8-bit HSV, computed in
// Go on the window only) and, once the background model holds a frame of
// this size, the motion test against the four background samples around
// each pixel (moving only when it differs from all four, so that texture
// between samples does not look like motion).
func (d *Detector) windowMask(frame gocv.Mat, w image.Rectangle) error {
	if d.winMask.Rows() != w.Dy() || d.winMask.Cols() != w.Dx() || d.winMask.Type() != gocv.MatTypeCV8U {
		d.winMask.Close()
		d.winMask = gocv.NewMatWithSize(w.Dy(), w.Dx(), gocv.MatTypeCV8U)
	}
	src, err := frame.DataPtrUint8()
	if err != nil {
		return err
	}
	dst, err := d.winMask.DataPtrUint8()
	if err != nil {
		return err
	}
	stride := frame.Cols() * 3
	ds := d.cfg.Downscale
	useBg := d.cfg.MotionThreshold > 0 && d.bgReady && d.bgFrame == image.Pt(frame.Cols(), frame.Rows())
	thr := float32(d.cfg.MotionThreshold)
	smin := d.cfg.SatMin / 255
	vmin := int(d.cfg.ValMin)
	for y := w.Min.Y; y < w.Max.Y; y++ {
		row := src[y*stride:]
		out := dst[(y-w.Min.Y)*w.Dx() : (y-w.Min.Y+1)*w.Dx()]
		clear(out)
		for x := w.Min.X; x < w.Max.X; x++ {
			o := x * 3
			b, g, r := int(row[o]), int(row[o+1]), int(row[o+2])
			mx, mn := max(b, g, r), min(b, g, r)
			if mx < vmin || mx == mn || float64(mx-mn) < smin*float64(mx) {
				continue
			}
			dd := float64(mx - mn)
			var h float64
			switch mx {
			case r:
				h = 60 * float64(g-b) / dd
			case g:
				h = 120 + 60*float64(b-r)/dd
			default:
				h = 240 + 60*float64(r-g)/dd
			}
			if h < 0 {
				h += 360
			}
			if h < d.hueLo || h > d.hueHi {
				continue
			}
			if useBg && !d.movingAt(x, y, ds, float32(b), float32(g), float32(r), thr) {
				continue
			}
			out[x-w.Min.X] = 255
		}
	}
	return nil
}

// movingAt tests pixel (x, y) of value (b, g, r) against the background
// samples around it.
func (d *Detector) movingAt(x, y, ds int, b, g, r, thr float32) bool {
	x0, y0 := min(x/ds, d.bgSz.X-1), min(y/ds, d.bgSz.Y-1)
	x1, y1 := min(x0+1, d.bgSz.X-1), min(y0+1, d.bgSz.Y-1)
	for _, q := range [4]image.Point{{x0, y0}, {x1, y0}, {x0, y1}, {x1, y1}} {
		o := (q.Y*d.bgSz.X + q.X) * 3
		bb := d.bgS[o : o+3 : o+3]
		if !moved(b-bb[0], g-bb[1], r-bb[2], bb, thr) {
			return false
		}
	}
	return true
}

// colorMaskCV is the strided colour mask through OpenCV, for hue ranges
// outside (0°, 120°) where stridedColorMask's fast reject does not hold.
func (d *Detector) colorMaskCV(frame gocv.Mat, sz image.Point) error {
	gocv.Resize(frame, &d.small, sz, 0, 0, gocv.InterpolationNearestNeighbor)
	d.threshold(d.small, d.smallBg, &d.smallHSV, &d.smallMask)
	return nil
}

// fitArc fits a circle to the arc of a partly seen disc's contour c: from
// the enclosing circle (cx, cy, r), it keeps the contour points within a
// pixel of the circle (the disc's own edge; a straight cut by an occluder
// or the curved line where the shadowed side meets a background of its
// colour lie inside) and fits them by least squares (Kåsa), twice. The
// enclosing circle alone is ill-conditioned when a little over half the
// disc shows. It returns the enclosing circle when the fit fails.
func fitArc(c gocv.PointVector, cx, cy, r float64) (float64, float64, float64) {
	n := c.Size()
	fx, fy, fr := cx, cy, r
	for iter := 0; iter < 2; iter++ {
		// Normal equations of x² + y² + D x + E y + F = 0, centred on
		// (fx, fy) for conditioning.
		var a [3][3]float64
		var b [3]float64
		m := 0
		for i := 0; i < n; i++ {
			q := c.At(i)
			x, y := float64(q.X)-fx, float64(q.Y)-fy
			if math.Hypot(x, y) < fr-1 {
				continue
			}
			z := -(x*x + y*y)
			row := [3]float64{x, y, 1}
			for j := 0; j < 3; j++ {
				for k := 0; k < 3; k++ {
					a[j][k] += row[j] * row[k]
				}
				b[j] += row[j] * z
			}
			m++
		}
		if m < 8 {
			break
		}
		inv, ok := dense.Inv3(&a)
		if !ok {
			break
		}
		var sol [3]float64
		for j := 0; j < 3; j++ {
			sol[j] = inv[j][0]*b[0] + inv[j][1]*b[1] + inv[j][2]*b[2]
		}
		nx, ny := -sol[0]/2, -sol[1]/2
		r2 := nx*nx + ny*ny - sol[2]
		if !(r2 > 0) || math.Sqrt(r2) > 1.5*r+1 || math.Hypot(nx, ny) > r {
			break
		}
		fx, fy, fr = fx+nx, fy+ny, math.Sqrt(r2)
	}
	return fx, fy, fr
}
